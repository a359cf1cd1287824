"""A fake adafruit_mlx90640.MLX90640 driver object (not an I2C-level simulation).

getFrame(buf) fills 768 temperatures (24 rows x 32 columns, deg C): a 22 C background with
an optional hot spot, and raises RuntimeError("Too many retries") - what the real driver
raises when the I2C host cannot keep up - on the calls listed in `fail_on` (1-based) or
on every call with `fail_always`.
"""

import supervisor

ROWS = 24
COLS = 32


class FakeMLX90640:
    def __init__(self, bus=None, fail_on=(), fail_always=False, hot=None, error=RuntimeError,
                 frame_us=500000):
        self.bus = bus
        self.refresh_rate = 2
        self.calls = 0
        self.fail_on = tuple(fail_on)
        self.fail_always = fail_always
        self.hot = hot  # (row, col, excess) or None
        self.error = error
        self.frame_us = frame_us

    def getFrame(self, buf):
        self.calls += 1
        supervisor.clock.advance_us(self.frame_us)
        if self.fail_always or self.calls in self.fail_on:
            raise self.error("Too many retries")
        for r in range(ROWS):
            for c in range(COLS):
                buf[r * COLS + c] = 22.0 + 0.01 * c
        if self.hot is not None:
            r, c, ex = self.hot
            buf[r * COLS + c] += ex
