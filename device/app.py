"""The board application loop: read -> features -> score -> decide -> alert -> outbox.

No hardware imports: the sensor, alert outputs, outbox, clock and watchdog are passed in,
so code.py on the board and `host_tools simulate` / the tests on a PC drive this same
object. Every step is bounded: a sensor that raises is retried a fixed number of times,
then the window is counted as a fault, the sensor is asked to recover, and the loop goes
on after a short back-off (during which the watchdog is still fed).

`build_app(settings, hw)` wires an App from validated settings and a hardware object
(code.py's `Hardware`, or the fakes in tests), and `main(getenv, hw)` is what code.py runs.
"""

from device import decision as decision_mod
from device import detectors as detectors_mod
from device import features as features_mod
from device.commission import Commissioner

# Status values shared by alerts, telemetry and the console (defined with the alerts,
# which import nothing).
from device.alerts import ANOMALY, COMMISSIONING, CONFIG, FAULT, NORMAL, NO_MODEL

SENSOR_ERRORS = (OSError, ValueError, RuntimeError)
_TICKS_MASK = (1 << 29) - 1


class Uptime:
    """Seconds since start from a wrapping ticks_ms (supervisor.ticks_ms on the board)."""

    def __init__(self, ticks_ms):
        self._ticks = ticks_ms
        self._last = ticks_ms()
        self._ms = 0

    def ms(self):
        t = self._ticks()
        self._ms += (t - self._last) & _TICKS_MASK
        self._last = t
        return self._ms

    def __call__(self):
        return self.ms() / 1000.0


def _print_exception(e):
    try:
        import sys

        if hasattr(sys, "print_exception"):
            sys.print_exception(e)
            return
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)
    except Exception:
        print("%s: %s" % (type(e).__name__, e))


class App:
    def __init__(self, sensor, model=None, outbox=None, alerts=(), clock=None,
                 watchdog=None, device_id="board", heartbeat_every=60, retries=3,
                 commission_windows=0, commission_mode=None, model_error=None,
                 recorder=None, on_commissioned=None, top=3, log=None, sleep=None,
                 store=None, persist_every=0, model_id="", commission_key="",
                 restore=None, boot_info=None, guard=False):
        self.sensor = sensor
        self.outbox = outbox
        self._pump = getattr(outbox, "pump", None)
        self.alerts = list(alerts)
        self.clock = clock
        self.watchdog = watchdog
        self.device_id = device_id
        self.heartbeat_every = int(heartbeat_every)
        self.retries = int(retries)
        self.recorder = recorder
        self.on_commissioned = on_commissioned
        self.top = int(top)
        self._log = log
        self._sleep = sleep
        self.store = store
        self.persist_every = int(persist_every)
        self.model_id = model_id
        self.commission_key = commission_key
        self.guard = guard
        self.watchdog_mode = None  # set by build_app: lets a RAISE-mode watchdog be re-armed
        self.seq = 0
        self.windows = 0
        self.faults = 0
        self.errors = 0
        self.crashes = 0
        self.boots = 1
        self.consecutive_faults = 0
        self.consecutive_errors = 0
        self._consecutive_crashes = 0
        self.anomalies = 0
        self.last_score = 0.0
        self.last_mode = None
        self.last_error = None
        self._rate_warned_at = None
        self._kept = None  # a restored commissioning record this model cannot use
        self.model = model
        self.model_error = model_error
        self.features = None
        self.detector = None
        self.decision = None
        self.commissioner = None
        if model is not None:
            self.features = features_mod.from_recipe(model["features"])
            if self.features.names != model["features"]["names"]:
                raise ValueError("model feature names do not match this code's recipe")
            self.detector = detectors_mod.from_model(model)
            self.decision = decision_mod.Decision.from_settings(model.get("decision", {}))
            if commission_windows and commission_windows > 0:
                n_fit = max(2, commission_windows // 2)
                n_thr = max(1, commission_windows - n_fit)
                mode = None
                if commission_mode:
                    if commission_mode not in self.detector.mode_names:
                        raise ValueError("commission mode %r is not in the model" % commission_mode)
                    mode = self.detector.mode_names.index(commission_mode)
                self.commissioner = Commissioner(
                    self.detector, n_fit, n_thr, model.get("fa_rate", 0.01), mode=mode,
                    margins=[m.get("drift_margin", 1.0) for m in model["modes"]])
        restored = self._restore(restore) if restore is not None else False
        self.state = NO_MODEL if model is None else (
            COMMISSIONING if self.commissioner is not None and not self.commissioner.done else NORMAL)
        if hasattr(sensor, "idle"):
            sensor.idle = self._idle
        self._set_alerts(self.state)
        if boot_info is not None:
            p = {"type": "status", "state": "boot", "boots": self.boots}
            for k in boot_info:
                p[k] = boot_info[k]
            self._emit(p)
        if model is None:
            self._emit({"type": "status", "state": NO_MODEL,
                        "error": str(model_error) if model_error else "no model"})
        elif restored:
            self._emit({"type": "status", "state": "commission_restored",
                        "modes": self._mode_summary()})
        if store is not None:
            self.save()

    # ---- persistence ---------------------------------------------------------------
    def _restore(self, st):
        """Apply a state record (device.persist.decode). Returns True if the commissioned
        modes were applied."""
        c = st.get("counters") or {}
        self.boots = int(c.get("boots", 0)) + 1
        self.windows = int(c.get("windows", 0))
        self.anomalies = int(c.get("anomalies", 0))
        self.faults = int(c.get("faults", 0))
        self.errors = int(c.get("errors", 0))
        # Payloads sent after the last save were not counted: jump past them so a
        # receiver never sees a sequence number twice.
        self.seq = int(c.get("seq", 0)) + 4 * max(self.persist_every, 1) + 100
        modes = st.get("modes") or []
        if not modes:
            return False
        same = (st.get("model") == self.model_id[:16] and
                st.get("key") == _key(self.commission_key))
        if self.model is None or not same:
            if self.model is None:
                self._kept = st  # keep it for when the model comes back
            return False
        if self.commissioner is None or len(modes) != len(self.detector.mode_names):
            return False
        updated = []
        for i in range(len(modes)):
            upd, thr, mean, scale = modes[i]
            if upd:
                self.detector.set_mode(i, mean=mean, scale=scale, threshold=thr)
                updated.append(self.detector.mode_names[i])
        self.commissioner.done = True
        self.commissioner.updated = updated
        return True

    def snapshot(self):
        """The state record to persist (see device.persist.encode)."""
        st = {"model": self.model_id[:16], "key": _key(self.commission_key),
              "counters": {"boots": self.boots, "windows": self.windows,
                           "anomalies": self.anomalies, "faults": self.faults,
                           "errors": self.errors, "seq": self.seq},
              "modes": []}
        c = self.commissioner
        if self.model is not None and c is not None and c.done:
            for i in range(len(self.detector.mode_names)):
                mean, scale, thr = self.detector.mode_params(i)
                st["modes"].append((self.detector.mode_names[i] in c.updated, thr, mean, scale))
        elif self._kept is not None:
            st["model"] = self._kept.get("model", "")
            st["key"] = self._kept.get("key", 0)
            st["modes"] = self._kept.get("modes") or []
        return st

    def save(self):
        if self.store is None:
            return False
        ok = self.store.save(self.snapshot())
        if not ok:
            self.log("# state not saved: %s" % (self.store.last_error,))
        return ok

    # ---- plumbing -------------------------------------------------------------------
    def log(self, line):
        if self._log is not None:
            self._log(line)

    def _now(self):
        return self.clock() if self.clock else 0.0

    def _emit(self, payload):
        self.seq += 1
        payload["device"] = self.device_id
        payload["seq"] = self.seq
        payload["t"] = self._now()
        if self.outbox is not None:
            self.outbox.put(payload)
        return payload

    def _set_alerts(self, state):
        for a in self.alerts:
            a.set_state(state)

    def _idle(self):
        """Feed the watchdog and advance alert patterns (also called by sensors while
        they sample, and during back-off pauses)."""
        if self.watchdog is not None:
            try:
                self.watchdog.feed()
            except Exception as e:  # a RAISE-mode watchdog that fired is stopped: re-arm it
                self._rearm_watchdog(e)
        if self.alerts:
            now = self._now()
            for a in self.alerts:
                a.tick(now)

    def _rearm_watchdog(self, err):
        mode = self.watchdog_mode
        try:
            if mode is None:
                raise err
            self.watchdog.mode = mode
            self.watchdog.feed()
            self.log("# watchdog re-armed after: %s" % (err,))
        except Exception as e:
            self.log("# watchdog lost (%s): running without it" % (e,))
            self.watchdog = None

    def _pause(self, seconds):
        """Sleep in short slices, still feeding the watchdog (no-op without sleep)."""
        if self._sleep is None or seconds <= 0:
            return
        left = seconds
        while left > 0:
            self._idle()
            d = 0.05 if left > 0.05 else left
            self._sleep(d)
            left -= d
        self._idle()

    def _read(self):
        """One window from the sensor, retried a bounded number of times.
        Returns the window, None when a replay source is exhausted, or False on failure."""
        err = None
        for _ in range(self.retries + 1):
            try:
                win = self.sensor.read()
                self.consecutive_errors = 0
                return win
            except SENSOR_ERRORS as e:
                err = e
                self.errors += 1
                self.consecutive_errors += 1
                if self.consecutive_errors == 1:
                    self.log("# sensor error: %s: %s (retrying)" % (type(e).__name__, e))
                self._idle()
        self.faults += 1
        self.consecutive_faults += 1
        self.last_error = "%s: %s" % (type(err).__name__, err)
        return False

    def _resume_state(self):
        if self.model is None:
            return NO_MODEL
        if self.commissioner is not None and not self.commissioner.done:
            return COMMISSIONING
        return ANOMALY if self.decision.active else NORMAL

    def _fault(self):
        if self.state != FAULT:
            self._emit({"type": "status", "state": FAULT, "error": self.last_error,
                        "faults": self.faults, "errors": self.errors})
            self.log("# FAULT: sensor failed %d times in a row: %s" % (self.retries + 1, self.last_error))
            self.state = FAULT
            self._set_alerts(FAULT)
        recover = getattr(self.sensor, "recover", None)
        if recover is not None:
            try:
                recover()
            except SENSOR_ERRORS:
                pass
        k = self.consecutive_faults - 1
        self._pause(0.25 * (1 << (k if k < 5 else 5)))  # 0.25 s .. 8 s

    def _check_rate(self):
        s = self.sensor
        if getattr(s, "rate_ok", True):
            self._rate_warned_at = None
            return
        if self._rate_warned_at is not None and self.windows - self._rate_warned_at < 500:
            return
        self._rate_warned_at = self.windows
        measured = round(s.rate_measured, 1)
        self._emit({"type": "warning", "warning": "sample_rate", "measured": measured,
                    "configured": s.rate})
        self.log("# warning: sensor achieved %.1f Hz, short of the configured %s Hz "
                 "(lower SAMPLE_RATE or raise I2C_FREQUENCY)" % (measured, s.rate))

    # ---- the loop -------------------------------------------------------------------
    def step(self):
        """Process one window. Returns False when the sensor has no more data."""
        self._idle()
        win = self._read()
        if win is None:
            return False
        if win is False:
            self._fault()
            return True
        if self.state == FAULT:
            self._emit({"type": "status", "state": "recovered", "faults": self.faults,
                        "errors": self.errors})
            self.log("# sensor recovered")
            self.state = self._resume_state()
            self._set_alerts(self.state)
        self.consecutive_faults = 0
        self.windows += 1
        self._check_rate()
        if self.recorder is not None:
            self.recorder.record(win)
        if self.model is not None:
            self._detect(win)
        if self.heartbeat_every and self.windows % self.heartbeat_every == 0:
            self._heartbeat()
        if self._pump is not None:
            self._pump()
        if self.store is not None and self.persist_every and self.windows % self.persist_every == 0:
            self.save()
        return True

    def _detect(self, win):
        x = self.features.compute(win)
        if self.commissioner is not None and not self.commissioner.done:
            if self.commissioner.update(x):
                self._commissioned()
            return
        score, mode = self.detector.score(x)
        self.last_score = score
        self.last_mode = mode
        ev = self.decision.update(score)
        if ev == decision_mod.START:
            self.anomalies += 1
            self.state = ANOMALY
            self._set_alerts(ANOMALY)
            top = [[n, round(v, 3)] for n, v in
                   self.detector.explain(x, mode, self.features.names, self.top)]
            self._event(ev, score, mode, top)
        elif ev == decision_mod.END:
            self.state = NORMAL
            self._set_alerts(NORMAL)
            self._event(ev, score, mode)

    def _event(self, ev, score, mode, top=None):
        p = {"type": "event", "event": ev, "window": self.windows,
             "mode": self.detector.mode_names[mode], "score": round(score, 4),
             "threshold": self.decision.on, "raw": round(self.detector.last_raw, 4),
             "anomaly": ev == decision_mod.START}
        if top is not None:
            p["top"] = top  # complete before it is handed over: the outbox may send at once
        return self._emit(p)

    def _heartbeat(self):
        p = {"type": "heartbeat", "state": self.state, "windows": self.windows,
             "faults": self.faults, "anomalies": self.anomalies}
        if self.errors:
            p["errors"] = self.errors
        rate = getattr(self.sensor, "rate_measured", None)
        if rate is not None:
            p["rate"] = round(rate, 1)
        if self.model is not None and self.state not in (COMMISSIONING,):
            p["mode"] = self.detector.mode_names[self.last_mode] if self.last_mode is not None else None
            p["score"] = round(self.last_score, 4)
            p["anomaly"] = bool(self.decision.active)
        self._emit(p)

    def _mode_summary(self):
        c = self.commissioner
        modes = []
        for i in range(len(self.detector.mode_names)):
            modes.append({"name": self.detector.mode_names[i],
                          "threshold": round(self.detector.threshold(i), 4),
                          "windows": c.counts()[i]})
        return modes

    def _commissioned(self):
        c = self.commissioner
        self.state = NORMAL
        self._set_alerts(NORMAL)
        self._emit({"type": "status", "state": "commissioned", "modes": self._mode_summary(),
                    "updated": list(c.updated)})
        self.log("# commissioned: %s" % (", ".join(c.updated) or "no mode had enough windows"))
        if self.store is not None:
            self.save()
        if self.on_commissioned is not None:
            self.on_commissioned(self)

    def _crash(self, e):
        """An unexpected exception in step() (guard=True): report, count, back off."""
        self.crashes += 1
        self._consecutive_crashes += 1
        self.last_error = "%s: %s" % (type(e).__name__, e)
        self.log("# error in the loop (%d): %s" % (self.crashes, self.last_error))
        if self._consecutive_crashes <= 3:
            _print_exception(e)
        try:
            import gc

            gc.collect()
        except ImportError:
            pass
        if self.state != FAULT:
            self.state = FAULT
            self._set_alerts(FAULT)
            self._emit({"type": "status", "state": FAULT, "error": self.last_error,
                        "crashes": self.crashes})
        k = self._consecutive_crashes - 1
        self._pause(0.5 * (1 << (k if k < 4 else 4)))
        return True

    def run(self, max_windows=None):
        """Loop until the sensor is exhausted or max_windows steps were taken."""
        n = 0
        while max_windows is None or n < max_windows:
            if self.guard:
                try:
                    more = self.step()
                    self._consecutive_crashes = 0
                except Exception as e:  # noqa: BLE001 - the board must keep running
                    more = self._crash(e)
            else:
                more = self.step()
            if not more:
                break
            n += 1
        return n


def _key(text):
    from device import persist

    return persist.key_of(text)


# ---- wiring: settings + hardware -> App ---------------------------------------------

def _model_id(doc):
    c = doc.get("checksum", "") if doc else ""
    return c[7:23] if c.startswith("sha256:") else ""


def _slim(doc):
    """Drop the big per-mode lists once the detector holds them as arrays (the parsed
    JSON lists take several times the memory of the float32 arrays on a board)."""
    for m in doc.get("modes", []):
        for k in ("mean", "scale", "inv_cov", "baseline"):
            if k in m:
                m[k] = None


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


_KEEP = []  # pins driven once and left on (power enables): keep the objects alive


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
            out.append(alerts_mod.Buzzer(hw.pwm(pins["BUZZER_PIN"], s.BUZZER_ANOMALY_HZ), s.BUZZER_ANOMALY_HZ,
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
        doc = model_mod.load(s.MODEL_PATH)
    except model_mod.ModelError as e:
        return None, str(e)
    except MemoryError:
        return None, "model file %s is too large for this board's memory" % s.MODEL_PATH
    kind = "thermal" if s.SENSOR == "mlx90640" or (s.SENSOR == "replay" and s.REPLAY_KIND == "thermal") else "accel"
    if doc.get("sensor") != kind:
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


def make_sensor(s, hw, pins, window, rate):
    from device import sensors as sensors_mod

    if s.SENSOR == "replay":
        return sensors_mod.CsvReplaySensor(s.REPLAY_PATH, kind=s.REPLAY_KIND, window=window, rate=rate,
                                           loop=s.REPLAY_LOOP, realtime=s.REPLAY_REALTIME,
                                           ticks_ms=hw.ticks_ms, sleep=hw.sleep)
    if pins.get("I2C_POWER_PIN") is not None:
        _KEEP.append(hw.digital_out(pins["I2C_POWER_PIN"], not s.I2C_POWER_ACTIVE_LOW))
    bus_factory = hw.i2c_factory(pins["I2C_SCL"], pins["I2C_SDA"], s.I2C_FREQUENCY)
    if s.SENSOR == "msa301":
        return sensors_mod.MSA301Sensor(window=window, rate=rate, range_g=s.ACCEL_RANGE,
                                        data_rate=s.ACCEL_DATA_RATE, bandwidth=s.ACCEL_BANDWIDTH,
                                        read=s.ACCEL_READ, ticks_ms=hw.ticks_ms, bus_factory=bus_factory)
    return sensors_mod.MLX90640Sensor(refresh_hz=s.MLX_REFRESH_HZ, bus_factory=bus_factory,
                                      ticks_ms=hw.ticks_ms)


def make_store(s, hw, log):
    from device import persist

    mode = s.PERSIST
    if mode == "off":
        return None
    nvm = getattr(hw, "nvm", None)
    if mode in ("auto", "nvm") and nvm is not None and len(nvm) >= 2 * 512:
        try:
            return persist.Store(persist.NvmSlots(nvm))
        except ValueError as e:
            log("# state in nvm not possible: %s" % (e,))
    if mode in ("auto", "file"):
        if getattr(hw, "fs_writable", False):
            return persist.Store(persist.FileSlots(s.PERSIST_PATH, sync=getattr(hw, "sync", None)))
        if mode == "file":
            log("# PERSIST = file, but the USB host owns the filesystem (see boot.py): state is not kept")
    elif mode == "nvm":
        log("# PERSIST = nvm, but this board has no usable microcontroller.nvm: state is not kept")
    return None


def build_app(s, hw, pins=None):
    """An App wired from validated settings `s` and hardware `hw` (see code.py's Hardware
    for the interface). Raises SettingsError for pins the board does not have; every other
    problem (model, sensor, outputs) leaves a running app in a clear state."""
    log = hw.write
    if pins is None:
        pins = resolve_pins(s, hw)
    for w in s.warnings:
        log("# settings: %s" % w)
    clock = Uptime(hw.ticks_ms)
    try:
        import gc
    except ImportError:
        gc = None
    doc, model_error = _load_model(s, log)
    if gc is not None:
        gc.collect()
    if doc is not None:
        window = doc["features"]["window"]
        rate = float(doc["features"]["rate"])
    else:
        window = s.WINDOW or 200
        rate = s.SAMPLE_RATE or 200.0
        log("# NO MODEL: %s" % model_error)
        log("# sampling continues (RECORD = serial streams windows for training)")
    sensor = make_sensor(s, hw, pins, window, rate)
    alerts = make_alerts(s, hw, pins, log)
    from device import outbox as outbox_mod

    transport = outbox_mod.ConsoleTransport(hw.write) if s.TELEMETRY == "console" else outbox_mod.NullTransport()
    box = outbox_mod.Outbox(transport)
    recorder = None
    kind = getattr(sensor, "kind", "accel")
    if s.RECORD != "off":
        from device import recorder as recorder_mod

        if s.RECORD == "serial":
            recorder = recorder_mod.SerialRecorder(kind, hw.write, sensor, hw.ticks_ms)
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
    restore = store.load() if store is not None else None
    device_id = s.DEVICE_ID or getattr(hw, "uid", None) or "board"
    commission_key = "%d|%s|%s" % (s.COMMISSION_WINDOWS, s.COMMISSION_MODE, s.COMMISSION_ID)
    boot_info = {"sensor": s.SENSOR, "window": window, "rate": rate,
                 "model": _model_id(doc) if doc is not None else None}
    if getattr(hw, "reset_reason", None):
        boot_info["reset_reason"] = hw.reset_reason
    common = dict(outbox=box, alerts=alerts, clock=clock, watchdog=wd, device_id=device_id,
                  heartbeat_every=s.HEARTBEAT_WINDOWS, retries=s.SENSOR_RETRIES, recorder=recorder,
                  log=log, sleep=hw.sleep, store=store, persist_every=s.PERSIST_EVERY,
                  commission_key=commission_key, restore=restore, boot_info=boot_info, guard=True)
    if doc is not None and kind == "accel":
        try:
            app = App(sensor, doc, commission_windows=s.COMMISSION_WINDOWS,
                      commission_mode=s.COMMISSION_MODE, model_id=_model_id(doc), **common)
            app.watchdog_mode = wd_mode
            _slim(doc)
            if gc is not None:
                gc.collect()
            log("# model %s: %s, %d mode(s), %d features, window %d at %s Hz" % (
                s.MODEL_PATH, doc["detector"], len(app.detector.mode_names), app.features.size, window, rate))
            return app
        except (ValueError, KeyError, MemoryError) as e:
            model_error = "model %s cannot be used: %s" % (s.MODEL_PATH, e)
            log("# NO MODEL: %s" % model_error)
            doc = None
            boot_info["model"] = None
    app = App(sensor, None, model_error=model_error, **common)
    app.watchdog_mode = wd_mode
    return app


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


def main(getenv, hw):
    """What code.py runs: settings -> app -> loop. Returns the app (None on a settings
    error) when the loop ends (replay finished or MAX_WINDOWS reached)."""
    from device import settings as settings_mod

    max_loops = settings_mod.lenient_int(getenv, "MAX_WINDOWS", 0)
    try:
        s = settings_mod.load(getenv)
        pins = resolve_pins(s, hw)
    except settings_mod.SettingsError as e:
        return config_error(e, hw, max_loops)
    app = build_app(s, hw, pins)
    try:
        app.run(s.MAX_WINDOWS or None)
    finally:
        if app.store is not None:
            app.save()
        wd = app.watchdog
        if wd is not None:
            try:
                wd.deinit()
            except Exception:
                pass
    app._emit({"type": "status", "state": "stopped", "windows": app.windows})
    hw.write("# loop ended after %d windows (%s)" % (app.windows, "MAX_WINDOWS" if s.MAX_WINDOWS else "replay finished"))
    return app
