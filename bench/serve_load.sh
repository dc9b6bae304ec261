#!/usr/bin/env bash
# Load test of `tracemark serve` with wrk on loopback: a bounded run (default 30 s) of
# non-streaming chat completions, with throughput (requests/s, tokens/s from the audit log), p50
# and p99 latency, and every error class wrk counts (any error fails the run). The floor measured
# in the same run: `tracemark generate` producing the same number of tokens of the same length
# with the same model, key and thread count, without HTTP, so the ratio is the server's overhead.
# Usage: bench/serve_load.sh PATH/TO/tracemark [SECONDS=30] [CONNECTIONS=4] [SERVER_THREADS=4] [MAX_TOKENS=64]
# Needs wrk (apt-get install wrk) and the tokenizer cache (corpora/fetch.sh). Figures go to
# docs/BENCHMARKS.md with the command.
set -euo pipefail
tracemark=$(realpath "$1")
seconds=${2:-30}
connections=${3:-4}
threads=${4:-4}
max_tokens=${5:-64}
command -v wrk >/dev/null || { echo "serve_load: wrk is missing; apt-get install wrk" >&2; exit 2; }
cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
brown=$cache/parity/texts/brown.jsonl
[[ -f $brown ]] || { echo "serve_load: $brown is missing; run corpora/fetch.sh" >&2; exit 2; }
work=$(mktemp -d)
server_pid=""
trap '[[ -n $server_pid ]] && kill -9 $server_pid 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"

# Model: order 3 on the first 5000 Brown texts with gpt2's tokenizer (50257 ids, so each token
# is a full-vocabulary pass, as in a real serving engine).
head -n 5000 "$brown" >corpus.jsonl
"$tracemark" train --corpus corpus.jsonl --tokenizer gpt2 --order 3 --out brown.tmlm >/dev/null
"$tracemark" keygen --out key.json --tokenizer gpt2 >/dev/null
printf 'sk-bench-load-000000000000 bench\n' >keys.txt
chmod 600 keys.txt

"$tracemark" serve --model brown.tmlm --key key.json --api-keys keys.txt --audit-log audit.jsonl --port 0 \
  --threads "$threads" --max-connections-per-address "$connections" >serve.out 2>serve.err &
server_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(grep -oE '127\.0\.0\.1:[0-9]+' serve.out 2>/dev/null | grep -oE '[0-9]+$' || true)
  [[ -n $port ]] && break
  sleep 0.1
done
[[ -n $port ]] || { cat serve.out serve.err; exit 1; }

cat >post.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-load-000000000000"
wrk.body = '{"model":"brown","messages":[{"role":"user","content":"Tell me about the jury and the election."}],"max_tokens":$max_tokens}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d seconds=%.3f connect=%d read=%d write=%d status=%d timeout=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.duration / 1e6, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
LUA
wrk -t 2 -c "$connections" -d "${seconds}s" --timeout 10s --latency -s post.lua "http://127.0.0.1:$port/v1/chat/completions" >wrk.out
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=""
result=$(grep '^RESULT' wrk.out)

# Floor: the same number of responses of the same length through `generate`, no HTTP.
requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$result")
python3 - "$requests" >prompts.jsonl <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"id": i, "prompt": "user: Tell me about the jury and the election.\n\nassistant:"}))
PY
generate=$("$tracemark" generate --model brown.tmlm --prompts prompts.jsonl --out direct.jsonl --key key.json \
  --max-tokens "$max_tokens" --threads "$threads")

python3 - "$result" "$generate" "$connections" "$threads" "$max_tokens" <<'PY'
import json, re, sys
fields = dict(kv.split("=") for kv in sys.argv[1].split()[1:])
lines = open("audit.jsonl").read().split("\n")[:-1]
tokens = sum(len(json.loads(l)["tokens"]) for l in lines)
seconds = float(fields["seconds"])
errors = sum(int(fields[k]) for k in ("connect", "read", "write", "status", "timeout"))
direct = float(re.search(r"; ([0-9.e+]+) tokens/s", sys.argv[2]).group(1))
print(f"wrk: {fields['requests']} requests in {seconds:.1f} s with {sys.argv[3]} connections, server --threads {sys.argv[4]}, "
      f"max_tokens {sys.argv[5]}")
print(f"  errors: {errors} (connect {fields['connect']}, read {fields['read']}, write {fields['write']}, "
      f"non-2xx {fields['status']}, timeout {fields['timeout']})")
print(f"  throughput: {int(fields['requests']) / seconds:.1f} requests/s, {tokens / seconds:.0f} tokens/s "
      f"({len(lines)} audit lines, {tokens} tokens)")
print(f"  latency: p50 {float(fields['p50_ms']):.1f} ms, p99 {float(fields['p99_ms']):.1f} ms, max {float(fields['max_ms']):.1f} ms")
print(f"  floor (tracemark generate, same responses, no HTTP): {direct:.0f} tokens/s; "
      f"served/floor = {tokens / seconds / direct:.2f}")
sys.exit(1 if errors else 0)
PY
