"""Stand-in for CircuitPython's `rtc` module, from circuitpython-stubs 10.3.1
(rtc-stubs/__init__.pyi): `RTC()` is a singleton; its `datetime` is a time.struct_time,
settable; once set the clock runs on, and it backs time.time() / time.localtime().
A board's RTC starts at 2000-01-01 00:00:00 after power-up.

CPython's time.time() cannot be redirected, so `time()` here stands for the board's
time.time() (an int of seconds, as on CircuitPython), and virtual time moves only when a
test calls `advance(seconds)`. `reset()` is a power cycle."""

import calendar
import time as _time

_POWER_UP = 946684800  # 2000-01-01 00:00:00
_state = {"base": _POWER_UP, "elapsed": 0}


def reset():
    _state["base"] = _POWER_UP
    _state["elapsed"] = 0
    RTC._instance = None


def advance(seconds):
    _state["elapsed"] += int(seconds)


def time():
    return _state["base"] + _state["elapsed"]


class RTC:
    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    @property
    def datetime(self):
        return _time.gmtime(time())

    @datetime.setter
    def datetime(self, value):
        if not isinstance(value, _time.struct_time):
            raise TypeError("datetime must be a struct_time")
        _state["base"] = calendar.timegm(value) - _state["elapsed"]

    calibration = 0
