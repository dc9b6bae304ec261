#!/usr/bin/env bash
# The shared library exports the C ABI and nothing else: every dynamic symbol it defines is tm_*
# (besides the version node TRACEMARK_0 itself), its SONAME is libtracemark.so.0, and every function
# the header declares is exported. Usage: exports_test.sh LIBRARY HEADER
set -uo pipefail
library=$1
header=$2
failed=0
symbols=$(nm -D --defined-only "$library" | awk '{print $NF}' | sed 's/@.*//')
[[ -n $symbols ]] || { echo "FAIL: no dynamic symbols read from $library"; exit 1; }
others=$(grep -v -x -e 'tm_[A-Za-z0-9_]*' -e 'TRACEMARK_0' <<<"$symbols")
if [[ -n $others ]]; then
  echo "FAIL: symbols outside the C ABI are exported:"; head -20 <<<"$others"; failed=1
fi
if ! nm -D --defined-only "$library" | grep -q ' A TRACEMARK_0$'; then
  echo "FAIL: version node TRACEMARK_0 missing"; failed=1
fi
if ! readelf -d "$library" | grep -q 'SONAME.*\[libtracemark.so.0\]'; then
  echo "FAIL: SONAME is not libtracemark.so.0"; failed=1
fi
declared=$(grep -oE '^TM_API [^(]*\b(tm_[a-z_]+)\(' "$header" | grep -oE 'tm_[a-z_]+\($' | tr -d '(' | sort)
[[ -n $declared ]] || { echo "FAIL: no declarations read from $header"; exit 1; }
missing=$(comm -23 <(echo "$declared") <(grep '^tm_' <<<"$symbols" | sort))
if [[ -n $missing ]]; then echo "FAIL: declared but not exported: $missing"; failed=1; fi
echo "$(wc -l <<<"$declared") declared functions, $(grep -c '^tm_' <<<"$symbols") exported tm_ symbols"
exit $failed
