#!/usr/bin/env python3
"""What attacks on the harvest cost the distiller, and what they cost us (issue 17), with n-gram
students, through the tracemark command line.

  teacher   = `train` on the Brown training split (cl100k_base, order 3); one key (gamma 0.25,
              delta 2, context width --width); watermarked answers to TEACHER_RESPONSES held-out
              Brown prompts (200 tokens each, top-k 40): the harvest, and the reference log
  other     = a second teacher (`train` on the nlp-corpus training split), unwatermarked answers to
              the same prompts: "other teachers' outputs" for the mix attack
  attack    = `tracemark attack paraphrase | mix | scrub` at each strength (seed 1)
  student   = `distill` (order 3) on the attacked harvest only
  suspect   = SUSPECT_RESPONSES answers of the student (no key) to held-out nlp-corpus prompts
  evidence  = `scan --key` log10 p on the suspect, without and with --reference-log (the harvest
              as served, before the attack: the provider's log)
  quality   = the student's perplexity on the Brown null split (human text no teacher or student
              trained on), and the attacked harvest's perplexity under an order-3 model of that
              same split (attack --quality-model). Scrub's reference text is brown:heldout, kept
              apart from both, so its replacements are not scored by a model trained on them.

Usage: bench/attack_tradeoff.py [--build build/release] [--work out/bench-attack] [--width 1]
       [--teacher-responses 778] [--suspect-responses 250] [--threads 2]
Prints a Markdown table (and writes results.json into the work folder). Needs tools/setup.sh
(tokenizers, corpora, wordnet-base).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan_validity_power import Experiment, run  # noqa: E402  (shared command helpers)

ATTACKS = [
    ("none", [0.0]),
    ("paraphrase", [0.1, 0.25, 0.5]),
    ("synonym", [0.25, 0.5, 1.0]),
    ("mix", [0.5, 0.75, 0.9, 0.95]),
    ("scrub", [0.5, 1.0]),
    ("scrub-h2", [1.0]),  # the attacker guesses the wrong context width
]


class AttackExperiment(Experiment):
    def other_teacher(self):
        out = self.path("other-teacher.tm")
        if not os.path.exists(out):
            run([self.tm, "train", "--corpus", self.split("nlp-corpus", "train"), "--tokenizer", "cl100k_base",
                 "--order", "3", "--out", out])
        return out

    def eval_model(self):
        out = self.path("eval-brown-null.tm")
        if not os.path.exists(out):
            run([self.tm, "train", "--corpus", self.split("brown", "null"), "--tokenizer", "cl100k_base",
                 "--order", "3", "--out", out])
        return out

    def attack(self, name, strength, harvest, other):
        out = self.path(f"attacked-{name}-{strength}.jsonl")
        common = ["--harvest", harvest, "--out", out, "--strength", strength, "--seed", "1", "--json", "--force",
                  "--quality-model", self.eval_model()]
        if name == "none":
            return harvest, {}
        if name == "paraphrase":
            args = ["paraphrase", "--tokenizer", "cl100k_base"]
        elif name == "synonym":
            args = ["paraphrase", "--tokenizer", "cl100k_base", "--edits", "synonym"]
        elif name == "mix":
            args = ["mix", "--other", other]
        else:
            width = "2" if name == "scrub-h2" else str(self.o.width)
            args = ["scrub", "--tokenizer", "cl100k_base", "--reference", self.split("brown", "heldout"),
                    "--context-width", width]
        return out, json.loads(run([self.tm, "attack", *args, *common]))

    def student_perplexity(self, student):
        figures = run([self.tm, "perplexity", "--model", student, "--input", self.split("brown", "null"), "--json"])
        return json.loads(figures.strip().splitlines()[-1])["perplexity"]

    def tradeoff(self):
        teacher = self.teacher()
        key = self.keygen(f"attack-h{self.o.width}", self.o.width)
        teacher_prompts = self.prompts("brown-heldout.jsonl", self.o.teacher_responses, "t")
        suspect_prompts = self.prompts("nlp-corpus-heldout.jsonl", self.o.suspect_responses, "s")
        harvest = self.generate(teacher, teacher_prompts, self.path("harvest.jsonl"), 1000, key)
        other = self.generate(self.other_teacher(), teacher_prompts, self.path("other.jsonl"), 1001)
        rows = []
        for name, strengths in ATTACKS:
            for strength in strengths:
                started = time.time()
                attacked, figures = self.attack(name, strength, harvest, other)
                student = self.path(f"student-{name}-{strength}.tm")
                run([self.tm, "distill", "--teacher-outputs", attacked, "--tokenizer", "cl100k_base", "--order", "3",
                     "--out", student])
                suspect = self.path(f"suspect-{name}-{strength}.jsonl")
                run([self.tm, "generate", "--model", student, "--prompts", suspect_prompts, "--out", suspect,
                     "--max-tokens", "200", "--top-k", "40", "--seed", "2000", "--threads", self.threads])
                row = {"attack": name, "strength": strength,
                       "harvest_ppl_before": figures.get("perplexity_before"),
                       "harvest_ppl_after": figures.get("perplexity_after"),
                       "student_ppl_null": self.student_perplexity(student),
                       "plain": self.scan(key, suspect), "with_log": self.scan(key, suspect, harvest),
                       "attack_figures": figures, "seconds": round(time.time() - started, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
        # A clean student for scale: the other teacher's answers only.
        student = self.path("student-clean.tm")
        run([self.tm, "distill", "--teacher-outputs", other, "--tokenizer", "cl100k_base", "--order", "3", "--out", student])
        suspect = self.path("suspect-clean.jsonl")
        run([self.tm, "generate", "--model", student, "--prompts", suspect_prompts, "--out", suspect, "--max-tokens", "200",
             "--top-k", "40", "--seed", "2000", "--threads", self.threads])
        rows.append({"attack": "clean student (other teacher only)", "strength": None, "student_ppl_null":
                     self.student_perplexity(student), "plain": self.scan(key, suspect),
                     "with_log": self.scan(key, suspect, harvest)})
        return rows


def table(rows):
    lines = ["| attack | strength | harvest ppl (eval model) | student ppl, Brown null | scored | green rate | log10 p | "
             "log10 p, reference log |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        harvest = ("%.0f -> %.0f" % (r["harvest_ppl_before"], r["harvest_ppl_after"])
                   if r.get("harvest_ppl_after") else "")
        lines.append("| %s | %s | %s | %.0f | %d | %.3f | %.1f | %.1f |" % (
            r["attack"], "" if r["strength"] is None else r["strength"], harvest, r["student_ppl_null"],
            r["plain"]["scored"], r["plain"]["green_rate"], r["plain"]["log10_p"], r["with_log"]["log10_p"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--work", default="out/bench-attack")
    parser.add_argument("--width", type=int, default=1)
    parser.add_argument("--teacher-responses", type=int, default=778)
    parser.add_argument("--suspect-responses", type=int, default=250)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompts-dir", default=None)
    options = parser.parse_args()
    options.order = 3
    experiment = AttackExperiment(options)
    started = time.time()
    rows = experiment.tradeoff()
    with open(experiment.path("results.json"), "w") as f:
        json.dump({"settings": vars(options), "rows": rows}, f, indent=1)
    print(table(rows))
    print(f"\n{time.time() - started:.0f} s wall")


if __name__ == "__main__":
    main()
