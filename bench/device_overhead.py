#!/usr/bin/python3
"""Per-step overhead of the device-resident watermark (bindings/python/tracemark/device.py) against
the physical floor measured in the same run: one in-place add_ of a bias tensor of the logits'
shape (what any bias costs at least: read the logits and the bias, write the logits).

For batch {1, 64} x vocabulary {32k, 128k, 256k}, float32 logits on the given torch device:
  floor      logits.add_(bias)
  apply      DeviceWatermark.apply(logits, processors): on a GPU the host's per-row seeds (one C call),
             their upload (B x 12 bytes) and the element-wise ops on the device; on the CPU the C
             library's batch kernel on the tensor's memory
  ops        (CPU only) the same apply with cpu_kernel=False: the element-wise ops a GPU runs, on CPU
             torch
  step       the vLLM adapter's whole step: update_state (each row accepts its new token on the host)
             and apply
  entropy    apply with a key that has an entropy threshold (log-softmax per row in float64 on the
             device, then the gated bias)
Each figure is the median over --reps repetitions, the variants interleaved so that load from other
processes hits them alike; ratios are against the floor of the same shape.

Usage: PYTHONPATH=bindings/python TRACEMARK_LIBRARY=build/release/capi/libtracemark.so.0 \
       bench/device_overhead.py --cli build/release/tools/tracemark [--device cpu] [--reps 15]
"""
import argparse
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import types

import numpy as np
import torch

import tracemark
from tracemark.device import DeviceWatermark
from tracemark.engines import vllm


def make_key(cli, folder, vocab, entropy_threshold):
    path = pathlib.Path(folder) / f"key_{vocab}_{entropy_threshold}.json"
    if path.exists():
        return tracemark.Key.load(path)
    subprocess.run([cli, "keygen", "--out", str(path), "--vocab-size", str(vocab), "--entropy-threshold",
                    str(entropy_threshold)], check=True, capture_output=True)
    return tracemark.Key.load(path)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device, body):
    synchronize(device)
    start = time.perf_counter()
    body()
    synchronize(device)
    return time.perf_counter() - start


def vllm_adapter(key, device, batch, rng, vocab):
    adapter = vllm.bind_key(key)(None, device, False)
    outputs = [[] for _ in range(batch)]
    added = [(b, None, rng.integers(0, vocab, size=8).tolist(), outputs[b]) for b in range(batch)]
    adapter.update_state(types.SimpleNamespace(batch_size=batch, removed=[], added=added, moved=[]))
    return adapter, outputs


def measure(cli, folder, device, batch, vocab, reps, rng):
    key = make_key(cli, folder, vocab, 0.0)
    entropy_key = make_key(cli, folder, vocab, 1.0)
    logits = torch.randn((batch, vocab), device=device)
    bias = torch.randn((batch, vocab), device=device)
    watermark = DeviceWatermark(key, device)
    entropy_watermark = DeviceWatermark(entropy_key, device)
    ops_watermark = DeviceWatermark(key, device, cpu_kernel=False)
    entropy_ops_watermark = DeviceWatermark(entropy_key, device, cpu_kernel=False)
    processors = [tracemark.Processor(key, prompt=rng.integers(0, vocab, size=8)) for _ in range(batch)]
    entropy_processors = [tracemark.Processor(entropy_key, prompt=rng.integers(0, vocab, size=8)) for _ in range(batch)]
    adapter, outputs = vllm_adapter(key, device, batch, rng, vocab)
    tokens = rng.integers(0, vocab, size=(reps + 2, batch)).tolist()

    def adapter_step(step):
        for b in range(batch):
            outputs[b].append(tokens[step][b])
        adapter.update_state(None)
        adapter.apply(logits)

    variants = {
        "floor": lambda step: logits.add_(bias),
        "apply": lambda step: watermark.apply(logits, processors),
        "step": adapter_step,
        "entropy": lambda step: entropy_watermark.apply(logits, entropy_processors),
    }
    if device.type == "cpu":
        variants["ops"] = lambda step: ops_watermark.apply(logits, processors)
        variants["entropy ops"] = lambda step: entropy_ops_watermark.apply(logits, entropy_processors)
    times = {name: [] for name in variants}
    for name, body in variants.items():  # warm-up (workspaces, allocator)
        body(0)
    for step in range(reps):
        for name, body in variants.items():
            times[name].append(timed(device, lambda: body(step + 1)))
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cli", required=True, help="the tracemark CLI (to make keys)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--seed", type=int, default=20261221)
    args = parser.parse_args()
    device = torch.device(args.device)
    rng = np.random.default_rng(args.seed)
    torch.manual_seed(args.seed)
    print(f"device {device}; torch {torch.__version__}, {torch.get_num_threads()} intra-op threads; "
          f"reps {args.reps}, seed {args.seed}")
    ops = device.type == "cpu"
    print("| batch | vocabulary | floor add_ (ms) | apply (ms) | apply / floor | vLLM step (ms) | step / floor "
          "| entropy key apply (ms) | entropy / floor |" + (" ops / floor | entropy ops / floor |" if ops else ""))
    print("|---|---|---|---|---|---|---|---|---|" + ("---|---|" if ops else ""))
    with tempfile.TemporaryDirectory() as folder:
        for batch in (1, 64):
            for vocab in (32000, 128000, 256000):
                t = measure(args.cli, folder, device, batch, vocab, args.reps, rng)
                floor = t["floor"]
                print(f"| {batch} | {vocab} | {floor * 1e3:.3f} | {t['apply'] * 1e3:.3f} | {t['apply'] / floor:.2f} "
                      f"| {t['step'] * 1e3:.3f} | {t['step'] / floor:.2f} | {t['entropy'] * 1e3:.3f} "
                      f"| {t['entropy'] / floor:.2f} |"
                      + (f" {t['ops'] / floor:.2f} | {t['entropy ops'] / floor:.2f} |" if ops else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
