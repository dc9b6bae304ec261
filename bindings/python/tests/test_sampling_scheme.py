"""The binding with a sampling scheme's key (gumbel-max, issue 18): the processor picks the token
(choose, choose_candidates), leaves logits unbiased, agrees between its two paths, and what it picks
is found by `tracemark detect` with the key; detect_scheme gives each scheme's exact test as the CLI
does; green-list-only calls refuse the key by its scheme."""
import json
import pathlib
import subprocess
import tempfile
import unittest

import numpy as np

import tracemark
from device_support import cli_path

SEED = 20261203


class SamplingSchemeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory()
        cls.path = pathlib.Path(cls.folder.name) / "gumbel.json"
        subprocess.run([str(cli_path()), "keygen", "--scheme", "gumbel-max", "--out", str(cls.path),
                        "--vocab-size", "500", "--context-width", "1"], check=True, capture_output=True)
        cls.key = tracemark.Key.load(cls.path)

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()

    def setUp(self):
        print(f"[ seed ] {SEED}")
        self.rng = np.random.default_rng(SEED)

    def test_processor_chooses_and_does_not_bias(self):
        processor = tracemark.Processor(self.key, prompt=[3])
        self.assertTrue(processor.chooses_token)
        logits = self.rng.normal(size=500).astype(np.float32)
        before = logits.copy()
        processor.apply(logits)
        self.assertTrue(np.array_equal(logits, before))
        masked = np.full(500, -np.inf, dtype=np.float32)
        masked[[10, 20, 30]] = [0.5, 1.0, -0.5]
        for _ in range(50):
            token = processor.choose(masked)
            self.assertIn(token, (10, 20, 30))
            processor.accept(token)

    def test_candidates_pick_what_the_full_row_picks(self):
        processor = tracemark.Processor(self.key, prompt=[7])
        ids = np.array([4, 99, 250, 31], dtype=np.uint32)
        values = np.array([1.0, 0.2, -0.3, 0.9], dtype=np.float32)
        row = np.full(500, -np.inf, dtype=np.float32)
        row[ids] = values
        for step in range(100):
            twin = processor.clone()
            token = processor.choose(row)
            self.assertEqual(twin.choose_candidates(ids, values), token, f"step {step}")
            processor.accept(int(step % 400 + 50))  # new contexts: every step is keyed

    def test_chosen_tokens_are_found_by_detect(self):
        documents = []
        for d in range(8):
            processor = tracemark.Processor(self.key, prompt=[d])
            tokens = []
            for _ in range(100):
                token = processor.choose(self.rng.normal(scale=2.0, size=500).astype(np.float32))
                processor.accept(token)
                tokens.append(token)
            documents.append(tokens)
        text = pathlib.Path(self.folder.name) / "chosen.jsonl"
        text.write_text("".join(json.dumps({"tokens": t}) + "\n" for t in documents))
        out = subprocess.run([str(cli_path()), "detect", "--key", str(self.path), "--input", str(text), "--json"],
                             check=True, capture_output=True, text=True).stdout
        self.assertLess(json.loads(out.strip().splitlines()[-1])["log10_p"], -20)

    def test_detect_scheme_equals_the_cli_for_every_scheme(self):
        """detect_scheme (tm_detect_scheme) gives the CLI's exact test for a key of each scheme."""
        folder = pathlib.Path(self.folder.name)
        tournament = folder / "tournament.json"
        subprocess.run([str(cli_path()), "keygen", "--scheme", "synthid-tournament", "--layers", "12", "--out",
                        str(tournament), "--vocab-size", "500", "--context-width", "1"], check=True, capture_output=True)
        green = folder / "green.json"
        subprocess.run([str(cli_path()), "keygen", "--out", str(green), "--vocab-size", "500", "--context-width", "1"],
                       check=True, capture_output=True)
        processor = tracemark.Processor(self.key, prompt=[1])
        tokens = []
        for _ in range(300):
            token = processor.choose(self.rng.normal(scale=2.0, size=500).astype(np.float32))
            processor.accept(token)
            tokens.append(token)
        text = folder / "one.jsonl"
        text.write_text(json.dumps({"tokens": tokens}) + "\n")
        for path, scheme in ((self.path, "gumbel-max"), (tournament, "synthid-tournament"), (green, "kgw-green-list")):
            key = tracemark.Key.load(path)
            self.assertEqual(key.scheme, scheme)
            self.assertEqual(key.tournament_layers, 12 if scheme == "synthid-tournament" else 0)
            found = key.detect_scheme(tokens)
            self.assertEqual(found.scheme, scheme)
            self.assertEqual(found.tokens, 300)
            out = subprocess.run([str(cli_path()), "detect", "--key", str(path), "--input", str(text), "--json"],
                                 check=True, capture_output=True, text=True).stdout
            cli = json.loads(out.strip().splitlines()[-1])
            self.assertEqual(found.scored, cli["scored"], scheme)
            self.assertAlmostEqual(found.log10_p, cli["log10_p"], delta=1e-9 * max(1.0, abs(cli["log10_p"])), msg=scheme)
            if scheme == "gumbel-max":
                self.assertLess(found.log10_p, -10)
                self.assertEqual(found.null_mean, found.scored)
            if scheme == "synthid-tournament":
                self.assertEqual(found.null_mean, found.scored * 12 / 2)
            if scheme == "kgw-green-list":
                self.assertEqual(found.statistic, tracemark.detect(key, tokens).green)

    def test_green_list_only_calls_refuse_the_key(self):
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            tracemark.detect(self.key, [1, 2, 3])
        self.assertIn("'gumbel-max' key", str(caught.exception))
        green = tracemark.Key.from_bytes((pathlib.Path(__file__).resolve().parents[3] / "tests" / "golden" /
                                          "kgw_v1_key.json").read_text())
        processor = tracemark.Processor(green)
        self.assertFalse(processor.chooses_token)
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            processor.choose(np.zeros(green.vocab_size, dtype=np.float32))
        self.assertIn("does not choose tokens", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
