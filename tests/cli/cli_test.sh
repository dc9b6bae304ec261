#!/usr/bin/env bash
# CLI tests for keygen, key and detect: exact exit codes and the key parts of every message.
# Usage: cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

# keygen: writes 0600, prints the commitment, never overwrites without --force.
expect 0 "commitment: sha256:[0-9a-f]{64}" -- "$tracemark" keygen --out key.json --vocab-size 1000 --context-width 1
check "key file mode is 0600" test "$(stat -c %a key.json)" = 600
before=$(sha256sum key.json)
expect 2 "already exists.*--force" -- "$tracemark" keygen --out key.json --vocab-size 1000
check "existing key untouched" test "$(sha256sum key.json)" = "$before"
expect 0 "" -- "$tracemark" keygen --out key.json --vocab-size 1000 --context-width 1 --force
check "--force replaced the key" test "$(sha256sum key.json)" != "$before"
expect 2 "gamma must be strictly between 0 and 1" -- "$tracemark" keygen --out bad.json --vocab-size 1000 --gamma 1.5
expect 2 "context width must be between 0 and 16" -- "$tracemark" keygen --out bad.json --vocab-size 1000 --context-width 17
expect 2 "vocabulary size" -- "$tracemark" keygen --out bad.json --vocab-size 0
check "failed keygen leaves no file" test ! -e bad.json
check "no temporary files left" test -z "$(ls -A | grep -v '^key.json$')"
expect 2 "--vocab-size is required" -- "$tracemark" keygen --out bad.json

# key commit / key show: the commitment is stable and the secret is never printed.
secret=$(python3 -c 'import json,sys; print(json.load(open("key.json"))["secret"])')
commitment=$("$tracemark" key commit key.json)
check "key commit matches keygen's key file" grep -q "${commitment#sha256:}" key.json
expect 0 "\"key_id\": \"tmk_" -- "$tracemark" key show key.json
check "key show hides the secret" bash -c "! '$tracemark' key show key.json | grep -q '$secret'"

# key file problems: exit 2, the file named, what to do.
cp key.json open.json && chmod 644 open.json
expect 2 "open.json is readable.*chmod 600" -- "$tracemark" detect --key open.json --input /dev/null
expect 2 "missing.json cannot be read.*tracemark keygen" -- "$tracemark" detect --key missing.json --input /dev/null
python3 -c 'import json; k=json.load(open("key.json")); k["format_version"]=7; json.dump(k, open("v7.json","w"))'
chmod 600 v7.json
expect 2 "v7.json: key file version 7 is not supported" -- "$tracemark" detect --key v7.json --input /dev/null
python3 -c 'import json; k=json.load(open("key.json")); k["scheme"]["gamma"]=0; json.dump(k, open("g0.json","w"))'
chmod 600 g0.json
expect 2 "g0.json: gamma must be strictly between 0 and 1" -- "$tracemark" detect --key g0.json --input /dev/null
check "no error message shows the secret" bash -c "! '$tracemark' detect --key v7.json --input /dev/null 2>&1 | grep -q '$secret'"

# detect: bad input lines are named by file, line and byte offset.
printf '{"id":"a","tokens":[1,2,3]}\n{"id":"b","tokens":[1,2,\n' > malformed.jsonl
expect 2 "malformed.jsonl line 2 \(byte offset 52\): not valid JSON" -- "$tracemark" detect --key key.json --input malformed.jsonl
printf '{"tokens":[1,2,3]}\n{"tokens":[5,1000]}\n' > outside.jsonl
expect 2 "outside.jsonl line 2: token id 1000 at position 1 is outside the key's vocabulary \(size 1000\)" -- "$tracemark" detect --key key.json --input outside.jsonl
printf '{"id":"t","text":"hello"}\n' > text.jsonl
expect 2 "text.jsonl line 1 is text, but no key \(tmk_[0-9a-f]+\) names a tokenizer" -- "$tracemark" detect --key key.json --input text.jsonl
expect 2 "cannot open input absent.jsonl" -- "$tracemark" detect --key key.json --input absent.jsonl
expect 2 "" -- "$tracemark" detect --key key.json
expect 2 "" -- "$tracemark" frobnicate

# detect: an empty document scores nothing with p = 1 (never NaN); --json has every field.
printf '{"id":"empty","tokens":[]}\n{"id":"one","tokens":[7]}\n' > empty.jsonl
expect 0 '^\{"id":"empty","tokens":0,"scored":0,"green":0,"gamma":0.25,"z":0.0,"log10_p":0.0,"skipped_prefix":0,"skipped_repeated_context":0,"skipped_repeated_tuple":0,"p_value":1\}' -- "$tracemark" detect --key key.json --input empty.jsonl --json
expect 0 '"summary":true,"key_id":"tmk_[0-9a-f]{16}","records":2,"tokens":1,"scored":0' -- "$tracemark" detect --key key.json --input empty.jsonl --json
expect 0 "Nothing was scored" -- "$tracemark" detect --key key.json --input empty.jsonl

# A phrase repeated 50 times is scored once: it cannot be flagged by repetition.
python3 -c 'import json; print(json.dumps({"id":"rep","tokens":[11,12,13,14,15,16,17,18,19,20]*50}))' > repeated.jsonl
expect 0 '"id":"rep","tokens":500,"scored":10,' -- "$tracemark" detect --key key.json --input repeated.jsonl --json

# The watermark round trip through the CLI: synth with the key, detect it; without, not.
expect 0 "watermarked with tmk_" -- "$tracemark" synth --key key.json --out marked.jsonl --count 5 --length 200
expect 0 "not watermarked" -- "$tracemark" synth --vocab-size 1000 --out clean.jsonl --count 5 --length 200
marked_log10p=$("$tracemark" detect --key key.json --input marked.jsonl --json | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["log10_p"])')
clean_log10p=$("$tracemark" detect --key key.json --input clean.jsonl --json | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["log10_p"])')
check "watermarked pooled log10 p < -10 (got $marked_log10p)" python3 -c "assert $marked_log10p < -10"
check_null "clean text is not flagged" "$clean_log10p"
expect 2 "already exists" -- "$tracemark" synth --vocab-size 1000 --out clean.jsonl --count 5 --length 20

finish
