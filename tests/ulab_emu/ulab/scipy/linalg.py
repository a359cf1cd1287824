"""Emulated `ulab.scipy.linalg`: cho_solve, solve_triangular."""

import numpy as _np

from ..numpy import _costed, _need_array, _wrap

_F32 = _np.float32


def solve_triangular(a, b, lower=False):
    A = _need_array(a).astype(_np.float64)
    B = _need_array(b).astype(_np.float64)
    if _np.any(_np.diag(A) == 0):
        raise ValueError("input matrix is singular")
    T = _np.tril(A) if lower else _np.triu(A)
    return _wrap(_np.linalg.solve(T, B).astype(_F32))


def cho_solve(L, b):
    A = _need_array(L).astype(_np.float64)
    B = _need_array(b).astype(_np.float64)
    y = _np.linalg.solve(_np.tril(A), B)
    return _wrap(_np.linalg.solve(_np.tril(A).T, y).astype(_F32))


solve_triangular = _costed(solve_triangular)  # result array: r16(data) + 80, estimate
cho_solve = _costed(cho_solve)  # result array: r16(data) + 80, estimate


def __getattr__(name):
    raise AttributeError("module 'ulab.scipy.linalg' has no attribute '%s'" % name)
