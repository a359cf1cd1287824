"""Window sources: MSA301 accelerometer, MLX90640 thermal camera, and replays.

Every source has `read()`, which returns the same preallocated window each time, refilled:
for the accelerometer a list of one ndarray view per axis (window samples in g, in
array('f') buffers that the sampling loop stores into without allocating: an ndarray
element store allocates a temporary array on the board), for the thermal camera a
(24, 32) frame in degrees C over an array('f') the driver fills.
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
import os

from device import xp
from device.chips import (MLX_COLS, MLX_REFRESH, MLX_ROWS, MSA_BANDWIDTH_CODES, MSA_BANDWIDTHS,
                          MSA_COUNTS_PER_G, MSA_DATA_RATE_CODES, MSA_DATA_RATES, MSA_RANGES)
from device.ticks import TICKS_MASK, default_ticks, ticks_diff  # noqa: F401 (re-exported)

IDLE_MS = 20
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


def window_buffers(axes, n, buffers=None):
    """(array('f') buffers, window) for `axes` signals of `n` samples.

    Samples are stored into the array('f') buffers (no allocation per store on the board,
    where an ndarray element store builds a temporary array); `window[a]` is an ndarray
    view sharing buffer a's memory, which is what features read. `buffers` may be given
    (e.g. a feature extractor's padded inputs, from its input_views()) as (buffers,
    views): the sensor then fills them directly and nothing is copied. Without an array
    library (plain MicroPython) the window is the list of buffers.
    """
    if buffers is not None:
        bufs, views = buffers
        if len(bufs) != axes or len(views[0]) != n:
            raise ValueError("window buffers do not fit %d x %d samples" % (axes, n))
        return bufs, views
    bufs = [xp.fbuf(n) for _ in range(axes)]
    if xp.np is None:
        return bufs, bufs
    return bufs, [xp.view(b) for b in bufs]


def frame_buffer(rows, cols):
    """(array('f') of rows*cols, its flat ndarray view or None) for thermal frames."""
    buf = xp.fbuf(rows * cols)
    return buf, (xp.view(buf) if xp.np is not None else None)


def frame_of(flat, rows, cols, buf):
    """(frame, shared): the frame as a (rows, cols) array, and whether it shares the
    buffer's memory (then it stays valid for every later frame; otherwise it has to be
    made again after each fill). Without an array library the frame is the buffer."""
    if flat is None:
        return buf, True
    frame = flat.reshape((rows, cols))
    old = buf[0]
    buf[0] = 1.0
    shared = float(frame[0, 0]) == 1.0
    buf[0] = old
    return frame, shared


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


class _Paced:
    """Shared by sensors: idle hook, clock and sleep."""

    idle = None
    _sleep = None

    def _idle_call(self):
        f = self.idle
        if f is not None:
            f()

    def _wait_until(self, t0, target_ms):
        """Busy-wait (calling idle every IDLE_MS) until target_ms after t0; returns
        the elapsed ms when done."""
        ticks = self._ticks
        last = -IDLE_MS
        while True:
            el = ticks_diff(ticks(), t0)
            if el >= target_ms:
                return el
            if el - last >= IDLE_MS:
                last = el
                self._idle_call()
            left = target_ms - el
            if self._sleep is not None and left > 4:
                self._sleep((left - 2 if left - 2 < IDLE_MS else IDLE_MS) / 1000.0)


class CsvReplaySensor(_Paced):
    """Plays CSV recordings from a folder on the drive, window by window.

    accel: rows of `x,y,z` in g (the ceiling-fan format), `window` rows per window;
    thermal: one frame per row (768 values in degrees C after any leading columns, the
    recording format of device/thermal.py), or blocks of 24 rows of 32 values. Files are taken in name
    order; a window never spans two files (the host cuts windows the same way), so a
    replay on the board sees the same windows as `host_tools simulate`. Lines follow
    device.csvrows, as on the host: a header allowed on the first line, blank lines
    skipped, values finite and physically possible; a bad line raises ValueError naming
    the file and line (the app counts it and the next read goes on with the next
    window). realtime=True spaces windows at the recording's rate.
    """

    def __init__(self, folder, kind="accel", window=200, rate=200.0, axes=3, loop=True,
                 realtime=False, ticks_ms=None, sleep=None, listdir=None, opener=None,
                 buffers=None):
        self.folder = folder
        self.kind = kind
        if kind == "thermal":
            self.rows_n, self.cols_n, self.transpose = MLX_ROWS, MLX_COLS, False
            self.window = MLX_ROWS
        else:
            self.rows_n, self.cols_n, self.transpose = int(window), int(axes), True
            self.window = int(window)
        self.rate = float(rate)
        self.axes = int(axes)
        self.loop = loop
        self.realtime = realtime
        self._ticks = ticks_ms if ticks_ms is not None else default_ticks()
        self._sleep = sleep
        self._listdir = listdir if listdir is not None else os.listdir
        self._open = opener if opener is not None else open
        if self.transpose:
            self._bufs, self.win = window_buffers(self.cols_n, self.rows_n, buffers)
        else:
            self._buf, self._flat = frame_buffer(self.rows_n, self.cols_n)
            self.win, self._shared = frame_of(self._flat, self.rows_n, self.cols_n, self._buf)
        from device import csvrows

        self._rows = csvrows.Rows(kind)
        self._row = array.array("f", [0.0] * self.cols_n)
        self.files = None
        self._fi = 0
        self._f = None
        self._pending = None
        self._amb_col = None
        self._line = 0
        self.ambient = None
        self._last = None
        self.windows = 0
        self.rate_measured = self.rate
        self.rate_ok = True
        per_read = 1 if kind == "thermal" else self.window  # samples per read
        self.period_ms = int(1000.0 * per_read / self.rate)

    def _list(self):
        try:
            names = self._listdir(self.folder)
        except OSError:
            raise OSError(2, "replay folder %r not found" % self.folder)
        from device.csvrows import natural_key

        files = sorted([n for n in names if n.lower().endswith(".csv") and not n.startswith(".")], key=natural_key)
        if not files:
            raise OSError(2, "replay folder %r has no .csv files" % self.folder)
        self.files = files

    def _open_next(self):
        """Open the next file; returns False when the replay is over."""
        if self._f is not None:
            self._f.close()
            self._f = None
        if self._fi >= len(self.files):
            if not self.loop:
                return False
            self._fi = 0
        path = self.folder + "/" + self.files[self._fi]
        self._fi += 1
        self._f = self._open(path, "r")
        self._path = path
        self._rows.start(path)
        self._line = 0
        self._amb_col = None
        self._pending = None
        return True

    def _fill(self):
        """Fill the window from the current file; False if the file ended first. Rows
        follow device.csvrows (the host's rules): a bad line raises ValueError naming the
        file and the line as an editor numbers it."""
        if not self.transpose:
            return self._fill_frame()
        return self._fill_rows()

    def _fill_frame(self):
        """One thermal frame: a row of 768 values after any leading columns (the
        recording format of device/thermal.py; a header names the leading columns, and
        one named `ambient` or `ta` gives `ambient`), or a block of 24 rows of 32
        (device.csvrows' thermal rows)."""
        f = self._f
        n = MLX_ROWS * MLX_COLS
        flat = self._buf
        while True:
            line = f.readline()
            if not line:
                return False
            self._line += 1
            s = line.strip()
            if s:
                break
            self._rows.feed(line)  # keeps the block reader's line numbers right
        cells = s.split(",")
        if len(cells) < n:  # a block of rows: the first line goes to the row reader
            self._pending = line
            return self._fill_rows()
        lead = len(cells) - n
        try:
            float(cells[lead])
        except ValueError:
            if self._line == 1:  # a header: find the ambient column
                self._amb_col = -1
                for k in range(lead):
                    nm = cells[k].strip().lower()
                    if nm == "ambient" or nm == "ta":
                        self._amb_col = k
                return self._fill_frame()
            raise ValueError("%s: line %d has a non-numeric value %r" % (self._path, self._line, cells[lead].strip()))
        for k in range(n):
            c = cells[lead + k]
            try:
                v = float(c)
            except ValueError:
                raise ValueError("%s: line %d has a non-numeric value %r" % (self._path, self._line, c.strip()))
            if not -60.0 <= v <= 400.0:  # NaN fails too
                raise ValueError("%s: line %d has %s, outside the physical range of thermal data "
                                 "(-60..400 deg C)" % (self._path, self._line, c.strip()))
            flat[k] = v
        if self._amb_col is None:
            self._amb_col = -1
        if 0 <= self._amb_col < lead:
            try:
                self.ambient = float(cells[self._amb_col])
            except ValueError:
                self.ambient = None
        return True

    def _fill_rows(self):
        f = self._f
        n = self.rows_n
        cols = self.cols_n
        transpose = self.transpose
        bufs = self._bufs if transpose else None
        flat = None if transpose else self._buf
        rows = self._rows
        row = self._row
        r = 0
        while r < n:
            if self._pending is not None:  # a block's first line, read by _fill_frame
                line = self._pending
                self._pending = None
            else:
                line = f.readline()
                if not line:
                    return False
            if rows.feed(line, row) is None:
                continue
            if transpose:
                for c in range(cols):
                    bufs[c][r] = row[c]
            else:
                base = r * cols
                for c in range(cols):
                    flat[base + c] = row[c]
            r += 1
        return True

    def read(self):
        if self.files is None:
            self._list()
        if self._f is None and not self._open_next():
            return None
        tries = 0
        while not self._fill():
            tries += 1
            if tries > len(self.files) + 1 or not self._open_next():
                if tries > len(self.files) + 1:
                    raise ValueError("replay folder %r has no file with a whole window" % self.folder)
                return None
        if self.realtime:
            self._pace()
        self.windows += 1
        if not self.transpose and not self._shared:
            self.win = self._flat.reshape((self.rows_n, self.cols_n))
        return self.win

    def _pace(self):
        now = self._ticks()
        if self._last is not None:
            self._wait_until(self._last, self.period_ms)
            now = self._ticks()
        self._last = now

    def recover(self):
        pass

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None


def _forget_driver(sensor):
    """Drop a sensor's driver, and release the bus when the sensor created it."""
    sensor._drv = None
    if sensor._bus_factory is not None and sensor._bus is not None:
        try:
            sensor._bus.deinit()
        except Exception:
            pass
        sensor._bus = None


class MSA301Sensor(_Paced):
    """Windows from an MSA301 through adafruit_msa3xx.

    The driver probes the chip (id 0x13), and sets data rate, bandwidth and range; samples
    are then read at `rate` Hz (paced by ticks_ms, sample times kept in `times`). With
    read="raw" (default) each sample is one 6-byte burst read from the data registers
    through the driver's own I2CDevice into a preallocated buffer (no allocation per
    sample); read="driver" uses the driver's `acceleration` property (two I2C reads and a
    tuple per sample). Values are in g, like the recordings the models are trained on.
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
        self._range_i = _index_of(range_g, MSA_RANGES, "accelerometer range")
        self._rate_code = MSA_DATA_RATE_CODES[_index_of(data_rate, MSA_DATA_RATES, "data rate")]
        self._bw_code = MSA_BANDWIDTH_CODES[_index_of(bandwidth, MSA_BANDWIDTHS, "bandwidth")]
        self.range_g = MSA_RANGES[self._range_i]
        self._inv = 1.0 / MSA_COUNTS_PER_G[self._range_i]
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
        if self._drv is not None:
            return
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
        self._drv = drv
        self._dev = drv.i2c_device
        self.inits += 1

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


_DRIVER_PIXEL_LISTS = ("alpha", "offset", "kta", "kv")


def restore_driver_lists(mod):
    """Put back the per-pixel lists (filled by index) a fast-path sensor released from
    adafruit_mlx90640, before a driver is made."""
    cls = mod.MLX90640
    for name in _DRIVER_PIXEL_LISTS:
        if getattr(cls, name, 0) is None:
            setattr(cls, name, [0] * 768)
    if getattr(mod, "eeData", 0) is None:
        mod.eeData = [0] * 832


class MLX90640Sensor(_Paced):
    """24 x 32 frames in degrees C from an MLX90640 through adafruit_mlx90640.

    read="fast" (default): the driver probes, reads the EEPROM, extracts the parameters
    and sets the refresh rate; every frame is then read and converted by
    device.mlxframes / device.mlxconv (a raw read into a preallocated buffer, the
    conversion in ulab: the driver's temperatures at a fraction of its time and heap).
    At the first start the two paths convert the same two sub-pages: if they differ by
    more than 0.01 deg C, or the fast path fails (another driver version), the sensor
    says so on the console and uses the driver's getFrame. read="driver" uses getFrame
    from the start. `path` tells which one runs.

    The driver raises RuntimeError("Too many retries") (ValueError in older releases)
    when the I2C host cannot keep up with the refresh rate (the fast path raises the
    same); the app retries and counts. Frames with non-finite pixels raise ValueError.
    Bad and outlier pixels (the driver's lists from the EEPROM; the driver writes
    -273.15 there) are replaced by the mean of their good 4-neighbours, as Melexis's
    library does, so one dead pixel does not make every frame invalid.
    """

    kind = "thermal"

    def __init__(self, bus=None, refresh_hz=2.0, bus_factory=None, driver_factory=None,
                 ticks_ms=None, read="fast", sleep=None, log=None):
        if bus is None and bus_factory is None:
            raise ValueError("MLX90640Sensor needs a bus or a bus_factory")
        if read not in ("fast", "driver"):
            raise ValueError("MLX90640 read must be fast or driver, got %r" % (read,))
        self._refresh_code = _index_of(refresh_hz, MLX_REFRESH, "refresh rate")
        self.refresh_hz = MLX_REFRESH[self._refresh_code]
        self.rate = self.refresh_hz / 2.0  # a whole frame is two sub-pages
        self.window = MLX_ROWS
        self.axes = MLX_COLS
        self._bus = bus
        self._bus_factory = bus_factory
        self._driver_factory = driver_factory
        self._ticks = ticks_ms if ticks_ms is not None else default_ticks()
        self._sleep = sleep
        self._log = log
        self.read_mode = read
        self.path = read  # "fast" or "driver": what runs now
        self.check_result = None  # (ok, max |delta| deg C, pixel) of the start-up comparison
        self._fast = None
        self._drv = None
        # The driver writes the frame element by element into any sequence: an array('f')
        # takes it without allocating, and the ndarray frame shares its memory.
        self._buf, self._flat = frame_buffer(MLX_ROWS, MLX_COLS)
        self.win, self._shared = frame_of(self._flat, MLX_ROWS, MLX_COLS, self._buf)
        self.rate_measured = self.rate
        self.rate_ok = True
        self._last = None
        self.inits = 0
        self.ambient = None  # the chip's ambient temperature (deg C) of the last frame
        self.bad_pixels = ()
        self._released = False

    def _say(self, msg):
        if self._log is not None:
            self._log(msg)

    def _ensure(self):
        if self._drv is not None:
            return
        try:
            if self._bus is None:
                self._bus = self._bus_factory()
            if self._driver_factory is not None:
                drv = self._driver_factory(self._bus)
            else:
                import adafruit_mlx90640

                # 1.3.9 appends broken/outlier pixels to lists shared by the class: a
                # second driver (after recover()) would find every pixel twice and refuse
                # the chip ("Adjacent broken pixels"). Start each driver with empty lists.
                cls = adafruit_mlx90640.MLX90640
                for name in ("brokenPixels", "outlierPixels"):
                    lst = getattr(cls, name, None)
                    if isinstance(lst, list):
                        del lst[:]
                restore_driver_lists(adafruit_mlx90640)
                drv = adafruit_mlx90640.MLX90640(self._bus)
            drv.refresh_rate = self._refresh_code
        except (AttributeError, ValueError) as e:
            raise SensorError("MLX90640: %s" % (e,))
        except RuntimeError as e:
            raise SensorError("MLX90640 / I2C bus: %s" % (e,))
        self._hook(drv)
        self._drv = drv
        self.bad_pixels = tuple(getattr(drv, "brokenPixels", ())) + tuple(getattr(drv, "outlierPixels", ()))
        self.inits += 1
        if self.path == "fast":
            self._start_fast(drv)

    def _start_fast(self, drv):
        """The fast path on this driver, checked against the driver's own conversion the
        first time (a later re-init after a fault reuses the verdict)."""
        self._fast = None
        try:
            from device import mlxframes

            fast = mlxframes.FastFrames(drv, self._buf, self._ticks, period_ms=int(1000 / self.refresh_hz),
                                        sleep=self._sleep)
            fast.idle = self._idle_call
            fast.prepare()
            if self.check_result is None:
                self.check_result = fast.check()
        except MemoryError:
            self._fall_back("not enough memory for its tables")
            return
        except Exception as e:  # another driver version, an I2C error in the check: the driver decides
            self._fall_back("%s: %s" % (type(e).__name__, e))
            return
        ok, worst, at = self.check_result
        if not ok:
            self._fall_back("it differs from the driver by %.4f deg C at row %d col %d" % (
                worst, at // MLX_COLS, at % MLX_COLS))
            return
        self._fast = fast
        if self._driver_factory is None:
            self._release_driver_lists()

    def _release_driver_lists(self):
        """The fast path has its tables: the driver's own per-pixel lists (alpha, offset,
        kta, kv: 4 x 768 ints, class attributes in 1.3.9) and its module-level EEPROM
        copy (832 ints) are only needed to build a driver again, so they leave the heap
        (about 16 KB on the board); _ensure puts fresh lists back before the next driver."""
        try:
            import adafruit_mlx90640
        except ImportError:
            return
        cls = adafruit_mlx90640.MLX90640
        for name in _DRIVER_PIXEL_LISTS:
            if not isinstance(getattr(cls, name, None), list):
                return
        for name in _DRIVER_PIXEL_LISTS:
            setattr(cls, name, None)
        adafruit_mlx90640.eeData = None
        self._released = True
        try:
            import gc

            gc.collect()
        except ImportError:
            pass

    def _fall_back(self, why):
        self.path = "driver"
        self._fast = None
        self._say("# MLX90640: fast frame path not used (%s); using the driver's getFrame "
                  "(MLX_READ = \"driver\" skips this check)" % why)
        try:
            import gc

            gc.collect()
        except ImportError:
            pass

    def _hook(self, drv):
        """Two instance-level wrappers around adafruit_mlx90640's internals (when the
        driver has them): `_GetTa` so the sensor keeps the chip's own ambient reading
        (`ambient`, deg C: the scalar channel "ambient"), and `_I2CReadWords` so the
        driver's busy-wait for a sub-page (it polls the status register 0x8000 for up to
        a refresh period, twice per frame) calls idle(): the watchdog is fed and the alert
        patterns advance during the wait instead of after it."""
        get_ta = getattr(drv, "_GetTa", None)
        if get_ta is not None:
            def ta(frame_data, _f=get_ta):
                v = _f(frame_data)
                self.ambient = v
                return v

            drv._GetTa = ta
        read_words = getattr(drv, "_I2CReadWords", None)
        if read_words is not None:
            ticks = self._ticks
            last = [ticks()]

            def poll(addr, buffer, end=None, _f=read_words):
                if end is None:
                    _f(addr, buffer)
                else:
                    _f(addr, buffer, end=end)
                if addr == 0x8000:
                    now = ticks()
                    if ticks_diff(now, last[0]) >= IDLE_MS:
                        last[0] = now
                        self._idle_call()

            drv._I2CReadWords = poll

    def recover(self):
        """Forget the driver (and the bus if we made it): the next read re-probes."""
        self._fast = None
        _forget_driver(self)

    def _repair(self):
        """Bad pixels: the mean of their good 4-neighbours (array('f') reads, no heap)."""
        buf = self._buf
        bad = self.bad_pixels
        for p in bad:
            r = p // MLX_COLS
            c = p - r * MLX_COLS
            s = 0.0
            n = 0
            for q in (p - MLX_COLS if r > 0 else -1, p + MLX_COLS if r < MLX_ROWS - 1 else -1,
                      p - 1 if c > 0 else -1, p + 1 if c < MLX_COLS - 1 else -1):
                if q >= 0 and q not in bad:
                    s += buf[q]
                    n += 1
            if n:
                buf[p] = s / n

    def read(self):
        self._ensure()
        buf = self._buf
        self._idle_call()
        if self._fast is not None:
            self.ambient = self._fast.read()
        else:
            self._drv.getFrame(buf)
        self._idle_call()
        if self.bad_pixels:
            self._repair()
        flat = self._flat
        if flat is None or not xp.finite(float(xp.np.sum(flat))):
            inf = float("inf")
            for k in range(MLX_ROWS * MLX_COLS):
                v = buf[k]
                if v != v or v == inf or v == -inf:
                    raise ValueError("MLX90640 frame has a non-finite pixel at row %d col %d" % (k // MLX_COLS, k % MLX_COLS))
        if not self._shared:
            self.win = flat.reshape((MLX_ROWS, MLX_COLS))
        win = self.win
        now = self._ticks()
        if self._last is not None:
            dt = ticks_diff(now, self._last)
            if dt > 0:
                self.rate_measured = 1000.0 / dt
                self.rate_ok = self.rate_measured >= RATE_TOLERANCE * self.rate
        self._last = now
        return win
