#!/usr/bin/env bash
# CLI tests for `tracemark scan`: verdicts, JSON fields, filters, gzip input and bad input.
# Usage: scan_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

"$tracemark" keygen --out ours.json --vocab-size 2000 >/dev/null
"$tracemark" keygen --out other.json --vocab-size 2000 --context-width 1 >/dev/null
"$tracemark" synth --key ours.json --out marked.jsonl --count 20 --length 150 --seed 3 >/dev/null
"$tracemark" synth --vocab-size 2000 --out clean.jsonl --count 20 --length 150 --seed 4 >/dev/null
gzip -k clean.jsonl

# A suspect that is our watermarked text is flagged; the verdict says "consistent with", never "proves".
expect 0 "Consistent with training on text watermarked with this key: p = [0-9.]+e-[0-9]+" -- \
  "$tracemark" scan --key ours.json --suspect marked.jsonl
# Several keys: Holm correction, said in words and in JSON; the wrong key shows nothing.
expect 0 "2 keys were tested; every p-value above is corrected for that \(Holm\)" -- \
  "$tracemark" scan --key ours.json --key other.json --suspect marked.jsonl
expect 0 '"correction": "holm"' -- "$tracemark" scan --key ours.json --key other.json --suspect marked.jsonl --json
expect 0 '"holm_p_value": [0-9.e-]+,' -- "$tracemark" scan --key ours.json --key other.json --suspect marked.jsonl --json
# A clean suspect (gzip input) is not flagged; the control is reported beside the suspect.
expect 0 "No evidence at this sample size|Suggestive" -- "$tracemark" scan --key ours.json --suspect clean.jsonl.gz
expect 0 "control \(known clean\)" -- "$tracemark" scan --key ours.json --suspect marked.jsonl --control clean.jsonl.gz
# Prompts: a suspect that only copies its (watermarked) prompt scores nothing.
python3 - <<'PY'
import json
marked = [json.loads(line) for line in open("marked.jsonl")]
with open("prompts.jsonl", "w") as prompts, open("copier.jsonl", "w") as copier:
    for record in marked:
        prompts.write(json.dumps({"id": record["id"], "tokens": record["tokens"]}) + "\n")
        copier.write(json.dumps({"id": record["id"], "tokens": record["tokens"][20:120]}) + "\n")
PY
expect 0 "Nothing was scored" -- "$tracemark" scan --key ours.json --suspect copier.jsonl --prompts prompts.jsonl
expect 0 '"skipped_prompt_window": 1960,' -- "$tracemark" scan --key ours.json --suspect copier.jsonl --prompts prompts.jsonl --json
# Reference log: only contexts of the log are scored; a log with nothing usable is an error.
expect 0 '"skipped_filter": [1-9][0-9]*,' -- "$tracemark" scan --key ours.json --suspect clean.jsonl --reference-log marked.jsonl --json
printf '{"tokens":[1]}\n{"tokens":[]}\n' > useless-log.jsonl
expect 2 "reference log useless-log.jsonl has no usable records" -- \
  "$tracemark" scan --key ours.json --suspect clean.jsonl --reference-log useless-log.jsonl
# Reference filter file (issue 20): built from the log once, reused; the scan that builds it and the
# one that loads it print the same figures; a truncated file, a key of another width and a log
# given together with a filter are refused with exit status 2.
expect 0 '"filter_false_positive_rate": 0.00390625' -- "$tracemark" scan --key ours.json --suspect clean.jsonl \
  --reference-log marked.jsonl --reference-filter-out served.tmrf --json
built=$("$tracemark" scan --key ours.json --suspect clean.jsonl --reference-log marked.jsonl --reference-filter-out served2.tmrf --json)
reused=$("$tracemark" scan --key ours.json --suspect clean.jsonl --reference-filter served.tmrf --json)
check "the scan that built the filter and the one that reused it agree" test "$built" = "$reused"
check "the same log gives the same filter file" cmp -s served.tmrf served2.tmrf
head -c 100 served.tmrf > cut.tmrf
expect 2 "cut.tmrf .byte offset [0-9]+.: .*(truncated|cut short)" -- "$tracemark" scan --key ours.json --suspect clean.jsonl --reference-filter cut.tmrf
expect 2 "needs width 1" -- "$tracemark" scan --key other.json --suspect clean.jsonl --reference-filter served.tmrf
expect 2 "excludes|Excludes" -- "$tracemark" scan --key ours.json --suspect clean.jsonl --reference-filter served.tmrf --reference-log marked.jsonl
# Empty input: p = 1 and the reason.
: > empty.jsonl
expect 0 "Nothing was scored, so there is no evidence either way \(p = 1\)" -- "$tracemark" scan --key ours.json --suspect empty.jsonl
# Bad input: file and line named, exit 2.
printf '{"tokens":[1,2,3]}\n{"tokens":[1,2,99999]}\n' > outside.jsonl
expect 2 "outside.jsonl line 2: token id 99999 at position 2 is outside the vocabulary" -- \
  "$tracemark" scan --key ours.json --suspect outside.jsonl
printf 'not json\n' | gzip > broken.jsonl.gz
expect 2 "broken.jsonl.gz line 1 \(byte offset 1\): not valid JSON" -- "$tracemark" scan --key ours.json --suspect broken.jsonl.gz
expect 2 "--alpha must be strictly between 0 and 1" -- "$tracemark" scan --key ours.json --suspect clean.jsonl --alpha 0
expect 2 "" -- "$tracemark" scan --suspect clean.jsonl

# Text and chat records need a key that names its tokenizer; --input text re-reads a record's text.
printf '{"text": "The committee met on Tuesday to consider the budget."}\n' > text.jsonl
expect 2 "text.jsonl line 1 is text, but no key .* names a tokenizer.*keygen --tokenizer" -- \
  "$tracemark" scan --key ours.json --suspect text.jsonl
"$tracemark" keygen --out gpt2-key.json --tokenizer gpt2 >/dev/null
expect 0 '"tokenizer": \{' -- "$tracemark" scan --key gpt2-key.json --suspect text.jsonl --json
printf '{"choices": [{"message": {"role": "assistant", "content": "The committee met on Tuesday."}}], "tokens": [1, 2]}\n' > chat.jsonl
expect 0 '"tokens": 2,' -- "$tracemark" scan --key gpt2-key.json --suspect chat.jsonl --input tokens --json
expect 0 '"tokens": 6,' -- "$tracemark" scan --key gpt2-key.json --suspect chat.jsonl --input text --json
expect 2 "" -- "$tracemark" scan --key gpt2-key.json --suspect chat.jsonl --input words

# Results do not depend on the thread count (several batches of 512 records, errors included).
python3 -c '
import json, random
random.seed(9)
with open("many.jsonl", "w") as f:
    for i in range(1300):
        f.write(json.dumps({"id": i, "tokens": [random.randrange(2000) for _ in range(random.randrange(0, 60))]}) + "\n")
'
one=$("$tracemark" scan --key ours.json --key other.json --suspect many.jsonl --reference-log marked.jsonl --json --threads 1)
for threads in 2 3 7; do
  other=$("$tracemark" scan --key ours.json --key other.json --suspect many.jsonl --reference-log marked.jsonl --json --threads $threads)
  if [[ "$one" == "$other" ]]; then passed=$((passed + 1)); else echo "FAIL: --threads $threads differs"; failed=$((failed + 1)); fi
done
cat many.jsonl outside.jsonl many.jsonl > late-error.jsonl
expect 2 "late-error.jsonl line 1302: token id 99999" -- "$tracemark" scan --key ours.json --suspect late-error.jsonl --threads 3

finish
