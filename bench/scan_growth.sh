#!/usr/bin/env bash
# Cost growth of `tracemark scan` with input size (issue 20), whole process (/usr/bin/time -v:
# elapsed seconds and peak resident memory), one key of context width 2, token-id records of 200
# ids drawn from a Zipf(1.1) law over 50,257 ids (numpy, seeded; `tracemark synth` with a key is far
# too slow for 10^8 tokens; the cost of a scan does not depend on the ids' colours):
#  - suspect:   SIZES million suspect tokens (default 1 10 100), --threads 1 and 2;
#  - reference: REFS million reference-log tokens (default 1 10 100): building the filter file
#               (--reference-log --reference-filter-out) and a scan of the 1M suspect that reuses it;
#  - dask:      the DASK_SIZE million-token suspect (default 10) cut into 8 shards, scanned by
#               tools/dask_scan.py (8 partitions) on 1, 2 and 4 local workers against one process
#               (--threads 1), same figures checked.
# Inputs are generated once into WORK_DIR and reused. PARTS (default "suspect reference dask").
# BASELINE=path/to/another/tracemark (a peer: an earlier commit) adds its suspect rows, run in turn
# with this build's, for sizes up to BASELINE_MAX million tokens (default 10), and says whether each
# `scan --json` output is byte-identical to this build's one-thread output of the same input.
# Usage: [SIZES=...] [REFS=...] [PARTS=...] [BASELINE=...] bench/scan_growth.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
tracemark=$(realpath build/release/tools/tracemark)
work=${1:-out/bench-growth}
sizes=${SIZES:-1 10 100}
refs=${REFS:-1 10 100}
dask_size=${DASK_SIZE:-10}
parts=${PARTS:-suspect reference dask}
baseline=${BASELINE:-}
baseline_max=${BASELINE_MAX:-10}
[[ -z $baseline || -x $baseline ]] || { echo "BASELINE=$baseline is not an executable" >&2; exit 2; }
mkdir -p "$work"
key=$work/key.json
[[ -f $key ]] || "$tracemark" keygen --out "$key" --vocab-size 50257 --context-width 2 >/dev/null

# records FILE MILLIONS SEED: MILLIONS x 10^6 tokens of synthetic records.
records() {
  [[ -f $1 ]] && return
  /usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import numpy, sys
path, millions, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = numpy.random.default_rng(seed)
with open(path + ".tmp", "w") as out:
    for block in range(millions):
        ids = (rng.zipf(1.1, size=(5000, 200)) - 1) % 50257
        out.write("".join('{"tokens":[' + ",".join(map(str, row)) + "]}\n" for row in ids.tolist()))
import os
os.replace(path + ".tmp", path)
PY
}
# measure LABEL TOKENS command...: one table row: seconds, user seconds, peak MB, M tokens/s, and MB
# of input per second of wall clock and per CPU second (user + system) when INPUT_BYTES is set.
measure() {
  local label=$1 tokens=$2
  shift 2
  /usr/bin/time -v "$@" >"$work/last.out" 2>"$work/last.time"
  INPUT_BYTES=${INPUT_BYTES:-0} python3 - "$label" "$tokens" "$work/last.time" <<'PY'
import os, re, sys
label, tokens, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
size = float(os.environ["INPUT_BYTES"])
text = open(path).read()
clock = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text)
seconds = (int(clock.group(1) or 0) * 3600 + int(clock.group(2)) * 60 + float(clock.group(3)))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
system = float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
rates = f" {size / seconds / 1e6:.1f} | {size / max(user + system, 1e-9) / 1e6:.1f} |" if size else " | |"
print(f"| {label} | {seconds:.2f} | {user:.2f} | {rss:.0f} | {tokens / seconds / 1e6:.2f} |{rates}")
PY
}
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg)"
echo "| run | seconds | user seconds | peak MB | M tokens/s | MB/s | MB per CPU second |"
echo "|---|---|---|---|---|---|---|"
if [[ " $parts " == *" suspect "* ]]; then
  for m in $sizes; do
    records "$work/suspect-$m.jsonl" "$m" "$m"
    builds=("this build|$tracemark")
    [[ -n $baseline && $m -le $baseline_max ]] && builds+=("BASELINE|$baseline")
    for entry in "${builds[@]}"; do
      IFS='|' read -r name binary <<< "$entry"
      for threads in 1 2; do
        INPUT_BYTES=$(stat -c %s "$work/suspect-$m.jsonl") measure \
          "$name: scan, $m M suspect tokens ($(du -m "$work/suspect-$m.jsonl" | cut -f1) MB), $threads thread(s)" "${m}000000" \
          "$binary" scan --key "$key" --suspect "$work/suspect-$m.jsonl" --threads "$threads" --json
        if [[ $name == "this build" && $threads == 1 ]]; then
          cp "$work/last.out" "$work/suspect-$m.this.json"
        elif cmp -s "$work/last.out" "$work/suspect-$m.this.json"; then
          echo "  (output byte-identical to this build's, 1 thread)"
        else
          echo "  (OUTPUT DIFFERS from this build's, 1 thread)"
        fi
      done
    done
  done
fi
if [[ " $parts " == *" reference "* ]]; then
  records "$work/suspect-1.jsonl" 1 1
  for m in $refs; do
    records "$work/log-$m.jsonl" "$m" $((1000 + m))
    measure "build filter from $m M log tokens (+ scan 1 M)" "${m}000000" \
      "$tracemark" scan --key "$key" --suspect "$work/suspect-1.jsonl" --threads 1 --reference-log "$work/log-$m.jsonl" \
      --reference-filter-out "$work/filter-$m.tmrf" --json
    measure "scan 1 M with the filter of $m M log tokens ($(du -k "$work/filter-$m.tmrf" | cut -f1) kB)" 1000000 \
      "$tracemark" scan --key "$key" --suspect "$work/suspect-1.jsonl" --threads 1 --reference-filter "$work/filter-$m.tmrf" --json
  done
fi
if [[ " $parts " == *" dask "* ]]; then
  suspect=$work/suspect-$dask_size.jsonl
  records "$suspect" "$dask_size" "$dask_size"
  rm -rf "$work/shards" && mkdir -p "$work/shards"
  split -n l/8 -d "$suspect" "$work/shards/part-"
  measure "single process, $dask_size M tokens, 1 thread" "${dask_size}000000" \
    "$tracemark" scan --key "$key" --suspect "$suspect" --threads 1 --json
  cp "$work/last.out" "$work/single.json"
  for workers in 1 2 4; do
    measure "dask, $workers local worker(s), 8 shards, 8 partitions" "${dask_size}000000" \
      /usr/bin/python3 tools/dask_scan.py --tracemark "$tracemark" --key "$key" --partitions 8 --local-workers "$workers" \
      "$work"/shards/part-*
    python3 - "$work/single.json" "$work/last.out" <<'PY'
import json, sys
strip = lambda d: [{k: v for k, v in key.items() if k != "trace"} for key in d["suspect"]["keys"]]
a, b = (json.load(open(p)) for p in sys.argv[1:])
print("  same figures as the single process:", strip(a) == strip(b))
PY
  done
fi
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
