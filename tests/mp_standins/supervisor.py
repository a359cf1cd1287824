"""supervisor stand-in (tests/mp_heap.py): ticks_ms wrapping at 2**29, as CircuitPython's."""

import time


def ticks_ms():
    return time.ticks_ms() & 0x1FFFFFFF
