#!/usr/bin/env bash
# Reference model speed (issue 4): training time on the Brown corpus and generation tokens per
# second with 1 and 2 threads, full-vocabulary and top-k paths. Prints the figures; they go into
# docs/BENCHMARKS.md by hand with this command.
#
# Usage: bench/refmodel_speed.sh [BUILD_DIR] (default build/release). Needs the corpus cache that
# tools/setup.sh (corpora/fetch.sh) writes.
#
# Training text: the corpora/ split brown:train (3,838 documents, tags stripped, quotes restored).
# Prompts: the first 100 records of corpora/prompts/brown-heldout.jsonl (openings of held-out
# documents). Tokenizers: cl100k_base (100,277 ids) and o200k_base (200,019 ids).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/release}
tracemark=$build/tools/tracemark
[[ -x $tracemark ]] || { echo "no $tracemark: build first" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -n 100 "$root/corpora/prompts/brown-heldout.jsonl" > "$work/prompts.jsonl"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "training split: brown:train"

for tokenizer in cl100k_base o200k_base; do
  for order in 3 5; do
    echo "== train, $tokenizer, order $order"
    /usr/bin/time -f "wall %e s, peak memory %M KiB" "$tracemark" train --corpus brown:train \
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
