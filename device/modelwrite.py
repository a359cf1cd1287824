"""Write a model file: the JSON and, for big models, its float32 .npy sidecar.

Pure Python (struct, array, hashlib): the host's `train` writes models with it and the
board bench can write one on a board too, without numpy. Kept apart from device.model so
the board's app never loads this code into its heap. Format: see device/modelformat.py.
"""

import array
import json
import os

from device import model as model_mod


def _rows(v):
    """An array-like (list, nested list, NumPy/ulab array) as a list of float rows."""
    if hasattr(v, "tolist"):
        v = v.tolist()
    if v and not isinstance(v[0], list):
        return [[float(x) for x in v]]
    return [[float(x) for x in r] for r in v]


def cholesky_upper(p):
    """U (upper triangular) with P = U^T U, for a symmetric positive definite P given as
    rows (float64 on the host). Raises ValueError if P is not positive definite."""
    n = len(p)
    L = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = (p[i][j] + p[j][i]) / 2.0
            for k in range(j):
                s -= L[i][k] * L[j][k]
            if i == j:
                if not s > 0:
                    raise ValueError("precision matrix is not positive definite (pivot %d)" % i)
                L[i][i] = s ** 0.5
            else:
                L[i][j] = s / L[j][j]
    return [[L[j][i] for j in range(n)] for i in range(n)]


def npy_header(r, c):
    """The header of a float32 C-order .npy (format 1.0) of shape (r, c)."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (r, c)
    pad = 64 - (10 + len(header) + 1) % 64
    header = header + " " * (pad % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + bytes([len(header) & 0xFF, len(header) >> 8]) + header.encode()


def _row_bytes(row):
    data = array.array("f", row)
    if _big_endian():
        data.byteswap()
    return bytes(data)


def npy_bytes(rows):
    """A float32 C-order .npy (format 1.0) of a list of equal-length rows."""
    out = [npy_header(len(rows), len(rows[0]) if rows else 0)]
    for row in rows:
        out.append(_row_bytes(row))
    return b"".join(out)


def _write_npy(path, rows):
    """Stream rows into a .npy file (row by row: a board never holds the whole file)
    and return the sha256 hex of what was written."""
    h = model_mod._sha256()

    def put(f):
        head = npy_header(len(rows), len(rows[0]))
        f.write(head)
        h.update(head)
        for row in rows:
            b = _row_bytes(row)
            f.write(b)
            h.update(b)

    _atomic_write(path, put)
    return model_mod._hex(h.digest())


def _big_endian():
    a = array.array("H", [1])
    return bytes(a)[0] == 0


def _g8(v):
    return float("%.8g" % v)


def save(path, doc, sidecar=None):
    """Write `doc` to `path` (and `<stem>.npy` beside it when its arrays are big or
    sidecar=True). Mahalanobis modes given with `inv_cov` are stored as the factor
    `prec_chol` that the board uses. Each file goes to a temporary name and is renamed,
    sidecar first, so a reader never sees half a model. Returns the paths written."""
    n = len(doc["features"]["names"])
    mahal = doc.get("detector") == "mahalanobis"
    modes = []
    for m in doc["modes"]:
        m = dict(m)
        if mahal:
            if m.get("prec_chol") is None:
                m["prec_chol"] = cholesky_upper(_rows(m.pop("inv_cov")))
            else:
                m.pop("inv_cov", None)
        modes.append(m)
    keys = (["prec_chol"] if mahal else []) + ["mean", "scale"]
    total = 0
    for m in modes:
        for k in keys:
            m[k] = _rows(m[k])
            total += len(m[k]) * len(m[k][0])
    if sidecar is None:
        sidecar = total > model_mod.SIDECAR_MIN
    body = {}
    for k in doc:
        if k not in ("checksum", "arrays") and not k.startswith("_"):
            body[k] = doc[k]
    body["modes"] = modes
    body["version"] = model_mod.VERSION
    folder, base = _split(path)
    stem = base[:-5] if base.lower().endswith(".json") else base
    npy_path = folder + stem + ".npy"
    written = []
    body.pop("pixels", None)
    if any(m.get("pixel_mean") is not None for m in modes):
        # per-pixel maps: always a sidecar of their own, rows of 32 (see device/modelformat.py)
        rows = []
        for k in model_mod._PIXEL_KEYS:  # all means, then all scales: one block each
            for m in modes:
                block = _rows(m[k])
                if len(block) * len(block[0]) != model_mod.PIXEL_ROWS * model_mod.PIXEL_COLS:
                    raise ValueError("mode %r %s is not a 24 x 32 map" % (m.get("name"), k))
                if len(block) != model_mod.PIXEL_ROWS:
                    flat = block[0]
                    c = model_mod.PIXEL_COLS
                    block = [flat[r * c:(r + 1) * c] for r in range(model_mod.PIXEL_ROWS)]
                m[k] = {"rows": [len(rows), len(rows) + len(block)]}
                rows.extend(block)
        px_path = folder + stem + ".pixels.npy"
        digest = _write_npy(px_path, rows)
        body["pixels"] = {"file": stem + ".pixels.npy", "sha256": digest,
                          "shape": [len(rows), model_mod.PIXEL_COLS]}
        written.append(px_path)
    if sidecar:
        rows = []
        for k in keys:  # precision factors first, in mode order: the detector's stack
            for m in modes:
                block = m[k]
                if k == "prec_chol":
                    m[k] = {"rows": [len(rows), len(rows) + len(block)]}
                else:
                    m[k] = {"row": len(rows)}
                rows.extend(block)
        digest = _write_npy(npy_path, rows)
        body["arrays"] = {"file": stem + ".npy", "sha256": digest, "shape": [len(rows), n]}
        written.append(npy_path)
    else:
        for m in modes:
            for k in keys:
                m[k] = [[_g8(v) for v in r] for r in m[k]]
                if k != "prec_chol":
                    m[k] = m[k][0]
    model_mod.validate(body, arrays=False)
    _atomic_write(path, model_mod.dumps(body))
    written.append(path)
    if not sidecar:
        try:  # a stale sidecar of an earlier, bigger model would only confuse
            os.remove(npy_path)
        except OSError:
            pass
    return written


def _split(path):
    i = path.rfind("/")
    return (path[:i + 1], path[i + 1:]) if i >= 0 else ("", path)


def _atomic_write(path, data):
    """Write bytes (or call data(f)) to a temporary name, then rename over path."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            if hasattr(os, "fsync"):
                os.fsync(f.fileno())
        if hasattr(os, "replace"):
            os.replace(tmp, path)
        else:  # MicroPython: rename does not overwrite everywhere
            try:
                os.remove(path)
            except OSError:
                pass
            os.rename(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
