#!/usr/bin/env bash
# CLI tests for `tracemark attack` (issue 17): paraphrase, mix and scrub write a harvest distill
# reads; strengths out of range are refused; nothing is written on error; the seed decides.
# Usage: attack_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

# A small WordNet database (wndb(5WN) format, exact byte offsets), so the test needs no package.
mkdir wn
python3 - <<'PY'
lic = "  1 licence\n"
noun = lic
car = len(noun); noun += "%08d 06 n 02 car 0 auto 0 000 | a motor vehicle\n" % car
house = len(noun); noun += "%08d 14 n 02 house 0 home 0 000 | a dwelling\n" % house
open("wn/data.noun", "w").write(noun)
open("wn/index.noun", "w").write(lic + "car n 1 0 1 0 %08d\nhouse n 1 0 1 0 %08d\n" % (car, house))
for name in ["data.verb", "index.verb", "data.adj", "index.adj", "data.adv", "index.adv"]:
    open("wn/" + name, "w").write(lic)
PY

# A text harvest (as generate writes it with a tokenizer) and an id harvest with a watermark-like
# boost: after each token, the "green" quarter of the vocabulary is e^2 times more likely.
python3 - <<'PY'
import json, math, random
r = random.Random(1)
with open("text.jsonl", "w") as f:
    for i in range(20):
        f.write(json.dumps({"id": "t%d" % i, "prompt": "Tell me", "text": "The car is near the House, the car is red.",
                            "tokens": [1, 2, 3]}) + "\n")
def green(prev, tok): return (prev * 7919 + tok * 104729) % 4 == 0
def sample(boost, seed, docs):
    r = random.Random(seed)
    tables = []  # cumulative weights after each previous token
    for prev in range(60):
        w = [1.0 / (1 + (t + prev) % 60) * (math.exp(2) if boost and green(prev, t) else 1) for t in range(60)]
        tables.append([sum(w[:i + 1]) for i in range(60)])
    out = []
    for d in range(docs):
        doc = [r.randrange(60)]
        while len(doc) < 200:
            doc.append(r.choices(range(60), cum_weights=tables[doc[-1]])[0])
        out.append(doc)
    return out
with open("harvest.jsonl", "w") as f:
    for i, doc in enumerate(sample(True, 1, 100)):
        f.write(json.dumps({"id": "h%d" % i, "prompt_tokens": [i % 60], "tokens": doc}) + "\n")
with open("other.jsonl", "w") as f:
    for i, doc in enumerate(sample(False, 3, 100)):
        f.write(json.dumps({"id": "o%d" % i, "tokens": doc}) + "\n")
with open("reference.jsonl", "w") as f:
    for doc in sample(False, 2, 100):
        f.write(json.dumps({"tokens": doc}) + "\n")
PY
green_rate() {
  python3 - "$1" <<'PY'
import json, sys
g = n = 0
for line in open(sys.argv[1]):
    t = json.loads(line)["tokens"]
    for a, b in zip(t, t[1:]):
        g += (a * 7919 + b * 104729) % 4 == 0; n += 1
print(round(g / n, 3))
PY
}

# paraphrase
expect 0 "paraphrase \(strength 1, seed 1\): wrote 20 responses to para.jsonl; words 200 edited 60 synonyms 60 deletions 0 insertions 0 swaps 0 no_synonym 140" -- \
  "$tracemark" attack paraphrase --harvest text.jsonl --out para.jsonl --strength 1 --edits synonym --wordnet wn
check "synonyms replace words, case and punctuation kept, stale ids dropped" python3 -c '
import json
r = json.loads(open("para.jsonl").readline())
assert r["text"] == "The auto is near the Home, the auto is red.", r
assert "tokens" not in r and r["id"] == "t0" and r["prompt"] == "Tell me", r'
expect 0 "" -- "$tracemark" attack paraphrase --harvest text.jsonl --out para_a.jsonl --strength 0.3 --wordnet wn --seed 9
expect 0 "" -- "$tracemark" attack paraphrase --harvest text.jsonl --out para_b.jsonl --strength 0.3 --wordnet wn --seed 9
expect 0 "" -- "$tracemark" attack paraphrase --harvest text.jsonl --out para_c.jsonl --strength 0.3 --wordnet wn --seed 10
check "paraphrase: the same seed gives the same output" cmp -s para_a.jsonl para_b.jsonl
check "paraphrase: another seed another output" bash -c "! cmp -s para_a.jsonl para_c.jsonl"
expect 0 "edited 0" -- "$tracemark" attack paraphrase --harvest text.jsonl --out para0.jsonl --strength 0 --wordnet wn
expect 0 "" -- "$tracemark" attack paraphrase --harvest text.jsonl --out para_ids.jsonl --strength 0.5 --wordnet wn --tokenizer cl100k_base
check "with --tokenizer the edited text is re-encoded" python3 -c '
import json
r = json.loads(open("para_ids.jsonl").readline())
assert len(r["tokens"]) > 5 and r["tokenizer"]["name"] == "cl100k_base", r'
expect 2 "--strength: Value 1.5 not in range 0.000000 to 1.000000" -- \
  "$tracemark" attack paraphrase --harvest text.jsonl --out x.jsonl --strength 1.5 --wordnet wn
expect 2 "unknown word edit \"rotate\"" -- \
  "$tracemark" attack paraphrase --harvest text.jsonl --out x.jsonl --strength 0.5 --edits synonym,rotate --wordnet wn
expect 2 "harvest.jsonl line 1: paraphrase edits the responses' words and needs their \"text\"" -- \
  "$tracemark" attack paraphrase --harvest harvest.jsonl --out x.jsonl --strength 0.5 --wordnet wn
expect 2 "cannot open WordNet file nowhere/index.noun.*install Debian's wordnet-base" -- \
  "$tracemark" attack paraphrase --harvest text.jsonl --out x.jsonl --strength 0.5 --wordnet nowhere
expect 2 "already exists" -- "$tracemark" attack paraphrase --harvest text.jsonl --out para.jsonl --strength 1 --wordnet wn
expect 2 "is the input harvest" -- "$tracemark" attack paraphrase --harvest text.jsonl --out text.jsonl --strength 1 --wordnet wn --force

# mix
expect 0 "mix \(strength 0.25, seed 1\): wrote 133 responses to mixed.jsonl;.*own_responses 100 own_length 20000 other_responses 33 other_length 6600 other_share 0.248" -- \
  "$tracemark" attack mix --harvest harvest.jsonl --other other.jsonl --strength 0.25 --out mixed.jsonl
check "mix: every response of both files, none twice" python3 -c '
import json
ids = [json.loads(l)["id"] for l in open("mixed.jsonl")]
assert len(set(ids)) == 133 and sum(i.startswith("h") for i in ids) == 100, ids'
expect 2 "mix strength 1.000000 is out of range; give the other teacher's share of tokens in \[0, 1\)" -- \
  "$tracemark" attack mix --harvest harvest.jsonl --other other.jsonl --strength 1 --out x.jsonl
expect 2 "cannot open input absent.jsonl" -- "$tracemark" attack mix --harvest harvest.jsonl --other absent.jsonl --strength 0.5 --out x.jsonl

# scrub: stealing the green lists from the harvest lowers its green rate
expect 0 "scrub \(strength 1, seed 1\): wrote 100 responses to scrubbed.jsonl; context_width 1 judged_pairs [0-9]+ flagged_pairs [0-9]+" -- \
  "$tracemark" attack scrub --harvest harvest.jsonl --reference reference.jsonl --vocab-size 60 --strength 1 --out scrubbed.jsonl
before=$(green_rate harvest.jsonl)
after=$(green_rate scrubbed.jsonl)
check "scrub lowers the green rate by 0.15 or more ($before -> $after)" python3 -c "assert $after < $before - 0.15"
expect 0 "replaced 0 deleted 0" -- \
  "$tracemark" attack scrub --harvest harvest.jsonl --reference reference.jsonl --vocab-size 60 --strength 0 --out scrub0.jsonl
check "strength 0 keeps the ids" python3 -c '
import json
a = [json.loads(l)["tokens"] for l in open("harvest.jsonl")]
b = [json.loads(l)["tokens"] for l in open("scrub0.jsonl")]
assert a == b'
expect 2 "--context-width: Value 4 not in range 0 to 3" -- \
  "$tracemark" attack scrub --harvest harvest.jsonl --reference reference.jsonl --vocab-size 60 --strength 1 --context-width 4 --out x.jsonl
expect 2 "--strength: Value -0.1 not in range 0.000000 to 1.000000" -- \
  "$tracemark" attack scrub --harvest harvest.jsonl --reference reference.jsonl --vocab-size 60 --strength -0.1 --out x.jsonl
expect 2 "harvest.jsonl line 1: token id 5[0-9] at position [0-9]+ is outside the vocabulary \(size 50\)" -- \
  "$tracemark" attack scrub --harvest harvest.jsonl --reference reference.jsonl --vocab-size 50 --strength 1 --out x.jsonl

# neutralisation at inference: a student of the harvest, sampled with the estimate's green tokens
# penalised, answers with fewer of them; the same student without the penalty keeps them.
expect 0 "" -- "$tracemark" train --corpus harvest.jsonl --vocab-size 60 --order 2 --out student.tmlm
python3 -c '
import json
with open("student-prompts.jsonl", "w") as f:
    for i in range(40):
        f.write(json.dumps({"id": i, "prompt_tokens": [i % 50]}) + "\n")'
expect 0 "" -- "$tracemark" generate --model student.tmlm --prompts student-prompts.jsonl --max-tokens 100 --out plain-answers.jsonl
expect 0 "" -- "$tracemark" generate --model student.tmlm --prompts student-prompts.jsonl --max-tokens 100 \
  --neutralise-harvest harvest.jsonl --neutralise-reference reference.jsonl --neutralise-width 1 --neutralise-penalty 8 \
  --out neutral-answers.jsonl
expect 0 "" -- "$tracemark" generate --model student.tmlm --prompts student-prompts.jsonl --max-tokens 100 --top-k 10 \
  --neutralise-harvest harvest.jsonl --neutralise-reference reference.jsonl --neutralise-width 1 --neutralise-penalty 8 \
  --out neutral-topk.jsonl
plain=$(green_rate plain-answers.jsonl)
neutral=$(green_rate neutral-answers.jsonl)
topk=$(green_rate neutral-topk.jsonl)
check "neutralisation lowers the student's green rate by 0.1 or more ($plain -> $neutral, top-k $topk)" \
  python3 -c "assert $neutral < $plain - 0.1 and $topk < $plain - 0.1"
expect 2 "--neutralise-penalty 60.* is out of range; use 0 to 50" -- "$tracemark" generate --model student.tmlm \
  --prompts student-prompts.jsonl --neutralise-harvest harvest.jsonl --neutralise-reference reference.jsonl \
  --neutralise-penalty 60 --out x.jsonl
expect 2 "--neutralise-harvest needs --neutralise-reference" -- "$tracemark" generate --model student.tmlm \
  --prompts student-prompts.jsonl --neutralise-harvest harvest.jsonl --out x.jsonl
expect 2 "built without libtorch|cannot open the model file" -- "$tracemark" attack finetune --model absent.tm \
  --corpus reference.jsonl --steps 10 --out x.tm

# quality cost: the harvest's perplexity under a reference model, before and after
expect 0 "" -- "$tracemark" train --corpus reference.jsonl --vocab-size 60 --order 2 --out ref.tmlm
expect 0 "" -- "$tracemark" attack scrub --harvest harvest.jsonl --reference reference.jsonl --vocab-size 60 --strength 1 \
  --out scrubbed_q.jsonl --quality-model ref.tmlm --json
check "the JSON report carries perplexity before and after" python3 -c '
import json, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True).stdout
r = json.loads(out)
assert r["attack"] == "scrub" and r["perplexity_before"] > 1 and r["perplexity_after"] > 1, r' \
  "$tracemark" attack scrub --harvest harvest.jsonl --reference reference.jsonl --vocab-size 60 --strength 1 \
  --out scrubbed_q.jsonl --force --quality-model ref.tmlm --json
check "failed attacks leave no output" test ! -e x.jsonl
finish
