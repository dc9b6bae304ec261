#!/usr/bin/env python3
"""All watermark schemes side by side on the reference n-gram model (issue 18): what each costs in
quality and diversity, and what evidence it leaves, in a response and in a distilled student. The
whole experiment runs through the tracemark command line, as an analyst would.

  teacher   = `train` on the Brown training split (cl100k_base, order --order)
  schemes   = one key each, context width 2: kgw-green-list v2 and v3 (gamma 0.25, delta 2),
              gumbel-max v1 (also served with --keyed-fraction 0.5) and v2, synthid-tournament v1 (m 30),
              and any --extra-scheme NAME:KEYGEN-ARGS
  answers   = --harvest-responses answers (200 tokens, top-k 40, seed 1000) to Brown held-out
              prompts, with each key and without one (same prompts, same seed)
  quality   = perplexity ratio under the teacher itself, with --quality-keys keys each answering its
              own share of the prompts: exp(mean over keys of the key's mean over its prompts of
              ln ppl(watermarked) - ln ppl(unwatermarked), paired by prompt); 95% t interval over keys
              (the key is the unit: one key's answers share its choices wherever contexts recur)
  diversity = --repeat-prompts prompts asked --repeats times each (one stream per request):
              distinct 3-grams over all 3-grams of a prompt's answers (mean over prompts), and the
              fraction of pairs of answers to one prompt that are identical
  TPR       = fraction of the watermarked 200-token answers with p < 1e-3 under `detect`; FPR the
              same on the unwatermarked answers
  students  = `distill` (order --order) on the watermarked answers mixed with brown:train so that
              --fractions of the training tokens are the harvest's; suspect = the student's answers
              (no key) to nlp-corpus held-out prompts; `scan --key` on the first 10k and 100k tokens
  validity  = --fresh-keys fresh keys per scheme, all in one `scan` of the Brown null split and of
              the clean student's answers (innocent text): fractions of per-key p < 0.05 and < 0.01,
              and the Kolmogorov-Smirnov distance from uniform

Neural teacher (issue 18's table "on the neural teacher"): --teacher transformer [--teacher-steps 600]
trains a small transformer on the same split and asks it instead; with --fractions none --fresh-keys 0
only quality, diversity and per-answer TPR are measured (the students are issue 17's benchmarks).

Usage: bench/scheme_tradeoff.py [--build build/release] [--work out/bench-schemes] [--order 3]
       [--corpus brown|go-code|reasoning] [--harvest-responses 1000] [--suspect-responses 500] [--repeat-prompts 20] [--repeats 8]
       [--fractions 1,0.25,0.05] [--fresh-keys 200] [--quality-keys 10] [--threads 2] [--extra-scheme NAME:ARGS]...
Writes results.json into the work folder (a rerun reuses the files already made) and prints
Markdown tables.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scan_validity_power import Experiment, run  # noqa: E402  (shared command helpers)

RESPONSE_TOKENS = 200
# name: (keygen arguments, extra generate arguments)
SCHEMES = {
    "kgw-green-list v2": (["--gamma", "0.25", "--delta", "2", "--scheme-version", "2"], []),
    "kgw-green-list v3": (["--gamma", "0.25", "--delta", "2", "--scheme-version", "3"], []),
    "gumbel-max v1": (["--scheme", "gumbel-max", "--scheme-version", "1"], []),
    "gumbel-max v1, keyed fraction 0.5": (["--scheme", "gumbel-max", "--scheme-version", "1"], ["--keyed-fraction", "0.5"]),
    "gumbel-max v2": (["--scheme", "gumbel-max", "--scheme-version", "2"], []),
    "synthid-tournament v1 (m 30)": (["--scheme", "synthid-tournament", "--layers", "30"], []),
}


# Two-sided 95% quantiles of Student's t by degrees of freedom (1..30), for intervals over keys.
T975 = [None, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def ks_distance(p_values):
    values = sorted(p_values)
    n = len(values)
    return max(max((i + 1) / n - v, v - i / n) for i, v in enumerate(values))


class SchemeExperiment(Experiment):
    # --corpus picks the teacher's domain: its train split trains the teacher (and the clean student,
    # and is the distiller's clean mix), its held-out prompts are asked, its null split is the null.
    def split(self, corpus, name):
        return super().split(self.o.corpus if corpus == "brown" else corpus, name)

    def teacher(self):
        """--teacher ngram: the shared n-gram teacher. --teacher transformer: a small decoder-only
        transformer (`train --model transformer`, --teacher-steps steps) on the same training split."""
        if self.o.teacher == "ngram":
            return super().teacher()
        out = self.path("teacher-transformer.tm")
        if not os.path.exists(out):
            started = time.time()
            run([self.tm, "train", "--model", "transformer", "--corpus", self.split("brown", "train"), "--tokenizer",
                 "cl100k_base", "--steps", self.o.teacher_steps, "--torch-threads", self.threads, "--out", out])
            print(f"transformer teacher trained in {time.time() - started:.1f} s", flush=True)
        return out

    def generate(self, model, prompts, out, seed, key=None, extra=()):
        if os.path.exists(out):
            return out
        args = [self.tm, "generate", "--model", model, "--prompts", prompts, "--out", out, "--max-tokens",
                RESPONSE_TOKENS, "--top-k", "40", "--seed", seed, "--threads", self.threads, *extra]
        if key:
            args += ["--key", key]
        run(args)
        return out

    def scheme_key(self, name, args, index=None):
        tag = name.split(",")[0].replace(" ", "-") + ("" if index is None else f"-fresh{index}")
        out = self.path("keys", tag + ".json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if not os.path.exists(out):
            run([self.tm, "keygen", "--out", out, "--tokenizer", "cl100k_base", "--context-width", "2", *args])
        return out

    def per_record(self, command, model_or_key, answers):
        flag = "--model" if command == "perplexity" else "--key"
        lines = run([self.tm, command, flag, model_or_key, "--input", answers, "--json"]).strip().splitlines()
        return [json.loads(line) for line in lines[:-1]]

    def subset(self, prompts, k):
        """Every --quality-keys-th prompt, from the k-th on (disjoint subsets for the quality keys)."""
        out = self.path(f"prompts-quality-{k}-of-{self.o.quality_keys}.jsonl")
        if not os.path.exists(out):
            with open(prompts) as f, open(out, "w") as g:
                for i, line in enumerate(f):
                    if i % self.o.quality_keys == k:
                        g.write(line)
        return out

    def quality(self, teacher, prompts, name, args, serving):
        """Perplexity ratio with --quality-keys keys, each answering its own share of the prompts.

        Answers under one key are not independent samples: a context that recurs across prompts
        gets the same keyed choice every time, so an interval over prompts under one key is too
        narrow (and a distortion-free scheme is unbiased over keys, not for one key). The unit here
        is the key: per key, the mean over its prompts of ln ppl(watermarked) - ln ppl(unwatermarked)
        (paired by prompt, same stream); the ratio is exp of the mean over keys, with a 95% t interval
        over keys."""
        per_key, marked_all, clean_all = [], [], []
        tag = name.replace(",", "").replace(" ", "-")
        for k in range(self.o.quality_keys):
            share = self.subset(prompts, k)
            clean = self.generate(teacher, share, self.path(f"quality-clean-{k}.jsonl"), 1000)
            key = self.scheme_key(name, args, f"q{k}")
            marked = self.generate(teacher, share, self.path(f"quality-{tag}-{k}.jsonl"), 1000, key, serving)
            ours = [r["nats_per_token"] for r in self.per_record("perplexity", teacher, marked)]
            base = [r["nats_per_token"] for r in self.per_record("perplexity", teacher, clean)]
            per_key.append(statistics.fmean(a - b for a, b in zip(ours, base)))
            marked_all += ours
            clean_all += base
        mean = statistics.fmean(per_key)
        half = T975[len(per_key) - 1] * statistics.stdev(per_key) / math.sqrt(len(per_key))
        return {"ppl_ratio": math.exp(mean), "ppl_low": math.exp(mean - half), "ppl_high": math.exp(mean + half),
                "ppl_marked": math.exp(statistics.fmean(marked_all)), "ppl_clean": math.exp(statistics.fmean(clean_all)),
                "ppl_per_key": [math.exp(d) for d in per_key]}

    def diversity(self, answers):
        by_prompt = {}
        for record in jsonl(answers):
            by_prompt.setdefault(record["id"].rsplit("-", 1)[0], []).append(record["tokens"])
        distinct, identical = [], []
        for responses in by_prompt.values():
            grams = [tuple(t[i:i + 3]) for t in responses for i in range(len(t) - 2)]
            distinct.append(len(set(grams)) / len(grams))
            pairs = [(a, b) for i, a in enumerate(responses) for b in responses[i + 1:]]
            identical.append(sum(a == b for a, b in pairs) / len(pairs))
        return {"distinct3": statistics.fmean(distinct), "identical_pairs": statistics.fmean(identical)}

    def repeat_prompts(self):
        out = self.path(f"prompts-repeat-{self.o.repeat_prompts}x{self.o.repeats}.jsonl")
        if not os.path.exists(out):
            with open(os.path.join(self.repo, "corpora", "prompts", f"{self.o.corpus}-heldout.jsonl")) as f:
                base = [json.loads(line)["prompt"] for line in f if line.strip()][: self.o.repeat_prompts]
            with open(out, "w") as f:
                for i, prompt in enumerate(base):
                    for r in range(self.o.repeats):
                        f.write(json.dumps({"id": f"r{i}-{r}", "prompt": prompt}) + "\n")
        return out

    def detection_rates(self, key, answers):
        records = self.per_record("detect", key, answers)
        return sum(r["log10_p"] < -3 for r in records) / len(records)

    def scan_keys(self, keys, suspect):
        args = [self.tm, "scan", "--suspect", suspect, "--json", "--threads", self.threads]
        for key in keys:
            args += ["--key", key]
        return json.loads(run(args))["suspect"]["keys"]

    def main(self):
        schemes = dict(SCHEMES)
        for extra in self.o.extra_scheme:
            name, _, args = extra.partition(":")
            schemes[name] = (args.split(), [])
        teacher = self.teacher()
        harvest_prompts = self.prompts(f"{self.o.corpus}-heldout.jsonl", self.o.harvest_responses, "t")
        suspect_prompts = self.prompts("nlp-corpus-heldout.jsonl", self.o.suspect_responses, "s")
        repeats = self.repeat_prompts()
        clean = self.generate(teacher, harvest_prompts, self.path("answers-clean.jsonl"), 1000)
        clean_repeats = self.generate(teacher, repeats, self.path("repeats-clean.jsonl"), 3000)
        # Students and validity need the clean student; a quality-only run (--fractions none
        # --fresh-keys 0, as for the transformer teacher) skips them.
        clean_suspect = null_text = None
        if self.o.fractions or self.o.fresh_keys:
            clean_student = self.clean_student()
            clean_suspect = self.generate(clean_student, suspect_prompts, self.path("suspect-clean.jsonl"), 2000)
            null_text = self.tokenized("brown", "null")
        rows = [{"scheme": "none (unwatermarked)", **self.diversity(clean_repeats),
                 "fpr_clean": None}]
        for name, (args, serving) in schemes.items():
            started = time.time()
            tag = name.replace(",", "").replace(" ", "-")
            key = self.scheme_key(name, args)
            marked = self.generate(teacher, harvest_prompts, self.path(f"answers-{tag}.jsonl"), 1000, key, serving)
            marked_repeats = self.generate(teacher, repeats, self.path(f"repeats-{tag}.jsonl"), 3000, key, serving)
            row = {"scheme": name, **self.quality(teacher, harvest_prompts, name, args, serving),
                   **self.diversity(marked_repeats),
                   "tpr": self.detection_rates(key, marked), "fpr_clean": self.detection_rates(key, clean)}
            for fraction in self.o.fractions:
                student = self.student(marked, fraction, self.path(f"student-{tag}-{fraction:g}.tm"))
                suspect = self.generate(student, suspect_prompts, self.path(f"suspect-{tag}-{fraction:g}.jsonl"), 2000)
                for tokens in (10_000, 100_000):
                    sample = self.head(suspect, tokens // RESPONSE_TOKENS, self.path(f"suspect-{tag}-{fraction:g}-{tokens}.jsonl"))
                    result = self.scan_keys([key], sample)[0]
                    row[f"student_{fraction:g}_{tokens // 1000}k"] = result["log10_p"]
            # Validity is a property of the key and the detector, not of how answers were served: a
            # serving variant of a scheme already measured shares its figures.
            fresh = [] if serving or not self.o.fresh_keys else [self.scheme_key(name, args, i) for i in range(self.o.fresh_keys)]
            for null_name, null_input in (("brown_null", null_text), ("clean_student", clean_suspect)):
                if not fresh:
                    continue
                p_values = [10 ** k["log10_p"] for k in self.scan_keys(fresh, null_input)]
                row[f"{null_name}_under_05"] = sum(p < 0.05 for p in p_values) / len(p_values)
                row[f"{null_name}_under_01"] = sum(p < 0.01 for p in p_values) / len(p_values)
                row[f"{null_name}_ks"] = ks_distance(p_values)
            row["seconds"] = round(time.time() - started, 1)
            rows.append(row)
            print(json.dumps(row), flush=True)
            with open(self.path("results.json"), "w") as f:
                json.dump({"settings": vars(self.o), "rows": rows}, f, indent=1)
        self.tables(rows)

    def tables(self, rows):
        n = self.o.fresh_keys
        print(f"\n| scheme | perplexity ratio [95% CI] | distinct 3-grams, repeated prompts | identical answer pairs | "
              f"TPR at p < 1e-3 (200 tokens) | FPR on unwatermarked answers |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            if "ppl_ratio" not in r:
                print(f"| {r['scheme']} | 1 | {r['distinct3']:.3f} | {r['identical_pairs']:.3f} | | |")
                continue
            print(f"| {r['scheme']} | {r['ppl_ratio']:.4f} [{r['ppl_low']:.4f}, {r['ppl_high']:.4f}] | "
                  f"{r['distinct3']:.3f} | {r['identical_pairs']:.3f} | {r['tpr']:.3f} | {r['fpr_clean']:.3f} |")
        columns = [f"student_{f:g}_{t}k" for f in self.o.fractions for t in (10, 100)]
        if not columns:
            return
        print("\n| scheme | " + " | ".join(c.replace("student_", "").replace("_", " at ") for c in columns) + " |")
        print("|---|" + "---|" * len(columns))
        for r in rows[1:]:
            print(f"| {r['scheme']} | " + " | ".join(f"{r[c]:.1f}" for c in columns) + " |")
        print(f"\n| scheme | Brown null: p < 0.05 / < 0.01 / KS ({n} keys) | clean student: p < 0.05 / < 0.01 / KS |")
        print("|---|---|---|")
        for r in rows[1:]:
            if "brown_null_ks" not in r:
                continue
            print(f"| {r['scheme']} | {r['brown_null_under_05']:.3f} / {r['brown_null_under_01']:.3f} / "
                  f"{r['brown_null_ks']:.3f} | {r['clean_student_under_05']:.3f} / {r['clean_student_under_01']:.3f} / "
                  f"{r['clean_student_ks']:.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--work", default="out/bench-schemes")
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--corpus", default="brown", help="teacher's domain: brown, go-code, reasoning, nlp-corpus")
    parser.add_argument("--harvest-responses", type=int, default=1000)
    parser.add_argument("--suspect-responses", type=int, default=500)
    parser.add_argument("--repeat-prompts", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--fractions", type=lambda s: [] if s == "none" else [float(x) for x in s.split(",")],
                        default=[1.0, 0.25, 0.05], help="harvest shares of the students, or none")
    parser.add_argument("--teacher", choices=["ngram", "transformer"], default="ngram")
    parser.add_argument("--teacher-steps", type=int, default=600, help="--teacher transformer: training steps")
    parser.add_argument("--fresh-keys", type=int, default=200)
    parser.add_argument("--quality-keys", type=int, default=10, help="2 to 31")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--extra-scheme", action="append", default=[])
    parser.add_argument("--prompts-dir", default=None)
    SchemeExperiment(parser.parse_args()).main()


if __name__ == "__main__":
    main()
