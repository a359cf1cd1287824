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
    _ARRAY_KEYS, _HEAD, _PIXEL_KEYS, _SIDECARS, BANDS, PIXEL_COLS, PIXEL_ROWS, SCHEMA, SIDECAR_MIN, VERSION, ModelError,
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


def load(path, chunk=512, bands=None):
    """Read, verify and validate a model file (and its sidecars). Inline arrays stay
    lists. The arrays sidecar is read row by row straight into the arrays that keep its
    numbers (_read_arrays), so its whole stack is never in memory: mean and scale come back
    as float32 row views of one small array; a mahalanobis model's precision factors
    either as one (n, n) view per mode (bands=1: what the host's tools read and rewrite) or
    cut into `bands` row bands without the zeros left of each band, as doc["_bands"] =
    (edges, blocks), each mode's prec_chol None (what the detector works in place:
    device.detectors.from_model). bands=None: BANDS under ulab (the board), 1 on a host."""
    doc, _ = _read_json(path, chunk)
    validate(doc, arrays=False)
    if "arrays" in doc:
        sp = _check_sidecar(path, doc, chunk)  # the sha256 first: no number is used before
        _read_arrays(doc, sp, bands)
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
    _check_shape(sp, a.shape, shape)
    if not xp.finite(float(xp.np.sum(a))):
        raise ModelError("model arrays file %s holds a non-finite number" % (sp,))
    return a


def _check_shape(sp, got, shape):
    if len(got) != 2 or got[0] != shape[0] or got[1] != shape[1]:
        raise ModelError("model arrays file %s has shape %r, the model says %r" % (sp, tuple(got), tuple(shape)))


def _band_edges(n, bands):
    """First row of each of `bands` row bands of n rows, and n (device.detectors)."""
    k = bands if bands < n else n
    return [n * b // k for b in range(k + 1)]


def _floats(k):
    """An array('f') of k floats in one allocation (a sized iterable: no growing, no
    temporary bytes); the sidecar's reads overwrite every one of them."""
    import array

    return array.array("f", range(k))


def _fill(f, mv, nbytes, sp, r, rows):
    """f.readinto(mv), which must fill it: a shorter sidecar than its header says raises."""
    if f.readinto(mv) != nbytes:
        raise ModelError("model arrays file %s cannot be read as float32 .npy (it ends in row %d of %d)"
                         % (sp, r + 1, rows))


def _sum(buf, a, b):
    """Sum of buf[a:b] as a Python float (an array('f') element read allocates nothing)."""
    s = 0.0
    for c in range(a, b):
        s += buf[c]
    return s


def _npy_field(text, key):
    """The text of `key`'s value in an .npy header dict (up to the next comma)."""
    i = text.find("'%s'" % key)
    if i < 0:
        return None
    i = text.find(":", i) + 1
    j = text.find(",", i)
    return text[i:j if j >= 0 else len(text)].strip()


def _npy_open(sp, shape):
    """(file, rows, cols, offset of the first row) of a sidecar whose .npy header says
    little-endian float32, C order, and the shape the model states; the file is open,
    positioned at the first row."""
    f = _open(sp, "model arrays file")
    why = None
    try:
        head = f.read(10)
        if len(head) < 10 or head[:6] != b"\x93NUMPY":
            why = "no .npy header"
        else:
            hlen = head[8] | head[9] << 8
            start = 10 + hlen
            if head[6] > 1:  # .npy 2.0 and 3.0: a 4-byte header length
                more = f.read(2)
                hlen |= (more[0] << 16 | more[1] << 24) if len(more) == 2 else 1 << 31
                start = 12 + hlen
            text = f.read(hlen) if hlen < 65536 else b""
            if len(text) != hlen:
                why = "its header is cut short"
            else:
                text = text.decode()
                descr = _npy_field(text, "descr")
                if descr not in ("'<f4'", '"<f4"'):
                    why = "dtype %s, not little-endian float32 '<f4'" % (descr,)
                elif _npy_field(text, "fortran_order") != "False":
                    why = "Fortran order, not C order"
                else:
                    i = text.find("(", text.find("'shape'"))
                    j = text.find(")", i)
                    got = tuple(int(v) for v in text[i + 1:j].split(",") if v.strip())
    except (OSError, ValueError, IndexError) as e:
        why = "%s: %s" % (type(e).__name__, e)
    if why is not None:
        f.close()
        raise ModelError("model arrays file %s cannot be read as float32 .npy (%s)" % (sp, why))
    try:
        _check_shape(sp, got, shape)
    except ModelError:
        f.close()
        raise
    return f, got[0], got[1], start


def _read_arrays(doc, sp, bands):
    """Read the arrays sidecar `sp` (its sha256 already checked) row by row into the arrays
    the document keeps -- each mode's mean and scale a row of one small (k, n) array, the
    precision factors in row bands (load) -- and check every number in passing: shapes,
    finiteness (the sum of all numbers), the factors' positive diagonal. One readinto per
    row into a memoryview of the destination: no row of the file is held twice, and the
    float32 values arrive bit for bit (nothing passes through a Python float)."""
    from device import xp

    if xp.np is None:
        raise ModelError("this model keeps its arrays in %s, which needs ulab (or numpy) to read" % (sp,))
    if bands is None:
        bands = BANDS if xp.ULAB else 1
    f, rows, cols, start = _npy_open(sp, doc["arrays"]["shape"])
    try:
        n = len(doc["features"]["names"])
        modes = doc["modes"]
        plan = []  # (first row, mode, key, slot): one destination per referenced array
        nvec = nfac = 0
        for i in range(len(modes)):
            m = modes[i]
            for k in _ARRAY_KEYS:
                ref = _ref(m.get(k))
                if ref is None:
                    continue
                lo, hi, matrix = ref
                what = "mode %r" % (m["name"],)  # messages in modelcheck's words (shared strings)
                if k == "inv_cov":
                    if m.get("prec_chol") is None:
                        raise ModelError("%s inv_cov must be inline (store prec_chol in the arrays file)" % what)
                    m[k] = None  # the factor is what the detector uses
                    continue
                want = (n, n) if k == "prec_chol" else (n,)
                got = (hi - lo, cols) if matrix else (cols,)
                if got != want:
                    raise ModelError("%s has shape %r, expected %r" % ("%s %s" % (what, k), got, want))
                if k == "prec_chol":
                    plan.append((lo, i, k, nfac))
                    nfac += 1
                else:
                    plan.append((lo, i, k, nvec))
                    nvec += 1
        packed = bands > 1 and nfac == len(modes) and doc.get("detector") == "mahalanobis"
        edges = _band_edges(n, bands if packed else 1)
        vbuf = _floats(nvec * n)
        vmv = memoryview(vbuf)
        fbufs = []
        for b in range(len(edges) - 1):
            fbufs.append(_floats(nfac * (edges[b + 1] - edges[b]) * (n - edges[b])))
        fmvs = [memoryview(a) for a in fbufs]
        row = _floats(cols)  # what no array keeps: the zeros left of a band, unused rows
        rmv = memoryview(row)
        skips = [rmv[:e] for e in edges[:-1]]
        width = 4 * cols
        total = 0.0
        bad = None
        for r in range(rows):
            pos = start + r * width
            first = True
            for lo, i, k, slot in plan:
                j = r - lo
                if j < 0 or j >= (n if k == "prec_chol" else 1):
                    continue
                if k == "prec_chol":
                    b = 0
                    while j >= edges[b + 1]:
                        b += 1
                    c0 = edges[b]
                    buf, mv = fbufs[b], fmvs[b]
                    off = (slot * (edges[b + 1] - c0) + j - c0) * (n - c0)
                else:
                    b = c0 = 0
                    buf, mv, off = vbuf, vmv, slot * n
                if not first:  # a second array from this row (the writer never makes one)
                    f.seek(pos + 4 * c0)
                elif c0:  # the zeros left of the band: checked, not kept
                    _fill(f, skips[b], 4 * c0, sp, r, rows)
                    total += _sum(row, 0, c0)
                _fill(f, mv[off:off + cols - c0], 4 * (cols - c0), sp, r, rows)
                if first:
                    total += _sum(buf, off, off + cols - c0)
                else:
                    f.seek(pos + width)
                if k == "prec_chol" and not buf[off + j - c0] > 0 and bad is None:
                    bad = "%s diagonal must be > 0" % ("mode %r" % (modes[i]["name"],) + " prec_chol")
                first = False
            if first:  # a row no array refers to: read to check it all the same
                _fill(f, rmv, width, sp, r, rows)
                total += _sum(row, 0, cols)
            if not xp.finite(total):
                raise ModelError("model arrays file %s holds a non-finite number" % (sp,))
    finally:
        f.close()
    if bad is not None:
        raise ModelError(bad)
    vecs = xp.view(vbuf).reshape((nvec, n)) if nvec else None
    blocks = []
    for b in range(len(fbufs)):
        if nfac:
            blocks.append(xp.view(fbufs[b]).reshape((len(fbufs[b]) // (n - edges[b]), n - edges[b])))
    for lo, i, k, slot in plan:
        m = modes[i]
        if k != "prec_chol":
            m[k] = vecs[slot]
        elif packed:
            m[k] = None
        else:
            m[k] = blocks[0][slot * n:(slot + 1) * n]
    if packed:
        doc["_bands"] = (edges, blocks)
    fbufs.append(vbuf)
    doc["_arrays"] = fbufs  # the memory of the views above, held while the document is


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
