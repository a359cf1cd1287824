"""Emulated `ulab.scipy.special`: erf, erfc, gamma, gammaln (elementwise, float32)."""

import math as _math

import numpy as _np

from ..numpy import _arrayish, _costed, _obj_float, _wrap


def _vec(fn):
    def f(a):
        if isinstance(a, (int, float)):
            return _obj_float(fn(a))
        p = _arrayish(a)
        return _wrap(_np.array([fn(float(v)) for v in p.reshape(-1)], dtype=_np.float32).reshape(p.shape))

    f.__name__ = fn.__name__
    return f


# costs: the result array, r16(data) + 80 (estimate)
erf = _costed(_vec(_math.erf))
erfc = _costed(_vec(_math.erfc))
gamma = _costed(_vec(_math.gamma))
gammaln = _costed(_vec(_math.lgamma))
