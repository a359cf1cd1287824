"""The model file: read and verify it, with its sidecars (device.model.load is what the
board and the host call). The format and the checksum: device/modelformat.py; the
document's checks: device/modelcheck.py; writing: device/modelwrite.py. Every problem
raises ModelError with a message that names what is wrong.

The names of modelformat and modelcheck that callers use are re-exported here, so
`from device import model` stays the one entry point (model.load, model.verify,
model.validate, model.dumps, model.ModelError, model.SCHEMA, ...)."""

import json

from device.modelcheck import validate, validate_arrays
from device.modelformat import (  # noqa: F401 - re-exported: device.model is the entry point
    _ARRAY_KEYS, _HEAD, _PIXEL_KEYS, _SIDECARS, PIXEL_COLS, PIXEL_ROWS, SCHEMA, SIDECAR_MIN, VERSION, ModelError,
    _hex, _ref, _sha256, _split_head, checksum_of, dumps,
)


def loads(data):
    """Parse, verify and validate model bytes (inline arrays only); returns the dict."""
    if isinstance(data, str):
        data = data.encode()
    if not data:
        raise ModelError("model file is empty")
    claimed, _ = _split_head(data[:_HEAD])
    actual = checksum_of(data)
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise ModelError("model file is not valid JSON (truncated?): %s" % (e,))
    if actual != claimed:
        raise ModelError("checksum mismatch: file says %s..., content gives %s..." % (claimed[:12], actual[:12]))
    for key in _SIDECARS:
        if key in doc:
            raise ModelError("this model keeps its arrays in %r: load it from its file" % (doc[key].get("file"),))
    validate(doc)
    return doc


def _folder(path):
    i = path.rfind("/")
    return path[:i + 1] if i >= 0 else ""


def _sidecar_path(path, doc, key="arrays"):
    return _folder(path) + doc[key]["file"]


def _open(path, what):
    try:
        return open(path, "rb")
    except OSError as e:
        code = e.args[0] if e.args else None
        if code == 21:  # EISDIR
            raise ModelError("%s is a directory, not a model file: %s" % (what, path))
        if code in (2, None):
            raise ModelError("%s not found: %s" % (what, path))
        raise ModelError("%s cannot be opened: %s (%s)" % (what, path, e))


def _hash_file(f, h, chunk):
    buf = bytearray(chunk)
    mv = memoryview(buf)
    while True:
        n = f.readinto(buf)
        if not n:
            break
        h.update(mv[:n])


def _read_json(path, chunk=512):
    """(doc, checksum hex) of a model JSON, the checksum verified in chunks so a board
    never holds the whole text and the parsed document at once."""
    f = _open(path, "model file")
    try:
        try:
            head = f.read(_HEAD)
        except OSError as e:
            raise ModelError("cannot read model file %s (%s)" % (path, e))
        if not head:
            raise ModelError("model file is empty: %s" % (path,))
        claimed, zeroed = _split_head(head)
        h = _sha256()
        h.update(zeroed)
        _hash_file(f, h, chunk)
        if _hex(h.digest()) != claimed:
            raise ModelError("checksum mismatch in %s: the file was changed or cut short" % (path,))
        f.seek(0)
        try:
            doc = json.load(f)
        except ValueError as e:
            raise ModelError("model file is not valid JSON: %s (%s)" % (path, e))
    finally:
        f.close()
    return doc, claimed


def _check_sidecar(path, doc, chunk=512, key="arrays"):
    arr = doc[key]
    sp = _sidecar_path(path, doc, key)
    f = _open(sp, "model arrays file (named in %s)" % (path,))
    try:
        h = _sha256()
        _hash_file(f, h, chunk)
    finally:
        f.close()
    if _hex(h.digest()) != arr["sha256"]:
        raise ModelError("model arrays file %s does not match %s (sha256 differs): copy both files together" % (sp, path))
    return sp


def verify(path, chunk=512):
    """Check a model without loading its arrays (pure Python: works without ulab or
    numpy): the JSON checksum, the sidecar's sha256, and the document's structure.
    Returns the JSON checksum hex."""
    doc, claimed = _read_json(path, chunk)
    validate(doc, arrays=False)
    for key in _SIDECARS:
        if key in doc:
            _check_sidecar(path, doc, chunk, key)
    return claimed


def files_of(path):
    """The files a model consists of: the JSON, and its sidecar if it names one."""
    doc, _ = _read_json(path)
    out = [path]
    for key in _SIDECARS:
        if isinstance(doc, dict) and isinstance(doc.get(key), dict) and doc[key].get("file"):
            out.append(_sidecar_path(path, doc, key))
    return out


def load(path, chunk=512):
    """Read, verify and validate a model file (and its sidecar). Array fields of a
    sidecar model come back as float32 row views of one array; inline ones as lists."""
    doc, _ = _read_json(path, chunk)
    validate(doc, arrays=False)
    if "arrays" in doc:
        sp = _check_sidecar(path, doc, chunk)
        _attach(doc, _load_npy(sp, doc["arrays"]["shape"]))
    if "pixels" in doc:
        sp = _check_sidecar(path, doc, chunk, "pixels")
        _attach_pixels(doc, _load_npy(sp, doc["pixels"]["shape"]))
    validate_arrays(doc)
    return doc


def _load_npy(sp, shape):
    from device import xp

    if xp.np is None:
        raise ModelError("this model keeps its arrays in %s, which needs ulab (or numpy) to read" % (sp,))
    try:
        a = xp.np.load(sp)
    except (OSError, ValueError, TypeError) as e:
        raise ModelError("model arrays file %s cannot be read as float32 .npy (%s)" % (sp, e))
    got = a.shape
    if len(got) != 2 or got[0] != shape[0] or got[1] != shape[1]:
        raise ModelError("model arrays file %s has shape %r, the model says %r" % (sp, got, tuple(shape)))
    if not xp.finite(float(xp.np.sum(a))):
        raise ModelError("model arrays file %s holds a non-finite number" % (sp,))
    return a


def _attach(doc, a):
    """Replace sidecar references by views of the loaded array; note the precision
    factors' stack when they are stored in mode order from row 0 (the host's layout), so
    the detector can work in that memory instead of a copy."""
    n = len(doc["features"]["names"])
    contiguous = True
    modes = doc["modes"]
    for i in range(len(modes)):
        m = modes[i]
        for k in _ARRAY_KEYS:
            ref = _ref(m.get(k))
            if ref is None:
                continue
            lo, hi, matrix = ref
            m[k] = a[lo:hi] if matrix else a[lo]
            if k == "prec_chol" and (lo != i * n or hi != (i + 1) * n):
                contiguous = False
    if doc.get("detector") == "mahalanobis" and contiguous and all("prec_chol" in m for m in modes):
        doc["_prec_stack"] = a[0:len(modes) * n]
    doc["_arrays"] = a


def _attach_pixels(doc, a):
    """Pixel-map references -> (24, 32) views of the pixel sidecar; note the mean maps'
    and the scale maps' blocks when each kind is stored contiguously in mode order (the
    writer's layout), so the thermal features work in that memory."""
    modes = doc["modes"]
    firsts = {}
    contiguous = True
    for i in range(len(modes)):
        m = modes[i]
        for k in _PIXEL_KEYS:
            lo, hi, _ = _ref(m.get(k))
            m[k] = a[lo:hi]
            if i == 0:
                firsts[k] = lo
            elif lo != firsts[k] + i * PIXEL_ROWS:
                contiguous = False
    if contiguous:
        n = len(modes) * PIXEL_ROWS
        doc["_pixel_means"] = a[firsts["pixel_mean"]:firsts["pixel_mean"] + n]
        doc["_pixel_scales"] = a[firsts["pixel_scale"]:firsts["pixel_scale"] + n]
    doc["_pixels"] = a
