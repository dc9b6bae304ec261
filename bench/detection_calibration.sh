#!/usr/bin/env bash
# Null calibration and power of `tracemark detect` on the synthetic model (issue 2).
# For context widths h in {0, 1, 2, 4} (gamma 0.25, delta 2):
#   - NULL responses (1,000 x 200 tokens, no watermark) scored with the key: fraction of p-values
#     under 0.01 and 0.05, with the 99% binomial interval around the nominal rate;
#   - WATERMARKED responses (200 x 200 tokens) embedded with the key: median and worst log10 p,
#     fraction with p < 1e-10.
# Usage: bench/detection_calibration.sh [WORK_DIR]   (prints a Markdown table)
set -euo pipefail
cd "$(dirname "$0")/.."
tracemark=build/release/tools/tracemark
work=${1:-out/bench-detection}
mkdir -p "$work"

"$tracemark" synth --vocab-size 32000 --out "$work/null.jsonl" --count 1000 --length 200 --seed 7 --force >/dev/null
echo "| h | null: p<0.01 (99% interval 0.3%-1.9%) | null: p<0.05 (99% interval 3.3%-6.9%) | watermarked: median log10 p | worst log10 p | p<1e-10 |"
echo "|---|---|---|---|---|---|"
for h in 0 1 2 4; do
  "$tracemark" keygen --out "$work/key-h$h.json" --vocab-size 32000 --context-width "$h" --force >/dev/null
  "$tracemark" synth --key "$work/key-h$h.json" --out "$work/marked-h$h.jsonl" --count 200 --length 200 --seed 11 --force >/dev/null
  "$tracemark" detect --key "$work/key-h$h.json" --input "$work/null.jsonl" --json > "$work/null-h$h.out"
  "$tracemark" detect --key "$work/key-h$h.json" --input "$work/marked-h$h.jsonl" --json > "$work/marked-h$h.out"
  python3 - "$h" "$work/null-h$h.out" "$work/marked-h$h.out" <<'PY'
import json, statistics, sys
h, null_path, marked_path = sys.argv[1:]
def rows(path):
    return [json.loads(line) for line in open(path) if '"summary":true' not in line]
null = [10 ** r["log10_p"] for r in rows(null_path)]
marked = sorted(r["log10_p"] for r in rows(marked_path))
f01 = sum(p < 0.01 for p in null) / len(null)
f05 = sum(p < 0.05 for p in null) / len(null)
print(f"| {h} | {100*f01:.1f}% | {100*f05:.1f}% | {statistics.median(marked):.1f} | {marked[-1]:.1f} | {100*sum(x < -10 for x in marked)/len(marked):.0f}% |")
PY
done
