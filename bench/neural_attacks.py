#!/usr/bin/env python3
"""What a distiller's counter-measures cost a transformer student, and what they cost us (issue 17):
attacks on the student rather than the harvest, run on a student bench/neural_radioactivity.py
made (its work folder holds the harvest, the key and the students).

  finetune    `tracemark attack finetune` on brown:heldout (clean text the student never saw) for
              --finetune-steps steps (learning rate 5e-4), then the student answers
  neutralise  `generate --neutralise-harvest` with the key-less green-list estimate at the key's
              context width (an attacker who guessed h), penalties --penalties (nats)
  evidence    `scan --key` log10 p on the answers (--suspect-responses prompts, 200 tokens, top-k 40),
              without and with --reference-log (the harvest); --suspect-prompts unseen asks
              nlp-corpus held-out prompts, harvest the prompts of the harvest answers the students
              trained on (the file bench/neural_radioactivity.py --suspect-prompts harvest wrote)
  quality     the answers' perplexity under an order-3 model of the Brown null split (text no model
              here trained on), and for finetune also the student's own perplexity on that split

Usage: bench/neural_attacks.py [--build build/release] [--work out/bench-neural] [--fraction 0.25] [--kind transformer]
       [--finetune-steps 100,300,1000] [--penalties 1,2,4,8] [--suspect-responses 500] [--width 2]
       [--suspect-prompts unseen|harvest]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan_validity_power import Experiment, run  # noqa: E402


class AttackExperiment(Experiment):
    def eval_model(self):
        out = self.path("eval-brown-null.tm")
        if not os.path.exists(out):
            run([self.tm, "train", "--corpus", self.split("brown", "null"), "--tokenizer", "cl100k_base", "--order", "3",
                 "--out", out])
        return out

    def ppl(self, model, data):
        figures = run([self.tm, "perplexity", "--model", model, "--input", data, "--json"])
        return json.loads(figures.strip().splitlines()[-1])["perplexity"]

    def answers(self, student, prompts, tag, extra=()):
        out = self.path(f"attack-{tag}.jsonl")
        if not os.path.exists(out):
            run([self.tm, "generate", "--model", student, "--prompts", prompts, "--out", out, "--max-tokens", "200",
                 "--top-k", "40", "--seed", "2000", "--threads", self.threads, *extra])
        return out

    def row(self, attack, strength, student, answers, harvest, key, started):
        return {"attack": attack, "strength": strength, "answers_ppl_eval": self.ppl(self.eval_model(), answers),
                "student_ppl_null": self.ppl(student, self.split("brown", "null")),
                "plain": self.scan(key, answers), "with_log": self.scan(key, answers, harvest),
                "seconds": round(time.time() - started, 1)}

    def rows(self):
        student = self.path(f"student-{self.o.kind}-{self.o.fraction}.tm")
        harvest = self.path("harvest.jsonl")
        key = self.keygen(f"neural-h{self.o.width}", self.o.width)
        for path in [student, harvest, key]:
            if not os.path.exists(path):
                sys.exit(f"missing {path}: run bench/neural_radioactivity.py with this --work first")
        if self.o.suspect_prompts == "harvest":
            prompts = self.path(f"prompts-harvest-{self.o.suspect_responses}.jsonl")
            if not os.path.exists(prompts):
                sys.exit(f"missing {prompts}: run bench/neural_radioactivity.py --suspect-prompts harvest first")
        else:
            prompts = self.prompts("nlp-corpus-heldout.jsonl", self.o.suspect_responses, "s")
        asked = "" if self.o.suspect_prompts == "unseen" else "-harvest"  # answer files per prompt set
        rows = []
        started = time.time()
        rows.append(self.row("none", 0, student, self.answers(student, prompts, f"{self.o.kind}-{self.o.fraction}-none{asked}"),
                             harvest, key, started))
        print(json.dumps(rows[-1]), flush=True)
        for penalty in self.o.penalties:
            started = time.time()
            answers = self.answers(student, prompts, f"{self.o.kind}-{self.o.fraction}-neutralise-{penalty}{asked}",
                                   ["--neutralise-harvest", harvest, "--neutralise-reference", self.split("brown", "heldout"),
                                    "--neutralise-width", str(self.o.width), "--neutralise-penalty", str(penalty)])
            rows.append(self.row("neutralise", penalty, student, answers, harvest, key, started))
            print(json.dumps(rows[-1]), flush=True)
        for steps in self.o.finetune_steps if self.o.kind == "transformer" else []:
            started = time.time()
            tuned = self.path(f"student-{self.o.kind}-{self.o.fraction}-finetuned-{steps}.tm")
            if not os.path.exists(tuned):
                run([self.tm, "attack", "finetune", "--model", student, "--corpus", self.split("brown", "heldout"),
                     "--steps", steps, "--out", tuned, "--torch-threads", self.threads])
            answers = self.answers(tuned, prompts, f"{self.o.kind}-{self.o.fraction}-finetune-{steps}{asked}")
            rows.append(self.row("finetune", steps, tuned, answers, harvest, key, started))
            print(json.dumps(rows[-1]), flush=True)
        return rows


def table(rows):
    lines = ["| attack | strength | answers' ppl (eval model) | student ppl, Brown null | scored | green rate | log10 p |"
             " log10 p, reference log |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %.0f | %.0f | %d | %.4f | %.1f | %.1f |" % (
            r["attack"], r["strength"], r["answers_ppl_eval"], r["student_ppl_null"], r["plain"]["scored"],
            r["plain"]["green_rate"], r["plain"]["log10_p"], r["with_log"]["log10_p"]))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--work", default="out/bench-neural")
    parser.add_argument("--fraction", default="0.25")
    parser.add_argument("--kind", default="transformer", choices=["transformer", "ngram"],
                        help="the student attacked (finetune applies to transformers only)")
    parser.add_argument("--width", type=int, default=2)
    parser.add_argument("--finetune-steps", default="100,300,1000")
    parser.add_argument("--penalties", default="1,2,4,8")
    parser.add_argument("--suspect-responses", type=int, default=500)
    parser.add_argument("--suspect-prompts", default="unseen", choices=["unseen", "harvest"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompts-dir", default=None)
    options = parser.parse_args()
    options.fraction = str(float(options.fraction))
    options.finetune_steps = [int(s) for s in options.finetune_steps.split(",")]
    options.penalties = [float(p) for p in options.penalties.split(",")]
    options.order = 3
    experiment = AttackExperiment(options)
    rows = experiment.rows()
    with open(experiment.path(f"attacks-{options.kind}-{options.fraction}-{options.suspect_prompts}.json"), "w") as f:
        json.dump({"settings": vars(options), "rows": rows}, f, indent=1)
    print(table(rows))


if __name__ == "__main__":
    main()
