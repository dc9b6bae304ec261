#!/usr/bin/env bash
# Watermark power, null calibration and perplexity cost on the reference model (issue 4).
#
# Usage: bench/refmodel_watermark.sh [BUILD_DIR] [TOP_K]
#   BUILD_DIR  default build/release
#   TOP_K      0 (default): the watermark biases the whole vocabulary (Kirchenbauer et al.'s
#              setting); K > 0: the serving engine watermarks and samples its K most probable
#              candidates (--top-k K), as SynthID-Text's reference does.
# Environment: NULL_COPIES (default 3) and MARKED_COPIES (default 3) answers per held-out Brown
# prompt (389 prompts), unwatermarked and watermarked per context width; SEED (default 1);
# EXTRA_KEYS (default 10): further fresh keys per h that score the unwatermarked sets only.
# Needs tools/setup.sh (the build and the corpus cache). Prints the figures; they go into
# docs/BENCHMARKS.md by hand with this command.
#
# Teacher: order-3 Kneser-Ney model on brown:train, cl100k_base. For h in {0,1,2,4} a fresh key
# (gamma 0.25, delta 2) and 200-token watermarked answers. One set of 200-token unwatermarked
# answers (the same text for every h; scored with each h's key). Null human text: the null split of
# every corpus, tokenized with cl100k_base and truncated to its first 200 tokens (shorter
# documents scored whole). Perplexity: `tracemark perplexity` under an order-3 model trained on
# brown:heldout (and, for reference, under the teacher itself).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
top_k=${2:-0}
null_copies=${NULL_COPIES:-3}
marked_copies=${MARKED_COPIES:-3}
seed=${SEED:-1}
extra_keys=${EXTRA_KEYS:-10}
tracemark=$build/tools/tracemark
cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
prompts=$root/corpora/prompts/brown-heldout.jsonl
[[ -x $tracemark ]] || { echo "no $tracemark: build first (./tools/setup.sh)" >&2; exit 2; }
[[ -f $cache/corpora/brown/train.jsonl ]] || { echo "no corpus cache in $cache/corpora: run ./tools/setup.sh" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sampling=()
[[ $top_k -gt 0 ]] && sampling=(--top-k "$top_k")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sampling: ${sampling[*]:-whole vocabulary}; $null_copies unwatermarked and $marked_copies watermarked answers per prompt; seed $seed"
start=$SECONDS

"$tracemark" train --corpus brown:train --tokenizer cl100k_base --order 3 --out "$work/teacher.tmlm" | tail -1
"$tracemark" train --corpus brown:heldout --tokenizer cl100k_base --order 3 --out "$work/eval.tmlm" | tail -1
copies() {  # copies N OUT: the prompts N times, ids suffixed (each copy gets its own random stream)
  python3 - "$prompts" "$1" "$2" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
with open(sys.argv[3], "w") as out:
    for copy in range(int(sys.argv[2])):
        for r in records:
            out.write(json.dumps({"id": "%s#%d" % (r["id"], copy), "prompt": r["prompt"]}) + "\n")
PY
}
copies "$null_copies" "$work/null-prompts.jsonl"
copies "$marked_copies" "$work/marked-prompts.jsonl"

"$tracemark" generate --model "$work/teacher.tmlm" --prompts "$work/null-prompts.jsonl" --out "$work/unwatermarked.jsonl" \
  --max-tokens 200 "${sampling[@]}" --seed "$seed" --threads 2
for h in 0 1 2 4; do
  "$tracemark" keygen --out "$work/key$h.json" --tokenizer cl100k_base --gamma 0.25 --delta 2 --context-width "$h" > /dev/null
  "$tracemark" generate --model "$work/teacher.tmlm" --prompts "$work/marked-prompts.jsonl" --out "$work/marked$h.jsonl" \
    --key "$work/key$h.json" --max-tokens 200 "${sampling[@]}" --seed $((seed + 1 + h)) --threads 2
done
for corpus in brown nlp-corpus spam-assassin; do
  "$tracemark" tokenize --tokenizer cl100k_base --input "$cache/corpora/$corpus/null.jsonl" --output "$work/$corpus.ids.jsonl" --threads 2
  python3 - "$work/$corpus.ids.jsonl" "$work/human-$corpus.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        r = json.loads(line)
        out.write(json.dumps({"id": r["id"], "tokens": r["tokens"][:200]}) + "\n")
PY
done

sets=(unwatermarked human-brown human-nlp-corpus human-spam-assassin)
for h in 0 1 2 4; do
  for set in marked$h "${sets[@]}"; do
    "$tracemark" detect --key "$work/key$h.json" --input "$work/$set.jsonl" --json > "$work/detect-$h-$set.json"
  done
done
# The same unwatermarked sets scored with further fresh keys: a single key's rate is one draw for
# h = 0, where every record is scored against the same fixed green list.
for h in 0 1 2 4; do
  for k in $(seq 1 "$extra_keys"); do
    "$tracemark" keygen --out "$work/extra.json" --tokenizer cl100k_base --gamma 0.25 --delta 2 --context-width "$h" --force > /dev/null
    for set in "${sets[@]}"; do
      "$tracemark" detect --key "$work/extra.json" --input "$work/$set.jsonl" --json > "$work/extra-$h-$k-$set.json"
    done
  done
done
for model in eval teacher; do
  for set in unwatermarked marked0 marked1 marked2 marked4; do
    "$tracemark" perplexity --model "$work/$model.tmlm" --input "$work/$set.jsonl" --json | tail -1 > "$work/ppl-$model-$set.json"
  done
done
echo "generation, scoring and perplexity took $((SECONDS - start)) s"

python3 - "$work" "$extra_keys" <<'PY'
import json, math, os, sys
work, extra_keys = sys.argv[1], int(sys.argv[2])

def records(path):
    rows = [json.loads(line) for line in open(path)]
    return [r for r in rows if not r.get("summary")]

def binom_interval(n, p=0.01, level=0.99):
    # Central interval of Binomial(n, p): the counts k with P(X < k) <= (1-level)/2 and P(X > k) <= (1-level)/2.
    pmf = [math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p))
           for k in range(n + 1)]
    tail = (1 - level) / 2
    lo, acc = 0, 0.0
    while acc + pmf[lo] <= tail:
        acc += pmf[lo]
        lo += 1
    hi, acc = n, 0.0
    while acc + pmf[hi] <= tail:
        acc += pmf[hi]
        hi -= 1
    return lo, hi

print()
print("| h | watermarked answers | threshold (log10 p) set on %s unwatermarked at FPR 1e-3 | TPR at that threshold | TPR at p < 1e-3 | median log10 p | worst log10 p |"
      % len(records(os.path.join(work, "detect-0-unwatermarked.json"))))
print("|---|---|---|---|---|---|---|")
for h in (0, 1, 2, 4):
    null = sorted(r["log10_p"] for r in records(os.path.join(work, "detect-%d-unwatermarked.json" % h)))
    marked = sorted(r["log10_p"] for r in records(os.path.join(work, "detect-%d-marked%d.json" % (h, h))))
    allowed = math.floor(1e-3 * len(null))  # null answers that may fall below the threshold
    threshold = null[allowed]               # flag p strictly below the (allowed+1)-th smallest null p
    tpr = sum(m < threshold for m in marked) / len(marked)
    tpr_nominal = sum(m < -3 for m in marked) / len(marked)
    median = marked[len(marked) // 2]
    print("| %d | %d | %.2f (%d of %d null answers below) | %.4f | %.4f | %.1f | %.1f |"
          % (h, len(marked), threshold, allowed, len(null), tpr, tpr_nominal, median, marked[-1]))

print()
print("| h | text | records | p < 0.01 | fraction | 99% interval around 1% (count) | inside |")
print("|---|---|---|---|---|---|---|")
for h in (0, 1, 2, 4):
    for name in ("unwatermarked", "human-brown", "human-nlp-corpus", "human-spam-assassin"):
        rows = records(os.path.join(work, "detect-%d-%s.json" % (h, name)))
        rows = [r for r in rows if r["scored"] > 0]
        low = sum(r["log10_p"] < -2 for r in rows)
        lo, hi = binom_interval(len(rows))
        print("| %d | %s | %d | %d | %.2f%% | %d-%d | %s |"
              % (h, name, len(rows), low, 100.0 * low / len(rows), lo, hi, "yes" if lo <= low <= hi else "NO"))

if extra_keys:
    print()
    print("Further fresh keys (%d per h) on the same unwatermarked sets: fraction of p < 0.01, mean over the keys"
          " (lowest-highest key), and the keys whose count lies outside the 99%% interval:" % extra_keys)
    print()
    print("| h | text | records | mean fraction | lowest-highest | keys outside the interval |")
    print("|---|---|---|---|---|---|")
    for h in (0, 1, 2, 4):
        for name in ("unwatermarked", "human-brown", "human-nlp-corpus", "human-spam-assassin"):
            fractions, outside = [], 0
            for k in range(1, extra_keys + 1):
                rows = [r for r in records(os.path.join(work, "extra-%d-%d-%s.json" % (h, k, name))) if r["scored"] > 0]
                low = sum(r["log10_p"] < -2 for r in rows)
                lo, hi = binom_interval(len(rows))
                outside += not (lo <= low <= hi)
                fractions.append(low / len(rows))
            print("| %d | %s | %d | %.2f%% | %.2f%%-%.2f%% | %d of %d |" % (h, name, len(rows), 100 * sum(fractions) / len(fractions),
                                                                         100 * min(fractions), 100 * max(fractions), outside, extra_keys))

print()
print("| answers | perplexity under brown:heldout model | ratio to unwatermarked | perplexity under the teacher | ratio |")
print("|---|---|---|---|---|")
base = {m: json.load(open(os.path.join(work, "ppl-%s-unwatermarked.json" % m)))["perplexity"] for m in ("eval", "teacher")}
for name, label in (("unwatermarked", "unwatermarked"), ("marked0", "h = 0"), ("marked1", "h = 1"),
                    ("marked2", "h = 2"), ("marked4", "h = 4")):
    e = json.load(open(os.path.join(work, "ppl-eval-%s.json" % name)))["perplexity"]
    t = json.load(open(os.path.join(work, "ppl-teacher-%s.json" % name)))["perplexity"]
    print("| %s | %.1f | %.3f | %.2f | %.3f |" % (label, e, e / base["eval"], t, t / base["teacher"]))
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); $((SECONDS - start)) s in all"
