#!/usr/bin/env python3
"""Corpora of the kinds of traffic distillation campaigns harvest: code, tool calls, reasoning traces.

Run by corpora/fetch.sh after make_corpora.py (it reads the Brown and nlp-corpus documents for
argument values and names). Standard library only. Writes, for each corpus NAME, the same layout as
make_corpora.py: OUT/NAME/{train,heldout,null}.jsonl ({"id", "text", ...}),
OUT/NAME/NAME-heldout.prompts.jsonl and OUT/NAME/manifest.json.

go-code      Go source files of Debian's golang-1.19-src (version pinned below; installed by
             tools/setup.sh): every .go file under /usr/share/go-1.19/src that is not a test, not
             under testdata/ or vendor/, and holds 1 to 12 KiB. id: the path under src/; text: the
             file. The SHA-256 of every file read is pinned in corpora/manifests/go-code-files.tsv.
             Prompt: PROMPT_LINES lines from the file's package clause on.
tool-calls   generated requests and OpenAI-format assistant answers with one tool call each, for
             the functions of corpora/toolcalls/functions.json. Argument values come from the
             corpora: phrases of Brown passages, capitalised Brown words as names, Go paths and
             identifiers of the go-code corpus, nlp-corpus sentences as message texts. Records carry
             "prompt" (the request and a line break), "tools" (TOOLS_OFFERED schemas: the one called
             and others drawn at random, in functions.json order), "message" (the OpenAI assistant
             message), "answer": the message as the model writes it (verify/text_records.hpp,
             tool_call_text()): [content "\\n"] <tool_call>{"name": ..., "arguments": ...}</tool_call>,
             and "text": prompt + answer (the document a model is trained on, as for the prose
             corpora, whose prompts are their documents' beginnings).
reasoning    generated step-by-step worked solutions: multi-step arithmetic word problems, unit
             conversions and ordering puzzles, with every intermediate result and the final answer.
             Records carry "prompt" (the question and a line break), "answer" (the worked solution)
             and "text" (prompt + answer).

Deterministic: generated records come from random.Random(SEED) (Python's Mersenne Twister with an
integer seed gives the same draws on every 3.x), in a fixed order. Splits: u = (first 8 bytes of
SHA-256 of "tracemark-split-v1/NAME/ID", big-endian) / 2^64; train, heldout, null by FRACTIONS.
"""

import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_corpora import (record_line, split_entries, split_of as split_by_fractions, write_manifest,  # noqa: E402
                          write_prompts)

SEED = 20260516
GO_PACKAGE = "golang-1.19-src"
GO_VERSION = "1.19.8-2"
GO_ROOT = "/usr/share/go-1.19/src"
GO_MIN_BYTES, GO_MAX_BYTES = 1024, 12 * 1024
PROMPT_LINES = 3
PROMPT_LIMIT = 500
TOOL_CALL_RECORDS = 30000
REASONING_RECORDS = 6000
TOOLS_OFFERED = 3
FRACTIONS = {"train": 0.8, "heldout": 0.1, "null": 0.1}
SPLITS = ("train", "heldout", "null")
KINDS = ("go-code", "tool-calls", "reasoning")


def split_of(corpus, unit):
    return split_by_fractions(corpus, unit, FRACTIONS)


# ---------------------------------------------------------------- go-code

def installed_version(package):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def go_files():
    """(path under src/, bytes) of the Go corpus's files, sorted by path."""
    version = installed_version(GO_PACKAGE)
    if version != GO_VERSION:
        raise RuntimeError("%s %s is needed (found %s); run ./tools/setup.sh, which installs it"
                           % (GO_PACKAGE, GO_VERSION, version or "none"))
    found = []
    for directory, subdirs, files in os.walk(GO_ROOT):
        subdirs[:] = sorted(d for d in subdirs if d not in ("testdata", "vendor"))
        for name in sorted(files):
            if not name.endswith(".go") or name.endswith("_test.go"):
                continue
            path = os.path.join(directory, name)
            size = os.path.getsize(path)
            if GO_MIN_BYTES <= size <= GO_MAX_BYTES:
                with open(path, "rb") as f:
                    found.append((os.path.relpath(path, GO_ROOT), f.read()))
    found.sort()
    return found


def go_documents(files):
    for rel, data in files:
        text = data.decode("utf-8", errors="replace")
        yield {"id": rel, "text": text}, rel


def go_prompt(record):
    """The PROMPT_LINES lines from the package clause on (the licence header above it is the same in
    every file)."""
    lines = record["text"].split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("package ")), 0)
    return "\n".join(lines[start:start + PROMPT_LINES]) + "\n"


# ---------------------------------------------------------------- values drawn from the corpora

class Values:
    def __init__(self, cache, go):
        self.phrases, self.names, self.sentences = [], [], []
        brown = os.path.join(cache, "corpora", "brown", "train.jsonl")
        nlp = os.path.join(cache, "corpora", "nlp-corpus", "train.jsonl")
        for path in (brown, nlp):
            if not os.path.isfile(path):
                raise RuntimeError("%s is missing; corpora/fetch.sh builds it before this corpus" % path)
        with open(brown, encoding="utf-8") as f:
            for line in f:
                words = re.findall(r"[A-Za-z][a-z]+", json.loads(line)["text"])
                for i in range(0, len(words) - 4, 37):
                    self.phrases.append(" ".join(w.lower() for w in words[i:i + 3]))
                for a, b in zip(words, words[1:]):
                    if b[0].isupper() and a[0].islower() and len(b) > 3:
                        self.names.append(b)
        with open(nlp, encoding="utf-8") as f:
            for line in f:
                for sentence in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]):
                    if 4 <= len(sentence.split()) <= 12 and '"' not in sentence and "\\" not in sentence:
                        self.sentences.append(sentence.strip())
        self.paths = [rel for rel, _ in go]
        self.packages = sorted({os.path.dirname(rel) for rel, _ in go if os.path.dirname(rel)})
        self.identifiers = []
        for rel, data in go[::3]:
            self.identifiers.extend(re.findall(rb"^func (?:\([^)]*\) )?([A-Za-z_][A-Za-z0-9_]*)", data, re.M))
        self.identifiers = sorted({i.decode("ascii") for i in self.identifiers})
        self.names = sorted(set(self.names))
        for name, pool in (("phrases", self.phrases), ("names", self.names), ("sentences", self.sentences),
                           ("identifiers", self.identifiers)):
            if not pool:
                raise RuntimeError("no %s found in the corpora" % name)


# ---------------------------------------------------------------- tool-calls

PREAMBLES = ["Let me look that up.", "I'll check that for you.", "Sure, one moment.", "Let me find out.",
             "I will run that now.", "Checking."]
UNITS = ["km", "mile", "kg", "pound", "litre", "gallon"]


def tool_request(rng, values, name):
    """(request text, arguments) for one call of function name."""
    if name == "search_code":
        query = rng.choice(values.identifiers)
        language = rng.choice(["go", "python", "java", "c"])
        n = rng.randint(1, 50)
        return "Find up to %d places in the %s code that use %s." % (n, language, query), \
            {"query": query, "language": language, "max_results": n}
    if name == "read_file":
        path = rng.choice(values.paths)
        return rng.choice(["Show me %s.", "Open the file %s, please.", "What is in %s?"]) % path, {"path": path}
    if name == "run_tests":
        package = rng.choice(values.packages)
        verbose = rng.random() < 0.5
        return "Run the tests of %s%s." % (package, " with verbose output" if verbose else ""), \
            {"package": package, "verbose": verbose}
    if name == "lookup_definition":
        symbol, package = rng.choice(values.identifiers), rng.choice(values.packages)
        return "Where is %s defined in %s?" % (symbol, package), {"symbol": symbol, "package": package}
    if name == "web_search":
        query, n = rng.choice(values.phrases), rng.randint(1, 20)
        return "Search the web for %s and give me %d results." % (query, n), {"query": query, "max_results": n}
    if name == "create_issue":
        title = rng.choice(values.phrases).capitalize() + " " + rng.choice(["fails", "is slow", "crashes", "is wrong"])
        priority = rng.choice(["low", "medium", "high"])
        return "Open a %s-priority issue: %s." % (priority, title), {"title": title, "priority": priority}
    if name == "send_message":
        recipient, text = rng.choice(values.names), rng.choice(values.sentences)
        return "Tell %s: %s" % (recipient, text), {"recipient": recipient, "text": text}
    if name == "convert_units":
        value = rng.randint(1, 999)
        a, b = rng.sample(UNITS, 2)
        return "How many %s is %d %s?" % (b, value, a), {"value": value, "from_unit": a, "to_unit": b}
    raise ValueError("no request template for %s" % name)


def tool_call_text(content, name, arguments):
    """The model's text of an assistant message with one tool call (verify's tool_call_text())."""
    call = '<tool_call>{"name": %s, "arguments": %s}</tool_call>' % (json.dumps(name), arguments)
    return (content + "\n" + call) if content else call


def tool_call_documents(values, tools):
    rng = random.Random(SEED)
    names = [t["function"]["name"] for t in tools]
    for index in range(TOOL_CALL_RECORDS):
        name = rng.choice(names)
        request, arguments = tool_request(rng, values, name)
        content = rng.choice(PREAMBLES) if rng.random() < 0.4 else None
        arguments_text = json.dumps(arguments)  # ", " and ": " separators, as the decoder writes them
        message = {"role": "assistant", "content": content,
                   "tool_calls": [{"id": "call_%d" % index, "type": "function",
                                   "function": {"name": name, "arguments": arguments_text}}]}
        doc_id = "tc-%05d" % index
        offered = set(rng.sample([n for n in names if n != name], TOOLS_OFFERED - 1)) | {name}
        answer = tool_call_text(content or "", name, arguments_text)
        yield {"id": doc_id, "prompt": request + "\n", "tools": [t for t in tools if t["function"]["name"] in offered],
               "message": message, "answer": answer, "text": request + "\n" + answer}, doc_id


# ---------------------------------------------------------------- reasoning

PEOPLE = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena"]
ITEMS = [("box", "boxes", "pencil", "pencils"), ("crate", "crates", "apple", "apples"), ("pack", "packs", "card", "cards"),
         ("shelf", "shelves", "book", "books"), ("tray", "trays", "cup", "cups")]
CONVERSIONS = [("kilometres", "metres", 1000), ("hours", "minutes", 60), ("minutes", "seconds", 60),
               ("kilograms", "grams", 1000), ("metres", "centimetres", 100), ("days", "hours", 24)]


def arithmetic_problem(rng):
    container, containers, item, items = rng.choice(ITEMS)
    n, per = rng.randint(3, 40), rng.randint(6, 48)
    total = n * per
    sold = rng.randint(1, total - 1)
    price = rng.randint(2, 15)
    left = total - sold
    question = ("A store has %d %s with %d %s in each. It sells %d %s at $%d each. How many %s are left, and how "
                "much money did the sales bring in?" % (n, containers, per, items, sold, items, price, items))
    steps = ["Step 1: Total %s = %d x %d = %d." % (items, n, per, total),
             "Step 2: %s left = %d - %d = %d." % (items.capitalize(), total, sold, left),
             "Step 3: Money = %d x $%d = $%d." % (sold, price, sold * price),
             "Answer: %d %s are left and the sales brought in $%d." % (left, items, sold * price)]
    return question, "\n".join(steps)


def conversion_problem(rng):
    big, small, factor = rng.choice(CONVERSIONS)
    a, b = rng.randint(2, 90), rng.randint(2, 90)
    question = "How many %s are %d %s plus %d %s?" % (small, a, big, b, small)
    steps = ["Step 1: 1 %s is %d %s." % (big[:-1] if big.endswith("s") else big, factor, small),
             "Step 2: %d %s = %d x %d = %d %s." % (a, big, a, factor, a * factor, small),
             "Step 3: %d + %d = %d %s." % (a * factor, b, a * factor + b, small),
             "Answer: %d %s." % (a * factor + b, small)]
    return question, "\n".join(steps)


def ordering_problem(rng):
    people = rng.sample(PEOPLE, 3)
    heights = sorted(rng.sample(range(150, 195), 3), reverse=True)
    tallest, middle, shortest = people
    clues = ["%s is taller than %s." % (tallest, middle), "%s is taller than %s." % (middle, shortest)]
    rng.shuffle(clues)
    question = "%s %s Who is the tallest, and who is the shortest?" % tuple(clues)
    steps = ["Step 1: From \"%s\", %s is above %s." % (clues[0][:-1], clues[0].split()[0], clues[0].split()[-1][:-1]),
             "Step 2: From \"%s\", %s is above %s." % (clues[1][:-1], clues[1].split()[0], clues[1].split()[-1][:-1]),
             "Step 3: Chaining both, the order is %s > %s > %s." % (tallest, middle, shortest),
             "Answer: %s is the tallest and %s is the shortest." % (tallest, shortest)]
    del heights
    return question, "\n".join(steps)


def reasoning_documents():
    rng = random.Random(SEED + 1)
    makers = [arithmetic_problem, conversion_problem, ordering_problem]
    for index in range(REASONING_RECORDS):
        question, solution = makers[index % 3](rng)
        doc_id = "rs-%05d" % index
        yield {"id": doc_id, "prompt": question + "\n", "answer": solution, "text": question + "\n" + solution}, doc_id


# ---------------------------------------------------------------- output

def build(root, cache, corpus, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    source = {}
    go = go_files() if corpus in ("go-code", "tool-calls") else []
    if corpus == "go-code":
        documents = go_documents(go)
        prompt_of = go_prompt
        source = {"package": GO_PACKAGE, "version": GO_VERSION, "root": GO_ROOT,
                  "files": "corpora/manifests/go-code-files.tsv (path and SHA-256 of every file read)"}
        with open(os.path.join(out_dir, "files.tsv"), "w", encoding="utf-8") as f:
            for rel, data in go:
                f.write("%s\t%s\n" % (rel, hashlib.sha256(data).hexdigest()))
    elif corpus == "tool-calls":
        with open(os.path.join(root, "corpora", "toolcalls", "functions.json"), encoding="utf-8") as f:
            tools = json.load(f)
        documents = tool_call_documents(Values(cache, go), tools)
        prompt_of = None
        source = {"generator": "corpora/make_kind_corpora.py", "seed": SEED, "schemas": "corpora/toolcalls/functions.json",
                  "values": "brown:train, nlp-corpus:train, go-code"}
    else:
        documents = reasoning_documents()
        prompt_of = None
        source = {"generator": "corpora/make_kind_corpora.py", "seed": SEED + 1}
    files = {s: open(os.path.join(out_dir, s + ".jsonl"), "wb") for s in SPLITS}
    counts = {s: 0 for s in SPLITS}
    prompts = []
    try:
        for record, unit in documents:
            split = split_of(corpus, unit)
            files[split].write(record_line(record))
            counts[split] += 1
            if split == "heldout" and len(prompts) < PROMPT_LIMIT:
                prompt = {"id": record["id"], "prompt": prompt_of(record) if prompt_of else record["prompt"]}
                if "tools" in record:
                    prompt["tools"] = record["tools"]
                prompts.append(prompt)
    finally:
        for f in files.values():
            f.close()
    prompt_path = write_prompts(out_dir, corpus, prompts)
    manifest = {
        "format": "tracemark-corpus-manifest", "version": 1, "corpus": corpus, "source": source,
        "split_rule": "u = first 8 bytes of SHA-256(\"tracemark-split-v1/%s/\" + id), big-endian, over 2^64; "
                      "train if u < train fraction, heldout if u < train + heldout fraction, else null" % corpus,
        "fractions": FRACTIONS,
        **split_entries(out_dir, counts, prompt_path, prompts, corpus,
                        "the first %d held-out records' requests (go-code: %d lines from a file's package clause)"
                        % (PROMPT_LIMIT, PROMPT_LINES)),
    }
    return write_manifest(out_dir, manifest)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the documents, splits, prompts and manifest of one corpus")
    b.add_argument("--cache", required=True)
    b.add_argument("--corpus", required=True, choices=KINDS)
    b.add_argument("--out", required=True)
    u = sub.add_parser("update", help="rebuild every kind and copy manifests and prompt sets into corpora/")
    u.add_argument("--cache", required=True)
    u.add_argument("--work", required=True)
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        if args.command == "build":
            build(root, args.cache, args.corpus, args.out)
        else:
            for corpus in KINDS:
                out = os.path.join(args.work, corpus)
                build(root, args.cache, corpus, out)
                os.replace(os.path.join(out, "manifest.json"), os.path.join(root, "corpora", "manifests", corpus + ".json"))
                os.replace(os.path.join(out, "%s-heldout.prompts.jsonl" % corpus),
                           os.path.join(root, "corpora", "prompts", "%s-heldout.jsonl" % corpus))
                if corpus == "go-code":
                    os.replace(os.path.join(out, "files.tsv"), os.path.join(root, "corpora", "manifests", "go-code-files.tsv"))
                print("updated corpora/manifests/%s.json and corpora/prompts/%s-heldout.jsonl" % (corpus, corpus))
    except RuntimeError as error:
        sys.stderr.write("make_kind_corpora: error: %s\n" % error)
        sys.exit(2)


if __name__ == "__main__":
    main()
