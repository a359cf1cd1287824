"""The telemetry receiver: HTTP endpoint, MQTT subscriber and LoRa gateway input, one store.

- HTTP: `POST /ingest` with `Authorization: Bearer <token>`, a JSON body of at most
  `max_body` bytes, checked by device.payloads (the board's own schema). 200 = stored or
  already stored (the board may drop it), 400/413 = never acceptable, 401 = wrong token.
  `GET /` is the dashboard, `GET /api/devices` and `/api/events` the data behind it.
- MQTT: subscribes (QoS 1, persistent session) to `<topic>/+/+`, or to
  `$share/<group>/<topic>/+/+` so several receivers share one broker's traffic. Caveat
  (measured with mosquitto 2.0): a broker queues for an offline plain persistent session
  but not for a shared group with every member offline, so across a broker restart a
  group can miss what a board publishes before the first receiver is back.
- LoRa: reads the gateway board's serial lines `LORA <hex> <rssi> <snr>`, checks length,
  tag and freshness (device.payload_check.Unpacker).

Every payload goes through `Receiver.ingest`: validate -> store (unique by device and
seq) -> alert routes for a newly stored anomaly start. Bad input is counted by reason and
never stored; nothing a sender does raises out of a handler.
"""

from __future__ import annotations

import hmac
import html
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable

from device import payload_check, payloads
from host_tools.fleet.routes import Routes
from host_tools.fleet.store import Store


class Receiver:
    def __init__(self, store: Store, token: str | None = None, routes: Routes | None = None,
                 unpacker: payload_check.Unpacker | None = None, max_body: int = 8192,
                 log: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.token = token
        self.routes = routes
        self.unpacker = unpacker
        self.max_body = max_body
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.stale_after = 3.0  # dashboard: heartbeat intervals before a device is stale
        self.stored = 0
        self.duplicates = 0
        self.dup_by_device: dict[str, int] = {}  # duplicates per device, logged once each
        self.conflict_by_device: dict[str, int] = {}  # same (device, seq), other payload
        self.rejected: dict[str, int] = {}
        self._lock = threading.Lock()
        self._servers: list[Any] = []

    # ---- the one path every payload takes ------------------------------------------------
    def reject(self, source: str, why: str) -> None:
        key = f"{source}: {why.split(':')[0]}"
        with self._lock:
            self.rejected[key] = self.rejected.get(key, 0) + 1
            n = self.rejected[key]
        if n <= 3 or n & (n - 1) == 0:
            self.log(f"# rejected ({source}, {n}x): {why}")

    def ingest(self, p: dict, source: str) -> bool:
        """Store a validated payload; True if it was new."""
        new = self.store.add(p, source)
        if not new:
            self._duplicate(p)
        with self._lock:
            if new:
                self.stored += 1
        if new and p.get("type") == "event" and p.get("event") == "anomaly_start" and self.routes:
            self.routes.fire(p)
        return new

    def _duplicate(self, p: dict) -> None:
        """Count a (device, seq) already stored: the same payload again (a duplicate) or a
        different one (a conflict: a board whose sequence restarted). Logged once per
        device and kind; the totals are logged once at exit (summary_lines)."""
        try:
            old = self.store.payload_at(p["device"], p["seq"])
        except Exception:  # noqa: BLE001 - counting must not fail the ingest
            old = None
        conflict = old is not None and old != json.loads(json.dumps(p, sort_keys=True))
        kind = "conflict" if conflict else "duplicate"
        dev = str(p.get("device"))
        with self._lock:
            self.duplicates += 1
            per = self.conflict_by_device if conflict else self.dup_by_device
            first = dev not in per
            per[dev] = per.get(dev, 0) + 1
        if first:
            why = ("a different payload under the same sequence number: the board's sequence restarted "
                   "(kept the first, ignored this)" if conflict else
                   "the same payload again (a retry or a second receiver)")
            self.log(f"# {kind} from {dev}: seq {p.get('seq')} is already stored, {why}; further "
                     f"{kind}s from {dev} are counted and the total is logged at exit")

    def ingest_json(self, body: bytes, source: str) -> tuple[bool, str]:
        try:
            p = payload_check.loads(body)
        except payloads.PayloadError as e:
            self.reject(source, str(e))
            return False, str(e)
        return True, "stored" if self.ingest(p, source) else "duplicate"

    def ingest_lora(self, line: str) -> tuple[bool, str]:
        """One gateway line: `LORA <hex> [rssi] [snr]`."""
        parts = line.strip().split()
        if len(parts) < 2 or parts[0] != "LORA":
            return False, "not a packet line"
        if self.unpacker is None:
            self.reject("lora", "no LoRa key configured")
            return False, "no key"
        try:
            raw = bytes.fromhex(parts[1])
        except ValueError:
            self.reject("lora", "not hex")
            return False, "not hex"
        try:
            p = self.unpacker.unpack(raw, commit=False)
        except payloads.PayloadError as e:
            self.reject("lora", str(e))
            return False, str(e)
        self.unpacker.accept(p["device"], p["seq"])
        if not self.ingest(p, "lora"):
            self.reject("lora", "replayed packet: (device, seq) already stored")
            return False, "duplicate"
        return True, "stored"

    def counters(self) -> dict:
        with self._lock:
            return {"stored": self.stored, "duplicates": self.duplicates,
                    "rejected": dict(self.rejected)}

    # ---- inputs -----------------------------------------------------------------------
    def serve_http(self, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
        srv = _Server((host, port), _handler(self))
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, name="http", daemon=True).start()
        self._servers.append(srv)
        return srv

    def serve_mqtt(self, url: str, topic: str = "anomaly", group: str | None = None,
                   client_id: str | None = None) -> "MqttInput":
        m = MqttInput(self, url, topic, group, client_id)
        m.start()
        self._servers.append(m)
        return m

    def serve_lora(self, lines: Iterable[str]) -> threading.Thread:
        def run() -> None:
            for line in lines:
                try:
                    self.ingest_lora(line)
                except Exception as e:  # noqa: BLE001 - a storage hiccup must not end the input
                    self.log(f"# lora input: {type(e).__name__}: {e}")

        t = threading.Thread(target=run, name="lora", daemon=True)
        t.start()
        return t

    def summary_lines(self) -> list[str]:
        """Once per run: duplicates per device (and rejections by reason), with counts."""
        c = self.counters()
        out = []
        for kind, per in (("duplicates", self.dup_by_device), ("conflicts", self.conflict_by_device)):
            if per:
                each = ", ".join(f"{d} {n}" for d, n in sorted(per.items()))
                out.append(f"# {kind} this run: {sum(per.values())} ({each}): not stored again")
        for why, n in sorted(c["rejected"].items()):
            out.append(f"# rejected this run: {n}x {why}")
        return out

    def close(self) -> None:
        for s in self._servers:
            s.shutdown()
            if hasattr(s, "server_close"):
                s.server_close()
        self._servers = []
        if self.routes:
            self.routes.wait(5)


class _Server(ThreadingHTTPServer):
    crashes = 0  # handler exceptions other than a client vanishing (tests assert 0)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished mid-request is not an error worth a traceback."""
        e = sys.exc_info()[1]
        if not isinstance(e, (ConnectionError, TimeoutError)):
            self.crashes += 1
            super().handle_error(request, client_address)


def _handler(rx: Receiver) -> type:
    from host_tools.fleet import dashboard

    class Handler(BaseHTTPRequestHandler):
        server_version = "anomaly-receiver"
        protocol_version = "HTTP/1.1"
        timeout = 10  # a client that stalls mid-request is dropped (slowloris)
        disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: counted instead
            pass

        def _reply(self, code: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, obj: Any) -> None:
            self._reply(code, json.dumps(obj).encode())

        def _html(self, code: int, page: str) -> None:
            self._reply(code, page.encode(), "text/html; charset=utf-8")

        def _ack(self) -> None:
            """POST /ack from the device page's form: device, seq, name, note."""
            from host_tools.fleet import store as store_mod

            try:
                n = int(self.headers.get("Content-Length", ""))
            except ValueError:
                n = -1
            if not 0 <= n <= 4096:
                self.close_connection = True
                return self._json(413, {"error": "a short form is expected"})
            f = urllib.parse.parse_qs(self.rfile.read(n).decode("utf-8", "replace"))
            device = f.get("device", [""])[0]
            name = " ".join(f.get("name", [""])[0].split())[:80]
            note = f.get("note", [""])[0].strip()[:1000]
            try:
                seq = int(f.get("seq", [""])[0])
            except ValueError:
                return self._json(400, {"error": "seq: a whole number"})
            if not name:
                return self._json(400, {"error": "name: say who acknowledges"})
            ok = store_mod.acknowledge(rx.store, device, seq, name, note)
            rx.log(f"# alert {device} seq {seq} acknowledged by {name}" if ok else
                   f"# acknowledge {device} seq {seq}: no such open alert")
            self.send_response(303)
            self.send_header("Location", "/device/" + urllib.parse.quote(device, safe="")
                             + ("?acked=%d" % seq if ok else "?ackfailed=%d" % seq))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?")[0] == "/ack":
                return self._ack()
            if self.path.split("?")[0] != "/ingest":
                self._drain_and_close()
                return self._json(404, {"error": "POST /ingest"})
            if rx.token is not None:
                auth = self.headers.get("Authorization", "")
                if not hmac.compare_digest(auth.encode(), f"Bearer {rx.token}".encode()):
                    rx.reject("http", "wrong or missing token")
                    self._drain_and_close()
                    return self._json(401, {"error": "wrong or missing token"})
            try:
                n = int(self.headers.get("Content-Length", ""))
            except ValueError:
                n = -1
            if n < 0:
                rx.reject("http", "no Content-Length")
                self.close_connection = True
                return self._json(411, {"error": "Content-Length required"})
            if n > rx.max_body:
                rx.reject("http", f"body too large: {n} bytes")
                self.close_connection = True
                return self._json(413, {"error": f"body over {rx.max_body} bytes"})
            body = self.rfile.read(n)
            if len(body) != n:
                rx.reject("http", "body shorter than Content-Length")
                self.close_connection = True
                return self._json(400, {"error": "body shorter than Content-Length"})
            ok, why = rx.ingest_json(body, "http")
            self._json(200 if ok else 400, {"result": why} if ok else {"error": why})

        def _drain_and_close(self) -> None:
            self.close_connection = True

        def do_GET(self) -> None:  # noqa: N802
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            try:
                if u.path == "/":
                    return self._html(200, dashboard.render(rx.store, stale_after=rx.stale_after))
                if u.path.startswith("/device/"):
                    dev = urllib.parse.unquote(u.path[len("/device/"):])
                    msg = ""
                    if "acked" in q:
                        msg = f"Alert {q['acked'][0]} acknowledged."
                    elif "ackfailed" in q:
                        msg = f"Alert {q['ackfailed'][0]} was not acknowledged: it is not an open alert."
                    page = dashboard.render_device(rx.store, dev, q, stale_after=rx.stale_after, message=msg)
                    if page is None:
                        return self._html(404, f"<p>no device {html.escape(dev)}</p>")
                    return self._html(200, page)
                if u.path == "/api/devices":
                    return self._json(200, dashboard.device_summary(rx.store, time.time(), rx.stale_after))
                if u.path == "/api/events":
                    from host_tools.fleet import store as store_mod

                    dev = q.get("device", [None])[0]
                    lim = min(int(q.get("limit", ["200"])[0]), 5000)
                    return self._json(200, [store_mod.view(r) for r in rx.store.events(dev, lim, newest_first=True)])
                if u.path == "/healthz":
                    return self._json(200, rx.counters())
            except ValueError:
                return self._json(400, {"error": "bad query"})
            self._json(404, {"error": "not found"})

    return Handler


class MqttInput:
    """paho-mqtt subscriber with a persistent session, re-subscribing on every connect."""

    def __init__(self, rx: Receiver, url: str, topic: str, group: str | None,
                 client_id: str | None) -> None:
        import paho.mqtt.client as mqtt

        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
            raise ValueError(f"expected mqtt://[user:pass@]host[:port], got {url!r}")
        self.rx = rx
        self.prefix = topic.rstrip("/")
        self.sub = f"{self.prefix}/+/+"
        if group:
            self.sub = f"$share/{group}/{self.sub}"
        cid = client_id or f"receiver-{group or 'solo'}-{int(time.time() * 1000) % 100000}"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid,
                                  clean_session=False)
        if u.username:
            self.client.username_pw_set(urllib.parse.unquote(u.username),
                                        urllib.parse.unquote(u.password or ""))
        if u.scheme == "mqtts":
            self.client.tls_set()
        self.client.reconnect_delay_set(0.2, 5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.host = u.hostname
        self.port = u.port or (8883 if u.scheme == "mqtts" else 1883)
        self.connected = threading.Event()

    def start(self) -> None:
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        if not rc.is_failure:
            client.subscribe(self.sub, qos=1)
            self.connected.set()
        else:
            self.rx.log(f"# mqtt: broker refused the connection: {rc}")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            parts = msg.topic.split("/")
            if len(parts) < 3:
                return self.rx.reject("mqtt", f"topic {msg.topic!r} is not <topic>/<device>/<type>")
            try:
                p = payload_check.loads(msg.payload)
            except payloads.PayloadError as e:
                return self.rx.reject("mqtt", str(e))
            if p["device"] != parts[-2] or p["type"] != parts[-1]:
                return self.rx.reject("mqtt", f"topic {msg.topic!r} does not match the payload's device/type")
            self.rx.ingest(p, "mqtt")
        except Exception as e:  # noqa: BLE001 - the subscriber thread must survive
            self.rx.log(f"# mqtt input: {type(e).__name__}: {e}")

    def shutdown(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def serial_lines(port: str, baud: int = 115200) -> Iterable[str]:
    """Lines from the gateway board's serial port (pyserial), reopened after unplugging."""
    import serial

    while True:
        try:
            with serial.Serial(port, baud, timeout=1) as s:
                while True:
                    raw = s.readline()
                    if raw:
                        yield raw.decode("ascii", "replace")
        except (serial.SerialException, OSError) as e:
            print(f"# lora serial {port}: {e}; retrying in 2 s", file=sys.stderr, flush=True)
            time.sleep(2)
