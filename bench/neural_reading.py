#!/usr/bin/env python3
"""Reading mode (issue 17): ask a suspect for its greedy next token after prefixes of the harvest
answers it may have trained on, instead of letting it write answers of its own, and scan those
tokens. A student reproduces what it learned where it learned it: in generation mode it leaves the
harvest's contexts after a few tokens; here every scored token follows a harvest context.

Works in a folder bench/neural_radioactivity.py filled (harvest.jsonl, the key, the students):

  queries  = `tracemark reading queries` over the first N harvest answers (N: the answers the
             student with --student-fraction trained on, from its .used file): every prefix
             prompt + answer[:t] whose window (last h tokens) is followed there for the first time
             in harvest order (docs/METHOD.md, "Reading mode"), every --stride-th of them
  answers  = `generate --temperature 0 --max-tokens 1 --top-logprobs K` of each model in --models
             (`teacher` is the n-gram teacher without the watermark: the innocent model closest to
             the harvest); --reference names a clean model whose answers (top
             --reference-top-logprobs) give the excess test
  scan     = `tracemark reading scan --json` with the real key (greedy colours, green mass, green
             tilt, excess over the reference), and with --null-keys fresh keys
  calibration (--calibration-keys K) = the null where it is hardest, with the real key each time: K
             fresh keys, each watermarking --calibration-answers teacher answers; the teacher's own
             unwatermarked model reads every allowed prefix of them and is scanned with that key
             (with --reference ngram2: over an order-2 n-gram reference); fractions of p < 0.05 and
             p < 0.01 for each test

Usage: bench/neural_reading.py [--build build/release] [--work out/bench-neural-h2] [--width 2]
       [--student-fraction 0.05] [--stride 5] [--models transformer-0.05,teacher] [--null-keys 200]
       [--top-logprobs 20] [--reference transformer-0.0 --reference-top-logprobs 100]
       [--calibration-keys 200 --calibration-answers 20 --reference ngram2 --models ""]
Writes reading-results-v2-*.json into the work folder and prints a Markdown table.
"""
import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from neural_radioactivity import NeuralExperiment  # noqa: E402
from scan_validity_power import run  # noqa: E402


class ReadingExperiment(NeuralExperiment):
    def queries(self, harvest, used=None, stride=None, out=None):
        """`tracemark reading queries`: the first follower of each window, every --stride-th."""
        stride = stride or self.o.stride
        out = out or self.path(f"reading-queries-v2-{self.o.student_fraction}-{stride}.jsonl")
        if os.path.exists(out):
            return out
        if used is None:
            used = int(open(self.path(f"student-transformer-{self.o.student_fraction}.tm.used")).read())
        run([self.tm, "reading", "queries", "--harvest", harvest, "--width", str(self.o.width), "--stride", str(stride),
             "--max-records", str(used), "--out", out])
        return out

    def next_tokens(self, model, queries, tag, stride=None):
        """The model's greedy next token and its top --top-logprobs log-probabilities after each query."""
        out = self.path(f"reading-v2-{tag}-{stride or self.o.stride}-top{self.o.top_logprobs}.jsonl")
        started = time.time()
        if not os.path.exists(out):
            args = [self.tm, "generate", "--model", model, "--prompts", queries, "--out", out, "--max-tokens", "1",
                    "--temperature", "0", "--threads", self.threads]
            if self.o.top_logprobs:
                args += ["--top-logprobs", str(self.o.top_logprobs)]
            run(args)
        return out, round(time.time() - started, 1)

    def model_path(self, tag):
        return self.path("teacher.tm") if tag == "teacher" else self.path(f"student-{tag}.tm")

    def reference_answers(self, queries, tag, stride=None):
        """A clean reference model's answers (--reference: a model tag, or ngram2: an order-2 n-gram
        trained on brown:train), with --reference-top-logprobs log-probabilities."""
        if self.o.reference == "ngram2":
            model = self.path("reference-ngram2.tm")
            if not os.path.exists(model):
                run([self.tm, "train", "--corpus", self.split("brown", "train"), "--tokenizer", "cl100k_base",
                     "--order", "2", "--out", model])
        else:
            model = self.model_path(self.o.reference)
        out = self.path(f"reading-v2-reference-{self.o.reference}-{tag}-{stride or self.o.stride}"
                        f"-top{self.o.reference_top_logprobs}.jsonl")
        if not os.path.exists(out):
            run([self.tm, "generate", "--model", model, "--prompts", queries, "--out", out, "--max-tokens", "1",
                 "--temperature", "0", "--threads", self.threads, "--top-logprobs", str(self.o.reference_top_logprobs)])
        return out

    def reading_scan(self, key, harvest, answers, reference=None):
        args = [self.tm, "reading", "scan", "--key", key, "--harvest", harvest, "--answers", answers, "--json"]
        if reference:
            args += ["--reference-answers", reference]
        return json.loads(run(args))

    def null_fractions_reading(self, harvest, answers, count, reference=None):
        """Fresh keys (never used to watermark anything) over the same answers: each test's p-values."""
        p_values = {"greedy": [], "green_mass": [], "green_tilt": [], "reference_excess": []}
        for i in range(count):
            figures = self.reading_scan(self.keygen(f"null-{i}", self.o.width), harvest, answers, reference)
            for test in p_values:
                if test in figures:
                    p_values[test].append(10 ** figures[test]["log10_p"])

        def fractions(p_values):
            if not p_values:
                return None
            n = len(p_values)
            return {"keys": n, "below_0.05": sum(p < 0.05 for p in p_values) / n,
                    "below_0.01": sum(p < 0.01 for p in p_values) / n, "min_log10_p": math.log10(min(p_values))}
        return {test: fractions(values) for test, values in p_values.items()}

    def calibration(self):
        """The real key's p-values on an innocent reader, over --calibration-keys keys."""
        teacher = self.teacher()
        prompts = self.prompts("brown-heldout.jsonl", self.o.calibration_answers, "c")
        p_values = {"greedy": [], "green_mass": [], "green_tilt": [], "reference_excess": []}
        scored = []
        for i in range(self.o.calibration_keys):
            key = self.keygen(f"calibration-{i}", self.o.width)
            harvest = self.generate(teacher, prompts, self.path("calibration", f"harvest-{i}.jsonl"), 3000 + i, key)
            queries = self.queries(harvest, used=self.o.calibration_answers, stride=1,
                                   out=self.path("calibration", f"queries-{i}.jsonl"))
            answers, _ = self.next_tokens(teacher, queries, f"calibration-{i}", stride=1)
            reference = self.reference_answers(queries, f"calibration-{i}", stride=1) if self.o.reference else None
            figures = self.reading_scan(key, harvest, answers, reference)
            for test in p_values:
                p_values[test].append(10 ** figures[test]["log10_p"] if test in figures else 1.0)
            scored.append(figures["scored"])
            for path in [harvest, queries, answers] + ([reference] if reference else []):
                os.remove(path)  # keep the folder small: only the p-values matter
        count = len(scored)
        result = {"keys": count, "mean_scored": sum(scored) / count}
        for test, values in p_values.items():
            result[test] = {"below_0.05": sum(p < 0.05 for p in values) / count,
                            "below_0.01": sum(p < 0.01 for p in values) / count, "p_values": values}
        with open(self.path(f"reading-calibration-top{self.o.top_logprobs}-ref{self.o.reference or 'none'}.json"), "w") as f:
            json.dump({"settings": vars(self.o), "calibration": result}, f, indent=1)
        print("calibration: %d keys, %.0f scored windows a key; p < 0.05 / p < 0.01: %s" % (
            count, result["mean_scored"], "; ".join("%s %.3f / %.3f" % (t, result[t]["below_0.05"], result[t]["below_0.01"])
                                                     for t in p_values)))
        return result

    def rows(self):
        key = self.keygen(f"neural-h{self.o.width}", self.o.width)
        harvest = self.path("harvest.jsonl")
        queries = self.queries(harvest)
        rows = []
        reference = self.reference_answers(queries, "harvest") if self.o.reference else None
        for tag in self.o.models:
            answers, seconds = self.next_tokens(self.model_path(tag), queries, tag)
            against = reference if tag != self.o.reference else None  # not a model against itself
            row = {"model": tag, "queries": sum(1 for _ in open(queries)), "generate_seconds": seconds,
                   "reference": self.o.reference if against else None,
                   "scan": self.reading_scan(key, harvest, answers, against),
                   "null": self.null_fractions_reading(harvest, answers, self.o.null_keys, against)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        with open(self.path(f"reading-results-v2-top{self.o.top_logprobs}-ref{self.o.reference or 'none'}.json"), "w") as f:
            json.dump({"settings": vars(self.o), "rows": rows}, f, indent=1)
        return rows


def table(rows):
    tests = [("greedy", "greedy"), ("green_mass", "green mass"), ("green_tilt", "green tilt"),
             ("reference_excess", "over the reference")]
    lines = ["| model | queries | scored windows | greedy green rate | green share of top-k mass | " +
             " | ".join(f"{name} log10 p" for _, name in tests) + " | fresh keys: p < 0.05 / 0.01 (" +
             ", ".join(name for _, name in tests) + ") |",
             "|---|---|---|---|---|" + "---|" * len(tests) + "---|"]
    for r in rows:
        s, n = r["scan"], r["null"]
        mass = s.get("green_mass")
        cells = ["%.1f" % s[t]["log10_p"] if t in s else "-" for t, _ in tests]
        nulls = ["%.3f / %.3f" % (n[t]["below_0.05"], n[t]["below_0.01"]) if n.get(t) else "-" for t, _ in tests]
        lines.append("| %s | %d | %d | %.4f | %s | %s | %s |" % (
            r["model"] + (" (over %s)" % r["reference"] if r.get("reference") else ""), r["queries"], s["scored"],
            s["greedy"]["green_rate"], "%.4f" % mass["green_share"] if mass else "-", " | ".join(cells), "; ".join(nulls)))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--work", default="out/bench-neural-h2")
    parser.add_argument("--width", type=int, default=2)
    parser.add_argument("--student-fraction", default="0.05")
    parser.add_argument("--stride", type=int, default=5)
    parser.add_argument("--models", default="transformer-0.05,teacher")
    parser.add_argument("--null-keys", type=int, default=200)
    parser.add_argument("--calibration-keys", type=int, default=0)
    parser.add_argument("--calibration-answers", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reference", default="",
                        help="clean reference model for the excess test: a model tag (transformer-0.0) or ngram2")
    parser.add_argument("--reference-top-logprobs", type=int, default=100)
    parser.add_argument("--top-logprobs", type=int, default=20,
                        help="log-probabilities a query returns (an API's top_logprobs; 0: the greedy token only)")
    parser.add_argument("--prompts-dir", default=None)
    options = parser.parse_args()
    options.models = options.models.split(",")
    options.student_fraction = str(float(options.student_fraction))
    if options.stride < 1:
        parser.error("--stride: 1 or more")
    options.order = 3
    experiment = ReadingExperiment(options)
    if options.calibration_keys:
        os.makedirs(experiment.path("calibration"), exist_ok=True)
        experiment.calibration()
    if options.models != [""]:
        print(table(experiment.rows()))


if __name__ == "__main__":
    main()
