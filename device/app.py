"""The board application loop: read -> features -> score -> decide -> alert -> outbox.

No hardware imports: the sensor, alert outputs, outbox, clock and watchdog are passed in,
so code.py on the board and `host_tools simulate` / the tests on a PC drive this same
object. Every step is bounded: a sensor that raises is retried a fixed number of times,
then the window is counted as a fault, the sensor is asked to recover, and the loop goes
on after a short back-off (during which the watchdog is still fed). A window whose
samples, features or score are not finite is bad data: counted, shown with its own
status, never scored as normal.

Wiring from settings lives in device.wiring; state persistence in device.persist (the
snapshot here, its restore in device.apprare). What runs once or rarely (the start, a fault,
bad data, the end of commissioning, a rate warning) is in device.apprare, off the loop's heap.
"""

from device import decision as decision_mod
from device import xp
from device.alerts import ANOMALY, BAD_DATA, COMMISSIONING, CONFIG, FAULT, NO_MODEL, NORMAL  # noqa: F401
from device.ticks import Uptime  # noqa: F401  (re-exported for callers of the app)
from device.xp import num  # a float for a JSON payload


SENSOR_ERRORS = (OSError, ValueError, RuntimeError)


class App:
    def __init__(self, sensor, model=None, config=None, outbox=None, alerts=(), clock=None,
                 watchdog=None, sleep=None, log=None, store=None, recorder=None, wall=None,
                 features=None, model_error=None, restore=None, boot_info=None, on_commissioned=None):
        """sensor .. wall: the hardware and services (device/wiring.py makes them);
        model: the loaded model dict (None: the board runs without one, `model_error`
        says why); config: a device.appconfig.AppConfig (numbers, ids and names; None:
        the defaults); features: the model's feature extractor when the wiring built it first (its big
        buffers before the rest); restore: a saved state (device.persist); boot_info:
        what the boot status payload carries; on_commissioned: called when a
        commissioning run ends."""
        if config is None:  # host tools and tests; the board always passes one
            from device.appconfig import AppConfig

            config = AppConfig()
        c = config  # copied into attributes: the config and its module leave the heap after setup
        self.sensor = sensor
        self.outbox = outbox
        self._pump = getattr(outbox, "pump", None)
        self.alerts = list(alerts)
        self.clock = clock
        self.watchdog = watchdog
        self.device_id = c.device_id
        self.heartbeat_every = int(c.heartbeat_every)
        self._mem_free = None  # gc.mem_free on CircuitPython/MicroPython (set in apprare.start)
        self.mem_low = self.mem_last = None
        self.retries = int(c.retries)
        self.recorder = recorder
        self.on_commissioned = on_commissioned
        self.top = int(c.top)
        self._log = log
        self._sleep = sleep
        self.store = store
        self.persist_every = int(c.persist_every)
        self.model_id = c.model_id
        self.commission_key = c.commission_key
        self.guard = c.guard
        self.watchdog_mode = None  # set by the wiring: the mode to re-arm a stopped watchdog with
        self.watchdog_rearms = 0
        self.max_windows = int(c.max_windows)
        self.held = []  # objects that must live as long as the app (power-enable pins)
        self.seq = 0
        self.boot_id = 1  # a random id per start (apprare.start)
        self.windows = 0
        self.faults = 0
        self.errors = 0
        self.bad = 0  # windows with non-finite or impossible values
        self.crashes = 0
        self.boots = 1
        self.consecutive_faults = 0
        self.consecutive_errors = 0
        self.consecutive_bad = 0
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
        self.fa_rate = 0.01
        self.wall = None  # the wall clock a days-off profile needs (device.wallclock)
        self.state = NO_MODEL
        # the rest runs once (the model's parts, a restored state, the boot status): it lives
        # in device.apprare, which leaves the heap after
        self._rare("start", (c, features, wall, restore, boot_info))

    def _rare(self, name, args=()):
        """device.apprare.<name>(self, *args): code that runs once or rarely (the start, a
        fault, bad data, the end of commissioning, a rate warning) lives there, and the
        module is forgotten after each use, so its code is not in the heap the loop needs."""
        from device import apprare, forget

        try:
            return getattr(apprare, name)(self, *args)
        finally:
            forget("device.apprare")

    # ---- persistence (device.persist; a record is restored by device.apprare) ---------
    def snapshot(self):
        """The state record to persist (device.persist.encode): counters, and the
        commissioned modes (those of a restored record this model cannot use are kept).
        A refused commissioning leaves no modes record: the next start commissions again."""
        from device.persist import key_of

        st = {"model": self.model_id[:16], "key": key_of(self.commission_key),
              "counters": {"boots": self.boots, "windows": self.windows, "anomalies": self.anomalies,
                           "faults": self.faults, "errors": self.errors, "seq": self.seq},
              "modes": []}
        c = self.commissioner
        det = self.detector
        if self.model is not None and c is not None and c.done and not getattr(c, "refused", None):
            for i in range(len(det.mode_names)):
                mean, scale, thr = det.mode_params(i)
                st["modes"].append((det.mode_names[i] in c.updated, thr, mean, scale))
        elif self._kept is not None:
            k = self._kept
            st["model"] = k.get("model", "")
            st["key"] = k.get("key", 0)
            st["modes"] = k.get("modes") or []
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
        payload["boot"] = self.boot_id
        payload["t"] = self._now()
        if self.outbox is not None:
            self.outbox.put(payload)
        return payload

    def _set_alerts(self, state):
        for a in self.alerts:
            a.set_state(state)

    def _idle(self):
        """Feed the watchdog and advance alert patterns (also called by sensors while
        they sample, and during back-off pauses).

        CircuitPython's feed() silently does nothing on a stopped watchdog, and a
        RAISE-mode watchdog that fired is stopped (mode None): so the mode is checked
        here and set again, rather than waiting for feed() to complain."""
        wd = self.watchdog
        if wd is not None:
            if self.watchdog_mode is not None and wd.mode is None:
                wd.mode = self.watchdog_mode
                self.watchdog_rearms += 1
                self.log("# watchdog re-armed (%d)" % self.watchdog_rearms)
            wd.feed()
        if self.alerts:
            now = self._now()
            for a in self.alerts:
                a.tick(now)

    def stop_watchdog(self):
        """Stop the watchdog (CircuitPython 10 has no deinit: mode None stops it)."""
        self._rare("stop_watchdog")

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

    def _to(self, state):
        self.state = state
        self._set_alerts(state)

    def _fault(self):
        if self.state != FAULT:
            self._rare("fault")  # the status payload and the console line; state FAULT
        recover = getattr(self.sensor, "recover", None)
        if recover is not None:
            try:
                recover()
            except SENSOR_ERRORS:
                pass
        k = self.consecutive_faults - 1
        self._pause(0.25 * (1 << (k if k < 5 else 5)))  # 0.25 s .. 8 s

    def _bad_window(self, why):
        """Non-finite or impossible values: a sensor fault of its own kind. The window is
        neither scored nor fed to the decision (garbage must not look normal, nor be
        allowed to trigger or clear an alarm); many in a row escalate to FAULT."""
        self.bad += 1
        self.consecutive_bad += 1
        if self.consecutive_bad > self.retries:
            self.last_error = "bad data: %s" % why
            if self.state != FAULT:
                self._rare("bad_fault", (why,))
        elif self.state not in (BAD_DATA, FAULT):
            self._rare("bad_data", (why,))

    def _good_window(self):
        if self.state in (FAULT, BAD_DATA):
            self._rare("recovered")
        self.consecutive_faults = 0
        self.consecutive_bad = 0

    def _check_rate(self):
        if getattr(self.sensor, "rate_ok", True):
            self._rate_warned_at = None
        elif self._rate_warned_at is None or self.windows - self._rate_warned_at >= 500:
            self._rate_warned_at = self.windows
            self._rare("rate_warning")

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
        self.windows += 1
        self._check_rate()
        if self.recorder is not None:
            self.recorder.record(win)
        if self.model is not None:
            self._detect(win)
        else:
            self._good_window()
        mf = self._mem_free
        if mf is not None:  # the heap's margin, after the window's work (the loop's trough)
            m = self.mem_last = mf()
            if self.mem_low is None or m < self.mem_low:
                self.mem_low = m
        if self.heartbeat_every and self.windows % self.heartbeat_every == 0:
            self._heartbeat()
        if self._pump is not None:
            self._pump()
        if self.store is not None and self.persist_every and self.windows % self.persist_every == 0:
            self.save()
        return True

    def _detect(self, win):
        x = self.features.compute(win)
        if not self.features.ok:
            self._bad_window("non-finite or out-of-range samples")
            return
        if self.commissioner is not None and not self.commissioner.done:
            self._good_window()
            if self.commissioner.update(x):
                self._commissioned()
            return
        if self.wall is not None:
            self.wall.window(self)
        score, mode = self.detector.score(x)
        if not xp.finite(score):
            self._bad_window("score is not a finite number")
            return
        self._good_window()
        self.last_score = score
        self.last_mode = mode
        ev = self.decision.update(score)
        if ev == decision_mod.START:
            self.anomalies += 1
            self._to(ANOMALY)
            pairs, vals = self.detector.explain_values(x, mode, self.features.names, self.top)
            top = [[n, num(v, 3)] for n, v in pairs]
            # the top features' value, normal mean and spread in the mode: "19x normal"
            values = [[num(v[0], 6), num(v[1], 6), num(v[2], 6)] for v in vals]
            self._event(ev, score, mode, top, values)
        elif ev == decision_mod.END:
            self._to(NORMAL)
            self._event(ev, score, mode)

    def _event(self, ev, score, mode, top=None, values=None):
        # "threshold" is always the alarm line on the scale of "score" (1.0 unless the
        # model's decision says otherwise); "raw" and "raw_threshold" are the detector's
        # own numbers for the mode.
        p = {"type": "event", "event": ev, "window": self.windows,
             "mode": self.detector.mode_names[mode], "score": num(score),
             "threshold": self.decision.on, "raw": num(self.detector.last_raw),
             "raw_threshold": num(self.detector.threshold(mode)),
             "anomaly": ev == decision_mod.START}
        if top is not None:
            p["top"] = top  # complete before it is handed over: the outbox may send at once
            if values is not None:
                p["values"] = values
            hs = getattr(self.features, "hotspot", None)
            if hs is not None:  # thermal: where, how big, how hot
                p["hotspot"] = hs()
        return self._emit(p)

    def _heartbeat(self):
        p = {"type": "heartbeat", "state": self.state, "windows": self.windows,
             "faults": self.faults, "anomalies": self.anomalies}
        if self.errors:
            p["errors"] = self.errors
        if self.bad:
            p["bad"] = self.bad
        if self.crashes:
            p["crashes"] = self.crashes
        if self.watchdog_rearms:
            p["watchdog_rearms"] = self.watchdog_rearms
        if self.mem_last is not None:  # gc.mem_free() after this window and its lowest since start
            p["mem_free"] = self.mem_last
            p["mem_low"] = self.mem_low
        counters = getattr(self.outbox, "counters", None)
        if counters is not None:  # what the outbox lost or still holds travels with the heartbeat
            c = counters()
            for k in ("dropped", "dropped_events", "queued"):
                if c.get(k):
                    p[k] = c[k]
        elif getattr(self.outbox, "dropped", 0):
            p["dropped"] = self.outbox.dropped
        rate = getattr(self.sensor, "rate_measured", None)
        if rate is not None:
            p["rate"] = num(rate, 1)
        cam = getattr(self.sensor, "sensor", self.sensor)  # the camera under FrameScalars too
        path = getattr(cam, "path", None)
        if path is not None:  # MLX90640: frames per second achieved and which path reads them
            p["frame_path"] = path
        if self.model is not None and self.state != COMMISSIONING:
            p["mode"] = self.detector.mode_names[self.last_mode] if self.last_mode is not None else None
            p["score"] = num(self.last_score)
            p["threshold"] = self.decision.on
            p["anomaly"] = bool(self.decision.active)
        self._emit(p)

    def _commissioned(self):
        self._rare("commissioned")

    def _crash(self, e):
        """An unexpected exception in step() (guard=True): report, count, back off. A
        RAISE-mode watchdog's timeout lands here too; the next _idle re-arms it. (Here,
        not in device.apprare: no memory to import it must not stop the report; only the
        traceback comes from there.)"""
        self.crashes += 1
        self._consecutive_crashes += 1
        self.last_error = "%s: %s" % (type(e).__name__, e)
        self.log("# error in the loop (%d): %s" % (self.crashes, self.last_error))
        try:
            import gc

            gc.collect()
        except ImportError:
            pass
        if self._consecutive_crashes <= 3:
            try:
                self._rare("traceback", (e,))
            except Exception:  # noqa: BLE001 - no memory for a traceback: the line above said it
                pass
        if self.state != FAULT:
            self._to(FAULT)
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


def run_board(app, write):
    """What code.py runs once the app is built: the loop, then a clean stop
    (device.apprare.stop: the last save, the watchdog released, the last status)."""
    try:
        app.run(app.max_windows or None)
    except BaseException:
        app._rare("stop")  # the last save and the watchdog released; the exception goes on
        raise
    app._rare("stop", (write,))
    return app
