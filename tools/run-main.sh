#!/usr/bin/env bash
# The main job on built-in defaults, the whole story (issue 15): train the protected reference model
# on the Brown Corpus; make a keyring and publish its root; simulate a day of serving traffic with
# planted distillation campaigns; let `tracemark campaigns` find them; serve the found accounts from
# then on under canary cohort keys of the ring (`serve --keyring --key-policy`); distill a student
# from each campaign's harvest; train a clean control of the same size on human text; let them all
# answer held-out prompts; scan each with the whole keyring: each student must be attributed to its
# own campaign's canary key and the control to none; write a signed evidence bundle and verify it.
# Expects tools/setup.sh to have built build/release and filled the corpus cache (the README's main
# command runs both). Writes into out/demo (or $1). A few minutes on 2 cores.
# TRACEMARK_BIN overrides the binary; REQUESTS_PER_CLUSTER (default 800) sizes each harvest.
set -euo pipefail
cd "$(dirname "$0")/.."
tracemark=${TRACEMARK_BIN:-build/release/tools/tracemark}
cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
prompts=corpora/prompts/brown-heldout.jsonl
work=${1:-out/demo}
tokenizer=cl100k_base
order=3
length=200
threads=2
per_cluster=${REQUESTS_PER_CLUSTER:-800}
seed=15
labels=model:2026-01,cohort:canary-01,cohort:canary-02,cohort:canary-03,cohort:canary-04
sampling=(--top-k 40)  # the serving engine watermarks its 40 candidates per step, as SynthID-Text's reference does

die() { echo "run-main: $*" >&2; exit 2; }
[[ -x $tracemark ]] || die "$tracemark is missing; run ./tools/setup.sh first (it builds it)"
[[ -f $cache/corpora/brown/train.jsonl ]] ||
  die "the corpus cache is not set up ($cache/corpora/brown/train.jsonl is missing); run ./tools/setup.sh first"
command -v python3 >/dev/null || die "python3 is needed (tools/setup.sh installs it)"
mkdir -p "$work"
start=$SECONDS
server_pid=""
trap '[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; true' EXIT

echo "== 1. The provider's model: an order-$order Kneser-Ney model on the Brown Corpus training split ($tokenizer tokens)"
"$tracemark" train --corpus brown:train --tokenizer "$tokenizer" --order "$order" --out "$work/teacher.tmlm" --force | tail -1
echo
echo "== 2. A keyring: one master secret, one subkey per label ($labels);"
echo "      its root is published now, before anything is served"
"$tracemark" keyring new --out "$work/ring.json" --labels "$labels" --tokenizer "$tokenizer" --force >/dev/null
root=$("$tracemark" keyring commit "$work/ring.json" | grep -oE 'sha256:[0-9a-f]{64}' | head -1)
[[ -n $root ]] || die "keyring commit printed no root"
echo "   published root: $root"
echo
echo "== 3. Six hours of serving traffic with planted distillation campaigns (simulate traffic, seed $seed;"
echo "      metadata and prompts: all campaigns needs), and \`tracemark campaigns\` reads it"
"$tracemark" simulate traffic --out "$work/day1.jsonl" --truth "$work/day1-truth.tsv" --exchanges 47285 --scale 0.002 --days 0.25 \
  --seed "$seed" --force | head -1 | sed 's/^/   /'
"$tracemark" campaigns --audit-log "$work/day1.jsonl" --accounts-out "$work/flagged.tsv" --threads "$threads" --force \
  > "$work/campaigns.txt"
grep -E '^[0-9]+ cluster|^  cluster-' "$work/campaigns.txt" | sed 's/^/   /' || die "campaigns flagged nothing (see $work/campaigns.txt)"
echo
echo "== 4. From now on the found accounts are served under canary keys: a key policy gives each found"
echo "      cluster its own cohort label; everyone else gets the default, model:2026-01"
python3 - "$work/flagged.tsv" "$work/day1-truth.tsv" "$work/policy.json" "$work/clusters.tsv" <<'PY'
import collections, json, sys
flagged, truth_path, policy_path, clusters_path = sys.argv[1:]
clusters = collections.OrderedDict()
for line in open(flagged):
    if line.strip() and not line.startswith("#"):
        account, cluster = line.rstrip("\n").split("\t")
        clusters.setdefault(cluster, []).append(account)
if not 1 <= len(clusters) <= 4:
    sys.exit("run-main: %d clusters were flagged; the ring has 4 canary labels" % len(clusters))
truth = {}
for line in open(truth_path):
    if not line.startswith("#"):
        fields = line.rstrip("\n").split("\t")
        truth[fields[0]] = fields[1]
cohorts = []
with open(clusters_path, "w") as out:
    for i, (cluster, accounts) in enumerate(clusters.items(), 1):
        label = "cohort:canary-%02d" % i
        operators = collections.Counter(truth.get(a, "?") for a in accounts)
        ground = ", ".join("%s %d" % kv for kv in operators.most_common())
        print("   %s -> %s (%d accounts; ground truth, never used by the tools: %s)" % (cluster, label, len(accounts), ground))
        out.write("%s\t%s\t%s\n" % (cluster, label, operators.most_common(1)[0][0]))
        cohorts.append({"label": label, "accounts_file": "flagged.tsv", "clusters": [cluster]})
json.dump({"format": "tracemark-key-policy", "format_version": 1, "default": "model:2026-01", "cohorts": cohorts},
          open(policy_path, "w"), indent=1)
PY
echo
echo "== 5. The next day: \`tracemark serve --keyring --key-policy\` answers the same accounts again ($per_cluster"
echo "      requests per found cluster, 200 benign requests; their day-1 prompts replayed, at most $length tokens)"
python3 - "$work/day1.jsonl" "$work/flagged.tsv" "$work/api-keys.txt" "$work/replay.jsonl" "$per_cluster" "$length" <<'PY'
import collections, hashlib, json, os, sys
log, flagged, keys_path, replay_path, per_cluster, length = sys.argv[1:]
per_cluster, length = int(per_cluster), int(length)
cluster_of = {}
for line in open(flagged):
    if line.strip() and not line.startswith("#"):
        account, cluster = line.rstrip("\n").split("\t")
        cluster_of[account] = cluster
by_cluster, benign = collections.defaultdict(list), []
for line in open(log):
    r = json.loads(line)
    (by_cluster[cluster_of[r["account"]]] if r["account"] in cluster_of else benign).append(r)
chosen = []
for cluster, rows in by_cluster.items():
    chosen += [rows[i % len(rows)] for i in range(per_cluster)]  # cycles when a cluster sent fewer
chosen += benign[::max(1, len(benign) // 200)][:200]
accounts = sorted({r["account"] for r in chosen})
fd = os.open(keys_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # API keys are secrets
with os.fdopen(fd, "w") as f:
    for a in accounts:
        f.write("tm-demo-%s %s\n" % (hashlib.sha256(a.encode()).hexdigest()[:32], a))
with open(replay_path, "w") as f:
    for i, r in enumerate(chosen):
        body = {"model": "tm-large-2026-01", "max_tokens": min(r["max_tokens"], length), "seed": i + 1}
        if r["endpoint"] == "/v1/chat/completions":
            body["messages"] = r["prompt"]
        else:
            body["prompt"] = r["prompt"]
        f.write(json.dumps({"path": r["endpoint"], "key": "tm-demo-%s" % hashlib.sha256(r["account"].encode()).hexdigest()[:32],
                            "body": body}) + "\n")
PY
rm -f "$work/day2.jsonl"
"$tracemark" serve --model "$work/teacher.tmlm" --model-name tm-large-2026-01 --keyring "$work/ring.json" \
  --key-policy "$work/policy.json" --api-keys "$work/api-keys.txt" --audit-log "$work/day2.jsonl" --port 0 \
  --threads "$threads" --max-connections-per-address "$threads" "${sampling[@]}" > "$work/serve.out" 2> "$work/serve.err" &
server_pid=$!
port=""
for _ in $(seq 1 300); do
  port=$(grep -oE 'listening on http://127\.0\.0\.1:[0-9]+' "$work/serve.out" 2>/dev/null | grep -oE '[0-9]+$' || true)
  [[ -n $port ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.err" >&2; die "serve did not start (above)"; }
  sleep 0.1
done
[[ -n $port ]] || die "serve did not start within 30 s (see $work/serve.out, $work/serve.err)"
python3 tools/replay_requests.py "$port" "$work/replay.jsonl" "$threads"
kill "$server_pid"
wait "$server_pid" || true
server_pid=""
python3 - "$work/day2.jsonl" <<'PY'
import collections, json, sys
count = collections.Counter(json.loads(l).get("key_label") for l in open(sys.argv[1]) if '"event"' not in l)
print("   audit log: " + "; ".join("%d exchanges under %s" % (n, label) for label, n in sorted(count.items())))
PY
echo
echo "== 6. The suspects: a student distilled from each campaign's harvest (its accounts' answers of day 2),"
echo "      and a clean control trained on as many bytes of human text (Brown) as the largest harvest"
python3 - "$work/day2.jsonl" "$work/flagged.tsv" "$work/clusters.tsv" "$work" "$cache/corpora/brown/train.jsonl" <<'PY'
import json, sys
log, flagged, clusters_path, work, brown = sys.argv[1:]
cluster_of = {}
for line in open(flagged):
    if line.strip() and not line.startswith("#"):
        account, cluster = line.rstrip("\n").split("\t")
        cluster_of[account] = cluster
outs = {c.split("\t")[0]: open("%s/harvest-%s.jsonl" % (work, c.split("\t")[0]), "w") for c in open(clusters_path)}
size = dict.fromkeys(outs, 0)
for line in open(log):
    r = json.loads(line)
    c = cluster_of.get(r.get("account"))
    if c in outs and r.get("tokens"):
        outs[c].write(json.dumps({"text": r["text"], "tokens": r["tokens"]}) + "\n")
        size[c] += len(r["text"].encode())
target, total = max(size.values()), 0
with open(work + "/control-corpus.jsonl", "w") as out:
    for line in open(brown):
        if total >= target:
            break
        out.write(line)
        total += len(json.loads(line)["text"].encode())
print("   harvests: " + "; ".join("%s %d bytes" % kv for kv in size.items()) + "; control corpus %d bytes" % total)
PY
suspects=()
while IFS=$'\t' read -r cluster label operator; do
  "$tracemark" distill --teacher-outputs "$work/harvest-$cluster.jsonl" --tokenizer "$tokenizer" --order "$order" \
    --out "$work/student-$cluster.tmlm" --force > /dev/null
  suspects+=("student-$cluster")
done < "$work/clusters.tsv"
"$tracemark" train --corpus "$work/control-corpus.jsonl" --tokenizer "$tokenizer" --order "$order" \
  --out "$work/control.tmlm" --force > /dev/null
suspects+=(control)
echo
echo "== 7. Each answers the $(wc -l < "$prompts") held-out Brown prompts ($length tokens, no watermark of its own), and"
echo "      each is scanned with the whole keyring (every label tested, Holm; then which label, if any)"
for s in "${suspects[@]}"; do
  "$tracemark" generate --model "$work/$s.tmlm" --prompts "$prompts" --out "$work/$s-answers.jsonl" \
    --max-tokens "$length" "${sampling[@]}" --seed 7 --threads "$threads" --force > /dev/null
  "$tracemark" scan --keyring "$work/ring.json" --suspect "$work/$s-answers.jsonl" --json > "$work/$s-scan.json"
  "$tracemark" scan --keyring "$work/ring.json" --suspect "$work/$s-answers.jsonl" > "$work/$s-scan.txt"
done
attributed=yes
python3 - "$work" "$work/clusters.tsv" "${suspects[@]}" <<'PY' || attributed=no
import decimal, json, sys
work, clusters_path, suspects = sys.argv[1], sys.argv[2], sys.argv[3:]
expected = {"student-" + c.split("\t")[0]: (c.split("\t")[1], c.split("\t")[2].strip()) for c in open(clusters_path)}
expected["control"] = (None, "human text")
def log10(p):
    p = decimal.Decimal(str(p))
    return "-inf" if p == 0 else "%.1f" % float(p.log10())
wrong = 0
for s in suspects:
    a = json.load(open("%s/%s-scan.json" % (work, s)), parse_float=decimal.Decimal)["attribution"]
    got = a["attributed_to"]
    want, source = expected[s]
    ok = got == want
    wrong += not ok
    cells = ", ".join("%s %s" % (l["label"], log10(l["holm_p_value"])) for l in a["labels"])
    print("   %-20s (learned from %s): attributed to %s [%s]\n      log10 p (Holm): %s; %d scored tuples"
          % (s, source, got or "none", "as expected" if ok else "EXPECTED %s" % (want or "none"), cells, a["labels"][0]["scored"]))
print("   (full reports: %s/*-scan.txt)" % work)
sys.exit(1 if wrong else 0)
PY
echo
echo "== 8. A signed evidence bundle for the first student, checked without any secret against the published root"
"$tracemark" evidence keygen --out "$work/signing.pem" --force > /dev/null
rm -rf "$work/evidence"
"$tracemark" scan --keyring "$work/ring.json" --suspect "$work/${suspects[0]}-answers.jsonl" \
  --control "$work/control-answers.jsonl" --evidence "$work/evidence" --signing-key "$work/signing.pem" --no-pdf > /dev/null
"$tracemark" evidence verify "$work/evidence" --public-key "$work/signing.pem.pub" --keyring-root "$root" | grep -E "^ok: attribution|verifies" | sed 's/^/   /'
echo
cat <<EOF
How to read this: the provider published the ring's root before serving. \`campaigns\` found the
harvesting clusters in six hours of traffic (the ground truth beside each cluster is the simulator's,
shown only to check it). From then on each cluster was served under its own canary subkey, everyone
else under model:2026-01. A student learns the green lists of the key its harvest was served under:
its scan detects that label (log10 p far below -6, the default alpha 1e-6) and shows that label's
green rate above every other label's (one-sided Fisher tests, Holm), so it is attributed to that
campaign; the control, trained on human text, is attributed to none. The evidence bundle holds the
inclusion proof of the claimed label only (no secret); \`evidence verify\` checks it against the root.
Took $((SECONDS - start)) s. All files are in $work (ring.json, api-keys.txt and signing.pem are secret: mode 0600).
EOF
[[ $attributed == yes ]] || { echo "run-main: FAILED: a suspect was not attributed as expected (step 7 above)" >&2; exit 1; }
