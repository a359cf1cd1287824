"""Millisecond ticks as CircuitPython's supervisor.ticks_ms gives them: small integers that
wrap at 2**29, so arithmetic on them never allocates. The one definition of the mask. And the
pacing every window source shares (_Paced: idle hook, clock, busy-wait on these ticks)."""

TICKS_MASK = (1 << 29) - 1
_HALF = 1 << 28
IDLE_MS = 20


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


class _Paced:
    """Shared by sensors: idle hook, clock and sleep."""

    idle = None
    _sleep = None

    def _idle_call(self):
        f = self.idle
        if f is not None:
            f()

    def _wait_until(self, t0, target_ms):
        """Busy-wait (calling idle every IDLE_MS) until target_ms after t0; returns
        the elapsed ms when done."""
        ticks = self._ticks
        last = -IDLE_MS
        while True:
            el = ticks_diff(ticks(), t0)
            if el >= target_ms:
                return el
            if el - last >= IDLE_MS:
                last = el
                self._idle_call()
            left = target_ms - el
            if self._sleep is not None and left > 4:
                self._sleep((left - 2 if left - 2 < IDLE_MS else IDLE_MS) / 1000.0)
