"""Run the board application (device.app.App, as code.py builds it) over recordings.

A replay sensor plays the windows, fake alert outputs log every change, and the outbox
prints each payload as the board's console would. Prints a summary at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from device import app as app_mod
from device.appconfig import AppConfig
from device.sensors import ReplaySensor
from host_tools.data import datasets


class ListOutbox:
    """Collects payloads and (optionally) prints each as one JSON line."""

    def __init__(self, echo: bool = True, stream=sys.stdout) -> None:
        self.items: list[dict] = []
        self.echo = echo
        self.stream = stream

    def put(self, payload: dict) -> bool:
        self.items.append(dict(payload))
        if self.echo:
            self.stream.write(json.dumps(payload) + "\n")
        return True


class LoggingAlert:
    """Stands in for buzzer/LED/NeoPixel: records every state change."""

    def __init__(self, echo: bool = True, stream=sys.stdout) -> None:
        self.state: str | None = None
        self.changes: list[str] = []
        self.echo = echo
        self.stream = stream

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.changes.append(state)
            if self.echo:
                on = "ON " if state in (app_mod.ANOMALY, app_mod.FAULT) else "off"
                self.stream.write(f"# alert {on} ({state})\n")

    def tick(self, now: float) -> None:
        pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, metavar="FILE", help="the model file (model.json)")
    p.add_argument("--data", nargs="+", required=True, metavar="DIR",
                   help="recording folders or files, played in order as one sensor stream")
    p.add_argument("--commission", type=int, default=0, metavar="N",
                   help="commission on the first N windows (as the board does after installation)")
    p.add_argument("--heartbeat", type=int, default=50, help="heartbeat every N windows")
    p.add_argument("--device", default="sim", help="device id the simulated board sends as")
    p.add_argument("--seq-start", type=int, default=None, metavar="N",
                   help="first sequence number (default: with --send, milliseconds since 1970, so "
                        "a second run is new data at the receiver, not duplicates; otherwise 1)")
    p.add_argument("--quiet", action="store_true",
                   help="no payload lines; only warnings, errors and what --send could not deliver")
    p.add_argument("--send", metavar="URL", help="also send every payload through the board's own transport: "
                   "http://host:port/ingest (with --token) or mqtt://user:pass@host:port[/topic]")
    p.add_argument("--token", help="bearer token for --send http://...")


class SendFailed(Exception):
    """simulate --send: the receiver confirmed nothing (the message says why)."""


def run(model_path: str, data: list[str], commission: int = 0, heartbeat: int = 50,
        echo: bool = True, send: str | None = None,
        token: str | None = None, device: str = "sim",
        seq_start: int | None = None) -> tuple[app_mod.App, ListOutbox, LoggingAlert]:
    doc, ex = datasets.load_model(model_path)
    windows = [w for _, _, w in datasets.windows_of_paths(data, ex, datasets.model_expect(model_path, ex))]
    box = ListOutbox(echo)
    out: Any = box  # or hostnet's SendOutbox around it (imported only for --send)
    if send:
        from host_tools.fleet import hostnet

        out = hostnet.SendOutbox(hostnet.host_transport(send, token), box)
    alert = LoggingAlert(echo)
    step = ex.window / ex.rate
    holder: list[app_mod.App] = []

    def clock() -> float:
        """Signal time: window k ends k * window / rate seconds in, however often the
        app asks (it also reads the clock to advance alert patterns)."""
        return round(holder[0].windows * step, 3) if holder else 0.0

    config = AppConfig(device_id=device, heartbeat_every=heartbeat, commission_windows=commission)
    app = app_mod.App(ReplaySensor(windows), doc, config, outbox=out, alerts=[alert], clock=clock)
    if seq_start is None:
        seq_start = int(time.time() * 1000) if send else 1
    app.seq = seq_start - 1  # the app adds 1 before each payload
    holder.append(app)
    app.run()
    if out is not box:
        ok, text = out.finish()
        sys.stderr.write(f"# --send {send}: {text}\n")
        if not ok:
            raise SendFailed(f"--send {send}: {text}")
    return app, box, alert


def main(a: argparse.Namespace) -> int:
    if not a.device or len(a.device) > 64 or not a.device.isprintable():
        raise datasets.DataError(f"--device {a.device!r}: give a short printable name, e.g. sim-2")
    try:
        app, box, alert = run(a.model, a.data, a.commission, a.heartbeat, echo=not a.quiet,
                              send=a.send, token=a.token, device=a.device, seq_start=a.seq_start)
    except SendFailed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    starts = sum(1 for p in box.items if p.get("event") == "anomaly_start")
    print(f"simulated {app.windows} windows: {starts} alarm(s), {app.faults} sensor fault(s), "
          f"{len(box.items)} payloads, final state {app.state}")
    return 0
