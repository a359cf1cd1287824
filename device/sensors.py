"""Window sources: the shared pieces (buffers, pacing, errors), the MSA301 accelerometer
and in-memory replays. The thermal camera is device/camera.py, CSV replays device/replay.py;
the window buffers and the pacing all of them share are device/xp.py's window_buffers and
device/ticks.py's _Paced (modules every board holds: a CSV replay does not hold this one).

Every source has `read()`, which returns the same preallocated window each time, refilled:
for the accelerometer a list of one ndarray view per axis (window samples in g, in
array('f') buffers that the sampling loop stores into without allocating: an ndarray
element store allocates a temporary array on the board), for the thermal camera a
(24, 32) frame in degrees C over an array('f') the driver fills (its buffer:
device/framebuf.py).
It returns None when a replay has nothing more to play, and raises OSError / ValueError /
RuntimeError on a sensor problem; the app retries a bounded number of times and then
calls `recover()` (drop the driver, re-probe the bus on the next read).

Real sensors get their I2C bus (or a function that makes it) in the constructor and use
the Adafruit drivers (adafruit_msa3xx, adafruit_mlx90640) imported on first use, so this
module imports nothing from the hardware. While a window is being filled, the sensor
calls `idle()` (set by the app) every few tens of milliseconds: the app feeds the
watchdog and advances alert patterns there, so a one-second window never blocks them.

Timing uses integer milliseconds from `ticks_ms` (supervisor.ticks_ms on the board: no
allocation, wraps at 2**29). Sample times are measured and kept in `times` (ms from the
window start); `rate_measured` is the achieved rate and `rate_ok` is False when it falls
more than 5 % short of the configured rate.
"""

import array

from device.ticks import IDLE_MS, TICKS_MASK, _Paced, default_ticks, ticks_diff  # noqa: F401 (re-exported)
from device.xp import window_buffers

RATE_TOLERANCE = 0.95
MSA_DATA_REG = b"\x02"
STANDARD_GRAVITY = 9.806  # the driver's constant (acceleration is in m/s^2)


class SensorError(RuntimeError):
    """The sensor cannot be reached or configured (the message says which and why)."""


def _index_of(value, table, what):
    for i in range(len(table)):
        if abs(table[i] - value) <= 1e-6 * max(1.0, table[i]):
            return i
    raise ValueError("%s %r is not one of %s" % (what, value, ", ".join(str(v) for v in table)))


class ReplaySensor:
    """Plays a sequence of windows held in memory, each an (axes, window) array.
    read() returns None at the end, or starts over when loop=True."""

    kind = "accel"

    def __init__(self, windows, loop=False):
        self._windows = windows
        self._i = 0
        self.loop = loop

    def read(self):
        if self._i >= len(self._windows):
            if not self.loop or not len(self._windows):
                return None
            self._i = 0
        w = self._windows[self._i]
        self._i += 1
        return w


def _forget_driver(sensor):
    """Drop a sensor's driver, and release the bus when the sensor created it."""
    sensor._drv = None
    if sensor._bus_factory is not None and sensor._bus is not None:
        try:
            sensor._bus.deinit()
        except Exception:
            pass
        sensor._bus = None


def _driver_modules():
    """The MSA301 driver's modules now in sys.modules (adafruit_msa3xx, adafruit_register.*)."""
    import sys

    return [k for k in sys.modules if k.startswith("adafruit_msa3xx") or k.startswith("adafruit_register")]


class MSA301Sensor(_Paced):
    """Windows from an MSA301 through adafruit_msa3xx.

    The driver probes the chip (id 0x13), and sets data rate, bandwidth and range; samples
    are then read at `rate` Hz (paced by ticks_ms, sample times kept in `times`). With
    read="raw" (default) each sample is one 6-byte burst read from the data registers
    through the driver's own I2CDevice into a preallocated buffer (no allocation per
    sample), and the driver's modules leave the heap once the chip is set up (they come
    back only to set it up again after a fault); read="driver" keeps the driver and uses its
    `acceleration` property (two I2C reads and a tuple per sample). Values are in g, like the recordings the models are trained on.
    A window whose samples are all identical raises SensorError (the chip fell back to
    suspend mode after a power glitch, for instance): recover() then re-initialises it.
    """

    kind = "accel"

    def __init__(self, bus=None, window=200, rate=200.0, range_g=4, data_rate=500.0,
                 bandwidth=250.0, read="raw", ticks_ms=None, bus_factory=None,
                 driver_factory=None, buffers=None):
        if bus is None and bus_factory is None:
            raise ValueError("MSA301Sensor needs a bus or a bus_factory")
        self.window = int(window)
        self.rate = float(rate)
        self.axes = 3
        from device import chips  # setup-only (wiring.SETUP_MODULES): its tables are not kept

        self._range_i = _index_of(range_g, chips.MSA_RANGES, "accelerometer range")
        self._rate_code = chips.MSA_DATA_RATE_CODES[_index_of(data_rate, chips.MSA_DATA_RATES, "data rate")]
        self._bw_code = chips.MSA_BANDWIDTH_CODES[_index_of(bandwidth, chips.MSA_BANDWIDTHS, "bandwidth")]
        self.range_g = chips.MSA_RANGES[self._range_i]
        self._inv = 1.0 / chips.MSA_COUNTS_PER_G[self._range_i]
        self.raw = read != "driver"
        self._bus = bus
        self._bus_factory = bus_factory
        self._driver_factory = driver_factory
        self._ticks = ticks_ms if ticks_ms is not None else default_ticks()
        self._drv = None
        self._dev = None
        self._buf = bytearray(6)
        self._bufs, self.win = window_buffers(3, self.window, buffers)
        self.times = array.array("H", [0] * self.window)
        self._period_us = int(1000000.0 / self.rate)
        self.rate_measured = self.rate
        self.rate_ok = True
        self.inits = 0

    # ---- set-up and recovery -----------------------------------------------------
    def _make_driver(self, bus):
        if self._driver_factory is not None:
            return self._driver_factory(bus)
        import adafruit_msa3xx

        return adafruit_msa3xx.MSA301(bus)

    def _ensure(self):
        if self._dev is not None:
            return
        # the raw path lets go of the driver's code once the chip is set up (below)
        before = _driver_modules() if self.raw and self._driver_factory is None else None
        try:
            if self._bus is None:
                self._bus = self._bus_factory()
            drv = self._make_driver(self._bus)
            drv.data_rate = self._rate_code
            drv.bandwidth = self._bw_code
            drv.range = self._range_i
            got = drv.range
        except AttributeError as e:  # the driver's "Cannot find a MSA301"
            raise SensorError("MSA301: %s" % (e,))
        except ValueError as e:  # "No I2C device at address: 0x26"
            raise SensorError("MSA301: %s" % (e,))
        except RuntimeError as e:  # busio: "No pull up found on SDA or SCL"
            raise SensorError("I2C bus: %s" % (e,))
        if got != self._range_i:
            raise SensorError("MSA301: range register reads %r after writing %r" % (got, self._range_i))
        self._dev = drv.i2c_device
        self.inits += 1
        if before is None:
            self._drv = drv
            return
        # Raw reads go through the driver's I2CDevice alone, so the driver's code and its
        # register descriptors (adafruit_msa3xx + adafruit_register: 22 KB on the MicroPython
        # port, measured) leave the heap; recover() sets the chip up through the driver again.
        import sys

        for name in _driver_modules():
            if name not in before:
                sys.modules.pop(name, None)

    def recover(self):
        """Forget the driver (and the bus if we made it): the next read re-probes."""
        self._dev = None
        _forget_driver(self)

    # ---- sampling ----------------------------------------------------------------
    def read(self):
        self._ensure()
        ticks = self._ticks
        n = self.window
        period_us = self._period_us
        times = self.times
        bx, by, bz = self._bufs
        raw = self.raw
        inv = self._inv
        dev = self._dev
        buf = self._buf
        reg = MSA_DATA_REG
        drv = self._drv
        late_ms = 2 * period_us // 1000 + 2
        offset = 0
        same = 0
        px = py = pz = None
        t0 = ticks()
        last_idle = 0
        for i in range(n):
            target = offset + (i * period_us) // 1000
            el = self._wait_until(t0, target)
            if el - target > late_ms:
                offset += el - target  # fell behind: re-anchor rather than burst
            if raw:
                with dev:
                    dev.write_then_readinto(reg, buf)
                x = buf[0] | (buf[1] << 8)
                y = buf[2] | (buf[3] << 8)
                z = buf[4] | (buf[5] << 8)
                if x & 0x8000:
                    x -= 0x10000
                if y & 0x8000:
                    y -= 0x10000
                if z & 0x8000:
                    z -= 0x10000
                if x == px and y == py and z == pz:
                    same += 1
                px, py, pz = x, y, z
                gx = (x >> 2) * inv
                gy = (y >> 2) * inv
                gz = (z >> 2) * inv
            else:
                ax, ay, az = drv.acceleration
                gx = ax / STANDARD_GRAVITY
                gy = ay / STANDARD_GRAVITY
                gz = az / STANDARD_GRAVITY
                if gx == px and gy == py and gz == pz:
                    same += 1
                px, py, pz = gx, gy, gz
            bx[i] = gx
            by[i] = gy
            bz[i] = gz
            times[i] = el if el < 65536 else 65535
            if el - last_idle >= IDLE_MS:
                last_idle = el
                self._idle_call()
        if n > 1 and same >= n - 1:
            raise SensorError("MSA301: all %d samples identical (sensor stuck or in suspend)" % n)
        span = times[n - 1] - times[0]
        self.rate_measured = (n - 1) * 1000.0 / span if span > 0 else self.rate
        self.rate_ok = self.rate_measured >= RATE_TOLERANCE * self.rate
        return self.win
