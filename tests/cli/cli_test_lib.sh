# Shared harness for the CLI test scripts (sourced, not run). Provides:
#   expect STATUS "PATTERN" -- command...   exit status and output pattern (grep -E) of a command;
#                                            when $expect_log names a file, the output is appended to it
#   check "description" condition...        any condition
#   check_null "description" LOG10P          a p-value computed under the null (a fresh key, clean text)
#                                            is not an accusation: log10 p above $null_floor
#   http STATUS "PATTERN" -- curl args...   HTTP status and body pattern of a curl request (20 s at most)
#   serve_port FILE                          the port a `serve --port 0` announced in FILE
#   finish                                   prints "N passed, N failed" and sets the exit status
# Each script runs in a fresh temporary folder, removed at exit; $tracemark is the binary.
tracemark=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
passed=0
failed=0

expect() {
  local status=$1 pattern=$2
  shift 3
  local output actual
  output=$("$@" 2>&1)
  actual=$?
  [[ -n ${expect_log:-} ]] && printf '%s\n' "$output" >>"$expect_log"
  if [[ $actual -ne $status ]] || { [[ -n $pattern ]] && ! grep -qE -- "$pattern" <<<"$output"; }; then
    echo "FAIL: $* -> status $actual (want $status), output:"
    sed 's/^/    /' <<<"$output" | head -20
    echo "    (wanted pattern: $pattern)"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}

check() {
  local description=$1
  shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL: $description"; failed=$((failed + 1)); fi
}

# Checks of the null use a fresh random key or clean text, so they are random: at a floor of -3 each
# fails once in a thousand runs with a valid p-value, and the suite holds over a dozen of them (CI
# saw it happen). At -6 a valid p-value fails one run in a million; the scripts check their
# watermarked texts against their own, separate thresholds. Calibration itself (the share of keys under 0.05
# and 0.01) is tested over hundreds of keys in the unit tests, not here.
null_floor=-6
check_null() {
  local description=$1 log10p=$2
  check "$description (log10 p $log10p)" python3 -c "import sys; sys.exit(0 if float('$log10p') > $null_floor else 1)"
}

# http STATUS-WANTED PATTERN -- curl args...: checks the status code and the body.
http() {
  local want=$1 pattern=$2
  shift 3
  local body status
  body=$(curl -s -o - -w '\n%{http_code}' --max-time 20 "$@")
  status=${body##*$'\n'}
  body=${body%$'\n'*}
  if [[ $status != "$want" ]] || ! grep -qE -- "$pattern" <<<"$body"; then
    echo "FAIL: curl $* -> $status (want $want): $(head -c 400 <<<"$body")"
    echo "    (wanted pattern: $pattern)"
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
}

# serve_port FILE: the port `tracemark serve --port 0` announced in FILE (its stdout), waiting up to
# 10 s; empty when it never did.
serve_port() {
  local port=""
  for _ in $(seq 1 100); do
    port=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$1" 2>/dev/null | grep -oE '[0-9]+$')
    [[ -n $port ]] && break
    sleep 0.1
  done
  echo "$port"
}

finish() {
  echo "$passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}
