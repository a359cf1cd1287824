"""Wi-Fi for the HTTP and MQTT transports: `Wifi` keeps the station connected, `collect()`
runs the garbage collector after a failure.

A module of its own (heap): a board loads only its own transport's code (device/mqttsend.py
or device/httpsend.py, both over this link; device/lorasend.py needs no Wi-Fi), and the
setup code that builds them (device/telemetry.py) leaves the heap after setup.

Known failures handled here: `wifi.radio.connect` is called only while disconnected
(calling it again drops a working link), with a back-off, and no exception objects are kept
(repeated ConnectionErrors plus reloads ran CircuitPython out of memory,
adafruit/circuitpython#7448). One connect attempt blocks until the link is up or refused
whatever `timeout` says: a running watchdog is paused around it.
"""

_MASK = (1 << 29) - 1
try:  # CircuitPython raises ConnectionError from wifi.radio.connect; MicroPython lacks it
    _WIFI_ERRORS = (ConnectionError, OSError, RuntimeError)
except NameError:
    _WIFI_ERRORS = (OSError, RuntimeError)


def collect():
    try:
        import gc

        gc.collect()
    except ImportError:
        pass


class Wifi:
    """Keeps the station connected: `ensure()` is cheap while up, and while down tries
    `radio.connect` at most once per back-off period (doubling to `backoff_max_ms`)."""

    def __init__(self, radio, ssid, password, ticks_ms, log=None, timeout=8,
                 backoff_ms=2000, backoff_max_ms=60000, watchdog=None):
        self.radio = radio
        self.watchdog = watchdog
        self.ssid = ssid
        self.password = password
        self._ticks = ticks_ms
        self._log = log
        self.timeout = timeout
        self.backoff_ms = backoff_ms
        self.backoff_max_ms = backoff_max_ms
        self._wait = 0
        self._since = 0
        self.failures = 0
        self.connects = 0
        self.last_error = None

    def connected(self):
        c = getattr(self.radio, "connected", None)
        if c is None:
            c = getattr(self.radio, "ipv4_address", None) is not None
        return bool(c)

    def ensure(self):
        if self.connected():
            self._wait = 0
            return True
        if not self.ssid:
            return False
        now = self._ticks()
        if self._wait and ((now - self._since) & _MASK) < self._wait:
            return False
        err = None
        # One connect attempt blocks until the station is up or refused, whatever
        # `timeout` says (ports/espressif/common-hal/wifi/Radio.c): pause a running
        # watchdog around it (mode None stops it on every port) and arm it again after.
        wd = self.watchdog
        mode = getattr(wd, "mode", None) if wd is not None else None
        if mode is not None:
            wd.feed()
            wd.mode = None
        try:
            self.radio.connect(self.ssid, self.password, timeout=self.timeout)
        except _WIFI_ERRORS as e:
            err = "%s: %s" % (type(e).__name__, e)  # keep text, not the exception
        except MemoryError:
            err = "MemoryError"
        finally:
            if mode is not None:
                wd.mode = mode
                wd.feed()
        if err is None and self.connected():
            self.connects += 1
            self._wait = 0
            return True
        self.failures += 1
        self.last_error = err or "not connected"
        self._since = self._ticks()
        w = self._wait * 2 if self._wait else self.backoff_ms
        self._wait = w if w < self.backoff_max_ms else self.backoff_max_ms
        if self._log is not None and (self.failures & (self.failures - 1)) == 0:
            self._log("# wifi: %s (attempt %d)" % (self.last_error, self.failures))
        collect()
        return False
