"""tracemark for Python: watermark language-model outputs at serving time and detect the watermark.

A thin ctypes binding over the C ABI (libtracemark.so.0); no compiled extension. Logits are handled
as numpy arrays, or as torch tensors when torch is importable (the result has the input's type,
device and dtype).

    key = tracemark.Key.load("key.json")
    processor = tracemark.LogitsProcessor(key)            # Hugging Face transformers
    model.generate(..., logits_processor=LogitsProcessorList([processor]))
    tracemark.detect(key, token_ids).p_value

    vllm_processor = tracemark.VllmLogitsProcessor(key, prompt_token_ids)  # one per request
    SamplingParams(logits_processors=[vllm_processor])

    ring = tracemark.Keyring.load("ring.json")             # per-request keys by label
    processor = ring.processor("cohort:canary-a", prompt_token_ids)
    vllm_processor = tracemark.VllmLogitsProcessor(ring.key(label), prompt_token_ids)

Thread safety: a Key or Keyring may be shared by any threads; a Processor, LogitsProcessor or
VllmLogitsProcessor holds per-sequence state and must be used by one thread at a time.
"""
import ctypes
from dataclasses import dataclass

import numpy as np

from . import _native
from ._native import TracemarkError, TracemarkValueError, check

__all__ = ["Key", "Keyring", "Processor", "LogitsProcessor", "VllmLogitsProcessor", "Detection", "detect",
           "SchemeDetection", "detect_scheme", "version", "TracemarkError", "TracemarkValueError"]

# tm_scheme_kind, by the names key files use.
SCHEME_NAMES = {0: "kgw-green-list", 1: "gumbel-max", 2: "synthid-tournament"}

try:  # torch is optional: only needed when the engine hands us torch tensors
    import torch as _torch
except ImportError:  # pragma: no cover - depends on the environment
    _torch = None

_CANDIDATE_DTYPE = np.dtype([("id", "<u4"), ("logit", "<f4")], align=False)


def version():
    """The C library's version, "MAJOR.MINOR.PATCH"."""
    return _native.lib.tm_version().decode()


def _is_torch(value):
    return _torch is not None and isinstance(value, _torch.Tensor)


def _token_array(token_ids):
    """Token ids as a contiguous uint32 numpy array (from a list, numpy array or torch tensor)."""
    if _is_torch(token_ids):
        token_ids = token_ids.detach().cpu().numpy()
    ids = np.asarray(token_ids)
    if ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0 or ids.max() > 0xFFFFFFFF):
        raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                  "token ids must be non-negative integers below 2^32 "
                                  f"(got dtype {ids.dtype}, range {ids.min()}..{ids.max()})")
    return np.ascontiguousarray(ids, dtype=np.uint32).reshape(-1)


def _pointer(array):
    return ctypes.c_void_p(array.ctypes.data)


class Key:
    """A watermark key (secret and scheme parameters). Immutable; share it freely across threads."""

    def __init__(self, handle):
        self._handle = ctypes.c_void_p(handle)
        info = _native.KeyInfo(size=ctypes.sizeof(_native.KeyInfo))
        check(_native.lib.tm_key_get_info(self._handle, ctypes.byref(info)))
        self.vocab_size = info.vocab_size
        self.context_width = info.context_width
        self.scheme_version = info.scheme_version
        self.gamma = info.gamma
        self.null_green_probability = info.null_green_probability
        self.delta = info.delta
        self.key_id = info.key_id.decode()
        self.scheme = SCHEME_NAMES[info.scheme]  # "kgw-green-list", "gumbel-max" or "synthid-tournament"
        self.tournament_layers = info.tournament_layers  # synthid-tournament: m; else 0
        threshold = ctypes.c_double()
        check(_native.lib.tm_key_get_entropy_threshold(self._handle, ctypes.byref(threshold)))
        # nats; 0: every step. With a threshold, processors bias only steps at or above it and
        # detection needs the per-step entropy (detect(key, ids, entropy=...)).
        self.entropy_threshold = threshold.value

    @classmethod
    def load(cls, path):
        """Loads a key file made by `tracemark keygen` (refused if readable by group or others)."""
        handle = ctypes.c_void_p()
        check(_native.lib.tm_key_load(str(path).encode(), ctypes.byref(handle)))
        return cls(handle.value)

    @classmethod
    def from_bytes(cls, data):
        """Loads a key from the bytes (or text) of a key file held in memory."""
        if isinstance(data, str):
            data = data.encode()
        handle = ctypes.c_void_p()
        check(_native.lib.tm_key_load_memory(data, len(data), ctypes.byref(handle)))
        return cls(handle.value)

    def detect(self, token_ids):
        """See tracemark.detect."""
        return detect(self, token_ids)

    def detect_scheme(self, token_ids):
        """See tracemark.detect_scheme."""
        return detect_scheme(self, token_ids)

    def __del__(self):
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            _native.lib.tm_key_free(handle)

    def __repr__(self):
        return (f"Key({self.key_id}, vocab_size={self.vocab_size}, gamma={self.gamma}, delta={self.delta}, "
                f"context_width={self.context_width}, scheme_version={self.scheme_version})")


class Keyring:
    """A keyring (`tracemark keyring new`): one subkey per label (model:VERSION, cohort:NAME,
    epoch:YYYY-MM, global:NAME). Pick a label per request and watermark it with that label's subkey;
    subkeys are derived once per label (the library caches them), so this is cheap per request. A
    label not in the ring raises TracemarkValueError: nothing is watermarked under a key the ring's
    root does not commit to. Thread-safe."""

    def __init__(self, handle):
        self._handle = ctypes.c_void_p(handle)
        count = ctypes.c_size_t()
        check(_native.lib.tm_keyring_label_count(self._handle, ctypes.byref(count)))
        labels = []
        for index in range(count.value):
            label = ctypes.c_char_p()
            check(_native.lib.tm_keyring_label(self._handle, index, ctypes.byref(label)))
            labels.append(label.value.decode())
        self.labels = tuple(labels)
        self._keys = {}

    @classmethod
    def load(cls, path):
        """Loads a keyring file (refused if readable by group or others)."""
        handle = ctypes.c_void_p()
        check(_native.lib.tm_keyring_load(str(path).encode(), ctypes.byref(handle)))
        return cls(handle.value)

    def key(self, label):
        """The subkey of label, an ordinary Key (its key_id is what audit logs record)."""
        key = self._keys.get(label)
        if key is None:
            handle = ctypes.c_void_p()
            check(_native.lib.tm_keyring_derive(self._handle, label.encode(), ctypes.byref(handle)))
            key = self._keys.setdefault(label, Key(handle.value))
        return key

    def processor(self, label, prompt=None, allow_padded_logits=True):
        """A Processor for one request watermarked with label's subkey."""
        params = _native.ProcessorParams()
        check(_native.lib.tm_processor_params_init(ctypes.byref(params), ctypes.sizeof(params)))
        params.allow_padded_logits = 1 if allow_padded_logits else 0
        handle = ctypes.c_void_p()
        check(_native.lib.tm_processor_create_for_label(self._handle, label.encode(), ctypes.byref(params),
                                                        ctypes.byref(handle)))
        return Processor(self.key(label), prompt, allow_padded_logits, _handle=handle.value)

    def __del__(self):
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            _native.lib.tm_keyring_free(handle)

    def __repr__(self):
        return f"Keyring({len(self.labels)} labels: {', '.join(self.labels)})"


@dataclass(frozen=True)
class Detection:
    """The test "more green tokens than chance" over distinct (context, token) tuples."""
    tokens: int      # ids read
    scored: int      # distinct tuples scored
    green: int       # of which green
    gamma: float     # null probability of green per tuple
    z: float         # descriptive only
    p_value: float   # exact binomial tail; 0.0 below ~1e-308: use log10_p
    log10_p: float


def detect(key, token_ids, entropy=None):
    """Scores one response's token ids (without its prompt) against key; returns a Detection.
    entropy: the protected model's per-step entropy (nats, one per token) as serving recorded it
    (Processor.last_step); required for a key with an entropy threshold."""
    ids = _token_array(token_ids)
    result = _native.DetectionResult()
    if entropy is None:
        check(_native.lib.tm_detect(key._handle, _pointer(ids), ids.size, ctypes.byref(result)))
    else:
        values = np.ascontiguousarray(np.asarray(entropy, dtype=np.float32).reshape(-1))
        if values.size != ids.size:
            raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                      f"entropy has {values.size} values for {ids.size} tokens; give one per token")
        check(_native.lib.tm_detect_with_entropy(key._handle, _pointer(ids), _pointer(values), ids.size,
                                                 ctypes.byref(result)))
    return Detection(result.tokens, result.scored, result.green, result.gamma, result.z, result.p_value,
                     result.log10_p)


@dataclass(frozen=True)
class SchemeDetection:
    """Detection with the key's own scheme and exact test (issue 18). statistic: green tuples
    (kgw-green-list), the sum of -ln(1 - r) (gumbel-max), or g-values equal to 1
    (synthid-tournament); null_mean: its mean if the text has nothing to do with the key."""
    scheme: str
    tokens: int
    scored: int
    statistic: float
    null_mean: float
    p_value: float   # exact tail; 0.0 below ~1e-308: use log10_p
    log10_p: float


def detect_scheme(key, token_ids):
    """Scores one response's token ids (without its prompt) with a key of any scheme; returns a
    SchemeDetection. A green-list key with an entropy threshold needs detect(key, ids, entropy=...)."""
    ids = _token_array(token_ids)
    result = _native.SchemeDetectionResult(size=ctypes.sizeof(_native.SchemeDetectionResult))
    check(_native.lib.tm_detect_scheme(key._handle, _pointer(ids), ids.size, ctypes.byref(result)))
    return SchemeDetection(SCHEME_NAMES[result.scheme], result.tokens, result.scored, result.statistic,
                           result.null_mean, result.p_value, result.log10_p)


class Processor:
    """Watermarking state for one sequence: reset(prompt); loop { apply(logits); sample; accept(token) }.
    With a sampling scheme's key (gumbel-max; chooses_token is True) the processor picks the token:
    loop { token = choose(final logits); accept(token) }, an exact draw from their softmax.
    Not thread-safe. allow_padded_logits: logits rows may be wider than the key's vocabulary (padding
    entries are left unchanged, and never chosen)."""

    def __init__(self, key, prompt=None, allow_padded_logits=True, _handle=None):
        self.key = key
        self.vocab_size = key.vocab_size
        if _handle is None:
            params = _native.ProcessorParams()
            check(_native.lib.tm_processor_params_init(ctypes.byref(params), ctypes.sizeof(params)))
            params.allow_padded_logits = 1 if allow_padded_logits else 0
            handle = ctypes.c_void_p()
            check(_native.lib.tm_processor_create(key._handle, ctypes.byref(params), ctypes.byref(handle)))
            _handle = handle.value
        self._handle = ctypes.c_void_p(_handle)
        if prompt is not None:
            self.reset(prompt)

    def reset(self, prompt=()):
        ids = _token_array(prompt)
        check(_native.lib.tm_processor_reset(self._handle, _pointer(ids), ids.size))

    def clone(self):
        handle = ctypes.c_void_p()
        check(_native.lib.tm_processor_clone(self._handle, ctypes.byref(handle)))
        return Processor(self.key, _handle=handle.value)

    @property
    def will_bias(self):
        return bool(_native.lib.tm_processor_will_bias(self._handle))

    @property
    def chooses_token(self):
        """True for a sampling scheme: call choose() instead of sampling from apply()'s logits."""
        return bool(_native.lib.tm_processor_chooses_token(self._handle))

    def choose(self, logits):
        """The token a sampling scheme picks from a 1-D logits row (after temperature, top-k, top-p;
        -inf entries are never chosen). Any array-like or torch tensor; returns an int."""
        if _is_torch(logits):
            logits = logits.detach().to("cpu").float().numpy()
        row = np.ascontiguousarray(np.asarray(logits, dtype=np.float32).reshape(-1))
        token = ctypes.c_uint32()
        check(_native.lib.tm_processor_choose(self._handle, _pointer(row), row.size, ctypes.byref(token)))
        return int(token.value)

    def choose_candidates(self, ids, logits):
        """The token a sampling scheme picks among candidates (ids and logits, any order, any subset)."""
        ids = _token_array(ids)
        candidates = np.empty(ids.size, dtype=_CANDIDATE_DTYPE)
        candidates["id"] = ids
        candidates["logit"] = np.asarray(logits, dtype=np.float32).reshape(-1)
        token = ctypes.c_uint32()
        check(_native.lib.tm_processor_choose_candidates(self._handle, _pointer(candidates), ids.size,
                                                         ctypes.byref(token)))
        return int(token.value)

    @property
    def last_step(self):
        """(biased, entropy) of the last apply: entropy in nats, or None when none was measured (the key
        has no entropy threshold, or the context allowed no bias)."""
        biased, entropy = ctypes.c_int(), ctypes.c_double()
        check(_native.lib.tm_processor_last_step(self._handle, ctypes.byref(biased), ctypes.byref(entropy)))
        return bool(biased.value), (None if entropy.value < 0 else entropy.value)

    def apply(self, logits):
        """Biases a 1-D logits row (one entry per token id). A contiguous float32 numpy array is changed
        in place and returned; anything else (other dtypes, torch tensors) is returned as a new
        array or tensor of the input's type."""
        return _apply_rows([self], logits, one_row=True)

    def apply_candidates(self, ids, logits):
        """Biases top-k candidates: ids and their logits (any order, any subset). Returns the new logits
        as a float32 numpy array."""
        ids = _token_array(ids)
        candidates = np.empty(ids.size, dtype=_CANDIDATE_DTYPE)
        candidates["id"] = ids
        candidates["logit"] = np.asarray(logits, dtype=np.float32).reshape(-1)
        check(_native.lib.tm_processor_apply_candidates(self._handle, _pointer(candidates), ids.size))
        return candidates["logit"].copy()

    def accept(self, token):
        if token < 0 or token > 0xFFFFFFFF:
            raise TracemarkValueError("TM_INVALID_ARGUMENT", f"token id {token} is not a non-negative 32-bit integer")
        check(_native.lib.tm_processor_accept(self._handle, int(token)))

    def __del__(self):
        handle, self._handle = getattr(self, "_handle", None), None
        if handle:
            _native.lib.tm_processor_free(handle)


def _apply_rows(processors, scores, one_row=False):
    """Applies processors[b] to row b of scores (numpy or torch; 1-D when one_row). Returns scores
    changed in place when they are a contiguous float32 numpy array, else a new array or tensor."""
    torch_input = _is_torch(scores)
    if torch_input:
        matrix = scores.detach().to("cpu", _torch.float32).numpy().copy()
    else:
        matrix = np.asarray(scores)
        if matrix.dtype != np.float32 or not matrix.flags.c_contiguous or not matrix.flags.writeable:
            matrix = np.ascontiguousarray(matrix, dtype=np.float32).copy()
    rows = matrix.reshape(1, -1) if one_row else matrix
    if rows.ndim != 2:
        raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                  f"scores must be a [batch x vocabulary] matrix (got shape {matrix.shape})")
    if rows.shape[0] != len(processors):
        raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                  f"scores have {rows.shape[0]} rows but there are {len(processors)} sequences")
    handles = (ctypes.c_void_p * len(processors))(*[p._handle.value if p is not None else None for p in processors])
    check(_native.lib.tm_processor_apply_batch(handles, rows.shape[0], _pointer(rows), rows.shape[1], rows.shape[1]))
    if torch_input:
        return _torch.from_numpy(matrix).to(device=scores.device, dtype=scores.dtype)
    return matrix


class LogitsProcessor:
    """A Hugging Face transformers logits processor: __call__(input_ids, scores) -> scores, with
    input_ids [batch x length] (prompt and generated tokens) and scores [batch x vocabulary] (numpy or
    torch). One processor state per row: the first call (or a call whose rows do not continue the
    previous call's rows, as at the start of another generate()) resets each row with its ids as the
    prompt; later calls accept each row's newest token, then bias. For sampling and greedy search;
    beam search reorders rows, which is detected (a row that does not continue its sequence is reset)
    but then loses that row's history."""

    def __init__(self, key, allow_padded_logits=True):
        self.key = key
        self._allow_padded = allow_padded_logits
        self._processors = []
        self._rows = []  # per row: the ids seen so far (numpy uint32)

    def _start(self, ids):
        self._processors = [Processor(self.key, prompt=row, allow_padded_logits=self._allow_padded) for row in ids]
        self._rows = [row.copy() for row in ids]

    def __call__(self, input_ids, scores):
        if _is_torch(input_ids):
            input_ids = input_ids.detach().cpu().numpy()
        ids = np.asarray(input_ids)
        if ids.ndim != 2:
            raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                      f"input_ids must be a [batch x length] matrix (got shape {ids.shape})")
        ids = np.stack([_token_array(row) for row in ids]) if ids.shape[1] else ids.astype(np.uint32)
        if len(self._rows) != ids.shape[0]:
            self._start(ids)
        else:
            for b, row in enumerate(ids):
                previous = self._rows[b]
                continues = row.size == previous.size + 1 and np.array_equal(row[:-1], previous)
                if continues:
                    self._processors[b].accept(int(row[-1]))
                elif not np.array_equal(row, previous):
                    self._processors[b].reset(row)
                self._rows[b] = row.copy()
        return _apply_rows(self._processors, scores)


class VllmLogitsProcessor:
    """A per-request vLLM logits processor: __call__(token_ids, logits) -> logits, where token_ids are
    the tokens generated so far (not the prompt) and logits the next token's 1-D row. Make one per
    request, with that request's prompt ids."""

    def __init__(self, key, prompt_token_ids=(), allow_padded_logits=True):
        self._prompt = _token_array(prompt_token_ids)
        self._processor = Processor(key, prompt=self._prompt, allow_padded_logits=allow_padded_logits)
        self._accepted = []

    def __call__(self, token_ids, logits):
        token_ids = list(token_ids)
        if token_ids[:len(self._accepted)] != self._accepted:  # not a continuation: start over
            self._processor.reset(self._prompt)
            self._accepted = []
        for token in token_ids[len(self._accepted):]:
            self._processor.accept(int(token))
            self._accepted.append(int(token))
        return self._processor.apply(logits)
