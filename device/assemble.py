"""The last step of setup: the App made of the parts device/wiring.py built (build_app(finish=False)).

A module of its own so that code.py can drop the wiring (and the settings and model loader
it held) BEFORE the App's modules (app, detectors, decision) and the App's arrays arrive:
the setup peak then holds only one of the two (tests/mp_heap.py measures it). Setup-only:
code.py calls app_of() once and then drop(), which takes this module and AppConfig's off
the heap too. Host tools and tests go through wiring.setup / wiring.build_app, which call
app_of() themselves.
"""


# setup-only modules the transport's setup imports (as device.wiring.SETUP_MODULES lists them)
_TELEMETRY = ("device.telemetry", "device.lorasetup", "device.payloads", "device.lora_time", "device.hashing",
              "device.sha256")


def attach_transport(p, drop=False):
    """The network transport TELEMETRY names and the outbox in front of it, into the parts
    `p` (p["transport"], p["box"]), when wiring left them for later (a network
    configuration). code.py calls this after the wiring, the settings and the model loader
    have left the heap, so the transport's library and client never share the heap with
    them; drop=True: device/telemetry.py (setup-only) leaves again before the App's modules
    arrive. A transport that cannot start leaves the console transport (logged), as before."""
    if p.get("box") is not None:
        return
    s, hw = p["s"], p["hw"]
    wd = p.get("watchdog")  # armed by the wiring: the library's import and the client take time
    if wd is not None:
        wd.feed()
    try:
        from device import telemetry

        transport = telemetry.make_transport(s, hw, hw.write)  # None: it could not start (logged)
        if transport is None:
            from device import outbox as outbox_mod

            transport = outbox_mod.ConsoleTransport(hw.write)
            p["transport"], p["box"] = transport, outbox_mod.Outbox(transport)
        else:
            p["transport"], p["box"] = transport, telemetry.make_outbox(s, hw, transport, hw.write)
    finally:
        if drop:
            _drop(_TELEMETRY)
        if wd is not None:
            wd.feed()


def app_of(p):
    """The App of the parts `p` (a dict, wiring.build_app). A model that cannot be used leaves a running App in
    the no-model state (logged), as wiring did before."""
    attach_transport(p)
    from device.app import App  # the loop's modules, after the wiring and the loader left
    from device.appconfig import AppConfig

    s, hw, doc = p["s"], p["hw"], p["doc"]
    log = hw.write
    model_error = p["model_error"]
    config = AppConfig(device_id=p["device_id"], heartbeat_every=s.HEARTBEAT_WINDOWS, retries=s.SENSOR_RETRIES,
                       commission_key=p["commission_key"], persist_every=s.PERSIST_EVERY, guard=True,
                       max_windows=s.MAX_WINDOWS)
    if doc is not None:
        try:
            config.commission_windows = s.COMMISSION_WINDOWS
            config.commission_mode = s.COMMISSION_MODE
            config.model_id = p["model_id"]
            app = App(p["sensor"], doc, config, outbox=p["box"], alerts=p["alerts"], clock=p["clock"], watchdog=p["watchdog"],
                      sleep=hw.sleep, log=log, store=p["store"], recorder=p["recorder"], wall=p["wall"],
                      features=p["feats"], restore=p["restore"], boot_info=p["boot_info"])
            app.watchdog_mode = p["watchdog_mode"]
            if getattr(p["transport"], "name", "") == "lora":  # LoRa packets carry indexes, not names
                p["transport"].names, p["transport"].modes = app.features.names, app.detector.mode_names
            _slim(doc)
            if doc["features"].get("names") == app.features.names:
                doc["features"]["names"] = app.features.names  # one list of names, not two
            _collect()
            log("# model %s: %s, %d mode(s), %d features, window %d at %s Hz" % (
                s.MODEL_PATH, doc["detector"], len(app.detector.mode_names), app.features.size, p["window"], p["rate"]))
            _thermal_heap_warning(s, doc, app, log)
            app.held = p["held"]
            return app
        except Exception as e:  # noqa: BLE001 - the board runs on without the model
            model_error = "model %s cannot be used: %s" % (s.MODEL_PATH, e)
            log("# NO MODEL: %s" % model_error)
            doc = None
            p["boot_info"]["model"] = None
            config.commission_windows, config.commission_mode, config.model_id = 0, None, ""  # no model's
    app = App(p["sensor"], None, config, outbox=p["box"], alerts=p["alerts"], clock=p["clock"], watchdog=p["watchdog"],
              sleep=hw.sleep, log=log, store=p["store"], recorder=p["recorder"], restore=p["restore"],
              boot_info=p["boot_info"], model_error=model_error)
    app.watchdog_mode = p["watchdog_mode"]
    app.held = p["held"]
    return app


def drop():
    """Take this module and AppConfig's off the heap (code.py, once the App exists)."""
    _drop(("device.assemble", "device.appconfig"))


def _drop(names):
    from device import forget

    for name in names:
        forget(name)
    _collect()


def _collect():
    try:
        import gc

        gc.collect()
    except ImportError:
        pass


# what train records about each mode for people (device/ never reads it)
_HOST_ONLY = ("threshold_source", "threshold_method", "n_fit", "n_threshold", "shrinkage")


def _slim(doc):
    """Drop what the running app does not need once the detector holds the arrays (the
    parsed JSON lists take several times the memory of float32 arrays on a board)."""
    for m in doc.get("modes", []):
        for k in ("mean", "scale", "inv_cov", "prec_chol", "baseline", "pixel_mean", "pixel_scale"):
            if k in m:
                m[k] = None
        for k in _HOST_ONLY:
            if k in m:
                del m[k]
    for k in ("training", "commissioning", "_arrays", "_pixels", "_pixel_means", "_pixel_scales"):
        if k in doc:
            del doc[k]


def _thermal_heap_warning(s, doc, app, log):
    """A thermal model's pixel modes against the heap of a board without PSRAM (issue 20:
    device.heapfit.thermal_fit), said once at start."""
    if s.SENSOR != "mlx90640" or doc.get("sensor") != "thermal":
        return
    from device.heapfit import thermal_fit  # the settings module has left the heap by now

    _free, warn = thermal_fit(s.MLX_READ, s.TELEMETRY, len(app.detector.mode_names))
    if warn and warn not in s.warnings:
        log("# settings: %s" % warn)
