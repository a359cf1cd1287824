"""Probes of the receiver with real parts on loopback (mosquitto, a throw-away PostgreSQL,
SQLite on a small tmpfs, the gateway program over a pseudo-terminal): what is stored of
what was sent across restarts and storage failures, forged and restarted sequences, and
50 concurrent HTTP clients. Prints one line per figure. Not part of `make test` (it
mounts a tmpfs, so the disk-full probes need root; they are skipped otherwise).

    .venv/bin/python tests/receiver_probe.py [NAME ...] [--root DIR]

NAME: mqtt-restart, mqtt-pg-stop, sqlite-full, lora-full, routes-restart, forged,
restarted-seq, http50 (default: all). --root runs the receiver of another checkout
(e.g. `git archive main | tar -x -C /tmp/before`) for before/after figures.
"""

from __future__ import annotations

import argparse
import base64  # noqa: F401
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

from netparts import Mosquitto, Postgres, free_port, wait_port  # noqa: E402

RX_ROOT = ROOT


def receiver(args: list[str], log: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=RX_ROOT)
    return subprocess.Popen([sys.executable, "-m", "host_tools", "receive", *args], cwd=RX_ROOT, env=env,
                            stdout=open(log, "a"), stderr=subprocess.STDOUT)


def stop(p: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if p is None or p.poll() is not None:
        return
    p.send_signal(sig)
    p.wait(30)


def event(dev: str, seq: int, boot: int | None = None, score: float = 1.5, t: float | None = None) -> dict:
    p = {"type": "event", "event": "anomaly_start", "score": score, "mode": "high", "threshold": 1.0,
         "anomaly": True, "top": [["rms", 0.5]], "device": dev, "seq": seq, "t": seq * 1.28 if t is None else t}
    if boot is not None:
        p["boot"] = boot
    return p


def rows(db: str, device: str | None = None) -> list[tuple]:
    where = " WHERE device = '%s'" % device if device else ""
    if db.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(db) as c:
            return c.execute("SELECT device, seq, payload FROM events" + where).fetchall()
    c = sqlite3.connect(db, timeout=30)
    try:
        return c.execute("SELECT device, seq, payload FROM events" + where).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        c.close()


def wait_rows(db: str, n: int, timeout: float) -> list[tuple]:
    end = time.monotonic() + timeout
    got: list[tuple] = []
    while time.monotonic() < end:
        try:
            got = rows(db)
        except Exception:  # noqa: BLE001 - the database may be down right now
            got = []
        if len(got) >= n:
            break
        time.sleep(0.2)
    time.sleep(1.0)  # a late duplicate would show now
    return rows(db)


def report(name: str, sent: int, got: list[tuple], extra: str = "") -> None:
    keys = [(r[0], r[1]) for r in got]
    dup = len(keys) - len(set(keys))
    print(f"{name}: stored {len(set(keys))} of {sent} sent, {dup} duplicates{extra}", flush=True)


class Publisher:
    """paho at QoS 1: `sent` counts messages the broker acknowledged."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as mqtt

        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe-pub")
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self.sent = 0

    def send(self, p: dict) -> None:
        info = self.c.publish("anomaly/%s/%s" % (p["device"], p["type"]), json.dumps(p), qos=1)
        info.wait_for_publish(10)
        self.sent += info.is_published()

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def mqtt_restart(tmp: str) -> None:
    """600 events at ~100/s; the receiver (default options) is stopped and started again
    at 1.5 s and killed (-9) and started again at 3.5 s."""
    m = Mosquitto().start()
    db = os.path.join(tmp, "mr.db")
    args = ["--db", db, "--mqtt", "mqtt://127.0.0.1:%d" % m.port]
    log = os.path.join(tmp, "mr.log")
    rx = receiver(args, log)
    time.sleep(2.0)  # connected and subscribed
    pub = Publisher(m.port)
    t0 = time.monotonic()
    done = {"term": False, "kill": False}
    for seq in range(1, 601):
        pub.send(event("fan-1", seq))
        el = time.monotonic() - t0
        if el > 1.5 and not done["term"]:
            stop(rx)
            rx = receiver(args, log)
            done["term"] = True
        if el > 3.5 and not done["kill"]:
            stop(rx, signal.SIGKILL)
            rx = receiver(args, log)
            done["kill"] = True
        time.sleep(0.01)
    got = wait_rows(db, 600, 60)
    report("mqtt across a clean restart and a kill -9 (default options)", pub.sent, got)
    pub.close()
    stop(rx)
    m.close()


def mqtt_pg_stop(tmp: str) -> None:
    m = Mosquitto().start()
    pg = Postgres().start()
    log = os.path.join(tmp, "pg.log")
    rx = receiver(["--db", pg.url, "--mqtt", "mqtt://127.0.0.1:%d" % m.port], log)
    time.sleep(2.0)
    pub = Publisher(m.port)
    t0 = time.monotonic()
    stopped_at = None
    for seq in range(1, 401):
        pub.send(event("fan-1", seq))
        if stopped_at is None and time.monotonic() - t0 > 1.5:
            pg.stop()
            stopped_at = time.monotonic()
        if stopped_at and pg.proc is None and time.monotonic() - stopped_at >= 5.0:
            pg.start()
            print("  postgresql was down %.1f s" % (time.monotonic() - stopped_at), flush=True)
        time.sleep(0.02)
    got = wait_rows(pg.url, 400, 60)
    report("mqtt with postgresql stopped 5 s", pub.sent, got)
    pub.close()
    stop(rx)
    pg.close()
    m.close()


class Tmpfs:
    def __init__(self, size: str = "4m") -> None:
        self.dir = tempfile.mkdtemp(prefix="rxfull")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", self.dir], check=True)
        self.filler = os.path.join(self.dir, "filler")

    def fill(self) -> None:
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (65536, 4096, 512, 1):  # to the last byte
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)

    def free(self) -> None:
        os.remove(self.filler)

    def close(self) -> None:
        subprocess.run(["umount", self.dir])
        os.rmdir(self.dir)


def sqlite_full(tmp: str) -> None:
    m = Mosquitto().start()
    fs = Tmpfs()
    rx = None
    try:
        db = os.path.join(fs.dir, "full.db")
        rx = receiver(["--db", db, "--mqtt", "mqtt://127.0.0.1:%d" % m.port], os.path.join(tmp, "full.log"))
        time.sleep(2.0)
        pub = Publisher(m.port)
        for seq in range(1, 21):
            pub.send(event("fan-1", seq))
        wait_rows(db, 20, 20)
        fs.fill()
        for seq in range(21, 41):
            pub.send(event("fan-1", seq))
        time.sleep(3.0)
        during = len(rows(db))
        fs.free()
        got = wait_rows(db, 40, 60)
        report("mqtt with sqlite's disk full, then freed", pub.sent, got,
               f" ({during - 20} of 20 stored while full, the rest after freeing)")
        pub.close()
    finally:
        stop(rx)
        fs.close()
        m.close()


def lora_full(tmp: str) -> None:
    import tty

    sys.path.insert(0, os.path.join(ROOT, "tests"))
    from device import outbox as outbox_mod
    from device import payloads, telemetry
    from fakes.rfm9x_sim import FakeRFM9x, SimLink
    from gateway.gateway import run as gateway_run
    from test_telemetry_lora import pty_reader

    from host_tools.fleet.hostnet import _S

    key = os.urandom(16)
    link = SimLink()
    board = FakeRFM9x(link)
    tr = telemetry._setup_radio(board, _S(TELEMETRY="lora", LORA_KEY=key.hex(), LORA_SF=7, LORA_NODE=1,
                                          LORA_GATEWAY=2, LORA_RETRIES=1))
    gw = FakeRFM9x(link, node=2)
    master, slave = os.openpty()
    tty.setraw(slave)
    fs = Tmpfs()
    rx = None
    try:
        db = os.path.join(fs.dir, "lora.db")
        rx = receiver(["--db", db, "--lora-serial", os.ttyname(slave), "--lora-key", key.hex()],
                      os.path.join(tmp, "lora.log"))
        time.sleep(2.0)  # pyserial opened the port
        threading.Thread(target=gateway_run, args=(gw, lambda line: os.write(master, (line + "\n").encode()),
                                                   pty_reader(master)), daemon=True).start()
        box = outbox_mod.Outbox(tr, capacity=64, per_pump=8, backoff_ms=200, backoff_max_ms=1000)

        def ev(seq):
            p = payloads.event("anomaly_start", 1.7, "high", top=[["f", 0.4]])
            p.update(device="fan-lora", seq=seq, boot=321, t=seq * 1.0)
            return p

        for seq in range(1, 11):
            box.put(ev(seq))
        assert box.flush(20000, sleep=time.sleep)
        fs.fill()
        for seq in range(11, 21):
            box.put(ev(seq))
        end = time.monotonic() + 5
        while time.monotonic() < end:
            box.pump()
            time.sleep(0.1)
        waiting = len(box)
        fs.free()
        ok = box.flush(30000, sleep=time.sleep)
        got = wait_rows(db, 20, 20)
        report("lora on a full disk, then freed", 20, got,
               f" (while full: {waiting} of 10 unconfirmed, kept by the board's outbox; "
               f"outbox empty after freeing: {ok}, dropped {box.dropped})")
    finally:
        stop(rx)
        fs.close()
        os.close(master)
        os.close(slave)


class Hook:
    def __init__(self, port: int) -> None:
        self.seqs: list[int] = []
        hook = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                hook.seqs.append(json.loads(self.rfile.read(int(self.headers["Content-Length"])))["seq"])
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.srv = ThreadingHTTPServer(("127.0.0.1", port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def post(port: int, token: str, p: dict, conn: http.client.HTTPConnection | None = None) -> int:
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps(p).encode()
    c.request("POST", "/ingest", body, {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if conn is None:
        c.close()
    return r.status


def routes_restart(tmp: str) -> None:
    """20 anomaly starts while the webhook is down; the receiver is killed (-9) with the
    webhook's alerts undelivered; the webhook comes up, the receiver starts again."""
    hook_port, port = free_port(), free_port()
    cfg = os.path.join(tmp, "routes.json")
    alog = os.path.join(tmp, "alerts.log")
    with open(cfg, "w") as f:
        json.dump({"routes": [{"type": "webhook", "url": "http://127.0.0.1:%d/h" % hook_port, "timeout": 2},
                              {"type": "log", "path": alog}]}, f)
    db = os.path.join(tmp, "routes.db")
    args = ["--db", db, "--http", "127.0.0.1:%d" % port, "--token", "T" * 16, "--routes", cfg]
    rx = receiver(args, os.path.join(tmp, "routes.log"))
    wait_port(port, 30)
    for seq in range(1, 21):
        assert post(port, "T" * 16, event("pump-1", seq, boot=1)) == 200
    end = time.monotonic() + 20
    while time.monotonic() < end and (not os.path.exists(alog) or len(open(alog).read().splitlines()) < 20):
        time.sleep(0.1)
    stop(rx, signal.SIGKILL)
    hook = Hook(hook_port)
    rx = receiver(args, os.path.join(tmp, "routes.log"))
    end = time.monotonic() + 60
    while time.monotonic() < end and len(set(hook.seqs)) < 20:
        time.sleep(0.1)
    time.sleep(2.0)
    n_log = len(open(alog).read().splitlines())
    print(f"routes across a kill -9: webhook got {len(set(hook.seqs))} of 20 alerts, "
          f"{len(hook.seqs) - len(set(hook.seqs))} duplicates; log route {n_log} of 20 lines", flush=True)
    stop(rx)
    hook.srv.shutdown()


def forged(tmp: str) -> None:
    """A forger holding a valid credential posts fan-2's seq 1..200 first; then the real
    fan-2 posts seq 1..200 (other content)."""
    port = free_port()
    db = os.path.join(tmp, "forged.db")
    toks = {"fan-1": "fan-1-token-0123456789", "fan-2": "fan-2-token-0123456789"}
    tf = os.path.join(tmp, "tokens.json")
    with open(tf, "w") as f:
        json.dump(toks, f)
    new = os.path.exists(os.path.join(RX_ROOT, "host_tools", "fleet", "hostnet.py")) and \
        "--device-tokens" in subprocess.run([sys.executable, "-m", "host_tools", "receive", "--help"], cwd=RX_ROOT,
                                            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=RX_ROOT)).stdout
    args = ["--db", db, "--http", "127.0.0.1:%d" % port] + (["--device-tokens", tf] if new else ["--token", "shared-token-0123"])
    rx = receiver(args, os.path.join(tmp, "forged.log"))
    wait_port(port, 30)
    ftok = toks["fan-1"] if new else "shared-token-0123"
    gtok = toks["fan-2"] if new else "shared-token-0123"
    codes: dict = {}
    for seq in range(1, 201):
        c = post(port, ftok, event("fan-2", seq, boot=7, score=9.9))
        codes[c] = codes.get(c, 0) + 1
    gcodes: dict = {}
    for seq in range(1, 201):
        c = post(port, gtok, event("fan-2", seq, boot=7, score=1.5))
        gcodes[c] = gcodes.get(c, 0) + 1
    time.sleep(0.5)
    got = rows(db, "fan-2")
    genuine = sum(1 for r in got if json.loads(r[2])["score"] == 1.5)
    forged_n = sum(1 for r in got if json.loads(r[2])["score"] == 9.9)
    print(f"forged device ({'per-device tokens' if new else 'shared token'}): forger's posts answered {codes}; "
          f"genuine answered {gcodes}; stored genuine {genuine} of 200, forged {forged_n}", flush=True)
    stop(rx)
    with open(os.path.join(tmp, "forged.log")) as f:
        lines = [x.strip() for x in f if "mismatch" in x]
    if lines:
        print("  log: " + lines[0], flush=True)


def restarted_seq(tmp: str) -> None:
    """A board sends seq 1..50, its storage is wiped, it starts again at seq 1..50 (a new
    boot id; the board's time starts again, so the payloads differ)."""
    port = free_port()
    db = os.path.join(tmp, "restart.db")
    rx = receiver(["--db", db, "--http", "127.0.0.1:%d" % port, "--token", "T" * 16], os.path.join(tmp, "rs.log"))
    wait_port(port, 30)
    for seq in range(1, 51):
        post(port, "T" * 16, event("fan-3", seq, boot=1111, t=1000.0 + seq))
    codes: dict = {}
    for seq in range(1, 51):
        c = post(port, "T" * 16, event("fan-3", seq, boot=2222, t=float(seq)))
        codes[c] = codes.get(c, 0) + 1
    time.sleep(0.5)
    got = rows(db, "fan-3")
    after = sum(1 for r in got if json.loads(r[2])["t"] < 100)
    print(f"restarted sequence: second run answered {codes}; stored {after} of 50 after the restart "
          f"({len(got)} rows in all)", flush=True)
    stop(rx)


def http50(tmp: str) -> None:
    """50 clients, each a board with its own token and keep-alive connection, posting as
    fast as answered for 10 s."""
    port = free_port()
    db = os.path.join(tmp, "load.db")
    toks = {"dev-%02d" % i: "token-%02d-0123456789abcdef" % i for i in range(50)}
    tf = os.path.join(tmp, "load-tokens.json")
    with open(tf, "w") as f:
        json.dump(toks, f)
    rx = receiver(["--db", db, "--http", "127.0.0.1:%d" % port, "--device-tokens", tf],
                  os.path.join(tmp, "load.log"))
    wait_port(port, 30)
    lat: list[float] = []
    errors: dict = {}
    ok = [0]
    lock = threading.Lock()
    start = threading.Event()
    end_at = [0.0]

    def client(dev: str, tok: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        seq = 0
        start.wait()
        while time.monotonic() < end_at[0]:
            seq += 1
            t = time.monotonic()
            try:
                st = post(port, tok, event(dev, seq, boot=1), conn)
            except Exception as e:  # noqa: BLE001
                st = type(e).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            dt = time.monotonic() - t
            with lock:
                lat.append(dt)
                if st == 200:
                    ok[0] += 1
                else:
                    errors[st] = errors.get(st, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client, args=kv) for kv in toks.items()]
    for th in threads:
        th.start()
    t0 = time.monotonic()
    end_at[0] = t0 + 10.0
    start.set()
    for th in threads:
        th.join(60)
    dur = time.monotonic() - t0
    stored = len(rows(db))
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
    print(f"http, 50 concurrent clients for {dur:.1f} s: {ok[0]} answered 200, {stored} stored "
          f"({stored / dur:,.0f} events/s), latency p50 {p(0.5):.1f} ms p99 {p(0.99):.1f} ms, "
          f"errors {sum(errors.values())} {errors or ''}", flush=True)
    stop(rx)


PROBES = {"mqtt-restart": mqtt_restart, "mqtt-pg-stop": mqtt_pg_stop, "sqlite-full": sqlite_full,
          "lora-full": lora_full, "routes-restart": routes_restart, "forged": forged,
          "restarted-seq": restarted_seq, "http50": http50}


def main() -> None:
    global RX_ROOT
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="probes to run (default: all): " + ", ".join(PROBES))
    ap.add_argument("--root", default=ROOT, help="checkout whose receiver is probed (default: this one)")
    a = ap.parse_args()
    RX_ROOT = os.path.abspath(a.root)
    for name in a.names or list(PROBES):
        if name in ("sqlite-full", "lora-full") and os.getuid() != 0:
            print(f"{name}: skipped (mounting a small tmpfs needs root)")
            continue
        tmp = tempfile.mkdtemp(prefix="rxprobe")
        try:
            PROBES[name](tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
