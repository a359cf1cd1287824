"""Fake `watchdog` module (CircuitPython): WatchDogMode, WatchDogTimeout, WatchDogTimer.

Written from adafruit/circuitpython shared-bindings/watchdog/WatchDogTimer.c and
ports/espressif/common-hal/watchdog/WatchDogTimer.c (10.x; see
/work/shared/notes/circuitpython-semantics.md): `feed()` on a watchdog that is not running
does nothing (no error); stopping is `mode = None` (10.x has no deinit); the timeout must
be set before the mode. A RAISE-mode timeout is raised ASYNCHRONOUSLY wherever the code is
when the time runs out -- inside a socket call, a sleep, an `except Exception:` block of a
transport -- and the watchdog's mode becomes None (here: from the fake supervisor's clock,
whenever virtual time moves: ticks_ms(), sleep(), bus time). RESET mode never raises
(`starved()` tells a test the board would have reset). The timer records every feed and
the longest gap between feeds.
"""

import supervisor


class WatchDogMode:
    RAISE = "WatchDogMode.RAISE"
    RESET = "WatchDogMode.RESET"


class WatchDogTimeout(Exception):
    pass


class WatchDogTimer:
    def __init__(self):
        self.timeout = None
        self._mode = None
        self.feeds = 0
        self.max_gap_ms = 0
        self._last_us = None
        self.fired = 0

    @property
    def mode(self):
        return self._mode

    @mode.setter
    def mode(self, m):
        if m is not None and not self.timeout:
            raise ValueError("watchdog timeout must be set before the mode")
        self._mode = m
        self._last_us = supervisor.clock.us
        if m is not None and self._check not in supervisor.clock.watchers:
            supervisor.clock.watchers.append(self._check)

    def _check(self):
        """The asynchronous RAISE: called whenever the virtual clock moves."""
        if self._mode == WatchDogMode.RAISE and self._last_us is not None and \
                (supervisor.clock.us - self._last_us) / 1e6 > self.timeout:
            gap = (supervisor.clock.us - self._last_us) // 1000
            if gap > self.max_gap_ms:
                self.max_gap_ms = gap
            self._mode = None
            self.fired += 1
            raise WatchDogTimeout("watchdog timed out")

    def feed(self):
        if self._mode is None:
            return  # CircuitPython: silently nothing
        now = supervisor.clock.us
        if self._last_us is not None:
            gap = (now - self._last_us) // 1000
            if gap > self.max_gap_ms:
                self.max_gap_ms = gap
            if gap / 1000.0 > self.timeout and self._mode == WatchDogMode.RAISE:
                self._mode = None
                self.fired += 1
                raise WatchDogTimeout("watchdog timed out")
        self._last_us = now
        self.feeds += 1

    @property
    def deinited(self):
        """True once the loop stopped the timer (mode None after it had run)."""
        return self._mode is None and self.feeds > 0

    def starved(self):
        """True if, by the virtual clock, the board would have been reset by now."""
        if self._mode is None or self._last_us is None:
            return False
        return (supervisor.clock.us - self._last_us) / 1e6 > self.timeout or self.max_gap_ms / 1000.0 > self.timeout
