#!/usr/bin/env bash
# The longer fuzzing run (issue 12): every libFuzzer target for SECONDS each (default 300) under
# AddressSanitizer + UndefinedBehaviorSanitizer, from its seed corpus; prints executions, coverage
# (libFuzzer's cov: edges and ft: features), corpus size and crashes per target. CI runs the same
# targets for 12 s each (tools/run-tests.sh). Figures: docs/BENCHMARKS.md, "Fuzzing".
# Usage: bench/fuzz_long.sh [SECONDS_EACH]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DTRACEMARK_FUZZ=ON -DTRACEMARK_BUILD_TESTS=OFF >/dev/null
cmake --build build/fuzz --target tracemark_fuzzers >/dev/null
echo "fuzz_long: $seconds s per target, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
tests/fuzz/run_fuzzers.sh build/fuzz "$seconds"
