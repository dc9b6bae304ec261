#!/usr/bin/env bash
# The main job on built-in defaults, the whole story on real text: train the protected reference
# model on the Brown Corpus, make a key, serve watermarked answers to held-out Brown prompts (the
# "harvest" of a distillation campaign), distill a student from them, train a clean control of the
# same size on human text only, let both answer the prompts, and scan both with the key.
# Expects tools/setup.sh to have built build/release and filled the corpus cache (the README's main
# command runs both). Writes into out/demo (or $1). About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
tracemark=build/release/tools/tracemark
cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
prompts=corpora/prompts/brown-heldout.jsonl
work=${1:-out/demo}
tokenizer=cl100k_base
order=3
length=200
threads=2
sampling=(--top-k 40)  # the serving engine watermarks its 40 candidates per step, as SynthID-Text's reference does

[[ -x $tracemark ]] || { echo "run-main: $tracemark is missing; run ./tools/setup.sh first (it builds it)" >&2; exit 2; }
[[ -f $cache/corpora/brown/train.jsonl ]] ||
  { echo "run-main: the corpus cache is not set up ($cache/corpora/brown/train.jsonl is missing); run ./tools/setup.sh first" >&2; exit 2; }
mkdir -p "$work"
start=$SECONDS

echo "== 1. The provider's model: an order-$order Kneser-Ney model on the Brown Corpus training split ($tokenizer tokens)"
"$tracemark" train --corpus brown:train --tokenizer "$tokenizer" --order "$order" --out "$work/teacher.tmlm" --force
echo
echo "== 2. The provider makes a secret key (gamma 0.25, delta 2, context width 2) and publishes its commitment"
"$tracemark" keygen --out "$work/key.json" --tokenizer "$tokenizer" --force
echo
echo "== 3. A distillation campaign harvests watermarked answers: 4 answers of $length tokens to each of the"
echo "      $(wc -l < "$prompts") held-out Brown prompts ($prompts)"
python3 - "$prompts" "$work/harvest-prompts.jsonl" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
with open(sys.argv[2], "w") as out:
    for copy in range(4):
        for r in records:
            out.write(json.dumps({"id": "%s#%d" % (r["id"], copy), "prompt": r["prompt"]}) + "\n")
PY
"$tracemark" generate --model "$work/teacher.tmlm" --prompts "$work/harvest-prompts.jsonl" --out "$work/harvest.jsonl" \
  --key "$work/key.json" --max-tokens "$length" "${sampling[@]}" --seed 1 --threads "$threads" --force
python3 - "$work/harvest.jsonl" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
print("   for example, prompt %r\n   answer   %r..." % (r["prompt"], r["text"][len(r["prompt"]):][:160] if r["text"].startswith(r["prompt"]) else r["text"][:160]))
PY
echo "   The watermark is in the served answers (pooled test over all of them):"
"$tracemark" detect --key "$work/key.json" --input "$work/harvest.jsonl" | tail -3 | sed 's/^/   /'
echo
echo "== 4. The suspect: a student distilled from the harvested answers (order $order, $tokenizer)"
"$tracemark" distill --teacher-outputs "$work/harvest.jsonl" --tokenizer "$tokenizer" --order "$order" \
  --out "$work/student.tmlm" --force
echo
echo "== 5. The control: a model of the same size trained on human text only (the first Brown training"
echo "      documents, as many bytes as the harvest)"
python3 - "$work/harvest.jsonl" "$cache/corpora/brown/train.jsonl" "$work/control-corpus.jsonl" <<'PY'
import json, sys
target = sum(len(json.loads(line)["text"].encode("utf-8")) for line in open(sys.argv[1]))
total = 0
with open(sys.argv[3], "w") as out:
    for line in open(sys.argv[2]):
        if total >= target:
            break
        out.write(line)
        total += len(json.loads(line)["text"].encode("utf-8"))
print("   harvest: %d bytes of text; control corpus: %d bytes" % (target, total))
PY
"$tracemark" train --corpus "$work/control-corpus.jsonl" --tokenizer "$tokenizer" --order "$order" \
  --out "$work/control.tmlm" --force
echo
echo "== 6. Both answer the held-out prompts (no watermark of their own; another seed)"
"$tracemark" generate --model "$work/student.tmlm" --prompts "$prompts" --out "$work/student-answers.jsonl" \
  --max-tokens "$length" "${sampling[@]}" --seed 7 --threads "$threads" --force
"$tracemark" generate --model "$work/control.tmlm" --prompts "$prompts" --out "$work/control-answers.jsonl" \
  --max-tokens "$length" "${sampling[@]}" --seed 7 --threads "$threads" --force
echo
echo "== 7. Scan the suspect with the key (the control is scanned the same way, for comparison)"
"$tracemark" scan --key "$work/key.json" --suspect "$work/student-answers.jsonl" --control "$work/control-answers.jsonl"
echo
echo "== 8. Scan the clean control as if it were the suspect"
"$tracemark" scan --key "$work/key.json" --suspect "$work/control-answers.jsonl"
echo
cat <<EOF
How to read this: each scan counts, over every distinct (context, token) tuple of the answers, how
often the token is on the key's green list. Text that never learned from our watermarked answers is
green 25% of the time (gamma), so its p-value is spread uniformly over (0, 1]. The student, trained
on the harvested answers, is green far more often and its p-value is astronomically small; the
control, trained on human text of the same size, stays near 25%. A verdict of training needs p
below the scan's --alpha (1e-6 by default) and a clean control that is not flagged.
Took $((SECONDS - start)) s. All files are in $work (the key file is secret: mode 0600).
EOF
