"""The telemetry receiver: HTTP endpoint, MQTT subscriber and LoRa gateway input, one store.

Nothing is confirmed before it is stored (committed) in the database:
- HTTP: `POST /ingest` with `Authorization: Bearer <token>`, a JSON body of at most
  `max_body` bytes, checked by device.payload_check (the board's own schema). 200 = stored
  (or already stored, or kept as a conflict: the board may drop it), 400/413 = never
  acceptable, 401 = wrong token, 403 = the token belongs to another device, 503 +
  Retry-After = storage failed (the board keeps it and retries). With per-device tokens
  (`device_tokens`) a token speaks only for its device; the shared `token` for any.
  Reads (`GET /` dashboard, `/api/devices`, `/api/events`, `/api/conflicts`, `/healthz`)
  need the read token (Bearer, or HTTP Basic with any user name, as a browser asks for
  it) unless `public_reads`. `POST /ack` (the device page's acknowledge form) needs the
  same, plus the form's token (a secret drawn at every start, embedded in the page) and no
  Origin or Sec-Fetch-Site naming another site: 403 otherwise (cross-site request
  forgery). Listen backlog 128; at most `max_connections` connections are served at
  once, others get 503 at once.
- MQTT: subscribes (QoS 1, persistent session) to `<topic>/+/+`, or to
  `$share/<group>/<topic>/+/+` so several receivers share one broker's traffic. Each
  message is acknowledged (manual PUBACK) only after its row is committed; while storage
  fails the message stays unacknowledged, so the broker holds it (and redelivers it after
  a reconnect or a receiver restart). The default client id is derived from the database,
  topic, group and host name, so a restarted receiver resumes its session. Messages over
  `max_body` bytes are refused. Caveat (measured with mosquitto 2.0): a broker queues for
  an offline plain persistent session but not for a shared group with every member
  offline. Per-device identity is the broker's: one user per board and an ACL on
  `<topic>/<user>/#` (docs/telemetry.md); the receiver checks that topic and payload name
  the same device.
- LoRa: reads the gateway board's serial lines `LORA <hex> <rssi> <snr>`, checks length,
  tag (per-device keys) and freshness (device.payload_check.Unpacker). The sequence is
  marked as seen only once stored; then the receiver writes `ACK <tag hex>` back on the
  serial line and only then the gateway acknowledges the packet on the radio.

Every payload goes through `Receiver.ingest`: validate -> store (unique by device, boot
and seq; a different payload under a stored key is kept as a conflict) -> alerts queued
in the same transaction. Bad input is counted by reason and never stored; nothing a
sender does raises out of a handler.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import queue
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Iterator

from device import payload_check, payloads
from host_tools.fleet.routes import Routes
from host_tools.fleet.store import Store, StoreError

RETRY_AFTER_S = 5  # what a sender is told to wait after a storage failure
API_LIMIT_MAX = 5000


class Receiver:
    def __init__(self, store: Store, token: str | None = None, routes: Routes | None = None,
                 unpacker: payload_check.Unpacker | None = None, max_body: int = 8192,
                 log: Callable[[str], None] | None = None,
                 device_tokens: dict[str, str] | None = None, read_token: str | None = None,
                 public_reads: bool = False, max_connections: int = 256) -> None:
        self.store = store
        self.token = token
        self.routes = routes
        self.unpacker = unpacker
        self.max_body = max_body
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        # a token is looked up by its SHA-256 (no early exit on a partial match)
        self.device_tokens = {hashlib.sha256(t.encode()).digest(): d for d, t in (device_tokens or {}).items()}
        self.read_token = read_token if read_token is not None else token
        self.public_reads = public_reads
        self.max_connections = max_connections
        self.stored = 0
        self.duplicates = 0
        self.conflicts = 0
        self.store_errors = 0
        self.stale_after = 3.0  # dashboard: heartbeat intervals before a device is stale
        # the device page's acknowledge form carries this per-server secret and POST /ack
        # checks it (with the Origin), so another site cannot make a viewer's browser,
        # which holds the read token, acknowledge an alert (cross-site request forgery)
        self.form_token = secrets.token_urlsafe(24)
        self.dup_by_device: dict[str, int] = {}  # duplicates per device, logged once each
        self.conflict_by_device: dict[str, int] = {}  # same (device, seq), other content
        self.rejected: dict[str, int] = {}
        self._lock = threading.Lock()
        self._servers: list[Any] = []
        if routes is not None:
            routes.start(store)

    # ---- the one path every payload takes ------------------------------------------------
    def reject(self, source: str, why: str) -> None:
        key = f"{source}: {why.split(':')[0]}"
        with self._lock:
            self.rejected[key] = self.rejected.get(key, 0) + 1
            n = self.rejected[key]
        if n <= 3 or n & (n - 1) == 0:
            self.log(f"# rejected ({source}, {n}x): {why}")

    def ingest(self, p: dict, source: str) -> str:
        """Store a validated payload: "stored", "duplicate" or "conflict". Raises
        StoreError when the database did not take it (then confirm nothing)."""
        alerts: list[tuple[str, str]] | tuple = ()
        if self.routes and p.get("type") == "event" and p.get("event") == "anomaly_start":
            alerts = self.routes.alerts_for(p)
        try:
            result = self.store.add(p, source, alerts)
        except StoreError as e:
            with self._lock:
                self.store_errors += 1
                n = self.store_errors
            if n <= 3 or n & (n - 1) == 0:
                self.log(f"# storage failed ({n}x), not confirmed: {e}")
            raise
        with self._lock:
            if result == "stored":
                self.stored += 1
            elif result == "duplicate":
                self.duplicates += 1
            else:
                self.conflicts += 1
            first = False
            if result != "stored":  # counted per device; logged once each, totals at exit
                per = self.dup_by_device if result == "duplicate" else self.conflict_by_device
                dev = str(p.get("device"))
                first = dev not in per
                per[dev] = per.get(dev, 0) + 1
        if first:
            why = ("other content than the stored one: kept in conflicts (a board whose sequence "
                   "restarted)" if result == "conflict" else "the same payload again (a retry or a second receiver)")
            self.log(f"# {result}: {p['device']} boot {p.get('boot', 0)} seq {p['seq']} arrived ({source}) and is "
                     f"already stored, {why}; further {result}s from {p['device']} are counted and the total is "
                     f"logged at exit")
        if result == "stored" and alerts and self.routes:  # alerts come from routes
            self.routes.kick()
        return result

    def ingest_json(self, body: bytes, source: str, device: str | None = None,
                    peer: str = "") -> tuple[int, str]:
        """(HTTP-like status, reason). `device`: the only device the sender may speak for."""
        try:
            p = payload_check.loads(body)
        except payloads.PayloadError as e:
            self.reject(source, str(e))
            return 400, str(e)
        if device is not None and p["device"] != device:
            why = f"device mismatch: credential of {device!r} used for {p['device']!r} from {peer or '?'}"
            self.reject(source, why)
            return 403, "this credential is not for that device"
        return 200, self.ingest(p, source)

    def ingest_lora(self, line: str) -> tuple[bool, str]:
        """One gateway line: `LORA <hex> [rssi] [snr]`. True when the packet is stored (or
        was already): the gateway may acknowledge it. Raises StoreError."""
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
            p = self.unpacker.unpack(raw, commit=False, fresh=False)
        except payloads.PayloadError as e:
            self.reject("lora", str(e))
            return False, str(e)
        if self.unpacker.received(p["device"], p["seq"], p.get("boot", 0)):
            # stored a moment ago: the board resends because the radio ACK was lost (or
            # someone replays it): confirm again, store nothing
            self.reject("lora", "repeated packet: (device, boot, seq) already stored")
            with self._lock:
                self.duplicates += 1
            return True, "duplicate"
        # authentic (tag checked) and not seen lately: the unique key in the database
        # decides whether it is new, so an old packet is never stored twice
        result = self.ingest(p, "lora")
        # marked as seen only now: had storing failed, the board's resend would be taken
        self.unpacker.accept(p["device"], p["seq"], p.get("boot", 0))
        if result == "duplicate":
            self.reject("lora", "repeated packet: (device, boot, seq) already stored")
        return True, result

    def counters(self) -> dict:
        with self._lock:
            return {"stored": self.stored, "duplicates": self.duplicates, "conflicts": self.conflicts,
                    "store_errors": self.store_errors, "rejected": dict(self.rejected)}

    # ---- inputs -----------------------------------------------------------------------
    def serve_http(self, host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
        srv = _Server((host, port), _handler(self))
        srv.max_connections = self.max_connections
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, name="http", daemon=True).start()
        self._servers.append(srv)
        return srv

    def serve_mqtt(self, url: str, topic: str = "anomaly", group: str | None = None,
                   client_id: str | None = None) -> "MqttInput":
        m = MqttInput(self, url, topic, group, client_id or default_client_id(self.store, topic, group))
        m.start()
        self._servers.append(m)
        return m

    def serve_lora(self, lines: Iterable[str], reply: Callable[[str], None] | None = None) -> threading.Thread:
        """Read gateway lines; after storing a packet write `ACK <tag hex>` with `reply`
        (the gateway's serial line), so the gateway acknowledges it on the radio."""
        def run() -> None:
            for line in lines:
                try:
                    ok, _ = self.ingest_lora(line)
                except StoreError:
                    continue  # logged; no ACK: the board sends it again
                except Exception as e:  # noqa: BLE001 - nothing may end the input
                    self.log(f"# lora input: {type(e).__name__}: {e}")
                    continue
                if ok and reply is not None:
                    try:
                        reply("ACK " + line.split()[1][-2 * payloads.TAG_LEN:].lower())
                    except Exception as e:  # noqa: BLE001 - the gateway went away: it reopens
                        self.log(f"# lora reply: {type(e).__name__}: {e}")

        t = threading.Thread(target=run, name="lora", daemon=True)
        t.start()
        if isinstance(lines, GatewaySerial):
            self._servers.append(_Closer(lines, t))
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
            self.routes.stop()  # what is not delivered yet waits in the database


class _Closer:
    """Receiver.close() for a LoRa input: close its line source, wait for its thread."""

    def __init__(self, source: Any, thread: threading.Thread) -> None:
        self.source, self.thread = source, thread

    def shutdown(self) -> None:
        self.source.close()
        self.thread.join(5)


class _Server(ThreadingHTTPServer):
    crashes = 0  # handler exceptions other than a client vanishing (tests assert 0)
    request_queue_size = 128  # listen backlog: bursts of boards are queued, not reset
    max_connections = 256
    busy_refused = 0

    def __init__(self, *a: Any, **kw: Any) -> None:
        self._open = 0
        self._open_lock = threading.Lock()
        super().__init__(*a, **kw)

    def process_request(self, request: Any, client_address: Any) -> None:
        """A thread per connection, at most max_connections at once: beyond that the
        connection gets 503 at once (a flood cannot exhaust threads and memory)."""
        with self._open_lock:
            full = self._open >= self.max_connections
            if not full:
                self._open += 1
        if full:
            self.busy_refused += 1
            try:
                request.settimeout(1)
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                                b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            with self._open_lock:
                self._open -= 1
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that vanished mid-request is not an error worth a traceback."""
        e = sys.exc_info()[1]
        if not isinstance(e, (ConnectionError, TimeoutError)):
            self.crashes += 1
            super().handle_error(request, client_address)


def _bearer_or_basic(auth: str) -> str | None:
    """The secret of an Authorization header: a bearer token, or the password of HTTP
    Basic (a browser asks for user and password; the user name is ignored)."""
    if auth.startswith("Bearer "):
        return auth[7:]
    if auth.startswith("Basic "):
        try:
            return base64.b64decode(auth[6:], validate=True).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeError):
            return None
    return None


def _handler(rx: Receiver) -> type:
    from host_tools.fleet import dashboard

    class Handler(BaseHTTPRequestHandler):
        server_version = "anomaly-receiver"
        protocol_version = "HTTP/1.1"
        timeout = 10  # a client that stalls mid-request is dropped (slowloris)
        disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms stalls

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: counted instead
            pass

        def _reply(self, code: int, body: bytes, ctype: str = "application/json",
                   headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            self._reply(code, json.dumps(obj).encode(), headers=headers)

        def _peer(self) -> str:
            return "%s:%s" % self.client_address[:2]

        def _who(self) -> tuple[bool, str | None]:
            """(allowed, the one device this sender may speak for or None = any)."""
            if rx.token is None and not rx.device_tokens:
                return True, None
            secret = _bearer_or_basic(self.headers.get("Authorization", ""))
            if secret is None:
                return False, None
            dev = rx.device_tokens.get(hashlib.sha256(secret.encode()).digest())
            if dev is not None:
                return True, dev
            if rx.token is not None and hmac.compare_digest(secret.encode(), rx.token.encode()):
                return True, None
            return False, None

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
            body = self.rfile.read(n)
            if not self._read_allowed():  # whoever may read the dashboard may acknowledge
                return self._json(401, {"error": "acknowledging needs the read token"},
                                  {"WWW-Authenticate": 'Basic realm="anomaly receiver"'})
            why = self._cross_site()
            f = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
            if why is None and not hmac.compare_digest(f.get("token", [""])[0].encode(), rx.form_token.encode()):
                why = "the form's token is missing or out of date: reload the device page and acknowledge again"
            if why is not None:
                rx.log(f"# acknowledge refused from {self._peer()}: {why}")
                return self._json(403, {"error": why})
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

        def _cross_site(self) -> str | None:
            """Why a form post comes from another site (None: it does not): an Origin
            other than this server's own, or a browser's Sec-Fetch-Site saying so."""
            origin = self.headers.get("Origin")
            host = self.headers.get("Host", "")
            if origin is not None and urllib.parse.urlsplit(origin).netloc.lower() != host.lower():
                return f"a form posted from another site ({origin[:100]}) is refused"
            site = self.headers.get("Sec-Fetch-Site")
            if site is not None and site not in ("same-origin", "none"):
                return f"a form posted from another site (Sec-Fetch-Site: {site[:20]}) is refused"
            return None

        def do_POST(self) -> None:  # noqa: N802
            if self.path.split("?")[0] == "/ack":
                return self._ack()
            if self.path.split("?")[0] != "/ingest":
                self.close_connection = True
                return self._json(404, {"error": "POST /ingest"})
            allowed, device = self._who()
            if not allowed:
                rx.reject("http", f"wrong or missing token from {self._peer()}")
                self.close_connection = True
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
            try:
                code, why = rx.ingest_json(body, "http", device, self._peer())
            except StoreError:
                return self._json(503, {"error": "storage failed; send again later"},
                                  {"Retry-After": str(RETRY_AFTER_S)})
            self._json(code, {"result": why} if code == 200 else {"error": why})

        def _read_allowed(self) -> bool:
            if rx.public_reads:
                return True
            if not rx.read_token:
                return False
            secret = _bearer_or_basic(self.headers.get("Authorization", ""))
            return secret is not None and hmac.compare_digest(secret.encode(), rx.read_token.encode())

        def do_GET(self) -> None:  # noqa: N802
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            if u.path not in ("/", "/api/devices", "/api/events", "/api/conflicts", "/healthz") \
                    and not u.path.startswith("/device/"):
                return self._json(404, {"error": "not found"})
            if not self._read_allowed():
                why = ("reads need the read token (Bearer, or Basic with it as the password)" if rx.read_token
                       else "reads are off: start the receiver with --read-token or --public-dashboard")
                return self._json(401, {"error": why}, {"WWW-Authenticate": 'Basic realm="anomaly receiver"'})
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
                    page = dashboard.render_device(rx.store, dev, q, stale_after=rx.stale_after, message=msg,
                                                   form_token=rx.form_token)
                    if page is None:
                        return self._html(404, f"<p>no device {html.escape(dev)}</p>")
                    return self._html(200, page)
                if u.path == "/api/devices":
                    return self._json(200, dashboard.device_summary(rx.store, time.time(), rx.stale_after))
                if u.path in ("/api/events", "/api/conflicts"):
                    lim = int(q.get("limit", ["200"])[0])
                    if not 1 <= lim <= API_LIMIT_MAX:
                        return self._json(400, {"error": f"limit: expected 1..{API_LIMIT_MAX}"})
                    if u.path == "/api/conflicts":
                        return self._json(200, rx.store.conflicts(lim))
                    from host_tools.fleet import store as store_mod

                    dev_q = q.get("device", [None])[0]
                    # one payload shape: the payload as an object, as `events --json` prints it
                    return self._json(200, [store_mod.view(r) for r in rx.store.events(dev_q, lim, newest_first=True)])
                return self._json(200, rx.counters())
            except ValueError:
                return self._json(400, {"error": "bad query"})
            except StoreError:
                return self._json(503, {"error": "storage unavailable"}, {"Retry-After": str(RETRY_AFTER_S)})

    return Handler


def default_client_id(store: Store, topic: str, group: str | None) -> str:
    """Stable across restarts (the broker keeps this session's queue while the receiver
    is away): from the database, topic, group and host name. Receivers of one group on
    one host and database need their own --client-id."""
    ident = "|".join([store.identity(), topic, group or "", socket.gethostname()])
    return "rx-" + hashlib.sha256(ident.encode()).hexdigest()[:16]


class MqttInput:
    """paho-mqtt subscriber with a persistent session, re-subscribing on every connect.

    Messages are stored in arrival order by one worker thread and acknowledged (manual
    PUBACK) only after their row is committed, or when they can never be stored (refused
    input). While storage fails the worker retries with back-off (0.2 s doubling to 5 s)
    and acknowledges nothing: the broker keeps those messages (and, its in-flight window
    full, queues the rest) and redelivers them after a reconnect or a restart."""

    def __init__(self, rx: Receiver, url: str, topic: str, group: str | None,
                 client_id: str) -> None:
        import paho.mqtt.client as mqtt

        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("mqtt", "mqtts") or not u.hostname:
            raise ValueError(f"expected mqtt://[user:pass@]host[:port], got {url!r}")
        self.rx = rx
        self.prefix = topic.rstrip("/")
        self.sub = f"{self.prefix}/+/+"
        if group:
            self.sub = f"$share/{group}/{self.sub}"
        self.client_id = client_id
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=False, manual_ack=True)
        if u.username:
            self.client.username_pw_set(urllib.parse.unquote(u.username),
                                        urllib.parse.unquote(u.password or ""))
        if u.scheme == "mqtts":
            self.client.tls_set()
        # paho annotates int, but the delay is only added to time.monotonic(): 0.2 s works
        self.client.reconnect_delay_set(0.2, 5)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.host = u.hostname
        self.port = u.port or (8883 if u.scheme == "mqtts" else 1883)
        self.connected = threading.Event()
        self._q: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="mqtt-store", daemon=True)

    def start(self) -> None:
        self._worker.start()
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, rc: Any, props: Any = None) -> None:
        if not rc.is_failure:
            client.subscribe(self.sub, qos=1)
            self.connected.set()
        else:
            self.rx.log(f"# mqtt: broker refused the connection: {rc}")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self._q.put(msg)  # the network loop never waits for the database

    def _check(self, msg: Any) -> dict | None:
        """The payload to store, or None (refused: counted, acknowledged, never stored)."""
        parts = msg.topic.split("/")
        if len(parts) < 3:
            self.rx.reject("mqtt", f"topic {msg.topic!r} is not <topic>/<device>/<type>")
            return None
        if len(msg.payload) > self.rx.max_body:
            self.rx.reject("mqtt", f"message too large: {len(msg.payload)} bytes on {msg.topic!r}")
            return None
        try:
            p = payload_check.loads(msg.payload)
        except payloads.PayloadError as e:
            self.rx.reject("mqtt", str(e))
            return None
        if p["device"] != parts[-2] or p["type"] != parts[-1]:
            self.rx.reject("mqtt", f"device mismatch: topic {msg.topic!r} does not match the payload's "
                                   f"device/type ({p['device']}/{p['type']})")
            return None
        return p

    def _work(self) -> None:
        while True:
            msg = self._q.get()
            if msg is None or self._stop.is_set():
                return
            try:
                p = self._check(msg)
            except Exception as e:  # noqa: BLE001 - the worker must survive
                self.rx.log(f"# mqtt input: {type(e).__name__}: {e}")
                p = None
            wait = 0.2
            while p is not None:
                try:
                    self.rx.ingest(p, "mqtt")
                    break
                except StoreError:  # logged by ingest; keep it unacknowledged and retry
                    if self._stop.wait(wait):
                        return  # stopping: the broker redelivers it to the next start
                    wait = min(5.0, wait * 2)
                except Exception as e:  # noqa: BLE001
                    self.rx.log(f"# mqtt input: {type(e).__name__}: {e}")
                    break
            if msg.qos:
                self.client.ack(msg.mid, msg.qos)

    def shutdown(self) -> None:
        self._stop.set()
        self._q.put(None)
        self._worker.join(5)
        self.client.loop_stop()
        self.client.disconnect()


class GatewaySerial:
    """The gateway board's serial port (pyserial): its `LORA ...` lines, reopened after
    unplugging, and `reply` for the `ACK <tag>` confirmations going back."""

    def __init__(self, port: str, baud: int = 115200) -> None:
        self.port = port
        self.baud = baud
        self._s: Any = None
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[str]:
        import serial

        while not self._closed.is_set():
            try:
                with serial.Serial(self.port, self.baud, timeout=1) as s:
                    self._s = s
                    while not self._closed.is_set():
                        raw = s.readline()
                        if raw:
                            yield raw.decode("ascii", "replace")
            except (serial.SerialException, OSError) as e:
                self._s = None
                if self._closed.is_set():
                    break
                print(f"# lora serial {self.port}: {e}; retrying in 2 s", file=sys.stderr, flush=True)
                self._closed.wait(2)
        self._s = None

    def close(self) -> None:
        """End the iteration (within its 1 s read timeout); the port is closed then."""
        self._closed.set()

    def reply(self, line: str) -> None:
        if self._s is not None:
            self._s.write((line + "\n").encode("ascii"))
            self._s.flush()


def serial_lines(port: str, baud: int = 115200) -> Iterable[str]:
    """Lines from the gateway board's serial port (no replies: see GatewaySerial)."""
    return iter(GatewaySerial(port, baud))
