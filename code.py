"""Board entry point (CircuitPython runs this after boot.py).

Reads settings.toml (os.getenv), wires the hardware named there and runs the app loop:
read -> features -> score -> decide -> alert -> outbox. This is the only file that
touches board/busio/digitalio/pwmio/neopixel/microcontroller; everything else gets the
objects made here through the `Hardware` class below (tests use fake modules with the
same names, so this very file runs on a PC under pytest).

See settings.toml.example for every key and docs/board.md for deployment.
"""

import os
import time

try:
    import board
except ImportError:  # not on a board
    board = None
try:
    import busio
except ImportError:
    busio = None
try:
    import digitalio
except ImportError:
    digitalio = None
try:
    import pwmio
except ImportError:
    pwmio = None
try:
    import microcontroller
except ImportError:
    microcontroller = None
try:
    import supervisor
except ImportError:
    supervisor = None
try:
    import storage
except ImportError:
    storage = None
try:
    import watchdog
except ImportError:
    watchdog = None
try:
    import neopixel  # a library: lib/neopixel.mpy
except ImportError:
    neopixel = None
try:
    import alarm  # sleep_memory: RTC memory, a mirror of the saved state (device/persist.py)
except ImportError:
    alarm = None
try:
    import socketpool
    import ssl
    import wifi
except ImportError:  # a board without Wi-Fi, or a PC
    wifi = socketpool = ssl = None
try:
    import rtc  # the wall clock of a days-off profile (device/wallclock.py)
except ImportError:
    rtc = None


class Hardware:
    """The board, as device.app.build_app sees it."""

    def __init__(self):
        self.write = print
        self.sleep = time.sleep
        if supervisor is not None and hasattr(supervisor, "ticks_ms"):
            self.ticks_ms = supervisor.ticks_ms
        else:
            from device.ticks import default_ticks

            self.ticks_ms = default_ticks()
        mc = microcontroller
        self.watchdog = getattr(mc, "watchdog", None) if mc is not None else None
        self.nvm = getattr(mc, "nvm", None) if mc is not None else None
        self.sleep_memory = getattr(alarm, "sleep_memory", None) if alarm is not None else None
        self.uid = None
        self.reset_reason = None
        if mc is not None:
            try:
                self.uid = "".join("%02x" % b for b in mc.cpu.uid)
            except (AttributeError, TypeError):
                pass
            try:
                self.reset_reason = str(mc.cpu.reset_reason).split(".")[-1]
            except (AttributeError, NotImplementedError):
                pass
        self.fs_writable = False
        if storage is not None:
            try:
                self.fs_writable = not storage.getmount("/").readonly
            except (AttributeError, OSError, ValueError):
                pass
        self.sync = getattr(os, "sync", None)
        self.wifi_radio = wifi.radio if wifi is not None else None
        self._pool = None

    def pin(self, name):
        if board is None:
            raise ValueError("no board module")
        return getattr(board, name)

    def i2c_factory(self, scl, sda, frequency):
        def make():
            return busio.I2C(scl, sda, frequency=frequency)

        return make

    def digital_out(self, pin, value=False):
        io = digitalio.DigitalInOut(pin)
        io.switch_to_output(value=bool(value))
        return io

    def pwm(self, pin, frequency):
        return pwmio.PWMOut(pin, duty_cycle=0, frequency=int(frequency), variable_frequency=True)

    def neopixel(self, pin, brightness):
        if neopixel is None:
            raise ImportError("the neopixel library is not in lib/ (circup install neopixel)")
        return neopixel.NeoPixel(pin, 1, brightness=brightness, auto_write=False)

    def socket_pool(self):
        """One socket pool for the whole run (telemetry over Wi-Fi)."""
        if self._pool is None:
            self._pool = socketpool.SocketPool(wifi.radio)
        return self._pool

    def ssl_context(self):
        return ssl.create_default_context()

    def spi(self):
        return board.SPI()

    def wall_parts(self, tz_offset):
        """(time.time, rtc, adafruit_ntp.NTP or None, why not) for device.wallclock: NTP
        needs Wi-Fi (CircuitPython joins CIRCUITPY_WIFI_SSID itself) and lib/adafruit_ntp."""
        if rtc is None or not hasattr(time, "time"):
            return None, None, None, "this board has no RTC"
        if wifi is None or not os.getenv("CIRCUITPY_WIFI_SSID"):
            return time.time, rtc, None, "no Wi-Fi configured for NTP"
        try:
            import adafruit_ntp
        except ImportError:
            return time.time, rtc, None, "adafruit_ntp is not in lib/ (circup install adafruit_ntp)"
        return time.time, rtc, adafruit_ntp.NTP(self.socket_pool(), tz_offset=tz_offset,
                                                socket_timeout=2), None

    def watchdog_mode(self, name):
        return watchdog.WatchDogMode.RAISE if name == "raise" else watchdog.WatchDogMode.RESET


def _make_app(parts):
    """(App, None) made by device/assemble.py of the wiring's parts, or (None, why): no
    exception may end code.py (the caller shows the settings-error state). The assembler
    leaves the heap either way."""
    try:
        from device import assemble
    except Exception as e:  # noqa: BLE001 - a MemoryError while importing it, too
        return None, "setup failed: %s: %s" % (type(e).__name__, e)
    try:
        assemble.attach_transport(parts, drop=True)  # the network's library and client, then the App
        return assemble.app_of(parts), None
    except Exception as e:  # noqa: BLE001
        return None, "setup failed: %s: %s" % (type(e).__name__, e)
    finally:
        assemble.drop()


def _main():
    from device import wiring

    hw = Hardware()
    parts = wiring.setup(os.getenv, hw, finish=False)
    if parts is None:
        return None
    # Setup-only code (settings, model loader, wiring) is dropped before the App's modules
    # and arrays arrive (device/assemble.py makes the App of the parts), so the setup peak
    # holds one of the two, and its bytecode leaves the heap the loop and the network stack
    # need. No name here may keep the wiring module alive.
    wiring.drop_setup_modules()
    del wiring
    app, err = _make_app(parts)
    loops = parts["s"].MAX_WINDOWS or 0
    del parts
    if err is not None:
        from device import wiring

        return wiring.config_error(err, hw, loops)
    from device import app as app_mod

    return app_mod.run_board(app, hw.write)


app = _main()
