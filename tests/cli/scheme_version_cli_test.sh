#!/usr/bin/env bash
# CLI tests for green-list scheme versions: keygen writes version 2 unless told otherwise, version 1
# keys still watermark (synth) and detect, version 3 (PRF seeds) too, an unknown version is refused
# with exit status 2.
# Usage: scheme_version_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

version_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["scheme"]["version"])' "$1"; }

expect 0 "commitment: sha256:" -- "$tracemark" keygen --out v2.json --vocab-size 2000
check "keygen defaults to scheme version 2" test "$(version_of v2.json)" = 2
expect 0 "commitment: sha256:" -- "$tracemark" keygen --out v1.json --vocab-size 2000 --scheme-version 1
check "--scheme-version 1 makes a version 1 key" test "$(version_of v1.json)" = 1
expect 0 "commitment: sha256:" -- "$tracemark" keygen --out v3.json --vocab-size 2000 --scheme-version 3
check "--scheme-version 3 makes a version 3 key (PRF context seeds)" test "$(version_of v3.json)" = 3
expect 2 "scheme version 4 of 'kgw-green-list' is not supported.*versions 1 to 3" -- \
  "$tracemark" keygen --out v4.json --vocab-size 2000 --scheme-version 4
expect 2 "scheme version 2 keeps 4 bytes per token id.*use scheme version 1" -- \
  "$tracemark" keygen --out big.json --vocab-size 20000000
check "refused keys leave no file" test ! -e v4.json -a ! -e big.json

# Every version embeds and detects; each key's responses are detected with it and not with another.
for version in 1 2 3; do
  expect 0 "" -- "$tracemark" synth --key "v$version.json" --out "marked$version.jsonl"
  log10p=$("$tracemark" detect --key "v$version.json" --input "marked$version.jsonl" --json | tail -1 |
           python3 -c 'import json,sys; print(json.load(sys.stdin)["log10_p"])')
  check "version $version watermark detected (log10 p $log10p)" python3 -c "import sys; sys.exit(0 if $log10p < -10 else 1)"
done
other=$("$tracemark" detect --key v1.json --input marked2.jsonl --json | tail -1 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["log10_p"])')
check_null "a version 2 watermark is not detected with a version 1 key" "$other"
other=$("$tracemark" detect --key v3.json --input marked2.jsonl --json | tail -1 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["log10_p"])')
check_null "a version 2 watermark is not detected with a version 3 key of another secret" "$other"
finish
