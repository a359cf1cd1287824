"""Emulated `ulab.numpy.linalg`: inv, cholesky, det, eig (symmetric), norm, qr.
No solve/lstsq/pinv/svd/slogdet/matrix_rank on the board."""

import numpy as _np

from . import _costed, _need_array, _obj, _plain, _wrap

_F32 = _np.float32


def _square(a):
    p = _need_array(a).astype(_F32)
    if p.ndim != 2 or p.shape[0] != p.shape[1]:
        raise ValueError("input must be square matrix")
    return p


def inv(a):
    p = _square(a)
    if abs(_np.linalg.det(p.astype(_np.float64))) < 1e-30:
        raise ValueError("input matrix is singular")
    return _wrap(_np.linalg.inv(p))


def cholesky(a):
    p = _square(a)
    if not _np.array_equal(p, p.T):
        raise ValueError("input matrix is asymmetric")
    try:
        return _wrap(_np.linalg.cholesky(p))
    except _np.linalg.LinAlgError:
        raise ValueError("matrix is not positive definite") from None


def det(a):
    return _obj(_np.linalg.det(_square(a)))


def eig(a):
    p = _square(a)
    if not _np.array_equal(p, p.T):
        raise ValueError("input matrix is asymmetric")
    w, v = _np.linalg.eigh(p)
    return _wrap(w), _wrap(v)


def norm(x, axis=None):
    p = _need_array(x).astype(_F32)
    if axis is None:
        return _obj(_np.sqrt(_np.sum(p * p)))
    return _wrap(_np.sqrt(_np.sum(p * p, axis=axis)))


def qr(a, mode="reduced"):
    q, r = _np.linalg.qr(_plain(a).astype(_F32), mode=mode)
    return _wrap(q), _wrap(r)


# costs: the result array(s) (r16(data) + 80 each, +16 per tuple) or 32 for a scalar,
# all estimates (the note has no linalg row)
inv = _costed(inv)
cholesky = _costed(cholesky)
det = _costed(det)
eig = _costed(eig)
norm = _costed(norm)
qr = _costed(qr)


def __getattr__(name):
    raise AttributeError("module 'ulab.numpy.linalg' has no attribute '%s' (not on the board)" % name)
