"""SGLang: a custom logit processor (sglang.srt.sampling.custom_logit_processor.CustomLogitProcessor)
biasing the batch's logits on the device, in place.

The interface (read from SGLang's source): the engine rebuilds the processor from a string
(to_str/from_str, the class serialized by reference) with no constructor arguments, and calls
processor(logits, custom_param_list) with logits [rows x vocabulary] for the requests that use it
and custom_param_list[i] the request's custom_params with "__req__" set to the request (Req), whose
origin_input_ids and output_ids (the growing list of generated ids) this adapter reads.

Because SGLang constructs the processor itself, the key comes from the server's environment
(TRACEMARK_KEY_FILE), never from the request, and the per-request state lives beside the request:
a weak map from the Req object to its watermarking stream, freed with the request. The loaded key
and its device tables are cached on the class (per process), the one place SGLang's no-argument
construction leaves for them. A provider makes every request use this processor server-side (for
example in the router that forwards requests); a client must not be able to leave it out."""
import os
import weakref

from .. import Key
from .._native import TracemarkValueError
from ..device import DeviceWatermark
from .request_stream import RequestStream

try:  # the engine's base class where SGLang is installed
    from sglang.srt.sampling.custom_logit_processor import CustomLogitProcessor as _Base
except ImportError:  # pragma: no cover - depends on the environment
    _Base = object

KEY_FILE_VARIABLE = "TRACEMARK_KEY_FILE"


class _Session:
    """What outlives one processor object: the key, one DeviceWatermark per device, the streams."""

    def __init__(self, key):
        self.key = key
        self.devices = {}
        self.streams = weakref.WeakKeyDictionary()  # Req -> RequestStream

    def device_watermark(self, device):
        if device not in self.devices:
            self.devices[device] = DeviceWatermark(self.key, device)
        return self.devices[device]


class WatermarkLogitProcessor(_Base):
    _session = None

    @classmethod
    def _current_session(cls):
        if cls._session is None:
            path = os.environ.get(KEY_FILE_VARIABLE)
            if not path:
                raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                          f"set {KEY_FILE_VARIABLE} in the SGLang server's environment to the "
                                          "watermark key file (tracemark keygen)")
            cls._session = _Session(Key.load(path))
        return cls._session

    def __call__(self, logits, custom_param_list=None):
        session = self._current_session()
        params = custom_param_list or []
        if len(params) != logits.shape[0]:
            raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                      f"logits have {logits.shape[0]} rows but custom_param_list has {len(params)} "
                                      "entries; SGLang passes one per row")
        processors = []
        for row, entry in enumerate(params):
            request = entry.get("__req__") if entry else None
            if request is None:
                raise TracemarkValueError("TM_INVALID_ARGUMENT",
                                          f"row {row} has no '__req__' in its custom params; this SGLang does not "
                                          "pass the request to custom logit processors")
            stream = session.streams.get(request)
            if stream is None:
                stream = RequestStream(session.key, request.origin_input_ids)
                session.streams[request] = stream
            stream.catch_up(request.output_ids)
            processors.append(stream.processor)
        return session.device_watermark(logits.device).apply(logits, processors)
