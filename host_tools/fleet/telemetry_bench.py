"""Telemetry benchmark: prints figures, asserts nothing.

    .venv/bin/python -m host_tools.fleet.telemetry_bench [--events 3000] [--db postgresql://...]

1. Receiver ingest rate (events/s stored) over HTTP and over MQTT, with one and with two
   `receive` processes on one database (SQLite in a temp dir by default). HTTP: 8 client
   threads with keep-alive connections, split across the receivers. MQTT: one publisher
   at QoS 1 through a mosquitto started on loopback; two receivers share the subscription.
2. The worst-case time one send costs the board loop on a dead link, for each transport,
   with the board's own code: HTTP (adafruit_requests) to a refused port and to a silent
   server; MQTT (adafruit_minimqtt) to a refused port and to a silent "broker"; LoRa
   through the adafruit_rfm9x driver API with each frame's airtime and no gateway answering.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(port)


def _count(db: str) -> int:
    from host_tools.fleet import store

    st = store.open_store(db)
    try:
        return st.count()
    finally:
        st.close()


def _payload(i: int, dev: str) -> dict:
    return {"type": "event" if i % 10 == 0 else "heartbeat", "event": "anomaly_start" if i % 10 == 0 else None,
            "device": dev, "seq": i, "t": i * 1.28, "score": 0.5, "anomaly": False, "mode": "low",
            "state": "normal", "windows": i, "faults": 0, "anomalies": 0, "dropped": 0}


def _clean(p: dict) -> dict:
    return {k: v for k, v in p.items() if v is not None}


def _receivers(n: int, db: str, extra: list[list[str]]) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        procs.append(subprocess.Popen([sys.executable, "-m", "host_tools", "receive", "--db", db, *extra[i]],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT))
    return procs


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)


def _wait_count(db: str, n: int, timeout: float = 120) -> float:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _count(db) >= n:
            return time.monotonic()
        time.sleep(0.02)
    raise TimeoutError(f"only {_count(db)} of {n} stored")


def bench_http(n_rx: int, events: int, db: str) -> float:
    ports = [_free_port() for _ in range(n_rx)]
    procs = _receivers(n_rx, db, [["--http", f"127.0.0.1:{p}", "--token", "T"] for p in ports])
    try:
        for p in ports:
            _wait_port(p)
        dev = f"bench-http-{n_rx}-{os.getpid()}"
        bodies = [json.dumps(_clean(_payload(i, dev))).encode() for i in range(1, events + 1)]
        threads = 8
        errors = []

        def client(k: int) -> None:
            c = http.client.HTTPConnection("127.0.0.1", ports[k % n_rx], timeout=30)
            for b in bodies[k::threads]:
                c.request("POST", "/ingest", b, {"Authorization": "Bearer T", "Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    errors.append(r.status)
            c.close()

        base = _count(db)
        t0 = time.monotonic()
        ts = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        t1 = _wait_count(db, base + events)
        if errors:
            print(f"  ({len(errors)} HTTP errors)")
        return events / (t1 - t0)
    finally:
        _stop(procs)


def bench_mqtt(n_rx: int, events: int, db: str) -> float:
    import paho.mqtt.client as mqtt

    d = tempfile.mkdtemp(prefix="mosqbench")
    port = _free_port()
    conf = os.path.join(d, "m.conf")
    import pwd

    with open(conf, "w") as f:
        f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {pwd.getpwuid(os.getuid()).pw_name}\n"
                "max_queued_messages 1000000\nmax_inflight_messages 100\n")
    broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", conf],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs: list[subprocess.Popen] = []
    try:
        _wait_port(port)
        procs = _receivers(n_rx, db, [["--mqtt", f"mqtt://127.0.0.1:{port}", "--group", "bench",
                                       "--client-id", f"bench{i}"] for i in range(n_rx)])
        time.sleep(2.0)  # receivers connect and subscribe
        dev = f"bench-mqtt-{n_rx}-{os.getpid()}"
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.max_inflight_messages_set(100)
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        base = _count(db)
        t0 = time.monotonic()
        infos = []
        for i in range(1, events + 1):
            p = _clean(_payload(i, dev))
            infos.append(pub.publish(f"anomaly/{dev}/{p['type']}", json.dumps(p), qos=1))
        for info in infos:
            info.wait_for_publish(60)
        t1 = _wait_count(db, base + events)
        pub.loop_stop()
        pub.disconnect()
        return events / (t1 - t0)
    finally:
        _stop(procs)
        broker.terminate()
        broker.wait(10)
        shutil.rmtree(d, ignore_errors=True)


# ---- dead link: what one send costs the board loop ----------------------------------------

def _silent_server() -> tuple[int, socket.socket]:
    """Accepts TCP connections and never answers (a hung server or a black hole)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    held = []

    def run() -> None:
        while True:
            try:
                c, _ = s.accept()
                held.append(c)
            except OSError:
                return

    threading.Thread(target=run, daemon=True).start()
    return s.getsockname()[1], s


def _time(f) -> tuple[float, object]:
    t0 = time.monotonic()
    r = f()
    return time.monotonic() - t0, r


def dead_link(send_timeout: int) -> list[tuple[str, float, object]]:
    from device import payloads, telemetry
    from host_tools.fleet.hostnet import _S, host_transport

    p = _clean(_payload(1, "bench"))
    out = []
    refused = _free_port()
    silent, sock = _silent_server()
    for name, url in (("http, connection refused", f"http://127.0.0.1:{refused}/ingest"),
                      ("http, silent server", f"http://127.0.0.1:{silent}/ingest"),
                      ("mqtt, connection refused", f"mqtt://u:p@127.0.0.1:{refused}"),
                      ("mqtt, silent broker", f"mqtt://u:p@127.0.0.1:{silent}")):
        tr = host_transport(url, "T", timeout=send_timeout)
        dt, r = _time(lambda: tr.send(p))
        out.append((name, dt, r))
    sock.close()

    import adafruit_rfm9x

    class DeadRadio(adafruit_rfm9x.RFM9x):
        """adafruit_rfm9x's class with send/receive replaced by a radio whose frames take
        their airtime and are never answered (no SPI chip behind it)."""

        enable_crc = True  # plain attributes in place of the register-backed properties
        spreading_factor = 7
        tx_power = 13

        def __init__(self, airtime: float) -> None:  # no SPI chip behind it
            self.airtime = airtime
            self.sequence_number = 0
            self.destination = 2
            self.node = 1
            self.identifier = 0
            self.flags = 0

        def send(self, data, **kw) -> bool:
            time.sleep(self.airtime)
            return True

        def receive(self, *, keep_listening=True, with_header=False, with_ack=False, timeout=None):
            time.sleep(timeout or 0)
            return None

    for sf, airtime in ((7, 0.092), (12, 2.3)):  # 53-byte frames (49 + 4 header) at 125 kHz, CR 4/5
        radio = DeadRadio(airtime)
        s = _S(TELEMETRY="lora", LORA_KEY="00" * 16, LORA_SF=sf, LORA_NODE=1, LORA_GATEWAY=2)
        tr = telemetry._setup_radio(radio, s)
        dt, r = _time(lambda: tr.send(p))
        out.append((f"lora SF{sf}, no gateway (LORA_RETRIES=1)", dt, r))
    _ = payloads
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--db", help="postgresql:// URL (default: SQLite in a temp dir)")
    ap.add_argument("--send-timeout", type=int, default=3, help="SEND_TIMEOUT of the dead-link test")
    ap.add_argument("--skip-rate", action="store_true")
    a = ap.parse_args(argv)
    print(f"host: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if not a.skip_rate:
        for kind, f in (("HTTP", bench_http), ("MQTT", bench_mqtt)):
            for n in (1, 2):
                d = tempfile.mkdtemp(prefix="rxbench")
                db = a.db or os.path.join(d, "bench.db")
                rate = f(n, a.events, db)
                print(f"{kind}: {n} receiver(s), {a.events} events -> {rate:,.0f} events/s stored "
                      f"({'PostgreSQL' if a.db else 'SQLite'})", flush=True)
                shutil.rmtree(d, ignore_errors=True)
    print(f"dead link, one send (board code on CPython, SEND_TIMEOUT={a.send_timeout} s):")
    for name, dt, r in dead_link(a.send_timeout):
        print(f"  {name}: {dt:.2f} s, confirmed={r}")
    print("the outbox tries at most one failing send per pump, then backs off 1 s doubling to 30 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
