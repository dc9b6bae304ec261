#!/usr/bin/env bash
# CLI tests for tracemark keyring: exit codes and the key parts of every message.
# Usage: keyring_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

labels=model:v1,model:v2,cohort:campaign-a,cohort:campaign-b,epoch:2026-03
expect 0 "root: sha256:[0-9a-f]{64}" -- "$tracemark" keyring new --out ring.json --labels "$labels" --vocab-size 1000 --context-width 1
check "ring file mode is 0600" test "$(stat -c %a ring.json)" = 600
root=$("$tracemark" keyring commit ring.json)
check "keyring commit prints the root" grep -qE '^sha256:[0-9a-f]{64}$' <<<"$root"
master=$(python3 -c 'import json; print(json.load(open("ring.json"))["master_secret"])')
check "keyring show hides the master secret" bash -c "! '$tracemark' keyring show ring.json | grep -q '$master'"
expect 0 "\"label\": \"cohort:campaign-a\"" -- "$tracemark" keyring show ring.json
before=$(sha256sum ring.json)
expect 2 "already exists.*--force" -- "$tracemark" keyring new --out ring.json --labels model:v1 --vocab-size 1000
check "existing ring untouched" test "$(sha256sum ring.json)" = "$before"

# derive: an ordinary key file (0600) that every --key command accepts, the same every time.
expect 0 "wrote subkey tmk_[0-9a-f]{16} \\(cohort:campaign-a\\)" -- "$tracemark" keyring derive ring.json cohort:campaign-a --out a.json
check "subkey mode is 0600" test "$(stat -c %a a.json)" = 600
expect 0 "\"key_id\": \"tmk_" -- "$tracemark" key show a.json
"$tracemark" keyring derive ring.json cohort:campaign-a --out a2.json >/dev/null
check "derivation is deterministic" test "$("$tracemark" key commit a.json)" = "$("$tracemark" key commit a2.json)"
"$tracemark" keyring derive ring.json cohort:campaign-b --out b.json >/dev/null
check "labels give different keys" test "$("$tracemark" key commit a.json)" != "$("$tracemark" key commit b.json)"
printf '{"tokens": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\n' >doc.jsonl
expect 0 "scored" -- "$tracemark" detect --key a.json --input doc.jsonl

# prove / verify-proof: the proof checks against the published root and the revealed key.
expect 0 "wrote the inclusion proof of cohort:campaign-a" -- "$tracemark" keyring prove ring.json cohort:campaign-a --out proof.json
check "the proof holds no secret" bash -c "! grep -q '$master' proof.json && ! grep -q \"\$(python3 -c 'import json; print(json.load(open(\"a.json\"))[\"secret\"])')\" proof.json"
expect 0 "proof OK: label cohort:campaign-a" -- "$tracemark" keyring verify-proof proof.json --root "$root" --key a.json
expect 2 "not the proof's.*not the subkey of label cohort:campaign-a" -- "$tracemark" keyring verify-proof proof.json --root "$root" --key b.json
python3 -c 'import json; p=json.load(open("proof.json")); p["label"]="cohort:campaign-b"; json.dump(p, open("tampered.json","w"))'
expect 2 "does not lead to the proof's root" -- "$tracemark" keyring verify-proof tampered.json --root "$root"
python3 -c 'import json; p=json.load(open("proof.json")); p["path"][0]="0"*64; json.dump(p, open("tampered.json","w"))'
expect 2 "does not lead to the proof's root" -- "$tracemark" keyring verify-proof tampered.json
"$tracemark" keyring new --out other.json --labels "$labels" --vocab-size 1000 --context-width 1 >/dev/null
"$tracemark" keyring prove other.json cohort:campaign-a --out other-proof.json >/dev/null
expect 2 "not the published root" -- "$tracemark" keyring verify-proof other-proof.json --root "$root"
printf '{"format": "tracemark-keyring-proof"' >broken.json
expect 2 "keyring proof broken.json: not valid JSON at byte offset" -- "$tracemark" keyring verify-proof broken.json
truncate -s 2M huge.json
expect 2 "keyring proof huge.json is not a regular file of at most 1 MiB" -- "$tracemark" keyring verify-proof huge.json

# Bad input: unknown and malformed labels, a ring readable by others, a key file given as a ring.
expect 2 "label 'cohort:nobody' is not in keyring tmr_[0-9a-f]{16} \\(its labels: cohort:campaign-a" -- "$tracemark" keyring derive ring.json cohort:nobody --out x.json
expect 2 "label 'team:x' has an unknown kind; a label is KIND:NAME" -- "$tracemark" keyring derive ring.json team:x --out x.json
expect 2 "epoch whose name is not a month" -- "$tracemark" keyring new --out x.json --labels epoch:2026-13 --vocab-size 1000
expect 2 "label 'model:v1' is given twice" -- "$tracemark" keyring new --out x.json --labels model:v1,model:v1 --vocab-size 1000
check "failed commands leave no file" test ! -e x.json
cp ring.json open.json && chmod 644 open.json
expect 2 "keyring file open.json is readable or writable by group or others \\(mode 0644\\).*chmod 600 open.json" -- "$tracemark" keyring commit open.json
expect 2 "keyring file a.json: field 'format' is not 'tracemark-keyring'; a single key file is given with --key" -- "$tracemark" keyring commit a.json
python3 -c 'import json; r=json.load(open("ring.json")); r["subkeys"][0]["commitment"]="sha256:"+"0"*64; json.dump(r, open("edited.json","w"))'
chmod 600 edited.json
expect 2 "commitment does not match the master secret" -- "$tracemark" keyring commit edited.json
check "no temporary files left" test -z "$(ls -A | grep -vE '^(ring|other|open|edited|a|a2|b|doc|proof|tampered|other-proof|broken|huge)\.json(l)?$')"

# scan --keyring: students distilled from cohort A's harvest and from cohort B's are attributed to
# their own cohort, a clean model to none (a teacher n-gram model, harvests watermarked under each
# cohort's subkey, n-gram students trained on them, answering prompts they never saw).
python3 - <<'PY'
import json, random
r = random.Random(1)
with open("corpus.jsonl", "w") as f:
    for d in range(200):
        f.write(json.dumps({"id": d, "tokens": [int(r.random() ** 3 * 1000) for _ in range(300)]}) + "\n")
for name, start, count in (("harvest-prompts", 0, 150), ("new-prompts", 500, 150)):
    with open(name + ".jsonl", "w") as f:
        for i in range(start, start + count):
            f.write(json.dumps({"id": "p%d" % i, "prompt_tokens": [i % 1000, (7 * i) % 1000]}) + "\n")
PY
"$tracemark" train --corpus corpus.jsonl --vocab-size 1000 --order 3 --out teacher.tmlm >/dev/null
for cohort in a b; do
  "$tracemark" keyring derive ring.json "cohort:campaign-$cohort" --out "key-$cohort.json" --force >/dev/null
  "$tracemark" generate --model teacher.tmlm --prompts harvest-prompts.jsonl --key "key-$cohort.json" --seed 1 --out "harvest-$cohort.jsonl" >/dev/null
  "$tracemark" distill --teacher-outputs "harvest-$cohort.jsonl" --vocab-size 1000 --order 3 --out "student-$cohort.tmlm" >/dev/null
  "$tracemark" generate --model "student-$cohort.tmlm" --prompts new-prompts.jsonl --seed 2 --out "suspect-$cohort.jsonl" >/dev/null
done
"$tracemark" generate --model teacher.tmlm --prompts new-prompts.jsonl --seed 3 --out clean.jsonl >/dev/null
expect 0 "Verdict: attributed to cohort:campaign-a\." -- "$tracemark" scan --keyring ring.json --suspect suspect-a.jsonl
expect 0 "Verdict: attributed to cohort:campaign-b\." -- "$tracemark" scan --keyring ring.json --suspect suspect-b.jsonl
expect 0 "Verdict: attributed to none" -- "$tracemark" scan --keyring ring.json --suspect clean.jsonl
expect 0 "No evidence under cohort:campaign-b means: with these [0-9]+ tuples, effects up to \+[0-9.]+ points" -- \
  "$tracemark" scan --keyring ring.json --suspect suspect-a.jsonl
expect 0 "Control \(clean.jsonl\): attributed to none" -- "$tracemark" scan --keyring ring.json --suspect suspect-a.jsonl --control clean.jsonl
expect 0 '"attributed_to": "cohort:campaign-a"' -- "$tracemark" scan --keyring ring.json --suspect suspect-a.jsonl --json
expect 0 '"attributed_to": null' -- "$tracemark" scan --keyring ring.json --labels cohort:campaign-b,model:v1 --suspect suspect-a.jsonl --json
check "JSON p-values are numbers" bash -c "'$tracemark' scan --keyring ring.json --suspect suspect-a.jsonl --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert isinstance(d[\"attribution\"][\"comparisons\"][0][\"holm_p_value\"], float)'"
expect 2 "label 'cohort:zzz' is not in keyring" -- "$tracemark" scan --keyring ring.json --labels cohort:zzz --suspect clean.jsonl
expect 2 "--labels needs --keyring" -- "$tracemark" scan --key a.json --labels cohort:campaign-a --suspect clean.jsonl
expect 2 "keyring file open.json is readable or writable by group or others" -- "$tracemark" scan --keyring open.json --suspect clean.jsonl

# Evidence with attribution: the bundle carries the root, the claimed label's proof only (never a
# secret), and the attribution; `evidence verify` checks the proofs and a tampered one fails.
"$tracemark" evidence keygen --out sign.pem >/dev/null
expect 0 "Evidence bundle written" -- "$tracemark" scan --keyring ring.json --suspect suspect-a.jsonl --control clean.jsonl \
  --evidence bundle --signing-key sign.pem --include-inputs --no-pdf
check "bundle has attribution.json" test -s bundle/attribution.json
check "only the claimed label's proof is in the bundle" python3 -c '
import json; a = json.load(open("bundle/attribution.json"))
assert [p["label"] for p in a["proofs"]] == ["cohort:campaign-a"], a["proofs"]
assert a["suspect"]["attributed_to"] == "cohort:campaign-a" and a["control"]["verdict"] == "none"
assert [l["label"] for l in a["labels"] if l["claimed"]] == ["cohort:campaign-a"]
assert "No evidence under cohort:campaign-b means" in a["explanation"]'
check "no secret in the bundle" bash -c "! grep -rqF '$master' bundle && ! grep -rqF \"\$(python3 -c 'import json; print(json.load(open(\"key-a.json\"))[\"secret\"])')\" bundle"
check "report.html has the attribution section and chart" grep -q 'id="chart-attribution"' bundle/report.html
expect 0 "ok: attribution: ring tmr_[0-9a-f]{16}, root sha256:[0-9a-f]{64} \(the published root\); 1 claimed label\(s\) \(cohort:campaign-a\)" -- \
  "$tracemark" evidence verify bundle --public-key sign.pem.pub --keyring-root "$root"
other_root=$("$tracemark" keyring commit other.json)
expect 2 "FAIL: attribution.json: the bundle's keyring root sha256:[0-9a-f]+ is not the published root" -- \
  "$tracemark" evidence verify bundle --public-key sign.pem.pub --keyring-root "$other_root"
subkeys=()
for label in cohort:campaign-a cohort:campaign-b epoch:2026-03 model:v1 model:v2; do
  "$tracemark" keyring derive ring.json "$label" --out "sub-$label.json" --force >/dev/null
  subkeys+=(--key "sub-$label.json")
done
expect 0 "reproduces results.json and attribution.json byte for byte" -- \
  "$tracemark" evidence verify bundle --public-key sign.pem.pub "${subkeys[@]}"
cp -r bundle tampered-bundle
python3 -c 'import json; p="tampered-bundle/attribution.json"; a=json.load(open(p)); a["proofs"][0]["path"][0]="0"*64; json.dump(a, open(p,"w"), indent=2)'
expect 2 "FAIL: attribution.json: tampered or malformed inclusion proof: keyring proof for label 'cohort:campaign-a': the path does not lead to the proof's root" -- \
  "$tracemark" evidence verify tampered-bundle --public-key sign.pem.pub
rm -rf tampered-bundle && cp -r bundle tampered-bundle
"$tracemark" keyring prove ring.json cohort:campaign-b --out proof-b.json >/dev/null
python3 -c 'import json; p="tampered-bundle/attribution.json"; a=json.load(open(p)); a["proofs"][0]=json.load(open("proof-b.json")); json.dump(a, open(p,"w"), indent=2)'
expect 2 "FAIL: attribution.json: holds an inclusion proof of cohort:campaign-b, which is not a claimed label" -- \
  "$tracemark" evidence verify tampered-bundle --public-key sign.pem.pub
rm -rf tampered-bundle && cp -r bundle tampered-bundle
python3 -c 'import json; p="tampered-bundle/attribution.json"; a=json.load(open(p)); b=json.load(open("proof-b.json")); a["proofs"][0]["commitment"]=b["commitment"]; json.dump(a, open(p,"w"), indent=2)'
expect 2 "FAIL: attribution.json: tampered or malformed inclusion proof" -- "$tracemark" evidence verify tampered-bundle --public-key sign.pem.pub
rm -rf tampered-bundle && cp -r bundle tampered-bundle
python3 -c 'import json; p="tampered-bundle/keys.json"; k=json.load(open(p)); k[0]["commitment"]=json.load(open("proof-b.json"))["commitment"]; json.dump(k, open(p,"w"), indent=2)'
expect 2 "FAIL: attribution.json: the inclusion proof of cohort:campaign-a has leaf commitment sha256:[0-9a-f]+, not the commitment of the label's key in keys.json" -- \
  "$tracemark" evidence verify tampered-bundle --public-key sign.pem.pub
"$tracemark" scan --key key-a.json --suspect suspect-a.jsonl --evidence plain-bundle --signing-key sign.pem --no-pdf >/dev/null
expect 2 "FAIL: attribution.json: missing, so the bundle has no keyring root" -- \
  "$tracemark" evidence verify plain-bundle --public-key sign.pem.pub --keyring-root "$root"

# A cohort's reference log: the exchanges of one cohort's accounts (campaigns --accounts-out format).
python3 - <<'PY'
import json
with open("served-log.jsonl", "w") as out:
    for cohort in "ab":
        for i, line in enumerate(open(f"harvest-{cohort}.jsonl")):
            record = json.loads(line)
            out.write(json.dumps({"account": f"{cohort}-{i % 3}", "tokens": record["tokens"]}) + "\n")
with open("cohorts.tsv", "w") as f:
    f.write("# account\tcluster\n" + "".join(f"{c}-{i}\tcampaign-{c}\n" for c in "ab" for i in range(3)))
PY
expect 0 "Reference log restricted to a cohort of 3 accounts: 150 of its responses, [0-9]+ contexts of width 1 kept\." -- \
  "$tracemark" scan --key key-a.json --suspect suspect-a.jsonl --reference-log served-log.jsonl --cohort-accounts cohorts.tsv --cohort campaign-a
# With one-token contexts both cohorts were served every context: none is the cohort's alone (the
# unit test covers the positive case with two-token contexts).
expect 2 "no context is the cohort's alone; drop --only-cohort-contexts" -- \
  "$tracemark" scan --key key-a.json --suspect suspect-a.jsonl --reference-log served-log.jsonl --cohort-accounts cohorts.tsv --cohort campaign-a --only-cohort-contexts
expect 0 '"cohort_accounts": 3' -- "$tracemark" scan --key key-a.json --suspect suspect-a.jsonl --reference-log served-log.jsonl \
  --cohort-accounts cohorts.tsv --cohort campaign-b --json
printf 'a-0\tcampaign-a\na-0\tcampaign-b\n' >dup.tsv
expect 2 "dup.tsv line 2 \(byte offset 15\): account 'a-0' is named twice \(first at line 1\)" -- \
  "$tracemark" scan --key key-a.json --suspect suspect-a.jsonl --reference-log served-log.jsonl --cohort-accounts dup.tsv
expect 2 "names no account of cluster 'campaign-z'" -- \
  "$tracemark" scan --key key-a.json --suspect suspect-a.jsonl --reference-log served-log.jsonl --cohort-accounts cohorts.tsv --cohort campaign-z
expect 2 "harvest-a.jsonl line 1 \(byte offset 0\): no \"account\"" -- \
  "$tracemark" scan --key key-a.json --suspect suspect-a.jsonl --reference-log harvest-a.jsonl --cohort-accounts cohorts.tsv
expect 2 "only-cohort-contexts requires --cohort-accounts|needs --cohort-accounts" -- \
  "$tracemark" scan --key key-a.json --suspect suspect-a.jsonl --reference-log served-log.jsonl --only-cohort-contexts

finish
