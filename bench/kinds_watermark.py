#!/usr/bin/env python3
"""Watermark figures per kind of traffic (prose, code, tool calls, reasoning) and per setting (plain;
entropy-aware embedding and scoring; entropy-aware + syntax-aware). Drives the tracemark CLI only.

  bench/kinds_watermark.py --tracemark build/release/tools/tracemark --work DIR [--prompts N]
      [--students] [--validity-keys K] [--threshold NATS] [--threads T]

Per kind: the teacher is an order-3 model of KIND:train; the quality model one of KIND:heldout.
Detection: N held-out prompts, one answer each (200 tokens; tool calls as long as their call),
watermarked; TPR at FPR 1e-3 is the share with exact p < 1e-3 (the test is exact, so that threshold
has FPR <= 1e-3); median log10 p. Quality: perplexity of watermarked over unwatermarked answers under
the held-out model; tool calls: share that parse and match their schema. Distillation (--students):
4 watermarked answers per prompt form the harvest; students at 100/25/5% (rest KIND:train) answer the
prompts with 200 tokens each (on tool-call prompts unconstrained, as a suspect's raw text); scan of
the first 10k and 100k tokens, without and with the harvest as reference log. Resumable: outputs
already in --work are reused; every result row is appended to --work/results.jsonl as it is made. Validity: K fresh keys per setting, one scan with all of them (raw per-key p) over
human/unwatermarked text of KIND:null; fraction p < 0.01 with its 99% binomial interval and the KS
distance to the uniform with its p-value. Prints a Markdown table per part.
"""
import argparse, json, math, os, statistics, subprocess, sys

KINDS = {"prose": "brown", "code": "go-code", "tool calls": "tool-calls", "reasoning": "reasoning"}
SETTINGS = ["plain", "entropy", "entropy+syntax"]


def run(cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), out.stderr))
    return out.stdout


def produce(path, cmd):
    """Runs cmd (which writes path) unless path exists: a rerun with the same --work resumes."""
    if not os.path.exists(path):
        run(cmd)


def record(results, table, row):
    """Keeps a result row and appends it to results.jsonl at once (nothing is lost to an interruption)."""
    results[table].append(row)
    with open("results.jsonl", "a") as f:
        f.write(json.dumps({"table": table, "row": row}) + "\n")


def ks(values):
    values = sorted(values)
    n = len(values)
    d = max(max((i + 1) / n - v, v - i / n) for i, v in enumerate(values))
    # Kolmogorov's asymptotic tail (Marsaglia et al. 2003, eq. 1 with the Stephens correction).
    t = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    p = 2 * sum((-1)**(j - 1) * math.exp(-2 * j * j * t * t) for j in range(1, 101))
    return d, min(1.0, max(0.0, p))


def interval99(n, p=0.01):
    lo = next(k for k in range(n + 1) if sum(math.comb(n, i) * p**i * (1 - p)**(n - i) for i in range(k + 1)) > 0.005)
    hi = next(k for k in range(n + 1) if sum(math.comb(n, i) * p**i * (1 - p)**(n - i) for i in range(k + 1)) >= 0.995)
    return lo / n, hi / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tracemark", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--prompts", type=int, default=200)
    ap.add_argument("--students", action="store_true")
    ap.add_argument("--validity-keys", type=int, default=100)
    ap.add_argument("--threshold", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args()
    tm = os.path.abspath(args.tracemark)
    os.makedirs(args.work, exist_ok=True)
    os.chdir(args.work)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    T = str(args.threads)

    keys = {"plain": "plain.key", "entropy": "entropy.key", "entropy+syntax": "entropy.key"}
    for name, extra in (("plain.key", []), ("entropy.key", ["--entropy-threshold", str(args.threshold)])):
        if not os.path.exists(name):
            run([tm, "keygen", "--tokenizer", "cl100k_base", "--out", name] + extra)

    results = {"detection": [], "quality": [], "distill": [], "validity": []}
    if os.path.exists("results.jsonl"):
        os.replace("results.jsonl", "results.previous.jsonl")
    for kind in args.kinds.split(","):
        corpus = KINDS[kind]
        teacher, held = corpus + ".tmlm", corpus + "-heldout.tmlm"
        for model, split in ((teacher, "train"), (held, "heldout")):
            if not os.path.exists(model):
                run([tm, "train", "--corpus", "%s:%s" % (corpus, split), "--tokenizer", "cl100k_base", "--out", model])
        prompts_all = [json.loads(l) for l in open(os.path.join(root, "corpora", "prompts", corpus + "-heldout.jsonl"))]
        prompts = prompts_all[:args.prompts]
        with open(corpus + ".prompts.jsonl", "w") as f:
            for p in prompts:
                f.write(json.dumps(p) + "\n")
        gen = [tm, "generate", "--model", teacher, "--prompts", corpus + ".prompts.jsonl", "--top-k", "40",
               "--threads", T, "--force"]
        produce(corpus + ".clean.jsonl", gen + ["--out", corpus + ".clean.jsonl", "--seed", "7"])
        for setting in SETTINGS:
            out = "%s.%s.jsonl" % (corpus, setting)
            extra = ["--key", keys[setting], "--record-entropy"] + (["--syntax-aware"] if setting == "entropy+syntax" else [])
            produce(out, gen + ["--out", out, "--seed", "7"] + extra)
            det = [tm, "detect", "--key", keys[setting], "--input", out, "--json"]
            if setting == "entropy+syntax":
                det.append("--syntax-aware")
            rows = [json.loads(l) for l in run(det).splitlines()][:-1]
            logp = [r["log10_p"] for r in rows]
            lengths = [r["tokens"] for r in rows]
            record(results, "detection", (kind, setting, len(rows), statistics.median(lengths),
                                          sum(1 for x in logp if x < -3) / len(rows), statistics.median(logp)))
            ppl = lambda path: json.loads(run([tm, "perplexity", "--model", held, "--input", path, "--json"]).splitlines()[-1])["perplexity"]
            ratio = ppl(out) / ppl(corpus + ".clean.jsonl")
            valid = ""
            if kind == "tool calls":
                ok = 0
                records = [json.loads(l) for l in open(out)]
                for r, p in zip(records, prompts):
                    call = r["message"]["tool_calls"][0]["function"]
                    schema = next(t["function"] for t in p["tools"] if t["function"]["name"] == call["name"])
                    a = json.loads(call["arguments"])
                    props, req = schema["parameters"]["properties"], schema["parameters"]["required"]
                    types = {"string": str, "integer": int, "boolean": bool}
                    ok += set(a) == set(req) and all(isinstance(a[k], types[props[k]["type"]]) and
                                                     (props[k]["type"] != "integer" or not isinstance(a[k], bool)) and
                                                     a[k] in props[k].get("enum", [a[k]]) for k in req)
                valid = "%d/%d" % (ok, len(records))
            record(results, "quality", (kind, setting, ratio, valid))
            if args.students and setting in ("plain", "entropy+syntax"):
                harvest = "%s.%s.harvest.jsonl" % (corpus, setting)
                with open(corpus + ".prompts4.jsonl", "w") as f:
                    for i in range(4):
                        for p in prompts_all:
                            q = dict(p); q["id"] = "%s#%d" % (p["id"], i); f.write(json.dumps(q) + "\n")
                # The students answer 520 prompts with 200 tokens each (just over 100k tokens). On tool-call
                # prompts they write unconstrained text (no "tools"): a suspect's raw output, not a served call.
                with open(corpus + ".student-prompts.jsonl", "w") as f:
                    for line in open(corpus + ".prompts4.jsonl").read().splitlines()[:520]:
                        q = json.loads(line)
                        q.pop("tools", None)
                        f.write(json.dumps(q) + "\n")
                produce(harvest, [tm, "generate", "--model", teacher, "--prompts", corpus + ".prompts4.jsonl", "--top-k", "40",
                                  "--threads", T, "--force", "--out", harvest, "--seed", "11"] + extra)
                need = 100_000
                for fraction in (1.0, 0.25, 0.05):
                    student = "%s.%s.%g.student.tmlm" % (corpus, setting, fraction)
                    mix = [] if fraction == 1.0 else ["--mix-clean", corpus + ":train", "--fraction", str(fraction)]
                    produce(student, [tm, "distill", "--teacher-outputs", harvest, "--tokenizer", "cl100k_base", "--out", student,
                                      "--force"] + mix)
                    answers = "%s.%s.%g.answers.jsonl" % (corpus, setting, fraction)
                    produce(answers, [tm, "generate", "--model", student, "--prompts", corpus + ".student-prompts.jsonl", "--top-k",
                                      "40", "--threads", T, "--force", "--out", answers, "--seed", "13"])
                    records = [json.loads(l) for l in open(answers)]
                    for size in (10_000, need):
                        part = "%s.%d.jsonl" % (answers, size)
                        total = 0
                        with open(part, "w") as f:
                            for r in records:
                                if total >= size:
                                    break
                                f.write(json.dumps({"id": r["id"], "prompt_tokens": r["prompt_tokens"], "tokens": r["tokens"]}) + "\n")
                                total += len(r["tokens"])
                        for with_log in (False, True):
                            scan = [tm, "scan", "--key", keys[setting], "--suspect", part, "--json", "--threads", T]
                            if setting != "plain":
                                scan += ["--reference-model", teacher, "--reference-top-k", "40", "--syntax-aware"]
                            if with_log:
                                scan += ["--reference-log", harvest]
                            result = json.loads(run(scan))["suspect"]["keys"][0]
                            record(results, "distill", (kind, setting, fraction, total, with_log, result["log10_p"], result["scored"]))
        # Validity: fresh keys over human / unwatermarked text of KIND:null (never served).
        null = corpus + ".null.jsonl"
        with open(null, "w") as f:
            for line in open(os.path.expanduser("~/.cache/tracemark/corpora/%s/null.jsonl" % corpus)):
                r = json.loads(line)
                f.write(json.dumps({"id": r["id"], "text": r.get("answer", r["text"]),
                                    **({"prompt": r["prompt"]} if "answer" in r else {})}) + "\n")
        for setting in SETTINGS:
            extra = [] if setting == "plain" else ["--entropy-threshold", str(args.threshold)]
            key_files = []
            for i in range(args.validity_keys):
                name = "fresh.%s.%d.key" % ("plain" if setting == "plain" else "entropy", i)
                if not os.path.exists(name):
                    run([tm, "keygen", "--tokenizer", "cl100k_base", "--out", name] + extra)
                key_files.append(name)
            scan = [tm, "scan", "--suspect", null, "--json", "--threads", T]
            for k in key_files:
                scan += ["--key", k]
            if setting != "plain":
                scan += ["--reference-model", teacher]
            if setting == "entropy+syntax":
                scan.append("--syntax-aware")
            result = json.loads(run(scan))["suspect"]["keys"]
            ps = [10 ** r["log10_p"] for r in result]
            below = sum(1 for p in ps if p < 0.01) / len(ps)
            lo, hi = interval99(len(ps))
            d, kp = ks(ps)
            record(results, "validity", (kind, setting, len(ps), result[0]["scored"], below, lo, hi, d, kp))

    print("\n### Detection of single responses (threshold %.2f nats, top-k 40)\n" % args.threshold)
    print("| kind | setting | responses | median tokens | TPR at FPR 1e-3 | median log10 p |\n|---|---|---|---|---|---|")
    for r in results["detection"]:
        print("| %s | %s | %d | %d | %.3f | %.1f |" % r)
    print("\n### Quality\n\n| kind | setting | perplexity ratio (held-out model) | tool calls parsing and matching schema |\n|---|---|---|---|")
    for r in results["quality"]:
        print("| %s | %s | %.3f | %s |" % r)
    if results["distill"]:
        print("\n### Distillation scan\n\n| kind | setting | watermarked share | suspect tokens | reference log | log10 p | scored |\n|---|---|---|---|---|---|---|")
        for r in results["distill"]:
            print("| %s | %s | %g | %d | %s | %.1f | %d |" % (r[0], r[1], r[2], r[3], "yes" if r[4] else "no", r[5], r[6]))
    print("\n### Validity (fresh keys, KIND:null never served)\n\n| kind | setting | keys | tuples scored | fraction p < 0.01 | 99% interval | KS D | KS p |\n|---|---|---|---|---|---|---|---|")
    for r in results["validity"]:
        print("| %s | %s | %d | %d | %.3f | [%.3f, %.3f] | %.3f | %.2f |" % r)


if __name__ == "__main__":
    main()
