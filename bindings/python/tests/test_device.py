"""The device path (tracemark.device.DeviceWatermark) against the C ABI's tm_processor_apply_batch:
bitwise the same logits on CPU torch for random batches, vocabularies (padded ones included) and
keys; the per-row seeds call; the errors. A CUDA variant runs where a GPU is present."""
import ctypes
import os
import unittest

import numpy as np
import torch

import tracemark
from tracemark import _native
from tracemark.device import DeviceWatermark, row_entropy

from device_support import KeyMaker, TransferCounter, host_reference, random_logits, same_bits

SEED = int(os.environ.get("TRACEMARK_TEST_SEED", "20261219"))


def run_parity(test, rng, keys, device, steps=4, cpu_kernel=True):
    """Drives host processors through random prompts and steps; at each step the device path and
    the C ABI must give the same bits for every key, batch, width and dtype."""
    for key in keys:
        watermark_padded = DeviceWatermark(key, device, cpu_kernel=cpu_kernel)
        for batch in (1, 5, 17):
            for width in (key.vocab_size, key.vocab_size + 13, (key.vocab_size + 63) // 64 * 64 + 64):
                # A small alphabet for some rows makes contexts repeat (rows the processor leaves alone).
                alphabets = [int(rng.choice([4, key.vocab_size])) for _ in range(batch)]
                processors = [tracemark.Processor(key, prompt=rng.integers(0, key.vocab_size, size=int(rng.integers(0, 5))))
                              for _ in range(batch)]
                for step in range(steps):
                    rows = [p if rng.random() > 0.15 else None for p in processors]
                    peaked = [b for b in range(batch) if rng.random() < 0.3]
                    for dtype in (torch.float32, torch.float16, torch.bfloat16):
                        logits = random_logits(rng, batch, width, dtype, peaked).to(device)
                        expected = host_reference(rows, logits)
                        host_steps = [p.last_step if p is not None else None for p in rows]
                        result = watermark_padded.apply(logits, rows)
                        test.assertIs(result, logits, "the bias is in place")
                        test.assertTrue(same_bits(logits, expected),
                                        f"seed {SEED}: key {key!r} batch {batch} width {width} step {step} {dtype}")
                        biased, entropy = watermark_padded.last_step
                        for b, host in enumerate(host_steps):
                            if host is None:
                                continue
                            test.assertEqual(bool(biased[b]), host[0], f"row {b} biased")
                            if host[1] is not None:
                                test.assertAlmostEqual(float(entropy[b]), host[1], delta=1e-9)
                    for b, p in enumerate(processors):
                        p.accept(int(rng.integers(0, alphabets[b])))


class DeviceParityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        print(f"[ seed ] {SEED}")
        cls.keys = KeyMaker()
        rng = np.random.default_rng(SEED)
        cls.parity_keys = [
            cls.keys.make(997, gamma=0.25, delta=2.0, context_width=2),
            cls.keys.make(3001, gamma=float(rng.uniform(0.05, 0.95)), delta=1.7, context_width=0),
            cls.keys.make(1500, gamma=0.5, delta=4.25, context_width=1, entropy_threshold=2.5),
            cls.keys.make(2048, gamma=float(rng.uniform(0.05, 0.95)), delta=0.5, context_width=4,
                          entropy_threshold=0.7),
        ]

    @classmethod
    def tearDownClass(cls):
        cls.keys.close()

    def setUp(self):
        self.rng = np.random.default_rng(SEED)

    def test_cpu_torch_equals_the_c_abi_bitwise(self):
        # float32 rows go to the C kernel on the tensor's memory (strided rows of padded widths
        # included); float16 / bfloat16 through the element-wise ops.
        run_parity(self, self.rng, self.parity_keys, torch.device("cpu"))

    def test_element_wise_ops_equal_the_c_abi_bitwise_on_cpu(self):
        # What a GPU runs, checked here on CPU torch for every dtype.
        run_parity(self, self.rng, self.parity_keys, torch.device("cpu"), cpu_kernel=False)

    def test_cpu_kernel_takes_row_strided_views_and_leaves_other_columns(self):
        key = self.parity_keys[0]
        big = random_logits(self.rng, 4, key.vocab_size * 2)
        view = big[:, 3:3 + key.vocab_size + 5]  # rows not adjacent: stride(0) != width
        untouched = big.clone()
        processors = [tracemark.Processor(key, prompt=[b, b + 1, b + 2]) for b in range(4)]
        expected = host_reference(processors, view.clone())
        DeviceWatermark(key, "cpu").apply(view, processors)
        self.assertTrue(same_bits(view, expected))
        outside = torch.ones_like(big, dtype=torch.bool)
        outside[:, 3:3 + key.vocab_size] = False
        self.assertTrue(torch.equal(big[outside], untouched[outside]), "only the key's columns change")

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device (the GPU parity check runs where one is lent)")
    def test_cuda_equals_the_c_abi_bitwise(self):
        run_parity(self, self.rng, self.parity_keys, torch.device("cuda"))

    def test_golden_vectors(self):
        # Known answers computed without tracemark (tests/golden/kgw_v2_vectors.json): the exported
        # table is the keystream the vectors hash, and the device marks exactly the golden green tokens.
        import hashlib
        import json
        from test_tracemark import GOLDEN
        key = tracemark.Key.from_bytes((GOLDEN / "kgw_v2_key.json").read_text())
        vectors = json.loads((GOLDEN / "kgw_v2_vectors.json").read_text())
        values = np.zeros(key.vocab_size, dtype="<u4")
        _native.check(_native.lib.tm_key_export_token_values(key._handle, ctypes.c_void_p(values.ctypes.data),
                                                             values.size))
        self.assertEqual(hashlib.sha256(values.tobytes()).hexdigest(), vectors["token_values_sha256"])
        watermark = DeviceWatermark(key, "cpu")
        for case in vectors["contexts"]:
            logits = torch.zeros((1, key.vocab_size))
            watermark.apply(logits, [tracemark.Processor(key, prompt=case["context"])])
            for token, _value, green in case["tokens"]:
                self.assertEqual(bool(logits[0, token] != 0), green, f"context {case['context']} token {token}")

    def test_no_transfer_to_the_host(self):
        key = self.parity_keys[2]  # an entropy threshold: the gate is measured on the device too
        watermark = DeviceWatermark(key, "cpu")
        processors = [tracemark.Processor(key, prompt=[1, 2, 3]) for _ in range(8)]
        logits = random_logits(self.rng, 8, key.vocab_size + 64)
        with TransferCounter().counting() as counter:
            watermark.apply(logits, processors)
            watermark.apply(logits, processors)
        self.assertEqual(counter.transfers, [])

    def test_row_entropy_matches_the_c_library(self):
        key = self.parity_keys[2]
        logits = random_logits(self.rng, 6, key.vocab_size, peaked_rows=[1])
        logits[2, :10] = float("-inf")
        logits[3] = float("-inf")
        entropy = row_entropy(logits)
        for b in range(6):
            processor = tracemark.Processor(key, prompt=[5, 6])
            processor.apply(logits[b].numpy().copy())
            self.assertAlmostEqual(float(entropy[b]), processor.last_step[1], delta=1e-9)


class DeviceErrorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.keys = KeyMaker()
        cls.key = cls.keys.make(500, context_width=1)
        cls.other = cls.keys.make(500, context_width=1)
        cls.v1 = cls.keys.make(500, scheme_version=1)

    @classmethod
    def tearDownClass(cls):
        cls.keys.close()

    def setUp(self):
        self.watermark = DeviceWatermark(self.key, "cpu")
        self.processors = [tracemark.Processor(self.key, prompt=[1]) for _ in range(2)]

    def assert_refused(self, logits, processors, *fragments):
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            self.watermark.apply(logits, processors)
        for fragment in fragments:
            self.assertIn(fragment, str(caught.exception))

    def test_version_1_keys_are_refused_with_what_to_do(self):
        with self.assertRaises(tracemark.TracemarkError) as caught:
            DeviceWatermark(self.v1, "cpu")
        self.assertEqual(caught.exception.status, "TM_UNSUPPORTED")
        self.assertIn("version 1", str(caught.exception))
        self.assertIn("tracemark keygen", str(caught.exception))

    def test_wrong_shapes_dtypes_and_widths(self):
        self.assert_refused(np.zeros((2, 500), dtype=np.float32), self.processors, "torch.Tensor", "tracemark.Processor")
        self.assert_refused(torch.zeros(500), self.processors, "[batch x vocabulary]", "(500,)")
        self.assert_refused(torch.zeros((2, 500), dtype=torch.float64), self.processors, "torch.float64")
        self.assert_refused(torch.zeros((2, 500), dtype=torch.int32), self.processors, "torch.int32")
        self.assert_refused(torch.zeros((3, 500)), self.processors, "3 rows", "2 processors")
        self.assert_refused(torch.zeros((2, 499)), self.processors, "499 entries", "500 token ids")
        strict = DeviceWatermark(self.key, "cpu", allow_padded_logits=False)
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            strict.apply(torch.zeros((2, 512)), self.processors)
        self.assertIn("allow padded logits", str(caught.exception))
        logits = torch.zeros((2, 512))
        self.watermark.apply(logits, self.processors)  # padding allowed by default: columns 500.. untouched
        self.assertTrue(torch.equal(logits[:, 500:], torch.zeros((2, 12))))

    def test_model_vocabulary_larger_than_the_keys(self):
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            DeviceWatermark(self.key, "cpu", model_vocab_size=32000)
        self.assertIn("32000", str(caught.exception))
        self.assertIn("500", str(caught.exception))

    def test_logits_on_another_device_than_the_table(self):
        # The "meta" device stands in for a second accelerator: the table is there, the logits are not.
        elsewhere = DeviceWatermark(self.key, "meta")
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            elsewhere.apply(torch.zeros((2, 500)), self.processors)
        self.assertIn("logits are on cpu", str(caught.exception))
        self.assertIn("meta", str(caught.exception))

    def test_processor_of_another_key(self):
        stranger = tracemark.Processor(self.other, prompt=[1])
        self.assert_refused(torch.zeros((2, 500)), [self.processors[0], stranger], "row 1", self.other.key_id)

    def test_nothing_is_changed_on_an_error(self):
        logits = torch.ones((2, 500))
        with self.assertRaises(tracemark.TracemarkValueError):
            self.watermark.apply(logits, [self.processors[0], tracemark.Processor(self.other, prompt=[1])])
        self.assertTrue(torch.equal(logits, torch.ones((2, 500))))

    def test_repr_shows_no_key_material(self):
        self.assertNotIn("tensor", repr(self.watermark))
        self.assertIn(self.key.key_id, repr(self.watermark))


class SeedsBatchAbiTest(unittest.TestCase):
    """tm_processor_seeds_batch and tm_key_export_token_values through ctypes."""

    @classmethod
    def setUpClass(cls):
        cls.keys = KeyMaker()
        cls.key = cls.keys.make(300, context_width=2)

    @classmethod
    def tearDownClass(cls):
        cls.keys.close()

    def call(self, processors, size=None, tail=b""):
        batch = len(processors)
        seeds = np.full(batch, 7, dtype=np.uint64)
        will = np.full(batch, 9, dtype=np.uint8)
        outputs = _native.BatchSeeds(size=ctypes.sizeof(_native.BatchSeeds) if size is None else size,
                                     seeds=seeds.ctypes.data, will_bias=will.ctypes.data)
        buffer = ctypes.create_string_buffer(bytes(outputs) + tail)
        handles = (ctypes.c_void_p * batch)(*[p._handle.value if p else None for p in processors])
        status = _native.lib.tm_processor_seeds_batch(handles, batch, ctypes.cast(buffer, ctypes.POINTER(_native.BatchSeeds)))
        return status, seeds, will

    def test_seeds_and_will_bias_per_row(self):
        fresh = tracemark.Processor(self.key)            # context not full
        full = tracemark.Processor(self.key, prompt=[4, 5])
        repeated = tracemark.Processor(self.key, prompt=[4, 5])
        for token in (4, 5):                             # context (4, 5) again: already used
            repeated.accept(token)
        status, seeds, will = self.call([fresh, full, None, repeated])
        self.assertEqual(status, 0)
        np.testing.assert_array_equal(will, [0, 1, 0, 0])
        self.assertEqual(seeds[0], 0)
        self.assertEqual(seeds[2], 0)
        self.assertNotEqual(seeds[1], 0)
        self.assertEqual([fresh.will_bias, full.will_bias, repeated.will_bias], [False, True, False])

    def test_struct_size_rules(self):
        status, seeds, _ = self.call([tracemark.Processor(self.key, prompt=[1, 2])], size=8)
        self.assertEqual(_native.STATUS_NAMES[status], "TM_INVALID_ARGUMENT")
        self.assertIn("sizeof(tm_batch_seeds)", _native.lib.tm_last_error().decode())
        self.assertEqual(seeds[0], 7, "out-parameters are written only on TM_OK")
        size = ctypes.sizeof(_native.BatchSeeds)
        status, _, _ = self.call([None], size=size + 8, tail=b"\1" + b"\0" * 7)
        self.assertEqual(_native.STATUS_NAMES[status], "TM_UNSUPPORTED")
        status, _, _ = self.call([None], size=size + 8, tail=b"\0" * 8)
        self.assertEqual(status, 0, "a newer caller's zero bytes are accepted")

    def test_export_needs_the_exact_count(self):
        values = np.zeros(299, dtype=np.uint32)
        status = _native.lib.tm_key_export_token_values(self.key._handle, ctypes.c_void_p(values.ctypes.data), 299)
        self.assertEqual(_native.STATUS_NAMES[status], "TM_INVALID_ARGUMENT")
        self.assertIn("300", _native.lib.tm_last_error().decode())
        self.assertFalse(values.any())


if __name__ == "__main__":
    unittest.main()
