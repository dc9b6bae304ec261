#!/usr/bin/python3
"""Per-family evidence of benign accounts, from `tracemark campaigns --evidence-out` on traffic whose
truth is known (`simulate traffic --truth`): the share of benign accounts (of all benign accounts
with traffic) passing each family's threshold, two families, and quantiles of each family's
evidence among benign community members. This is how the thresholds were chosen (on a benign-only
calibration day) and how they are checked on other days.

Usage: campaigns_calibration.py TRUTH.tsv EVIDENCE.tsv [--json]
"""
import json
import sys


def main():
    truth = {}
    for line in open(sys.argv[1]):
        if line.startswith("#"):
            continue
        fields = line.rstrip("\n").split("\t")
        truth[fields[0]] = (fields[1], fields[2])
    rows = []
    for line in open(sys.argv[2]):
        if line.startswith("#"):
            continue
        account, community, size, infra, content, timing, passed = line.rstrip("\n").split("\t")
        if truth.get(account, ("benign",))[0] != "benign":
            continue
        rows.append((account, int(size), float(infra), float(content), float(timing), passed.split(",") if passed != "-" else []))
    benign = sum(1 for label, kind in truth.values() if label == "benign")
    out = {"benign_accounts": benign, "benign_in_communities": len(rows), "pass_rate": {}, "quantiles_nats": {}, "two_families": 0}
    for i, family in enumerate(["infrastructure", "content", "timing"]):
        values = sorted(r[2 + i] for r in rows)
        passing = sum(1 for r in rows if family in r[5])
        out["pass_rate"][family] = passing / benign if benign else 0
        out["quantiles_nats"][family] = {q: values[min(len(values) - 1, int(q * len(values)))] if values else 0
                                         for q in (0.5, 0.9, 0.99, 0.999, 1.0)}
    # The smallest threshold, in steps of half the feature cap, that at most `target` of all benign
    # accounts pass: how the defaults were chosen on the calibration day.
    cap, target = 6.907755, 0.01
    out["suggested_thresholds_in_caps"] = {}
    for i, family in enumerate(["infrastructure", "content", "timing"]):
        step = 1
        while sum(1 for r in rows if r[2 + i] >= step * cap / 2) > target * benign:
            step += 1
        out["suggested_thresholds_in_caps"][family] = step / 2
    two = [r for r in rows if len(r[5]) >= 2]
    out["two_families"] = len(two)
    out["two_family_kinds"] = {}
    for r in two:
        kind = truth[r[0]][1]
        out["two_family_kinds"][kind] = out["two_family_kinds"].get(kind, 0) + 1
    if "--json" in sys.argv:
        print(json.dumps(out))
        return
    print(f"benign accounts: {benign} ({len(rows)} in communities of two or more)")
    for family in ("infrastructure", "content", "timing"):
        q = out["quantiles_nats"][family]
        print(f"  {family}: pass rate {out['pass_rate'][family]:.5f}; nats median {q[0.5]:.2f}, 90% {q[0.9]:.2f}, "
              f"99% {q[0.99]:.2f}, 99.9% {q[0.999]:.2f}, max {q[1.0]:.2f}")
    print(f"  two families: {len(two)} accounts {out['two_family_kinds']}")
    print(f"  thresholds that at most 1% of benign accounts pass (in feature caps): {out['suggested_thresholds_in_caps']}")


if __name__ == "__main__":
    main()
