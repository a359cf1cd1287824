"""The model file's format: its constants, ModelError, the sidecar references and the
checksum (reading: device/model.py; checks: device/modelcheck.py; writing:
device/modelwrite.py; all three import this module, which imports none of them).

One JSON document. The first key is "checksum": "sha256:<hex>", the SHA-256 of the file
bytes with those 64 hex digits replaced by zeros, so the board can verify it while
streaming the file in small chunks and nobody has to agree on a canonical JSON form.

Big models keep their arrays in a float32 `.npy` SIDECAR beside the JSON (a JSON list of
6,000 numbers costs a board without PSRAM several times its size while it is parsed; an
.npy is read straight into one array). The JSON then says

    "arrays": {"file": "model.npy", "sha256": "<hex>", "shape": [rows, cols]}

and array-valued mode fields refer to rows of that array: {"row": r} for a vector,
{"rows": [start, stop]} for a matrix. The JSON checksum covers the sidecar's sha256, so
the two files are verified together. Small models keep inline lists.

Thermal models (sensor "thermal") also carry per-pixel maps: each mode's "pixel_mean"
and "pixel_scale" (24 x 32 deg C). They always live in a SECOND sidecar of width 32,

    "pixels": {"file": "model.pixels.npy", "sha256": "<hex>", "shape": [rows, 32]}

each map a block of 24 rows ({"rows": [start, start + 24]}), all means first, then all
scales, so the board reads each kind as one contiguous (modes x 24, 32) view. A second
file rather than one shared array: feature arrays have the width of the feature vector
(n), pixel maps the width of an image row (32); one file would have to pad one of them.
The thermal recipe holds the mask of pixels allowed to be hot and the reference pixels
of the ambient offset as 24 strings of 32 characters ('#' or '.'): readable and editable
(re-save the model afterwards: the checksum covers them; see host_tools.modeling.thermal_train).

Every problem raises ModelError with a message that names what is wrong.
"""

import json

from device.hashing import sha256 as _new_sha256

try:
    from binascii import hexlify
except ImportError:
    hexlify = None

SCHEMA = "circuitpython-anomaly-model"
VERSION = 2
READS = (1, 2)  # schema versions this code reads (1: inline inv_cov only)
SENSORS = ("accel", "scalar", "thermal")
DETECTORS = ("zscore", "mahalanobis", "adaptive")
_MARK = b'"checksum": "sha256:'
_HEXLEN = 64
_HEAD = 256
INF = float("inf")
SIDECAR_MIN = 2048  # arrays with more numbers than this go into the .npy sidecar
BANDS = 2  # row bands the board's loader cuts precision factors into: device.detectors.BANDS


class ModelError(ValueError):
    """The model file is missing, unreadable or invalid; the message says why."""


def _sha256():
    """hashlib.new("sha256"), or pure Python on CircuitPython 9.x / 10.0.x (device.hashing)."""
    return _new_sha256()


def _hex(digest):
    if hexlify is not None:
        h = hexlify(digest)
        return h.decode() if isinstance(h, bytes) else h
    return "".join("%02x" % b for b in digest)


def _split_head(head):
    """Return (claimed hex, head with the hex zeroed) or raise."""
    i = head.find(_MARK)
    if i < 0:
        raise ModelError("checksum missing: the file must start with {\"checksum\": \"sha256:...")
    start = i + len(_MARK)
    claimed = head[start:start + _HEXLEN]
    if len(claimed) != _HEXLEN:
        raise ModelError("checksum truncated")
    zeroed = head[:start] + b"0" * _HEXLEN + head[start + _HEXLEN:]
    return claimed.decode(), zeroed


def checksum_of(data):
    """SHA-256 hex of model bytes with the checksum digits zeroed."""
    claimed, zeroed = _split_head(data[:_HEAD])
    h = _sha256()
    h.update(zeroed)
    h.update(data[_HEAD:])
    return _hex(h.digest())


def dumps(doc):
    """Serialise a model dict with inline arrays (checksum placed first and filled in).
    Returns bytes. The checksum key is written by hand: MicroPython's json.dumps does
    not keep key order."""
    body = {}
    for k in doc:
        if k != "checksum" and not k.startswith("_"):
            body[k] = doc[k]
    text = json.dumps(body)
    data = (('{"checksum": "sha256:' + "0" * _HEXLEN + '"') + (", " if len(text) > 2 else "") + text[1:]).encode()
    digest = checksum_of(data)
    return data.replace(_MARK + b"0" * _HEXLEN, _MARK + digest.encode(), 1)


def _ref(v):
    """(start, stop, is_matrix) of a sidecar reference, or None for an inline value."""
    if not isinstance(v, dict):
        return None
    if "row" in v:
        r = v["row"]
        return (r, r + 1, False) if isinstance(r, int) else (-1, -1, False)
    rows = v.get("rows")
    if isinstance(rows, list) and len(rows) == 2 and isinstance(rows[0], int) and isinstance(rows[1], int):
        return (rows[0], rows[1], True)
    return (-1, -1, True)


_ARRAY_KEYS = ("mean", "scale", "prec_chol", "inv_cov")
_PIXEL_KEYS = ("pixel_mean", "pixel_scale")
_SIDECARS = ("arrays", "pixels")
PIXEL_ROWS = 24
PIXEL_COLS = 32
