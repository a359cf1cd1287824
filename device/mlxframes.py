"""MLX90640 frames at sensor speed: the Adafruit driver for what it does once, a raw read
and device.mlxconv for every frame.

The driver (adafruit_mlx90640) probes the chip, reads the EEPROM, extracts the calibration
parameters and sets the refresh rate in its constructor; `FastFrames` then reads each
sub-page itself, as the driver's `_GetFrameData` does (wait for the status register's
new-data bit, clear it, read the 832 RAM words, re-read the status and retry up to 5
times if a newer sub-page arrived meanwhile, read the control register), but into one
preallocated bytearray through the driver's own I2CDevice (native on CircuitPython: no
allocation per transaction), without the driver's 1 ms sleeps, its 4 KB buffers, its
tuple per word; the conversion is `mlxconv.Converter`. While it waits for a sub-page it
calls `idle()` every IDLE_MS (watchdog, alert patterns) and sleeps 1 ms between polls.

`check()` is the start-up comparison: two raw sub-pages converted by both the fast path
and the driver's own `_CalculateTo` (same words, same emissivity and reflected
temperature); the caller falls back to the driver's getFrame when they differ by more
than TOLERANCE (or the fast path fails).
"""

from device import mlxconv
from device.ticks import ticks_diff

IDLE_MS = 20
TOLERANCE = 0.01  # deg C: the fast path must give the driver's temperatures
WORDS = 832
_STATUS = b"\x80\x00"
_RAM = b"\x04\x00"
_CONTROL = b"\x80\x0d"
_CLEAR = b"\x80\x00\x00\x30"  # status register: clear the new-data bit, keep overwrite on


class FastFrames:
    """Frames from a constructed driver `drv` into `frame` (a flat array('f') of 768)."""

    def __init__(self, drv, frame, ticks_ms, period_ms=500, sleep=None, emissivity=0.95):
        self.drv = drv
        self.dev = drv.i2c_device
        self.frame = frame
        self._ticks = ticks_ms
        self._sleep = sleep
        self.period_ms = int(period_ms)
        self.ram = bytearray(2 * WORDS)
        self._word = bytearray(2)
        self._out = bytearray(4)
        self.conv = mlxconv.Converter(drv, frame, emissivity)
        self.idle = None
        self.subpages = 0
        self.retries = 0
        self.control = 0
        self.subpage = 0
        self._last_idle = ticks_ms()

    # ---- I2C: one word, or the RAM into the preallocated buffer
    def _read_word(self, reg):
        buf = self._word
        dev = self.dev
        with dev:
            dev.write_then_readinto(reg, buf)
        return (buf[0] << 8) | buf[1]

    def _idle(self):
        now = self._ticks()
        if ticks_diff(now, self._last_idle) >= IDLE_MS:
            self._last_idle = now
            f = self.idle
            if f is not None:
                f()

    def read_subpage(self):
        """One raw sub-page into self.ram; returns its sub-page number (status bit 0).
        Raises RuntimeError("Too many retries") as the driver does when the host cannot
        keep up, and RuntimeError when no sub-page comes within two periods + 1 s."""
        ticks = self._ticks
        t0 = ticks()
        limit = 2 * self.period_ms + 1000
        dev = self.dev
        while True:
            st = self._read_word(_STATUS)
            if st & 0x0008:
                break
            self._idle()
            if ticks_diff(ticks(), t0) > limit:
                raise RuntimeError("MLX90640: no new sub-page in %d ms" % limit)
            if self._sleep is not None:
                self._sleep(0.001)
        cnt = 0
        ready = 1
        ram = self.ram
        while ready and cnt < 5:
            with dev:
                dev.write(_CLEAR)
            with dev:
                dev.write_then_readinto(_RAM, ram)
            st = self._read_word(_STATUS)
            ready = st & 0x0008
            cnt += 1
        if cnt > 4:
            raise RuntimeError("Too many retries")
        self.retries += cnt - 1
        self.control = self._read_word(_CONTROL)
        self.subpage = st & 0x0001
        self.subpages += 1
        return self.subpage

    def prepare(self):
        """Build the tables for the read mode the control register is set to (once; the
        converter rebuilds them if the mode changes and the driver's lists are still there)."""
        self.control = self._read_word(_CONTROL)
        mode = mlxconv.mode_of(self.control)
        if self.conv.mode != mode:
            self.conv._build(mode)

    def read(self):
        """A whole frame (two sub-pages) converted into `frame`; returns Ta (deg C)."""
        ta = None
        for _ in range(2):
            sp = self.read_subpage()
            self._idle()
            ta = self.conv.convert(self.ram, self.control, sp)
        return ta

    # ---- the start-up comparison with the driver's own conversion
    def check(self, tolerance=TOLERANCE):
        """(ok, max |difference| deg C, pixel): two sub-pages read once and converted by
        both paths. Allocates (the driver's frame lists); run it once at start."""
        drv_out = [0.0] * 768
        fr = self.frame
        for _ in range(2):
            sp = self.read_subpage()
            self.conv.convert(self.ram, self.control, sp)
            mlxconv.driver_convert(self.drv, self.ram, self.control, sp, drv_out, self.conv.emissivity,
                                   self.conv.tr_shift)
        worst = 0.0
        at = -1
        for p in range(768):
            d = abs(fr[p] - drv_out[p])
            if not d <= worst:  # NaN counts as a difference
                worst = d if d == d else float("inf")
                at = p
        return worst <= tolerance, worst, at
