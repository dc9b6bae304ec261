#!/usr/bin/env bash
# CLI tests of which ids a record gives (docs/DESIGN.md, "Which ids are scored"): prompt files in
# every format that generate and probe read are accepted by scan --prompts; records written by
# generate name their tokenizer; a student's answers that hold another tokenizer's ids are read as
# text in the default --input auto (and said so), never scored as ours; detect and scan score the same
# ids for a record that holds both ids and text.
# Usage: record_ids_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

python3 - <<'PY'
import json, random
r = random.Random(11)
words = ["".join(r.choice("etaoinshrdlucmfwyp") for _ in range(r.randint(2, 7))) for _ in range(150)]
with open("corpus.jsonl", "w") as f:
    for d in range(150):
        f.write(json.dumps({"id": d, "text": " ".join(r.choice(words) for _ in range(200)) + "."}) + "\n")
prompts = [" ".join(r.choice(words) for _ in range(40)) for _ in range(30)]
# The same prompts in the three shapes generate and probe read, and answers that copy them (as a
# probe's output: OpenAI chat completions with the prompt's id).
with open("p-text.jsonl", "w") as text, open("p-chat.jsonl", "w") as chat, open("answers.jsonl", "w") as answers:
    for i, prompt in enumerate(prompts):
        text.write(json.dumps({"id": "p%d" % i, "prompt": prompt}) + "\n")
        chat.write(json.dumps({"id": "p%d" % i, "messages": [{"role": "user", "content": prompt}]}) + "\n")
        answers.write(json.dumps({"id": "p%d" % i, "object": "chat.completion",
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": prompt}}]}) + "\n")
PY

# scan --prompts reads {"id", "prompt"} and {"id", "messages"}: an answer that only copies its prompt
# scores nothing (every tuple lies in a prompt window).
"$tracemark" keygen --out gpt2key.json --tokenizer gpt2 >/dev/null
for prompts in p-text.jsonl p-chat.jsonl; do
  expect 0 "Nothing was scored" -- "$tracemark" scan --key gpt2key.json --suspect answers.jsonl --prompts $prompts
done
expect 0 '"prompts": 30,' -- "$tracemark" scan --key gpt2key.json --suspect answers.jsonl --prompts p-chat.jsonl --json
printf '{"id":"a","prompt":"x"}\n{"id":"a","prompt":"y"}\n' >dup.jsonl
expect 2 "dup.jsonl line 2: id \"a\" appears twice" -- "$tracemark" scan --key gpt2key.json --suspect answers.jsonl --prompts dup.jsonl

# A teacher (cl100k_base) serves watermarked answers; its generate output names its tokenizer.
"$tracemark" train --corpus corpus.jsonl --tokenizer cl100k_base --order 2 --out teacher.tmlm >/dev/null
"$tracemark" keygen --out ours.json --tokenizer cl100k_base --delta 4 >/dev/null
expect 0 "wrote 30 responses" -- "$tracemark" generate --model teacher.tmlm --key ours.json --prompts p-chat.jsonl \
  --out teacher.jsonl --max-tokens 200 --seed 3
check "generate names the tokenizer of its ids" \
  python3 -c 'import json,sys; r=json.loads(open("teacher.jsonl").readline()); sys.exit(r["tokenizer"]["name"] != "cl100k_base" or len(r["tokenizer"]["vocab_sha256"]) != 64)'
# A student with gpt2's tokenizer answers with our watermarked text in its own ids, and says so
# (the records generate writes for a gpt2 model).
"$tracemark" tokenize --tokenizer gpt2 --input teacher.jsonl --output gpt2-ids.jsonl >/dev/null
"$tracemark" train --corpus corpus.jsonl --tokenizer gpt2 --order 2 --out student.tmlm >/dev/null
"$tracemark" generate --model student.tmlm --prompts p-text.jsonl --out student-format.jsonl --max-tokens 5 >/dev/null
python3 - <<'PY'
import json
binding = json.loads(open("student-format.jsonl").readline())["tokenizer"]
assert binding["name"] == "gpt2", binding
with open("student.jsonl", "w") as out:
    for teacher, ids in zip(open("teacher.jsonl"), open("gpt2-ids.jsonl")):
        teacher, ids = json.loads(teacher), json.loads(ids)
        out.write(json.dumps({"id": teacher["id"], "text": teacher["text"], "tokens": ids["tokens"], "tokenizer": binding}) + "\n")
PY
# Default --input auto: the gpt2 ids are not ours, so the text is read; the watermark is found.
expect 0 "note: 30 of the 30 suspect records carry ids of tokenizer gpt2 .*their text was read with the key's tokenizer" -- \
  "$tracemark" scan --key ours.json --suspect student.jsonl
expect 0 "Consistent with training on text watermarked with this key" -- "$tracemark" scan --key ours.json --suspect student.jsonl
expect 0 '"read_as_text": \{' -- "$tracemark" scan --key ours.json --suspect student.jsonl --json
# --input tokens refuses them; without text they are refused in auto mode too.
expect 2 "student.jsonl line 1: its ids are of tokenizer gpt2 .* never scored as ours" -- \
  "$tracemark" scan --key ours.json --suspect student.jsonl --input tokens
python3 -c '
import json
with open("ids-only.jsonl", "w") as out:
    for line in open("student.jsonl"):
        r = json.loads(line); del r["text"]; out.write(json.dumps(r) + "\n")'
expect 2 "ids-only.jsonl line 1: its ids are of tokenizer gpt2 .*no text to read instead" -- \
  "$tracemark" scan --key ours.json --suspect ids-only.jsonl
expect 0 "carry ids of tokenizer gpt2" -- "$tracemark" detect --key ours.json --input student.jsonl

# detect and scan read the same ids: a record with both ids and text (naming no tokenizer) is scored on
# its ids by both (here the ids are the teacher's own, so both find the watermark).
python3 -c '
import json
with open("both.jsonl", "w") as out:
    for line in open("teacher.jsonl"):
        r = json.loads(line); del r["tokenizer"]; r["text"] = "unrelated words " * 20; out.write(json.dumps(r) + "\n")'
detect_tokens=$("$tracemark" detect --key ours.json --input both.jsonl --json | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"])')
scan_tokens=$("$tracemark" scan --key ours.json --suspect both.jsonl --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["suspect"]["keys"][0]["tokens"])')
ids_total=$(python3 -c 'import json; print(sum(len(json.loads(l)["tokens"]) for l in open("both.jsonl")))')
check "scan reads the ids of a record holding both ($scan_tokens of $ids_total)" [ "$scan_tokens" = "$ids_total" ]
check "detect reads the ids of a record holding both ($detect_tokens of $ids_total)" [ "$detect_tokens" = "$ids_total" ]
finish
