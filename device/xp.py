"""Array namespace shim: ulab.numpy on the board, NumPy (float32) on CPython.

This is the only module in device/ that imports ulab or numpy. Everything else asks it for
arrays, so the same feature and detector code runs on both. Under a plain MicroPython
without ulab, `np` is None: pure-logic modules still import, array code fails when called.
"""

try:
    from ulab import numpy as np  # noqa: F401

    ULAB = True
except ImportError:
    try:
        import numpy as np  # noqa: F401
    except ImportError:
        np = None
    ULAB = False

if np is None:
    FLOAT = None
elif ULAB:
    FLOAT = np.float
else:
    FLOAT = np.float32


def require():
    """Raise a clear error where array math is needed but no array library exists."""
    if np is None:
        raise ImportError("device math needs ulab (board) or numpy (host)")


def array(values):
    """A float32 array (ulab's float is float32) from a list or nested list."""
    return np.array(values, dtype=FLOAT)


def zeros(shape):
    return np.zeros(shape, dtype=FLOAT)


def fft(x, y=None):
    """FFT of a real 1-D power-of-two array (or of x + iy: two real signals in one call)
    as a tuple (real, imag) of float arrays.

    ulab with complex support off (CircuitPython's build) returns exactly this tuple;
    NumPy returns a complex array, so it is split here to give one calling convention.
    """
    if ULAB:
        return np.fft.fft(x) if y is None else np.fft.fft(x, y)
    f = np.fft.fft(x) if y is None else np.fft.fft(x + 1j * y)
    return f.real.astype(FLOAT), f.imag.astype(FLOAT)


def fbuf(n):
    """A zeroed array('f') of n floats. Element stores into it allocate nothing on the
    board (an ndarray element store allocates a temporary array each time), so samples and
    scalar results are written here and read through a `view`."""
    import array

    a = array.array("f")
    for _ in range(n):
        a.append(0.0)
    return a


def view(buf, count=-1, offset=0):
    """A float ndarray sharing memory with `buf` (an array('f')): writes to either side
    show in the other, on ulab (np.frombuffer shares) and on NumPy alike. `offset` is in
    floats."""
    return np.frombuffer(buf, dtype=FLOAT, count=count, offset=4 * offset)


def window_buffers(axes, n, buffers=None):
    """(array('f') buffers, window) for `axes` signals of `n` samples.

    Samples are stored into the array('f') buffers (no allocation per store on the board,
    where an ndarray element store builds a temporary array); `window[a]` is an ndarray
    view sharing buffer a's memory, which is what features read. `buffers` may be given
    (e.g. a feature extractor's padded inputs, from its input_views()) as (buffers,
    views): the sensor then fills them directly and nothing is copied. Without an array
    library (plain MicroPython) the window is the list of buffers.
    """
    if buffers is not None:
        bufs, views = buffers
        if len(bufs) != axes or len(views[0]) != n:
            raise ValueError("window buffers do not fit %d x %d samples" % (axes, n))
        return bufs, views
    bufs = [fbuf(n) for _ in range(axes)]
    if np is None:
        return bufs, bufs
    return bufs, [view(b) for b in bufs]


def finite(v):
    """True for a finite Python float (NaN and +-inf fail): v - v is NaN for both."""
    return v - v == 0.0


def num(v, digits=4):
    """A float for a JSON payload: rounded, and None when not finite (JSON has no NaN)."""
    if v is None or not v - v == 0.0:
        return None
    return round(v, digits)


def int16_be(buf, out, count):
    """`count` signed big-endian 16-bit words of `buf` (bytes/bytearray) into the dense float
    array `out`: ulab.utils.from_int16_buffer(out=, byteswap=True) on the board (no new
    array), a NumPy copy on the host."""
    if ULAB:
        from ulab import utils

        utils.from_int16_buffer(buf, count=count, out=out, byteswap=True)
    else:
        out[:count] = np.frombuffer(buf, dtype=">i2", count=count)


def tolist(a):
    """Python floats from an array (for JSON); works for ulab and NumPy arrays."""
    return [float(v) for v in a]
