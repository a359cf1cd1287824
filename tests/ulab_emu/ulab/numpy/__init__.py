"""Emulated `ulab.numpy` (ulab 6.5.3 as configured by CircuitPython on the ESP32-S3).

The public names of this module are exactly the board's API surface as listed in the
project's ulab fact sheet (API_NAMES below); anything else raises AttributeError, as on
the board. Arrays are an ndarray subclass that refuses NumPy-only methods/properties
(`astype`, `ndim`, `mean()`, `real`, ...), the `@` and `%` operators, fancy indexing and
more than two dimensions. Internals use real NumPy on plain views.

Every public function, operator, index and method also charges the bytes the board would
allocate for it to `ulab.EMU` (see ulab/_emu.py for the table and the formulas) and counts
element-wise stores and reads; none of that adds a public name to this module.
"""

import builtins as _b
import math as _math
import struct as _struct

import numpy as _np

from .. import _emu
from .._emu import EMU as _EMU
from .._emu import r16 as _r16

# ---- dtype codes (ulab has no dtype objects: a dtype is a small int) ------------------
_CODE_TO_NP = {
    ord("?"): _np.bool_,
    ord("B"): _np.uint8,
    ord("b"): _np.int8,
    ord("H"): _np.uint16,
    ord("h"): _np.int16,
    ord("f"): _np.float32,
}
_NP_TO_CODE = {_np.dtype(v): k for k, v in _CODE_TO_NP.items()}
_F32 = _np.float32

# The names the board's ulab.numpy has (fact sheet: "What is available").
API_NAMES = frozenset("""
array asarray frombuffer arange linspace logspace zeros ones empty full eye diag concatenate
mean std median sum min max argmin argmax sort argsort diff flip roll trace dot cross
convolve interp trapz polyfit polyval compress delete size all any clip where nonzero
equal not_equal maximum minimum isfinite isinf
bitwise_and bitwise_or bitwise_xor left_shift right_shift
sqrt exp expm1 log log2 log10 sin cos tan arcsin arccos arctan sinh cosh tanh
arcsinh arccosh arctanh arctan2 around ceil floor degrees radians sinc
vectorize load save loadtxt savetxt set_printoptions get_printoptions ndinfo
pi e inf nan
bool uint8 int8 uint16 int16 float
ndarray fft linalg
""".split())

# ndarray attributes the board has (fact sheet: "ndarray methods/properties").
ARRAY_ATTRS = frozenset("""
shape size itemsize strides dtype T transpose reshape flatten flat copy sort tolist
tobytes byteswap
""".split())


# ---- CircuitPython float objects -----------------------------------------------------
def _obj_float(v):
    """A Python float as CircuitPython stores it (object representation C): float32 with
    the two lowest mantissa bits dropped."""
    v = _b.float(v)
    if v != v or v in (_math.inf, -_math.inf):
        return v
    try:
        bits = _struct.unpack("<I", _struct.pack("<f", v))[0]
    except OverflowError:
        return _math.copysign(_math.inf, v)
    return _struct.unpack("<f", _struct.pack("<I", bits & 0xFFFFFFFC))[0]


def _obj(v):
    """NumPy scalar -> the Python object the board would hand back."""
    if isinstance(v, (_np.bool_, _b.bool)):
        return _b.bool(v)
    if isinstance(v, (_np.integer, _b.int)):
        return _b.int(v)
    return _obj_float(v)


# ---- the array type ------------------------------------------------------------------
def _plain(a):
    """A plain NumPy view of an emulated array (or the object itself)."""
    if isinstance(a, ndarray):
        return _np.ndarray.view(a, _np.ndarray)
    return a


def _track(arr, view):
    """Register a new emulated array with the board bytes it holds while alive."""
    if isinstance(arr, ndarray):
        p = _plain(arr)
        _EMU.track(arr, _emu.HEADER if view else _emu.HEADER + _r16(p.nbytes))
    return arr


def _wrap(r, view=False):
    """NumPy result -> emulated array (float32/int16/... only, <= 2 dims) or scalar.
    `view`: the result shares the memory of an existing array (held bytes: header only)."""
    if isinstance(r, _np.ndarray):
        if r.ndim == 0:
            return _obj(r[()])
        if r.ndim > 2:
            raise TypeError("too many dimensions")
        dt = r.dtype
        if dt not in _NP_TO_CODE:
            if dt.kind == "f":
                r = r.astype(_F32)
            elif dt.kind == "b":
                r = r.astype(_np.bool_)
            elif dt.kind in "iu":
                r = r.astype(_np.int16 if dt.kind == "i" else _np.uint16)
            else:
                raise TypeError("dtype %s does not exist on the board" % dt)
            view = False
        return _track(_np.ndarray.view(r, ndarray), view)
    if isinstance(r, (_np.generic, _b.float, _b.int, _b.bool)):
        return _obj(r)
    return r


def _check_index(index, ndim):
    """ulab indexing: ints, slices, tuples of them; a boolean mask only on 1-D arrays."""
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if isinstance(p, (_b.int, slice)) and not isinstance(p, _b.bool):
            continue
        if isinstance(p, _np.integer):
            continue
        if isinstance(p, ndarray) and _np.ndarray.view(p, _np.ndarray).dtype == _np.bool_:
            if ndim != 1 or len(parts) != 1:
                raise NotImplementedError("boolean masks are supported on 1-D arrays only")
            continue
        if p is Ellipsis or p is None:
            raise TypeError("wrong index type")
        raise TypeError("wrong index type (no integer-array indexing on the board)")


def _index_kind(index, ndim):
    """("elem" | "view" | "mask", whether the index holds a slice object)."""
    parts = index if isinstance(index, tuple) else (index,)
    if len(parts) == 1 and isinstance(parts[0], ndarray):
        return "mask", False
    has_slice = False
    for p in parts:
        if isinstance(p, slice):
            has_slice = True
    if not has_slice and len(parts) == ndim:
        return "elem", False
    return "view", has_slice


def _new_bytes(p):
    """Board bytes of a new array from a one-operand operation (see _emu.py)."""
    return _r16(p.nbytes) + _emu.NEW_ONE_OPERAND


class ndarray(_np.ndarray):  # noqa: N801  (the board's name)
    """Emulated ulab ndarray: a float32/int16/... NumPy array limited to the board's API."""

    def __getattribute__(self, name):
        if name == "shape":
            _EMU.charge("shape", _emu.TUPLE, "estimate")
        if name.startswith("__") or name in ARRAY_ATTRS:
            return object.__getattribute__(self, name)
        raise AttributeError("'ndarray' object has no attribute '%s'" % name)

    def __array_finalize__(self, obj):
        if _np.ndarray.__getattribute__(self, "ndim") > 2:
            raise TypeError("too many dimensions")

    # -- properties that differ from NumPy
    @property
    def dtype(self):
        return _NP_TO_CODE[_plain(self).dtype]

    @property
    def T(self):  # noqa: N802
        _EMU.charge("transpose", _emu.ROW_VIEW, "estimate")
        return _wrap(_plain(self).T, view=True)

    @property
    def flat(self):
        _EMU.charge("iter", _emu.TUPLE, "estimate")
        _EMU.iterated(_plain(self).size)
        return iter([_obj(v) for v in _plain(self).flat])

    def transpose(self):
        _EMU.charge("transpose", _emu.ROW_VIEW, "estimate")
        return _wrap(_plain(self).T, view=True)

    def reshape(self, shape):
        if isinstance(shape, _b.int):
            shape = (shape,)
        if not isinstance(shape, tuple):
            raise TypeError("shape must be a tuple")
        if len(shape) > 2:
            raise TypeError("too many dimensions")
        p = _plain(self)
        r = p.reshape(shape)
        view = _np.shares_memory(r, p)
        _EMU.charge("reshape", _emu.ROW_VIEW if view else _new_bytes(r), "estimate")
        return _wrap(r, view=view)

    def flatten(self, order="C"):
        r = _plain(self).flatten(order)
        _EMU.charge("flatten", _new_bytes(r), "estimate")
        return _wrap(r)

    def copy(self):
        r = _plain(self).copy()
        _EMU.charge("copy", _new_bytes(r), "estimate")
        return _wrap(r)

    def sort(self, axis=-1):
        _plain(self).sort(axis=axis)

    def tolist(self):
        p = _plain(self)
        # a list object (16) + its item array of 4-byte words; floats are immediate
        rows = 1 if p.ndim == 1 else p.shape[0] + 1
        _EMU.charge("tolist", rows * _emu.TUPLE + _r16(4 * p.size), "estimate")
        if p.ndim == 1:
            return [_obj(v) for v in p]
        return [[_obj(v) for v in row] for row in p]

    def tobytes(self):
        _EMU.charge("tobytes", _emu.TUPLE, "estimate")  # a bytearray over the same data
        return _plain(self).tobytes()

    def byteswap(self, inplace=False):
        p = _plain(self)
        if inplace:
            p.byteswap(inplace=True)
            return self
        r = p.byteswap()
        _EMU.charge("byteswap", _new_bytes(r), "estimate")
        return _wrap(r)

    # -- indexing: scalars come back as board floats, no fancy indexing
    def __getitem__(self, index):
        p = _plain(self)
        _check_index(index, p.ndim)
        kind, has_slice = _index_kind(index, p.ndim)
        if isinstance(index, ndarray):
            index = _plain(index)
        r = p[index]
        if kind == "elem":
            _EMU.elem_read(p.ndim)
        elif kind == "mask":
            _EMU.charge("mask_index", _new_bytes(r), "estimate")
        elif has_slice:
            _EMU.charge("slice_view", _emu.SLICE_VIEW, "measured")
        else:
            _EMU.charge("row_view", _emu.ROW_VIEW, "estimate")
        return _wrap(r, view=kind == "view")

    def __setitem__(self, index, value):
        p = _plain(self)
        _check_index(index, p.ndim)
        kind, has_slice = _index_kind(index, p.ndim)
        if isinstance(index, ndarray):
            index = _plain(index)
        if kind == "elem":
            _EMU.elem_store(p.ndim)
        elif isinstance(value, (_np.ndarray, list, tuple, range)):
            # ulab copies the right-hand side (converted to the target dtype), then assigns
            n = _np.size(_plain(value)) if isinstance(value, _np.ndarray) else _np.size(value)
            cost = _emu.SLICE_ASSIGN_FIXED + _r16(p.itemsize * n)
            basis = "derived"
            if not has_slice:
                cost -= _emu.NO_SLICE_OBJECT
                basis = "estimate"
            if not isinstance(value, _np.ndarray):  # a list becomes an ndarray first
                cost += _r16(4 * n) + _emu.NEW_ONE_OPERAND
                basis = "estimate"
            _EMU.charge("slice_assign", cost, basis)
        else:
            _EMU.charge("fill", _emu.FILL, "measured" if has_slice and p.ndim == 1 else "estimate")
        p[index] = _plain(value)

    def __iter__(self):
        p = _plain(self)
        _EMU.charge("iter", _emu.TUPLE, "estimate")
        _EMU.iterated(p.shape[0])
        if p.ndim == 1:
            return iter([_obj(v) for v in p])
        _EMU.charge("row_view", _emu.ROW_VIEW * p.shape[0], "estimate")
        return iter([_wrap(row, view=True) for row in p])

    def __repr__(self):
        return "array(%r, dtype=%s)" % (self.tolist(), chr(self.dtype))

    __str__ = __repr__

    # -- operators the board does not have
    def __matmul__(self, other):
        raise TypeError("unsupported types for __matmul__: 'ndarray', 'ndarray'")

    __rmatmul__ = __imatmul__ = __matmul__

    def __mod__(self, other):
        raise TypeError("unsupported types for __mod__: 'ndarray'")

    __rmod__ = __imod__ = __divmod__ = __rdivmod__ = __mod__

    # -- integer arrays divided by a Python int truncate on the board
    def __truediv__(self, other):
        p = _plain(self)
        if p.dtype.kind in "iub" and isinstance(other, _b.int) and not isinstance(other, _b.bool):
            r = _np.trunc(p / other).astype(_F32)
            _EMU.charge("binary_op", _r16(r.nbytes) + _emu.NEW_TWO_OPERANDS + _emu.SCALAR_OPERAND,
                        "estimate")
            return _wrap(r)
        return _np.ndarray.__truediv__(self, other)

    def __float__(self):
        raise TypeError("can't convert ndarray to float")

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        return _op_result(arr)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """Operators and NumPy ufuncs on emulated arrays: computed on plain views, charged
        as the board's in-place (`v *= 2.0`) or new-array (`v * v`, `abs(v)`) operation."""
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        r = getattr(ufunc, method)(*[_plain(x) for x in inputs], **kwargs)
        scalar = False
        for x in inputs:
            if not isinstance(x, _np.ndarray):
                scalar = True
        if out is not None:
            _EMU.charge("inplace_op", _emu.INPLACE_SCALAR if scalar else _emu.INPLACE_ARRAY, "measured")
            return out[0] if len(out) == 1 else out
        if isinstance(r, tuple):
            return tuple(_op_result(x) for x in r)
        if isinstance(r, _np.ndarray) and r.ndim > 0:
            if len(inputs) == 1:
                _EMU.charge("unary_op", _new_bytes(r), "estimate")
            elif scalar:
                _EMU.charge("binary_op", _r16(r.nbytes) + _emu.NEW_TWO_OPERANDS + _emu.SCALAR_OPERAND,
                            "estimate")
            else:
                _EMU.charge("binary_op", _r16(r.nbytes) + _emu.NEW_TWO_OPERANDS, "derived")
        return _op_result(r)


def _op_result(arr):
    """An operator's NumPy result as the board returns it (scalar, or a board dtype)."""
    if not isinstance(arr, _np.ndarray):
        return _obj(arr) if isinstance(arr, (_np.generic, _b.float, _b.int, _b.bool)) else arr
    arr = _np.ndarray.view(arr, _np.ndarray)
    if arr.ndim == 0:
        return _obj(arr[()])
    if arr.ndim > 2:
        raise TypeError("too many dimensions")
    if arr.dtype not in _NP_TO_CODE:
        arr = arr.astype(_F32 if arr.dtype.kind == "f" else _np.int16)
    return _track(_np.ndarray.view(arr, ndarray), False)


def _dt(dtype):
    if dtype is None:
        return _F32
    if dtype in _CODE_TO_NP:
        return _CODE_TO_NP[dtype]
    raise TypeError("wrong dtype (use ulab.numpy.float, int16, ...: got %r)" % (dtype,))


def _need_array(a, what="input"):
    if not isinstance(a, ndarray):
        raise TypeError("%s must be an ndarray" % what)
    return _plain(a)


def _arrayish(a):
    """ndarray, list, tuple or range -> plain NumPy float32 (or the array's own dtype)."""
    if isinstance(a, ndarray):
        return _plain(a)
    if isinstance(a, (list, tuple, range)):
        return _np.asarray(_to_board_values(a), dtype=_F32)
    if isinstance(a, (_b.int, _b.float)):
        return _np.asarray(_obj_float(a), dtype=_F32)
    raise TypeError("wrong input type")


def _to_board_values(obj):
    """Python numbers as the board's 30-bit floats (lists nested to any depth)."""
    if isinstance(obj, (list, tuple, range)):
        return [_to_board_values(v) for v in obj]
    if isinstance(obj, ndarray):
        return _plain(obj)
    if isinstance(obj, (_b.bool, _np.bool_)):
        return _b.bool(obj)
    return _obj_float(obj)


def _axis(a, axis):
    if axis is None:
        return None
    if not isinstance(axis, _b.int):
        raise TypeError("axis must be None, or an integer")
    if axis < -a.ndim or axis >= a.ndim:
        raise ValueError("index out of range")
    return axis


# ---- array creation -------------------------------------------------------------------
def array(values, dtype=None):
    if isinstance(values, ndarray):
        return _wrap(_plain(values).astype(_dt(dtype)))
    if not isinstance(values, (list, tuple, range)):
        raise TypeError("wrong input type")
    r = _np.array(_to_board_values(values), dtype=_dt(dtype))
    if r.ndim > 2:
        raise TypeError("too many dimensions")
    return _wrap(r)


def asarray(values, dtype=None):
    if isinstance(values, ndarray) and (dtype is None or dtype == values.dtype):
        return values
    return array(values, dtype=dtype)


def frombuffer(buffer, dtype=None, count=-1, offset=0):
    """Shares the buffer's memory, as on the board: writes to an array('f') show in the
    ndarray and the other way round (a read-only buffer such as bytes gives a read-only
    array here; on the board writing into it would modify the bytes object)."""
    r = _np.frombuffer(buffer, dtype=_dt(dtype), count=count, offset=offset)
    return _wrap(r, view=True)


def arange(start, stop=None, step=1, dtype=None):
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        ints = all(isinstance(v, _b.int) for v in (start, stop, step))
        dtype = ord("h") if ints else ord("f")
    return _wrap(_np.arange(start, stop, step).astype(_dt(dtype)))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None):
    r = _np.linspace(start, stop, num, endpoint=endpoint, retstep=retstep)
    if retstep:
        return _wrap(r[0].astype(_dt(dtype))), _obj_float(r[1])
    return _wrap(r.astype(_dt(dtype)))


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None):
    return _wrap(_np.logspace(start, stop, num, endpoint=endpoint, base=base).astype(_dt(dtype)))


def _shape(shape):
    if isinstance(shape, _b.int):
        return (shape,)
    if isinstance(shape, tuple) and len(shape) <= 2:
        return shape
    raise TypeError("too many dimensions" if isinstance(shape, tuple) else "input argument must be an integer or a tuple")


def zeros(shape, dtype=None):
    return _wrap(_np.zeros(_shape(shape), dtype=_dt(dtype)))


def ones(shape, dtype=None):
    return _wrap(_np.ones(_shape(shape), dtype=_dt(dtype)))


def empty(shape, dtype=None):
    return _wrap(_np.zeros(_shape(shape), dtype=_dt(dtype)))


def full(shape, fill_value, dtype=None):
    return _wrap(_np.full(_shape(shape), fill_value, dtype=_dt(dtype)))


def eye(N, M=None, k=0, dtype=None):  # noqa: N803
    return _wrap(_np.eye(N, M, k, dtype=_dt(dtype)))


def diag(a, k=0):
    return _wrap(_np.diag(_need_array(a), k))


def concatenate(arrays, axis=0):
    return _wrap(_np.concatenate([_need_array(a) for a in arrays], axis=axis))


# ---- reductions: float32 running (Welford) updates, as ulab's numerical.c -------------
def _welford(a, axis):
    """Running mean and sum of squared deviations along `axis`, in float32."""
    x = _np.asarray(a, dtype=_F32)
    if axis is None:
        x = x.reshape(-1)
        axis = 0
    x = _np.moveaxis(x, axis, 0)
    m = _np.zeros(x.shape[1:], dtype=_F32)
    s = _np.zeros(x.shape[1:], dtype=_F32)
    for count, v in enumerate(x, 1):
        new_m = m + (v - m) / _F32(count)
        s = s + (v - m) * (v - new_m)
        m = new_m
    return m, s, x.shape[0]


def _reduced(r, axis, p):
    """A full reduction (or one of a 1-D array) is a scalar on the board."""
    if axis is None or p.ndim == 1:
        return _obj(r.reshape(-1)[0])
    return _wrap(r)


def mean(a, axis=None):
    p = _arrayish(a)
    axis = _axis(p, axis)
    if p.size == 0:
        return 0.0
    m, _, _ = _welford(p, axis)
    return _reduced(m, axis, p)


def std(a, axis=None, ddof=0):
    p = _arrayish(a)
    axis = _axis(p, axis)
    if p.size == 0:
        return _math.nan
    _, s, n = _welford(p, axis)
    if n <= ddof:
        r = _np.zeros_like(s)
    else:
        r = _np.sqrt(s / _F32(n - ddof))
    return _reduced(r, axis, p)


def sum(a, axis=None):  # noqa: A001
    p = _arrayish(a)
    axis = _axis(p, axis)
    if p.dtype.kind in "iub":
        r = _np.sum(p, axis=axis)
        return _wrap(r.astype(p.dtype)) if isinstance(r, _np.ndarray) else _b.int(r)
    m, _, n = _welford(p, axis)
    return _reduced(m * _F32(n), axis, p)


def median(a, axis=None):
    p = _need_array(a)
    return _wrap(_np.median(p, axis=_axis(p, axis)))


def _minmax(fn, a, axis):
    p = _arrayish(a)
    if p.size == 0:
        raise ValueError("attempt to get argmin/argmax of an empty sequence")
    return _wrap(fn(p, axis=_axis(p, axis)))


def min(a, axis=None):  # noqa: A001
    return _minmax(_np.min, a, axis)


def max(a, axis=None):  # noqa: A001
    return _minmax(_np.max, a, axis)


def argmin(a, axis=None):
    return _minmax(_np.argmin, a, axis)


def argmax(a, axis=None):
    return _minmax(_np.argmax, a, axis)


def sort(a, axis=-1):
    p = _need_array(a)
    return _wrap(_np.sort(p, axis=axis))


def argsort(a, axis=None):
    p = _need_array(a)
    if axis is None:
        raise NotImplementedError("argsort is not implemented for flattened arrays")
    return _wrap(_np.argsort(p, axis=axis, kind="stable").astype(_np.uint16))


def diff(a, n=1, axis=-1):
    return _wrap(_np.diff(_need_array(a), n=n, axis=axis))


def flip(a, axis=None):
    return _wrap(_np.flip(_need_array(a), axis=axis))


def roll(a, shift, axis=None):
    return _wrap(_np.roll(_need_array(a), shift, axis=axis))


def trace(a):
    p = _need_array(a)
    if p.ndim != 2 or p.shape[0] != p.shape[1]:
        raise ValueError("input must be square matrix")
    return _obj(_np.cumsum(_np.diag(p).astype(_F32), dtype=_F32)[-1])


def dot(m1, m2):
    """ulab's transform_dot: 2-D x 2-D, 2-D x 1-D, 1-D x 1-D (scalar), float32 running sum."""
    a = _need_array(m1, "arguments")
    b = _need_array(m2, "arguments")
    if a.ndim == 1 and b.ndim == 2:
        raise NotImplementedError("vector times matrix: use np.dot(matrix.T, vector) on the board")
    if a.shape[-1] != b.shape[0]:
        raise ValueError("dimensions do not match")
    a = a.astype(_F32)
    b = b.astype(_F32)
    if a.ndim == 1 and b.ndim == 1:
        return _obj(_np.cumsum(a * b, dtype=_F32)[-1])
    if b.ndim == 1:
        return _wrap(_np.cumsum(a * b[None, :], axis=1, dtype=_F32)[:, -1])
    return _wrap(_np.cumsum(a[:, :, None] * b[None, :, :], axis=1, dtype=_F32)[:, -1, :])


def cross(a, b):
    return _wrap(_np.cross(_need_array(a), _need_array(b)))


def convolve(a, v):
    return _wrap(_np.convolve(_need_array(a), _need_array(v)))


def interp(x, xp, fp, left=None, right=None):
    return _wrap(_np.interp(_need_array(x), _need_array(xp), _need_array(fp), left, right))


def trapz(y, x=None, dx=1.0):
    yy = _need_array(y).astype(_np.float64)
    xx = None if x is None else _need_array(x).astype(_np.float64)
    if xx is None:
        r = dx * (yy[1:] + yy[:-1]).sum() / 2
    else:
        r = ((xx[1:] - xx[:-1]) * (yy[1:] + yy[:-1])).sum() / 2
    return _obj_float(r)


def polyfit(x, y, deg=None):
    if deg is None:
        x, y, deg = None, x, y
        xx = _np.arange(len(_arrayish(y)))
    else:
        xx = _arrayish(x)
    return _wrap(_np.polyfit(xx, _arrayish(y), deg))


def polyval(p, x):
    r = _np.polyval(_arrayish(p), _arrayish(x))
    return _wrap(r)


def compress(condition, a, axis=None):
    return _wrap(_np.compress(list(condition), _need_array(a), axis=axis))


def delete(a, indices, axis=None):
    return _wrap(_np.delete(_need_array(a), indices, axis=axis))


def size(a, axis=None):
    if isinstance(a, (_b.int, _b.float)):
        return 1
    if not isinstance(a, ndarray):
        return len(a)
    p = _plain(a)
    return _b.int(p.size if axis is None else p.shape[axis])


def all(a, axis=None):  # noqa: A001
    r = _np.all(_arrayish(a), axis=axis)
    return _wrap(r)


def any(a, axis=None):  # noqa: A001
    r = _np.any(_arrayish(a), axis=axis)
    return _wrap(r)


def clip(a, a_min, a_max):
    return _wrap(_np.clip(_arrayish(a), _plain(a_min), _plain(a_max)))


def where(condition, x, y):
    return _wrap(_np.where(_plain(condition), _plain(x), _plain(y)))


def nonzero(a):
    return tuple(_wrap(i.astype(_np.uint16)) for i in _np.nonzero(_need_array(a)))


def _binary(fn):
    def f(a, b):
        return _wrap(fn(_plain(a), _plain(b)))

    f.__name__ = fn.__name__
    return f


equal = _binary(_np.equal)
not_equal = _binary(_np.not_equal)
maximum = _binary(_np.maximum)
minimum = _binary(_np.minimum)
arctan2 = _binary(_np.arctan2)
bitwise_and = _binary(_np.bitwise_and)
bitwise_or = _binary(_np.bitwise_or)
bitwise_xor = _binary(_np.bitwise_xor)
left_shift = _binary(_np.left_shift)
right_shift = _binary(_np.right_shift)


def isfinite(a):
    return _wrap(_np.isfinite(_arrayish(a)))


def isinf(a):
    return _wrap(_np.isinf(_arrayish(a)))


def _unary(fn):
    """Elementwise math: array in -> float array out; Python number in -> float out."""

    def f(a):
        if isinstance(a, (_b.int, _b.float)):
            return _obj_float(fn(_np.float32(_obj_float(a))))
        return _wrap(fn(_arrayish(a).astype(_F32)))

    f.__name__ = fn.__name__
    return f


sqrt = _unary(_np.sqrt)
exp = _unary(_np.exp)
expm1 = _unary(_np.expm1)
log = _unary(_np.log)
log2 = _unary(_np.log2)
log10 = _unary(_np.log10)
sin = _unary(_np.sin)
cos = _unary(_np.cos)
tan = _unary(_np.tan)
arcsin = _unary(_np.arcsin)
arccos = _unary(_np.arccos)
arctan = _unary(_np.arctan)
sinh = _unary(_np.sinh)
cosh = _unary(_np.cosh)
tanh = _unary(_np.tanh)
arcsinh = _unary(_np.arcsinh)
arccosh = _unary(_np.arccosh)
arctanh = _unary(_np.arctanh)
ceil = _unary(_np.ceil)
floor = _unary(_np.floor)
degrees = _unary(_np.degrees)
radians = _unary(_np.radians)
sinc = _unary(_np.sinc)


def around(a, decimals=0):
    return _wrap(_np.around(_need_array(a), decimals))


def vectorize(f, otypes=None):
    def g(a):
        vals = [f(v) for v in _np.asarray(_plain(a)).reshape(-1)]
        return _wrap(_np.asarray(vals, dtype=_F32).reshape(_np.shape(_plain(a))))

    return g


def load(path):
    r = _np.load(path)
    if r.dtype.str[1:] not in ("f4", "u1", "i1", "u2", "i2"):
        raise TypeError("wrong dtype")
    return _wrap(r)


def save(path, a):
    _np.save(path, _need_array(a))


def loadtxt(*args, **kw):
    return _wrap(_np.loadtxt(*args, **kw))


def savetxt(path, a, *args, **kw):
    _np.savetxt(path, _need_array(a), *args, **kw)


_printoptions = {"threshold": 10, "edgeitems": 3}


def set_printoptions(threshold=None, edgeitems=None):
    if threshold is not None:
        _printoptions["threshold"] = threshold
    if edgeitems is not None:
        _printoptions["edgeitems"] = edgeitems


def get_printoptions():
    return dict(_printoptions)


def ndinfo(a):
    p = _need_array(a)
    print("class: ndarray\nshape: %r\nstrides: %r\nitemsize: %d\ndtype: %s"
          % (p.shape, p.strides, p.itemsize, chr(_NP_TO_CODE[p.dtype])))


pi = _obj_float(_math.pi)
e = _obj_float(_math.e)
inf = _math.inf
nan = _math.nan

# ---- allocation accounting of the public functions ------------------------------------
def _result_cost(r):
    """Board bytes of a function's result: new arrays (r16(data) + 80), a tuple of them
    (+16), or a scalar result (32); all estimates unless a rule below says otherwise."""
    if isinstance(r, ndarray):
        return _new_bytes(_plain(r))
    if isinstance(r, tuple):
        return _emu.TUPLE + _b.sum(_result_cost(x) for x in r)
    if r is None or isinstance(r, (dict, str)):
        return 0
    return _emu.SCALAR_RESULT


def _costed(fn, rule=None, basis="estimate"):
    """Wrap a public function so that the outermost call charges its cost to ulab.EMU
    (nested emulator calls, e.g. asarray -> array, charge nothing themselves)."""

    def f(*args, **kw):
        if _EMU._inside:
            return fn(*args, **kw)
        _EMU._inside += 1
        try:
            r = fn(*args, **kw)
        finally:
            _EMU._inside -= 1
        if args and r is args[0]:
            return r  # asarray of an ndarray: the same object, nothing allocated
        if rule is not None:
            n, b = rule(r, args)
        else:
            n, b = _result_cost(r), basis
        _EMU.charge(fn.__name__, n, b)
        return r

    f.__name__ = fn.__name__
    f.__doc__ = fn.__doc__
    f.__wrapped__ = fn
    return f


def _mean_cost(r, args):
    if isinstance(r, ndarray):
        return _new_bytes(_plain(r)), "estimate"
    return _emu.MEAN, "measured"


def _dot_cost(r, args):
    if not isinstance(r, ndarray):
        return _emu.DOT_VV, "measured"
    p = _plain(r)
    if p.ndim == 1:  # matrix times vector: 32 x 129 measured, other sizes derived
        return _new_bytes(p), "measured" if p.size == 32 and _plain(args[0]).shape == (32, 129) else "derived"
    return _new_bytes(p), "estimate"


def _frombuffer_cost(r, args):
    return _emu.FROMBUFFER, "estimate"


def _unary_cost(r, args):
    if isinstance(r, ndarray):  # np.log of 129 floats measured, other sizes derived
        return _new_bytes(_plain(r)), "measured" if _plain(r).size == 129 else "derived"
    return _emu.SCALAR_RESULT, "estimate"


def _free(r, args):
    return 0, "estimate"


_UNARY_MATH = ("sqrt exp expm1 log log2 log10 sin cos tan arcsin arccos arctan sinh cosh tanh "
               "arcsinh arccosh arctanh ceil floor degrees radians sinc").split()
for _name in API_NAMES:
    _f = globals().get(_name)
    if not callable(_f) or isinstance(_f, type) or _name in ("fft", "linalg"):
        continue
    if _name == "mean":
        globals()[_name] = _costed(_f, _mean_cost)
    elif _name == "dot":
        globals()[_name] = _costed(_f, _dot_cost)
    elif _name == "frombuffer":
        globals()[_name] = _costed(_f, _frombuffer_cost)
    elif _name in ("size", "set_printoptions", "get_printoptions", "ndinfo", "save", "savetxt"):
        globals()[_name] = _costed(_f, _free)
    elif _name in _UNARY_MATH:
        globals()[_name] = _costed(_f, _unary_cost)
    else:
        globals()[_name] = _costed(_f)
del _name, _f

# dtype codes last: from here on `float` and `bool` in this module are the board's codes.
bool = ord("?")  # noqa: A001
uint8 = ord("B")
int8 = ord("b")
uint16 = ord("H")
int16 = ord("h")
float = ord("f")  # noqa: A001

from . import fft  # noqa: E402,F401
from . import linalg  # noqa: E402,F401


def __getattr__(name):
    raise AttributeError("module 'ulab.numpy' has no attribute '%s' (not on the board)" % name)


def __dir__():
    return sorted(API_NAMES)
