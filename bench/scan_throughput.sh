#!/usr/bin/env bash
# Throughput of `tracemark scan`, one and two threads, in one run (issue 5):
#  - token-id records: 20,000 records of 200 uniformly random ids (vocabulary 50,257), two keys
#    (h = 1 and 2) of each scheme version; MB/s of JSON input and tokens/s;
#  - text records: the 500 Brown texts of the parity data (6.17 MB of text), read with the key's
#    tokenizer (cl100k_base) and scanned with two keys; MB/s of text and tokens/s.
# The machine is shared and its speed drifts between minutes, so every configuration of a table is
# run in turn within each of 5 rounds (best of 5 each); the ratios within a table are the
# comparable figures. BASELINE=path/to/another/tracemark adds rows for that build (a peer: an
# earlier commit) on the token records with version-1 keys, interleaved the same way.
# Many keys (issue 20): the Brown texts scanned with 1, 16 and 256 keys of one context width (h = 2),
# one thread, against `tracemark tokenize` of the same records in the same rounds (whole process,
# best of 5; peak memory from /usr/bin/time); BASELINE adds its 1- and 16-key rows.
# Reference filter (issue 20, PARTS=filter): exact log against its xor filter file on the Brown texts.
# PARTS (default "tokens text keys filter") picks the sections to run.
# Usage: [BASELINE=...] [PARTS=...] bench/scan_throughput.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
tracemark=build/release/tools/tracemark
work=${1:-out/bench-scan}
texts=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}/parity/texts/brown.jsonl
[[ -f $texts ]] || { echo "missing $texts: run ./tools/setup.sh" >&2; exit 2; }
[[ -z ${BASELINE:-} || -x $BASELINE ]] || { echo "BASELINE=$BASELINE is not an executable" >&2; exit 2; }
# timing_table BYTES TOKENS BYTES_LABEL then one CONFIG per argument, each "label|binary|scan args"
# (split on spaces): one row per configuration and thread count, best of 5 interleaved rounds.
timing_table() {
  local bytes=$1 tokens=$2 label=$3
  shift 3
  local -A best=()
  local round config threads name binary args start end
  for round in 1 2 3 4 5; do
    for config in "$@"; do
      IFS='|' read -r name binary args <<< "$config"
      for threads in 1 2; do
        start=$(date +%s.%N)
        # shellcheck disable=SC2086 # args are space-separated paths without spaces
        "$binary" scan $args --threads "$threads" --json >/dev/null
        end=$(date +%s.%N)
        best["$name|$threads"]=$(python3 -c "print(min(${best["$name|$threads"]:-999999}, $end - $start))")
      done
    done
  done
  echo "| build, keys | threads | seconds (best of 5) | $label | tokens/s (per key) |"
  echo "|---|---|---|---|---|"
  for config in "$@"; do
    IFS='|' read -r name binary args <<< "$config"
    for threads in 1 2; do
      python3 -c "b=${best["$name|$threads"]}; print(f'| $name | $threads | {b:.2f} | {$bytes / b / 1e6:.1f} | {$tokens / b / 1e6:.2f} M |')"
    done
  done
}
parts=${PARTS:-tokens text keys filter}
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg)"
mkdir -p "$work"
if [[ " $parts " == *" tokens "* || " $parts " == *" text "* ]]; then
python3 -c '
import json, random
random.seed(1)
with open("'"$work"'/suspect.jsonl", "w") as f:
    for i in range(20000):
        f.write(json.dumps({"id": i, "tokens": [random.randrange(50257) for _ in range(200)]}) + "\n")
'
"$tracemark" keygen --out "$work/k1.json" --vocab-size 50257 --context-width 1 --force >/dev/null
"$tracemark" keygen --out "$work/k2.json" --vocab-size 50257 --context-width 2 --force >/dev/null
"$tracemark" keygen --out "$work/v1k1.json" --vocab-size 50257 --context-width 1 --scheme-version 1 --force >/dev/null
"$tracemark" keygen --out "$work/v1k2.json" --vocab-size 50257 --context-width 2 --scheme-version 1 --force >/dev/null
# Issue 18: the PRF-seeded schemes (green list 3: AES-128 context seeds; gumbel-max: the same seeds
# and an Exp(1) score per tuple).
"$tracemark" keygen --out "$work/v3k1.json" --vocab-size 50257 --context-width 1 --scheme-version 3 --force >/dev/null
"$tracemark" keygen --out "$work/v3k2.json" --vocab-size 50257 --context-width 2 --scheme-version 3 --force >/dev/null
"$tracemark" keygen --out "$work/gk1.json" --vocab-size 50257 --context-width 1 --scheme gumbel-max --force >/dev/null
"$tracemark" keygen --out "$work/gk2.json" --vocab-size 50257 --context-width 2 --scheme gumbel-max --force >/dev/null
bytes=$(stat -c %s "$work/suspect.jsonl")
tokens=$((20000 * 200))
token_configs=("this build, version 2|$tracemark|--key $work/k1.json --key $work/k2.json --suspect $work/suspect.jsonl"
  "this build, version 1|$tracemark|--key $work/v1k1.json --key $work/v1k2.json --suspect $work/suspect.jsonl"
  "this build, version 3|$tracemark|--key $work/v3k1.json --key $work/v3k2.json --suspect $work/suspect.jsonl"
  "this build, gumbel-max|$tracemark|--key $work/gk1.json --key $work/gk2.json --suspect $work/suspect.jsonl")
[[ -n ${BASELINE:-} ]] && token_configs+=("BASELINE, version 1|$BASELINE|--key $work/v1k1.json --key $work/v1k2.json --suspect $work/suspect.jsonl")
timing_table "$bytes" "$tokens" "MB/s" "${token_configs[@]}"

"$tracemark" keygen --out "$work/t1.json" --tokenizer cl100k_base --context-width 1 --force >/dev/null
"$tracemark" keygen --out "$work/t2.json" --tokenizer cl100k_base --context-width 2 --force >/dev/null
text_bytes=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['text'].encode()) for l in open(sys.argv[1])))" "$texts")
text_tokens=$("$tracemark" scan --key "$work/t1.json" --suspect "$texts" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['suspect']['keys'][0]['tokens'])")
echo
echo "text records ($text_bytes bytes of text, $text_tokens cl100k_base tokens):"
timing_table "$text_bytes" "$text_tokens" "MB/s of text" "this build, version 2|$tracemark|--key $work/t1.json --key $work/t2.json --suspect $texts"
# Memory: the dedup sets hold at most 16 bytes per distinct tuple (8-byte slots, at most half empty).
peak_kib=$(/usr/bin/time -f %M "$tracemark" scan --key "$work/k1.json" --key "$work/k2.json" --suspect "$work/suspect.jsonl" \
  --json 2>&1 >/dev/null | tail -1)
scored=$("$tracemark" scan --key "$work/k1.json" --key "$work/k2.json" --suspect "$work/suspect.jsonl" --json |
  python3 -c "import json,sys; print(sum(k['scored'] for k in json.load(sys.stdin)['suspect']['keys']))")
echo
echo "peak memory of the token-record scan: $peak_kib KiB for $scored distinct tuples over both keys" \
  "(bound for the sets: $((scored * 16 / 1024)) KiB)"
fi

if [[ " $parts " == *" keys "* ]]; then
  # 256 keys of one width (cl100k_base, h = 2); the first 1 and 16 are the smaller scans' keys.
  for i in $(seq 1 256); do
    [[ -f $work/many$i.json ]] || "$tracemark" keygen --out "$work/many$i.json" --tokenizer cl100k_base --context-width 2 >/dev/null
  done
  key_args() { local n=$1 i; for i in $(seq 1 "$n"); do printf -- '--key %s ' "$work/many$i.json"; done; }
  text_bytes=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['text'].encode()) for l in open(sys.argv[1])))" "$texts")
  runs=("tokenize|$tracemark|tokenize --tokenizer cl100k_base --input $texts --output -"
    "scan, 1 key|$tracemark|scan $(key_args 1) --suspect $texts --threads 1 --json"
    "scan, 16 keys|$tracemark|scan $(key_args 16) --suspect $texts --threads 1 --json"
    "scan, 256 keys|$tracemark|scan $(key_args 256) --suspect $texts --threads 1 --json")
  [[ -n ${BASELINE:-} ]] && runs+=("BASELINE scan, 1 key|$BASELINE|scan $(key_args 1) --suspect $texts --threads 1 --json"
    "BASELINE scan, 16 keys|$BASELINE|scan $(key_args 16) --suspect $texts --threads 1 --json")
  declare -A seconds=() peak=()
  for round in 1 2 3 4 5; do
    for run in "${runs[@]}"; do
      IFS='|' read -r name binary args <<< "$run"
      # shellcheck disable=SC2086 # args are space-separated paths without spaces
      read -r elapsed kib < <(/usr/bin/time -f "%e %M" "$binary" $args 2>&1 >/dev/null | tail -1)
      seconds["$name"]=$(python3 -c "print(min(${seconds["$name"]:-999999}, $elapsed))")
      peak["$name"]=$(( kib > ${peak["$name"]:-0} ? kib : ${peak["$name"]:-0} ))
    done
  done
  echo
  echo "many keys, text records ($text_bytes bytes of text), one thread, whole process:"
  echo "| run | seconds (best of 5) | MB/s of text | speed / tokenize | peak memory (MB) |"
  echo "|---|---|---|---|---|"
  for run in "${runs[@]}"; do
    IFS='|' read -r name binary args <<< "$run"
    python3 -c "s=${seconds["$name"]}; t=${seconds[tokenize]}; print(f'| $name | {s:.2f} | {$text_bytes / s / 1e6:.1f} | {t / s:.2f}x | {${peak["$name"]} / 1024:.0f} |')"
  done
fi

if [[ " $parts " == *" filter "* ]]; then
  # The reference filter file on the Brown texts: the first 250 texts are the "served log" (as ids),
  # all 500 are the suspect; one key of width 2. Exact log against the xor filter: extra tuples
  # admitted (false positives), file size, time and peak memory of building and of reusing it.
  [[ -f $work/many1.json ]] || "$tracemark" keygen --out "$work/many1.json" --tokenizer cl100k_base --context-width 2 >/dev/null
  head -250 "$texts" > "$work/log-texts.jsonl"
  "$tracemark" tokenize --tokenizer cl100k_base --input "$work/log-texts.jsonl" --output "$work/log.jsonl" --force 2>/dev/null
  common="scan --key $work/many1.json --suspect $texts --threads 1 --json"
  field() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
  measure() {  # measure NAME ARGS...: best of 3 seconds and peak KiB into globals
    local name=$1 best=999999 peak_kib=0 round elapsed kib
    shift
    for round in 1 2 3; do
      # shellcheck disable=SC2086
      read -r elapsed kib < <(/usr/bin/time -f "%e %M" "$tracemark" $common "$@" 2>&1 >"$work/$name.json" | tail -1)
      best=$(python3 -c "print(min($best, $elapsed))"); peak_kib=$(( kib > peak_kib ? kib : peak_kib ))
    done
    echo "| $name | $best | $((peak_kib / 1024)) |"
  }
  echo
  echo "reference filter (log: 250 Brown texts as ids, $(wc -c < "$work/log.jsonl") bytes; suspect: 500 texts; h = 2):"
  echo "| scan | seconds (best of 3) | peak memory (MB) |"
  echo "|---|---|---|"
  measure exact --reference-log "$work/log.jsonl"
  measure build --reference-log "$work/log.jsonl" --reference-filter-out "$work/log.tmrf"
  measure reuse --reference-filter "$work/log.tmrf"
  contexts=$(field "$work/reuse.json" "d['reference_log'][0]['contexts_kept']")
  exact_scored=$(field "$work/exact.json" "d['suspect']['keys'][0]['scored']")
  filter_scored=$(field "$work/reuse.json" "d['suspect']['keys'][0]['scored']")
  exact_filtered=$(field "$work/exact.json" "d['suspect']['keys'][0]['skipped_filter']")
  python3 -c "
c=$contexts; size=$(stat -c %s "$work/log.tmrf"); e=$exact_scored; f=$filter_scored; out=$exact_filtered
print(f'filter file: {size} bytes for {c} contexts = {size / c:.3f} bytes per context')
print(f'suspect tuples outside the log (exact scan, dropped): {out}; admitted by the filter: {f - e} = {(f - e) / out:.5f} of them')
print(f'scored: exact {e}, filter {f}: S_fp / S_in = {(f - e) / e:.5f}; z-score factor for a fixed excess 1/sqrt(1 + S_fp/S_in) = {(1 + (f - e) / e) ** -0.5:.4f}')
"
fi
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
