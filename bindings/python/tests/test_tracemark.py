"""Tests of the Python binding (run by ctest as python3 -m unittest with PYTHONPATH=bindings/python
and TRACEMARK_LIBRARY naming the built libtracemark.so.0)."""
import ctypes
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

import numpy as np

import tracemark

REPOSITORY = pathlib.Path(__file__).resolve().parents[3]
GOLDEN = REPOSITORY / "tests" / "golden"
HEADER = REPOSITORY / "capi" / "include" / "tracemark" / "tracemark.h"
# ctest sets this: tools/setup.sh installs python3-torch, so a missing torch is a broken set-up, not
# a reason to skip.
TORCH_REQUIRED = os.environ.get("TRACEMARK_REQUIRE_TORCH") == "1"
KEY_TEXT = (GOLDEN / "kgw_v1_key.json").read_text()
VECTORS = json.loads((GOLDEN / "kgw_v1_vectors.json").read_text())
VOCAB = 50257
SEED = 20261125


def lowbias32(x):
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def reference_green(seed_hex, vocab=VOCAB):
    """kgw-green-list v1's definition (docs/DESIGN.md), independently in numpy: green(t) is
    lowbias32(t ^ low32(seed)) ^ high32(seed) < 2^30 for gamma 0.25."""
    seed = int(seed_hex, 16)
    low, high = np.uint32(seed & 0xFFFFFFFF), np.uint32(seed >> 32)
    tokens = np.arange(vocab, dtype=np.uint32)
    return (lowbias32(tokens ^ low) ^ high) < np.uint32(1 << 30)


class BindingTest(unittest.TestCase):
    def setUp(self):
        print(f"[ seed ] {SEED}")
        self.rng = np.random.default_rng(SEED)
        self.key = tracemark.Key.from_bytes(KEY_TEXT)

    def test_key_facts(self):
        self.assertEqual(self.key.key_id, "tmk_33e75962f43d9849")
        self.assertEqual((self.key.vocab_size, self.key.context_width, self.key.gamma, self.key.delta),
                         (VOCAB, 2, 0.25, 2.0))
        self.assertRegex(tracemark.version(), r"^\d+\.\d+\.\d+$")

    def test_full_vocabulary_bias_equals_the_scheme_definition(self):
        # The C++ processor's green lists are pinned by the golden seeds; the binding must add delta
        # to exactly the reference's green ids and leave every other logit bit-identical.
        for entry in VECTORS["contexts"]:
            processor = tracemark.Processor(self.key, prompt=entry["context"])
            logits = self.rng.normal(size=VOCAB).astype(np.float32)
            original = logits.copy()
            result = processor.apply(logits)
            self.assertIs(result, logits, "a contiguous float32 array is biased in place")
            expected = original + np.where(reference_green(entry["seed"]), np.float32(2.0), np.float32(0.0))
            np.testing.assert_array_equal(result, expected)
            for token, _, green in entry["tokens"]:
                self.assertEqual(bool(result[token] != original[token]), green, f"token {token}")

    def test_scheme_version_2_golden_green_tokens(self):
        # Version 2's golden vectors were computed with the openssl command line and Python.
        key = tracemark.Key.from_bytes((GOLDEN / "kgw_v2_key.json").read_text())
        self.assertEqual(key.scheme_version, 2)
        vectors = json.loads((GOLDEN / "kgw_v2_vectors.json").read_text())
        for entry in vectors["contexts"]:
            processor = tracemark.Processor(key, prompt=entry["context"])
            logits = processor.apply(np.zeros(VOCAB + 3, dtype=np.float32))
            for token, _, green in entry["tokens"]:
                self.assertEqual(logits[token], 2.0 if green else 0.0, f"token {token}")
            self.assertTrue((logits[VOCAB:] == 0).all())
            self.assertAlmostEqual(float((logits > 0).mean()), 0.25, delta=0.01)

    def test_candidates_equal_the_full_vocabulary_path(self):
        processor = tracemark.Processor(self.key, prompt=[11, 12])
        full = processor.apply(np.zeros(VOCAB, dtype=np.float32))
        ids = self.rng.integers(0, VOCAB, size=40)
        logits = self.rng.normal(size=40).astype(np.float32)
        biased = processor.apply_candidates(ids, logits)
        np.testing.assert_array_equal(biased, logits + full[ids])

    def test_batch_rows_are_independent(self):
        prompts = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
        batch = tracemark.LogitsProcessor(self.key)
        singles = [tracemark.Processor(self.key, prompt=row) for row in prompts]
        ids = prompts
        for step in range(6):
            scores = self.rng.normal(size=(3, VOCAB)).astype(np.float32)
            if step == 3:
                scores[1] = 0.0  # another row's content must not change row 0 or 2
            expected = [singles[b].apply(scores[b].copy()) for b in range(3)]
            result = batch(ids, scores.copy())
            for b in range(3):
                np.testing.assert_array_equal(result[b], expected[b], err_msg=f"step {step} row {b}")
            chosen = result.argmax(axis=1)
            for b in range(3):
                singles[b].accept(int(chosen[b]))
            ids = np.concatenate([ids, chosen[:, None]], axis=1)
        # A new generate() call (shorter ids) starts every row over from its prompt.
        fresh = tracemark.Processor(self.key, prompt=prompts[0])
        scores = np.zeros((3, VOCAB), dtype=np.float32)
        np.testing.assert_array_equal(batch(prompts, scores)[0], fresh.apply(np.zeros(VOCAB, dtype=np.float32)))

    def test_padded_rows_and_other_dtypes(self):
        processor = tracemark.Processor(self.key, prompt=[3, 4])
        padded = np.zeros(VOCAB + 47, dtype=np.float64)
        result = processor.apply(padded)
        self.assertEqual(result.dtype, np.float32)
        self.assertTrue((result[VOCAB:] == 0).all())
        self.assertAlmostEqual(float((result[:VOCAB] > 0).mean()), 0.25, delta=0.01)
        self.assertTrue((padded == 0).all(), "a float64 input is not modified")

    def test_vllm_processor_follows_the_generated_tokens(self):
        prompt = [10, 20, 30]
        request = tracemark.VllmLogitsProcessor(self.key, prompt)
        reference = tracemark.Processor(self.key, prompt=prompt)
        generated = []
        for step in range(8):
            logits = self.rng.normal(size=VOCAB).astype(np.float32)
            result = request(list(generated), logits.copy())
            np.testing.assert_array_equal(result, reference.apply(logits.copy()), err_msg=f"step {step}")
            token = int(result.argmax())
            generated.append(token)
            reference.accept(token)

    def test_detect_watermarked_and_random_ids(self):
        processor = tracemark.Processor(self.key, prompt=[1, 2])
        tokens = []
        for _ in range(200):
            logits = processor.apply(self.rng.normal(scale=2.0, size=VOCAB).astype(np.float32))
            token = int(logits.argmax())
            processor.accept(token)
            tokens.append(token)
        marked = tracemark.detect(self.key, tokens)
        self.assertEqual(marked.tokens, 200)
        self.assertLess(marked.log10_p, -10)
        self.assertGreater(marked.green / marked.scored, 0.5)
        random_ids = self.rng.integers(0, VOCAB, size=2000)
        clean = self.key.detect(random_ids)
        self.assertGreater(clean.p_value, 1e-3)
        self.assertAlmostEqual(clean.gamma, 0.25)

    def test_errors_raise_with_the_message(self):
        processor = tracemark.Processor(self.key, allow_padded_logits=False)
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            processor.apply(np.zeros(100, dtype=np.float32))
        self.assertEqual(caught.exception.status, "TM_INVALID_ARGUMENT")
        self.assertIn("100 entries but the key's vocabulary has 50257", str(caught.exception))
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            tracemark.detect(self.key, [1, 2, 3, 99999])
        self.assertIn("token id 99999 at position 3", str(caught.exception))
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            tracemark.Key.from_bytes(KEY_TEXT.replace('"delta": 2.0', '"delta": 3.0'))
        self.assertIn("commitment does not match", str(caught.exception))
        self.assertNotIn(json.loads(KEY_TEXT)["secret"], str(caught.exception))
        with self.assertRaises(tracemark.TracemarkValueError):
            tracemark.detect(self.key, [-1])
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "key.json"
            path.write_text(KEY_TEXT)
            os.chmod(path, 0o644)
            with self.assertRaises(tracemark.TracemarkError) as caught:
                tracemark.Key.load(path)
            self.assertEqual(caught.exception.status, "TM_PERMISSION")
            self.assertIn("chmod 600", str(caught.exception))
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
            self.assertEqual(tracemark.Key.load(path).key_id, self.key.key_id)

    def test_entropy_threshold_key(self):
        # Issue 16: the key's threshold is exposed; the processor biases only steps at or above it and
        # reports the entropy it measured; detection refuses to run without the per-step entropy.
        key = tracemark.Key.from_bytes((GOLDEN / "entropy_threshold_key.json").read_text())
        self.assertEqual(key.entropy_threshold, 1.0)
        self.assertEqual(self.key.entropy_threshold, 0.0)
        processor = tracemark.Processor(key, prompt=[1, 2])
        peaked = np.full(VOCAB, -40.0, dtype=np.float32)
        peaked[5] = 0.0
        before = peaked.copy()
        processor.apply(peaked)
        biased, entropy = processor.last_step
        self.assertFalse(biased)
        self.assertLess(entropy, 0.01)
        np.testing.assert_array_equal(peaked, before)
        flat = np.zeros(VOCAB, dtype=np.float32)
        processor.apply(flat)
        biased, entropy = processor.last_step
        self.assertTrue(biased)
        self.assertAlmostEqual(entropy, np.log(VOCAB), places=4)
        ids = self.rng.integers(0, VOCAB, size=200)
        with self.assertRaises(tracemark.TracemarkError) as caught:
            tracemark.detect(key, ids)
        self.assertIn("tm_detect_with_entropy", str(caught.exception))
        low = tracemark.detect(key, ids, entropy=np.zeros(200))
        self.assertEqual(low.scored, 0)
        high = tracemark.detect(key, ids, entropy=np.full(200, 5.0))
        self.assertEqual(high.scored, tracemark.detect(self.key, ids).scored)

    @unittest.skipIf(tracemark._torch is None and not TORCH_REQUIRED, "torch is not installed")
    def test_torch_tensors_keep_their_type(self):
        if tracemark._torch is None:
            self.fail("torch cannot be imported, but tools/setup.sh installs python3-torch: run it again")
        import torch
        batch = tracemark.LogitsProcessor(self.key)
        ids = torch.tensor([[1, 2], [3, 4]])
        scores = torch.zeros((2, VOCAB), dtype=torch.float16)
        result = batch(ids, scores)
        self.assertIsInstance(result, torch.Tensor)
        self.assertEqual(result.dtype, torch.float16)
        expected = tracemark.Processor(self.key, prompt=[3, 4]).apply(np.zeros(VOCAB, dtype=np.float32))
        np.testing.assert_array_equal(result[1].float().numpy(), expected)


def header_structs(text):
    """{struct name: [(field name, C type), ...]} of the header's typedef'd structs, in order."""
    structs = {}
    for match in re.finditer(r"typedef struct (\w+) \{(.*?)\} \1;", text, re.S):
        body = re.sub(r"/\*.*?\*/", "", match.group(2), flags=re.S)
        # A field is "type name;", "type name[N];" or a pointer "type* name;".
        fields = re.findall(r"^\s*([A-Za-z_][\w ]*?\**)\s+(\w+)(\[\d+\])?;", body, re.M)
        structs[match.group(1)] = [(name, ctype + count) for ctype, name, count in fields]
    return structs


class StructMirrorTest(unittest.TestCase):
    """Every struct of tracemark.h has a ctypes mirror with the same fields, in the same order, at
    the same offsets and sizes as the C compiler lays them out (a C probe compiled from the header)."""

    def test_ctypes_mirrors_match_the_header(self):
        structs = header_structs(HEADER.read_text())
        self.assertEqual(sorted(structs), sorted(tracemark._native.STRUCTS),
                         "a struct of tracemark.h has no mirror in _native.STRUCTS, or the other way round")
        compiler = os.environ.get("TRACEMARK_C_COMPILER") or shutil.which("cc")
        self.assertIsNotNone(compiler, "no C compiler to lay out the header's structs")
        probe = ["#include <stddef.h>", "#include <stdio.h>", '#include "tracemark/tracemark.h"', "int main(void) {"]
        for struct, fields in structs.items():
            probe.append(f'  printf("{struct} . %zu\\n", sizeof({struct}));')
            for name, _ in fields:
                probe.append(f'  printf("{struct} {name} %zu %zu\\n", offsetof({struct}, {name}), '
                             f'sizeof((({struct}*)0)->{name}));')
        probe += ["  return 0;", "}"]
        with tempfile.TemporaryDirectory() as folder:
            source = pathlib.Path(folder) / "probe.c"
            source.write_text("\n".join(probe) + "\n")
            binary = pathlib.Path(folder) / "probe"
            subprocess.run([compiler, "-std=c99", "-I", str(HEADER.parent.parent), str(source), "-o", str(binary)],
                           check=True)
            lines = subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout.split("\n")
        layout = {}
        for line in filter(None, lines):
            struct, field, *numbers = line.split()
            layout.setdefault(struct, {})[field] = tuple(int(n) for n in numbers)
        for struct, fields in structs.items():
            mirror = tracemark._native.STRUCTS[struct]
            self.assertEqual([name for name, _ in mirror._fields_], [name for name, _ in fields],
                             f"{mirror.__name__}'s fields differ from {struct}'s")
            self.assertEqual(ctypes.sizeof(mirror), layout[struct]["."][0], f"sizeof {struct}")
            for name, _ in fields:
                member = getattr(mirror, name)
                self.assertEqual((member.offset, member.size), layout[struct][name], f"{struct}.{name}")


if __name__ == "__main__":
    unittest.main()
