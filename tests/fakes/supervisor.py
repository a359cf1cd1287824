"""Fake `supervisor` (CircuitPython) for PC tests, with a virtual clock.

Time only moves when something spends it: every ticks_ms() call costs TICK_COST_US
(so busy-waits make progress), I2C transactions on the fake bus cost their bus time, and
`sleep(seconds)` (tests install it as time.sleep) jumps ahead. Runs the same on CPython and
MicroPython, so board code sees identical timing in both.
"""

TICKS_MASK = (1 << 29) - 1


class _Clock:
    def __init__(self):
        self.us = 0
        self.tick_cost_us = 50
        self.ticks_calls = 0
        self.watchers = []  # called after time moves (a RAISE watchdog fires from there)

    def advance_us(self, us):
        self.us += int(us)
        self.moved()

    def moved(self):
        for w in self.watchers:
            w()


clock = _Clock()


def reset_clock(start_ms=0, tick_cost_us=50):
    clock.watchers = []
    clock.us = int(start_ms) * 1000
    clock.tick_cost_us = tick_cost_us
    clock.ticks_calls = 0


def ticks_ms():
    clock.us += clock.tick_cost_us
    clock.ticks_calls += 1
    clock.moved()
    return (clock.us // 1000) & TICKS_MASK


def sleep(seconds):
    """A stand-in for time.sleep that advances the virtual clock."""
    if seconds > 0:
        clock.us += int(seconds * 1000000)
        clock.moved()


class _Runtime:
    serial_connected = True
    usb_connected = True
    serial_bytes_available = 0
    autoreload = True


runtime = _Runtime()
reloads = []


def reload():
    reloads.append(clock.us)


def set_next_code_file(filename, **kwargs):
    pass
