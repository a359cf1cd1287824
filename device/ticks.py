"""Millisecond ticks as CircuitPython's supervisor.ticks_ms gives them: small integers that
wrap at 2**29, so arithmetic on them never allocates. The one definition of the mask."""

TICKS_MASK = (1 << 29) - 1
_HALF = 1 << 28


def ticks_diff(a, b):
    """a - b for ticks_ms values (wrap-safe)."""
    d = (a - b) & TICKS_MASK
    if d & _HALF:
        d -= TICKS_MASK + 1
    return d


def default_ticks():
    """A ticks_ms function for hosts without supervisor (tests pass their own)."""
    import time

    if hasattr(time, "ticks_ms"):
        return time.ticks_ms
    if hasattr(time, "monotonic_ns"):
        return lambda: (time.monotonic_ns() // 1000000) & TICKS_MASK
    return lambda: int(time.monotonic() * 1000) & TICKS_MASK


class Uptime:
    """Seconds since start from a wrapping ticks_ms (supervisor.ticks_ms on the board)."""

    def __init__(self, ticks_ms):
        self._ticks = ticks_ms
        self._last = ticks_ms()
        self._ms = 0

    def ms(self):
        t = self._ticks()
        self._ms += (t - self._last) & TICKS_MASK
        self._last = t
        return self._ms

    def __call__(self):
        return self.ms() / 1000.0
