#!/usr/bin/env bash
# Installs the build tree into a temporary prefix and builds tests/capi/consumer against it twice:
# with CMake's find_package(tracemark) and with pkg-config; runs both and compares their output.
# Usage: install_test.sh BUILD_DIR C_COMPILER CXX_COMPILER
set -uo pipefail
build=$(realpath "$1")
cc=$2
cxx=$3
here=$(cd "$(dirname "$0")" && pwd)
key_source="$here/../golden/kgw_v1_key.json"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() {
  local description=$1
  shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL: $description"; failed=$((failed + 1)); fi
}

cp "$key_source" "$work/key.json"
chmod 600 "$work/key.json"
prefix="$work/prefix"
check "cmake --install" cmake --install "$build" --prefix "$prefix" >"$work/install.log"

libdir=$(dirname "$(find "$prefix" -name 'libtracemark.so.0' | head -1)")
check "libtracemark.so.0 installed" test -n "$libdir" -a -f "$libdir/libtracemark.so.0"
check "SONAME is libtracemark.so.0" bash -c "readelf -d '$libdir/libtracemark.so.0' | grep -q 'SONAME.*\[libtracemark.so.0\]'"
for file in include/tracemark/tracemark.h include/tracemark/embed/watermark_processor.hpp \
            include/tracemark/verify/binomial.hpp; do
  check "$file installed" test -f "$prefix/$file"
done
for file in tracemarkConfig.cmake tracemarkConfigVersion.cmake tracemarkTargets.cmake; do
  check "$file installed" test -f "$libdir/cmake/tracemark/$file"
done
check "tracemark.pc installed" test -f "$libdir/pkgconfig/tracemark.pc"

expected="abi 0 version $(sed -n 's/^project(tracemark VERSION \([0-9.]*\).*/\1/p' "$here/../../CMakeLists.txt")
key tmk_33e75962f43d9849 vocab 50257 h 2 gamma 0.25
full [0,0]: 2 0 2 0 0
candidates [1,2]: 2 0 0 2 0
short logits: TM_INVALID_ARGUMENT
watermarked: tokens 300, p below 1e-10: yes
random: tokens 300, p above 1e-3: yes"

# 1. CMake: find_package(tracemark) from the prefix.
if cmake -S "$here/consumer" -B "$work/consumer-cmake" -G Ninja -DCMAKE_BUILD_TYPE=Release \
     -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$prefix" \
     >"$work/cmake.log" 2>&1 && cmake --build "$work/consumer-cmake" >>"$work/cmake.log" 2>&1; then
  passed=$((passed + 1))
  output=$("$work/consumer-cmake/consumer" "$work/key.json" 2>&1)
  check "find_package consumer output" test "$output" == "$expected"
  [[ "$output" == "$expected" ]] || { echo "got:"; echo "$output"; }
  output=$("$work/consumer-cmake/consumer_cxx" "$work/key.json" 2>&1)
  check "C++ consumer (tracemark::verify) output: $output" test "$output" == "c++ key tmk_33e75962f43d9849, binomial p 4.63e-11"
else
  echo "FAIL: consumer did not configure or build with find_package:"; tail -30 "$work/cmake.log"
  failed=$((failed + 1))
fi

# 2. pkg-config, C99 with warnings as errors.
flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs tracemark)
check "pkg-config finds tracemark" test -n "$flags"
if "$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror "$here/consumer/consumer.c" -o "$work/consumer-pc" $flags \
     -Wl,-rpath,"$libdir" 2>"$work/pc.log"; then
  passed=$((passed + 1))
  output=$("$work/consumer-pc" "$work/key.json" 2>&1)
  check "pkg-config consumer output" test "$output" == "$expected"
  [[ "$output" == "$expected" ]] || { echo "got:"; echo "$output"; }
  check "pkg-config consumer loads the installed library" \
    bash -c "ldd '$work/consumer-pc' | grep -q '$libdir/libtracemark.so.0'"
else
  echo "FAIL: consumer did not build with pkg-config flags '$flags':"; cat "$work/pc.log"
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
