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
