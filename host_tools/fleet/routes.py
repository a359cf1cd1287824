"""Alert routes: where the receiver tells someone that an anomaly started.

A JSON config file lists the routes:

    {"routes": [
        {"type": "webhook", "url": "https://example.org/hook", "headers": {"X-Key": "..."},
         "timeout": 5, "retries": 2},
        {"type": "log", "path": "alerts.log"}
    ]}

A route fires once per anomaly start: the receiver calls `fire` only for an event it has
just stored for the first time (storage is unique by device and sequence number), so
retries, duplicates and a second receiver do not alert twice. The webhook body is a
generic JSON object: device, seq, time, mode, score, top features or hot spot, and an
`explanation` sentence. Deliveries run on a worker thread so ingestion never waits.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
import urllib.request
from typing import Any, Callable

from host_tools.data.datasets import DataError


def explain(p: dict) -> str:
    """One sentence a person can act on."""
    s = f"{p.get('device')}: anomaly started"
    if p.get("mode"):
        s += f" in mode {p['mode']}"
    if p.get("score") is not None:
        s += f", score {p['score']:.2f} x the alarm line"
    if p.get("top"):
        s += "; top features: " + ", ".join(f"{n} ({v:.2f})" for n, v in p["top"])
    hs = p.get("hotspot")
    if hs:
        s += f"; hot spot at row {hs['row']:g}, column {hs['col']:g}, {hs['excess']:.1f} deg C above baseline"
    return s


def alert_body(p: dict) -> dict:
    body = {k: p.get(k) for k in ("device", "seq", "t", "mode", "score", "threshold", "top", "hotspot")
            if p.get(k) is not None}
    body["event"] = "anomaly_start"
    body["explanation"] = explain(p)
    return body


class Routes:
    def __init__(self, routes: list[dict], log: Callable[[str], None] | None = None) -> None:
        self.routes = routes
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.fired = 0
        self.delivered = 0
        self.failed = 0
        self._q: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None

    @classmethod
    def load(cls, path: str, log: Callable[[str], None] | None = None) -> "Routes":
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except OSError as e:
            raise DataError(f"{path}: cannot read the routes file: {e.strerror}") from None
        except ValueError as e:
            raise DataError(f"{path}: not valid JSON: {e}") from None
        routes = doc.get("routes") if isinstance(doc, dict) else None
        if not isinstance(routes, list):
            raise DataError(f'{path}: expected {{"routes": [...]}}')
        for i, r in enumerate(routes):
            kind = r.get("type") if isinstance(r, dict) else None
            if kind == "webhook":
                if not str(r.get("url", "")).startswith(("http://", "https://")):
                    raise DataError(f"{path}: route {i + 1}: a webhook needs an http(s) url")
            elif kind != "log":
                raise DataError(f"{path}: route {i + 1}: type must be webhook or log")
        return cls(routes, log)

    def fire(self, p: dict) -> None:
        self.fired += 1
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="routes", daemon=True)
            self._worker.start()
        self._q.put(alert_body(p))

    def wait(self, timeout: float = 10.0) -> None:
        """Until every queued alert was delivered or given up (tests, shutdown)."""
        end = time.monotonic() + timeout
        while self._q.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.02)

    def _run(self) -> None:
        while True:
            body = self._q.get()
            try:
                for r in self.routes:
                    ok = self._deliver(r, body)
                    self.delivered += ok
                    self.failed += not ok
            finally:
                self._q.task_done()

    def _deliver(self, r: dict, body: dict) -> bool:
        if r["type"] == "log":
            line = f"ALERT {body['explanation']}"
            if r.get("path"):
                try:
                    with open(r["path"], "a", encoding="utf-8") as f:
                        f.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + line + "\n")
                except OSError as e:
                    self.log(f"# alert log {r['path']}: {e.strerror}")
                    return False
            else:
                self.log(line)
            return True
        data = json.dumps(body).encode()
        headers: dict[str, Any] = {"Content-Type": "application/json"}
        headers.update(r.get("headers") or {})
        for attempt in range(int(r.get("retries", 2)) + 1):
            try:
                req = urllib.request.Request(r["url"], data=data, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=float(r.get("timeout", 5))) as resp:
                    if 200 <= resp.status < 300:
                        return True
            except Exception as e:  # noqa: BLE001 - any network failure: retry, then log
                err = e
            time.sleep(min(2.0, 0.2 * (attempt + 1)))
        self.log(f"# webhook {r['url']} failed: {err if 'err' in locals() else 'bad status'}")
        return False
