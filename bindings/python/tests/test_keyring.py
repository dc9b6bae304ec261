"""Keyrings in the Python binding (issue 15): a processor per request for a label's subkey, equal to
the subkey that `tracemark keyring derive` writes, and unknown labels and unsafe files refused."""
import json
import os
import pathlib
import subprocess
import tempfile
import unittest

import numpy as np

import tracemark
from device_support import cli_path

SEED = 20261202


class KeyringTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.folder = tempfile.TemporaryDirectory()
        folder = pathlib.Path(cls.folder.name)
        cls.ring_path = folder / "ring.json"
        subprocess.run([str(cli_path()), "keyring", "new", "--out", str(cls.ring_path), "--vocab-size", "300",
                        "--context-width", "1", "--labels", "global:main,cohort:canary-a"],
                       check=True, capture_output=True)
        cls.subkey_path = folder / "canary-a.json"
        subprocess.run([str(cli_path()), "keyring", "derive", str(cls.ring_path), "cohort:canary-a",
                        "--out", str(cls.subkey_path)], check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()

    def test_processor_for_label_equals_the_derived_subkeys(self):
        print(f"[ seed ] {SEED}")
        rng = np.random.default_rng(SEED)
        ring = tracemark.Keyring.load(self.ring_path)
        self.assertEqual(ring.labels, ("cohort:canary-a", "global:main"))
        subkey = tracemark.Key.load(self.subkey_path)
        self.assertEqual(ring.key("cohort:canary-a").key_id, subkey.key_id)
        self.assertNotEqual(ring.key("global:main").key_id, subkey.key_id)
        prompt = [5, 9]
        by_label = ring.processor("cohort:canary-a", prompt)
        by_key = tracemark.Processor(subkey, prompt)
        other = ring.processor("global:main", prompt)
        differs = False
        for _ in range(20):
            logits = rng.standard_normal(300).astype(np.float32)
            a, b, c = by_label.apply(logits.copy()), by_key.apply(logits.copy()), other.apply(logits.copy())
            np.testing.assert_array_equal(a, b)
            differs = differs or not np.array_equal(a, c)
            token = int(np.argmax(a))
            for processor in (by_label, by_key, other):
                processor.accept(token)
        self.assertTrue(differs, "another label's subkey biased exactly the same tokens in 20 steps")

    def test_unknown_label_and_unsafe_file_are_refused(self):
        ring = tracemark.Keyring.load(self.ring_path)
        with self.assertRaises(tracemark.TracemarkValueError) as caught:
            ring.processor("cohort:canary-b")
        self.assertIn("cohort:canary-b", str(caught.exception))
        self.assertNotIn(json.loads(self.ring_path.read_text())["master_secret"], str(caught.exception))
        with self.assertRaises(tracemark.TracemarkValueError):
            ring.key("no-kind")
        os.chmod(self.ring_path, 0o644)
        try:
            with self.assertRaises(tracemark.TracemarkError) as caught:
                tracemark.Keyring.load(self.ring_path)
            self.assertEqual(caught.exception.status, "TM_PERMISSION")
        finally:
            os.chmod(self.ring_path, 0o600)


if __name__ == "__main__":
    unittest.main()
