#!/usr/bin/env bash
# Campaign discovery figures for docs/BENCHMARKS.md ("Campaign discovery"): calibration on a benign-
# only day, the benign flag rate on benign days the thresholds were not chosen on, recall and
# precision per operator on the default day and on harder settings (where detection breaks), and
# 16 million exchanges: figures, time, peak memory, and time per million exchanges as the log grows.
#
# Usage: bench/campaigns_benchmark.sh PATH/TO/tracemark WORK_FOLDER [calibration|benign|default|harder|large|all]...
# Writes each run's files into WORK_FOLDER and prints the figures. Deterministic inputs (fixed
# seeds); times depend on the machine's load (say so beside them). 16M needs about 3.5 GB of disk.
set -euo pipefail
tracemark=$(realpath "$1")
work=$2
shift 2
parts=("${@:-all}")
bench=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
cd "$work"

wants() { [[ " ${parts[*]} " == *" all "* || " ${parts[*]} " == *" $1 "* ]]; }

# simulate NAME ARGS...: a log and its truth, once (kept between runs).
simulate() {
  local name=$1
  shift
  [[ -s $name.jsonl.gz ]] || nice "$tracemark" simulate traffic --out "$name.jsonl.gz" --truth "$name.tsv" --force "$@" >"$name.sim"
}

# detect NAME [ARGS...]: campaigns on NAME's log, timed (wall, CPU, peak resident memory).
detect() {
  local name=$1
  shift
  nice /usr/bin/time -v "$tracemark" campaigns --audit-log "$name.jsonl.gz" --threads 2 --accounts-out "$name.flagged" \
    --evidence-out "$name.evidence" --json --force "$@" >"$name.json" 2>"$name.time"
  local wall cpu rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$name.time")
  cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.1f", u + s }' "$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$name.time")
  echo "  time: wall $wall, CPU ${cpu} s, peak memory ${rss} MiB"
}

score() { /usr/bin/python3 "$bench/campaigns_score.py" "$1.tsv" "$1.flagged" | sed 's/^/  /'; }

if wants calibration; then
  echo "== calibration: benign only, 1M exchanges, seed 101 (the thresholds were chosen on this day)"
  simulate calibration --exchanges 1000000 --scale 0 --seed 101
  detect calibration
  /usr/bin/python3 "$bench/campaigns_calibration.py" calibration.tsv calibration.evidence | sed 's/^/  /'
  score calibration
fi

if wants benign; then
  for spec in "benign-202:--exchanges 1000000 --seed 202" "benign-week:--exchanges 1000000 --seed 303 --days 7" \
              "benign-popular:--exchanges 1000000 --seed 404 --popular-share 0.2" "benign-2m:--exchanges 2000000 --seed 505"; do
    name=${spec%%:*}
    args=${spec#*:}
    echo "== $name: benign only ($args), never used to choose anything"
    # shellcheck disable=SC2086
    simulate "$name" --scale 0 $args
    detect "$name"
    score "$name"
    /usr/bin/python3 "$bench/campaigns_calibration.py" "$name.tsv" "$name.evidence" | sed 's/^/  /' | grep -E "pass rate|two families"
  done
fi

if wants default; then
  echo "== default: 1M exchanges, seed 11, campaigns 20% (the three operators at scale 0.012)"
  simulate default --exchanges 1000000 --seed 11
  cat default.sim | sed 's/^/  /'
  detect default
  score default
fi

if wants harder; then
  # Each row changes the default day (seed 23) in one or more ways; the last rows push until it breaks.
  # HARDER_ROWS (names, space-separated) runs only those rows.
  for spec in "small:--scale 0.003" "tiny:--scale 0.001" "templates-2:--templates 2" "templates-1:--templates 1 --paraphrase-rate 0.8" \
              "overlap:--proxy-overlap 0.9" "big-pool:--proxy-overlap 0.9 --proxy-pool-factor 10" \
              "human-pacing:--pacing-jitter 1 --no-operator-shifts" "slow-bursts:--burst-minutes 240 --pacing-jitter 1 --no-operator-shifts" \
              "all-hard:--scale 0.003 --templates 2 --proxy-overlap 0.9 --proxy-pool-factor 10 --pacing-jitter 1 --no-operator-shifts --burst-minutes 240" \
              "week:--days 7"; do
    name=hard-${spec%%:*}
    args=${spec#*:}
    [[ -z ${HARDER_ROWS:-} || " $HARDER_ROWS " == *" ${spec%%:*} "* ]] || continue
    echo "== $name: $args"
    # shellcheck disable=SC2086
    simulate "$name" --exchanges 1000000 --seed 23 $args
    grep -o 'op[^;)]*' "$name.sim" | sed 's/^/  /'
    detect "$name"
    score "$name"
  done
fi

if wants large; then
  echo "== large: 16M exchanges, seed 16, campaigns 20% (the three operators at scale 0.193)"
  [[ -s large.sim ]] || nice /usr/bin/time -v "$tracemark" simulate traffic --out large.jsonl.gz --truth large.tsv --exchanges 16000000 \
    --seed 16 --force >large.sim 2>large.simtime
  cat large.sim | sed 's/^/  /'
  detect large
  score large
  # The 16M point is the run above (run once: 16M is the costly one); the smaller points are
  # prefixes of the same log.
  echo "  time per million exchanges as the log grows (prefixes of the same log, decompressed by zcat into standard input):"
  for lines in ${LARGE_PREFIXES:-1000000 4000000}; do
    { zcat large.jsonl.gz || true; } | head -n "$lines" | nice /usr/bin/time -v "$tracemark" campaigns --audit-log - --threads 2 >/dev/null 2>"prefix-$lines.time"
    awk -F': ' -v n="$lines" '/Elapsed \(wall clock\)/ { w = $2 } /User time/ { u = $2 } /System time/ { s = $2 }
      /Maximum resident set size/ { m = $2 } END { printf "    %5.1fM: wall %s, CPU %.1f s (%.1f s per million), peak %.0f MiB\n", n / 1e6, w, u + s, (u + s) / (n / 1e6), m / 1024 }' \
      "prefix-$lines.time"
  done
fi
