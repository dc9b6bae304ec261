#!/usr/bin/python3
"""Attribution through the command line (issue 15): which cohort's harvest, or which model version,
did a student learn from?

A ring with labels model:v1, model:v2, cohort:campaign-a, cohort:campaign-b. Campaign A's and B's
accounts are served under their canary cohort keys (as after `campaigns` found them); ordinary
traffic of the new model version v2 under model:v2. n-gram students are trained on (a) campaign A's
harvest, (b) campaign B's, (c) only v2's responses, (d) clean text (the v1 teacher unwatermarked),
and answer prompts they never saw. Each is scanned with `scan --keyring`:
  - per student and label: log10 p (Holm over the 4 labels) and the attribution verdict;
  - how many suspect tokens attribution needs (student A, growing numbers of responses);
  - false attributions: every student scanned with FRESH rings (keys it never saw) at alpha 1e-6 and
    at alpha 0.05: any attribution there is false, and must happen at the nominal rate or below.
Not simulated here: serving traffic through `serve` and finding the campaigns with `campaigns`.

Usage: attribution_students.py PATH/TO/tracemark WORKDIR [--rings N] [--json]
"""
import decimal
import json
import os
import random
import subprocess
import sys

LABELS = "model:v1,model:v2,cohort:campaign-a,cohort:campaign-b"


def run(*args):
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def write_jsonl(path, records):
    with open(path, "w") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")


def main():
    tracemark, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    rings = int(sys.argv[sys.argv.index("--rings") + 1]) if "--rings" in sys.argv else 20
    os.makedirs(work, exist_ok=True)
    os.chdir(work)
    r = random.Random(15)
    # Two model versions: teachers trained on differently skewed corpora of 1,000 ids.
    for version, power in (("v1", 3.0), ("v2", 2.0)):
        write_jsonl(f"corpus-{version}.jsonl",
                    ({"id": d, "tokens": [int(r.random() ** power * 1000) for _ in range(300)]} for d in range(300)))
        run(tracemark, "train", "--corpus", f"corpus-{version}.jsonl", "--vocab-size", "1000", "--order", "3",
            "--out", f"teacher-{version}.tmlm", "--force")
    for name, start in (("harvest-prompts", 0), ("new-prompts", 5000)):
        write_jsonl(f"{name}.jsonl", ({"id": f"p{i}", "prompt_tokens": [i % 1000, (7 * i + 3) % 1000]}
                                      for i in range(start, start + 300)))
    run(tracemark, "keyring", "new", "--out", "ring.json", "--labels", LABELS, "--vocab-size", "1000", "--force")
    served = {"a": ("v1", "cohort:campaign-a"), "b": ("v1", "cohort:campaign-b"), "c": ("v2", "model:v2"), "d": ("v1", None)}
    for student, (version, label) in served.items():
        key_args = []
        if label:
            run(tracemark, "keyring", "derive", "ring.json", label, "--out", f"key-{student}.json", "--force")
            key_args = ["--key", f"key-{student}.json"]
        run(tracemark, "generate", "--model", f"teacher-{version}.tmlm", "--prompts", "harvest-prompts.jsonl", "--seed", "1",
            "--out", f"harvest-{student}.jsonl", "--force", *key_args)
        run(tracemark, "distill", "--teacher-outputs", f"harvest-{student}.jsonl", "--vocab-size", "1000", "--order", "3",
            "--out", f"student-{student}.tmlm", "--force")
        run(tracemark, "generate", "--model", f"student-{student}.tmlm", "--prompts", "new-prompts.jsonl", "--seed", "2",
            "--out", f"suspect-{student}.jsonl", "--force")

    def scan(ring, suspect, alpha="1e-6"):
        # p-values below 1e-308 are written as exact JSON numbers: read them as decimals, not floats.
        text = run(tracemark, "scan", "--keyring", ring, "--suspect", suspect, "--json", "--alpha", alpha)
        return json.loads(text, parse_float=decimal.Decimal)["attribution"]

    table = {}
    for student in served:
        a = scan("ring.json", f"suspect-{student}.jsonl")
        table[student] = {"verdict": a["attributed_to"] or a["verdict"],
                          "log10_p": {l["label"]: float(decimal.Decimal(str(l["holm_p_value"])).log10()) for l in a["labels"]},
                          "scored": a["labels"][0]["scored"]}
    # Tokens needed: student A's first N responses (200 tokens each).
    suspect_a = open("suspect-a.jsonl").read().splitlines()
    needed = []
    for n in (1, 2, 4, 8, 16, 32, 64):
        with open("part.jsonl", "w") as f:
            f.write("\n".join(suspect_a[:n]) + "\n")
        a = scan("ring.json", "part.jsonl")
        needed.append({"responses": n, "scored": a["labels"][0]["scored"], "verdict": a["attributed_to"] or a["verdict"]})
    # False attributions: fresh rings the students never saw.
    false = {"1e-6": 0, "0.05": 0}
    scans = 0
    for i in range(rings):
        run(tracemark, "keyring", "new", "--out", "fresh.json", "--labels", LABELS, "--vocab-size", "1000", "--force")
        for student in served:
            scans += 1
            for alpha in false:
                false[alpha] += scan("fresh.json", f"suspect-{student}.jsonl", alpha)["attributed_to"] is not None
    result = {"students": table, "tokens_needed": needed, "fresh_ring_scans": scans, "false_attributions": false}
    if "--json" in sys.argv:
        print(json.dumps(result, indent=2))
        return
    names = {"a": "(a) campaign A's harvest", "b": "(b) campaign B's harvest", "c": "(c) v2 responses only", "d": "(d) clean"}
    print("| student | scored tuples | " + " | ".join(LABELS.split(",")) + " | attribution |")
    print("|---|---|" + "---|" * len(LABELS.split(",")) + "---|")
    for student, row in table.items():
        cells = [f"{row['log10_p'][l]:.1f}" for l in LABELS.split(",")]
        print(f"| {names[student]} | {row['scored']} | " + " | ".join(cells) + f" | {row['verdict']} |")
    print("\nCells: log10 p of each label's test, Holm over the 4 labels.")
    print("\n| student A responses | scored tuples | attribution |\n|---|---|---|")
    for row in needed:
        print(f"| {row['responses']} | {row['scored']} | {row['verdict']} |")
    print(f"\nFresh rings: {scans} scans of the 4 students; false attributions at alpha 1e-6: {false['1e-6']}, "
          f"at alpha 0.05: {false['0.05']} (nominal at most {0.05 * scans:.1f})")


if __name__ == "__main__":
    main()
