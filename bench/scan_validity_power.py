#!/usr/bin/env python3
"""Validity and power of `tracemark scan` on simulated distillation (issue 5).

The whole experiment runs through the tracemark command line, as an analyst would:

  teacher  = `train` on the Brown training split (cl100k_base, order 4)
  for each context width h: a fresh key; REPS watermarked teacher runs (`generate --key`),
    each of TEACHER_RESPONSES responses of 200 tokens
  students = `distill --teacher-outputs T --mix-clean brown/train --fraction F` for each F,
             and for F = 0 a clean student (`train` on the Brown training split only)
  suspect  = SUSPECT_RESPONSES responses of 200 tokens from each student (no key), on other
             prompts (nlp-corpus held-out openings); scanned on its first 1k, 10k and 100k tokens,
             without and with --reference-log (the teacher's served responses)

Validity: for each h, FRESH_KEYS fresh keys, each scanning (a) the clean student's 100k tokens,
(b) the same with --reference-log of a small served log made with that key (the filter is chosen
with the key, so this checks that selecting on our logged contexts keeps the test valid), and
(c) the held-out / null splits of every corpus. Reports the fraction of p-values under 0.05 and
0.01, with exact 99% binomial intervals around the nominal rates, and the Kolmogorov-Smirnov
statistic against the uniform with its asymptotic p-value.

A student with another tokenizer (o200k_base, distilled from the teacher's text) is scanned with
--input text, so its text is read with the key's tokenizer.

Usage: bench/scan_validity_power.py [--build build/release] [--work out/bench-scan]
       [--reps 3] [--fresh-keys 200] [--quick]
Writes results.json and tables.md into the work folder; prints the tables.
Needs tools/setup.sh (tokenizers and corpora in ${TRACEMARK_CACHE:-~/.cache/tracemark}).
"""
import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time

CONTEXT_WIDTHS = [0, 1, 2, 4]
FRACTIONS = [0.0, 0.01, 0.05, 0.10, 0.25, 1.0]
SUSPECT_TOKENS = [1_000, 10_000, 100_000]
RESPONSE_TOKENS = 200


def run(args, **kwargs):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {' '.join(map(str, args))}\n{result.stderr}")
    return result.stdout


class Experiment:
    def __init__(self, options):
        self.o = options
        self.tm = os.path.abspath(os.path.join(options.build, "tools", "tracemark"))
        cache = os.environ.get("TRACEMARK_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "tracemark")
        self.corpora = os.path.join(cache, "corpora")
        self.repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.work = os.path.abspath(options.work)
        os.makedirs(self.work, exist_ok=True)
        for path in [self.tm, self.split("brown", "train")]:
            if not os.path.exists(path):
                sys.exit(f"missing {path}: run ./tools/setup.sh first")
        self.threads = str(options.threads)
        self.results = {"validity": [], "power": [], "tokenizer": [], "settings": vars(options)}

    def split(self, corpus, name):
        return os.path.join(self.corpora, corpus, f"{name}.jsonl")

    def path(self, *names):
        return os.path.join(self.work, *names)

    # --- inputs -----------------------------------------------------------------------------
    def prompts(self, source, count, prefix):
        """count prompt records cycling through a committed prompt set (ids are unique)."""
        out = self.path(f"prompts-{prefix}-{count}.jsonl")
        if not os.path.exists(out):
            with open(os.path.join(self.o.prompts_dir or os.path.join(self.repo, "corpora", "prompts"), source)) as f:
                base = [json.loads(line)["prompt"] for line in f if line.strip()]
            with open(out, "w") as f:
                for i in range(count):
                    f.write(json.dumps({"id": f"{prefix}{i}", "prompt": base[i % len(base)]}) + "\n")
        return out

    def keygen(self, name, width, tokenizer="cl100k_base"):
        out = self.path("keys", name + ".json")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if not os.path.exists(out):
            run([self.tm, "keygen", "--out", out, "--tokenizer", tokenizer, "--context-width", width,
                 "--gamma", "0.25", "--delta", "2"])
        return out

    def generate(self, model, prompts, out, seed, key=None, max_tokens=RESPONSE_TOKENS):
        if os.path.exists(out):
            return out
        args = [self.tm, "generate", "--model", model, "--prompts", prompts, "--out", out, "--max-tokens", max_tokens,
                "--top-k", "40", "--seed", seed, "--threads", self.threads]
        if key:
            args += ["--key", key]
        run(args)
        return out

    def head(self, source, responses, out):
        if not os.path.exists(out):
            with open(source) as f, open(out, "w") as g:
                for i, line in enumerate(f):
                    if i >= responses:
                        break
                    g.write(line)
        return out

    def tokenized(self, corpus, name):
        """A corpus split as cl100k_base token records (tokenized once, scanned many times)."""
        out = self.path("null", f"{corpus}-{name}.tokens.jsonl")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if not os.path.exists(out):
            run([self.tm, "tokenize", "--tokenizer", "cl100k_base", "--input", self.split(corpus, name), "--output", out,
                 "--lossy", "--threads", self.threads])
        return out

    def scan(self, key, suspect, reference_log=None, text=False):
        args = [self.tm, "scan", "--key", key, "--suspect", suspect, "--json", "--threads", self.threads]
        if reference_log:
            args += ["--reference-log", reference_log]
        if text:
            args += ["--input", "text"]
        document = json.loads(run(args))
        result = document["suspect"]["keys"][0]
        return {"log10_p": result["log10_p"], "scored": result["scored"], "green": result["green"],
                "tokens": result["tokens"], "green_rate": result["green_rate"]}

    def scan_samples(self, table, key, suspect, tag, served, labels, text=False):
        """Scans the first 1k, 10k and 100k tokens of a suspect, without and with the served log."""
        for tokens in SUSPECT_TOKENS:
            sample = self.head(suspect, tokens // RESPONSE_TOKENS, self.path(f"suspect-{tag}-{tokens}.jsonl"))
            for with_log in (False, True):
                figures = self.scan(key, sample, served if with_log else None, text=text)
                self.results[table].append({**labels, "suspect_tokens": tokens, "reference_log": with_log, **figures})

    # --- models -----------------------------------------------------------------------------
    def teacher(self):
        out = self.path("teacher.tm")
        if not os.path.exists(out):
            started = time.time()
            run([self.tm, "train", "--corpus", self.split("brown", "train"), "--tokenizer", "cl100k_base", "--order",
                 self.o.order, "--out", out])
            print(f"teacher trained in {time.time() - started:.1f} s", flush=True)
        return out

    def clean_student(self, tokenizer="cl100k_base"):
        out = self.path(f"clean-student-{tokenizer}.tm")
        if not os.path.exists(out):
            run([self.tm, "train", "--corpus", self.split("brown", "train"), "--tokenizer", tokenizer, "--order",
                 self.o.order, "--out", out])
        return out

    def student(self, teacher_outputs, fraction, out, tokenizer="cl100k_base"):
        if not os.path.exists(out):
            args = [self.tm, "distill", "--teacher-outputs", teacher_outputs, "--tokenizer", tokenizer, "--order",
                    self.o.order, "--out", out]
            if fraction < 1.0:
                args += ["--mix-clean", self.split("brown", "train"), "--fraction", fraction]
            run(args)
        return out

    # --- experiments --------------------------------------------------------------------------
    def power(self):
        teacher = self.teacher()
        teacher_prompts = self.prompts("brown-heldout.jsonl", self.o.teacher_responses, "t")
        suspect_prompts = self.prompts("nlp-corpus-heldout.jsonl", self.o.suspect_responses, "s")
        for width in CONTEXT_WIDTHS:
            key = self.keygen(f"power-h{width}", width)
            for rep in range(self.o.reps):
                served = self.generate(teacher, teacher_prompts, self.path(f"teacher-h{width}-r{rep}.jsonl"), 1000 + rep, key)
                for fraction in FRACTIONS:
                    tag = f"h{width}-r{rep}-f{fraction:g}"
                    suspect = self.path(f"suspect-{tag}.jsonl")
                    if not os.path.exists(suspect):
                        if fraction == 0.0:
                            model = self.clean_student()
                        else:
                            model = self.student(served, fraction, self.path(f"student-{tag}.tm"))
                        self.generate(model, suspect_prompts, suspect, 2000 + rep)
                        if fraction > 0.0:
                            os.remove(model)
                    self.scan_samples("power", key, suspect, tag, served, {"h": width, "rep": rep, "fraction": fraction})
                    print(f"power h={width} rep={rep} F={fraction:g}: log10 p at 100k "
                          f"{self.results['power'][-2]['log10_p']:.1f} / with log {self.results['power'][-1]['log10_p']:.1f}",
                          flush=True)
                    self.save()

    def other_tokenizer(self):
        """A student with o200k_base distilled from the teacher's text (h = 2), read with --input text."""
        teacher = self.teacher()
        teacher_prompts = self.prompts("brown-heldout.jsonl", self.o.teacher_responses, "t")
        suspect_prompts = self.prompts("nlp-corpus-heldout.jsonl", self.o.suspect_responses, "s")
        key = self.keygen("power-h2", 2)
        for rep in range(self.o.reps):
            served = self.generate(teacher, teacher_prompts, self.path(f"teacher-h2-r{rep}.jsonl"), 1000 + rep, key)
            for fraction in (0.0, 0.25, 1.0):
                tag = f"o200k-r{rep}-f{fraction:g}"
                suspect = self.path(f"suspect-{tag}.jsonl")
                if not os.path.exists(suspect):
                    if fraction == 0.0:
                        model = self.clean_student("o200k_base")
                    else:
                        model = self.student(served, fraction, self.path(f"student-{tag}.tm"), "o200k_base")
                    self.generate(model, suspect_prompts, suspect, 2000 + rep)
                    if fraction > 0.0:
                        os.remove(model)
                # Samples are cut by responses (200 of the student's own o200k_base ids each).
                self.scan_samples("tokenizer", key, suspect, tag, served, {"h": 2, "rep": rep, "fraction": fraction}, text=True)
                print(f"o200k student rep={rep} F={fraction:g}: log10 p at 100k {self.results['tokenizer'][-2]['log10_p']:.1f}"
                      f" / with log {self.results['tokenizer'][-1]['log10_p']:.1f}", flush=True)
                self.save()

    def validity(self):
        teacher = self.teacher()
        clean = self.generate(self.clean_student(), self.prompts("nlp-corpus-heldout.jsonl", self.o.suspect_responses, "s"),
                              self.path("validity-clean-suspect.jsonl"), 3000)
        log_prompts = self.prompts("brown-heldout.jsonl", self.o.log_responses, "l")
        os.makedirs(self.path("logs"), exist_ok=True)
        nulls = {f"{corpus} {name}": self.tokenized(corpus, name)
                 for corpus, name in [("brown", "heldout"), ("brown", "null"), ("nlp-corpus", "null"), ("spam-assassin", "null")]
                 if os.path.exists(self.split(corpus, name))}
        for width in [int(w) for w in self.o.validity_widths.split(",")]:
            for index in range(self.o.fresh_keys):
                key = self.keygen(f"fresh-h{width}-{index}", width)
                log = self.generate(teacher, log_prompts, self.path("logs", f"log-h{width}-{index}.jsonl"), 4000 + index, key)
                rows = [("clean student", self.scan(key, clean)),
                        ("clean student, --reference-log", self.scan(key, clean, log))]
                rows += [(name, self.scan(key, path)) for name, path in nulls.items()]
                for source, figures in rows:
                    self.results["validity"].append({"h": width, "key": index, "source": source, **figures})
                os.remove(key)  # fresh keys are used once
            print(f"validity h={width}: {self.o.fresh_keys} keys done", flush=True)
            self.save()

    def save(self):
        with open(self.path("results.json.tmp"), "w") as f:
            json.dump(self.results, f)
        os.replace(self.path("results.json.tmp"), self.path("results.json"))


# --- statistics for the tables -------------------------------------------------------------------
def binomial_cdf(k, n, p):
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(0, k + 1))


def binomial_interval(n, p, level=0.99):
    """Central interval [lo, hi] of counts holding at least `level` of Binomial(n, p)."""
    tail = (1 - level) / 2
    lo = 0
    while binomial_cdf(lo, n, p) < tail:
        lo += 1
    hi = n
    while hi > 0 and 1 - binomial_cdf(hi - 1, n, p) < tail:
        hi -= 1
    return lo, hi


def ks_uniform(values):
    """One-sample Kolmogorov-Smirnov statistic against U(0, 1) and its asymptotic p-value."""
    xs = sorted(values)
    n = len(xs)
    d = max(max((i + 1) / n - x, x - i / n) for i, x in enumerate(xs))
    t = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d  # Stephens' small-sample correction
    if t < 0.3:
        return d, 1.0  # the series below converges badly there; Q(0.3) > 0.99999
    p = 2 * sum((-1) ** (j - 1) * math.exp(-2 * j * j * t * t) for j in range(1, 101))
    return d, min(1.0, max(0.0, p))


def tables(results):
    out = []
    validity = results["validity"]
    if validity:
        out.append("| h | source | scans | p < 0.05 | p < 0.01 | KS D | KS p |")
        out.append("|---|---|---|---|---|---|---|")
        sources = list(dict.fromkeys(r["source"] for r in validity))
        for width in CONTEXT_WIDTHS:
            for source in sources:
                ps = [10 ** r["log10_p"] for r in validity if r["h"] == width and r["source"] == source]
                if not ps:
                    continue
                n = len(ps)
                d, kp = ks_uniform(ps)
                below5 = sum(p < 0.05 for p in ps)
                below1 = sum(p < 0.01 for p in ps)
                out.append(f"| {width} | {source} | {n} | {below5} ({100 * below5 / n:.1f}%) | {below1} ({100 * below1 / n:.1f}%) "
                           f"| {d:.3f} | {kp:.2f} |")
        n = results["settings"]["fresh_keys"]
        lo5, hi5 = binomial_interval(n, 0.05)
        lo1, hi1 = binomial_interval(n, 0.01)
        out.append("")
        out.append(f"99% binomial intervals for {n} valid scans: p < 0.05 in [{lo5}, {hi5}], p < 0.01 in [{lo1}, {hi1}] "
                   f"(a valid test, being at most nominal, may also fall below).")
        out.append("")
    for name, rows in (("power", results["power"]), ("tokenizer", results["tokenizer"])):
        if not rows:
            continue
        if name == "tokenizer":
            out.append("Student with another tokenizer (o200k_base, distilled from the teacher's text; scanned with --input text):")
            out.append("")
        out.append("| h | watermarked fraction | reference log | 1k tokens | 10k tokens | 100k tokens |")
        out.append("|---|---|---|---|---|---|")
        for width in sorted({r["h"] for r in rows}):
            for fraction in sorted({r["fraction"] for r in rows}):
                for with_log in (False, True):
                    cells = []
                    for tokens in SUSPECT_TOKENS:
                        values = [r["log10_p"] for r in rows if r["h"] == width and r["fraction"] == fraction
                                  and r["reference_log"] == with_log and r["suspect_tokens"] == tokens]
                        cells.append(f"{statistics.median(values):.1f}" if values else "-")
                    out.append(f"| {width} | {100 * fraction:g}% | {'yes' if with_log else 'no'} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--work", default="out/bench-scan")
    parser.add_argument("--order", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--fresh-keys", type=int, default=200)
    parser.add_argument("--teacher-responses", type=int, default=5000)
    parser.add_argument("--suspect-responses", type=int, default=500)
    parser.add_argument("--log-responses", type=int, default=100)
    parser.add_argument("--validity-widths", default="0,2", help="context widths of the validity scans")
    parser.add_argument("--prompts-dir", help="prompt sets (default: corpora/prompts of this checkout)")
    parser.add_argument("--parts", default="validity,power,tokenizer")
    parser.add_argument("--tables-only", action="store_true", help="print the tables of an earlier run's results.json")
    options = parser.parse_args()
    if options.tables_only:
        with open(os.path.join(options.work, "results.json")) as f:
            print(tables(json.load(f)))
        return
    experiment = Experiment(options)
    started = time.time()
    parts = options.parts.split(",")
    if "power" in parts:
        experiment.power()
    if "tokenizer" in parts:
        experiment.other_tokenizer()
    if "validity" in parts:
        experiment.validity()
    experiment.results["seconds"] = round(time.time() - started)
    experiment.save()
    text = tables(experiment.results)
    with open(experiment.path("tables.md"), "w") as f:
        f.write(text + "\n")
    print(text)
    print(f"total {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
