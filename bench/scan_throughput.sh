#!/usr/bin/env bash
# Throughput of `tracemark scan` on token-id records, one and two threads, in one run (issue 5).
# 20,000 records of 200 uniformly random ids (vocabulary 50,257), two keys (h = 1 and 2).
# Prints MB/s of JSON input and tokens/s; the 2-thread/1-thread ratio is the comparable figure.
# Usage: bench/scan_throughput.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
tracemark=build/release/tools/tracemark
work=${1:-out/bench-scan}
mkdir -p "$work"
python3 -c '
import json, random
random.seed(1)
with open("'"$work"'/suspect.jsonl", "w") as f:
    for i in range(20000):
        f.write(json.dumps({"id": i, "tokens": [random.randrange(50257) for _ in range(200)]}) + "\n")
'
"$tracemark" keygen --out "$work/k1.json" --vocab-size 50257 --context-width 1 --force >/dev/null
"$tracemark" keygen --out "$work/k2.json" --vocab-size 50257 --context-width 2 --force >/dev/null
bytes=$(stat -c %s "$work/suspect.jsonl")
tokens=$((20000 * 200))
echo "| threads | seconds (best of 3) | MB/s | tokens/s (per key) |"
echo "|---|---|---|---|"
for threads in 1 2; do
  best=999999
  for run in 1 2 3; do
    start=$(date +%s.%N)
    "$tracemark" scan --key "$work/k1.json" --key "$work/k2.json" --suspect "$work/suspect.jsonl" --threads "$threads" --json >/dev/null
    end=$(date +%s.%N)
    best=$(python3 -c "print(min($best, $end - $start))")
  done
  python3 -c "print(f'| $threads | {$best:.2f} | {$bytes / $best / 1e6:.1f} | {$tokens / $best / 1e6:.2f} M |')"
done
