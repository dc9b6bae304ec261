#!/usr/bin/env bash
# Tokenizer throughput, tracemark against npm tiktoken, in one run on the same Brown corpus texts
# (500 texts, tags stripped, from the parity data of corpora/fetch.sh). Prints MB/s for both on one
# thread and the ratio, then tracemark on THREADS threads. Figures go to docs/BENCHMARKS.md.
# Usage: bench/tokenizer_throughput.sh [BUILD_DIR] [THREADS] [TOKENIZERS...]
#   defaults: build/release, $(nproc) threads, cl100k_base o200k_base claude
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
threads=${2:-$(nproc)}
shift $(($# > 2 ? 2 : $#))
tokenizers=("$@")
((${#tokenizers[@]})) || tokenizers=(cl100k_base o200k_base claude)
cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
texts=$cache/parity/texts/brown.jsonl
[[ -f $texts ]] || { echo "missing $texts; run corpora/fetch.sh" >&2; exit 1; }
[[ -x $build/bench/tokenizer_throughput ]] || { echo "missing $build/bench/tokenizer_throughput; build $build first" >&2; exit 1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); node $(node --version)"
for tokenizer in "${tokenizers[@]}"; do
  ours=$("$build/bench/tokenizer_throughput" "$tokenizer" "$texts" "$threads" 5)
  theirs=$(node bench/tiktoken_throughput.cjs "$cache" "$tokenizer" "$texts" 5)
  echo "$ours"
  echo "$theirs"
  ours_one=$(head -n 1 <<<"$ours" | sed -E 's/.* ([0-9.]+) MB\/s$/\1/')
  theirs_one=$(sed -E 's/.* ([0-9.]+) MB\/s$/\1/' <<<"$theirs")
  echo "$tokenizer: tracemark / npm tiktoken on one thread = $(python3 -c "print(f'{$ours_one / $theirs_one:.2f}')")x"
done
