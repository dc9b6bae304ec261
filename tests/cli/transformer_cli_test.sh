#!/usr/bin/env bash
# CLI tests for the transformer reference model (issue 17): train --model transformer, generate
# with and without a key (the watermark goes through the same processor), distill --student
# transformer with a clean mix, perplexity, and the refusals: bad options, damaged or foreign model
# files, an existing output, a diverging run that leaves no file.
# Usage: transformer_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
field() {  # field NAME: the named number of the last JSON line on stdin
  tail -1 | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}

# Token-id corpora: a skewed one with recurring phrases (the teacher's) and a second, different one
# (the clean text a distiller mixes in).
/usr/bin/python3 - <<'PY'
import json, random
r = random.Random(1)
def corpus(name, documents, phrase):
    with open(name, "w") as f:
        for d in range(documents):
            tokens = []
            for i in range(120):
                u = r.random()
                tokens.append(int(u * u * 300))
                if i % 4 == 0:
                    tokens += phrase
            f.write(json.dumps({"id": d, "tokens": tokens}) + "\n")
corpus("teacher.jsonl", 60, [7, 8, 9])
corpus("clean.jsonl", 60, [20, 21])
with open("prompts.jsonl", "w") as f:
    for i in range(24):
        f.write(json.dumps({"id": "p%d" % i, "prompt_tokens": [i, 7, 8]}) + "\n")
PY
small="--layers 1 --width 32 --heads 2 --context-length 16 --batch-size 8 --torch-threads 1"

expect 0 "trained a transformer \(1 layers, width 32, 2 heads, context 16, [0-9]+ parameters" -- \
  "$tracemark" train --model transformer --corpus teacher.jsonl --vocab-size 400 $small --steps 120 --out teacher.tmodel
expect 2 "already exists" -- "$tracemark" train --model transformer --corpus teacher.jsonl --vocab-size 400 $small --steps 1 --out teacher.tmodel
expect 2 "--width 30 is not a multiple of --heads 4" -- \
  "$tracemark" train --model transformer --corpus teacher.jsonl --vocab-size 400 --width 30 --heads 4 --out x.tmodel
expect 2 "--layers 0.* is out of range" -- \
  "$tracemark" train --model transformer --corpus teacher.jsonl --vocab-size 400 --layers 0 --out x.tmodel
expect 2 "training diverged at step [0-9]+ of 400 .*lower --learning-rate" -- \
  "$tracemark" train --model transformer --corpus teacher.jsonl --vocab-size 400 $small --steps 400 \
  --learning-rate 10 --warmup-steps 0 --out x.tmodel
check "a failed training leaves no model file" test ! -e x.tmodel

# The teacher answers, watermarked and not; the key's green tokens are over-represented.
expect 0 "" -- "$tracemark" keygen --out key.json --vocab-size 400 --context-width 1 --delta 3
expect 0 "wrote 24 responses of 60 tokens to wm.jsonl \(watermarked\)" -- \
  "$tracemark" generate --model teacher.tmodel --prompts prompts.jsonl --key key.json --max-tokens 60 --threads 2 --out wm.jsonl
expect 0 "" -- "$tracemark" generate --model teacher.tmodel --prompts prompts.jsonl --max-tokens 60 --out plain.jsonl --top-k 40
"$tracemark" generate --model teacher.tmodel --prompts prompts.jsonl --key key.json --max-tokens 60 --threads 1 --out wm1.jsonl >/dev/null
check "generation does not depend on --threads" cmp -s wm.jsonl wm1.jsonl
wm=$("$tracemark" detect --key key.json --input wm.jsonl --json | field log10_p)
plain=$("$tracemark" detect --key key.json --input plain.jsonl --json | field log10_p)
check "the teacher's watermark is detected (log10 p $wm)" /usr/bin/python3 -c "import sys; sys.exit(0 if $wm < -4 else 1)"
check_null "unwatermarked answers are not flagged" "$plain"

# A transformer student of the watermarked harvest mixed with clean text; perplexity of both kinds.
expect 0 "trained transformer student student.tmodel on [0-9]+ teacher tokens .*watermarked fraction 0.5" -- \
  "$tracemark" distill --student transformer --teacher-outputs wm.jsonl --mix-clean clean.jsonl --fraction 0.5 \
  --vocab-size 400 $small --steps 30 --out student.tmodel
ppl=$("$tracemark" perplexity --model teacher.tmodel --input plain.jsonl --json | field perplexity)
check "the teacher finds its own answers probable (perplexity $ppl)" /usr/bin/python3 -c "import sys; sys.exit(0 if 1 < $ppl < 400 else 1)"
expect 0 "perplexity [0-9.]+ .* under student.tmodel" -- "$tracemark" perplexity --model student.tmodel --input plain.jsonl
expect 0 "trained an order-3" -- "$tracemark" train --corpus teacher.jsonl --vocab-size 400 --out ngram.tmlm

# attack finetune: more training on clean text; the file records it; bad strengths are refused.
expect 0 "finetune \(strength 10 steps\): wrote tuned.tmodel; final loss [0-9.]+ nats/token; fine-tuning steps in all 10" -- \
  "$tracemark" attack finetune --model student.tmodel --corpus clean.jsonl --steps 10 --torch-threads 1 --out tuned.tmodel
expect 0 "fine-tuning steps in all 15" -- \
  "$tracemark" attack finetune --model tuned.tmodel --corpus clean.jsonl --steps 5 --torch-threads 1 --out tuned2.tmodel
expect 2 "--steps 0.* is out of range" -- \
  "$tracemark" attack finetune --model student.tmodel --corpus clean.jsonl --steps 0 --out x.tmodel
expect 2 "ngram.tmlm is an n-gram model file, not a transformer model file" -- \
  "$tracemark" attack finetune --model ngram.tmlm --corpus clean.jsonl --steps 5 --out x.tmodel
check "refused fine-tunings leave no model file" test ! -e x.tmodel

# Damaged and foreign model files.
/usr/bin/python3 -c 'b=bytearray(open("teacher.tmodel","rb").read()); b[len(b)//2]^=1; open("bad.tmodel","wb").write(b)'
expect 2 "bad.tmodel: checksum mismatch" -- "$tracemark" generate --model bad.tmodel --prompts prompts.jsonl --out x.jsonl
expect 2 "bad.tmodel: checksum mismatch" -- "$tracemark" perplexity --model bad.tmodel --input plain.jsonl
head -c 100 teacher.tmodel > short.tmodel
expect 2 "short.tmodel: the section lengths" -- "$tracemark" perplexity --model short.tmodel --input plain.jsonl
expect 2 "prompts.jsonl is not a tracemark reference model" -- "$tracemark" perplexity --model prompts.jsonl --input plain.jsonl
# Crafted files whose checksum is valid: the metadata is checked field by field all the same.
/usr/bin/python3 - <<'PY'
import hashlib, json, struct
b = open("teacher.tmodel", "rb").read()
meta_len, weights_len = struct.unpack("<QQ", b[16:32])
meta, weights = json.loads(b[32:32 + meta_len]), b[32 + meta_len:-32]
def write(name, metadata_bytes, weights_bytes=weights):
    body = b[:16] + struct.pack("<QQ", len(metadata_bytes), len(weights_bytes)) + metadata_bytes + weights_bytes
    open(name, "wb").write(body + hashlib.sha256(body).digest())
def variant(name, change):
    m = json.loads(json.dumps(meta)); change(m); write(name, json.dumps(m).encode())
variant("types.tmodel", lambda m: m["shape"].__setitem__("layers", "three"))
variant("range.tmodel", lambda m: m["shape"].__setitem__("layers", 0))
variant("huge.tmodel", lambda m: m.__setitem__("vocab_size", 10 ** 30))
variant("ids.tmodel", lambda m: m["vocabulary"].append(10 ** 6))
variant("missing.tmodel", lambda m: m.pop("provenance"))
variant("shape.tmodel", lambda m: m["shape"].__setitem__("width", 64))
write("deep.tmodel", b"[" * 5000 + b"]" * 5000)
write("nometa.tmodel", b"")
PY
expect 2 "types.tmodel: metadata field of the wrong type: \"layers\" must be an integer from 0 to 4294967295, not \"three\"" -- "$tracemark" perplexity --model types.tmodel --input plain.jsonl
expect 2 "range.tmodel.*--layers 0.* is out of range" -- "$tracemark" perplexity --model range.tmodel --input plain.jsonl
expect 2 "huge.tmodel: metadata field of the wrong type: \"vocab_size\" must be an integer from 0 to 4294967295" -- "$tracemark" perplexity --model huge.tmodel --input plain.jsonl
expect 2 "ids.tmodel: the model's vocabulary must be sorted, unique ids below 400" -- "$tracemark" perplexity --model ids.tmodel --input plain.jsonl
expect 2 "missing.tmodel: metadata field missing" -- "$tracemark" perplexity --model missing.tmodel --input plain.jsonl
expect 2 "shape.tmodel: the weights do not fit the recorded shape" -- "$tracemark" perplexity --model shape.tmodel --input plain.jsonl
expect 2 "deep.tmodel metadata: not valid JSON at byte offset" -- "$tracemark" perplexity --model deep.tmodel --input plain.jsonl
expect 2 "nometa.tmodel metadata: not valid JSON" -- "$tracemark" perplexity --model nometa.tmodel --input plain.jsonl
check "failed generations leave no output" test ! -e x.jsonl
# serve answers over HTTP from a transformer trained with a tokenizer (gpt2's, from the set-up's
# cache), watermarked, and the audit log records the answer.
/usr/bin/python3 - <<'PY'
import json, random
r = random.Random(3)
words = "the water river stone light house green field winter morning song road".split()
with open("words.jsonl", "w") as f:
    for d in range(80):
        f.write(json.dumps({"text": " ".join(r.choice(words) for _ in range(60))}) + "\n")
PY
expect 0 "wrote text.tmodel" -- "$tracemark" train --model transformer --corpus words.jsonl --tokenizer gpt2 $small --steps 60 --out text.tmodel
expect 0 "" -- "$tracemark" keygen --out gpt2key.json --tokenizer gpt2 --context-width 1
api_key=sk-transformer-test-000000000000
printf '%s alice\n' "$api_key" >keys.txt
chmod 600 keys.txt
"$tracemark" serve --model text.tmodel --key gpt2key.json --api-keys keys.txt --audit-log audit.jsonl --port 0 \
  >serve.out 2>serve.err &
server=$!
port=$(serve_port serve.out)
check "serve starts on a transformer model" test -n "$port"
http 200 '"text":' -- -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' \
  "http://127.0.0.1:$port/v1/completions" -d '{"model":"text","prompt":"the river","max_tokens":20,"seed":5}'
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
check "the audit log records the transformer's answer" /usr/bin/python3 -c '
import json
log = [json.loads(l) for l in open("audit.jsonl")]
assert len(log) == 1 and len(log[0]["tokens"]) == 20, log' 
finish
