"""The model file: read, validate and checksum (writing: device/modelwrite.py, which
imports this module; nothing here imports it back).

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

Every problem raises ModelError with a message that names what is wrong. Validation
formats a message only when something is wrong: on a board every string costs heap.
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


# ---- validation -------------------------------------------------------------------

def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v != INF and v != -INF


def _fail(msg):
    raise ModelError(msg)


def _vector(v, n, what, positive=False):
    if not isinstance(v, list):
        _fail("%s must be a list" % what)
    if len(v) != n:
        _fail("%s has %d values, expected %d" % (what, len(v), n))
    for j in range(n):
        x = v[j]
        if not _finite(x):
            _fail("%s[%d] is not a finite number: %r" % (what, j, x))
        if positive and x <= 0:
            _fail("%s[%d] must be > 0, got %r" % (what, j, x))


def _matrix(m, n, what):
    if not (isinstance(m, list) and len(m) == n):
        _fail("%s must be a %dx%d matrix" % (what, n, n))
    for i in range(n):
        row = m[i]
        if not isinstance(row, list) or len(row) != n:
            _vector(row, n, "%s row %d" % (what, i))
        for j in range(n):
            if not _finite(row[j]):
                _vector(row, n, "%s row %d" % (what, i))


def _check_precision(m, n, what):
    """Symmetric and positive definite (pure Python Cholesky: inline models only)."""
    _matrix(m, n, what)
    big = 0.0
    for i in range(n):
        for j in range(n):
            a = abs(m[i][j])
            if a > big:
                big = a
    tol = 1e-5 * big + 1e-12
    for i in range(n):
        for j in range(i + 1, n):
            if abs(m[i][j] - m[j][i]) > tol:
                _fail("%s is not symmetric at [%d][%d]: %r vs %r" % (what, i, j, m[i][j], m[j][i]))
    L = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = m[i][j]
            Li = L[i]
            Lj = L[j]
            for k in range(j):
                s -= Li[k] * Lj[k]
            if i == j:
                if not s > 0:
                    _fail("%s is not positive definite (pivot %d is %r)" % (what, i, s))
                Li[i] = s ** 0.5
            else:
                Li[j] = s / Lj[j]


def _check_factor(m, n, what):
    """An upper-triangular factor with a positive diagonal: P = U^T U is then positive
    definite by construction."""
    _matrix(m, n, what)
    for i in range(n):
        if not m[i][i] > 0:
            _fail("%s diagonal [%d] must be > 0, got %r" % (what, i, m[i][i]))
        for j in range(i):
            if m[i][j] != 0:
                _fail("%s must be upper triangular: [%d][%d] is %r" % (what, i, j, m[i][j]))


def _check_array(a, shape, what, positive=False, diag=False):
    """Shape and (for scales / factors) positivity of a sidecar view."""
    from device import xp

    np = xp.np
    got = a.shape
    if got != shape:
        _fail("%s has shape %r, expected %r" % (what, got, shape))
    if positive and not float(np.min(a)) > 0:
        _fail("%s must be > 0 everywhere" % what)
    if diag and not float(np.min(np.diag(a))) > 0:
        _fail("%s diagonal must be > 0" % what)


def validate(doc, arrays=True):
    """Check a parsed model dict; raises ModelError naming the first problem. With
    arrays=False the mode arrays are left for validate_arrays (after the sidecar is
    attached)."""
    if not isinstance(doc, dict):
        _fail("model must be a JSON object")
    if doc.get("schema") != SCHEMA:
        _fail("unknown schema %r (expected %r)" % (doc.get("schema"), SCHEMA))
    if doc.get("version") not in READS:
        _fail("unsupported schema version %r (this code reads %s)" % (doc.get("version"), ", ".join(str(v) for v in READS)))
    sensor = doc.get("sensor")
    if sensor not in SENSORS:
        _fail("unknown sensor %r" % (sensor,))
    feats = doc.get("features")
    if not isinstance(feats, dict):
        _fail("features recipe missing")
    if feats.get("kind") != sensor:
        _fail("features kind %r does not match sensor %r" % (feats.get("kind"), sensor))
    w = feats.get("window")
    if not (isinstance(w, int) and not isinstance(w, bool) and w >= 1):
        _fail("features.window must be a positive integer")
    if not (_finite(feats.get("rate")) and feats.get("rate") > 0):
        _fail("features.rate must be > 0")
    names = feats.get("names")
    if not (isinstance(names, list) and len(names) > 0):
        _fail("features.names missing")
    for nm in names:
        if not isinstance(nm, str):
            _fail("feature names must be strings")
    det = doc.get("detector")
    if det not in DETECTORS:
        _fail("unknown detector %r" % (det,))
    fa = doc.get("fa_rate")
    if not (_finite(fa) and 0 < fa < 1):
        _fail("fa_rate must be between 0 and 1, got %r" % (fa,))
    arr = doc.get("arrays")
    if arr is not None:
        if not (isinstance(arr, dict) and isinstance(arr.get("file"), str) and arr["file"]
                and "/" not in arr["file"] and isinstance(arr.get("sha256"), str)
                and len(arr["sha256"]) == _HEXLEN and isinstance(arr.get("shape"), list)
                and len(arr["shape"]) == 2):
            _fail("arrays must name a file beside the model, its sha256 and its shape [rows, cols]")
    pix = doc.get("pixels")
    if sensor == "thermal":
        _check_thermal_recipe(feats)
        if not (isinstance(pix, dict) and isinstance(pix.get("file"), str) and pix["file"]
                and "/" not in pix["file"] and isinstance(pix.get("sha256"), str)
                and len(pix["sha256"]) == _HEXLEN and isinstance(pix.get("shape"), list)
                and len(pix["shape"]) == 2 and pix["shape"][1] == PIXEL_COLS):
            _fail("a thermal model needs pixels: a file beside the model, its sha256 and its shape [rows, 32]")
    modes = doc.get("modes")
    if not (isinstance(modes, list) and len(modes) > 0):
        _fail("model has no modes")
    seen = []
    for idx in range(len(modes)):
        m = modes[idx]
        if not isinstance(m, dict):
            _fail("mode %d must be an object" % idx)
        name = m.get("name")
        if not (isinstance(name, str) and name):
            _fail("mode %d has no name" % idx)
        if name in seen:
            _fail("duplicate mode name %r" % name)
        seen.append(name)
        t = m.get("threshold")
        if not (_finite(t) and t > 0):
            _fail("mode %r threshold must be a finite number > 0, got %r" % (name, t))
        dm = m.get("drift_margin", 1.0)
        if not (_finite(dm) and dm >= 1.0):
            _fail("mode %r drift_margin must be a number >= 1, got %r" % (name, dm))
        al = m.get("axis_limit")
        if al is not None and not (_finite(al) and al > 0):
            _fail("mode %r axis_limit must be a number > 0, got %r" % (name, al))
        fs = m.get("fa_supported")
        if fs is not None and not (_finite(fs) and 0 < fs <= 1):
            _fail("mode %r fa_supported must be in (0, 1], got %r" % (name, fs))
        for k in _ARRAY_KEYS:
            ref = _ref(m.get(k))
            if ref is not None:
                if arr is None:
                    _fail("mode %r %s refers to an arrays file, but the model names none" % (name, k))
                lo, hi, _ = ref
                if not (0 <= lo < hi <= arr["shape"][0]):
                    _fail("mode %r %s refers to rows outside the arrays file" % (name, k))
        if sensor == "thermal":
            for k in _PIXEL_KEYS:
                ref = _ref(m.get(k))
                if ref is None or not ref[2]:
                    _fail("mode %r %s must refer to 24 rows of the pixels file" % (name, k))
                lo, hi, _ = ref
                if not (0 <= lo and hi - lo == PIXEL_ROWS and hi <= pix["shape"][0]):
                    _fail("mode %r %s must refer to 24 rows of the pixels file" % (name, k))
        if det == "mahalanobis" and m.get("prec_chol") is None and m.get("inv_cov") is None:
            _fail("mode %r needs prec_chol (or inv_cov) for a mahalanobis detector" % (name,))
    if det == "adaptive":
        _check_adaptive(doc, len(modes))
    dec = doc.get("decision", {})
    if not isinstance(dec, dict):
        _fail("decision settings must be an object")
    k = dec.get("k", 3)
    nn = dec.get("n", 5)
    if not (isinstance(k, int) and isinstance(nn, int) and 1 <= k <= nn):
        _fail("decision needs integers 1 <= k <= n")
    on = dec.get("on", 1.0)
    off = dec.get("off", 0.8)
    if not (_finite(on) and _finite(off) and 0 < off <= on):
        _fail("decision needs 0 < off <= on")
    cd = dec.get("cooldown", 0)
    if not (isinstance(cd, int) and cd >= 0):
        _fail("decision cooldown must be an integer >= 0")
    if arrays:
        validate_arrays(doc)
    return doc


_ADAPTIVE = (("tau", 1.0), ("spread_tau", 1.0), ("profile_tau", 0.0), ("floor", 0.0))


def _check_adaptive(doc, n_modes):
    """The adaptive detector's parameters (device.adaptive): time constants in windows."""
    if n_modes != 1:
        _fail("an adaptive detector has exactly one mode, the model has %d" % n_modes)
    p = doc.get("adaptive")
    if not isinstance(p, dict):
        _fail("an adaptive detector needs its 'adaptive' parameters (tau, ...)")
    for k, lo in _ADAPTIVE:
        v = p.get(k, lo + 1.0)
        if not (_finite(v) and v >= lo):
            _fail("adaptive.%s must be a number >= %g, got %r" % (k, lo, v))
    for k in ("cycle", "slots", "warmup"):
        v = p.get(k, 0)
        if not (isinstance(v, int) and not isinstance(v, bool) and v >= 0):
            _fail("adaptive.%s must be an integer >= 0, got %r" % (k, v))
    if p.get("slots", 0) > 0 and p.get("slots", 0) > p.get("cycle", 0):
        _fail("adaptive.slots (%r) must not exceed adaptive.cycle (%r windows)" % (p.get("slots"), p.get("cycle")))
    if p.get("day_types"):
        wd = p.get("off_weekdays", [5, 6])
        if not (isinstance(wd, list) and all(isinstance(v, int) and 0 <= v <= 6 for v in wd)):
            _fail("adaptive.off_weekdays must be a list of weekdays 0 (Monday) .. 6, got %r" % (wd,))
        hol = p.get("holidays", [])
        if not (isinstance(hol, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in hol)):
            _fail("adaptive.holidays must be a list of days since 1970-01-01 (integers)")
        for k in ("day0", "phase0"):
            v = p.get(k)
            if v is not None and not (isinstance(v, int) and not isinstance(v, bool)):
                _fail("adaptive.%s must be an integer, got %r" % (k, v))


def _grid(lines, what):
    """24 strings of 32 characters, each '#' or '.' (a thermal mask / reference grid)."""
    if not (isinstance(lines, list) and len(lines) == PIXEL_ROWS):
        _fail("%s must be a list of %d strings" % (what, PIXEL_ROWS))
    for r in range(PIXEL_ROWS):
        s = lines[r]
        if not (isinstance(s, str) and len(s) == PIXEL_COLS):
            _fail("%s row %d must be a string of %d characters" % (what, r, PIXEL_COLS))
        for ch in s:
            if ch != "#" and ch != ".":
                _fail("%s row %d: %r is not '#' or '.'" % (what, r, ch))


def _check_thermal_recipe(feats):
    if feats.get("rows", PIXEL_ROWS) != PIXEL_ROWS or feats.get("cols", PIXEL_COLS) != PIXEL_COLS:
        _fail("thermal features must be 24 x 32 frames")
    if feats.get("window") != 1:
        _fail("thermal features.window must be 1 (one frame per window)")
    for k in ("z_hot", "min_excess"):
        v = feats.get(k, 1.0)
        if not (_finite(v) and v >= 0):
            _fail("thermal features.%s must be a number >= 0, got %r" % (k, v))
    for k in ("mask", "reference"):
        if feats.get(k) is not None:
            _grid(feats[k], "thermal features." + k)
    mask = feats.get("mask")
    if mask is not None and all(row == "#" * PIXEL_COLS for row in mask):
        _fail("thermal features.mask allows heat everywhere: nothing left to watch")


def validate_arrays(doc):
    """Shapes and values of every mode's arrays (inline lists or sidecar views)."""
    n = len(doc["features"]["names"])
    det = doc["detector"]
    thermal = doc.get("sensor") == "thermal"
    for m in doc["modes"]:
        what = "mode %r" % m["name"]
        if thermal:
            for k in _PIXEL_KEYS:
                v = m.get(k)
                if not hasattr(v, "shape"):
                    _fail("%s %s must be a (24, 32) map from the pixels file" % (what, k))
                _check_array(v, (PIXEL_ROWS, PIXEL_COLS), "%s %s" % (what, k), k == "pixel_scale")
        for k, positive in (("mean", False), ("scale", True)):
            v = m.get(k)
            if not hasattr(v, "shape"):
                _vector(v, n, "%s %s" % (what, k), positive)
            else:
                _check_array(v, (n,), "%s %s" % (what, k), positive)
        if det != "mahalanobis":
            continue
        u = m.get("prec_chol")
        if u is None:
            p = m.get("inv_cov")
            if not hasattr(p, "shape"):
                _check_precision(p, n, what + " inv_cov")
            else:
                _fail("%s inv_cov must be inline (store prec_chol in the arrays file)" % what)
        elif not hasattr(u, "shape"):
            _check_factor(u, n, what + " prec_chol")
        else:
            _check_array(u, (n, n), what + " prec_chol", diag=True)
    return doc
