"""The board App's configuration (device.app.App): numbers, ids and names, no hardware.

A setup-only module: device/wiring.py builds one from settings.toml, the App copies the
values into its own attributes, and code.py drops this module with the other setup
modules (wiring.SETUP_MODULES), so the class costs the loop's heap nothing."""


class AppConfig:
    """The App's configuration: numbers, ids and names, no hardware (device/wiring.py
    fills it from settings.toml; host tools and tests set what they need). A plain class:
    CircuitPython has no dataclasses; the App copies the values once, at start.

    device_id: names the board in every payload. heartbeat_every: windows between
    heartbeats (0: none). retries: sensor reads tried per window before it is a fault.
    commission_windows / commission_mode: re-learn (one mode of) the model on the first
    windows after installation (0: no commissioning). commission_key: what a saved
    commissioning record must match to be restored. model_id: the model's checksum
    prefix in the saved state. top: features named in an anomaly event. persist_every:
    windows between state saves (0: only at start and after commissioning). guard: an exception in a step is
    counted and the loop goes on (the board) instead of raised (tests). max_windows:
    stop after this many windows (0: never)."""

    def __init__(self, device_id="board", heartbeat_every=60, retries=3, commission_windows=0,
                 commission_mode=None, commission_key="", model_id="", top=3, persist_every=0,
                 guard=False, max_windows=0):
        self.device_id = device_id
        self.heartbeat_every = heartbeat_every
        self.retries = retries
        self.commission_windows = commission_windows
        self.commission_mode = commission_mode
        self.commission_key = commission_key
        self.model_id = model_id
        self.top = top
        self.persist_every = persist_every
        self.guard = guard
        self.max_windows = max_windows
