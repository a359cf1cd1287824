"""ulab.numpy stand-in for the MicroPython unix port (tests/mp_heap.py; see ulab/__init__.py).

float32 arrays of 1 or 2 dimensions in array('f') storage, views that share it (slices,
rows, frombuffer, reshape of a dense array, transpose), broadcasting of a (n,) or (1,)
operand over rows, and the functions device/ calls. Results are computed in the port's
double and stored as float32.

One difference the unix port forces: it supports only `+=` and `-=` as in-place special
methods (no __imul__, __itruediv__, __ipow__: MICROPY_PY_ALL_INPLACE_SPECIAL_METHODS is
off), so `a *= b` calls __mul__ and rebinds. To keep device code's in-place updates of
shared memory right, `*`, `/` and `**` with an ndarray on the left WRITE INTO THE LEFT
OPERAND and return it. device/ uses them only in place or on a fresh temporary;
tests/mp_heap.py checks the scores of a run against CPython's, which catches a use
that relies on a copy.
"""

import array as _arr
import math

_imax = max  # the builtins, before this module defines its own max/min

float = 102  # dtype codes are small ints on ulab (ULAB_HAS_DTYPE_OBJECT 0)
uint8 = 66
int16 = 104
uint16 = 72
bool = 63
_pyfloat = type(1.0)
inf = _pyfloat("inf")
nan = _pyfloat("nan")
pi = math.pi
e = math.e


def _alloc(n):
    """n float32s, no temporary of n: array('f', range(n)) knows its length up front."""
    return _arr.array("f", range(n))


class ndarray:
    dtype = 102
    itemsize = 4

    def __init__(self, b, o, shape, st):
        self.b = b
        self.o = o
        self.shape = shape
        self.st = st

    @property
    def size(self):
        s = self.shape
        return s[0] if len(s) == 1 else s[0] * s[1]

    @property
    def strides(self):
        return tuple(4 * s for s in self.st)

    @property
    def T(self):
        return self.transpose()

    def _dense(self):
        s, t = self.shape, self.st
        return t[-1] == 1 and (len(s) == 1 or t[0] == s[1])

    def _nrows(self):
        return 1 if len(self.shape) == 1 else self.shape[0]

    def _row(self, r):
        """(start, step, count) of row r (row 0 of a 1-D array is the array); computed
        per row, so no table of rows is allocated (ulab allocates none)."""
        if len(self.shape) == 1:
            return self.o, self.st[0], self.shape[0]
        return self.o + r * self.st[0], self.st[1], self.shape[1]

    def __len__(self):
        return self.shape[0]

    def __iter__(self):
        if len(self.shape) == 1:
            b, o, s = self.b, self.o, self.st[0]
            for k in range(self.shape[0]):
                yield b[o + k * s]
        else:
            for r in range(self.shape[0]):
                yield self[r]

    def _index(self, key):
        """An int (element of a 1-D array) or a view."""
        if not isinstance(key, tuple):
            key = (key,)
        shape, st, o = [], [], self.o
        for d in range(len(self.shape)):
            k = key[d] if d < len(key) else None
            n = self.shape[d]
            if k is None or isinstance(k, slice) or k is Ellipsis:
                if k is None or k is Ellipsis:
                    start, stop, step = 0, n, 1
                else:
                    start, stop, step = k.indices(n)
                cnt = _imax(0, (stop - start + (step - (1 if step > 0 else -1))) // step)
                o += start * self.st[d]
                shape.append(cnt)
                st.append(self.st[d] * step)
            else:
                if k < 0:
                    k += n
                if not 0 <= k < n:
                    raise IndexError("index is out of bounds")
                o += k * self.st[d]
        if not shape:
            return o
        return ndarray(self.b, o, tuple(shape), tuple(st))

    def __getitem__(self, key):
        v = self._index(key)
        return self.b[v] if isinstance(v, int) else v

    def __setitem__(self, key, value):
        v = self._index(key)
        if isinstance(v, int):
            self.b[v] = value
        else:
            _op(v, value, _SET, v)

    def reshape(self, shape):
        if isinstance(shape, int):
            shape = (shape,)
        n = shape[0] if len(shape) == 1 else shape[0] * shape[1]
        if n != self.size:
            raise ValueError("cannot reshape array")
        src = self if self._dense() else self.copy()
        st = (1,) if len(shape) == 1 else (shape[1], 1)
        return ndarray(src.b, src.o, tuple(shape), st)

    def transpose(self):
        if len(self.shape) == 1:
            return self
        return ndarray(self.b, self.o, (self.shape[1], self.shape[0]), (self.st[1], self.st[0]))

    def copy(self):
        out = _new(self.shape)
        _op(out, self, _SET, out)
        return out

    def flatten(self):
        return self.copy().reshape((self.size,))

    def tolist(self):
        if len(self.shape) == 1:
            return [v for v in self]
        return [r.tolist() for r in self]

    def __repr__(self):
        return "array(%r, dtype=float32)" % (self.tolist(),)

    # in place: += and -= (the port has these); *, /, ** write into self (see the docstring)
    def __iadd__(self, x):
        return _op(self, x, _ADD, self)

    def __isub__(self, x):
        return _op(self, x, _SUB, self)

    def __mul__(self, x):
        return _op(self, x, _MUL, self)

    def __truediv__(self, x):
        return _op(self, x, _DIV, self)

    def __pow__(self, x):
        return _op(self, x, _POW, self)

    def __add__(self, x):
        return _binary(self, x, _ADD)

    def __sub__(self, x):
        return _binary(self, x, _SUB)

    def __radd__(self, x):
        return _binary(self, x, _ADD)

    def __rsub__(self, x):
        return _binary(self, x, _RSUB)

    def __rmul__(self, x):
        return _binary(self, x, _MUL)

    def __rtruediv__(self, x):
        return _binary(self, x, _RDIV)

    def __neg__(self):
        return _unary(self, lambda v: -v)

    def __abs__(self):
        return _unary(self, abs)

    def __lt__(self, x):
        return _binary(self, x, lambda a, b: 1.0 if a < b else 0.0)

    def __gt__(self, x):
        return _binary(self, x, lambda a, b: 1.0 if a > b else 0.0)


def _ADD(a, b):
    return a + b


def _SUB(a, b):
    return a - b


def _RSUB(a, b):
    return b - a


def _MUL(a, b):
    return a * b


def _DIV(a, b):
    return a / b


def _RDIV(a, b):
    return b / a


def _POW(a, b):
    return a ** b


def _SET(a, b):
    return b


def _new(shape):
    if isinstance(shape, int):
        shape = (shape,)
    n = shape[0] if len(shape) == 1 else shape[0] * shape[1]
    return ndarray(_alloc(n), 0, tuple(shape), (1,) if len(shape) == 1 else (shape[1], 1))


def _source(x, shape):
    """(constant, None, False) for a Python number or a 1-element array; (None, x, True)
    for an array of `shape`; (None, x, False) for a (n,) array broadcast over rows."""
    if not isinstance(x, ndarray):
        return _pyfloat(x), None, False
    if x.shape == shape:
        return None, x, True
    if x.size == 1:
        return x.b[x.o], None, False
    if len(x.shape) == 1 and len(shape) == 2 and x.shape[0] == shape[1]:
        return None, x, False
    raise ValueError("operands could not be broadcast together")


def _op(a, x, f, out):
    """out[...] = f(a, x) elementwise (out is a, or a new array of a's shape)."""
    const, xs, per_row = _source(x, a.shape)
    ab, ob = a.b, out.b
    xb = xs.b if xs is not None else None
    for r in range(a._nrows()):
        sa, da, n = a._row(r)
        so, do, _ = out._row(r)
        if xs is None:
            for k in range(n):
                ob[so + k * do] = f(ab[sa + k * da], const)
        else:
            sx, dx, _ = xs._row(r if per_row else 0)
            for k in range(n):
                ob[so + k * do] = f(ab[sa + k * da], xb[sx + k * dx])
    return out


def _binary(a, x, f):
    if isinstance(x, ndarray) and x.size > a.size:  # (n,) op (m, n): the bigger shape wins
        out = _new(x.shape)
        _op(out, a, _SET, out)
        return _op(out, x, f, out)
    return _op(a, x, f, _new(a.shape))


def _unary(a, f):
    out = _new(a.shape)
    for r in range(a._nrows()):
        sa, da, n = a._row(r)
        so, do, _ = out._row(r)
        for k in range(n):
            out.b[so + k * do] = f(a.b[sa + k * da])
    return out


def _values(a):
    b = a.b
    for r in range(a._nrows()):
        s, d, n = a._row(r)
        for k in range(n):
            yield b[s + k * d]


def _fill(values, n):
    out = _new((n,))
    k = 0
    for v in values:
        out.b[k] = v
        k += 1
    return out


def _flatten_list(v, out):
    for x in v:
        if isinstance(x, (list, tuple)) or isinstance(x, ndarray):
            _flatten_list(x, out)
        else:
            out.append(x)


def array(values, dtype=float):
    if isinstance(values, ndarray):
        return values.copy()
    if values and isinstance(values[0], (list, tuple, ndarray)):
        shape = (len(values), len(values[0]))
    else:
        shape = (len(values),)
    out = _new(shape)
    k = 0
    for row in (values if len(shape) == 2 else (values,)):
        for v in row:
            out.b[k] = v
            k += 1
    return out


asarray = array


def zeros(shape, dtype=float):
    out = _new(shape)
    b = out.b
    for k in range(len(b)):
        b[k] = 0.0
    return out


def ones(shape, dtype=float):
    out = _new(shape)
    b = out.b
    for k in range(len(b)):
        b[k] = 1.0
    return out


def empty(shape, dtype=float):
    return _new(shape)


def frombuffer(buf, dtype=float, count=-1, offset=0):
    o = offset // 4
    n = len(buf) - o if count < 0 else count
    return ndarray(buf, o, (n,), (1,))


def _reduce(a, axis, f):
    """f(array) over all elements, or per row (axis=1) / column (axis=0). f streams the
    values (no list of boxed floats: ulab reduces in C without allocating)."""
    if axis is None or len(a.shape) == 1:
        return f(a)
    src = a if axis in (1, -1) else a.transpose()
    out = _new((src.shape[0],))
    for r in range(src.shape[0]):
        out.b[r] = f(src[r])
    return out


def _sum(a):
    s = 0.0
    for x in _values(a):
        s += x
    return s


def _mean(a):
    n = a.size
    return _sum(a) / n if n else 0.0


def _std(a, ddof=0):
    n = a.size
    if not n:
        return nan
    m = _mean(a)
    s = 0.0
    for x in _values(a):
        s += (x - m) * (x - m)
    return math.sqrt(s / (n - ddof))


def sum(a, axis=None):
    return _reduce(a, axis, _sum)


def mean(a, axis=None):
    return _reduce(a, axis, _mean)


def std(a, axis=None, ddof=0):
    return _reduce(a, axis, lambda v: _std(v, ddof))


def min(a, axis=None):
    return _reduce(a, axis, _min)


def max(a, axis=None):
    return _reduce(a, axis, _max)


def _min(a):
    m = None
    for x in _values(a):
        if m is None or x < m:
            m = x
    return m


def _max(a):
    m = None
    for x in _values(a):
        if m is None or x > m:
            m = x
    return m


def _arg(a, better):
    best, at, k = None, 0, 0
    for x in _values(a):
        if best is None or better(x, best):
            best, at = x, k
        k += 1
    return at


def argmin(a, axis=None):
    return _arg(a, lambda x, y: x < y)


def argmax(a, axis=None):
    return _arg(a, lambda x, y: x > y)


def _dot_row(ab, sa, da, bb, sb, db, n):
    s = 0.0
    for k in range(n):
        s += ab[sa + k * da] * bb[sb + k * db]
    return s


def dot(a, b):
    if len(a.shape) == 1 and len(b.shape) == 1:
        sa, da, n = a._row(0)
        sb, db, _ = b._row(0)
        return _dot_row(a.b, sa, da, b.b, sb, db, n)
    if len(a.shape) == 1:
        return dot(b.transpose(), a)
    if len(b.shape) == 1:
        sb, db, _ = b._row(0)
        out = _new((a.shape[0],))
        for r in range(a.shape[0]):
            sa, da, n = a._row(r)
            out.b[r] = _dot_row(a.b, sa, da, b.b, sb, db, n)
        return out
    out = _new((a.shape[0], b.shape[1]))
    bt = b.transpose()
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            out[i, j] = dot(a[i], bt[j])
    return out


def log(a):
    return _unary(a, math.log)


def sqrt(a):
    return _unary(a, math.sqrt)


def exp(a):
    return _unary(a, math.exp)


def maximum(a, b):
    return _binary(a, b, lambda x, y: x if x > y else y)


def minimum(a, b):
    return _binary(a, b, lambda x, y: x if x < y else y)


def diag(a):
    if len(a.shape) == 2:
        n = a.shape[0] if a.shape[0] < a.shape[1] else a.shape[1]
        out = _new((n,))
        for k in range(n):
            out.b[k] = a.b[a.o + k * (a.st[0] + a.st[1])]
        return out
    n = a.shape[0]
    out = zeros((n, n))
    for k in range(n):
        out[k, k] = a[k]
    return out


def concatenate(arrays, axis=0):
    vals = []
    for a in arrays:
        vals.extend(_values(a))
    return _fill(vals, len(vals))


def sort(a, axis=-1):
    v = sorted(_values(a))
    return _fill(v, len(v))


def nonzero(a):
    idx = [k for k, v in enumerate(_values(a)) if v != 0]
    return (_fill(idx, len(idx)),)


def isfinite(a):
    return _unary(a, lambda v: 1.0 if v - v == 0.0 else 0.0)


def load(path):
    """A float32 C-order .npy (little-endian), read straight into the array's memory."""
    f = open(path, "rb")
    try:
        head = f.read(10)
        if head[:6] != b"\x93NUMPY":
            raise ValueError("not a .npy file")
        hlen = head[8] | (head[9] << 8)
        header = f.read(hlen)
        if b"'<f4'" not in header:
            raise TypeError("wrong dtype")
        i = header.find(b"(")
        j = header.find(b")")
        dims = [int(t) for t in header[i + 1:j].split(b",") if t.strip()]
        header = None
        shape = tuple(dims)
        out = _new(shape)
        f.readinto(out.b)
        return out
    finally:
        f.close()


class _Namespace:
    pass


def _fft(re, im=None):
    n = re.size
    if n & (n - 1):
        raise ValueError("input array length must be power of 2")
    xr = re.copy()
    xi = im.copy() if im is not None else zeros((n,))
    rb, ib = xr.b, xi.b
    j = 0
    for i in range(1, n):  # bit reversal
        bit = n >> 1
        while j & bit:
            j ^= bit
            bit >>= 1
        j |= bit
        if i < j:
            rb[i], rb[j] = rb[j], rb[i]
            ib[i], ib[j] = ib[j], ib[i]
    size = 2
    while size <= n:
        ang = -2.0 * math.pi / size
        wr, wi = math.cos(ang), math.sin(ang)
        for s in range(0, n, size):
            cr, ci = 1.0, 0.0
            for k in range(size // 2):
                a = s + k
                b = a + size // 2
                tr = cr * rb[b] - ci * ib[b]
                ti = cr * ib[b] + ci * rb[b]
                rb[b] = rb[a] - tr
                ib[b] = ib[a] - ti
                rb[a] = rb[a] + tr
                ib[a] = ib[a] + ti
                cr, ci = cr * wr - ci * wi, cr * wi + ci * wr
        size *= 2
    return xr, xi


fft = _Namespace()
fft.fft = _fft


def _cholesky(a):
    n = a.shape[0]
    L = zeros((n, n))
    for i in range(n):
        for j in range(i + 1):
            s = a[i, j]
            for k in range(j):
                s -= L[i, k] * L[j, k]
            if i == j:
                if s <= 0:
                    raise ValueError("input matrix is not positive definite")
                L[i, i] = math.sqrt(s)
            else:
                L[i, j] = s / L[j, j]
    return L


linalg = _Namespace()
linalg.cholesky = _cholesky
