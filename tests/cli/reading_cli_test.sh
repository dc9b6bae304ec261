#!/usr/bin/env bash
# CLI tests for reading mode (issue 17): generate --top-logprobs, reading queries, reading scan.
# The rule's queries match an independent Python reading of it; a student distilled from the
# harvest is found (by its greedy tokens and by its top log-probabilities), the teacher's own
# unwatermarked model is not; bad input gets the file and line and exit status 2.
# Usage: reading_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
json_field() {  # json_field FILE FIELD...: a field of the last JSON document printed
  python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); [d:=d[k] for k in sys.argv[2:]]; print(d)' "$@"
}

# A skewed corpus of token ids (fixed seed), prompts, a teacher, a key of width 2.
python3 - <<'PY'
import json, random
r = random.Random(3)
with open("corpus.jsonl", "w") as f:
    for d in range(200):
        f.write(json.dumps({"id": d, "tokens": [int(r.random() ** 3 * 1000) for _ in range(300)]}) + "\n")
with open("prompts.jsonl", "w") as f:
    for i in range(120):
        f.write(json.dumps({"id": "p%d" % i, "prompt_tokens": [r.randrange(1000) for _ in range(4)]}) + "\n")
PY
expect 0 "" -- "$tracemark" train --corpus corpus.jsonl --vocab-size 1000 --order 3 --out teacher.tmlm
expect 0 "" -- "$tracemark" keygen --out key.json --vocab-size 1000 --context-width 2
expect 0 "watermarked" -- "$tracemark" generate --model teacher.tmlm --prompts prompts.jsonl --key key.json \
  --max-tokens 80 --out harvest.jsonl

# reading queries: the first follower of each window in harvest order, answer positions only.
expect 0 "wrote [0-9]+ queries \(one in 1 of [0-9]+ prefixes" -- \
  "$tracemark" reading queries --harvest harvest.jsonl --width 2 --out queries.jsonl
check "queries are written with mode 0600" test "$(stat -c %a queries.jsonl)" = 600
python3 - <<'PY' >expected_ids.txt
import json
followed = set()
for n, line in enumerate(open("harvest.jsonl")):
    r = json.loads(line)
    seq, start = r["prompt_tokens"] + r["tokens"], len(r["prompt_tokens"])
    for end in range(2, len(seq)):
        w = tuple(seq[end - 2:end])
        if w not in followed:
            followed.add(w)
            if end >= start:
                print("r%d-%d" % (n, end - start))
PY
python3 -c 'import json; [print(json.loads(l)["id"]) for l in open("queries.jsonl")]' >ids.txt
check "the queries are the rule's, in harvest order" cmp -s ids.txt expected_ids.txt
check "each query's prompt is its harvest prefix" python3 - <<'PY'
import json
h = [json.loads(l) for l in open("harvest.jsonl")]
for l in open("queries.jsonl"):
    q = json.loads(l); n, t = map(int, q["id"][1:].split("-"))
    assert q["prompt_tokens"] == (h[n]["prompt_tokens"] + h[n]["tokens"])[:len(h[n]["prompt_tokens"]) + t], q["id"]
PY
expect 0 "wrote [0-9]+ queries \(one in 3 of" -- \
  "$tracemark" reading queries --harvest harvest.jsonl --width 2 --stride 3 --max-records 10 --out strided.jsonl --force
check "--stride 3 keeps every third query" test "$(wc -l <strided.jsonl)" = "$(head -n "$(python3 -c '
import json
print(sum(1 for l in open("expected_ids.txt") if int(l[1:].split("-")[0]) < 10))')" expected_ids.txt | awk 'NR % 3 == 0' | wc -l)"

# A student distilled from the harvest, and the teacher (innocent: it never saw the watermark).
expect 0 "" -- "$tracemark" distill --teacher-outputs harvest.jsonl --mix-clean corpus.jsonl --fraction 0.5 \
  --vocab-size 1000 --out student.tmlm
for model in student teacher; do
  expect 0 "wrote [0-9]+ responses of 1 tokens" -- "$tracemark" generate --model $model.tmlm --prompts queries.jsonl \
    --max-tokens 1 --temperature 0 --top-logprobs 5 --out $model-answers.jsonl
done
check "top_logprobs: 5 entries a step, most probable first, the greedy token first, log-probabilities <= 0" python3 - <<'PY'
import json
for l in open("student-answers.jsonl"):
    r = json.loads(l); top = r["top_logprobs"]
    assert len(top) == 1 and len(top[0]) == 5, r["id"]
    lps = [e["logprob"] for e in top[0]]
    assert lps == sorted(lps, reverse=True) and lps[0] <= 0, r["id"]
    assert top[0][0]["id"] == r["tokens"][0], r["id"]
PY
"$tracemark" reading scan --key key.json --harvest harvest.jsonl --answers student-answers.jsonl --json >student.json
check "the student is found" test "$(json_field student.json detected)" = True
check "by its top log-probabilities" python3 -c "
import json; d = json.load(open('student.json')); assert d['green_mass']['log10_p'] < -6 and d['green_mass']['green_share'] > 0.3, d"
check "every allowed query was scored" test "$(json_field student.json scored)" = "$(wc -l <queries.jsonl)"
# The key is fresh each run, so the null checks use the harness's floor (alpha 1e-6), not 1e-3.
"$tracemark" reading scan --key key.json --harvest harvest.jsonl --answers teacher-answers.jsonl --alpha 1e-6 --json >teacher.json
check "the teacher's own unwatermarked model is not accused" test "$(json_field teacher.json detected)" = False
check "its p-values are not small" python3 -c "
import json; d = json.load(open('teacher.json')); assert d['greedy']['log10_p'] > $null_floor and d['green_mass']['log10_p'] > $null_floor, d"
expect 0 "green mass: +green share .*\(mixture bound\)" -- \
  "$tracemark" reading scan --key key.json --harvest harvest.jsonl --answers student-answers.jsonl
# Over a clean reference model's answers to the same queries: the teacher for the student, another
# clean model (order 2) for the teacher.
expect 0 "" -- "$tracemark" train --corpus corpus.jsonl --vocab-size 1000 --order 2 --out reference.tmlm
expect 0 "" -- "$tracemark" generate --model reference.tmlm --prompts queries.jsonl --max-tokens 1 --temperature 0 \
  --top-logprobs 20 --out reference-answers.jsonl
expect 0 "over reference: .*\(mixture bound\).*
.*p = .*\(the smallest, times 4\): the suspect reads the harvest with our watermark" -- \
  "$tracemark" reading scan --key key.json --harvest harvest.jsonl --answers student-answers.jsonl \
  --reference-answers teacher-answers.jsonl
"$tracemark" reading scan --key key.json --harvest harvest.jsonl --answers teacher-answers.jsonl \
  --reference-answers reference-answers.jsonl --alpha 1e-6 --json >teacher-ref.json
check "the teacher over another clean model is not accused" python3 -c "
import json; d = json.load(open('teacher-ref.json')); assert not d['detected'] and d['reference_excess']['log10_p'] > $null_floor, d"
head -5 reference-answers.jsonl >short-reference.jsonl
expect 2 "the reference answers have no answer to query" -- "$tracemark" reading scan --key key.json \
  --harvest harvest.jsonl --answers student-answers.jsonl --reference-answers short-reference.jsonl
# Without log-probabilities, the greedy tokens alone.
python3 -c '
import json
with open("plain.jsonl", "w") as f:
    for l in open("student-answers.jsonl"):
        r = json.loads(l); del r["top_logprobs"]; f.write(json.dumps(r) + "\n")'
expect 0 "top logprobs: +not in every answer" -- \
  "$tracemark" reading scan --key key.json --harvest harvest.jsonl --answers plain.jsonl

# Bad input.
expect 2 "--top-logprobs: Value 0 not in range" -- "$tracemark" generate --model teacher.tmlm --prompts queries.jsonl \
  --max-tokens 1 --top-logprobs 0 --out x.jsonl
expect 2 "--width: Value 0 not in range 1 to 16" -- "$tracemark" reading queries --harvest harvest.jsonl --width 0 --out x.jsonl
expect 2 "already exists" -- "$tracemark" reading queries --harvest harvest.jsonl --width 2 --out queries.jsonl
printf '{"prompt_tokens":[1,2],"tokens":[3,"a"]}\n' >bad-harvest.jsonl
expect 2 "bad-harvest.jsonl line 1" -- "$tracemark" reading queries --harvest bad-harvest.jsonl --width 2 --out x.jsonl
head -3 harvest.jsonl >short-harvest.jsonl
expect 2 "student-answers.jsonl line [0-9]+: id \"r[0-9]+-[0-9]+\" is not a query of this harvest \(3 records\)" -- \
  "$tracemark" reading scan --key key.json --harvest short-harvest.jsonl --answers student-answers.jsonl
python3 -c '
import json
lines = open("student-answers.jsonl").readlines()
r = json.loads(lines[1]); r["prompt_tokens"][0] += 1; lines[1] = json.dumps(r) + "\n"
open("edited.jsonl", "w").writelines(lines)'
expect 2 "edited.jsonl line 2: the prompt of \"r[0-9]+-[0-9]+\" is not that query's prefix" -- \
  "$tracemark" reading scan --key key.json --harvest harvest.jsonl --answers edited.jsonl
expect 0 "" -- "$tracemark" keygen --scheme gumbel-max --out gumbel.json --vocab-size 1000 --context-width 2
expect 2 "needs a 'kgw-green-list' key" -- \
  "$tracemark" reading scan --key gumbel.json --harvest harvest.jsonl --answers student-answers.jsonl
check "failed commands leave no output file" test ! -e x.jsonl
finish
