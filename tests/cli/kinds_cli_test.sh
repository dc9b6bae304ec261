#!/usr/bin/env bash
# CLI tests for code, tool calls and reasoning traces (issue 16): keys with an entropy threshold,
# generate --record-entropy / --syntax-aware / tool-call requests (every answer matches its schema),
# detect and scan with recorded or recomputed entropy and syntax-aware scoring, the refusal of a
# threshold key without a way to know the entropy, and a suspect file mixing kinds.
# Usage: kinds_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

python3 - <<'PY'
import json, random
r = random.Random(16)
tools = [{"type": "function", "function": {"name": "read_file", "parameters": {"type": "object",
          "properties": {"path": {"type": "string"}}, "required": ["path"]}}},
         {"type": "function", "function": {"name": "run_tests", "parameters": {"type": "object",
          "properties": {"package": {"type": "string"}, "verbose": {"type": "boolean"},
                         "level": {"type": "string", "enum": ["low", "high"]}, "count": {"type": "integer"}},
          "required": ["package", "verbose", "level", "count"]}}}]
words = "alpha beta gamma delta net http json sort strings bytes io os path time sync math rand".split()
with open("corpus.jsonl", "w") as f:
    for i in range(300):
        w = r.sample(words, 3)
        if i % 3 == 0:
            args = {"path": "src/%s/%s.go" % (w[0], w[1])}
            call = '<tool_call>{"name": "read_file", "arguments": %s}</tool_call>' % json.dumps(args)
        elif i % 3 == 1:
            args = {"package": w[0], "verbose": r.random() < 0.5, "level": r.choice(["low", "high"]), "count": r.randint(1, 99)}
            call = '<tool_call>{"name": "run_tests", "arguments": %s}</tool_call>' % json.dumps(args)
        else:
            call = "func %s(%s int) int {\n\treturn %s + %d // %s %s\n}\n" % (w[0], w[1], w[1], r.randint(1, 9), w[2], w[0])
        f.write(json.dumps({"text": "Do the %s %s.\n%s" % (w[0], w[2], call)}) + "\n")
with open("tool_prompts.jsonl", "w") as f:
    for i in range(12):
        f.write(json.dumps({"id": "t%d" % i, "prompt": "Do the %s %s.\n" % (words[i], words[i + 1]), "tools": tools}) + "\n")
with open("prose_prompts.jsonl", "w") as f:
    for i in range(12):
        f.write(json.dumps({"id": "p%d" % i, "prompt": "Do the %s" % words[i]}) + "\n")
PY

expect 0 "wrote key" -- "$tracemark" keygen --tokenizer cl100k_base --entropy-threshold 0.5 --out ent.json
expect 0 '"entropy_threshold": 0.5' -- "$tracemark" key show ent.json
expect 2 "entropy threshold must be between 0 and 64" -- "$tracemark" keygen --tokenizer cl100k_base --entropy-threshold 70 --out bad.json
expect 0 "trained" -- "$tracemark" train --corpus corpus.jsonl --tokenizer cl100k_base --out model.tmlm

# Tool-call requests: constrained answers, watermarked with entropy and syntax rules; each parses and matches.
expect 0 "wrote 12 responses" -- "$tracemark" generate --model model.tmlm --prompts tool_prompts.jsonl --out calls.jsonl \
  --key ent.json --syntax-aware --record-entropy
check "every tool call parses and matches its schema" python3 - <<'PY'
import json, sys
for line in open("calls.jsonl"):
    r = json.loads(line)
    call = r["message"]["tool_calls"][0]["function"]
    args = json.loads(call["arguments"])
    want = {"read_file": {"path": str}, "run_tests": {"package": str, "verbose": bool, "level": str, "count": int}}[call["name"]]
    assert set(args) == set(want), args
    assert all(isinstance(args[k], t) for k, t in want.items()), args
    assert call["name"] != "run_tests" or args["level"] in ("low", "high")
    assert len(r["entropy"]) == len(r["tokens"])
    assert r["text"].endswith("</tool_call>")
PY

# Detection needs the entropy: refused without it, read from the record, or recomputed.
expect 0 "" -- "$tracemark" generate --model model.tmlm --prompts prose_prompts.jsonl --out prose.jsonl --key ent.json \
  --max-tokens 60 --record-entropy
python3 -c '
import json
with open("prose_noentropy.jsonl", "w") as f:
    for line in open("prose.jsonl"):
        r = json.loads(line); del r["entropy"], r["text"]; f.write(json.dumps(r) + "\n")'
expect 2 "entropy threshold of 0.5.* line 1.*--record-entropy.*--reference-model MODEL" -- \
  "$tracemark" detect --key ent.json --input prose_noentropy.jsonl
expect 0 '"skipped_low_entropy"' -- "$tracemark" detect --key ent.json --input prose.jsonl --json
expect 0 '"skipped_low_entropy"' -- "$tracemark" detect --key ent.json --input prose_noentropy.jsonl --reference-model model.tmlm --json
expect 0 '"skipped_syntax"' -- "$tracemark" detect --key ent.json --input calls.jsonl --syntax-aware --json
recorded=$("$tracemark" detect --key ent.json --input prose.jsonl --json | tail -1)
recomputed=$("$tracemark" detect --key ent.json --input prose_noentropy.jsonl --reference-model model.tmlm --json | tail -1)
check "recorded and recomputed entropy select the same steps" test "$recorded" = "$recomputed"

# The scan: refused without a source; per record over a file mixing prose, code, tool calls (a chat
# completion with tool_calls) and ids.
expect 2 "entropy threshold.*--reference-model MODEL.*--reference-log" -- "$tracemark" scan --key ent.json --suspect prose.jsonl
python3 - <<'PY'
import json
lines = [json.loads(l) for l in open("calls.jsonl")]
prose = [json.loads(l) for l in open("prose.jsonl")]
with open("mixed.jsonl", "w") as f:
    f.write(json.dumps({"id": "chat", "choices": [{"message": lines[0]["message"]}]}) + "\n")
    f.write(json.dumps({"id": "code", "text": "func alpha(beta int) int {\n\treturn beta + 3 // gamma alpha\n}\n"}) + "\n")
    f.write(json.dumps({"id": "ids", "tokens": prose[0]["tokens"]}) + "\n")
    f.write(json.dumps({"id": "text", "text": prose[1]["text"]}) + "\n")
PY
expect 0 "suspect: 4 responses.*low-entropy steps.*syntax tokens" -- \
  "$tracemark" scan --key ent.json --suspect mixed.jsonl --reference-model model.tmlm --syntax-aware
expect 0 "suspect: 12 responses" -- "$tracemark" scan --key ent.json --suspect prose_noentropy.jsonl --reference-log prose.jsonl

# Evidence bundles record the step rules: a syntax-aware scan re-runs from the bundle; one that
# recomputed entropy with a model (not bundled) says why it cannot.
expect 0 "" -- "$tracemark" evidence keygen --out sign.pem
expect 0 "Evidence bundle written" -- "$tracemark" scan --key ent.json --suspect prose_noentropy.jsonl --reference-log prose.jsonl \
  --syntax-aware --evidence ev1 --signing-key sign.pem --include-inputs --no-pdf
expect 0 "reproduces results.json byte for byte" -- "$tracemark" evidence verify ev1 --public-key sign.pem.pub --key ent.json
expect 0 "Evidence bundle written" -- "$tracemark" scan --key ent.json --suspect prose_noentropy.jsonl --reference-model model.tmlm \
  --evidence ev2 --signing-key sign.pem --include-inputs --no-pdf
expect 2 "recomputed the protected model's entropy with reference model model.tmlm, which a bundle does not hold" -- \
  "$tracemark" evidence verify ev2 --public-key sign.pem.pub --key ent.json
finish
