#!/usr/bin/env bash
# CLI tests for tokenize, keygen --tokenizer and detect on text: exact outputs (ids checked against
# npm tiktoken by hand and by the parity tests), exit codes and messages. Needs the cache that
# corpora/fetch.sh fills; fails (never skips) without it.
# Usage: tokenize_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}

if [[ ! -f $cache/npm/tiktoken@1.0.22/package/encoders/cl100k_base.json ]]; then
  echo "FAIL: the tokenizer cache $cache is missing; run corpora/fetch.sh (tools/setup.sh runs it)"
  echo "0 passed, 1 failed"
  exit 1
fi

# tokenize: ids as npm tiktoken gives them; the record's id, else its line number.
printf '{"id":"a","text":"hello world"}\n\n{"text":"Hi <|endoftext|> there"}\n' >in.jsonl
"$tracemark" tokenize --tokenizer cl100k_base --input in.jsonl >out.jsonl 2>err.txt
check "tokenize exit 0" test $? -eq 0
check "cl100k ids of hello world" grep -qxF '{"id":"a","tokens":[15339,1917]}' out.jsonl
check "special token text is ordinary by default" grep -qxF '{"id":3,"tokens":[13347,83739,8862,728,428,91,29,1070]}' out.jsonl
check "stderr names the tokenizer and digest" grep -qE "2 records with cl100k_base \(vocabulary sha256:[0-9a-f]{64}\)" err.txt
expect 0 '\{"id":3,"tokens":\[13347,220,100257,1070\]\}' -- "$tracemark" tokenize --tokenizer cl100k_base --input in.jsonl --allow-special
expect 0 '\{"id":"a","tokens":\[31373,995\]\}' -- "$tracemark" tokenize --tokenizer gpt2 --input in.jsonl
"$tracemark" tokenize --tokenizer o200k_base --input - <in.jsonl >stdin.jsonl 2>/dev/null
check "stdin input works" grep -qF '"id":"a"' stdin.jsonl

# Invalid UTF-8: named by file, line and byte offset; --lossy replaces it and reports the count.
printf '{"id":"ok","text":"fine"}\n{"id":"x","text":"ab\xffc"}\n' >bad.jsonl
expect 2 "bad.jsonl line 2 \(byte offset 46\): invalid UTF-8 \(byte 0xff\).*--lossy" -- "$tracemark" tokenize --tokenizer cl100k_base --input bad.jsonl
expect 0 '\{"id":"x","tokens":\[370,5809,66\],"utf8_replacements":1\}' -- "$tracemark" tokenize --tokenizer cl100k_base --input bad.jsonl --lossy
expect 0 "replaced 1 invalid UTF-8 sequences with U\+FFFD in 1 records" -- "$tracemark" tokenize --tokenizer cl100k_base --input bad.jsonl --lossy

# Other bad input and set-up problems: exit 2 and what to do.
printf '{"id":"t","tokens":[1,2]}\n' >notext.jsonl
expect 2 'notext.jsonl line 1: field "text" \(a string\) is missing' -- "$tracemark" tokenize --tokenizer cl100k_base --input notext.jsonl
expect 2 "tokenizer .*/nothing.json does not exist; give one of cl100k_base" -- "$tracemark" tokenize --tokenizer nothing.json --input in.jsonl
expect 2 "cannot read .*claude.json; tokenizer claude needs it .*run corpora/fetch.sh" -- env TRACEMARK_CACHE="$work/empty-cache" "$tracemark" tokenize --tokenizer claude --input in.jsonl
expect 2 "" -- "$tracemark" tokenize --tokenizer cl100k_base

# Threads change nothing in the output.
head -n 200 "$cache/parity/texts/brown.jsonl" >brown.jsonl
"$tracemark" tokenize --tokenizer o200k_base --input brown.jsonl --threads 1 >one.jsonl 2>/dev/null
"$tracemark" tokenize --tokenizer o200k_base --input brown.jsonl --threads 3 >three.jsonl 2>/dev/null
check "output identical for 1 and 3 threads" cmp -s one.jsonl three.jsonl
check "one output line per record" test "$(wc -l <one.jsonl)" -eq 200

# A 10 MB record works, in memory bounded by a small multiple of it (here: under 8x).
python3 - <<'EOF'
import json, random
words = 'the quick brown fox jumps over a lazy dog while 42 people watch, saying: "well, isn\'t that odd?"\n'.split(' ')
rng, out, n = random.Random(1), [], 0
while n < 10_000_000:
    w = rng.choice(words); out.append(w); n += len(w) + 1
open('big.jsonl', 'w').write(json.dumps({'id': 'big', 'text': ' '.join(out)[:10_000_000]}) + '\n')
EOF
peak_kb=$(python3 -c "
import resource, subprocess, sys
r = subprocess.run(['$tracemark', 'tokenize', '--tokenizer', 'cl100k_base', '--input', 'big.jsonl', '--output', 'big.out'], capture_output=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else -1)")
check "10 MB record tokenized (peak RSS ${peak_kb} kB)" test "$peak_kb" -gt 0
# AddressSanitizer's shadow memory and quarantine inflate RSS several times: the bound is for the Release build.
if ! ldd "$tracemark" | grep -q libasan; then
  check "10 MB record peak RSS under 80 MB + 30 MB of tables (${peak_kb} kB)" test "$peak_kb" -lt $((110 * 1024))
fi

# keygen --tokenizer: the key records the tokenizer's name and digest and takes its vocabulary size.
expect 0 "commitment: sha256:" -- "$tracemark" keygen --out key.json --tokenizer cl100k_base --context-width 1
check "key names cl100k_base" python3 -c '
import json, sys
k = json.load(open("key.json"))
sys.exit(not (k["scheme"]["vocab_size"] == 100277 and k["tokenizer"]["name"] == "cl100k_base" and len(k["tokenizer"]["vocab_sha256"]) == 64))'
expect 2 "--vocab-size 5 differs from tokenizer cl100k_base's 100277" -- "$tracemark" keygen --out k2.json --tokenizer cl100k_base --vocab-size 5
expect 2 "--vocab-size is required unless --tokenizer" -- "$tracemark" keygen --out k3.json
expect 0 "" -- "$tracemark" keygen --out plain.json --vocab-size 1000

# detect: text records and chat completions are tokenized with the key's tokenizer.
printf '{"id":"t","text":"hello world, this is a test of the detector"}\n{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello world, this is a test"}},{"index":1,"message":{"role":"assistant","content":null}}]}\n' >text.jsonl
expect 0 "^t +10 " -- "$tracemark" detect --key key.json --input text.jsonl
expect 0 "^c +7 " -- "$tracemark" detect --key key.json --input text.jsonl
"$tracemark" tokenize --tokenizer cl100k_base --input text.jsonl >/dev/null 2>&1
printf '{"id":"t","tokens":[15339,1917,11,420,374,264,1296,315,279,32314]}\n' >ids.jsonl
check "text and its ids score the same" test "$("$tracemark" detect --key key.json --input text.jsonl --json | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["green"])')" = \
  "$("$tracemark" detect --key key.json --input ids.jsonl --json | head -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["green"])')"
expect 2 "text.jsonl line 1 is text, but no key \(tmk_[0-9a-f]+\) names a tokenizer" -- "$tracemark" detect --key plain.json --input text.jsonl
expect 2 "tokenizer o200k_base has vocabulary sha256:[0-9a-f]{64} but key tmk_[0-9a-f]+ was made with tokenizer cl100k_base .*use the tokenizer the key was made with" -- "$tracemark" detect --key key.json --input text.jsonl --tokenizer o200k_base
expect 0 "" -- "$tracemark" detect --key key.json --input text.jsonl --tokenizer "$cache/npm/tiktoken@1.0.22/package/encoders/cl100k_base.json"
printf '{"id":"x","text":"ab\xffc"}\n' >badtext.jsonl
expect 2 "badtext.jsonl line 1 \(byte offset 20\): invalid UTF-8" -- "$tracemark" detect --key key.json --input badtext.jsonl

echo "tokenize CLI: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
