"""supervisor stand-in (tests/mp_heap.py): ticks_ms on a virtual clock, wrapping at 2**29
as CircuitPython's.

The clock advances as it is read: each call returns 1 ms more than the call before (the
first returns 1), whatever real time passed. The accelerometer busy-waits on ticks_ms for
its 200 Hz pacing (device/sensors.py _Paced._wait_until), so a window of 200 samples is
about 1000 calls and 1000 virtual ms: the sensor sees its configured rate (rate_ok), the
app's 24 windows take ~1 s of real time instead of 24 s, and a run is deterministic (no
dependence on the machine's load). Code that waits on ticks for something outside
(timeouts in MiniMQTT through adafruit_ticks, the send budget) counts calls instead of
milliseconds; time.sleep (the app's back-offs) stays real and does not move this clock.
No allocation: the count is a small int kept in a one-element list.
"""

_T = [0]


def ticks_ms():
    t = (_T[0] + 1) & 0x1FFFFFFF
    _T[0] = t
    return t
