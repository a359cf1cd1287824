"""ulab.utils stand-in (tests/mp_standins): from_int16_buffer only."""

from ulab.numpy import ndarray, _new


def from_int16_buffer(buf, count=-1, offset=0, out=None, byteswap=False):
    n = (len(buf) - offset) // 2 if count < 0 else count
    if out is None:
        out = _new((n,))
    for k in range(n):
        i = offset + 2 * k
        hi, lo = (buf[i], buf[i + 1]) if byteswap else (buf[i + 1], buf[i])
        v = (hi << 8) | lo
        out[k] = float(v - 65536 if v & 0x8000 else v)
    return out
