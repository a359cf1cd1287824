"""The App's code that runs once or rarely: its start (the model's parts, a restored state
(App.snapshot makes the records), the boot status) and its stop, a sensor fault, bad data and
the recovery from either, a sample-rate warning, the end of commissioning, the traceback of
an exception in the loop.

A module of its own for the board's heap: every imported module's code stays in the heap
while it is in sys.modules, and the loop (device/app.py) runs for months without needing
any of this. App._rare imports it, calls one function and forgets it again, so a normal
run holds none of it after setup (tests/test_code_py.py checks it left). Only functions
live here: nothing made here may be an instance of a class defined here.
"""

from device.alerts import BAD_DATA, COMMISSIONING, FAULT, NO_MODEL, NORMAL
from device.persist import key_of
from device.xp import num


def _boot_id():
    """A random id 1..65535 for this start of the board; it travels with every payload
    (`boot`), so a receiver keeps a sequence that restarted (storage wiped, a replacement
    board with the same id) apart from the old one instead of dropping it as repeats."""
    try:
        import os

        b = os.urandom(2)
        v = (b[0] << 8) | b[1]
    except (ImportError, AttributeError, NotImplementedError, OSError):
        import time

        v = int(time.monotonic() * 1000) & 0xFFFF
    return v or 1


def start(app, c, features, wall, restore, boot_info):
    """The rest of App.__init__: the model's features, detector, decision and commissioner,
    the wall clock, a restored state, the start-up status payloads and the first save."""
    try:
        import gc

        app._mem_free = getattr(gc, "mem_free", None)  # CircuitPython/MicroPython only
    except ImportError:
        pass
    app.boot_id = _boot_id()
    model = app.model
    if model is not None:
        from device import detectors as detectors_mod
        from device import features as features_mod
        from device.decision import Decision

        app.fa_rate = model.get("fa_rate", 0.01)
        app.features = features if features is not None else features_mod.from_recipe(model["features"], model)
        if app.features.names != model["features"]["names"]:
            raise ValueError("model feature names do not match this code's recipe")
        app.detector = detectors_mod.from_model(model)
        app.decision = Decision.from_settings(model.get("decision", {}))
        n = c.commission_windows
        if n and n > 0:
            from device import commission

            mode = None
            if c.commission_mode:
                if c.commission_mode not in app.detector.mode_names:
                    raise ValueError("commission mode %r is not in the model" % c.commission_mode)
                mode = app.detector.mode_names.index(c.commission_mode)
            n_fit = max(2, n // 2)
            app.commissioner = commission.from_model(app.detector, model, n_fit, max(1, n - n_fit), mode=mode)
    # the wall clock a days-off profile needs (None for every other model)
    if wall is not None and model is not None and getattr(app.detector, "day_types", 0):
        app.wall = wall
        wall.start(app)
    restored = False
    if restore is not None:
        restored = _restore(app, restore)
    app.state = NO_MODEL if model is None else (
        COMMISSIONING if app.commissioner is not None and not app.commissioner.done else NORMAL)
    if hasattr(app.sensor, "idle"):
        app.sensor.idle = app._idle
    app._set_alerts(app.state)
    if boot_info is not None:
        p = {"type": "status", "state": "boot", "boots": app.boots}
        for k in boot_info:
            p[k] = boot_info[k]
        app._emit(p)
    if model is None:
        app._emit({"type": "status", "state": NO_MODEL,
                   "error": str(app.model_error) if app.model_error else "no model"})
    elif restored:
        app._emit({"type": "status", "state": "commission_restored", "modes": mode_summary(app)})
    if app.store is not None:
        app.save()


def _restore(app, st):
    """Apply a saved state record (App.snapshot made it; device.persistload.decode read
    it). Returns True if the commissioned modes were applied."""
    c = st.get("counters") or {}
    app.boots = int(c.get("boots", 0)) + 1
    app.windows = int(c.get("windows", 0))
    app.anomalies = int(c.get("anomalies", 0))
    app.faults = int(c.get("faults", 0))
    app.errors = int(c.get("errors", 0))
    # Payloads sent after the last save were not counted: jump past them so a receiver
    # never sees a sequence number twice.
    app.seq = int(c.get("seq", 0)) + 4 * max(app.persist_every, 1) + 100
    modes = st.get("modes") or []
    if not modes:
        return False
    same = (st.get("model") == app.model_id[:16] and
            st.get("key") == key_of(app.commission_key))
    if app.model is None or not same:
        if app.model is None:
            app._kept = st  # keep it for when the model comes back
        return False
    if app.commissioner is None or len(modes) != len(app.detector.mode_names):
        return False
    updated = []
    for i in range(len(modes)):
        upd, thr, mean, scale = modes[i]
        if upd:
            app.detector.set_mode(i, mean=mean, scale=scale, threshold=thr)
            updated.append(app.detector.mode_names[i])
    app.commissioner.done = True
    app.commissioner.updated = updated
    return True


def traceback(app, e):
    """The traceback of an exception in the loop (App._crash has said it in one line)."""
    import sys

    if hasattr(sys, "print_exception"):  # CircuitPython, MicroPython
        sys.print_exception(e)
    else:
        import traceback as tb

        tb.print_exception(type(e), e, e.__traceback__)


def stop_watchdog(app):
    wd = app.watchdog
    if wd is not None:
        try:
            wd.mode = None
        except Exception as e:  # a board whose watchdog cannot be stopped: say so
            app.log("# watchdog not stopped: %s" % (e,))


def stop(app, write=None):
    """The loop ended (device.app.run_board): the last save and the watchdog released; with
    `write` (it ended, not raised), the last status and console line."""
    try:
        if app.store is not None:
            app.save()
    finally:
        stop_watchdog(app)
    if write is not None:
        app._emit({"type": "status", "state": "stopped", "windows": app.windows})
        write("# loop ended after %d windows (%s)" % (app.windows, "MAX_WINDOWS" if app.max_windows else "replay finished"))


def fault(app):
    """The sensor failed every retry: FAULT (once; the back-off is the App's)."""
    app._emit({"type": "status", "state": FAULT, "error": app.last_error,
               "faults": app.faults, "errors": app.errors})
    app.log("# FAULT: sensor failed %d times in a row: %s" % (app.retries + 1, app.last_error))
    app._to(FAULT)


def bad_fault(app, why):
    """Too many bad windows in a row: FAULT."""
    app._emit({"type": "status", "state": FAULT, "error": app.last_error, "bad": app.bad, "faults": app.faults})
    app.log("# FAULT: %d bad windows in a row (%s)" % (app.consecutive_bad, why))
    app._to(FAULT)


def bad_data(app, why):
    app._emit({"type": "status", "state": BAD_DATA, "error": why, "bad": app.bad})
    app.log("# bad data: %s (window %d)" % (why, app.windows))
    app._to(BAD_DATA)


def recovered(app):
    """A good window after a fault or bad data: back to the state the model is in."""
    app._emit({"type": "status", "state": "recovered", "faults": app.faults, "errors": app.errors, "bad": app.bad})
    app.log("# sensor recovered")
    if app.model is None:
        state = NO_MODEL
    elif app.commissioner is not None and not app.commissioner.done:
        state = COMMISSIONING
    else:
        from device.alerts import ANOMALY

        state = ANOMALY if app.decision.active else NORMAL
    app._to(state)


def rate_warning(app):
    """The sensor reads slower than configured (said at most every 500 windows)."""
    s = app.sensor
    measured = round(s.rate_measured, 1)
    app._emit({"type": "warning", "warning": "sample_rate", "measured": measured, "configured": s.rate})
    app.log("# warning: sensor achieved %.1f Hz, short of the configured %s Hz "
            "(lower SAMPLE_RATE or raise I2C_FREQUENCY)" % (measured, s.rate))


def mode_summary(app):
    c = app.commissioner
    det = app.detector
    counts = c.counts() if c is not None else None
    supported = getattr(c, "fa_supported", None)
    modes = []
    for i in range(len(det.mode_names)):
        m = {"name": det.mode_names[i], "raw_threshold": num(det.threshold(i))}
        if counts is not None:
            m["windows"] = counts[i]
        if supported is not None and supported[i] is not None:
            m["fa_supported"] = num(supported[i], 5)
        modes.append(m)
    return modes


def commissioned(app):
    """A commissioning run ended: adopted or refused, said once, saved."""
    c = app.commissioner
    app._to(NORMAL)
    refused = getattr(c, "refused", None)
    if refused:
        app._emit({"type": "status", "state": "commission_refused", "error": refused, "modes": mode_summary(app)})
        app.log("# commissioning NOT adopted: %s (the trained values stay)" % refused)
    else:
        app._emit({"type": "status", "state": "commissioned", "modes": mode_summary(app), "updated": list(c.updated)})
        app.log("# commissioned: %s" % (", ".join(c.updated) or "no mode had enough windows"))
    for w in getattr(c, "warnings", ()):
        app.log("# commissioning: %s" % w)
    if app.store is not None:
        app.save()
    if app.on_commissioned is not None:
        app.on_commissioned(app)
