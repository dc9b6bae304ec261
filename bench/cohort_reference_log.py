#!/usr/bin/python3
"""A cohort's reference log as a second line of attribution (issue 15, parts 3 and 4): all traffic is
served under ONE key, and yet the scan tells whose harvest a student learned from.

Through the command line only:
  1. a teacher n-gram model (train --tokenizer gpt2 on the Brown train split of the corpora cache);
  2. `simulate traffic --responses model`: a period of serving traffic with planted campaigns, every
     exchange answered by the teacher and watermarked with the one key;
  3. `campaigns --accounts-out flagged.tsv`: the campaigns are found (ACCOUNT<TAB>CLUSTER);
  4. students distilled from each found campaign's harvest (its accounts' served responses), and a
     clean student (the teacher's own text, unwatermarked), answering held-out Brown prompts;
  5. each student scanned under the one key with `--reference-log` restricted to each cluster's
     accounts, with and without `--only-cohort-contexts`.
Figures: per student and per cohort, log10 p and scored tuples; and false alarms: every student
scanned with fresh keys (keys that watermarked nothing) on every cohort, count of p < 0.05 against
its nominal rate.

Status: written with issue 15 but NOT yet run (the build machine was saturated); no figure in
docs/BENCHMARKS.md comes from it yet.

Usage: cohort_reference_log.py PATH/TO/tracemark WORKDIR [--exchanges N] [--fresh-keys K] [--json]
"""
import decimal
import json
import os
import subprocess
import sys

CORPORA = os.path.expanduser(os.environ.get("TRACEMARK_CORPORA", "~/.cache/tracemark/corpora"))


def run(*args):
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def arg(name, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def log10_of(p):
    return float(decimal.Decimal(str(p)).log10()) if decimal.Decimal(str(p)) > 0 else float("-inf")


def main():
    tracemark, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    exchanges, fresh_keys = arg("--exchanges", 6000), arg("--fresh-keys", 10)
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    run(tracemark, "train", "--corpus", f"{CORPORA}/brown/train.jsonl", "--tokenizer", "gpt2", "--order", "3",
        "--out", "teacher.tmlm", "--force")
    run(tracemark, "keygen", "--out", "key.json", "--tokenizer", "gpt2", "--context-width", "2", "--force")
    summary = run(tracemark, "simulate", "traffic", "--out", "log.jsonl", "--truth", "truth.tsv", "--exchanges", str(exchanges),
                  "--scale", "0.0004", "--days", "0.25", "--seed", "15", "--responses", "model", "--model", "teacher.tmlm",
                  "--key", "key.json", "--force")
    run(tracemark, "campaigns", "--audit-log", "log.jsonl", "--accounts-out", "flagged.tsv", "--force")
    truth = {}
    for line in open("truth.tsv"):
        if not line.startswith("#"):
            account, label = line.rstrip("\n").split("\t")[:2]
            truth[account] = label
    clusters = {}
    for line in open("flagged.tsv"):
        if not line.startswith("#") and line.strip():
            account, cluster = line.rstrip("\n").split("\t")
            clusters.setdefault(cluster, []).append(account)
    # Each cluster is named by the operator most of its accounts belong to (ground truth).
    operator_of = {c: max(set(truth[a] for a in accounts), key=[truth[a] for a in accounts].count)
                   for c, accounts in clusters.items()}
    # Harvests: each found cluster's served responses; students distilled from them.
    students = {}
    lines = [json.loads(l) for l in open("log.jsonl")]
    for cluster, accounts in sorted(clusters.items()):
        members = set(accounts)
        with open(f"harvest-{cluster}.jsonl", "w") as f:
            for r in lines:
                if r.get("account") in members and r.get("tokens"):
                    f.write(json.dumps({"tokens": r["tokens"], "text": r["text"]}) + "\n")
        run(tracemark, "distill", "--teacher-outputs", f"harvest-{cluster}.jsonl", "--tokenizer", "gpt2", "--order", "3",
            "--out", f"student-{cluster}.tmlm", "--force")
        students[f"harvest of {cluster} ({operator_of[cluster]})"] = f"student-{cluster}.tmlm"
    students["clean (teacher, unwatermarked)"] = "teacher.tmlm"
    suspects = {}
    for i, (name, model) in enumerate(students.items()):
        run(tracemark, "generate", "--model", model, "--prompts", f"{CORPORA}/brown/brown-heldout.prompts.jsonl",
            "--max-tokens", "200", "--seed", str(100 + i), "--out", f"suspect-{i}.jsonl", "--force")
        suspects[name] = f"suspect-{i}.jsonl"

    def scan(key, suspect, cluster, only):
        args = [tracemark, "scan", "--key", key, "--suspect", suspect, "--reference-log", "log.jsonl",
                "--cohort-accounts", "flagged.tsv", "--cohort", cluster, "--json"]
        if only:
            args.append("--only-cohort-contexts")
        result = json.loads(run(*args), parse_float=decimal.Decimal)
        k = result["suspect"]["keys"][0]
        return {"log10_p": log10_of(k["p_value"]), "scored": k["scored"],
                "contexts": result["reference_log"][0]["contexts_kept"]}

    table = {}
    for name, suspect in suspects.items():
        table[name] = {f"{c}{' only' if only else ''}": scan("key.json", suspect, c, only)
                       for c in sorted(clusters) for only in (False, True)}
    flagged = scans = 0
    for i in range(fresh_keys):
        run(tracemark, "keygen", "--out", "fresh.json", "--tokenizer", "gpt2", "--context-width", "2", "--force")
        for suspect in suspects.values():
            for c in sorted(clusters):
                for only in (False, True):
                    scans += 1
                    flagged += scan("fresh.json", suspect, c, only)["log10_p"] < -1.3010299956639813
    result = {"simulation": summary.strip(), "clusters": {c: {"accounts": len(a), "operator": operator_of[c]} for c, a in clusters.items()},
              "table": table, "fresh_key_scans": scans, "fresh_key_p_below_0.05": flagged}
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
        return
    print(summary.strip())
    for c, info in sorted(result["clusters"].items()):
        print(f"found {c}: {info['accounts']} accounts, mostly {info['operator']}")
    columns = list(next(iter(table.values())).keys())
    print("\n| student | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for name, row in table.items():
        print(f"| {name} | " + " | ".join(f"{row[c]['log10_p']:.1f} ({row[c]['scored']})" for c in columns) + " |")
    print("\nCells: log10 p of the one key's test on the cohort's contexts (scored tuples); 'only': contexts no other "
          "account was served.")
    print(f"Fresh keys: {scans} scans, p < 0.05 in {flagged} (nominal {0.05 * scans:.1f})")


if __name__ == "__main__":
    main()
