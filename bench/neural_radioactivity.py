#!/usr/bin/env python3
"""Radioactivity of neural students (issue 17): how much of a green-list watermark a small
transformer student inherits from a harvest mixed with clean text, against an n-gram student of
the same mix, through the tracemark command line.

  teacher  = `train` on the Brown training split (cl100k_base, order 3); a key (gamma 0.25, delta 2,
             context width --width); watermarked answers (200 tokens, top-k 40) to
             --harvest-responses Brown held-out prompts: the harvest, and the reference log
  students = `distill --student transformer` (and `--student ngram`, order 3) on the harvest mixed
             with brown:train text so that --fractions of the training tokens are the harvest's;
             every transformer gets the same --steps (so the same compute), which means more
             epochs over a small harvest
  suspect  = answers (200 tokens, top-k 40, no key) of each student to --suspect-responses prompts,
             for each set in --suspect-prompts: `unseen`, nlp-corpus's held-out prompts, which the
             teacher never answered; `harvest`, the prompts of the harvest's answers the students
             trained on (the provider's own log of what the flagged accounts asked), cycled; both are
             human text, so a student's answers stay independent of the key under the null. Scanned
             at 10k, 100k and all of them, with the key, without and with --reference-log (the
             harvest as served)
  control  = --fractions 0 trains the same student on brown:train alone (`train`), the innocent
             model: its answers are scanned with the real key as well as with fresh keys
  null     = the same answers scanned with --null-keys fresh keys: the fractions of p < 0.05 and
             p < 0.01 (each student is innocent of keys it never met)
  quality  = each student's perplexity on the Brown null split

Usage: bench/neural_radioactivity.py [--build build/release] [--work out/bench-neural] [--width 2]
       [--fractions 1,0.25,0.05] [--steps 1500] [--layers 3] [--d-model 192] [--harvest-responses 1555]
       [--suspect-responses 500] [--suspect-prompts unseen,harvest] [--kinds ngram,transformer]
       [--null-keys 200] [--threads 2]
Writes results.json into the work folder after every student (a rerun skips finished files) and
prints Markdown tables.
"""
import argparse
import json
import math
import re
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan_validity_power import Experiment, run  # noqa: E402  (shared command helpers)


class NeuralExperiment(Experiment):
    def student(self, kind, fraction, harvest):
        out = self.path(f"student-{kind}-{fraction}.tm")
        if os.path.exists(out):
            return out, None
        if fraction == 0:  # the innocent control: the same student on the clean text alone
            args = [self.tm, "train", "--model", kind, "--corpus", self.split("brown", "train"),
                    "--tokenizer", "cl100k_base", "--out", out]
        else:
            args = [self.tm, "distill", "--student", kind, "--teacher-outputs", harvest, "--tokenizer",
                    "cl100k_base", "--out", out]
        if 0 < fraction < 1:
            args += ["--mix-clean", self.split("brown", "train"), "--fraction", fraction]
        if kind == "transformer":
            args += ["--layers", self.o.layers, "--width", self.o.d_model, "--heads", self.o.heads, "--context-length",
                     self.o.context, "--steps", self.o.steps, "--batch-size", self.o.batch, "--torch-threads", self.threads]
        else:
            args += ["--order", "3"]
        started = time.time()
        log = run(args)
        print(log.strip(), flush=True)
        used = re.search(r"\((\d+) of \d+ responses\)", log)
        if used:  # the harvest answers the student trained on: the first N (distillation_mix)
            with open(out + ".used", "w") as f:
                f.write(used.group(1))
        return out, round(time.time() - started, 1)

    def harvest_prompts(self, harvest):
        """The prompts of the harvest answers that every student of this run trained on (the
        smallest positive fraction uses the fewest: the first N answers), cycled to
        --suspect-responses records."""
        out = self.path(f"prompts-harvest-{self.o.suspect_responses}.jsonl")
        if os.path.exists(out):
            return out
        used = [int(open(self.path(f"student-{kind}-{fraction}.tm.used")).read())
                for fraction in self.o.fractions if 0 < fraction < 1 for kind in self.o.kinds
                if os.path.exists(self.path(f"student-{kind}-{fraction}.tm.used"))]
        with open(harvest) as f:
            answers = [json.loads(line)["prompt"] for line in f if line.strip()]
        base = list(dict.fromkeys(answers[:min(used)] if used else answers))  # distinct, in serving order
        with open(out, "w") as f:
            for i in range(self.o.suspect_responses):
                f.write(json.dumps({"id": f"h{i}", "prompt": base[i % len(base)]}) + "\n")
        return out

    def answers(self, student, prompts, tag):
        out = self.path(f"suspect-{tag}.jsonl")
        started = time.time()
        self.generate(student, prompts, out, 2000)
        return out, round(time.time() - started, 1)

    def perplexity(self, model):
        figures = run([self.tm, "perplexity", "--model", model, "--input", self.split("brown", "null"), "--json"])
        return json.loads(figures.strip().splitlines()[-1])["perplexity"]

    def null_fractions(self, suspect, count):
        keys = [self.keygen(f"null-{i}", self.o.width) for i in range(count)]
        p_values = []
        for start in range(0, count, 50):  # one scan per 50 keys: the raw per-key p-values
            args = [self.tm, "scan", "--suspect", suspect, "--json", "--threads", self.threads]
            for key in keys[start:start + 50]:
                args += ["--key", key]
            document = json.loads(run(args))
            p_values += [10 ** k["log10_p"] for k in document["suspect"]["keys"]]  # each key's own p
        return {"keys": count, "below_0.05": sum(p < 0.05 for p in p_values) / count,
                "below_0.01": sum(p < 0.01 for p in p_values) / count, "min_log10_p": math.log10(min(p_values))}

    def cells(self):
        teacher = self.teacher()
        key = self.keygen(f"neural-h{self.o.width}", self.o.width)
        harvest = self.generate(teacher, self.prompts("brown-heldout.jsonl", self.o.harvest_responses, "t"),
                                self.path("harvest.jsonl"), 1000, key)
        results_path = self.path("results.json")
        rows = json.load(open(results_path))["rows"] if os.path.exists(results_path) else []
        done = {(r["kind"], r["fraction"], r.get("prompts", "unseen")) for r in rows}
        train_seconds_of = {}
        for fraction in sorted(self.o.fractions, key=lambda f: f == 0):  # the control last: it asks the
            for kind in self.o.kinds:                                       # prompts the students trained on
                for prompt_set in self.o.suspect_prompts:
                    if (kind, fraction, prompt_set) in done:
                        continue
                    student, seconds = self.student(kind, fraction, harvest)
                    train_seconds_of.setdefault(student, seconds)
                    prompts = (self.harvest_prompts(harvest) if prompt_set == "harvest" else
                               self.prompts("nlp-corpus-heldout.jsonl", self.o.suspect_responses, "s"))
                    tag = f"{kind}-{fraction}" + ("-harvest" if prompt_set == "harvest" else "")
                    rows.append(self.cell(key, harvest, kind, fraction, prompt_set, student,
                                          train_seconds_of[student], prompts, tag))
                    with open(results_path, "w") as f:
                        json.dump({"settings": vars(self.o), "rows": rows}, f, indent=1)
        return rows

    def cell(self, key, harvest, kind, fraction, prompt_set, student, train_seconds, prompts, tag):
        suspect, generate_seconds = self.answers(student, prompts, tag)
        row = {"kind": kind, "fraction": fraction, "prompts": prompt_set, "train_seconds": train_seconds,
               "generate_seconds": generate_seconds, "perplexity_brown_null": self.perplexity(student),
               "scans": []}
        for responses in sorted({50, 500, self.o.suspect_responses}):
            if responses > self.o.suspect_responses:
                continue
            part = self.head(suspect, responses, self.path(f"suspect-{tag}-{responses}.jsonl"))
            row["scans"].append({"responses": responses, "plain": self.scan(key, part),
                                 "with_log": self.scan(key, part, harvest)})
        row["null"] = self.null_fractions(suspect, self.o.null_keys)
        print(json.dumps(row), flush=True)
        return row


def tables(rows):
    lines = ["| student | harvest share | prompts | suspect tokens | scored tuples | green rate | log10 p |"
             " log10 p, reference log | ppl Brown null |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for s in r["scans"]:
            lines.append("| %s | %g%% | %s | %d | %d | %.4f | %.1f | %.1f | %.0f |" % (
                r["kind"], 100 * r["fraction"], r.get("prompts", "unseen"), s["plain"]["tokens"], s["plain"]["scored"], s["plain"]["green_rate"],
                s["plain"]["log10_p"], s["with_log"]["log10_p"], r["perplexity_brown_null"]))
    lines += ["", "| student | harvest share | prompts | fresh keys | p < 0.05 | p < 0.01 | lowest log10 p |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        n = r["null"]
        lines.append("| %s | %g%% | %s | %d | %.3f | %.3f | %.2f |" % (r["kind"], 100 * r["fraction"],
                                                                   r.get("prompts", "unseen"), n["keys"],
                                                              n["below_0.05"], n["below_0.01"], n["min_log10_p"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--work", default="out/bench-neural")
    parser.add_argument("--width", type=int, default=2)
    parser.add_argument("--fractions", default="1,0.25,0.05")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--d-model", type=int, default=192)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--harvest-responses", type=int, default=1555)
    parser.add_argument("--suspect-responses", type=int, default=500)
    parser.add_argument("--suspect-prompts", default="unseen", help="comma list of unseen, harvest")
    parser.add_argument("--kinds", default="ngram,transformer", help="comma list of ngram, transformer")
    parser.add_argument("--null-keys", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompts-dir", default=None)
    options = parser.parse_args()
    options.fractions = [float(f) for f in options.fractions.split(",")]
    options.suspect_prompts = options.suspect_prompts.split(",")
    options.kinds = options.kinds.split(",")
    for name, values, allowed in [("--suspect-prompts", options.suspect_prompts, {"unseen", "harvest"}),
                                  ("--kinds", options.kinds, {"ngram", "transformer"})]:
        if not set(values) <= allowed:
            parser.error(f"{name}: each of {sorted(allowed)}")
    if any(not 0 <= f <= 1 for f in options.fractions):
        parser.error("--fractions: each in [0, 1]; 0 is the clean control")
    options.order = 3
    experiment = NeuralExperiment(options)
    started = time.time()
    rows = experiment.cells()
    print(tables(rows))
    print(f"\n{time.time() - started:.0f} s wall")


if __name__ == "__main__":
    main()
