"""Loading libtracemark.so.0 and declaring the C ABI (capi/include/tracemark/tracemark.h) for ctypes.

The library is found, in this order, at:
  1. the path in the environment variable TRACEMARK_LIBRARY;
  2. next to this package (tracemark/libtracemark.so.0, for a copied-in library);
  3. a build tree of the repository this package sits in (build/*/capi/libtracemark.so.0,
     build/release first);
  4. the system's library search path (an installed package: libtracemark.so.0).
"""
import ctypes
import os
import pathlib

TM_OK = 0
STATUS_NAMES = {
    0: "TM_OK",
    1: "TM_INVALID_ARGUMENT",
    2: "TM_INVALID_INPUT",
    3: "TM_IO",
    4: "TM_PERMISSION",
    5: "TM_UNSUPPORTED",
    6: "TM_OUT_OF_MEMORY",
    7: "TM_INTERNAL",
}
LIBRARY_NAME = "libtracemark.so.0"


class TracemarkError(Exception):
    """A failed tracemark call: .status is the C status name (for example "TM_INVALID_INPUT"),
    str(error) the library's message (what, where, what to do; never secret material)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class TracemarkValueError(TracemarkError, ValueError):
    """TM_INVALID_ARGUMENT or TM_INVALID_INPUT: bad arguments or data."""


# Mirrors of the header's structs, field for field (tests/capi: checked against the header's
# declarations, offsets and sizes as a C compiler lays them out). KeyInfo and ProcessorParams are
# extensible structs: "size" is set to ctypes.sizeof of the struct before each call.
class KeyInfo(ctypes.Structure):
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("vocab_size", ctypes.c_uint32),
        ("context_width", ctypes.c_uint32),
        ("scheme_version", ctypes.c_uint32),
        ("gamma", ctypes.c_double),
        ("null_green_probability", ctypes.c_double),
        ("delta", ctypes.c_double),
        ("key_id", ctypes.c_char * 32),
        ("scheme", ctypes.c_uint32),
        ("tournament_layers", ctypes.c_uint32),
    ]


class ProcessorParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_uint32), ("allow_padded_logits", ctypes.c_int32)]


class Candidate(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32), ("logit", ctypes.c_float)]


class DetectionResult(ctypes.Structure):
    _fields_ = [
        ("tokens", ctypes.c_uint64),
        ("scored", ctypes.c_uint64),
        ("green", ctypes.c_uint64),
        ("gamma", ctypes.c_double),
        ("z", ctypes.c_double),
        ("p_value", ctypes.c_double),
        ("log10_p", ctypes.c_double),
    ]


class SchemeDetectionResult(ctypes.Structure):
    """tm_scheme_detection (extensible: size first): detection with a key of any scheme."""
    _fields_ = [
        ("size", ctypes.c_uint32),
        ("scheme", ctypes.c_uint32),
        ("tokens", ctypes.c_uint64),
        ("scored", ctypes.c_uint64),
        ("statistic", ctypes.c_double),
        ("null_mean", ctypes.c_double),
        ("p_value", ctypes.c_double),
        ("log10_p", ctypes.c_double),
    ]


class BatchSeeds(ctypes.Structure):
    """tm_batch_seeds (extensible: size first): output arrays of tm_processor_seeds_batch."""
    _fields_ = [("size", ctypes.c_uint32), ("seeds", ctypes.c_void_p), ("will_bias", ctypes.c_void_p)]


# The header's struct names and their mirrors.
STRUCTS = {
    "tm_key_info": KeyInfo,
    "tm_processor_params": ProcessorParams,
    "tm_candidate": Candidate,
    "tm_detection": DetectionResult,
    "tm_scheme_detection": SchemeDetectionResult,
    "tm_batch_seeds": BatchSeeds,
}


def _candidate_paths():
    explicit = os.environ.get("TRACEMARK_LIBRARY")
    if explicit:
        return [pathlib.Path(explicit)]
    here = pathlib.Path(__file__).resolve().parent
    paths = [here / LIBRARY_NAME]
    repository = here.parent.parent.parent  # bindings/python/tracemark -> repository root
    build = repository / "build"
    if build.is_dir():
        trees = sorted(build.iterdir(), key=lambda tree: (tree.name != "release", tree.name))
        paths += [tree / "capi" / LIBRARY_NAME for tree in trees]
    return paths


def _load():
    tried = []
    for path in _candidate_paths():
        if path.is_file():
            return ctypes.CDLL(str(path))
        tried.append(str(path))
    if os.environ.get("TRACEMARK_LIBRARY"):
        raise OSError(f"TRACEMARK_LIBRARY names {tried[0]}, which is not a file; "
                      "point it at libtracemark.so.0 (build target tracemark_c)")
    try:
        return ctypes.CDLL(LIBRARY_NAME)
    except OSError as error:
        raise OSError(f"cannot find {LIBRARY_NAME} (looked at {', '.join(tried) or 'no build tree'} and the "
                      f"system library path: {error}); build it (ninja tracemark_c), install it "
                      "(cmake --install), or set TRACEMARK_LIBRARY to its path") from None


lib = _load()

_c_status = ctypes.c_int
_declarations = {
    "tm_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "tm_version": (ctypes.c_char_p, []),
    "tm_last_error": (ctypes.c_char_p, []),
    "tm_key_load": (_c_status, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "tm_key_load_memory": (_c_status, [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]),
    "tm_key_free": (None, [ctypes.c_void_p]),
    "tm_key_get_info": (_c_status, [ctypes.c_void_p, ctypes.POINTER(KeyInfo)]),
    "tm_processor_params_init": (_c_status, [ctypes.POINTER(ProcessorParams), ctypes.c_size_t]),
    "tm_processor_create": (_c_status, [ctypes.c_void_p, ctypes.POINTER(ProcessorParams),
                                        ctypes.POINTER(ctypes.c_void_p)]),
    "tm_processor_free": (None, [ctypes.c_void_p]),
    "tm_processor_clone": (_c_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]),
    "tm_processor_reset": (_c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]),
    "tm_processor_apply": (_c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]),
    "tm_processor_apply_candidates": (_c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]),
    "tm_processor_accept": (_c_status, [ctypes.c_void_p, ctypes.c_uint32]),
    "tm_processor_will_bias": (ctypes.c_int, [ctypes.c_void_p]),
    # Sampling schemes: the processor picks the token (issue 18).
    "tm_processor_chooses_token": (ctypes.c_int, [ctypes.c_void_p]),
    "tm_processor_choose": (_c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                        ctypes.POINTER(ctypes.c_uint32)]),
    "tm_processor_choose_candidates": (_c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                                   ctypes.POINTER(ctypes.c_uint32)]),
    "tm_processor_apply_batch": (_c_status, [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_void_p,
                                             ctypes.c_size_t, ctypes.c_size_t]),
    "tm_processor_accept_batch": (_c_status, [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t, ctypes.c_void_p]),
    "tm_detect": (_c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(DetectionResult)]),
    "tm_detect_scheme": (_c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                     ctypes.POINTER(SchemeDetectionResult)]),
    # Entropy-aware embedding (issue 16).
    "tm_key_get_entropy_threshold": (_c_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double)]),
    "tm_processor_last_step": (_c_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int),
                                           ctypes.POINTER(ctypes.c_double)]),
    "tm_detect_with_entropy": (_c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                           ctypes.POINTER(DetectionResult)]),
    # Keyrings: a label's subkey per request (issue 15).
    "tm_keyring_load": (_c_status, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "tm_keyring_free": (None, [ctypes.c_void_p]),
    "tm_keyring_label_count": (_c_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
    "tm_keyring_label": (_c_status, [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_char_p)]),
    "tm_keyring_derive": (_c_status, [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "tm_processor_create_for_label": (_c_status, [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ProcessorParams),
                                                  ctypes.POINTER(ctypes.c_void_p)]),
    # Device-resident bias (issue 19; tracemark/device.py).
    "tm_key_export_token_values": (_c_status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]),
    "tm_processor_seeds_batch": (_c_status, [ctypes.POINTER(ctypes.c_void_p), ctypes.c_size_t,
                                             ctypes.POINTER(BatchSeeds)]),
}
for _name, (_restype, _argtypes) in _declarations.items():
    _function = getattr(lib, _name)
    _function.restype = _restype
    _function.argtypes = _argtypes


def check(status):
    """Raises the TracemarkError for a status other than TM_OK, with this thread's message."""
    if status == TM_OK:
        return
    name = STATUS_NAMES.get(status, f"status {status}")
    message = lib.tm_last_error().decode("utf-8", "replace")
    if status in (1, 2):
        raise TracemarkValueError(name, message)
    raise TracemarkError(name, message)
