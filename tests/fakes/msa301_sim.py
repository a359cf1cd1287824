"""A simulated MSA301 on the fake I2C bus, with the chip's register map.

Registers the Adafruit driver uses: 0x01 part id (0x13), 0x02-0x07 X/Y/Z data (14-bit,
left-justified, little endian), 0x0F resolution/range, 0x10 ODR (and axis disables),
0x11 power mode/bandwidth, plus the tap/interrupt registers (plain storage). Writes set
the register pointer and auto-increment, reads start at the pointer.

The acceleration comes from `signal(t) -> (gx, gy, gz)` in g at the virtual time of the
read (fake supervisor clock), held between output-data-rate ticks like the real chip; in
suspend mode (the power-on default until the driver sets NORMAL) the data registers
freeze. Faults: `fail_next` transactions raise OSError (EIO), `fail_always` keeps failing.
"""

import math

import supervisor

ADDRESS = 0x26
PART_ID = 0x13
ODR_HZ = (1.0, 1.95, 3.9, 7.81, 15.63, 31.25, 62.5, 125.0, 250.0, 500.0, 1000.0)
COUNTS_PER_G = (4096, 2048, 1024, 512)
READ_ONLY = (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09)


def default_signal(t):
    """Gravity on z plus two small vibrations (13 Hz on x, 29 Hz on y)."""
    return (0.05 * math.sin(2 * math.pi * 13.0 * t),
            0.03 * math.sin(2 * math.pi * 29.0 * t) + 0.1,
            1.0 + 0.01 * math.sin(2 * math.pi * 7.0 * t))


def from_rows(rows, rate):
    """A signal that plays recorded (x, y, z) rows at `rate` Hz, looping."""
    n = len(rows)

    def sig(t):
        return rows[int(t * rate) % n]

    return sig


class MSA301Sim:
    def __init__(self, signal=None):
        self.signal = signal if signal is not None else default_signal
        self.regs = bytearray(0x40)
        self.power_on()
        self.fail_next = 0
        self.fail_always = False
        self.errno = 5
        self.reads = 0
        self.data_reads = 0
        self.writes = []

    def power_on(self):
        """Register defaults after power-up: suspend mode, data frozen at zero."""
        for i in range(len(self.regs)):
            self.regs[i] = 0
        self.regs[0x01] = PART_ID
        self.regs[0x10] = 0x0F
        self.regs[0x11] = 0xDE
        self.ptr = 0

    # -- helpers for tests ------------------------------------------------------
    @property
    def range_g(self):
        return (2, 4, 8, 16)[self.regs[0x0F] & 3]

    @property
    def odr_hz(self):
        code = self.regs[0x10] & 0x0F
        return ODR_HZ[code] if code < len(ODR_HZ) else 1000.0

    @property
    def power_mode(self):
        return (self.regs[0x11] >> 6) & 3

    @property
    def bandwidth_code(self):
        return (self.regs[0x11] >> 1) & 0x0F

    def _maybe_fail(self):
        if self.fail_always:
            raise OSError(self.errno, "I2C transaction failed")
        if self.fail_next > 0:
            self.fail_next -= 1
            raise OSError(self.errno, "I2C transaction failed")

    def _latch(self):
        if self.power_mode != 0:  # suspend / low power: no new data
            return
        t = supervisor.clock.us / 1000000.0
        odr = self.odr_hz
        t = math.floor(t * odr) / odr
        g = self.signal(t)
        cpg = COUNTS_PER_G[self.regs[0x0F] & 3]
        for axis in range(3):
            c = int(round(g[axis] * cpg))
            if c > 8191:
                c = 8191
            if c < -8192:
                c = -8192
            v = (c << 2) & 0xFFFF
            self.regs[0x02 + 2 * axis] = v & 0xFF
            self.regs[0x03 + 2 * axis] = (v >> 8) & 0xFF

    # -- the bus side -----------------------------------------------------------
    def write(self, data):
        self._maybe_fail()
        if not data:
            return  # a probe
        self.ptr = data[0]
        for b in data[1:]:
            if self.ptr not in READ_ONLY and self.ptr < len(self.regs):
                self.regs[self.ptr] = b
                self.writes.append((self.ptr, b))
            self.ptr += 1

    def read(self, n):
        self._maybe_fail()
        self.reads += 1
        if self.ptr <= 0x02 < self.ptr + n:
            self._latch()
            self.data_reads += 1
        out = bytes(self.regs[self.ptr:self.ptr + n])
        self.ptr += n
        return out
