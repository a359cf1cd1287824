"""The model file: read, validate, checksum and write. Pure Python (no arrays).

One JSON document. The first key is "checksum": "sha256:<hex>", the SHA-256 of the file
bytes with those 64 hex digits replaced by zeros, so the board can verify it while
streaming the file in small chunks and nobody has to agree on a canonical JSON form.
Every problem raises ModelError with a message that names what is wrong.
"""

import json

try:
    import hashlib
except ImportError:  # some MicroPython builds
    hashlib = None
try:
    from binascii import hexlify
except ImportError:
    hexlify = None

SCHEMA = "circuitpython-anomaly-model"
VERSION = 1
SENSORS = ("accel", "scalar")
DETECTORS = ("zscore", "mahalanobis")
_MARK = b'"checksum": "sha256:'
_HEXLEN = 64
_HEAD = 256
INF = float("inf")


class ModelError(ValueError):
    """The model file is missing, unreadable or invalid; the message says why."""


def _sha256():
    if hashlib is None:
        raise ModelError("this board has no hashlib: cannot verify the model checksum")
    if hasattr(hashlib, "sha256"):
        return hashlib.sha256()
    return hashlib.new("sha256")


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
    """Serialise a model dict (checksum placed first and filled in). Returns bytes."""
    body = {"checksum": "sha256:" + "0" * _HEXLEN}
    for k in doc:
        if k != "checksum":
            body[k] = doc[k]
    data = json.dumps(body).encode()
    digest = checksum_of(data)
    return data.replace(_MARK + b"0" * _HEXLEN, _MARK + digest.encode(), 1)


def loads(data):
    """Parse, verify and validate model bytes; returns the model dict."""
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
    validate(doc)
    return doc


def load(path, chunk=512):
    """Read a model file, verifying the checksum in chunks so a board never holds the
    whole text and the parsed document at once."""
    try:
        f = open(path, "rb")
    except OSError:
        raise ModelError("model file not found: %s" % (path,))
    try:
        head = f.read(_HEAD)
        if not head:
            raise ModelError("model file is empty: %s" % (path,))
        claimed, zeroed = _split_head(head)
        h = _sha256()
        h.update(zeroed)
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
        if _hex(h.digest()) != claimed:
            raise ModelError("checksum mismatch in %s: the file was changed or cut short" % (path,))
        f.seek(0)
        try:
            doc = json.load(f)
        except ValueError as e:
            raise ModelError("model file is not valid JSON: %s (%s)" % (path, e))
    finally:
        f.close()
    validate(doc)
    return doc


# ---- validation -------------------------------------------------------------------

def _finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v != INF and v != -INF


def _need(cond, msg):
    if not cond:
        raise ModelError(msg)


def _vector(v, n, what, positive=False):
    _need(isinstance(v, list), "%s must be a list" % what)
    _need(len(v) == n, "%s has %d values, expected %d" % (what, len(v), n))
    for j in range(n):
        _need(_finite(v[j]), "%s[%d] is not a finite number: %r" % (what, j, v[j]))
        if positive:
            _need(v[j] > 0, "%s[%d] must be > 0, got %r" % (what, j, v[j]))


def _check_precision(m, n, what):
    _need(isinstance(m, list) and len(m) == n, "%s must be a %dx%d matrix" % (what, n, n))
    for i in range(n):
        _vector(m[i], n, "%s row %d" % (what, i))
    big = 0.0
    for i in range(n):
        for j in range(n):
            a = abs(m[i][j])
            if a > big:
                big = a
    tol = 1e-5 * big + 1e-12
    for i in range(n):
        for j in range(i + 1, n):
            _need(abs(m[i][j] - m[j][i]) <= tol,
                  "%s is not symmetric at [%d][%d]: %r vs %r" % (what, i, j, m[i][j], m[j][i]))
    # Cholesky in plain Python: a non-positive pivot means not positive definite.
    L = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = m[i][j]
            Li = L[i]
            Lj = L[j]
            for k in range(j):
                s -= Li[k] * Lj[k]
            if i == j:
                _need(s > 0, "%s is not positive definite (pivot %d is %r)" % (what, i, s))
                Li[i] = s ** 0.5
            else:
                Li[j] = s / Lj[j]


def validate(doc):
    """Check a parsed model dict; raises ModelError naming the first problem."""
    _need(isinstance(doc, dict), "model must be a JSON object")
    _need(doc.get("schema") == SCHEMA, "unknown schema %r (expected %r)" % (doc.get("schema"), SCHEMA))
    _need(doc.get("version") == VERSION, "unsupported schema version %r (this code reads %d)" % (doc.get("version"), VERSION))
    sensor = doc.get("sensor")
    _need(sensor in SENSORS, "unknown sensor %r" % (sensor,))
    feats = doc.get("features")
    _need(isinstance(feats, dict), "features recipe missing")
    _need(feats.get("kind") == sensor, "features kind %r does not match sensor %r" % (feats.get("kind"), sensor))
    w = feats.get("window")
    _need(isinstance(w, int) and w >= 1, "features.window must be a positive integer")
    _need(_finite(feats.get("rate")) and feats.get("rate") > 0, "features.rate must be > 0")
    names = feats.get("names")
    _need(isinstance(names, list) and len(names) > 0, "features.names missing")
    for nm in names:
        _need(isinstance(nm, str), "feature names must be strings")
    n = len(names)
    det = doc.get("detector")
    _need(det in DETECTORS, "unknown detector %r" % (det,))
    fa = doc.get("fa_rate")
    _need(_finite(fa) and 0 < fa < 1, "fa_rate must be between 0 and 1, got %r" % (fa,))
    modes = doc.get("modes")
    _need(isinstance(modes, list) and len(modes) > 0, "model has no modes")
    seen = []
    for idx in range(len(modes)):
        m = modes[idx]
        _need(isinstance(m, dict), "mode %d must be an object" % idx)
        name = m.get("name")
        _need(isinstance(name, str) and name, "mode %d has no name" % idx)
        _need(name not in seen, "duplicate mode name %r" % name)
        seen.append(name)
        what = "mode %r" % name
        _vector(m.get("mean"), n, what + " mean")
        _vector(m.get("scale"), n, what + " scale", positive=True)
        t = m.get("threshold")
        _need(_finite(t) and t > 0, "%s threshold must be a finite number > 0, got %r" % (what, t))
        dm = m.get("drift_margin", 1.0)
        _need(_finite(dm) and dm >= 1.0, "%s drift_margin must be a number >= 1, got %r" % (what, dm))
        if det == "mahalanobis":
            _check_precision(m.get("inv_cov"), n, what + " inv_cov")
    dec = doc.get("decision", {})
    _need(isinstance(dec, dict), "decision settings must be an object")
    k = dec.get("k", 3)
    nn = dec.get("n", 5)
    _need(isinstance(k, int) and isinstance(nn, int) and 1 <= k <= nn, "decision needs integers 1 <= k <= n")
    on = dec.get("on", 1.0)
    off = dec.get("off", 0.8)
    _need(_finite(on) and _finite(off) and 0 < off <= on, "decision needs 0 < off <= on")
    cd = dec.get("cooldown", 0)
    _need(isinstance(cd, int) and cd >= 0, "decision cooldown must be an integer >= 0")
    return doc
