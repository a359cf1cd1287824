"""The model document's checks: structure (validate) and arrays (validate_arrays), each
problem a ModelError naming what is wrong (the format: device/modelformat.py).

Messages are formatted only when something is wrong: on a board every string costs heap.
The board needs this module while it loads the model only; the wiring drops it after."""

from device.modelformat import (
    _ARRAY_KEYS, _HEXLEN, _PIXEL_KEYS, DETECTORS, INF, PIXEL_COLS, PIXEL_ROWS, READS, SCHEMA, SENSORS,
    ModelError, _ref,
)


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
        if u is None and doc.get("_bands") is not None:
            continue  # read into the detector's row bands; the loader checked the diagonal
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
