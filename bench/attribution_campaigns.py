#!/usr/bin/python3
"""Attribution with keyrings through the command line (issue 15, part 4): two campaigns found
part-way through a period of traffic and moved to canary keys, a model-version change at the release
time, and students of (a) campaign A's harvest, (b) campaign B's, (c) only the new version's
responses, (d) clean text, each scanned with `scan --keyring`.

  1. `train`: the protected model (order-3 Kneser-Ney, cl100k_base, Brown train split).
  2. `keyring new`: labels model:2026-01, model:2026-03, cohort:canary-01 .. -04.
  3. `simulate traffic` (metadata and prompts): six hours, 47,285 exchanges, seed 15 (campaign scale
     0.002); the new model version tm-large-2026-03 is released at 03:00 (half-way).
  4. `campaigns --accounts-out` on the log up to 03:00 only: what was known at the release time.
     The two largest found clusters are campaigns A and B (the simulator's ground truth names their
     operators, for the table only).
  5. The period is served again through `serve --keyring --key-policy --top-k 40` in time order, one
     server per model version (a request goes to the server of the version it asked for): the
     found clusters' accounts (every request), every request for the new version, and every 20th
     other request, at most 200 tokens each. Up to 03:00 the policy has no cohorts (model labels
     only); at 03:00 both servers get the policy with A and B's canary cohorts by SIGHUP.
  6. Harvests from the servers' audit logs: A's accounts, B's accounts, the new version's responses
     (every response with model tm-large-2026-03, campaign or not); students distilled from each;
     (d) a clean control trained on as many bytes of Brown human text. Each answers the 389
     held-out Brown prompts (200 tokens, top-k 40).
  7. `scan --keyring` of each: per label log10 p (Holm over the 6 labels) and the verdict; tokens
     needed: student A's first N answers; false attributions: every student scanned with fresh rings
     (same labels, keys that watermarked nothing) at alpha 1e-6 and 0.05.

`simulate traffic --responses model` would answer every one of the 47,285 exchanges while sampling
the whole 100k vocabulary (about 4,000 tokens/s on this machine: close to an hour); `campaigns`
finds nothing in a period small enough for that. So the traffic is simulated without responses and
the part that matters is served by `serve` itself.

Usage: attribution_campaigns.py PATH/TO/tracemark WORKDIR [--rings N] [--json]
"""
import collections
import decimal
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import replay_requests  # noqa: E402

CACHE = os.path.expanduser(os.environ.get("TRACEMARK_CACHE", "~/.cache/tracemark"))
PROMPTS = os.path.join(REPO, "corpora/prompts/brown-heldout.jsonl")
LABELS = "model:2026-01,model:2026-03,cohort:canary-01,cohort:canary-02,cohort:canary-03,cohort:canary-04"
RELEASE = "2026-03-02T03:00"
OLD, NEW = "tm-large-2026-01", "tm-large-2026-03"
TOKENIZER = ["--tokenizer", "cl100k_base"]


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True).stdout


def accounts_file(path):
    clusters = collections.OrderedDict()
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            account, cluster = line.rstrip("\n").split("\t")
            clusters.setdefault(cluster, []).append(account)
    return clusters


def policy(path, cohorts):
    json.dump({"format": "tracemark-key-policy", "format_version": 1, "default": "model:2026-01",
               "models": {NEW: "model:2026-03"}, "cohorts": cohorts}, open(path + ".tmp", "w"), indent=1)
    os.replace(path + ".tmp", path)


class Server:
    def __init__(self, tracemark, name):
        self.out = open(f"serve-{name}.out", "w+")
        self.process = subprocess.Popen([tracemark, "serve", "--model", "teacher.tmlm", "--model-name", name, "--keyring", "ring.json",
                                         "--key-policy", "policy.json", "--api-keys", "api-keys.txt", "--audit-log", f"served-{name}.jsonl",
                                         "--port", "0", "--threads", "2", "--max-connections-per-address", "2", "--top-k", "40"],
                                        stdout=self.out, stderr=subprocess.STDOUT, text=True)
        self.port = re.match(r"\d+", self.wait_for("listening on http://127.0.0.1:")).group()

    def wait_for(self, text):
        for _ in range(600):
            for line in open(self.out.name):
                if text in line:
                    return line.split(text, 1)[1] if "listening" in text else line
            if self.process.poll() is not None:
                sys.exit("serve stopped: " + open(self.out.name).read())
            time.sleep(0.1)
        sys.exit(f"serve did not print {text!r} in 60 s: " + open(self.out.name).read())

    def stop(self):
        self.process.terminate()
        self.process.wait()


def main():
    tracemark, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    rings = int(sys.argv[sys.argv.index("--rings") + 1]) if "--rings" in sys.argv else 25
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    started = time.time()
    run(tracemark, "train", "--corpus", "brown:train", *TOKENIZER, "--order", "3", "--out", "teacher.tmlm", "--force")
    run(tracemark, "keyring", "new", "--out", "ring.json", "--labels", LABELS, *TOKENIZER, "--force")
    simulation = run(tracemark, "simulate", "traffic", "--out", "period.jsonl", "--truth", "truth.tsv", "--exchanges", "47285",
                     "--scale", "0.002", "--days", "0.25", "--seed", "15", "--force").splitlines()[0]
    log = [json.loads(line) for line in open("period.jsonl")]
    with open("before-release.jsonl", "w") as f:
        for r in log:
            if r["time"] < RELEASE:
                f.write(json.dumps(r) + "\n")
    run(tracemark, "campaigns", "--audit-log", "before-release.jsonl", "--accounts-out", "flagged.tsv", "--threads", "2", "--force")
    truth = {line.split("\t")[0]: line.split("\t")[1] for line in open("truth.tsv") if not line.startswith("#")}
    found = accounts_file("flagged.tsv")
    exchanges = collections.Counter(r["account"] for r in log)
    ranked = sorted(found, key=lambda c: -sum(exchanges[a] for a in found[c]))
    if len(ranked) < 2:
        sys.exit(f"campaigns found {len(ranked)} cluster(s) before the release; the bench needs two")
    campaign = {"A": ranked[0], "B": ranked[1]}
    operator = {k: collections.Counter(truth[a] for a in found[c]).most_common(1)[0][0] for k, c in campaign.items()}
    canary = {"A": "cohort:canary-01", "B": "cohort:canary-02"}
    cohort_of = {a: k for k, c in campaign.items() for a in found[c]}

    # The requests served again, in time order; API keys for their accounts.
    chosen = [r for i, r in enumerate(log) if r["account"] in cohort_of or r["model"] == NEW or i % 20 == 0]
    key_of = {a: "tm-bench-" + hashlib.sha256(a.encode()).hexdigest()[:32] for a in sorted({r["account"] for r in chosen})}
    fd = os.open("api-keys.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.writelines(f"{k} {a}\n" for a, k in key_of.items())
    batches = {(before, model): [] for before in (True, False) for model in (OLD, NEW)}
    for i, r in enumerate(chosen):
        body = {"model": r["model"], "max_tokens": min(r["max_tokens"], 200), "seed": i + 1}
        body["messages" if r["endpoint"] == "/v1/chat/completions" else "prompt"] = r["prompt"]
        batches[(r["time"] < RELEASE, r["model"])].append({"path": r["endpoint"], "key": key_of[r["account"]], "body": body})
    policy("policy.json", [])
    servers = {name: Server(tracemark, name) for name in (OLD, NEW)}
    try:
        for before in (True, False):
            if not before:  # the release time: the canary cohorts go into force on both servers
                policy("policy.json", [{"label": canary[k], "accounts_file": "flagged.tsv", "clusters": [c]} for k, c in campaign.items()])
                for s in servers.values():
                    s.process.send_signal(signal.SIGHUP)
                    s.wait_for("key policy reloaded")
            for name, s in servers.items():
                with open("batch.jsonl", "w") as f:
                    f.writelines(json.dumps(r) + "\n" for r in batches[(before, name)])
                replay_requests.replay(s.port, "batch.jsonl", 2)
    finally:
        for s in servers.values():
            s.stop()

    # Harvests from the audit logs, students, answers.
    served = [json.loads(line) for name in (OLD, NEW) for line in open(f"served-{name}.jsonl") if '"event"' not in line]
    served_labels = collections.Counter((cohort_of.get(r["account"], "other"), r["key_label"]) for r in served)
    harvests = {"a": lambda r: cohort_of.get(r["account"]) == "A", "b": lambda r: cohort_of.get(r["account"]) == "B",
                "c": lambda r: r["model"] == NEW}
    size = {}
    for student, keep in harvests.items():
        with open(f"harvest-{student}.jsonl", "w") as f:
            rows = [r for r in served if keep(r)]
            f.writelines(json.dumps({"text": r["text"], "tokens": r["tokens"]}) + "\n" for r in rows)
        size[student] = (len(rows), sum(len(r["tokens"]) for r in rows), collections.Counter(r["key_label"] for r in rows))
        run(tracemark, "distill", "--teacher-outputs", f"harvest-{student}.jsonl", *TOKENIZER, "--order", "3",
            "--out", f"student-{student}.tmlm", "--force")
    target, total = max(sum(len(json.loads(l)["text"].encode()) for l in open(f"harvest-{s}.jsonl")) for s in harvests), 0
    with open("control-corpus.jsonl", "w") as out:
        for line in open(os.path.join(CACHE, "corpora/brown/train.jsonl")):
            if total >= target:
                break
            out.write(line)
            total += len(json.loads(line)["text"].encode())
    run(tracemark, "train", "--corpus", "control-corpus.jsonl", *TOKENIZER, "--order", "3", "--out", "student-d.tmlm", "--force")
    students = ["a", "b", "c", "d"]
    for s in students:
        run(tracemark, "generate", "--model", f"student-{s}.tmlm", "--prompts", PROMPTS, "--max-tokens", "200", "--top-k", "40",
            "--seed", "7", "--threads", "2", "--out", f"suspect-{s}.jsonl", "--force")

    def scan(ring, suspect, alpha="1e-6"):
        # p-values below 1e-308 are written as exact JSON numbers: read them as decimals, not floats.
        text = run(tracemark, "scan", "--keyring", ring, "--suspect", suspect, "--json", "--alpha", alpha)
        return json.loads(text, parse_float=decimal.Decimal)["attribution"]

    def log10(p):
        p = decimal.Decimal(str(p))
        return float("-inf") if p == 0 else float(p.log10())

    table = {}
    for s in students:
        a = scan("ring.json", f"suspect-{s}.jsonl")
        table[s] = {"verdict": a["attributed_to"] or a["verdict"], "scored": a["labels"][0]["scored"],
                    "log10_p": {l["label"]: log10(l["holm_p_value"]) for l in a["labels"]}}
    answers = open("suspect-a.jsonl").read().splitlines()
    needed = []
    for n in (1, 2, 3, 6, 12, 25, 50, 100, len(answers)):
        with open("part.jsonl", "w") as f:
            f.write("\n".join(answers[:n]) + "\n")
        a = scan("ring.json", "part.jsonl")
        label = {l["label"]: l for l in a["labels"]}[canary["A"]]
        needed.append({"answers": n, "scored": label["scored"], "log10_p": log10(label["holm_p_value"]),
                       "verdict": a["attributed_to"] or a["verdict"]})
    false = {"1e-6": 0, "0.05": 0}
    scans = label_tests = raw_below_005 = 0  # each label's own test, uncorrected: its calibration
    for _ in range(rings):
        run(tracemark, "keyring", "new", "--out", "fresh.json", "--labels", LABELS, *TOKENIZER, "--force")
        for s in students:
            scans += 1
            for alpha in false:
                a = scan("fresh.json", f"suspect-{s}.jsonl", alpha)
                false[alpha] += a["attributed_to"] is not None
            label_tests += len(a["labels"])
            raw_below_005 += sum(decimal.Decimal(str(l["p_value"])) < decimal.Decimal("0.05") for l in a["labels"])
    result = {"simulation": simulation, "found_before_release": {c: len(a) for c, a in found.items()},
              "campaigns": {k: {"cluster": campaign[k], "accounts": len(found[campaign[k]]), "operator": operator[k]} for k in campaign},
              "served": {f"{g} {l}": n for (g, l), n in sorted(served_labels.items())},
              "harvests": {s: {"responses": n, "tokens": t, "labels": dict(l)} for s, (n, t, l) in size.items()},
              "students": table, "tokens_needed": needed, "fresh_ring_scans": scans, "false_attributions": false,
              "fresh_label_tests": label_tests, "fresh_label_p_below_0.05": raw_below_005,
              "seconds": round(time.time() - started)}
    json.dump(result, open("result.json", "w"), indent=1)
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
        return
    print(simulation)
    print("found before the release (03:00): " + ", ".join(f"{c} {n} accounts" for c, n in result["found_before_release"].items()))
    for k, info in result["campaigns"].items():
        print(f"campaign {k}: {info['cluster']}, {info['accounts']} accounts (ground truth: {info['operator']}), {canary[k]} from 03:00")
    print("served: " + "; ".join(f"{k}: {v}" for k, v in result["served"].items()))
    for s, h in result["harvests"].items():
        print(f"harvest ({s}): {h['responses']} responses, {h['tokens']} tokens, by label {h['labels']}")
    names = {"a": "(a) campaign A's harvest", "b": "(b) campaign B's harvest", "c": "(c) new version's responses only", "d": "(d) clean (Brown)"}
    labels = LABELS.split(",")
    print("\n| student | scored tuples | " + " | ".join(labels) + " | attribution |")
    print("|---|---|" + "---|" * len(labels) + "---|")
    for s, row in table.items():
        print(f"| {names[s]} | {row['scored']} | " + " | ".join(f"{row['log10_p'][l]:.1f}" for l in sorted(row["log10_p"], key=labels.index))
              + f" | {row['verdict']} |")
    print("\n| student A answers | scored tuples | log10 p under " + canary["A"] + " | attribution |\n|---|---|---|---|")
    for row in needed:
        print(f"| {row['answers']} | {row['scored']} | {row['log10_p']:.1f} | {row['verdict']} |")
    print(f"\nFresh rings: {rings} rings x 4 students = {scans} scans; false attributions at alpha 1e-6: {false['1e-6']}, "
          f"at alpha 0.05: {false['0.05']} (nominal at most {0.05 * scans:.1f}); single-label tests (uncorrected) with p < 0.05: "
          f"{raw_below_005} of {label_tests} (nominal {0.05 * label_tests:.0f}). Took {result['seconds']} s.")


if __name__ == "__main__":
    main()
