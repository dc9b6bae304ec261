"""The watermark's bias computed where the logits live (a GPU, or any torch device), for a whole batch.

The green list's version-2 rule (embed/include/tracemark/embed/green_list_scheme.hpp) is a keyed
per-token table R times a per-row multiplier, XOR a per-row mask, compared with a threshold:

    value(c, t) = (R[t] * (low32(seed(c)) | 1) mod 2^32) XOR high32(seed(c));  green when value < T.

So the table goes to the device once per key, and each step the host sends only B rows of three
32-bit numbers (multiplier, mask, threshold), computed from each row's context seed by the C library
(tm_processor_seeds_batch). On the device the bias is four element-wise operations over the
[batch x vocabulary] block, in place, into workspaces reused across steps:

    values = R * multiplier;  values ^= mask;  green = (values < threshold) * bits(delta);
    logits += green viewed as float32 (delta, or +0.0 as the C code adds for a red token)

(the compare writes int32 0/1 and the multiplication turns 1 into delta's float bits: on CPU torch
1.13 a compare into bool and an add of a bool or int tensor to floats take slow casting loops,
several times a plain float add; these five are all vectorised).

torch (1.13, Debian's) has no unsigned 32-bit arithmetic, so the values are int32 with wrap-around
multiplication (the same bits as uint32), and the unsigned compare is a signed one with the top bit
flipped in the mask and the threshold, exactly as the C code's vector path does. A row the
processor would leave alone (context not yet full, a context already used in this response, or,
for a key with an entropy threshold, a step whose softmax entropy is below it) gets the threshold
INT32_MIN, so no value is below it: gating costs nothing extra. The entropy is measured on the
device (float64, the C code's formula), so the logits never leave it.

On the CPU device, float32 logits whose rows are contiguous go to the C library's own batch path
(tm_processor_apply_batch on the tensor's memory: one pass, AVX2, entropy measured there too) rather
than through the element-wise ops: it gives the same bits (the ops were made to match it) at the
cost of one in-place add (docs/BENCHMARKS.md, "Device-resident bias"); cpu_kernel=False keeps the
element-wise ops everywhere (what the parity tests run on CPU for the GPU's sake).

Which rows are biased, and with which seed, stays the host processors' job (tracemark.Processor):
this class only evaluates their decision on the device. The engine adapters (tracemark.engines.hf,
.vllm, .sglang) keep one Processor per request and call DeviceWatermark.apply once per step.

Contracts:
- logits: a 2-D torch tensor [batch x width] of float32, float16 or bfloat16 on this watermark's
  device, changed in place. width >= the key's vocab_size; columns beyond it (an engine's padding)
  are left unchanged; with allow_padded_logits=False, width must equal vocab_size.
- Never a silent host fallback: a tensor on another device, a version-1 key (no per-token table),
  a wrong shape or dtype raise TracemarkValueError / TracemarkError with what to do.
- The table is key material: it is never logged, printed or written anywhere; the host copy made
  while uploading it is wiped.
- Not thread-safe (workspaces are reused): one DeviceWatermark per engine worker.
"""
import ctypes

import numpy as np

from . import _native
from ._native import TracemarkError, TracemarkValueError, check

try:  # torch is what this module is for; the rest of the binding works without it
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

__all__ = ["DeviceWatermark", "row_entropy"]

_TOP_BIT = 0x80000000
_NEVER_GREEN = -(1 << 31)  # INT32_MIN: no int32 value is below it
_LOGIT_DTYPE_NAMES = ("float32", "float16", "bfloat16")


def _signed(value):
    """The int32 with the bits of the uint32 value."""
    return value - (1 << 32) if value >= _TOP_BIT else value


def row_entropy(rows):
    """Softmax entropy in nats of each row of a [batch x vocabulary] tensor, on its device, in float64:
    the C library's formula (embed/src/step_entropy.cpp): H = log Z - sum_i w_i (x_i - m) / Z with m the
    row's largest logit, w_i = exp(x_i - m), Z = sum_i w_i; -inf entries have probability 0; a row
    whose largest logit is not finite has entropy 0; rounding below 0 is clamped to 0."""
    x = rows.to(torch.float64)
    top = x.max(dim=1, keepdim=True).values
    shifted = x - top
    weights = torch.exp(shifted)
    z = weights.sum(dim=1)
    weighted = torch.where(weights > 0, weights * shifted, torch.zeros((), dtype=torch.float64, device=x.device))
    entropy = (torch.log(z) - weighted.sum(dim=1) / z).clamp_min(0.0)
    return torch.where(torch.isfinite(top[:, 0]), entropy, torch.zeros_like(entropy))


class DeviceWatermark:
    """One key's green-list bias on one torch device. See the module's docstring for the contract.

    key: a tracemark.Key of a scheme with a per-token table (kgw-green-list version 2).
    device: where the logits will be (torch.device or string, e.g. "cuda:0" or "cpu").
    model_vocab_size: the engine's real vocabulary (without padding), when it knows it: a model
    whose vocabulary differs from the key's is refused here, once, rather than watermarking only
    part of it (a larger vocabulary) or biasing ids the tokenizer never makes (a smaller one)."""

    def __init__(self, key, device, allow_padded_logits=True, model_vocab_size=None, cpu_kernel=True):
        if torch is None:
            raise TracemarkError("TM_UNSUPPORTED", "tracemark.device needs torch (Debian: python3-torch); "
                                 "without it use tracemark.Processor on host arrays")
        if model_vocab_size is not None and int(model_vocab_size) != key.vocab_size:
            raise TracemarkValueError(
                "TM_INVALID_ARGUMENT",
                f"the model's vocabulary has {int(model_vocab_size)} token ids but key {key.key_id} was made for "
                f"{key.vocab_size}; use a key made for this model's tokenizer (tracemark keygen --vocab-size)")
        self.key = key
        self.vocab_size = key.vocab_size
        self.allow_padded_logits = bool(allow_padded_logits)
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", torch.cuda.current_device())
        self._table = self._upload_table(key)
        threshold = round(key.null_green_probability * 4294967296.0)  # exact: threshold / 2^32 is a double
        self._threshold = _signed(threshold ^ _TOP_BIT)
        self._delta = float(np.float32(key.delta))  # the C code adds the key's delta as a float
        self._delta_bits = int(np.array([key.delta], dtype=np.float32).view(np.int32)[0])
        self._entropy_threshold = key.entropy_threshold
        self._cpu_kernel = bool(cpu_kernel) and self.device.type == "cpu"
        self._last_host_step = None  # the rows' processors of the last apply that ran the C kernel
        self._values = None  # int32 workspace [capacity x vocab]
        self._green = None   # int32 workspace [capacity x vocab]: 0 or delta's float bits
        self._seeds = np.zeros(0, dtype=np.uint64)
        self._will_bias = np.zeros(0, dtype=np.uint8)
        self._last_thresholds = None
        self._last_entropy = None

    def __repr__(self):  # never the table
        return f"DeviceWatermark({self.key.key_id}, device={self.device}, vocab_size={self.vocab_size})"

    def _upload_table(self, key):
        values = np.zeros(key.vocab_size, dtype=np.uint32)
        try:
            check(_native.lib.tm_key_export_token_values(key._handle, ctypes.c_void_p(values.ctypes.data),
                                                         values.size))
            host = torch.from_numpy(values.view(np.int32))
            # On the CPU device a clone: the table must not share memory with the host array wiped below.
            return host.clone() if self.device.type == "cpu" else host.to(self.device)
        finally:
            values.fill(0)

    def _check_logits(self, logits, batch):
        if torch is None or not isinstance(logits, torch.Tensor):
            raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                      f"logits must be a torch.Tensor on {self.device} (got {type(logits).__name__}); "
                                      "for host arrays use tracemark.Processor")
        if logits.dim() != 2:
            raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                      f"logits must be a [batch x vocabulary] matrix (got shape {tuple(logits.shape)})")
        if str(logits.dtype).replace("torch.", "") not in _LOGIT_DTYPE_NAMES:
            raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                      f"logits have dtype {logits.dtype}; the device path takes "
                                      f"{', '.join(_LOGIT_DTYPE_NAMES)}")
        if logits.device != self.device:
            raise TracemarkValueError(
                "TM_INVALID_ARGUMENT",
                f"logits are on {logits.device} but key {self.key.key_id}'s table is on {self.device}; make a "
                "DeviceWatermark for that device (the logits are never copied to another device)")
        if logits.shape[0] != batch:
            raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                      f"logits have {logits.shape[0]} rows but {batch} processors were given; "
                                      "give one per row (None for a row to leave alone)")
        width = logits.shape[1]
        if width < self.vocab_size or (width > self.vocab_size and not self.allow_padded_logits):
            raise TracemarkValueError(
                "TM_INVALID_ARGUMENT",
                f"logits rows have {width} entries but key {self.key.key_id}'s vocabulary has {self.vocab_size} "
                "token ids; pass one logit per token id" + (" or allow padded logits" if width > self.vocab_size else "")
                + ", and check that the key was made for this model's tokenizer")

    def _handles(self, processors):
        """The rows' processor handles (NULL for None), each checked to be of this watermark's key."""
        handles = (ctypes.c_void_p * len(processors))()
        for row, processor in enumerate(processors):
            if processor is None:
                continue
            if processor.key.key_id != self.key.key_id:
                raise TracemarkValueError(
                    "TM_INVALID_ARGUMENT",
                    f"row {row}'s processor has key {processor.key.key_id}, not {self.key.key_id}; one "
                    "DeviceWatermark serves one key: give that row None here and bias it with its own key's")
            handles[row] = processor._handle.value
        return handles

    def _row_parameters(self, handles, batch):
        """[3 x batch] int32 on the device: per row the multiplier, the mask and the threshold."""
        if self._seeds.size < batch:
            self._seeds = np.zeros(batch, dtype=np.uint64)
            self._will_bias = np.zeros(batch, dtype=np.uint8)
        outputs = _native.BatchSeeds(size=ctypes.sizeof(_native.BatchSeeds),
                                     seeds=self._seeds.ctypes.data, will_bias=self._will_bias.ctypes.data)
        check(_native.lib.tm_processor_seeds_batch(handles, batch, ctypes.byref(outputs)))
        seeds = self._seeds[:batch]
        rows = np.empty((3, batch), dtype=np.uint32)
        rows[0] = (seeds & np.uint64(0xFFFFFFFF)).astype(np.uint32) | np.uint32(1)
        rows[1] = (seeds >> np.uint64(32)).astype(np.uint32) ^ np.uint32(_TOP_BIT)
        rows[2] = np.where(self._will_bias[:batch] != 0, np.uint32(self._threshold & 0xFFFFFFFF),
                           np.uint32(_TOP_BIT))
        host = torch.from_numpy(rows.view(np.int32))
        if self.device.type == "cpu":
            return host
        # Host to device only (B x 12 bytes); pinned so the copy is asynchronous.
        return host.pin_memory().to(self.device, non_blocking=True)

    def _workspaces(self, batch):
        if self._values is None or self._values.shape[0] < batch:
            self._values = torch.empty((batch, self.vocab_size), dtype=torch.int32, device=self.device)
            self._green = torch.empty((batch, self.vocab_size), dtype=torch.int32, device=self.device)
        return self._values[:batch], self._green[:batch]

    def apply(self, logits, processors):
        """Adds the key's delta to the green logits of each row b whose processors[b] would bias this
        step, in place, on the logits' device; returns logits. processors[b] is a tracemark.Processor of
        this key, or None for a row to leave alone. Reads the processors' state; changes none (the
        caller accepts each row's sampled token into its processor, as on the host path)."""
        batch = len(processors)
        self._check_logits(logits, batch)
        if batch == 0:
            return logits
        handles = self._handles(processors)
        if self._runs_c_kernel(logits, handles):
            return self._apply_c_kernel(logits, processors, handles)
        self._last_host_step = None
        rows = self._row_parameters(handles, batch)
        multiplier, mask, thresholds = rows[0].unsqueeze(1), rows[1].unsqueeze(1), rows[2].unsqueeze(1)
        block = logits[:, :self.vocab_size]
        self._last_entropy = None
        if self._entropy_threshold > 0:
            entropy = row_entropy(block)
            self._last_entropy = torch.where(thresholds[:, 0] != _NEVER_GREEN, entropy,
                                             torch.full_like(entropy, -1.0))
            thresholds = torch.where((entropy >= self._entropy_threshold).unsqueeze(1), thresholds,
                                     torch.full_like(thresholds, _NEVER_GREEN))
        values, green = self._workspaces(batch)
        torch.mul(self._table, multiplier, out=values)
        values.bitwise_xor_(mask)
        torch.lt(values, thresholds, out=green)
        bias = green.mul_(self._delta_bits).view(torch.float32)
        if block.dtype == torch.float32:
            block.add_(bias)
        else:
            # float16 / bfloat16: the sum is formed in float32 and rounded once to the logits' dtype, as
            # the C library's path does (a half-precision add would round delta first: other bits).
            block.copy_(block.to(torch.float32).add_(bias))
        self._last_thresholds = thresholds
        return logits

    def _runs_c_kernel(self, logits, handles):
        """The C batch path takes float32 rows whose entries are adjacent, and distinct processors
        (tm_processor_apply_batch's contract); anything else takes the element-wise ops."""
        if not self._cpu_kernel or logits.dtype != torch.float32 or logits.stride(1) != 1:
            return False
        present = [handle for handle in handles if handle]
        return len(set(present)) == len(present)

    def _apply_c_kernel(self, logits, processors, handles):
        check(_native.lib.tm_processor_apply_batch(handles, len(processors), ctypes.c_void_p(logits.data_ptr()),
                                                   logits.stride(0), self.vocab_size))
        # The processors hold this step's record (tm_processor_last_step); last_step reads it when
        # asked, so a step nobody asks about costs no per-row calls.
        self._last_host_step = list(processors)
        self._last_thresholds = None
        return logits

    def _host_step_record(self):
        processors = self._last_host_step
        biased = torch.zeros(len(processors), dtype=torch.bool)
        entropy = torch.full((len(processors),), -1.0, dtype=torch.float64) if self._entropy_threshold > 0 else None
        for row, processor in enumerate(processors):
            if processor is None:
                continue
            row_biased, row_entropy_nats = processor.last_step
            biased[row] = row_biased
            if entropy is not None and row_entropy_nats is not None:
                entropy[row] = row_entropy_nats
        return biased, entropy

    @property
    def last_step(self):
        """(biased, entropy) of the last apply, as device tensors (no transfer happens here): biased a
        bool tensor [batch]; entropy a float64 tensor [batch] of the nats measured per row (-1 where the
        context allowed no bias), or None for a key without an entropy threshold. A server that records
        the entropy per token (serve --record-entropy) copies these B numbers, never the logits.
        After a step of the CPU kernel it reads the rows' processors' own record of that step, so ask
        before those processors are applied again (accepting a token does not change the record)."""
        if self._last_host_step is not None:
            return self._host_step_record()
        if self._last_thresholds is None:
            return None, None
        return self._last_thresholds[:, 0] != _NEVER_GREEN, self._last_entropy
