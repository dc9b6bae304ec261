#!/usr/bin/env bash
# CLI tests for campaign discovery (issue 14): `tracemark simulate traffic` (serve's audit format,
# exact counts, determinism, ground truth) and `tracemark campaigns` on a small simulated day (every
# planted operator found, no benign account flagged, two families behind every flag, the outputs:
# JSON, accounts, reference log, STIX 2.1 checked object by object), bad input (file, line and byte
# offset; --skip-bad-lines; empty and version-1 logs), and --responses model feeding scan.
# Needs the corpora cache (corpora/fetch.sh) and python3.
# Usage: campaigns_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
py=python3
[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
python3() { "$py" "$@"; }

# Six hours of 30,000 exchanges, the three operators at 1/2500 of the reported size.
expect 0 "wrote day.jsonl: 30000 exchanges .*op1-reasoning: 60 from 2 accounts; op2-tool-use: 1360 from 3 accounts; op3-coding: 5200 from 6 accounts" -- \
  "$tracemark" simulate traffic --out day.jsonl --truth truth.tsv --exchanges 30000 --scale 0.0004 --days 0.25 --seed 7
check "the log has exactly 30000 lines" [ "$(wc -l <day.jsonl)" -eq 30000 ]
check "every line is serve's audit format, version 2, time-ordered, without responses" python3 - <<'PY'
import json, re
previous = ""
for n, line in enumerate(open("day.jsonl"), 1):
    r = json.loads(line)
    keys = list(r)
    assert keys[:8] == ["audit_version", "time", "account", "client_address", "user_agent", "request_id", "endpoint", "model"], (n, keys)
    assert r["audit_version"] == 2 and "text" not in r and "tokens" not in r, n
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]) and r["time"] >= previous, n
    previous = r["time"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", r["client_address"]), r["client_address"]
    assert isinstance(r["prompt"], (str, list)) and r["endpoint"] in ("/v1/chat/completions", "/v1/completions")
PY
check "the truth has a header and one row per account" python3 - <<'PY'
rows = [l.rstrip("\n").split("\t") for l in open("truth.tsv")]
assert rows[0][0].startswith("#"), rows[0]
labels = {}
for r in rows[1:]:
    labels[r[1]] = labels.get(r[1], 0) + 1
assert labels["op1-reasoning"] == 2 and labels["op2-tool-use"] == 3 and labels["op3-coding"] == 6, labels
accounts = {__import__("json").loads(l)["account"] for l in open("day.jsonl")}
assert accounts <= {r[0] for r in rows[1:]}
PY
expect 0 "" -- "$tracemark" simulate traffic --out small.jsonl --truth small.tsv --exchanges 3000 --scale 0.0001 --seed 8
expect 0 "" -- "$tracemark" simulate traffic --out again.jsonl.gz --truth again.tsv --exchanges 3000 --scale 0.0001 --seed 8
check "the same seed gives the same bytes (gzip output too)" bash -c 'zcat again.jsonl.gz | cmp -s - small.jsonl && cmp -s again.tsv small.tsv'
expect 0 "" -- "$tracemark" simulate traffic --out other.jsonl --truth other.tsv --exchanges 3000 --scale 0.0001 --seed 9
check "another seed gives other traffic" bash -c '! cmp -s other.jsonl small.jsonl'
expect 2 "day.jsonl already exists.*--force" -- "$tracemark" simulate traffic --out day.jsonl --truth t.tsv --exchanges 10
expect 2 "--proxy-overlap must be from 0 to 1" -- "$tracemark" simulate traffic --out x.jsonl --truth x.tsv --proxy-overlap 2
expect 2 "would send .* raise --exchanges or lower --scale" -- "$tracemark" simulate traffic --out x.jsonl --truth x.tsv --exchanges 100 --scale 1
check "nothing half-written after a refused run" bash -c '! ls x.jsonl x.tsv .x.jsonl* 2>/dev/null | grep -q .'

# Detection on the day.
expect 0 "" -- "$tracemark" campaigns --audit-log day.jsonl --json --accounts-out flagged.tsv --reference-log-out harvest.jsonl \
  --stix-out bundle.json --probe-prompts-out probe.jsonl
"$tracemark" campaigns --audit-log day.jsonl --json >report.json 2>/dev/null
# The tool-use and coding operators are found whole; the reasoning operator's two accounts with 30
# exchanges each are below what two families can tie (docs/BENCHMARKS.md says where detection
# breaks), so it is not asserted either way.
check "the operators are found, each in its own cluster, and no benign account is flagged" python3 - <<'PY'
import json
truth = {l.split("\t")[0]: l.split("\t")[1] for l in open("truth.tsv") if not l.startswith("#")}
report = json.load(open("report.json"))
flagged = set(report["flagged_accounts"])
for op in ("op2-tool-use", "op3-coding"):
    accounts = {a for a, label in truth.items() if label == op}
    assert accounts <= flagged, (op, len(accounts - flagged))
assert all(truth[a] != "benign" for a in flagged), [a for a in flagged if truth[a] == "benign"]
for cluster in report["clusters"]:
    assert len({truth[a] for a in cluster["accounts"]}) == 1, cluster["cluster"]
    assert cluster["score"] >= 6 and set(cluster["targets"]) == {"reasoning", "tool_use", "coding", "other"}
    for tie in cluster["signals"]["accounts"]:
        assert len(tie["tied_by"]) >= 2, tie  # never one signal alone
    assert set(cluster["models"]) >= {"tm-large-2026-01"}
PY
check "each cluster's main target is its operator's" python3 - <<'PY'
import json
truth = {l.split("\t")[0]: l.split("\t")[1] for l in open("truth.tsv") if not l.startswith("#")}
wanted = {"op1-reasoning": "reasoning", "op2-tool-use": "tool_use", "op3-coding": "coding"}
for cluster in json.load(open("report.json"))["clusters"]:
    targets = cluster["targets"]
    assert max(targets, key=targets.get) == wanted[truth[cluster["accounts"][0]]], targets
PY
check "--accounts-out: a # header, then ACCOUNT<TAB>CLUSTER, sorted" python3 - <<'PY'
import json
lines = open("flagged.tsv").read().split("\n")
assert lines[0].startswith("#") and lines[-1] == ""
rows = [l.split("\t") for l in lines[1:-1]]
assert all(len(r) == 2 and r[1].startswith("cluster-") for r in rows)
assert [r[0] for r in rows] == sorted(json.load(open("report.json"))["flagged_accounts"])
PY
check "--reference-log-out: exactly the flagged accounts' lines, as written" python3 - <<'PY'
flagged = {l.split("\t")[0] for l in open("flagged.tsv") if not l.startswith("#")}
import json
wanted = [l for l in open("day.jsonl") if json.loads(l)["account"] in flagged]
assert open("harvest.jsonl").readlines() == wanted and wanted
PY
check "--probe-prompts-out: the flagged accounts' distinct user/system prompts once each, in log order" python3 - <<'PY'
import json
flagged = {l.split("\t")[0] for l in open("flagged.tsv") if not l.startswith("#")}
wanted, seen = [], set()
for line in open("day.jsonl"):
    record = json.loads(line)
    prompt = record.get("prompt")
    if record["account"] not in flagged or prompt is None:
        continue
    chat = isinstance(prompt, list) and prompt and isinstance(prompt[0], dict)
    if not (isinstance(prompt, str) or chat) or (chat and any(m.get("role") not in ("user", "system") for m in prompt)):
        continue
    text = json.dumps(prompt, sort_keys=True)
    if text not in seen:
        seen.add(text)
        wanted.append(("messages" if chat else "prompt", prompt))
probes = [json.loads(l) for l in open("probe.jsonl")]
assert [p["id"] for p in probes] == [f"probe-{i}" for i in range(len(probes))]
assert [(k, p[k]) for p in probes for k in p if k != "id"] == wanted and len(wanted) > 100, len(wanted)
PY
expect 2 "--probe-prompts-out needs the logs as files" -- "$tracemark" campaigns --audit-log - --probe-prompts-out p.jsonl </dev/null
check "the reference log and the audit log are 0600" bash -c '[ "$(stat -c %a harvest.jsonl)" = 600 ] && [ "$(stat -c %a day.jsonl)" = 600 ] && [ "$(stat -c %a probe.jsonl)" = 600 ]'

# STIX 2.1: every object against the specification's required properties and identifier formats.
check "the STIX bundle is valid STIX 2.1 and holds no prompt text or account" python3 - <<'PY'
import json, re
bundle = json.load(open("bundle.json"))
uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
timestamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
assert set(bundle) == {"type", "id", "objects"} and bundle["type"] == "bundle"
assert re.fullmatch("bundle--" + uuid, bundle["id"])
required = {
    "identity": {"name"},
    "intrusion-set": {"name"},
    "indicator": {"pattern", "pattern_type", "valid_from"},
    "relationship": {"relationship_type", "source_ref", "target_ref"},
}
ids = {o["id"] for o in bundle["objects"]}
assert len(ids) == len(bundle["objects"]), "identifiers must be unique"
kinds = {}
pattern = re.compile(r"\[(ipv4-addr:value|ipv6-addr:value|network-traffic:extensions\.'http-request-ext'\.request_header\.'User-Agent'"
                     r"|artifact:hashes\.'SHA-256') = '([^'\\]|\\['\\])*'\]")
for o in bundle["objects"]:
    t = o["type"]
    kinds[t] = kinds.get(t, 0) + 1
    assert t in required, t
    assert o["spec_version"] == "2.1", o
    assert re.fullmatch(re.escape(t) + "--" + uuid, o["id"]), o["id"]
    for field in ("created", "modified"):
        assert timestamp.fullmatch(o[field]), (field, o[field])
    assert o["modified"] >= o["created"]
    assert required[t] <= set(o), (t, required[t] - set(o))
    for key in o:
        assert re.fullmatch(r"[a-z0-9_]{3,250}", key) or key == "id", key
    if "created_by_ref" in o:
        assert o["created_by_ref"] in ids and o["created_by_ref"].startswith("identity--")
    if t == "identity":
        assert o.get("identity_class") in (None, "individual", "group", "system", "organization", "class", "unknown")
    if t == "indicator":
        assert o["pattern_type"] == "stix" and pattern.fullmatch(o["pattern"]), o["pattern"]
        assert timestamp.fullmatch(o["valid_from"])
        assert all(v in ("anomalous-activity", "anonymization", "benign", "compromised", "malicious-activity", "attribution", "unknown")
                   for v in o.get("indicator_types", []))
        if "artifact" in o["pattern"]:
            assert re.search(r"'[0-9a-f]{64}'", o["pattern"])
    if t == "intrusion-set":
        for field in ("first_seen", "last_seen"):
            assert field not in o or timestamp.fullmatch(o[field])
    if t == "relationship":
        assert o["source_ref"] in ids and o["target_ref"] in ids
        assert o["source_ref"].startswith("indicator--") and o["target_ref"].startswith("intrusion-set--")
        assert o["relationship_type"] == "indicates"
clusters = len(json.load(open("report.json"))["clusters"])
assert kinds["identity"] == 1 and kinds["intrusion-set"] == clusters >= 2 and kinds["indicator"] == kinds["relationship"] > 3, kinds
text = open("bundle.json").read()
for line in open("day.jsonl"):
    r = json.loads(line)
    assert r["account"] not in text
    prompt = r["prompt"] if isinstance(r["prompt"], str) else r["prompt"][-1]["content"]
    words = prompt.split()
    if len(words) >= 6:
        assert " ".join(words[:6]) not in text, prompt
PY

# Benign traffic only: nothing flagged.
expect 0 "" -- "$tracemark" simulate traffic --out benign.jsonl --truth benign.tsv --exchanges 10000 --scale 0 --seed 9
expect 0 "No cluster is flagged" -- "$tracemark" campaigns --audit-log benign.jsonl

# Bad input: what, where (file, line, byte offset) and what to do; exit status 2.
head -3 day.jsonl >bad.jsonl
printf '{"time": "2026-03-02T10:00:00Z", "account": "a"\n' >>bad.jsonl
head -5 day.jsonl | tail -2 >>bad.jsonl
offset=$(head -3 day.jsonl | wc -c)
expect 2 "bad.jsonl line 4 \(byte offset $((offset + 47))\): not valid JSON at column 48.*--skip-bad-lines" -- "$tracemark" campaigns --audit-log bad.jsonl
expect 0 '"skipped_lines": 1' -- "$tracemark" campaigns --audit-log bad.jsonl --skip-bad-lines --json
printf '{"time": "yesterday", "account": "a"}\n' >badtime.jsonl
expect 2 "badtime.jsonl line 1 \(byte offset 0\): \"time\" is \"yesterday\", not an RFC 3339" -- "$tracemark" campaigns --audit-log badtime.jsonl
printf '{"time": "2026-03-02T10:00:00Z"}\n' >noaccount.jsonl
expect 2 "noaccount.jsonl line 1 \(byte offset 0\): the audit line has no \"account\"" -- "$tracemark" campaigns --audit-log noaccount.jsonl
: >empty.jsonl
expect 0 '"flagged_accounts": \[\]' -- "$tracemark" campaigns --audit-log empty.jsonl --json
expect 2 "missing.jsonl" -- "$tracemark" campaigns --audit-log missing.jsonl
# Version 1 lines (no client_address, user_agent): read, no evidence of those kinds, no error.
python3 - <<'PY'
import json
with open("v1.jsonl", "w") as out:
    for line in open("day.jsonl"):
        r = json.loads(line)
        for k in ("audit_version", "client_address", "user_agent"):
            r.pop(k)
        out.write(json.dumps(r) + "\n")
PY
expect 0 "Read 30000 lines" -- "$tracemark" campaigns --audit-log v1.jsonl
gzip -c day.jsonl >day.jsonl.gz
"$tracemark" campaigns --audit-log day.jsonl.gz --threads 3 --json >report-threads.json 2>/dev/null
check "a gzip log and three threads give the same report as one thread" python3 - <<'PY'
import json
one, three = json.load(open("report.json")), json.load(open("report-threads.json"))
one["summary"].pop("inputs"), three["summary"].pop("inputs")
assert one == three
PY

# --responses model: serve's own generation and watermark; scan reads the harvest as a reference log.
python3 - <<'PY'
import json, random
r = random.Random(7)
words = "the of to and in is it you that he was for on are with as his they be at one have this from or had by".split()
with open("corpus.jsonl", "w") as f:
    for d in range(200):
        f.write(json.dumps({"id": d, "text": " ".join(r.choice(words) for _ in range(200)) + "."}) + "\n")
PY
expect 0 "" -- "$tracemark" train --corpus corpus.jsonl --tokenizer gpt2 --order 3 --out tiny.tmlm
expect 0 "" -- "$tracemark" keygen --out key.json --tokenizer gpt2 --context-width 1
expect 0 "wrote served.jsonl: 40 exchanges" -- "$tracemark" simulate traffic --out served.jsonl --truth served.tsv --exchanges 40 \
  --scale 0 --responses model --model tiny.tmlm --key key.json --seed 3
key_id=$("$tracemark" key show key.json | grep -oE 'tmk_[0-9a-f]+' | head -1)
check "responses carry serve's fields: key id, prompt tokens, text, tokens" python3 - "$key_id" <<'PY'
import json, sys
for line in open("served.jsonl"):
    r = json.loads(line)
    assert r["key_id"] == sys.argv[1] and r["tokens"] and r["text"] and r["prompt_tokens"] and r["finish_reason"] == "length"
    assert len(r["tokens"]) == r["max_tokens"]
PY
expect 0 "" -- "$tracemark" campaigns --audit-log served.jsonl --reference-log-out served-harvest.jsonl
python3 -c 'import json; [print(json.dumps({"id": i, "tokens": json.loads(l)["tokens"]})) for i, l in enumerate(open("served.jsonl"))]' >suspect.jsonl
expect 0 "" -- "$tracemark" scan --key key.json --suspect suspect.jsonl --reference-log served.jsonl
expect 2 "--responses model needs --model" -- "$tracemark" simulate traffic --out y.jsonl --truth y.tsv --responses model

finish
