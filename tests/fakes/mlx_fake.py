"""A fake adafruit_mlx90640.MLX90640 driver object (not an I2C-level simulation).

getFrame(buf) fills 768 temperatures (24 rows x 32 columns, deg C): a 22 C background with
an optional hot spot, and raises RuntimeError("Too many retries") - what the real driver
raises when the I2C host cannot keep up - on the calls listed in `fail_on` (1-based) or
on every call with `fail_always`. With `frames` it plays those frames instead, and with
`ta` it reports an ambient temperature through `_GetTa`, as the real driver computes it.
"""

import supervisor

ROWS = 24
COLS = 32


class FakeMLX90640:
    def __init__(self, bus=None, fail_on=(), fail_always=False, hot=None, error=RuntimeError,
                 frame_us=500000, frames=None, ta=None):
        self.bus = bus
        self.refresh_rate = 2
        self.calls = 0
        self.fail_on = tuple(fail_on)
        self.fail_always = fail_always
        self.hot = hot  # (row, col, excess) or None
        self.error = error
        self.frame_us = frame_us
        self.frames = frames  # optional: flat frames (768 deg C each) played in a loop
        self.ta = ta  # optional: the ambient reading, seen through _GetTa as the real driver's
        self._next = 0

    def _GetTa(self, frame_data):  # noqa: N802 (the driver's name)
        return self.ta

    def getFrame(self, buf):
        self.calls += 1
        supervisor.clock.advance_us(self.frame_us)
        if self.fail_always or self.calls in self.fail_on:
            raise self.error("Too many retries")
        if self.ta is not None:
            self._GetTa(None)
        if self.frames is not None:
            f = self.frames[self._next % len(self.frames)]
            self._next += 1
            for k in range(ROWS * COLS):
                buf[k] = f[k]
            return
        for r in range(ROWS):
            for c in range(COLS):
                buf[r * COLS + c] = 22.0 + 0.01 * c
        if self.hot is not None:
            r, c, ex = self.hot
            buf[r * COLS + c] += ex
