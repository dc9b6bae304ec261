"""Tests of the Python binding (run by ctest as python3 -m unittest with PYTHONPATH=bindings/python
and TRACEMARK_LIBRARY naming the built libtracemark.so.0)."""
import json
import os
import pathlib
import stat
import tempfile
import unittest

import numpy as np

import tracemark

GOLDEN = pathlib.Path(__file__).resolve().parents[3] / "tests" / "golden"
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

    @unittest.skipIf(tracemark._torch is None, "torch is not installed")
    def test_torch_tensors_keep_their_type(self):  # pragma: no cover - needs torch
        import torch
        batch = tracemark.LogitsProcessor(self.key)
        ids = torch.tensor([[1, 2], [3, 4]])
        scores = torch.zeros((2, VOCAB), dtype=torch.float16)
        result = batch(ids, scores)
        self.assertIsInstance(result, torch.Tensor)
        self.assertEqual(result.dtype, torch.float16)
        expected = tracemark.Processor(self.key, prompt=[3, 4]).apply(np.zeros(VOCAB, dtype=np.float32))
        np.testing.assert_array_equal(result[1].float().numpy(), expected)


if __name__ == "__main__":
    unittest.main()
