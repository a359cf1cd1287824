"""Fake `watchdog` module (CircuitPython): WatchDogMode, WatchDogTimeout, WatchDogTimer.

The timer records every feed on the virtual clock (fake supervisor) and the longest gap
between feeds, so a test can check that the loop fed it in time.
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
        self.deinited = False

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
            raise ValueError("watchdog timer is not running")
        now = supervisor.clock.us
        if self._last_us is not None:
            gap = (now - self._last_us) // 1000
            if gap > self.max_gap_ms:
                self.max_gap_ms = gap
        self._last_us = now
        self.feeds += 1

    def deinit(self):
        self._mode = None
        self.deinited = True

    def starved(self):
        """True if, by the virtual clock, the board would have been reset by now."""
        if self._mode is None or self._last_us is None:
            return False
        return (supervisor.clock.us - self._last_us) / 1e6 > self.timeout or self.max_gap_ms / 1000.0 > self.timeout
