"""The engine adapters (tracemark.engines.hf, .vllm, .sglang), each driven the way its engine drives
it (neither vLLM nor SGLang is installable here): batches that change between steps, padding
columns, prompts passed or not. At every step the logits must equal, bit for bit, what the C ABI
makes of the same requests on the host, and no floating-point tensor may reach the host (every
device-to-host path of a tensor is counted while the adapter runs)."""
import gc
import os
import types
import unittest

import numpy as np
import torch

import tracemark
from tracemark.engines import hf, sglang, vllm

from device_support import KeyMaker, TransferCounter, host_reference, random_logits, same_bits

SEED = int(os.environ.get("TRACEMARK_TEST_SEED", "20261220"))
VOCAB = 1000


class EngineTestBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        print(f"[ seed ] {SEED}")
        cls.keys = KeyMaker()
        cls.key = cls.keys.make(VOCAB, gamma=0.3, delta=2.5, context_width=2)
        cls.entropy_key = cls.keys.make(VOCAB, gamma=0.5, delta=1.5, context_width=1, entropy_threshold=3.0)

    @classmethod
    def tearDownClass(cls):
        cls.keys.close()

    def setUp(self):
        self.rng = np.random.default_rng(SEED)

    def check_step(self, call, logits, reference_processors, max_token_transfer):
        """Runs call() (the adapter on logits), checks the result against the C ABI's and the transfers."""
        expected = host_reference(reference_processors, logits)
        with TransferCounter().counting() as counter:
            result = call()
        self.assertIs(result, logits, "the adapter biases in place and returns the engine's tensor")
        self.assertTrue(same_bits(logits, expected), f"seed {SEED}")
        self.assertEqual(counter.floating(), [], "no logits may reach the host")
        self.assertLessEqual(sum(numel for _, _, numel in counter.transfers), max_token_transfer,
                             f"only token ids may reach the host: {counter.transfers}")
        return counter.transfers


class HuggingFaceAdapterTest(EngineTestBase):
    def generate(self, adapter, key, prompts, steps, width, reorder_at=None):
        """model.generate's loop: input_ids grows by the sampled column; scores [batch x width]."""
        input_ids = torch.from_numpy(np.array(prompts, dtype=np.int64))
        reference = tracemark.LogitsProcessor(key)  # the host path: same contract, copies to the host
        for step in range(steps):
            if step == reorder_at:  # beam search reorders rows: rows 0 and 1 swap
                input_ids = input_ids[[1, 0] + list(range(2, input_ids.shape[0]))]
            logits = random_logits(self.rng, input_ids.shape[0], width)
            expected = reference(input_ids, logits.clone())
            with TransferCounter().counting() as counter:
                result = adapter(input_ids, logits)
            self.assertIs(result, logits)
            self.assertTrue(same_bits(logits, expected), f"seed {SEED} step {step}")
            self.assertEqual(counter.floating(), [])
            if step > 0 and step != reorder_at:
                # Steady state: the last two columns only.
                self.assertEqual(counter.transfers, [("tolist", torch.int64, 2 * input_ids.shape[0])])
            tokens = torch.from_numpy(self.rng.integers(0, VOCAB, size=(input_ids.shape[0], 1)))
            input_ids = torch.cat([input_ids, tokens], dim=1)

    def test_generate_loops_with_padding_and_new_calls(self):
        adapter = hf.WatermarkLogitsProcessor(self.key)
        prompts = self.rng.integers(0, VOCAB, size=(4, 6)).tolist()
        self.generate(adapter, self.key, prompts, steps=6, width=VOCAB + 24)
        # A second generate() with another batch: the adapter starts over from the new prompts.
        self.generate(adapter, self.key, self.rng.integers(0, VOCAB, size=(3, 2)).tolist(), steps=4, width=VOCAB)

    def test_reordered_rows_restart_from_their_ids(self):
        adapter = hf.WatermarkLogitsProcessor(self.entropy_key)
        self.generate(adapter, self.entropy_key, self.rng.integers(0, VOCAB, size=(3, 5)).tolist(), steps=6,
                      width=VOCAB, reorder_at=3)


class FakeRequest:
    def __init__(self, key, prompt, pass_prompt):
        self.prompt = prompt
        self.prompt_passed = prompt if pass_prompt else None
        self.output = []  # the live list the engine appends to
        self.reference = tracemark.Processor(key, prompt=prompt if pass_prompt else [])


class VllmAdapterTest(EngineTestBase):
    """Drives vllm.WatermarkLogitsProcessor as vLLM's persistent batch does: update_state with a
    BatchUpdate (removed, then added, then moved; None when nothing changed) before apply."""

    def run_engine(self, key, pass_prompt, width, steps=12):
        vllm_config = types.SimpleNamespace(model_config=types.SimpleNamespace(get_vocab_size=lambda: VOCAB))
        adapter = vllm.bind_key(key)(vllm_config, torch.device("cpu"), False)
        self.assertFalse(adapter.is_argmax_invariant())
        rows = []  # the engine's persistent batch: FakeRequest per row
        preempted = []
        for step in range(steps):
            removed, added, moved = [], [], []
            # Finished or preempted requests leave holes.
            for index in range(len(rows)):
                if rows[index] is not None and self.rng.random() < 0.2:
                    if self.rng.random() < 0.5:
                        preempted.append(rows[index])
                    rows[index] = None
                    removed.append(index)
            # New (or resumed, with the tokens they already have) requests fill holes, then the end.
            arrivals = [FakeRequest(key, self.rng.integers(0, VOCAB, size=int(self.rng.integers(0, 6))).tolist(),
                                    pass_prompt) for _ in range(int(self.rng.integers(0, 3)) if step else 4)]
            if preempted and self.rng.random() < 0.5:
                arrivals.append(preempted.pop())
            for request in arrivals:
                index = rows.index(None) if None in rows else len(rows)
                if index == len(rows):
                    rows.append(None)
                rows[index] = request
                added.append((index, None, request.prompt_passed, request.output))
                if request.output:  # resumed: the reference starts over too (host processors are per row)
                    request.reference = tracemark.Processor(key, prompt=request.prompt if pass_prompt else [])
                    for token in request.output:
                        request.reference.accept(token)
            # Condense: the last requests move into the holes; sometimes two rows swap.
            while None in rows:
                hole = rows.index(None)
                last = max(i for i, r in enumerate(rows) if r is not None) if any(rows) else -1
                if last < hole:
                    del rows[hole:]
                    break
                rows[hole], rows[last] = rows[last], None
                moved.append((last, hole, types.SimpleNamespace(name="UNIDIRECTIONAL")))
            if len(rows) >= 2 and self.rng.random() < 0.3:
                rows[0], rows[1] = rows[1], rows[0]
                moved.append((0, 1, types.SimpleNamespace(name="SWAP")))
            changed = removed or added or moved
            update = types.SimpleNamespace(batch_size=len(rows), removed=removed, added=added, moved=moved)
            adapter.update_state(update if changed else None)
            logits = random_logits(self.rng, len(rows), width)
            self.check_step(lambda: adapter.apply(logits), logits, [r.reference for r in rows], 0)
            for request in rows:  # the sampler's tokens go into the live lists
                token = int(self.rng.integers(0, VOCAB))
                request.output.append(token)
                request.reference.accept(token)

    def test_changing_batches_with_prompts(self):
        self.run_engine(self.key, pass_prompt=True, width=VOCAB)

    def test_prompts_not_passed_and_padded_columns(self):
        self.run_engine(self.entropy_key, pass_prompt=False, width=VOCAB + 64)

    def test_key_from_the_environment_and_a_wrong_vocabulary(self):
        saved = os.environ.get(vllm.KEY_FILE_VARIABLE)
        try:
            os.environ.pop(vllm.KEY_FILE_VARIABLE, None)
            with self.assertRaises(tracemark.TracemarkValueError) as caught:
                vllm.WatermarkLogitsProcessor(None, torch.device("cpu"), False)
            self.assertIn(vllm.KEY_FILE_VARIABLE, str(caught.exception))
            os.environ[vllm.KEY_FILE_VARIABLE] = str(self.keys.paths[self.key.key_id])
            config = types.SimpleNamespace(model_config=types.SimpleNamespace(get_vocab_size=lambda: 2 * VOCAB))
            with self.assertRaises(tracemark.TracemarkValueError) as caught:
                vllm.WatermarkLogitsProcessor(config, torch.device("cpu"), False)
            self.assertIn(str(2 * VOCAB), str(caught.exception))
            adapter = vllm.WatermarkLogitsProcessor(None, torch.device("cpu"), False)
            self.assertEqual(adapter._key.key_id, self.key.key_id)
        finally:
            os.environ.pop(vllm.KEY_FILE_VARIABLE, None)
            if saved is not None:
                os.environ[vllm.KEY_FILE_VARIABLE] = saved


class FakeReq:
    """The parts of SGLang's Req the adapter reads."""

    def __init__(self, key, prompt):
        self.origin_input_ids = prompt
        self.output_ids = []
        self.reference = tracemark.Processor(key, prompt=prompt)


class SGLangAdapterTest(EngineTestBase):
    """Drives sglang.WatermarkLogitProcessor as SGLang's sampler does: a fresh object from the class
    each batch, called on the rows of the requests that use it (a gathered copy, scattered back),
    with custom_param_list[i]["__req__"] the row's request."""

    def setUp(self):
        super().setUp()
        self.saved = os.environ.get(sglang.KEY_FILE_VARIABLE)
        os.environ[sglang.KEY_FILE_VARIABLE] = str(self.keys.paths[self.key.key_id])
        sglang.WatermarkLogitProcessor._session = None

    def tearDown(self):
        sglang.WatermarkLogitProcessor._session = None
        os.environ.pop(sglang.KEY_FILE_VARIABLE, None)
        if self.saved is not None:
            os.environ[sglang.KEY_FILE_VARIABLE] = self.saved

    def test_batches_that_change_and_rows_without_the_processor(self):
        live = []
        for step in range(10):
            live = [r for r in live if self.rng.random() > 0.2]
            live += [FakeReq(self.key, self.rng.integers(0, VOCAB, size=5).tolist())
                     for _ in range(int(self.rng.integers(0, 3)) if step else 5)]
            order = self.rng.permutation(len(live))  # SGLang merges and filters batches: rows move
            batch = [live[i] for i in order]
            uses = [self.rng.random() < 0.8 for _ in batch]  # other rows use no (or another) processor
            logits = random_logits(self.rng, len(batch), VOCAB + 8)
            rows = [i for i, u in enumerate(uses) if u]
            sub = logits[rows]
            processor = sglang.WatermarkLogitProcessor()
            params = [{"__req__": batch[i]} for i in rows]
            self.check_step(lambda: processor(sub, params), sub, [batch[i].reference for i in rows], 0)
            logits[rows] = sub
            for request in batch:
                token = int(self.rng.integers(0, VOCAB))
                request.output_ids.append(token)
                request.reference.accept(token)

    def test_streams_are_freed_with_their_requests(self):
        request = FakeReq(self.key, [1, 2, 3])
        sglang.WatermarkLogitProcessor()(torch.zeros((1, VOCAB)), [{"__req__": request}])
        self.assertEqual(len(sglang.WatermarkLogitProcessor._session.streams), 1)
        del request
        gc.collect()
        self.assertEqual(len(sglang.WatermarkLogitProcessor._session.streams), 0)

    def test_rows_without_their_request(self):
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            sglang.WatermarkLogitProcessor()(torch.zeros((1, VOCAB)), [{}])
        self.assertIn("__req__", str(caught.exception))
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            sglang.WatermarkLogitProcessor()(torch.zeros((2, VOCAB)), [{"__req__": FakeReq(self.key, [1])}])
        self.assertIn("2 rows", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
