#!/usr/bin/python3
"""Scores `tracemark campaigns --accounts-out` against `tracemark simulate traffic --truth`.

Usage: campaigns_score.py TRUTH.tsv FLAGGED.tsv [--json]
Prints, per operator, its accounts, how many were flagged (recall) and the precision of the cluster
(s) that hold them; and the benign accounts flagged per 10,000 benign accounts with their kinds
(hard cases). Benign accounts are counted among those with at least one exchange in the log when
the truth file lists them (the simulator lists every account it created).
"""
import collections
import json
import sys


def read_tsv(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            rows.append(line.rstrip("\n").split("\t"))
    return rows


def main():
    truth_path, flagged_path = sys.argv[1], sys.argv[2]
    truth = {r[0]: (r[1], r[2], r[3] if len(r) > 3 else "") for r in read_tsv(truth_path)}
    flagged = {r[0]: r[1] for r in read_tsv(flagged_path)}
    operators = collections.defaultdict(list)
    benign = 0
    for account, (label, kind, detail) in truth.items():
        if label == "benign":
            benign += 1
        else:
            operators[label].append(account)
    out = {"operators": {}, "benign_accounts": benign}
    for op, accounts in sorted(operators.items()):
        found = [a for a in accounts if a in flagged]
        clusters = {flagged[a] for a in found}
        in_clusters = [a for a, c in flagged.items() if c in clusters]
        correct = sum(1 for a in in_clusters if truth.get(a, ("?",))[0] == op)
        out["operators"][op] = {
            "accounts": len(accounts),
            "flagged": len(found),
            "recall": round(len(found) / len(accounts), 4) if accounts else None,
            "clusters": len(clusters),
            "precision": round(correct / len(in_clusters), 4) if in_clusters else None,
        }
    benign_flagged = [a for a in flagged if truth.get(a, ("benign",))[0] == "benign"]
    kinds = collections.Counter()
    for a in benign_flagged:
        label, kind, detail = truth.get(a, ("benign", "unknown", ""))
        kinds[kind + (" (" + detail + ")" if detail else "")] += 1
    out["benign_flagged"] = len(benign_flagged)
    out["benign_flagged_per_10000"] = round(1e4 * len(benign_flagged) / benign, 3) if benign else None
    out["benign_flagged_kinds"] = dict(kinds.most_common())
    if "--json" in sys.argv:
        print(json.dumps(out))
        return
    for op, r in out["operators"].items():
        print(f"{op}: {r['flagged']}/{r['accounts']} flagged (recall {r['recall']}), {r['clusters']} cluster(s), precision {r['precision']}")
    print(f"benign: {out['benign_flagged']} of {benign} flagged ({out['benign_flagged_per_10000']} per 10,000)")
    for kind, n in kinds.most_common():
        print(f"  {n} {kind}")


if __name__ == "__main__":
    main()
