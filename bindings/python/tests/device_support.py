"""Shared by test_device*.py and test_engines*.py (not a test module itself): keys with chosen
parameters (made by the tracemark CLI), the host reference (the C ABI's tm_processor_apply_batch),
and a counter of device-to-host transfers."""
import contextlib
import os
import pathlib
import subprocess
import tempfile

import numpy as np
import torch

import tracemark

REPOSITORY = pathlib.Path(__file__).resolve().parents[3]


def cli_path():
    """The tracemark CLI: TRACEMARK_CLI (ctest sets it), else the Release build tree's."""
    explicit = os.environ.get("TRACEMARK_CLI")
    path = pathlib.Path(explicit) if explicit else REPOSITORY / "build" / "release" / "tools" / "tracemark"
    if not path.is_file():
        raise FileNotFoundError(f"no tracemark CLI at {path}: build the target tracemark or set TRACEMARK_CLI")
    return path


class KeyMaker:
    """Makes keys with given parameters in a private temporary folder (deleted by close())."""

    def __init__(self):
        self._folder = tempfile.TemporaryDirectory()
        self._count = 0
        self.paths = {}  # key_id -> key file

    def make(self, vocab_size, gamma=0.25, delta=2.0, context_width=2, entropy_threshold=0.0, scheme_version=2):
        self._count += 1
        path = pathlib.Path(self._folder.name) / f"key{self._count}.json"
        subprocess.run([str(cli_path()), "keygen", "--out", str(path), "--vocab-size", str(vocab_size),
                        "--gamma", repr(gamma), "--delta", repr(delta), "--context-width", str(context_width),
                        "--entropy-threshold", repr(entropy_threshold), "--scheme-version", str(scheme_version)],
                       check=True, capture_output=True)
        key = tracemark.Key.load(path)
        self.paths[key.key_id] = path
        return key

    def close(self):
        self._folder.cleanup()


def host_reference(processors, logits):
    """What the C ABI (tm_processor_apply_batch, through the host binding) makes of a copy of logits
    (a torch tensor): a new tensor of logits' dtype on the CPU."""
    return tracemark._apply_rows(processors, logits.detach().cpu().clone())


def same_bits(a, b):
    """Bitwise equality of two float tensors (NaN payloads and signed zeros included)."""
    a, b = a.detach().cpu().contiguous(), b.detach().cpu().contiguous()
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    as_int = {torch.float32: torch.int32, torch.float16: torch.int16, torch.bfloat16: torch.int16}[a.dtype]
    return torch.equal(a.view(as_int), b.view(as_int))


class TransferCounter:
    """Records every way a tensor's contents can reach the host from Python (each call of the methods
    below on any tensor), with the tensor's dtype and number of elements. On a GPU each of these is a
    device-to-host copy; on the CPU they are the same calls, so the count is the same check."""

    METHODS = ("cpu", "numpy", "tolist", "item", "__array__", "__int__", "__float__", "__bool__", "__index__")

    def __init__(self):
        self.transfers = []  # (method, dtype, numel)

    @contextlib.contextmanager
    def counting(self):
        originals = {}

        def wrap(name, original):
            def recorded(tensor, *args, **kwargs):
                self.transfers.append((name, tensor.dtype, tensor.numel()))
                return original(tensor, *args, **kwargs)
            return recorded

        def wrap_to(original):
            def to(tensor, *args, **kwargs):
                target = kwargs.get("device", args[0] if args else None)
                if isinstance(target, (str, torch.device)) and torch.device(target).type == "cpu":
                    self.transfers.append(("to", tensor.dtype, tensor.numel()))
                return original(tensor, *args, **kwargs)
            return to

        for name in self.METHODS:
            originals[name] = getattr(torch.Tensor, name)
            setattr(torch.Tensor, name, wrap(name, originals[name]))
        originals["to"] = torch.Tensor.to
        torch.Tensor.to = wrap_to(originals["to"])
        try:
            yield self
        finally:
            for name, original in originals.items():
                setattr(torch.Tensor, name, original)

    def floating(self):
        """The recorded transfers of floating-point tensors (logits are the only such tensors here)."""
        return [t for t in self.transfers if t[1].is_floating_point]


def random_logits(rng, batch, width, dtype=torch.float32, peaked_rows=()):
    """Random logits with a different scale per row (entropies from near 0 to near log(width)); rows
    in peaked_rows put almost all mass on one token."""
    scales = rng.uniform(0.1, 12.0, size=(batch, 1))
    values = rng.standard_normal((batch, width)) * scales
    for row in peaked_rows:
        values[row] = -60.0
        values[row, rng.integers(0, width)] = 0.0
    return torch.from_numpy(values.astype(np.float32)).to(dtype)
