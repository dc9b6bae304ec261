#!/usr/bin/env bash
# CLI tests for the gumbel-max scheme: keygen --scheme gumbel-max writes a key without gamma or
# delta, green-list options and unknown schemes are refused (exit 2, no file), synth samples with
# the key, detect and scan find its text with the exact Gamma test and not with a fresh key, evidence
# bundles record its score and re-run byte for byte, and keyrings (green list only) refuse the scheme.
# Usage: gumbel_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["scheme"].get(sys.argv[2], "absent"))' "$1" "$2"; }
last_log10p() { tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["log10_p"])'; }

expect 0 "commitment: sha256:" -- "$tracemark" keygen --scheme gumbel-max --out ours.json --vocab-size 3000
check "the key names its scheme" test "$(field ours.json name)" = gumbel-max
check "new gumbel-max keys are version 2 (the 32-bit per-id function)" test "$(field ours.json version)" = 2
expect 0 "" -- "$tracemark" keygen --scheme gumbel-max --scheme-version 1 --out first.json --vocab-size 3000
check "version 1 can still be asked for" test "$(field first.json version)" = 1
check "a gumbel-max key has no gamma" test "$(field ours.json gamma)" = absent
expect 0 "" -- "$tracemark" keygen --scheme gumbel-max --out other.json --vocab-size 3000
expect 0 "" -- "$tracemark" keygen --out green.json --vocab-size 3000 --scheme-version 3
expect 2 "--gamma belongs to the green list" -- "$tracemark" keygen --scheme gumbel-max --gamma 0.3 --out bad.json --vocab-size 3000
expect 2 "unknown scheme 'tournament'" -- "$tracemark" keygen --scheme tournament --out bad.json --vocab-size 3000
expect 2 "scheme version 3 of 'gumbel-max' is not supported" -- \
  "$tracemark" keygen --scheme gumbel-max --scheme-version 3 --out bad.json --vocab-size 3000
check "refused keys leave no file" test ! -e bad.json

expect 0 "watermarked with tmk_" -- "$tracemark" synth --key ours.json --out marked.jsonl --count 20 --length 100 --zipf 1.3
expect 0 "not watermarked" -- "$tracemark" synth --vocab-size 3000 --out clean.jsonl --count 20 --length 100 --zipf 1.3
ours=$("$tracemark" detect --key ours.json --input marked.jsonl --json | last_log10p)
check "detect finds gumbel-max text (log10 p $ours)" python3 -c "import sys; sys.exit(0 if $ours < -20 else 1)"
first=$("$tracemark" synth --key first.json --out first-marked.jsonl --count 20 --length 100 --zipf 1.3 >/dev/null &&
  "$tracemark" detect --key first.json --input first-marked.jsonl --json | last_log10p)
check "version 1 keys keep their rule (log10 p $first)" python3 -c "import sys; sys.exit(0 if $first < -20 else 1)"
fresh=$("$tracemark" detect --key other.json --input marked.jsonl --json | last_log10p)
check_null "a fresh gumbel-max key does not" "$fresh"
clean=$("$tracemark" detect --key ours.json --input clean.jsonl --json | last_log10p)
check_null "unwatermarked text is not flagged" "$clean"
expect 0 "gumbel-max key tmk_" -- "$tracemark" detect --key ours.json --input marked.jsonl
expect 0 '"scheme": "gumbel-max"' -- "$tracemark" scan --key ours.json --key green.json --suspect marked.jsonl --json
expect 0 "Consistent with training on text watermarked with this key" -- \
  "$tracemark" scan --key ours.json --key green.json --suspect marked.jsonl
# Evidence bundles record the scheme's own statistic, and the re-run with the keys reproduces them.
"$tracemark" evidence keygen --out sign.pem >/dev/null
expect 0 "Evidence bundle written" -- "$tracemark" scan --key ours.json --key green.json --suspect marked.jsonl \
  --evidence bundle --signing-key sign.pem --include-inputs --no-pdf
check "the log records the scheme and its statistic" python3 -c "
import json; t = json.loads(open('bundle/investigation.jsonl').readline())['tests'][0]
assert t['scheme'] == 'gumbel-max' and 'score' in t, t"
expect 0 "reproduces results.json byte for byte" -- \
  "$tracemark" evidence verify bundle --public-key sign.pem.pub --key ours.json --key green.json
check "the report names the scheme's exact tail" grep -q "Gamma tail" bundle/report.html
expect 2 "keyrings hold green-list subkeys only" -- \
  "$tracemark" keyring new --scheme gumbel-max --out ring.json --labels model:a,model:b --vocab-size 3000
check "no ring was written" test ! -e ring.json
finish
