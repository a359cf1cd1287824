"""The board application loop: read -> features -> score -> decide -> alert -> outbox.

No hardware imports: the sensor, alert outputs, outbox, clock and watchdog are passed in,
so code.py on the board and `host_tools simulate` / the tests on a PC drive this same
object. Every step is bounded: a sensor that raises is retried a fixed number of times,
then the window is counted as a fault and the loop goes on.
"""

from device import decision as decision_mod
from device import detectors as detectors_mod
from device import features as features_mod
from device.commission import Commissioner

# Status values shared by alerts, telemetry and the console.
NO_MODEL = "no_model"
COMMISSIONING = "commissioning"
NORMAL = "normal"
ANOMALY = "anomaly"
FAULT = "fault"


class App:
    def __init__(self, sensor, model=None, outbox=None, alerts=(), clock=None,
                 watchdog=None, device_id="board", heartbeat_every=60, retries=3,
                 commission_windows=0, commission_mode=None, model_error=None,
                 recorder=None, on_commissioned=None, top=3):
        self.sensor = sensor
        self.outbox = outbox
        self.alerts = list(alerts)
        self.clock = clock
        self.watchdog = watchdog
        self.device_id = device_id
        self.heartbeat_every = int(heartbeat_every)
        self.retries = int(retries)
        self.recorder = recorder
        self.on_commissioned = on_commissioned
        self.top = int(top)
        self.seq = 0
        self.windows = 0
        self.faults = 0
        self.consecutive_faults = 0
        self.anomalies = 0
        self.last_score = 0.0
        self.last_mode = None
        self.last_error = None
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
        self.state = NO_MODEL if model is None else (COMMISSIONING if self.commissioner else NORMAL)
        self._set_alerts(self.state)
        if model is None:
            self._emit({"type": "status", "state": NO_MODEL,
                        "error": str(model_error) if model_error else "no model"})

    # ---- plumbing -------------------------------------------------------------------
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

    def _read(self):
        """One window from the sensor, retried a bounded number of times.
        Returns the window, None when a replay source is exhausted, or False on failure."""
        err = None
        for _ in range(self.retries + 1):
            try:
                return self.sensor.read()
            except (OSError, ValueError, RuntimeError) as e:
                err = e
        self.faults += 1
        self.consecutive_faults += 1
        self.last_error = "%s: %s" % (type(err).__name__, err)
        return False

    # ---- the loop -------------------------------------------------------------------
    def step(self):
        """Process one window. Returns False when the sensor has no more data."""
        if self.watchdog is not None:
            self.watchdog.feed()
        for a in self.alerts:
            a.tick(self._now())
        win = self._read()
        if win is None:
            return False
        if win is False:
            if self.state != FAULT:
                self._emit({"type": "status", "state": FAULT, "error": self.last_error,
                            "faults": self.faults})
                self.state = FAULT
                self._set_alerts(FAULT)
            return True
        if self.state == FAULT:
            self._emit({"type": "status", "state": "recovered", "faults": self.faults})
            self.state = NO_MODEL if self.model is None else (
                COMMISSIONING if self.commissioner and not self.commissioner.done else
                (ANOMALY if self.decision.active else NORMAL))
            self._set_alerts(self.state)
        self.consecutive_faults = 0
        self.windows += 1
        if self.recorder is not None:
            self.recorder.record(win)
        if self.model is None:
            if self.heartbeat_every and self.windows % self.heartbeat_every == 0:
                self._heartbeat()
            return True
        x = self.features.compute(win)
        if self.commissioner is not None and not self.commissioner.done:
            if self.commissioner.update(x):
                self._commissioned()
            return True
        score, mode = self.detector.score(x)
        self.last_score = score
        self.last_mode = mode
        ev = self.decision.update(score)
        if ev == decision_mod.START:
            self.anomalies += 1
            self.state = ANOMALY
            self._set_alerts(ANOMALY)
            p = self._event(ev, score, mode)
            p["top"] = [[n, round(v, 3)] for n, v in
                        self.detector.explain(x, mode, self.features.names, self.top)]
        elif ev == decision_mod.END:
            self.state = NORMAL
            self._set_alerts(NORMAL)
            self._event(ev, score, mode)
        if self.heartbeat_every and self.windows % self.heartbeat_every == 0:
            self._heartbeat()
        return True

    def _event(self, ev, score, mode):
        return self._emit({"type": "event", "event": ev, "window": self.windows,
                           "mode": self.detector.mode_names[mode], "score": round(score, 4),
                           "threshold": self.decision.on, "raw": round(self.detector.last_raw, 4),
                           "anomaly": ev == decision_mod.START})

    def _heartbeat(self):
        p = {"type": "heartbeat", "state": self.state, "windows": self.windows,
             "faults": self.faults, "anomalies": self.anomalies}
        if self.model is not None and self.state not in (COMMISSIONING,):
            p["mode"] = self.detector.mode_names[self.last_mode] if self.last_mode is not None else None
            p["score"] = round(self.last_score, 4)
            p["anomaly"] = bool(self.decision.active)
        self._emit(p)

    def _commissioned(self):
        c = self.commissioner
        self.state = NORMAL
        self._set_alerts(NORMAL)
        modes = []
        for i in range(len(self.detector.mode_names)):
            modes.append({"name": self.detector.mode_names[i],
                          "threshold": round(self.detector.threshold(i), 4),
                          "windows": c.counts()[i]})
        self._emit({"type": "status", "state": "commissioned", "modes": modes,
                    "updated": list(c.updated)})
        if self.on_commissioned is not None:
            self.on_commissioned(self)

    def run(self, max_windows=None):
        """Loop until the sensor is exhausted or max_windows windows were processed."""
        n = 0
        while max_windows is None or n < max_windows:
            if not self.step():
                break
            n += 1
        return n
