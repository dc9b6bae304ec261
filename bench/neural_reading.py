#!/usr/bin/env python3
"""Reading mode (issue 17): ask a suspect for its greedy next token after prefixes of the harvest
answers it may have trained on, instead of letting it write answers of its own, and scan those
tokens. A student reproduces what it learned where it learned it: in generation mode it leaves the
harvest's contexts after a few tokens; here every scored token follows a harvest context.

Works in a folder bench/neural_radioactivity.py filled (harvest.jsonl, the key, the students):

  queries  = for each of the first N harvest answers (N: the answers the student with
             --student-fraction trained on, from its .used file), every prefix prompt + answer[:t];
             a prefix is dropped when its last h tokens (the key's context width) occur earlier in
             it: then no token of the prompt was chosen under that context's green list, so under
             the null the suspect's next token there is green with probability exactly gamma (a
             key-free rule on the prompt alone; the scan's prompt rule drops exact copies besides);
             every --stride-th of the rest, in order
  answers  = `generate --temperature 0 --max-tokens 1` of each model in --models (a suspect behind
             an API: `probe --completions --max-tokens 1 --temperature 0` on the same token-id prompts)
  scan     = records {"prompt_tokens": prefix, "tokens": prefix[-h:] + [next]}: only the next token
             is scored (the first h are its context), `scan --key`, and --null-keys fresh keys
  control  = the clean transformer (--models includes transformer-0.0, trained on brown:train
             alone) is an innocent model: scanned with the real key as well as fresh keys
  calibration (--calibration-keys K) = the null where it is hardest, with the real key each time: K
             fresh keys, each watermarking --calibration-answers teacher answers; the teacher's
             own unwatermarked model (the innocent model closest to the harvest) reads every
             prefix of them (all kept queries) and is scanned with that key. Each scored tuple is
             green with probability exactly gamma under the null, but the tuples are not exactly
             independent (another query's prefix may show the teacher's choice after this query's
             window), so the binomial tail is checked here: fractions of p < 0.05 and p < 0.01

Usage: bench/neural_reading.py [--build build/release] [--work out/bench-neural-h2] [--width 2]
       [--student-fraction 0.05] [--stride 5] [--models transformer-0.05,transformer-0.0] [--null-keys 200]
       [--calibration-keys 200 --calibration-answers 20 --models ""]
Writes reading-results.json into the work folder and prints a Markdown table.
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

    def reading_scan(self, key, harvest, answers):
        figures = json.loads(run([self.tm, "reading", "scan", "--key", key, "--harvest", harvest,
                                  "--answers", answers, "--json"]))
        return figures

    def null_fractions_reading(self, harvest, answers, count):
        """Fresh keys (never used to watermark anything) over the same answers: both tests' p-values."""
        greedy, mass = [], []
        for i in range(count):
            figures = self.reading_scan(self.keygen(f"null-{i}", self.o.width), harvest, answers)
            greedy.append(10 ** figures["greedy"]["log10_p"])
            if "green_mass" in figures:
                mass.append(10 ** figures["green_mass"]["log10_p"])

        def fractions(p_values):
            if not p_values:
                return None
            n = len(p_values)
            return {"keys": n, "below_0.05": sum(p < 0.05 for p in p_values) / n,
                    "below_0.01": sum(p < 0.01 for p in p_values) / n, "min_log10_p": math.log10(min(p_values))}
        return {"greedy": fractions(greedy), "green_mass": fractions(mass)}

    def calibration(self):
        """The real key's p-values on an innocent reader, over --calibration-keys keys."""
        teacher = self.teacher()
        prompts = self.prompts("brown-heldout.jsonl", self.o.calibration_answers, "c")
        greedy, mass, scored = [], [], []
        for i in range(self.o.calibration_keys):
            key = self.keygen(f"calibration-{i}", self.o.width)
            harvest = self.generate(teacher, prompts, self.path("calibration", f"harvest-{i}.jsonl"), 3000 + i, key)
            queries = self.queries(harvest, used=self.o.calibration_answers, stride=1,
                                   out=self.path("calibration", f"queries-{i}.jsonl"))
            answers, _ = self.next_tokens(teacher, queries, f"calibration-{i}", stride=1)
            figures = self.reading_scan(key, harvest, answers)
            greedy.append(10 ** figures["greedy"]["log10_p"])
            mass.append(10 ** figures["green_mass"]["log10_p"] if "green_mass" in figures else 1.0)
            scored.append(figures["scored"])
            for path in [harvest, queries, answers]:
                os.remove(path)  # keep the folder small: only the p-values matter
        count = len(greedy)
        result = {"keys": count, "mean_scored": sum(scored) / count,
                  "greedy": {"below_0.05": sum(p < 0.05 for p in greedy) / count,
                             "below_0.01": sum(p < 0.01 for p in greedy) / count, "p_values": greedy},
                  "green_mass": {"below_0.05": sum(p < 0.05 for p in mass) / count,
                                 "below_0.01": sum(p < 0.01 for p in mass) / count, "p_values": mass}}
        with open(self.path(f"reading-calibration-top{self.o.top_logprobs}.json"), "w") as f:
            json.dump({"settings": vars(self.o), "calibration": result}, f, indent=1)
        print("calibration: %d keys, %.0f scored windows a key; greedy p < 0.05: %.3f, p < 0.01: %.3f; "
              "green mass p < 0.05: %.3f, p < 0.01: %.3f" % (
                  count, result["mean_scored"], result["greedy"]["below_0.05"], result["greedy"]["below_0.01"],
                  result["green_mass"]["below_0.05"], result["green_mass"]["below_0.01"]))
        return result

    def rows(self):
        key = self.keygen(f"neural-h{self.o.width}", self.o.width)
        harvest = self.path("harvest.jsonl")
        queries = self.queries(harvest)
        rows = []
        for tag in self.o.models:
            model = self.path(f"student-{tag}.tm")
            answers, seconds = self.next_tokens(model, queries, tag)
            row = {"model": tag, "queries": sum(1 for _ in open(queries)), "generate_seconds": seconds,
                   "scan": self.reading_scan(key, harvest, answers),
                   "null": self.null_fractions_reading(harvest, answers, self.o.null_keys)}
            rows.append(row)
            print(json.dumps(row), flush=True)
        with open(self.path(f"reading-results-v2-top{self.o.top_logprobs}.json"), "w") as f:
            json.dump({"settings": vars(self.o), "rows": rows}, f, indent=1)
        return rows


def table(rows):
    lines = ["| model | queries | scored windows | greedy green rate | greedy log10 p | green share of top-k mass | "
             "green-mass log10 p | fresh keys: greedy p < 0.05 / 0.01 | fresh keys: green mass p < 0.05 / 0.01 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        s, n = r["scan"], r["null"]
        mass = s.get("green_mass")
        nm = n["green_mass"]
        lines.append("| %s | %d | %d | %.4f | %.1f | %s | %s | %.3f / %.3f | %s |" % (
            r["model"], r["queries"], s["scored"], s["greedy"]["green_rate"], s["greedy"]["log10_p"],
            "%.4f" % mass["green_share"] if mass else "-", "%.1f" % mass["log10_p"] if mass else "-",
            n["greedy"]["below_0.05"], n["greedy"]["below_0.01"],
            "%.3f / %.3f" % (nm["below_0.05"], nm["below_0.01"]) if nm else "-"))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--work", default="out/bench-neural-h2")
    parser.add_argument("--width", type=int, default=2)
    parser.add_argument("--student-fraction", default="0.05")
    parser.add_argument("--stride", type=int, default=5)
    parser.add_argument("--models", default="transformer-0.05,transformer-0.0")
    parser.add_argument("--null-keys", type=int, default=200)
    parser.add_argument("--calibration-keys", type=int, default=0)
    parser.add_argument("--calibration-answers", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
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
