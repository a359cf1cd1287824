"""`simulate ... --send URL`: the simulated board's payloads go through the board's own
transport code (HTTP to the receiver, MQTT through mosquitto) and every one is stored."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from conftest import DATA
from host_tools.fleet import receiver
from host_tools.fleet import store
from netparts import Mosquitto, free_port, wait_port


def _stored(db, n, timeout=20):
    end = time.monotonic() + timeout
    st = store.open_store(db)
    try:
        while time.monotonic() < end and st.count() < n:
            time.sleep(0.1)
        return st.events()
    finally:
        st.close()


def _simulate(model, *extra):
    r = subprocess.run([sys.executable, "-m", "host_tools", "simulate", "--model", model, "--data",
                        os.path.join(DATA, "fan_0_low_1_weight"), os.path.join(DATA, "fan_0_high_0_weight"),
                        "--heartbeat", "10", *extra], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    n = sum(1 for line in r.stdout.splitlines() if line.startswith("{"))
    return r, n


def test_simulate_send_http(fan_model_path, tmp_path):
    db = str(tmp_path / "s.db")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "receive", "--db", db, "--http",
                             "127.0.0.1:%d" % port, "--token", "T"], stdout=subprocess.DEVNULL)
    try:
        wait_port(port, 30)
        r, n = _simulate(fan_model_path, "--send", "http://127.0.0.1:%d/ingest" % port, "--token", "T")
        assert "sent %d, waiting 0, dropped 0" % n in r.stderr
        rows = _stored(db, n)
        assert len(rows) == n and n > 10
        assert any(x["event"] == "anomaly_start" for x in rows)
        r3 = subprocess.run([sys.executable, "-m", "host_tools", "simulate", "--model", fan_model_path,
                             "--data", os.path.join(DATA, "fan_0_low_1_weight"), "--send", "ftp://x"],
                            capture_output=True, text=True)
        assert r3.returncode == 2 and r3.stderr.startswith("error: --send ftp://x")
    finally:
        proc.terminate()
        proc.wait(30)


def test_simulate_send_mqtt(fan_model_path, tmp_path):
    m = Mosquitto({"sim": "pw", "rx": "pw2"}).start()
    db = str(tmp_path / "m.db")
    st = store.open_store(db)
    rx = receiver.Receiver(st, log=lambda line: None)
    try:
        assert rx.serve_mqtt("mqtt://rx:pw2@127.0.0.1:%d" % m.port, "anomaly").connected.wait(10)
        time.sleep(0.2)
        r, _ = _simulate(fan_model_path, "--quiet", "--send", "mqtt://sim:pw@127.0.0.1:%d/anomaly" % m.port)
        sent = int(r.stderr.split("sent ")[1].split(",")[0])
        assert "waiting 0, dropped 0" in r.stderr and sent > 10
        end = time.monotonic() + 20
        while st.count() < sent and time.monotonic() < end:
            time.sleep(0.1)
        assert st.count() == sent
        assert {x["source"] for x in st.events()} == {"mqtt"}
    finally:
        rx.close()
        st.close()
        m.close()
