"""Emulated `ulab.utils` (6.5.3): from_int16_buffer, from_uint16_buffer, from_int32_buffer,
from_uint32_buffer, spectrogram.

As ulab's utils.c: the from_*_buffer functions read a buffer (bytes, bytearray, array)
of little-endian integers, optionally byte-swapped, into a float array: a new one, or the
dense float array passed as `out` (keyword), which must hold at least `count` values.
`spectrogram(re[, im])` is |FFT| of one real signal, or of re + i*im. The `scratchpad=`,
`out=` and `log=` keywords of spectrogram came with ulab 6.5.5 and are NOT on the board.

Costs (ulab.EMU): a new result array r16(4 n) + 80 (estimate); writing into `out` 0
(estimate: argument parsing only), + 16 with byteswap=True (the byte buffer ulab
allocates and does not free); spectrogram 2 * r16(4 n) + 160 (derived from 2208 bytes
measured at n = 256).
"""

import numpy as _np

from . import _emu
from ._emu import EMU as _EMU
from ._emu import r16 as _r16
from .numpy import _plain, _wrap, ndarray
from .numpy import fft as _fft

_F32 = _np.float32


def _from_buffer(kind, buffer, count=-1, offset=0, out=None, byteswap=False):
    try:
        raw = memoryview(buffer).cast("B")
    except TypeError:
        raise TypeError("object with buffer protocol required") from None
    if out is not None:
        if not isinstance(out, ndarray):
            raise TypeError("out must be a float dense array")
        po = _plain(out)
        if po.dtype != _F32 or not po.flags.c_contiguous:
            raise TypeError("out must be a float dense array")
    if len(raw) < offset:
        raise ValueError("offset is too large")
    size = _np.dtype(kind).itemsize
    n = (len(raw) - offset) // size
    if n * size != len(raw) - offset:
        raise ValueError("buffer size must be a multiple of element size")
    if count > 0:
        if n < count:
            raise ValueError("buffer is smaller than requested size")
        n = count
    vals = _np.frombuffer(raw, dtype=_np.dtype(kind).newbyteorder(">" if byteswap else "<"),
                          count=n, offset=offset).astype(_F32)
    extra = 16 if byteswap else 0
    if out is None:
        _EMU.charge("from_buffer", _r16(4 * n) + _emu.NEW_ONE_OPERAND + extra, "estimate")
        return _wrap(vals)
    if po.size < n:
        raise ValueError("out array is too small")
    po.reshape(-1)[:n] = vals
    _EMU.charge("from_buffer", extra, "estimate")
    return out


def from_int16_buffer(buffer, *, count=-1, offset=0, out=None, byteswap=False):
    return _from_buffer("i2", buffer, count, offset, out, byteswap)


def from_uint16_buffer(buffer, *, count=-1, offset=0, out=None, byteswap=False):
    return _from_buffer("u2", buffer, count, offset, out, byteswap)


def from_int32_buffer(buffer, *, count=-1, offset=0, out=None, byteswap=False):
    return _from_buffer("i4", buffer, count, offset, out, byteswap)


def from_uint32_buffer(buffer, *, count=-1, offset=0, out=None, byteswap=False):
    return _from_buffer("u4", buffer, count, offset, out, byteswap)


def spectrogram(re, im=None):
    if not isinstance(re, ndarray) or (im is not None and not isinstance(im, ndarray)):
        raise NotImplementedError("spectrogram is defined for ndarrays only")
    p = _plain(re)
    if p.ndim != 1 or (im is not None and _plain(im).ndim != 1):
        raise TypeError("spectrogram is implemented for 1D arrays only")
    n = len(p)
    if n & (n - 1):
        raise ValueError("input array length must be power of 2")
    if im is not None and len(_plain(im)) != n:
        raise TypeError("input arrays are not compatible")
    _EMU._inside += 1
    try:
        r, i = _fft.fft(re, im)
    finally:
        _EMU._inside -= 1
    r, i = _plain(r), _plain(i)
    _EMU.charge("spectrogram", 2 * _r16(4 * n) + (2208 - 2 * _r16(4 * 256)),
                "measured" if n == 256 else "derived")
    return _wrap(_np.sqrt(r * r + i * i).astype(_F32))


def __getattr__(name):
    raise AttributeError("module 'ulab.utils' has no attribute '%s' (not on the board)" % name)
