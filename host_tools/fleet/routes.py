"""Alert routes: where the receiver tells someone that an anomaly started.

A JSON config file lists the routes:

    {"routes": [
        {"type": "webhook", "url": "https://example.org/hook", "headers": {"X-Key": "..."},
         "timeout": 5, "retries": 2},
        {"type": "log", "path": "alerts.log"}
    ]}

Route options: `name` (optional, how the queue knows the route; default its type and
url/path), webhook `headers` (text to text), `timeout` (seconds per attempt, default 5),
`retries` (attempts after the first; default: until `give_up_after`), `give_up_after`
(seconds, default 86400). Anything else, or a value of the wrong kind, stops the receiver
at start with one error naming the file, the route and the key.

A route fires once per anomaly start: the receiver queues one alert per route in the
database, in the same transaction that stores the event, only when the event is new
(storage is unique by device, boot and sequence number), so retries, duplicates and a
second receiver do not alert twice, and an alert exists exactly when its event is stored.
Each route has its own worker thread that delivers its queue oldest first and retries a
failure with back-off (1 s doubling to 5 min); the queue lives in the database, so alerts
not yet delivered when the receiver stops are delivered after it starts again, and a
slow or dead webhook delays no other route. Several receivers on one database share the
queue (an alert is claimed before it is delivered). A delivery that times out may have
reached the target: such an alert can arrive twice, never zero times.
The webhook body is a generic JSON object: device, seq, time, mode, score, top features
(with their values against normal where the board sends them) or hot/cold spot, and an
`explanation` sentence (host_tools/fleet/wording.py).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from typing import Any, Callable

from host_tools.data.datasets import DataError
from host_tools.fleet import wording


def explain(p: dict) -> str:
    """One sentence a person can act on."""
    s = f"{p.get('device')}: anomaly started"
    if p.get("mode"):
        s += f" in mode {p['mode']}"
    if p.get("score") is not None:
        s += f", score {p['score']:.2f} x the alarm line"
    if p.get("top"):
        if p.get("values"):  # against normal, in the words the dashboard uses
            s += "; " + "; ".join(wording.feature_phrases(p))
        else:
            s += "; top features: " + ", ".join(f"{n} ({v:.2f})" for n, v in p["top"])
    if p.get("hotspot"):
        s += "; " + wording.spot_words(p["hotspot"]).rstrip(".")
    return s


def alert_body(p: dict) -> dict:
    body = {k: p.get(k) for k in ("device", "seq", "t", "mode", "score", "threshold", "top", "values", "hotspot")
            if p.get(k) is not None}
    body["event"] = "anomaly_start"
    body["explanation"] = explain(p)
    return body


_KEYS = {"webhook": {"type", "name", "url", "headers", "timeout", "retries", "give_up_after"},
         "log": {"type", "name", "path", "retries", "give_up_after", "timeout"}}


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v


def check_route(r: Any, where: str) -> str:
    """Validate one route; returns its queue key. Raises DataError with one reason."""
    if not isinstance(r, dict):
        raise DataError(f"{where}: expected an object with a type")
    kind = r.get("type")
    if kind not in _KEYS:
        raise DataError(f"{where}: type must be webhook or log")
    extra = sorted(set(r) - _KEYS[kind])
    if extra:
        raise DataError(f"{where}: unknown key {extra[0]!r} (a {kind} route takes {', '.join(sorted(_KEYS[kind]))})")
    if kind == "webhook":
        if not isinstance(r.get("url"), str) or not r["url"].startswith(("http://", "https://")):
            raise DataError(f"{where}: a webhook needs an http(s) url")
        h = r.get("headers", {})
        if not isinstance(h, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in h.items()):
            raise DataError(f"{where}: headers: expected an object of text values")
    if "path" in r and (not isinstance(r["path"], str) or not r["path"]):
        raise DataError(f"{where}: path: expected a file name")
    if "timeout" in r and not (_num(r["timeout"]) and 0 < r["timeout"] <= 300):
        raise DataError(f"{where}: timeout: expected seconds, more than 0 and at most 300")
    if "retries" in r and not (isinstance(r["retries"], int) and not isinstance(r["retries"], bool)
                               and r["retries"] >= 0):
        raise DataError(f"{where}: retries: expected a whole number >= 0, got {r['retries']!r}")
    if "give_up_after" in r and not (_num(r["give_up_after"]) and r["give_up_after"] > 0):
        raise DataError(f"{where}: give_up_after: expected seconds > 0")
    if "name" in r and (not isinstance(r["name"], str) or not r["name"]):
        raise DataError(f"{where}: name: expected text")
    if r.get("name"):
        return str(r["name"])
    return f"webhook {r['url']}" if kind == "webhook" else f"log {r.get('path') or 'stderr'}"


class Routes:
    """The routes of one receiver and their delivery workers (one thread per route)."""

    backoff_s = 1.0       # first retry after this, doubling
    backoff_max_s = 300.0
    poll_s = 1.0          # how often a worker looks for alerts another receiver queued

    def __init__(self, routes: list[dict], log: Callable[[str], None] | None = None) -> None:
        self.routes = routes
        self.keys: list[str] = []
        for i, r in enumerate(routes):
            k = check_route(r, f"route {i + 1}")
            if k in self.keys:
                raise DataError(f"route {i + 1}: a second route named {k!r} (give it a distinct name)")
            self.keys.append(k)
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.fired = 0
        self.delivered = 0
        self.failed = 0
        self.store: Any = None
        self._wake = [threading.Event() for _ in routes]
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._busy = [False] * len(routes)

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
        try:
            return cls(routes, log)
        except DataError as e:
            raise DataError(f"{path}: {e}") from None

    # -- the receiver's side
    def alerts_for(self, p: dict) -> list[tuple[str, str]]:
        """(route key, JSON body) per route: stored with the event in one transaction."""
        body = json.dumps(alert_body(p))
        return [(k, body) for k in self.keys]

    def start(self, store: Any) -> None:
        """Deliver what `store`'s queue holds for these routes (also from before a restart)."""
        if self._workers:
            return
        self.store = store
        for i in range(len(self.routes)):
            t = threading.Thread(target=self._run, args=(i,), name=f"route-{i + 1}", daemon=True)
            t.start()
            self._workers.append(t)

    def kick(self) -> None:
        """An alert was queued: wake the workers."""
        self.fired += 1
        for w in self._wake:
            w.set()

    def pending(self) -> int:
        counts = self.store.alert_counts() if self.store is not None else {}
        return sum(counts.get(k, {}).get("pending", 0) for k in self.keys)

    def wait(self, timeout: float = 10.0) -> bool:
        """Until no alert of these routes is pending (tests, shutdown); True if none is."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if self.pending() == 0 and not any(self._busy):
                    return True
            except Exception:  # noqa: BLE001 - storage down: keep waiting until the deadline
                pass
            time.sleep(0.02)
        return False

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        for w in self._wake:
            w.set()
        end = time.monotonic() + timeout
        for t in self._workers:
            t.join(max(0.0, end - time.monotonic()))
        self._workers = []

    # -- delivery
    def _run(self, i: int) -> None:
        r, key, wake = self.routes[i], self.keys[i], self._wake[i]
        lease = float(r.get("timeout", 5)) + 30.0
        while not self._stop.is_set():
            try:
                rows = self.store.due_alerts(key, time.time())
            except Exception as e:  # noqa: BLE001 - storage down: try again shortly
                self.log(f"# route {key}: cannot read the alert queue: {e}")
                wake.wait(self.poll_s)
                wake.clear()
                continue
            if not rows:
                try:
                    nxt = self.store.next_alert_due(key)
                except Exception:  # noqa: BLE001
                    nxt = None
                delay = self.poll_s if nxt is None else min(self.poll_s, max(0.0, nxt - time.time()))
                wake.wait(delay)
                wake.clear()
                continue
            for row in rows:
                if self._stop.is_set():
                    return
                self._busy[i] = True
                try:
                    self._one(r, key, row, lease)
                except Exception as e:  # noqa: BLE001 - the worker must survive anything
                    self.log(f"# route {key}: {type(e).__name__}: {e}")
                finally:
                    self._busy[i] = False

    def _one(self, r: dict, key: str, row: dict, lease: float) -> None:
        if not self.store.claim_alert(row["id"], row["next_try"], time.time() + lease):
            return  # another receiver took it
        body = json.loads(row["body"])
        err = self._deliver(r, body)
        attempts = int(row["attempts"]) + 1
        if err is None:
            self.delivered += 1
            self.store.finish_alert(row["id"], "delivered", attempts)
            return
        age = time.time() - float(row["created"])
        limit = r.get("retries")
        if (limit is not None and attempts > limit) or age >= float(r.get("give_up_after", 86400)):
            self.failed += 1
            self.log(f"# route {key}: gave up on the alert for {body.get('device')} seq {body.get('seq')} "
                     f"after {attempts} attempts: {err}")
            self.store.finish_alert(row["id"], "failed", attempts, error=err)
            return
        wait = min(self.backoff_max_s, self.backoff_s * 2 ** (attempts - 1))
        if attempts <= 3 or attempts & (attempts - 1) == 0:
            self.log(f"# route {key}: attempt {attempts} failed ({err}); next in {wait:g} s")
        self.store.finish_alert(row["id"], "pending", attempts, time.time() + wait, err)

    def _deliver(self, r: dict, body: dict) -> str | None:
        """None when delivered, else why not."""
        if r["type"] == "log":
            line = f"ALERT {body['explanation']}"
            if r.get("path"):
                try:
                    with open(r["path"], "a", encoding="utf-8") as f:
                        f.write(time.strftime("%Y-%m-%dT%H:%M:%S ") + line + "\n")
                except OSError as e:
                    return f"{r['path']}: {e.strerror}"
            else:
                self.log(line)
            return None
        data = json.dumps(body).encode()
        headers: dict[str, Any] = {"Content-Type": "application/json"}
        headers.update(r.get("headers") or {})
        try:
            req = urllib.request.Request(r["url"], data=data, headers=headers, method="POST")
            with urllib.request.urlopen(req, timeout=float(r.get("timeout", 5))) as resp:
                if 200 <= resp.status < 300:
                    return None
                return f"HTTP {resp.status}"
        except Exception as e:  # noqa: BLE001 - any network failure: retry later
            return f"{type(e).__name__}: {e}"
