"""Fake `watchdog` module (CircuitPython): WatchDogMode, WatchDogTimeout, WatchDogTimer.

Follows CircuitPython's documented behaviour: `feed()` on a watchdog that is not running
does nothing (no error); when a RAISE-mode watchdog fires it stops (mode None, as on the
ESP32) and WatchDogTimeout is raised in the running code (here: at the first feed after
the timeout passed on the virtual clock); stopping is `mode = None` (CircuitPython 10
has no deinit). The timer records every feed and the longest gap between feeds, so a
test can check that the loop fed it in time.
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
