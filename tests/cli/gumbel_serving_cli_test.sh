#!/usr/bin/env bash
# CLI tests for serving a gumbel-max key (issue 18): generate and serve choose each token with the
# key (WatermarkProcessor::choose), on the full-vocabulary and top-k paths and under temperature and
# top-p; detect finds the answers and a fresh key does not; the same seed gives the same answers;
# a green-list-only path (tool calls) refuses the key with a message naming its scheme.
# Usage: gumbel_serving_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
last_log10p() { tail -1 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["log10_p"])'; }
below() { /usr/bin/python3 -c "import sys; sys.exit(0 if $1 < $2 else 1)"; }

# A token-id corpus with some entropy per step (uniform-ish over a few hundred ids) and prompts.
/usr/bin/python3 - <<'PY'
import json, random
r = random.Random(7)
with open("corpus.jsonl", "w") as f:
    for d in range(200):
        f.write(json.dumps({"id": d, "tokens": [int(r.random() ** 1.5 * 300) for _ in range(200)]}) + "\n")
with open("prompts.jsonl", "w") as f:
    for i in range(30):
        f.write(json.dumps({"id": "p%d" % i, "prompt_tokens": [i, i + 1, i + 2]}) + "\n")
with open("tools.jsonl", "w") as f:
    f.write(json.dumps({"id": "t", "prompt_tokens": [1, 2], "tools": [{"type": "function", "function": {
        "name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}}]}) + "\n")
PY
expect 0 "" -- "$tracemark" train --corpus corpus.jsonl --vocab-size 400 --order 2 --out model.tmlm
expect 0 "" -- "$tracemark" keygen --scheme gumbel-max --out ours.json --vocab-size 400
expect 0 "" -- "$tracemark" keygen --scheme gumbel-max --out fresh.json --vocab-size 400

expect 0 "\(watermarked\)" -- "$tracemark" generate --model model.tmlm --key ours.json --prompts prompts.jsonl \
  --max-tokens 60 --seed 3 --out full.jsonl
ours=$("$tracemark" detect --key ours.json --input full.jsonl --json | last_log10p)
check "detect finds full-vocabulary gumbel-max answers (log10 p $ours)" below "$ours" -20
fresh=$("$tracemark" detect --key fresh.json --input full.jsonl --json | last_log10p)
check "a fresh key does not (log10 p $fresh)" below -4 "$fresh"
expect 0 "" -- "$tracemark" generate --model model.tmlm --key ours.json --prompts prompts.jsonl \
  --max-tokens 60 --seed 3 --out again.jsonl
check "the same seed gives the same answers" cmp -s full.jsonl again.jsonl

expect 0 "" -- "$tracemark" generate --model model.tmlm --key ours.json --prompts prompts.jsonl \
  --max-tokens 60 --seed 3 --top-k 40 --temperature 0.8 --top-p 0.9 --out shaped.jsonl
shaped=$("$tracemark" detect --key ours.json --input shaped.jsonl --json | last_log10p)
check "top-k 40, temperature 0.8, top-p 0.9 answers are found (log10 p $shaped)" below "$shaped" -10
expect 0 "" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --max-tokens 60 --seed 3 --out clean.jsonl
clean=$("$tracemark" detect --key ours.json --input clean.jsonl --json | last_log10p)
check "unwatermarked answers are not flagged (log10 p $clean)" below -4 "$clean"
expect 0 "" -- "$tracemark" generate --model model.tmlm --key ours.json --prompts prompts.jsonl \
  --max-tokens 20 --temperature 0 --out greedy.jsonl
expect 0 "" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --max-tokens 20 --temperature 0 --out greedy-clean.jsonl
check "greedy decoding is the model's argmax with or without the key" /usr/bin/python3 -c '
import json
a = [json.loads(l)["tokens"] for l in open("greedy.jsonl")]
b = [json.loads(l)["tokens"] for l in open("greedy-clean.jsonl")]
assert a == b'
# Entropy-weighted detection reads the per-step entropy serving recorded; records without it, and
# green-list keys, are refused.
expect 0 "" -- "$tracemark" generate --model model.tmlm --key ours.json --prompts prompts.jsonl \
  --max-tokens 60 --seed 3 --record-entropy --out entropy.jsonl
weighted=$("$tracemark" detect --key ours.json --input entropy.jsonl --json --entropy-weighted | last_log10p)
check "entropy-weighted detection finds the answers (log10 p $weighted)" below "$weighted" -20
expect 0 '"weighting":"entropy"' -- "$tracemark" detect --key ours.json --input entropy.jsonl --json --entropy-weighted
weighted_fresh=$("$tracemark" detect --key fresh.json --input entropy.jsonl --json --entropy-weighted | last_log10p)
check "and not with a fresh key (log10 p $weighted_fresh)" below -4 "$weighted_fresh"
expect 2 "full.jsonl line 1: --entropy-weighted needs each record's per-step \"entropy\"" -- \
  "$tracemark" detect --key ours.json --input full.jsonl --entropy-weighted
# Hostile per-step entropy: a negative value, and an array of the wrong length, are refused naming
# the line.
/usr/bin/python3 -c '
import json
r = json.loads(open("entropy.jsonl").readline())
with open("negative.jsonl", "w") as f:
    f.write(json.dumps({"tokens": r["tokens"], "entropy": [-1.0] * len(r["tokens"])}) + "\n")
with open("short.jsonl", "w") as f:
    f.write(json.dumps({"tokens": r["tokens"], "entropy": [1.0]}) + "\n")'
expect 2 "negative.jsonl line 1: \"entropy\"\\[0\\] is not a number >= 0" -- \
  "$tracemark" detect --key ours.json --input negative.jsonl --entropy-weighted
expect 2 "short.jsonl line 1" -- "$tracemark" detect --key ours.json --input short.jsonl --entropy-weighted
expect 0 "" -- "$tracemark" keygen --out green.json --vocab-size 400
expect 2 "--entropy-weighted applies to gumbel-max keys" -- \
  "$tracemark" detect --key green.json --input entropy.jsonl --entropy-weighted

# Repeated prompts: with every step keyed, the answers to one prompt are one answer; a keyed
# fraction of 0.5 gives different answers that detect still finds.
/usr/bin/python3 -c '
import json
with open("same.jsonl", "w") as f:
    for i in range(12):
        f.write(json.dumps({"id": "s%d" % i, "prompt_tokens": [4, 5, 6]}) + "\n")'
expect 0 "" -- "$tracemark" generate --model model.tmlm --key ours.json --prompts same.jsonl --max-tokens 60 --out same-all.jsonl
expect 0 "" -- "$tracemark" generate --model model.tmlm --key ours.json --prompts same.jsonl --max-tokens 60 \
  --keyed-fraction 0.5 --out same-half.jsonl
distinct() { /usr/bin/python3 -c 'import json,sys; print(len({tuple(json.loads(l)["tokens"]) for l in open(sys.argv[1])}))' "$1"; }
# Every answer to one prompt is the same up to the first step whose context repeats inside it (from
# there the request's own randomness draws); the key's width is 2.
check "every step keyed: a repeated prompt's answers agree up to their first repeated context" /usr/bin/python3 -c '
import json
answers = [json.loads(l)["tokens"] for l in open("same-all.jsonl")]
def first_unkeyed(answer, prompt=(4, 5, 6), width=2):
    tokens, seen = list(prompt) + answer, set()
    for i in range(len(answer)):
        context = tuple(tokens[len(prompt) + i - width:len(prompt) + i])
        if context in seen:
            return i
        seen.add(context)
    return len(answer)
keyed = min(first_unkeyed(a) for a in answers)
assert keyed >= 1 and all(a[:keyed] == answers[0][:keyed] for a in answers), (keyed, answers[:2])'

check "keyed fraction 0.5: different answers ($(distinct same-half.jsonl) distinct of 12)" test "$(distinct same-half.jsonl)" -ge 10
expect 0 "" -- "$tracemark" generate --model model.tmlm --key ours.json --prompts prompts.jsonl \
  --max-tokens 60 --seed 3 --keyed-fraction 0.5 --out half.jsonl
half=$("$tracemark" detect --key ours.json --input half.jsonl --json | last_log10p)
check "half-keyed answers are found, with less evidence (log10 p $half against $ours)" \
  /usr/bin/python3 -c "import sys; sys.exit(0 if $half < -8 and $half > $ours else 1)"
# A synthid-tournament key goes through the same processor: found by detect, and a repeated prompt
# gets different answers (every step draws with the request's own randomness).
expect 0 "" -- "$tracemark" keygen --scheme synthid-tournament --layers 30 --out tournament.json --vocab-size 400
expect 0 "\(watermarked\)" -- "$tracemark" generate --model model.tmlm --key tournament.json --prompts prompts.jsonl \
  --max-tokens 60 --seed 3 --out tournament-answers.jsonl
tournament=$("$tracemark" detect --key tournament.json --input tournament-answers.jsonl --json | last_log10p)
check "detect finds tournament answers (log10 p $tournament)" below "$tournament" -10
tournament_fresh=$("$tracemark" detect --key ours.json --input tournament-answers.jsonl --json | last_log10p)
check "a gumbel-max key does not (log10 p $tournament_fresh)" below -4 "$tournament_fresh"
expect 0 "" -- "$tracemark" generate --model model.tmlm --key tournament.json --prompts same.jsonl --max-tokens 60 --out same-tournament.jsonl
check "tournament: different answers to a repeated prompt ($(distinct same-tournament.jsonl) distinct of 12)" \
  test "$(distinct same-tournament.jsonl)" -ge 10
expect 2 "--keyed-fraction applies to a gumbel-max --key" -- "$tracemark" generate --model model.tmlm --key tournament.json \
  --prompts prompts.jsonl --keyed-fraction 0.5 --out bad.jsonl
expect 2 "--keyed-fraction applies to a gumbel-max --key" -- "$tracemark" generate --model model.tmlm \
  --prompts prompts.jsonl --keyed-fraction 0.5 --out bad.jsonl
expect 2 "keyed fraction 0.000000 is out of range" -- "$tracemark" generate --model model.tmlm --key ours.json \
  --prompts prompts.jsonl --keyed-fraction 0 --out bad.jsonl
check "refused runs leave no output" test ! -e bad.jsonl

# serve chooses with the key too (a model with a tokenizer: gpt2's, from the set-up's cache): the
# audit log's answers are found by detect.
/usr/bin/python3 - <<'PY'
import json, random
r = random.Random(3)
words = ("the water river stone light house green field winter morning song road cloud bread iron "
         "glass window mountain forest letter garden silver paper summer candle bridge market").split()
with open("words.jsonl", "w") as f:
    for d in range(300):
        f.write(json.dumps({"text": " ".join(r.choice(words) for _ in range(80))}) + "\n")
PY
expect 0 "" -- "$tracemark" train --corpus words.jsonl --tokenizer gpt2 --order 2 --out text.tmlm
expect 0 "" -- "$tracemark" keygen --scheme gumbel-max --tokenizer gpt2 --out served.json
expect 2 "tool-call answers are watermarked with a green-list key only" -- \
  "$tracemark" generate --model text.tmlm --key served.json --prompts tools.jsonl --out tools-out.jsonl
check "the refused run leaves no output" test ! -e tools-out.jsonl
api_key=sk-gumbel-serving-test-0000000000
printf '%s alice\n' "$api_key" >keys.txt
chmod 600 keys.txt
"$tracemark" serve --model text.tmlm --key served.json --api-keys keys.txt --audit-log audit.jsonl --port 0 \
  >serve.out 2>serve.err &
server=$!
port=$(serve_port serve.out)
check "serve starts with a gumbel-max key" test -n "$port"
completion() {  # completion PORT PROMPT SEED MAX_TOKENS: the answer's text
  curl -s --max-time 20 -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$1/v1/completions" -d "{\"model\":\"text\",\"prompt\":\"$2\",\"max_tokens\":$4,\"seed\":$3}" |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])'
}
# (Only until a context repeats inside the answer, where the request's own randomness takes over: two
# tokens after "stone road" cannot repeat a context.)
check "every step keyed: the same prompt starts the same answer whatever the seed" \
  test "$(completion "$port" "the stone road" 1 2)" = "$(completion "$port" "the stone road" 2 2)"
for i in 1 2 3 4 5 6; do
  http 200 '"text":' -- -H "Authorization: Bearer $api_key" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port/v1/completions" -d "{\"model\":\"text\",\"prompt\":\"the river $i\",\"max_tokens\":80,\"seed\":$i}"
done
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
"$tracemark" serve --model text.tmlm --key served.json --api-keys keys.txt --audit-log audit-half.jsonl --port 0 \
  --keyed-fraction 0.5 >serve-half.out 2>serve-half.err &
server=$!
port=$(serve_port serve-half.out)
check "serve starts with --keyed-fraction 0.5" test -n "$port"
check "keyed fraction 0.5: the same prompt gets different answers for different seeds" \
  test "$(completion "$port" "the stone road" 1 30)" != "$(completion "$port" "the stone road" 2 30)"
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
expect 0 "" -- "$tracemark" keygen --out green-gpt2.json --tokenizer gpt2
expect 2 "--keyed-fraction applies to a gumbel-max --key" -- "$tracemark" serve --model text.tmlm --key green-gpt2.json \
  --api-keys keys.txt --audit-log audit-refused.jsonl --port 0 --keyed-fraction 0.5
/usr/bin/python3 -c '
import json
with open("served.jsonl", "w") as out:
    for line in open("audit.jsonl"):
        out.write(json.dumps({"tokens": json.loads(line)["tokens"]}) + "\n")'
served=$("$tracemark" detect --key served.json --input served.jsonl --json | last_log10p)
check "detect finds served gumbel-max answers (log10 p $served)" below "$served" -10
finish
