"""Emulated `ulab.numpy.fft`: `fft` and `ifft` only, complex support off.

Returns a tuple (real, imag) of float arrays, like CircuitPython's build. The transform is
ulab's own kernel (fft_tools.c: Numerical Recipes `four1`, radix 2, twiddles by
recurrence) evaluated in float32, so rounding errors are of the board's size.
"""

import numpy as _np

from .. import _emu
from .._emu import r16 as _r16
from . import _costed, _plain, _wrap, ndarray

_F32 = _np.float32


def _twiddles(mmax, isign):
    """The (wr, wi) sequence of one stage, by the kernel's float32 recurrence."""
    theta = _F32(-2.0) * _F32(isign) * _F32(_np.pi) / _F32(2 * mmax)
    wtemp = _np.sin(_F32(0.5) * theta)
    wpr = _F32(-2.0) * wtemp * wtemp
    wpi = _np.sin(theta)
    wr, wi = _F32(1.0), _F32(0.0)
    out_r = _np.empty(mmax, _F32)
    out_i = _np.empty(mmax, _F32)
    for m in range(mmax):
        out_r[m] = wr
        out_i[m] = wi
        wtemp = wr
        wr = wr * wpr - wi * wpi + wr
        wi = wi * wpr + wtemp * wpi + wi
    return out_r, out_i


_cache = {}


def _kernel(re, im, isign):
    n = len(re)
    # bit reversal permutation, as the kernel's swap loop produces it
    bits = n.bit_length() - 1
    idx = _np.arange(n)
    rev = _np.zeros(n, dtype=_np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    re = re[rev].copy()
    im = im[rev].copy()
    mmax = 1
    while n > mmax:
        istep = 2 * mmax
        key = (mmax, isign)
        if key not in _cache:
            _cache[key] = _twiddles(mmax, isign)
        wr, wi = _cache[key]
        r2 = re.reshape(n // istep, istep)
        i2 = im.reshape(n // istep, istep)
        rj, ij = r2[:, mmax:], i2[:, mmax:]
        tempr = wr * rj - wi * ij
        tempi = wr * ij + wi * rj
        r2[:, mmax:] = r2[:, :mmax] - tempr
        i2[:, mmax:] = i2[:, :mmax] - tempi
        r2[:, :mmax] += tempr
        i2[:, :mmax] += tempi
        mmax = istep
    return re, im


def _args(re, im):
    if not isinstance(re, ndarray) or (im is not None and not isinstance(im, ndarray)):
        raise NotImplementedError("FFT is defined for ndarrays only")
    r = _plain(re)
    if r.ndim != 1:
        raise TypeError("FFT is implemented for linear arrays only")
    n = len(r)
    if n & (n - 1) != 0 or n == 0:
        raise ValueError("input array length must be power of 2")
    r = r.astype(_F32)
    if im is None:
        i = _np.zeros(n, _F32)
    else:
        i = _plain(im)
        if i.ndim != 1:
            raise TypeError("FFT is implemented for linear arrays only")
        if len(i) != n:
            raise ValueError("real and imaginary parts must be of equal length")
        i = i.astype(_F32)
    return r, i


def fft(re, im=None):
    r, i = _kernel(*_args(re, im), isign=1)
    return _wrap(r), _wrap(i)


def ifft(re, im=None):
    r, i = _kernel(*_args(re, im), isign=-1)
    n = _F32(len(r))
    return _wrap(r / n), _wrap(i / n)


def _fft_cost(r, args):
    """Two result arrays + the tuple + fixed overhead: 2 * r16(4 n) + 176 (2224 at n = 256,
    measured; other sizes derived)."""
    n = len(_plain(r[0]))
    return 2 * _r16(4 * n) + _emu.FFT_FIXED, "measured" if n == 256 else "derived"


fft = _costed(fft, _fft_cost)
ifft = _costed(ifft, _fft_cost)


def __getattr__(name):
    raise AttributeError("module 'ulab.numpy.fft' has no attribute '%s' (not on the board)" % name)
