"""`collect`: record training data from a board in recording mode, one folder per session.

The board streams raw windows (device/recorder.py) in this text format, over its serial
console (RECORD = "serial") or in the body of HTTP POSTs to `collect --http` (HttpRecorder):

    #W,<seq>,<kind>,<rows>,<cols>,<rate_hz>,<t_ms>
    <rows> lines of <cols> comma-separated numbers
    #E,<seq>

Each complete window becomes one CSV file of the training format (<NNNN>.csv), and the
folder gets `session.json` (device, sensor, rate, start time, label, counts). A window
that is cut short, interrupted or malformed is dropped and counted; a line that is neither
window data, a JSON payload nor a `# ` message is garbage: counted, never written.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Iterator

from host_tools.data.datasets import DataError

Window = tuple[dict, list[list[float]]]


class CollectError(DataError):
    """Bad collect input (folder, port, limits); the message says what to do."""


def _fmt(kind: str) -> str:
    return "%.6f" if kind == "accel" else "%.2f"


class WindowParser:
    """Incremental reader of the recording format; counts what it cannot use."""

    def __init__(self) -> None:
        self.head: dict | None = None
        self.rows: list[list[float]] = []
        # rows of a window we did not see start (joined mid-stream) or of a dropped window:
        # part of that window, not garbage
        self.skipping = True
        self.windows = 0
        self.garbage = 0
        self.dropped = 0
        self.payloads = 0
        self.device: str | None = None
        self.sensor: str | None = None

    def _drop(self) -> None:
        if self.head is not None:
            self.dropped += 1
        self.head = None
        self.rows = []

    def interrupt(self) -> None:
        """The connection dropped: a window in progress can never complete."""
        self._drop()
        self.skipping = True

    def feed(self, raw: str) -> Window | None:
        line = raw.strip()
        if not line:
            return None
        if line.startswith("#W,"):
            self._drop()
            self.skipping = False
            parts = line.split(",")
            try:
                if len(parts) < 7:
                    raise ValueError
                new: dict[str, Any] = {"seq": int(parts[1]), "kind": parts[2], "rows": int(parts[3]),
                                       "cols": int(parts[4]), "rate": float(parts[5]), "t_ms": int(parts[6])}
                if new["rows"] <= 0 or new["cols"] <= 0:
                    raise ValueError
            except ValueError:
                self.garbage += 1
                return None
            self.head = new
            return None
        if line.startswith("#E,"):
            head = self.head
            if head is None:
                if self.skipping:
                    self.skipping = False
                else:
                    self.garbage += 1
                return None
            if line[3:].strip() == str(head["seq"]) and len(self.rows) == head["rows"]:
                rows = self.rows
                self.head = None
                self.rows = []
                self.windows += 1
                return head, rows
            self._drop()
            return None
        if self.head is not None:
            try:
                vals = [float(c) for c in line.split(",")]
            except ValueError:
                vals = []
            if len(vals) != self.head["cols"] or len(self.rows) >= self.head["rows"] or \
                    any(v != v or v in (float("inf"), float("-inf")) for v in vals):
                self.garbage += 1
                self._drop()  # something else got inside the window: it cannot be trusted
                self.skipping = True
                return None
            self.rows.append(vals)
            return None
        if self.skipping and line[:1] in "-0123456789.":
            return None
        if line.startswith("{"):
            try:
                p = json.loads(line)
            except ValueError:
                self.garbage += 1
                return None
            self.payloads += 1
            if isinstance(p, dict):
                self.device = str(p.get("device", self.device) or self.device or "") or None
                if p.get("sensor"):
                    self.sensor = str(p["sensor"])
            return None
        if line.startswith("# "):
            return None
        self.garbage += 1
        return None


def parse_lines(lines: Iterable[str]) -> Iterator[Window]:
    """(header dict, rows as lists of floats) for every complete window in text lines."""
    p = WindowParser()
    for ln in lines:
        w = p.feed(ln)
        if w is not None:
            yield w


class SessionWriter:
    """One session folder: <NNNN>.csv per window plus session.json (rewritten as it grows,
    so an interrupted session still says what it holds)."""

    def __init__(self, folder: str, label: str, source: str, device: str | None = None,
                 sensor: str | None = None, clock: Callable[[], datetime] | None = None) -> None:
        if os.path.isdir(folder) and any(f.lower().endswith(".csv") for f in os.listdir(folder)):
            raise CollectError(f"{folder} already holds recordings: give each session a new folder "
                               "(e.g. data/my-fan/low_2)")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise CollectError(f"{folder}: cannot create the session folder ({e.strerror})") from None
        self.folder = folder
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.meta: dict = {"label": label, "device": device, "sensor": sensor, "kind": None,
                           "rate_hz": None, "rows": None, "cols": None,
                           "start_utc": self.clock().isoformat(timespec="seconds"), "end_utc": None,
                           "windows": 0, "garbage_lines": 0, "dropped_windows": 0, "mismatched_windows": 0,
                           "duplicate_windows": 0,
                           "disconnects": 0, "source": source}
        self._rates: list[float] = []
        self._seen: set[tuple[int, int]] = set()
        self._lock = threading.Lock()
        self.write_meta()

    @property
    def windows(self) -> int:
        return int(self.meta["windows"])

    def add(self, head: dict, rows: list[list[float]]) -> bool:
        with self._lock:
            m = self.meta
            key = (head["seq"], head["t_ms"])
            if key in self._seen:  # a post the board retried after its answer got lost
                m["duplicate_windows"] += 1
                return False
            self._seen.add(key)
            if m["kind"] is None:
                m["kind"], m["rows"], m["cols"] = head["kind"], head["rows"], head["cols"]
            elif (m["kind"], m["rows"], m["cols"]) != (head["kind"], head["rows"], head["cols"]):
                m["mismatched_windows"] += 1  # the board's settings changed mid-session
                return False
            fmt = _fmt(head["kind"])
            path = os.path.join(self.folder, "%04d.csv" % m["windows"])
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                for r in rows:
                    f.write(",".join(fmt % v for v in r) + "\n")
            os.replace(path + ".tmp", path)
            m["windows"] += 1
            if head["rate"] > 0:
                self._rates.append(head["rate"])
                s = sorted(self._rates)
                m["rate_hz"] = round(s[len(s) // 2], 2)
            return True

    def count(self, p: WindowParser, disconnects: int = 0) -> None:
        with self._lock:
            self.meta["garbage_lines"] += p.garbage
            self.meta["dropped_windows"] += p.dropped
            self.meta["disconnects"] += disconnects
            p.garbage = p.dropped = 0
            if p.device and not self.meta["device"]:
                self.meta["device"] = p.device
            if p.sensor and not self.meta["sensor"]:
                self.meta["sensor"] = p.sensor

    def write_meta(self, final: bool = False) -> None:
        with self._lock:
            if final:
                self.meta["end_utc"] = self.clock().isoformat(timespec="seconds")
            if self.meta["sensor"] is None and self.meta["kind"]:
                self.meta["sensor"] = {"accel": "msa301", "thermal": "mlx90640"}.get(self.meta["kind"])
            tmp = os.path.join(self.folder, "session.json.tmp")
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.meta, f, indent=1)
            os.replace(tmp, os.path.join(self.folder, "session.json"))


class Limits:
    def __init__(self, windows: int | None, duration: float | None) -> None:
        self.windows = windows
        self.duration = duration
        self.start = time.monotonic()

    def done(self, got: int) -> bool:
        if self.windows is not None and got >= self.windows:
            return True
        return self.duration is not None and time.monotonic() - self.start >= self.duration

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class Progress:
    """The live count: one line on stderr rewritten in place (twice a second at most)."""

    def __init__(self, quiet: bool = False, stream=None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self._last = 0.0
        self._shown = False

    def show(self, w: SessionWriter, elapsed: float, force: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not force and now - self._last < 0.5):
            return
        self._last = now
        m = w.meta
        self.stream.write(f"\rcollect: {m['windows']} windows, {m['garbage_lines']} garbage lines, "
                          f"{m['dropped_windows']} dropped, {elapsed:.1f} s ")
        self.stream.flush()
        self._shown = True

    def end(self) -> None:
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False


# ---- sources ----------------------------------------------------------------------------------

def serial_lines(port: str, baud: int, stop: Callable[[], bool], on_disconnect: Callable[[], None],
                 opener: Callable | None = None) -> Iterator[str | None]:
    """Text lines from a serial port; yields None on idle so the caller can check limits.
    A port that goes away (board reset, cable) is counted and reopened until `stop()`."""
    import serial

    make = opener or (lambda: serial.Serial(port, baud, timeout=0.2))
    try:
        ser = make()
    except (OSError, serial.SerialException) as e:
        raise CollectError(f"{port}: cannot open the serial port ({e}): plug the board in, check the "
                           "name (python -m serial.tools.list_ports) and close other programs using it") from None
    buf = b""
    fresh = True  # the first line after (re)opening usually starts mid-line: not the board's fault
    try:
        while not stop():
            try:
                chunk = ser.read(ser.in_waiting or 1)
            except (OSError, serial.SerialException):
                on_disconnect()
                buf = b""
                fresh = True
                try:
                    ser.close()
                except (OSError, serial.SerialException):
                    pass
                ser = None
                while ser is None and not stop():
                    time.sleep(0.2)
                    try:
                        ser = make()
                    except (OSError, serial.SerialException):
                        ser = None
                yield None
                if ser is None:
                    return
                continue
            if not chunk:
                yield None
                continue
            buf += chunk
            while b"\n" in buf:
                ln, buf = buf.split(b"\n", 1)
                if fresh:
                    fresh = False
                    continue
                yield ln.decode("utf-8", "replace")
            if len(buf) > 1 << 16:  # no newline for 64 KB: not this protocol
                yield buf.decode("utf-8", "replace")
                buf = b""
    finally:
        if ser is not None:
            ser.close()


class CollectServer:
    """The HTTP endpoint a board posts windows to. POST with `Authorization: Bearer <token>`
    and a body of complete windows in the recording format, at most `max_bytes`.
    Answers 200 {"accepted": n, "garbage": g, "dropped": d}, 401 bad token, 411 no length,
    413 too large, 400 nothing usable."""

    def __init__(self, host: str, port: int, token: str, max_bytes: int, writer: SessionWriter) -> None:
        self.token = token
        self.max_bytes = max_bytes
        self.writer = writer
        self.requests = 0
        self.rejected = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # the live count says enough
                pass

            def _answer(self, code: int, body: dict, close: bool = False) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                outer.requests += 1
                auth = self.headers.get("Authorization", "")
                if auth != "Bearer " + outer.token and self.headers.get("X-Token", "") != outer.token:
                    outer.rejected += 1
                    return self._answer(401, {"error": "bad token"}, close=True)
                try:
                    n = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    outer.rejected += 1
                    return self._answer(411, {"error": "Content-Length required"}, close=True)
                if n > outer.max_bytes or n < 0:
                    outer.rejected += 1
                    left = min(max(n, 0), 1 << 20)  # read what a small client already sent, so it sees the 413
                    while left > 0:
                        got = self.rfile.read(min(left, 65536))
                        if not got:
                            break
                        left -= len(got)
                    return self._answer(413, {"error": "body over %d bytes" % outer.max_bytes}, close=True)
                body = self.rfile.read(n).decode("utf-8", "replace")
                for key, hdr in (("device", "X-Device"), ("sensor", "X-Sensor")):
                    if self.headers.get(hdr) and not outer.writer.meta[key]:
                        outer.writer.meta[key] = self.headers[hdr][:64]
                p = WindowParser()
                accepted = 0
                for ln in body.splitlines():
                    w = p.feed(ln)
                    if w is not None and outer.writer.add(*w):
                        accepted += 1
                p.interrupt()  # a window cut at the end of the body is incomplete
                g, d = p.garbage, p.dropped
                outer.writer.count(p)
                if accepted == 0 and (g or d or not body.strip()):
                    return self._answer(400, {"error": "no complete window", "garbage": g, "dropped": d})
                self._answer(200, {"accepted": accepted, "garbage": g, "dropped": d})

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a board that went away
                    super().handle_error(request, client_address)

        try:
            self.httpd = Server((host, port), Handler)
        except OSError as e:
            raise CollectError(f"cannot listen on {host}:{port} ({e.strerror}): choose another --http "
                               "address or port") from None
        # typeshed types an INET server's host as str | bytes; getsockname() gives it as str
        self.address: tuple[str, int] = self.httpd.server_address  # type: ignore[assignment]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)

    def start(self) -> "CollectServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- the command -------------------------------------------------------------------------------

def _parse_http(spec: str) -> tuple[str, int]:
    host, _, port = spec.rpartition(":")
    try:
        p = int(port)
        if not 0 <= p < 65536:
            raise ValueError
    except ValueError:
        raise CollectError(f"--http {spec}: expected HOST:PORT, e.g. 0.0.0.0:8765") from None
    return host or "0.0.0.0", p


def run(a, log: Callable[[str], None] = print) -> int:
    """Run `collect` from parsed arguments (see host_tools/cli/workflow.py)."""
    sources = [s for s in (a.port, a.http, a.source) if s]
    if len(sources) != 1:
        raise CollectError("give exactly one input: --port PORT (serial console), --http HOST:PORT "
                           "(the board posts over Wi-Fi) or --from FILE (a saved console capture, - for stdin)")
    if a.windows is not None and a.windows <= 0:
        raise CollectError(f"--windows {a.windows}: must be a positive number of windows")
    if a.duration is not None and a.duration <= 0:
        raise CollectError(f"--duration {a.duration}: must be a positive number of seconds")
    if a.http and not a.token:
        raise CollectError("--http needs --token TEXT (the board sends it with every post; "
                           "set the same text as RECORD_TOKEN on the board)")
    if a.port and not os.path.exists(a.port) and "://" not in a.port:
        raise CollectError(f"{a.port}: no such serial port: plug the board in and check the name "
                           "(python -m serial.tools.list_ports lists them)")
    if a.source and a.source != "-" and not os.path.isfile(a.source):
        raise CollectError(f"{a.source}: no such capture file")
    if a.port and a.windows is None and a.duration is None:
        log("collect: no --windows or --duration: recording until Ctrl-C")
    src = a.port or (f"http://{a.http}" if a.http else a.source)
    w = SessionWriter(a.out, a.label, src, a.device, a.sensor)
    lim = Limits(a.windows, a.duration)
    prog = Progress(a.quiet)
    parser = WindowParser()
    disconnects = [0]
    log(f"collect: session {a.out} (label {a.label!r}) from {src}")
    try:
        if a.http:
            host, port = _parse_http(a.http)
            srv = CollectServer(host, port, a.token, a.max_bytes, w).start()
            log(f"collect: listening on http://{srv.address[0]}:{srv.address[1]}/ (token required, "
                f"at most {a.max_bytes} bytes per post)")
            try:
                while not lim.done(w.windows):
                    time.sleep(0.05)
                    prog.show(w, lim.elapsed())
            finally:
                srv.stop()
        else:
            if a.port:
                def lost() -> None:
                    disconnects[0] += 1
                    parser.interrupt()

                lines: Iterable[str | None] = serial_lines(a.port, a.baud, lambda: lim.done(w.windows), lost)
            else:
                lines = sys.stdin if a.source == "-" else open(a.source, encoding="utf-8", errors="replace")
            for ln in lines:
                if ln is not None:
                    win = parser.feed(ln)
                    if win is not None:
                        w.add(*win)
                w.count(parser, disconnects[0])
                disconnects[0] = 0
                prog.show(w, lim.elapsed())
                if lim.done(w.windows):
                    break
            parser.interrupt()
            w.count(parser)
    except KeyboardInterrupt:
        pass
    prog.show(w, lim.elapsed(), force=True)
    prog.end()
    w.write_meta(final=True)
    m = w.meta
    log(f"collect: wrote {m['windows']} window(s) to {a.out} ({m['kind'] or '?'}, {m['rows'] or '?'}x"
        f"{m['cols'] or '?'}, {m['rate_hz'] or '?'} Hz); skipped {m['garbage_lines']} garbage line(s), "
        f"dropped {m['dropped_windows']} incomplete window(s)" +
        (f", {m['disconnects']} disconnect(s)" if m["disconnects"] else "") +
        (f", {m['mismatched_windows']} of another shape" if m["mismatched_windows"] else "") +
        (f", {m['duplicate_windows']} duplicate(s)" if m["duplicate_windows"] else ""))
    if m["windows"] == 0:
        raise CollectError(f"no complete window from {src}: is RECORD = \"serial\" (or \"http\") set in the "
                           "board's settings.toml, and is this the board's console?")
    return 0


def save_session(lines: Iterable[str], folder: str, label: str = "", source: str = "capture") -> int:
    """Every complete window in a console capture as a session folder; returns the count."""
    w = SessionWriter(folder, label, source)
    p = WindowParser()
    for ln in lines:
        win = p.feed(ln)
        if win is not None:
            w.add(*win)
    p.interrupt()
    w.count(p)
    w.write_meta(final=True)
    return w.windows
