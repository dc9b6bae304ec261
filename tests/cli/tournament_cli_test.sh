#!/usr/bin/env bash
# CLI tests for the synthid-tournament scheme: keygen --scheme synthid-tournament --layers M writes
# a key with its layers and without gamma or delta; green-list options, --layers on other schemes,
# layers out of range and unknown versions are refused (exit 2, no file); synth samples with the
# key; detect and scan find its text with the exact binomial test of the g-values and not with a
# fresh key; evidence bundles record its g-values and re-run byte for byte; keyrings refuse the key.
# Usage: tournament_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["scheme"].get(sys.argv[2], "absent"))' "$1" "$2"; }
last_log10p() { tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["log10_p"])'; }

expect 0 "commitment: sha256:" -- "$tracemark" keygen --scheme synthid-tournament --out ours.json --vocab-size 3000
check "the key names its scheme" test "$(field ours.json name)" = synthid-tournament
check "tournament keys start at version 1" test "$(field ours.json version)" = 1
check "SynthID's 30 layers by default" test "$(field ours.json tournament_layers)" = 30
check "a tournament key has no gamma" test "$(field ours.json gamma)" = absent
expect 0 "" -- "$tracemark" keygen --scheme synthid-tournament --layers 12 --out twelve.json --vocab-size 3000
check "--layers is recorded" test "$(field twelve.json tournament_layers)" = 12
expect 0 "" -- "$tracemark" keygen --scheme synthid-tournament --out other.json --vocab-size 3000
expect 0 "" -- "$tracemark" keygen --out green.json --vocab-size 3000 --scheme-version 3
check "a green-list key has no layers" test "$(field green.json tournament_layers)" = absent
expect 2 "--gamma belongs to the green list" -- \
  "$tracemark" keygen --scheme synthid-tournament --gamma 0.3 --out bad.json --vocab-size 3000
expect 2 "--entropy-threshold belongs to the green list" -- \
  "$tracemark" keygen --scheme synthid-tournament --entropy-threshold 1 --out bad.json --vocab-size 3000
expect 2 "--layers belongs to the synthid-tournament scheme" -- \
  "$tracemark" keygen --scheme gumbel-max --layers 30 --out bad.json --vocab-size 3000
expect 2 "--layers belongs to the synthid-tournament scheme" -- "$tracemark" keygen --layers 30 --out bad.json --vocab-size 3000
expect 2 "between 1 and 64 tournament layers .got 65." -- \
  "$tracemark" keygen --scheme synthid-tournament --layers 65 --out bad.json --vocab-size 3000
expect 2 "between 1 and 64 tournament layers .got 0." -- \
  "$tracemark" keygen --scheme synthid-tournament --layers 0 --out bad.json --vocab-size 3000
expect 2 "scheme version 2 of 'synthid-tournament' is not supported" -- \
  "$tracemark" keygen --scheme synthid-tournament --scheme-version 2 --out bad.json --vocab-size 3000
expect 2 "needs a context width of at least 1" -- \
  "$tracemark" keygen --scheme synthid-tournament --context-width 0 --out bad.json --vocab-size 3000
check "refused keys leave no file" test ! -e bad.json

expect 0 "watermarked with tmk_" -- "$tracemark" synth --key ours.json --out marked.jsonl --count 20 --length 100 --zipf 1.3
expect 0 "not watermarked" -- "$tracemark" synth --vocab-size 3000 --out clean.jsonl --count 20 --length 100 --zipf 1.3
ours=$("$tracemark" detect --key ours.json --input marked.jsonl --json | last_log10p)
check "detect finds tournament text (log10 p $ours)" python3 -c "import sys; sys.exit(0 if $ours < -20 else 1)"
fresh=$("$tracemark" detect --key other.json --input marked.jsonl --json | last_log10p)
check_null "a fresh tournament key does not" "$fresh"
clean=$("$tracemark" detect --key ours.json --input clean.jsonl --json | last_log10p)
check_null "unwatermarked text is not flagged" "$clean"
expect 0 "synthid-tournament key tmk_" -- "$tracemark" detect --key ours.json --input marked.jsonl
expect 0 '"mean_g"' -- "$tracemark" detect --key ours.json --input marked.jsonl --json
expect 2 "--reference-model and --syntax-aware do not apply" -- \
  "$tracemark" detect --key ours.json --input marked.jsonl --syntax-aware
expect 0 '"scheme": "synthid-tournament"' -- "$tracemark" scan --key ours.json --key green.json --suspect marked.jsonl --json
expect 0 "Consistent with training on text watermarked with this key" -- \
  "$tracemark" scan --key ours.json --key green.json --suspect marked.jsonl
expect 0 "synthid-tournament, 30 layers" -- "$tracemark" scan --key ours.json --key green.json --suspect marked.jsonl
expect 0 "No evidence at the threshold" -- "$tracemark" scan --key other.json --suspect marked.jsonl
# Evidence bundles record the scheme's own statistic, and the re-run with the keys reproduces them.
"$tracemark" evidence keygen --out sign.pem >/dev/null
expect 0 "Evidence bundle written" -- "$tracemark" scan --key ours.json --key green.json --suspect marked.jsonl \
  --evidence bundle --signing-key sign.pem --include-inputs --no-pdf
check "the log records the scheme and its statistic" python3 -c "
import json; t = json.loads(open('bundle/investigation.jsonl').readline())['tests'][0]
assert t['scheme'] == 'synthid-tournament' and 'g_ones' in t, t"
expect 0 "reproduces results.json byte for byte" -- \
  "$tracemark" evidence verify bundle --public-key sign.pem.pub --key ours.json --key green.json
check "the report names the scheme's exact tail" grep -q "binomial tail of the g-values" bundle/report.html
expect 2 "keyrings hold green-list subkeys only" -- \
  "$tracemark" keyring new --scheme synthid-tournament --out ring.json --labels model:a,model:b --vocab-size 3000
check "no ring was written" test ! -e ring.json
finish
