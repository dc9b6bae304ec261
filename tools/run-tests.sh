#!/usr/bin/env bash
# Runs the whole test suite twice: a Release build and an AddressSanitizer + UndefinedBehaviorSanitizer
# build; then every libFuzzer target for a short fixed time. Expects tools/setup.sh to have run (the
# README's test command runs both).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build/release -j "$jobs"
(cd build/release && ctest --output-on-failure -j "$jobs")

# libtorch is not built with the sanitizers: this tree leaves the transformer out (its tests run in
# the Release tree above; here its entry points report that the build has no libtorch).
# -O1 and line tables only (-g1), as the sanitizers' own docs suggest: reports keep file and line,
# and this tree compiles in about 60% of the time -O2 -g takes (half of CI's time was this build).
sanitize_flags="-O1 -g1 -DNDEBUG"
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTRACEMARK_SANITIZE=ON -DTRACEMARK_WITH_TORCH=OFF \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$sanitize_flags" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$sanitize_flags"
cmake --build build/sanitize -j "$jobs"
(cd build/sanitize && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs")

# Fuzzing (issue 12): the libFuzzer targets in a small clang tree of their own (only the libraries
# they read with, instrumented with ASan + UBSan), each run for 12 s from its seed corpus;
# bench/fuzz_long.sh is the longer run.
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DTRACEMARK_FUZZ=ON -DTRACEMARK_BUILD_TESTS=OFF -DTRACEMARK_WITH_TORCH=OFF
cmake --build build/fuzz -j "$jobs" --target tracemark_fuzzers
tests/fuzz/run_fuzzers.sh build/fuzz 12
