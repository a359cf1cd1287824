"""Wiring: settings.toml + hardware -> a running App (what code.py calls).

`setup(getenv, hw)` reads and checks the settings, loads the model, allocates the big
buffers first (features, detector, sensor window), then outputs, outbox, recorder,
watchdog and state store (a network transport and its outbox: later, by
device.assemble.attach_transport, once this module has left the heap), and returns the App (or, when settings.toml is wrong, shows
that and never returns while the board waits to be fixed). Everything here runs once:
code.py drops these modules afterwards (`SETUP_MODULES`), so their code does not occupy
the heap the loop needs.
"""

from device.alerts import CONFIG
from device.ticks import Uptime

# Modules only setup needs: code.py removes them from sys.modules after setup. Setup also
# drops them as it goes -- the settings table once settings are read, the model loader
# once the model is loaded -- and imports the app's modules only after the model load,
# so each stage's code leaves before the next one's arrives (a lower setup peak).
# The settings table leaves as soon as the settings are read: its Settings object has no
# methods, so holding it does not hold the module's code (device/settings.py).
_SETTINGS = ("device.settings", "device.lora_time", "device.heapfit")
_LOADER = ("device.model", "device.modelcheck", "device.modelformat", "device.sha256",
           "device.hashing")  # the model file's code (lorapack imports hashing again for LoRa)
# The transports' setup (device/telemetry.py) and the payload schema the settings check and
# the LoRa key use (device/payloads.py); the transport itself lives in its own module.
_TELEMETRY = ("device.telemetry", "device.lorasetup", "device.payloads")
SETUP_MODULES = ("device.wiring", "device.chips", "device.appconfig") + _SETTINGS + _LOADER + _TELEMETRY


def drop_modules(names):
    """Forget modules so their bytecode leaves the heap: out of sys.modules and out of the
    package, which holds its submodules too; then collect."""
    from device import forget

    for name in names:
        forget(name)
    try:
        import gc

        gc.collect()
    except ImportError:
        pass


def drop_setup_modules(extra=()):
    """Forget the setup-only modules (and `extra` ones) so their bytecode leaves the heap
    the loop and the network stack need."""
    drop_modules(SETUP_MODULES + tuple(extra))

def _model_id(doc):
    c = doc.get("checksum", "") if doc else ""
    return c[7:23] if c.startswith("sha256:") else ""


def _pin(hw, name, problems, key):
    """Resolve a pin name; names ending in '?' are optional (None when the board lacks it)."""
    if name is None:
        return None
    optional = name.endswith("?")
    base = name[:-1] if optional else name
    try:
        return hw.pin(base)
    except (AttributeError, ValueError, KeyError):
        if not optional:
            problems.append("%s: this board has no pin %r" % (key, base))
        return None


# Pins driven once and left on (power enables): the app holds this list (app.held), so
# the objects stay alive after this module is dropped.
_KEEP = []


def make_alerts(s, hw, pins, log):
    """Buzzer, LED and NeoPixel from settings; a part that cannot be set up is skipped
    with a message (the board keeps running without it)."""
    from device import alerts as alerts_mod

    out = []
    ticks = hw.ticks_ms
    if pins.get("NEOPIXEL_POWER_PIN") is not None:
        try:
            _KEEP.append(hw.digital_out(pins["NEOPIXEL_POWER_PIN"], True))
        except Exception as e:
            log("# NeoPixel power pin: %s" % (e,))
    if pins.get("NEOPIXEL_PIN") is not None:
        try:
            out.append(alerts_mod.StatusPixel(hw.neopixel(pins["NEOPIXEL_PIN"], s.NEOPIXEL_BRIGHTNESS), ticks))
        except Exception as e:
            log("# NeoPixel not available: %s" % (e,))
    if pins.get("LED_PIN") is not None:
        try:
            out.append(alerts_mod.Led(hw.digital_out(pins["LED_PIN"], s.LED_ACTIVE_LOW), s.LED_ACTIVE_LOW, ticks))
        except Exception as e:
            log("# LED not available: %s" % (e,))
    if pins.get("BUZZER_PIN") is not None:
        try:
            from device.buzzer import Buzzer  # only here: a board without a buzzer never holds its code

            out.append(Buzzer(hw.pwm(pins["BUZZER_PIN"], s.BUZZER_ANOMALY_HZ), s.BUZZER_ANOMALY_HZ,
                              s.BUZZER_FAULT_HZ, s.BUZZER_SECONDS, ticks))
        except Exception as e:
            log("# buzzer not available: %s" % (e,))
    return out


def resolve_pins(s, hw):
    """All pin settings -> pin objects; raises SettingsError naming unknown pins."""
    from device.settings import SettingsError

    problems = []
    pins = {}
    for key in ("BUZZER_PIN", "LED_PIN", "NEOPIXEL_PIN", "NEOPIXEL_POWER_PIN", "I2C_POWER_PIN"):
        pins[key] = _pin(hw, getattr(s, key), problems, key)
    if s.SENSOR in ("msa301", "mlx90640"):
        pins["I2C_SCL"] = _pin(hw, s.I2C_SCL, problems, "I2C_SCL")
        pins["I2C_SDA"] = _pin(hw, s.I2C_SDA, problems, "I2C_SDA")
    if problems:
        raise SettingsError(problems)
    return pins


def _load_model(s, log):
    """(doc, error) for the model file, checked against the settings."""
    from device import model as model_mod

    try:
        # the sidecar's precision factors go straight into the detector's row bands (the
        # file's whole stack is never in the heap: device.model._read_arrays)
        doc = model_mod.load(s.MODEL_PATH, bands=model_mod.BANDS)
    except model_mod.ModelError as e:
        return None, str(e)
    except MemoryError:
        return None, "model file %s is too large for this board's memory" % s.MODEL_PATH
    except Exception as e:  # noqa: BLE001 - whatever the core refuses, the board runs on
        return None, "model file %s cannot be loaded: %s: %s" % (s.MODEL_PATH, type(e).__name__, e)
    kind = "thermal" if s.SENSOR == "mlx90640" or (s.SENSOR == "replay" and s.REPLAY_KIND == "thermal") else "accel"
    camera_scalar = kind == "thermal" and doc.get("sensor") == "scalar"  # frame max/mean/ambient
    if doc.get("sensor") != kind and not camera_scalar:
        return None, "model %s is for a %r sensor but this board reads %r (SENSOR = %s)" % (
            s.MODEL_PATH, doc.get("sensor"), kind, s.SENSOR)
    rec = doc["features"]
    if s.WINDOW is not None and s.WINDOW != rec["window"]:
        return None, "model %s expects windows of %d samples; settings.toml has WINDOW = %d" % (
            s.MODEL_PATH, rec["window"], s.WINDOW)
    if s.SAMPLE_RATE is not None and abs(s.SAMPLE_RATE - rec["rate"]) > 1e-3 * rec["rate"]:
        return None, "model %s expects %s Hz; settings.toml has SAMPLE_RATE = %s" % (
            s.MODEL_PATH, rec["rate"], s.SAMPLE_RATE)
    return doc, None


def make_sensor(s, hw, pins, window, rate, buffers=None):
    """The sensor the settings name; `buffers` (a feature extractor's input_views())
    lets an accelerometer fill the feature buffers directly."""
    if s.SENSOR == "replay":
        from device import replay

        return replay.CsvReplaySensor(s.REPLAY_PATH, kind=s.REPLAY_KIND, window=window, rate=rate,
                                           loop=s.REPLAY_LOOP, realtime=s.REPLAY_REALTIME,
                                           ticks_ms=hw.ticks_ms, sleep=hw.sleep,
                                           buffers=buffers if s.REPLAY_KIND == "accel" else None)
    from device import sensors as sensors_mod  # not for a replay: it does not hold this module

    if pins.get("I2C_POWER_PIN") is not None:
        _KEEP.append(hw.digital_out(pins["I2C_POWER_PIN"], not s.I2C_POWER_ACTIVE_LOW))
    bus_factory = hw.i2c_factory(pins["I2C_SCL"], pins["I2C_SDA"], s.I2C_FREQUENCY)
    if s.SENSOR == "msa301":
        return sensors_mod.MSA301Sensor(window=window, rate=rate, range_g=s.ACCEL_RANGE,
                                        data_rate=s.ACCEL_DATA_RATE, bandwidth=s.ACCEL_BANDWIDTH,
                                        read=s.ACCEL_READ, ticks_ms=hw.ticks_ms, bus_factory=bus_factory,
                                        buffers=buffers)
    from device import camera

    return camera.MLX90640Sensor(refresh_hz=s.MLX_REFRESH_HZ, bus_factory=bus_factory,
                                      ticks_ms=hw.ticks_ms, read=s.MLX_READ, sleep=hw.sleep, log=hw.write)


def _sleep_memory_slots(hw, log):
    """Two record slots in alarm.sleep_memory (RTC memory, kept over watchdog/software
    resets): the mirror that survives the ESP32 NVM's erase-then-write window."""
    from device import persist

    mem = getattr(hw, "sleep_memory", None)
    if mem is None:
        return None
    try:
        return persist.NvmSlots(mem, name="rtc")
    except (ValueError, TypeError) as e:
        log("# state mirror in sleep memory not possible: %s" % (e,))
        return None


def make_store(s, hw, log):
    from device import persist

    mode = s.PERSIST
    if mode == "off":
        return None
    nvm = getattr(hw, "nvm", None)
    fs = getattr(hw, "fs_writable", False)
    files = None
    if fs:  # only then: a board whose drive the USB host owns never holds this code
        from device.fileslots import FileSlots

        files = FileSlots(s.PERSIST_PATH, sync=getattr(hw, "sync", None))
    rtc = _sleep_memory_slots(hw, log)
    if mode in ("auto", "nvm") and nvm is not None and len(nvm) >= 2 * 512:
        try:
            # files (when the board owns the drive) also survive a power cut in the NVM's
            # erase-then-write window; RTC memory survives the other resets
            return persist.Store(persist.NvmSlots(nvm), mirrors=(rtc, files if mode == "auto" else None))
        except ValueError as e:
            log("# state in nvm not possible: %s" % (e,))
    if mode in ("auto", "file"):
        if files is not None:
            return persist.Store(files, mirrors=(rtc,))
        if mode == "file":
            log("# PERSIST = file, but the USB host owns the filesystem (see boot.py): state is not kept")
    elif mode == "nvm":
        log("# PERSIST = nvm, but this board has no usable microcontroller.nvm: state is not kept")
    return None


def heap_total():
    """The interpreter's whole heap in bytes, or None where gc cannot tell (CPython)."""
    try:
        import gc

        return gc.mem_free() + gc.mem_alloc()
    except (ImportError, AttributeError):
        return None


def _warn_small_heap(kind, log):
    """Says so at boot when this board's heap is smaller than the accelerometer app with
    TELEMETRY `kind` is estimated to need (device/heapfit.py)."""
    from device.heapfit import accel_fit  # setup-only: dropped with the settings

    w = accel_fit(kind, heap_total())
    if w:
        log("# warning: %s" % w)


def build_app(s, hw, pins=None, finish=True):
    """An App wired from validated settings `s` and hardware `hw` (see code.py's Hardware
    for the interface). Raises SettingsError for pins the board does not have; every other
    problem (model, sensor, outputs) leaves a running app in a clear state. finish=False:
    the App's parts instead (a dict, so holding it does not hold this module's code), for
    device.assemble.finish once code.py has dropped this module (a lower setup peak)."""
    log = hw.write
    if pins is None:
        pins = resolve_pins(s, hw)
    for w in s.warnings:
        log("# settings: %s" % w)
    clock = Uptime(hw.ticks_ms)
    doc, model_error = _load_model(s, log)
    drop_modules(_LOADER)  # the loader's part is done
    if doc is not None:
        doc.pop("training", None)  # the host's record: nothing on the board reads it
    feats = None
    if doc is not None:
        window = doc["features"]["window"]
        rate = float(doc["features"]["rate"])
        try:  # the big buffers first, while the heap is still in one piece
            from device import features as features_mod

            feats = features_mod.from_recipe(doc["features"], doc)
        except Exception as e:  # noqa: BLE001 - ValueError, KeyError, MemoryError, a core's refusal
            model_error = "model %s cannot be used: %s" % (s.MODEL_PATH, e)
            doc = None
    if doc is None:
        window = s.WINDOW or 200
        rate = s.SAMPLE_RATE or 200.0
        log("# NO MODEL: %s" % model_error)
        log("# sampling continues (RECORD = serial streams windows for training)")
    # a one- or two-axis model reads the 3-axis sensor's own buffers (features.AccelFeatures
    # reduces them); a 3-axis model shares its input buffers with the sensor
    buffers = (feats.input_views() if feats is not None and hasattr(feats, "input_views")
               and getattr(feats, "axes", 3) == 3 else None)
    sensor = make_sensor(s, hw, pins, window, rate, buffers)
    if doc is not None and doc.get("sensor") == "scalar" and getattr(sensor, "kind", None) == "thermal":
        from device import framescalars  # a scalar model on the camera: one value per frame

        try:
            sensor = framescalars.FrameScalars(sensor, doc["features"].get("channel", "max"), window)
        except ValueError as e:
            model_error = "model %s cannot be used: %s" % (s.MODEL_PATH, e)
            log("# NO MODEL: %s" % model_error)
            doc = None
    alerts = make_alerts(s, hw, pins, log)
    transport = box = None
    if s.TELEMETRY in ("http", "mqtt", "lora"):
        # The network transport (its library, client and outbox) is built later, by
        # device.assemble.attach_transport: on a board after this module, the settings and
        # the model loader have left the heap (the setup peak; parts carry s and hw).
        if getattr(sensor, "kind", "accel") != "thermal":  # the camera's own: heapfit.thermal_fit
            _warn_small_heap(s.TELEMETRY, log)
    else:
        from device import outbox as outbox_mod

        transport = outbox_mod.NullTransport() if s.TELEMETRY == "none" else outbox_mod.ConsoleTransport(hw.write)
        box = outbox_mod.Outbox(transport)
    recorder = None
    kind = getattr(sensor, "kind", "accel")
    if s.RECORD != "off":
        from device import recorder as recorder_mod

        if s.RECORD == "serial":
            recorder = recorder_mod.SerialRecorder(kind, hw.write, sensor, hw.ticks_ms)
        elif s.RECORD == "http":  # to `collect --http` on the host, over Wi-Fi
            from device import telemetry

            session = telemetry.make_session(s, hw, log)
            if session is not None:
                recorder = recorder_mod.HttpRecorder(session, s.RECORD_URL, s.RECORD_TOKEN, kind, sensor,
                                                     hw.ticks_ms, device=s.DEVICE_ID or getattr(hw, "uid", None))
            else:
                log("# RECORD = http, but no HTTP session: not recording")
        elif kind == "thermal" and getattr(hw, "fs_writable", False):
            from device import framerows  # frames as rows: the thermal recording format

            recorder = framerows.FrameRowRecorder(s.RECORD_PATH, sensor, hw.ticks_ms, s.RECORD_MAX_FILES)
        elif getattr(hw, "fs_writable", False):
            recorder = recorder_mod.FileRecorder(s.RECORD_PATH, kind, s.RECORD_MAX_FILES)
        else:
            log("# RECORD = file, but the USB host owns the filesystem (see boot.py): not recording")
    wd = None
    wd_mode = None
    if s.WATCHDOG_TIMEOUT and getattr(hw, "watchdog", None) is not None:
        try:
            wd = hw.watchdog
            wd.timeout = s.WATCHDOG_TIMEOUT
            wd_mode = hw.watchdog_mode(s.WATCHDOG_MODE)
            wd.mode = wd_mode
        except Exception as e:
            log("# watchdog not available: %s" % (e,))
            wd = None
    store = make_store(s, hw, log)
    if store is None and s.TELEMETRY in ("http", "mqtt", "lora"):
        log("# warning: no place to keep the sequence number across resets (PERSIST): "
            "a receiver may drop events after a reset as duplicates")
    restore = store.load() if store is not None else None
    device_id = s.DEVICE_ID or getattr(hw, "uid", None) or "board"
    commission_key = "%d|%s|%s" % (s.COMMISSION_WINDOWS, s.COMMISSION_MODE, s.COMMISSION_ID)
    boot_info = {"sensor": s.SENSOR, "window": window, "rate": rate,
                 "model": _model_id(doc) if doc is not None else None}
    if getattr(hw, "reset_reason", None):
        boot_info["reset_reason"] = hw.reset_reason
    wall = _wall_clock(s, hw, doc, clock, log)
    p = {"s": s, "hw": hw, "sensor": sensor, "doc": doc, "feats": feats, "box": box, "alerts": alerts, "clock": clock,
         "watchdog": wd, "watchdog_mode": wd_mode, "store": store, "recorder": recorder, "wall": wall,
         "restore": restore, "boot_info": boot_info, "model_error": model_error, "transport": transport,
         "window": window, "rate": rate, "device_id": device_id, "commission_key": commission_key,
         "model_id": _model_id(doc), "held": _KEEP}
    if not finish:
        return p
    from device import assemble  # (code.py imports it only after this module has left the heap)

    return assemble.app_of(p)


def _wall_clock(s, hw, doc, uptime, log):
    """A device.wallclock.WallClock for a model with a days-off profile (None otherwise:
    no other model needs the date, and the module stays off the heap)."""
    if doc is None or not doc.get("adaptive", {}).get("day_types") or not hasattr(hw, "wall_parts"):
        return None
    try:
        time_fn, rtc_mod, ntp, why = hw.wall_parts(s.TZ_OFFSET)
    except Exception as e:  # noqa: BLE001 - a socket pool that cannot be made, ...
        time_fn, rtc_mod, ntp, why = None, None, None, "%s: %s" % (type(e).__name__, e)
    if time_fn is None:
        log("# no wall clock (%s): every day counts as a workday" % why)
        return None
    from device.wallclock import WallClock

    return WallClock(time_fn, rtc_mod, ntp, uptime=uptime, why=why,
                     watchdog=getattr(hw, "watchdog", None) if s.WATCHDOG_TIMEOUT else None)


def config_error(err, hw, max_loops=0):
    """settings.toml is wrong: say so on the console every 30 s and show it on the
    NeoPixel (default pin); no sensing until it is fixed (the board reloads on save)."""
    from device import settings as settings_mod

    msg = str(err)
    hw.write("# CONFIG ERROR: " + msg)
    d = settings_mod.defaults()
    alerts = []
    try:
        pins = {"NEOPIXEL_PIN": _pin(hw, d.NEOPIXEL_PIN, [], ""),
                "NEOPIXEL_POWER_PIN": _pin(hw, d.NEOPIXEL_POWER_PIN, [], ""),
                "LED_PIN": _pin(hw, d.LED_PIN, [], "")}
        alerts = make_alerts(d, hw, pins, hw.write)
    except Exception:
        pass
    for a in alerts:
        a.set_state(CONFIG)
    hw.write('{"type": "status", "state": "%s", "error": %s}' % (CONFIG, _json_str(msg)))
    n = 0
    t = 0.0
    while not max_loops or n < max_loops:
        for a in alerts:
            a.tick()
        hw.sleep(0.05)
        t += 0.05
        if t >= 30.0:
            t = 0.0
            hw.write("# CONFIG ERROR: " + msg)
        n += 1
    return None


def _json_str(s):
    import json

    return json.dumps(s)


def setup(getenv, hw, finish=True):
    """Settings -> App (not yet running; finish=False: its parts, see build_app). On a
    settings error this shows the error and waits (config_error) and returns None."""
    from device import settings as settings_mod

    max_loops = settings_mod.lenient_int(getenv, "MAX_WINDOWS", 0)
    try:
        s = settings_mod.load(getenv)
        pins = resolve_pins(s, hw)
    except settings_mod.SettingsError as e:
        return config_error(e, hw, max_loops)
    except Exception as e:  # noqa: BLE001 - no exception may end code.py
        return config_error("settings.toml cannot be used: %s: %s" % (type(e).__name__, e), hw, max_loops)
    settings_mod = None
    drop_modules(_SETTINGS)  # the table and its checks: done (s keeps only values)
    try:
        return build_app(s, hw, pins, finish)
    except Exception as e:  # noqa: BLE001 - a bug or MemoryError in setup: show it, keep the board up
        return config_error("setup failed: %s: %s" % (type(e).__name__, e), hw, max_loops)


def main(getenv, hw):
    """setup + the loop, for callers that do not need the heap back (tests, host)."""
    from device import app as app_mod

    app = setup(getenv, hw)
    if app is None:
        return None
    return app_mod.run_board(app, hw.write)
