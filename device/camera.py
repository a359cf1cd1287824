"""The MLX90640 thermal camera as a sensor: 24 x 32 frames in deg C through the Adafruit
driver, read and converted by the fast path (device/mlxframes.py, device/mlxconv.py) or
by the driver's getFrame (MLX_READ)."""

from device import xp
from device.chips import MLX_COLS, MLX_REFRESH, MLX_ROWS
from device.framebuf import frame_buffer, frame_of
from device.sensors import RATE_TOLERANCE, SensorError, _forget_driver, _index_of
from device.ticks import IDLE_MS, _Paced, default_ticks, ticks_diff

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
