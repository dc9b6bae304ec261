"""vLLM: a logits processor for vLLM's batch-level interface (vllm.v1.sample.logits_processor),
biasing the whole batch's logits on the device, in place.

The interface (read from vLLM's source, vllm/v1/sample/logits_processor/interface.py, and its
design notes on logits processors): the engine constructs the class as cls(vllm_config, device,
is_pin_memory); before each step it calls update_state(batch_update), where batch_update is None
when the batch did not change, else a BatchUpdate(batch_size, removed, added, moved) to apply in the
order removed, added, moved: removed are row indices; added are (index, sampling_params,
prompt_token_ids or None, output_token_ids), the last a reference to the request's live list of
generated ids (so new tokens show up in it without an update); moved are (i, j, direction) with
direction UNIDIRECTIONAL (the request at i moves to j) or SWAP. Then apply(logits) with logits
[num_requests x vocabulary] on the device.

Every request is watermarked: no per-request argument can turn it off (a client asking for an
unwatermarked response is exactly what a distiller would do).

The key: WatermarkLogitsProcessor reads the key file named by the environment variable
TRACEMARK_KEY_FILE (vllm serve --logits-processors tracemark.engines.vllm:WatermarkLogitsProcessor);
bind_key(key) makes a subclass bound to a loaded Key, for the offline LLM(logits_processors=[...])."""
import os

from .. import Key
from .._native import TracemarkValueError
from ..device import DeviceWatermark
from .request_stream import RequestStream

try:  # the engine's base class where vLLM is installed (vLLM checks the subclass)
    from vllm.v1.sample.logits_processor import LogitsProcessor as _Base
    from vllm.v1.sample.logits_processor import MoveDirectionality as _MoveDirectionality
except ImportError:  # pragma: no cover - depends on the environment
    _Base = object
    _MoveDirectionality = None

KEY_FILE_VARIABLE = "TRACEMARK_KEY_FILE"


def _is_swap(direction):
    if _MoveDirectionality is not None:
        return direction == _MoveDirectionality.SWAP
    return getattr(direction, "name", direction) == "SWAP"


def _model_vocab_size(vllm_config):
    model_config = getattr(vllm_config, "model_config", None)
    if model_config is None or not hasattr(model_config, "get_vocab_size"):
        return None
    return model_config.get_vocab_size()


class WatermarkLogitsProcessor(_Base):
    """Not thread-safe: vLLM calls it from one worker thread."""

    key = None  # set by bind_key; else loaded from TRACEMARK_KEY_FILE

    def __init__(self, vllm_config, device, is_pin_memory=False):
        key = type(self).key
        if key is None:
            path = os.environ.get(KEY_FILE_VARIABLE)
            if not path:
                raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                          f"set {KEY_FILE_VARIABLE} to the watermark key file (tracemark keygen), "
                                          "or pass tracemark.engines.vllm.bind_key(key) as the logits processor")
            key = Key.load(path)
        self._key = key
        self._device = DeviceWatermark(key, device, model_vocab_size=_model_vocab_size(vllm_config))
        self._rows = []  # per row of the persistent batch: (RequestStream, live output id list) or None

    @classmethod
    def validate_params(cls, sampling_params):
        return None  # nothing per request: every request is watermarked

    def is_argmax_invariant(self):
        return False  # the bias can change the most likely token

    def update_state(self, batch_update):
        if batch_update is not None:
            self._apply_batch_update(batch_update)
        for entry in self._rows:
            if entry is not None:
                entry[0].catch_up(entry[1])

    def _apply_batch_update(self, update):
        size = max(update.batch_size, len(self._rows))
        self._rows.extend([None] * (size - len(self._rows)))
        for index in update.removed:
            self._rows[index] = None
        for index, _params, prompt_token_ids, output_token_ids in update.added:
            if index >= len(self._rows):
                self._rows.extend([None] * (index + 1 - len(self._rows)))
            self._rows[index] = (RequestStream(self._key, prompt_token_ids), output_token_ids)
        for source, target, direction in update.moved:
            if _is_swap(direction):
                self._rows[source], self._rows[target] = self._rows[target], self._rows[source]
            else:
                self._rows[target], self._rows[source] = self._rows[source], None
        del self._rows[update.batch_size:]

    def apply(self, logits):
        rows = logits.shape[0]
        if rows > len(self._rows):
            raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                      f"logits have {rows} rows but the batch holds {len(self._rows)} requests; "
                                      "update_state must run before apply")
        processors = [entry[0].processor if entry is not None else None for entry in self._rows[:rows]]
        return self._device.apply(logits, processors)


def bind_key(key):
    """A WatermarkLogitsProcessor subclass that uses key (a tracemark.Key) instead of TRACEMARK_KEY_FILE."""
    return type("BoundWatermarkLogitsProcessor", (WatermarkLogitsProcessor,), {"key": key})
