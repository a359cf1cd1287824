"""What the app keeps across a reset: counters and the commissioned modes.

`snapshot(app)` builds the record device.persist stores (two CRC-checked slots in nvm or
files); `restore(app, record)` applies one at start-up. A record is only applied to the
model and commissioning settings it was made with (model checksum and a key of the
COMMISSION_* settings); one the current model cannot use is kept for when it returns.
"""

from device import persist


def restore(app, st):
    """Apply a state record (device.persistload.decode). Returns True if the commissioned
    modes were applied."""
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
            st.get("key") == persist.key_of(app.commission_key))
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


def snapshot(app):
    """The state record to persist (see device.persist.encode). A refused commissioning
    leaves no modes record: the next start commissions again."""
    st = {"model": app.model_id[:16], "key": persist.key_of(app.commission_key),
          "counters": {"boots": app.boots, "windows": app.windows,
                       "anomalies": app.anomalies, "faults": app.faults,
                       "errors": app.errors, "seq": app.seq},
          "modes": []}
    c = app.commissioner
    if app.model is not None and c is not None and c.done and not getattr(c, "refused", None):
        for i in range(len(app.detector.mode_names)):
            mean, scale, thr = app.detector.mode_params(i)
            st["modes"].append((app.detector.mode_names[i] in c.updated, thr, mean, scale))
    elif app._kept is not None:
        st["model"] = app._kept.get("model", "")
        st["key"] = app._kept.get("key", 0)
        st["modes"] = app._kept.get("modes") or []
    return st
