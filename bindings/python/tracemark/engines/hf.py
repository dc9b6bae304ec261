"""Hugging Face transformers: a LogitsProcessor (model.generate(..., logits_processor=[...])) that
biases the scores where they are, in place.

    processor = tracemark.engines.hf.WatermarkLogitsProcessor(key)
    model.generate(**inputs, logits_processor=LogitsProcessorList([processor]))

transformers calls processor(input_ids, scores) each step with input_ids [batch x length] (prompt
and generated ids, on the model's device) and scores [batch x vocabulary]. The first call of a
generation (or one whose batch size or length does not continue the previous call) starts one
processor per row from its ids; after that, each call moves only the last two columns of input_ids
to the host (2 x batch token ids: the newest token, and the one before it to check that the row
continues), never the scores. A row that does not continue (beam search reordering its beams) is
restarted from its full ids, which loses that row's repeated-context memory, as on the host path."""
from ..device import DeviceWatermark
from .request_stream import RequestStream

try:  # derive from transformers' class where it is installed (isinstance checks in generate)
    from transformers import LogitsProcessor as _Base
except ImportError:  # pragma: no cover - depends on the environment
    _Base = object


class WatermarkLogitsProcessor(_Base):
    """Not thread-safe: one per generate() call at a time."""

    def __init__(self, key, allow_padded_logits=True, model_vocab_size=None):
        self.key = key
        self._allow_padded = allow_padded_logits
        self._model_vocab_size = model_vocab_size
        self._device = None    # DeviceWatermark, made on the first call's device
        self._streams = []     # per row
        self._length = None    # input_ids' length at the previous call
        self._last = []        # per row: the newest id at the previous call

    def _start(self, input_ids):
        rows = input_ids.tolist()  # once per generation: prompt ids, never logits
        self._streams = [RequestStream(self.key, row, self._allow_padded) for row in rows]
        self._last = [row[-1] if row else None for row in rows]

    def __call__(self, input_ids, scores):
        if self._device is None or self._device.device != scores.device:
            self._device = DeviceWatermark(self.key, scores.device, self._allow_padded, self._model_vocab_size)
        batch, length = input_ids.shape
        if len(self._streams) != batch or self._length is None or length != self._length + 1 or length < 2:
            self._start(input_ids)
        else:
            tail = input_ids[:, -2:].tolist()
            for row, (previous, newest) in enumerate(tail):
                if previous == self._last[row]:
                    self._streams[row].processor.accept(int(newest))
                else:
                    self._streams[row] = RequestStream(self.key, input_ids[row].tolist(), self._allow_padded)
                self._last[row] = newest
        self._length = length
        return self._device.apply(scores, [stream.processor for stream in self._streams])
