#!/usr/bin/env bash
# The main job on built-in defaults: make a key, produce watermarked and unwatermarked responses,
# and test both with the detector. Expects tools/setup.sh to have built build/release (the
# README's main command runs both). Writes into out/demo (or $1).
set -euo pipefail
cd "$(dirname "$0")/.."
tracemark=build/release/tools/tracemark
work=${1:-out/demo}
mkdir -p "$work"

echo "== 1. A provider makes a secret key (gamma 0.25, delta 2, context width 2) and publishes its commitment"
"$tracemark" keygen --out "$work/key.json" --vocab-size 32000 --force
echo
echo "== 2. The serving engine watermarks 100 responses of 200 tokens (synthetic model, about 2.5 nats/token)"
"$tracemark" synth --key "$work/key.json" --out "$work/watermarked.jsonl" --count 100 --length 200 --seed 1 --force
echo "== 3. For comparison, 100 responses from the same model without the watermark"
"$tracemark" synth --vocab-size 32000 --out "$work/unwatermarked.jsonl" --count 100 --length 200 --seed 2 --force
echo
echo "== 4. Detection on the watermarked responses (first 5 rows, then the pooled test)"
"$tracemark" detect --key "$work/key.json" --input "$work/watermarked.jsonl" > "$work/watermarked.detect.txt"
head -6 "$work/watermarked.detect.txt"; echo "..."; tail -5 "$work/watermarked.detect.txt"
echo
echo "== 5. Detection on the unwatermarked responses: p-values spread over (0, 1], pooled p not small"
"$tracemark" detect --key "$work/key.json" --input "$work/unwatermarked.jsonl" > "$work/unwatermarked.detect.txt"
head -6 "$work/unwatermarked.detect.txt"; echo "..."; tail -5 "$work/unwatermarked.detect.txt"
echo
echo "All files are in $work (the key file is secret: mode 0600)."
