#!/usr/bin/env bash
# Runs libFuzzer targets of a fuzz build (cmake -DTRACEMARK_FUZZ=ON with clang) for a fixed time
# each, every one from a copy of its seed corpus (tests/fuzz/corpus/TARGET; the committed corpus is
# never changed), and prints one line per target: executions, coverage, corpus size and crashes.
# A crash, leak, timeout or out-of-memory input is kept in the work folder (named in the output)
# and makes the exit status 1.
# Usage: tests/fuzz/run_fuzzers.sh BUILD_DIR SECONDS_EACH [TARGET...]   (default: all five)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(realpath "$1")
seconds=$2
shift 2
targets=("$@")
((${#targets[@]})) || targets=(jsonl_record_fuzzer key_file_fuzzer tokenizer_file_fuzzer request_body_fuzzer bundle_fuzzer)

work=$(mktemp -d "${TMPDIR:-/tmp}/tracemark-fuzz-run-XXXXXX")
mkdir -p "$work/tmp"
status=0
for target in "${targets[@]}"; do
  binary=$build/tests/fuzz/$target
  if [[ ! -x $binary ]]; then
    echo "fuzz: $target: not built in $build (cmake --build $build --target tracemark_fuzzers)"
    status=1
    continue
  fi
  corpus=$work/$target
  mkdir -p "$corpus"
  cp "$root/tests/fuzz/corpus/$target/"* "$corpus/"
  # -timeout: one input may take at most 20 s; -rss_limit_mb: 2 GiB; leaks are crashes too.
  TMPDIR=$work/tmp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$binary" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$target-" "$corpus" >"$work/$target.log" 2>&1
  code=$?
  executions=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$work/$target.log" | grep -oE '[0-9]+$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$work/$target.log" | tail -1)
  size=$(find "$corpus" -type f | wc -l)
  crashes=$(find "$work" -maxdepth 1 -name "$target-*" -type f | wc -l)
  rate=$(( ${executions:-0} / (seconds > 0 ? seconds : 1) ))
  echo "fuzz: $target: ${executions:-0} executions in ${seconds} s (about $rate/s), coverage ${cov:-unknown}, corpus $size inputs, crashes $crashes"
  if ((code != 0 || crashes != 0)); then
    status=1
    echo "fuzz: $target FAILED (exit $code); its log and inputs are in $work:"
    grep -E 'ERROR|SUMMARY|Test unit written|runtime error' "$work/$target.log" | head -20 | sed 's/^/    /'
  fi
done
((status == 0)) && rm -rf "$work"
exit $status
