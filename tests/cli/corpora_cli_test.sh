#!/usr/bin/env bash
# Tests of the corpus set-up (issue 4, corpora/make_corpora.py, run by corpora/fetch.sh): Brown tag
# stripping and quote restoration, e-mail bodies without headers, nlp-corpus documents, the split
# rule, the manifest check that catches drift, and that the committed prompt sets match their
# committed manifests. Golden inputs and outputs are in corpora/golden/. Needs no cache.
# Usage: corpora_cli_test.sh PATH/TO/tracemark
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
source "$(dirname "$0")/cli_test_lib.sh" "$1"
make=$root/corpora/make_corpora.py
golden=$root/corpora/golden

same() { cmp -s "$1" "$2" || { diff "$1" "$2" | head -10; return 1; }; }

python3 "$make" detokenize-brown "$golden/brown-tagged.txt" > passages.txt
check "Brown: tags stripped, quotes restored, passages as in the golden file" same passages.txt "$golden/brown-passages.txt"
check "Brown: no tag left" bash -c '! grep -qE "/(at|nn|vbd|in)\b" passages.txt'
check "Brown: \`\` and '' became \"" bash -c "grep -qF '\"Don'\"'\"'t\"; and '\"'\"'yes'\"'\"'? 3/4. Headline: Done!' passages.txt"
python3 "$make" mail-body "$golden/mail-multipart.eml" > multipart.txt
check "mail: text/plain part, quoted-printable and latin-1 decoded, no headers, no attachment" same multipart.txt "$golden/mail-multipart.body.txt"
check "mail: no header line left" bash -c '! grep -qE "^(From|Subject|Content-Type|Return-Path)" multipart.txt'
python3 "$make" mail-body "$golden/mail-html-only.eml" > html.txt
check "mail: text of an HTML-only body, without scripts and styles" same html.txt "$golden/mail-html-only.body.txt"
python3 "$make" nlp-documents "$golden/nlp-sentences.json" > nlp.jsonl
check "nlp-corpus: 30 sentences make two documents (12, then 18 with the short remainder)" same nlp.jsonl "$golden/nlp-documents.jsonl"

# The split rule: fixed assignments, and fractions near the documented ones over 20,000 ids.
expect 0 "^train$" -- python3 "$make" split --corpus brown ca01
expect 0 "^heldout$" -- python3 "$make" split --corpus brown ca10
expect 0 "^null$" -- python3 "$make" split --corpus brown ca08
python3 - "$root/corpora" > fractions.txt <<'PY'
import sys, collections
sys.path.insert(0, sys.argv[1])
import make_corpora as m
for corpus in ("brown", "spam-assassin"):
    counts = collections.Counter(m.split_of(corpus, "doc-%d" % i, m.CORPORA[corpus]["fractions"]) for i in range(20000))
    print(corpus, " ".join("%s=%.4f" % (s, counts[s] / 20000) for s in m.SPLITS))
PY
# 20,000 draws: the standard deviation of a fraction near 0.1 is 0.0021; 0.01 is about 5 of them.
check "split fractions within 0.01 of 0.8/0.1/0.1 and 0.6/0.1/0.3" python3 - fractions.txt <<'PY'
import sys
want = {"brown": (0.8, 0.1, 0.1), "spam-assassin": (0.6, 0.1, 0.3)}
for line in open(sys.argv[1]):
    corpus, *parts = line.split()
    got = [float(p.split("=")[1]) for p in parts]
    assert all(abs(g - w) < 0.01 for g, w in zip(got, want[corpus])), line
PY

# The manifest check: a folder matching a manifest passes; one changed byte or a missing split is named.
mkdir corpus
printf '{"id": "a", "text": "one"}\n{"id": "b", "text": "two"}\n' > corpus/train.jsonl
printf '{"id": "c", "text": "three"}\n' > corpus/heldout.jsonl
: > corpus/null.jsonl
python3 - <<'PY'
import hashlib, json
entry = lambda p, n: {"file": p.split("/")[1], "documents": n, "bytes": len(open(p, "rb").read()),
                      "sha256": hashlib.sha256(open(p, "rb").read()).hexdigest()}
json.dump({"splits": {"train": entry("corpus/train.jsonl", 2), "heldout": entry("corpus/heldout.jsonl", 1),
                      "null": entry("corpus/null.jsonl", 0)}}, open("manifest.json", "w"))
PY
expect 0 "" -- python3 "$make" verify --dir corpus --manifest manifest.json
sed -i 's/three/threE/' corpus/heldout.jsonl
expect 1 "split heldout: corpus/heldout.jsonl has 1 records, 29 bytes, SHA-256 [0-9a-f]{64}; manifest.json says 1 records" -- \
  python3 "$make" verify --dir corpus --manifest manifest.json
rm corpus/null.jsonl
expect 1 "split null: corpus/null.jsonl is missing" -- python3 "$make" verify --dir corpus --manifest manifest.json
expect 1 "cannot check against it" -- python3 "$make" verify --dir corpus --manifest corpus/train.jsonl

# The committed prompt sets match the committed manifests, and every record is {"id", "prompt"}
# with 1 to 10 words.
for corpus in brown nlp-corpus spam-assassin; do
  check "$corpus: committed prompts match corpora/manifests/$corpus.json" python3 - "$root" "$corpus" <<'PY'
import hashlib, json, sys
root, corpus = sys.argv[1], sys.argv[2]
manifest = json.load(open("%s/corpora/manifests/%s.json" % (root, corpus)))
data = open("%s/%s" % (root, manifest["prompts"]["file"]), "rb").read()
assert hashlib.sha256(data).hexdigest() == manifest["prompts"]["sha256"]
records = [json.loads(line) for line in data.decode("ascii").split("\n") if line]
assert len(records) == manifest["prompts"]["records"] >= 300
assert all(set(r) == {"id", "prompt"} and 1 <= len(r["prompt"].split()) <= 10 for r in records)
assert manifest["source"]["tarball_sha256"] in open("%s/corpora/npm-manifest.tsv" % root).read()
PY
done

# tracemark train/distill with the set-up's corpora: CORPUS:SPLIT names $TRACEMARK_CACHE/corpora/CORPUS/SPLIT.jsonl;
# a missing corpus cache names the set-up command; {"id", "text"} records are documents.
mkdir -p empty_cache cache/corpora/nlp-corpus
printf '{"id": 1, "prompt_tokens": [1, 2]}\n' > ok_prompts.jsonl
printf '{"id": 1, "tokens": [1, 2]}\n' > ids.jsonl
expect 2 "corpus brown:train: .*empty_cache/corpora/brown/train.jsonl is missing: the corpus cache is not set up; run ./tools/setup.sh" -- \
  env TRACEMARK_CACHE="$work/empty_cache" "$tracemark" train --corpus brown:train --vocab-size 1000 --out x.tmlm
expect 2 "corpus file empty_cache/corpora/spam-assassin/null.jsonl is missing: .*run ./tools/setup.sh" -- \
  "$tracemark" train --corpus empty_cache/corpora/spam-assassin/null.jsonl --vocab-size 1000 --out x.tmlm
expect 2 "corpus nlp-corpus:heldout: .* is missing: the corpus cache is not set up; run ./tools/setup.sh" -- \
  env TRACEMARK_CACHE="$work/empty_cache" "$tracemark" distill --teacher-outputs ids.jsonl --mix-clean nlp-corpus:heldout \
  --fraction 0.5 --vocab-size 1000 --out x.tmlm
printf '{"id": "a", "tokens": [1, 2, 3, 4]}\n{"id": "b", "tokens": [5, 6, 7]}\n' > cache/corpora/nlp-corpus/heldout.jsonl
expect 0 "on 7 tokens in 2 documents" -- \
  env TRACEMARK_CACHE="$work/cache" "$tracemark" train --corpus nlp-corpus:heldout --vocab-size 1000 --order 2 --out ids.tmlm
check "failed trainings leave no model file" test ! -e x.tmlm
printf '{"id": "ca01.00", "text": "The jury said it did find that many of the laws are outmoded."}\n{"id": "ca01.01", "text": "It recommended that legislators act."}\n' > text.jsonl
expect 0 "on [0-9]+ tokens in 2 documents" -- \
  "$tracemark" train --corpus text.jsonl --tokenizer gpt2 --order 3 --out text.tmlm

# Bad input with the reference model: a key of another tokenizer, a broken prompt line (file, line,
# byte offset), out-of-range parameters; exit status 2 and no output.
expect 0 "" -- "$tracemark" keygen --out gpt2key.json --tokenizer gpt2
expect 0 "" -- "$tracemark" train --corpus cache/corpora/nlp-corpus/heldout.jsonl --vocab-size 50257 --order 2 --out raw50257.tmlm
expect 2 "gpt2key.json: the key is bound to tokenizer gpt2, but raw50257.tmlm uses raw token ids" -- \
  "$tracemark" generate --model raw50257.tmlm --prompts ok_prompts.jsonl --out x.jsonl --key gpt2key.json
printf '{"id": 1, "prompt": "The jury said"}\n{"id": 2, "prompt": "It rec\n' > broken_prompts.jsonl
expect 2 "broken_prompts.jsonl line 2 \(byte offset [0-9]+\): not valid JSON" -- \
  "$tracemark" generate --model text.tmlm --prompts broken_prompts.jsonl --out x.jsonl
expect 2 "--order: Value 1 not in range 2 to 5" -- "$tracemark" distill --teacher-outputs text.jsonl --tokenizer gpt2 --order 1 --out x.tmlm
expect 2 "--fraction: Value 1.5 not in range" -- "$tracemark" distill --teacher-outputs text.jsonl --mix-clean text.jsonl --fraction 1.5 --tokenizer gpt2 --out x.tmlm
expect 2 "--top-p: Value 1.5 not in range" -- "$tracemark" generate --model text.tmlm --prompts ok_prompts.jsonl --out x.jsonl --top-p 1.5
check "refused commands leave no output" bash -c "test ! -e x.jsonl && test ! -e x.tmlm"
finish
