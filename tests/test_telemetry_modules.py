"""A network board holds only its own transport's code (issue 15, item 6: heap).

code.py runs in a fresh interpreter on the fake hardware (tests/board_harness.py) with
TELEMETRY = mqtt, http or lora, network ends refused; after setup the device modules still
loaded are exactly the loop's, plus that transport's own (device/mqttsend.py and
device/wifilink.py for MQTT, ...): not the setup code (device/telemetry.py), not the whole
payload schema (device/payloads.py, the host's), not another transport's code. And no
device module is alive twice (a module dropped from sys.modules while one of its functions
is still referenced, then imported again, would hold two copies of its code: the functions'
globals tell)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import board_harness as bh
from conftest import ROOT

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r"""
import gc, json, sys, types
sys.path[:0] = [%(tests)r, %(root)r]
import board_harness as bh
if %(lora)r:  # the radio: the simulated RFM9x (tests/fakes/rfm9x_sim.py) in place of the driver
    from fakes.rfm9x_sim import FakeRFM9x, SimLink
    drv = types.ModuleType("adafruit_rfm9x")
    drv.RFM9x = lambda spi, cs, rst, freq, crc=True: FakeRFM9x(SimLink(), frequency=freq)
    sys.modules["adafruit_rfm9x"] = drv
with bh.fake_hardware() as hw:
    sys.path.insert(0, bh.FAKES)
    import wifi, socketpool, ssl  # the network stand-ins: the transport is really built
    sys.path.remove(bh.FAKES)
    wifi.radio.networks = {"net": ""}
    AT = []  # the device modules alive when the transport is built

    def _prof(frame, event, arg):
        if event == "call" and not AT and frame.f_code.co_name == "make_transport":
            AT.append(sorted(n for n in sys.modules if n.startswith("device.")))

    sys.setprofile(_prof)
    try:
        r = bh.run_code_py(%(cp)r, hw)
    finally:
        sys.setprofile(None)
app = r.app
gc.collect()
copies = {}
for o in gc.get_objects():
    if isinstance(o, types.FunctionType):
        g = o.__globals__
        name = g.get("__name__", "")
        if name.startswith("device."):
            copies.setdefault(name, set()).add(id(g))
print("MODS " + json.dumps({"modules": sorted(n for n in sys.modules if n.startswith("device.")),
                            "twice": sorted(n for n, s in copies.items() if len(s) > 1),
                            "transport": type(app.outbox.transport).__name__,
                            "at_transport": AT[0] if AT else None,
                            "lines": [ln for ln in r.lines if ln.startswith("# ")]}))
"""

NET = {"CIRCUITPY_WIFI_SSID": "net", "SEND_TIMEOUT": 1, "SEND_BUDGET_MS": 50}
CONFIGS = {
    "mqtt": (dict(NET, TELEMETRY="mqtt", MQTT_BROKER="127.0.0.1", MQTT_PORT=9, MQTT_HA_DISCOVERY=1),
             "MqttTransport", ("device.mqttsend", "device.wifilink")),
    "http": (dict(NET, TELEMETRY="http", HTTP_URL="http://127.0.0.1:9/ingest"),
             "HttpTransport", ("device.httpsend", "device.wifilink")),
    "lora": ({"TELEMETRY": "lora", "LORA_KEY": "00" * 16}, "LoraTransport", ("device.lorasend", "device.lorapack")),
}
TRANSPORT_CODE = ("device.mqttsend", "device.httpsend", "device.lorasend", "device.lorapack", "device.wifilink",
                  "device.hadiscovery")
NEVER_AFTER_SETUP = ("device.telemetry", "device.lorasetup", "device.payloads", "device.payload_check", "device.spill",
                     "device.settings", "device.wiring", "device.lora_time")


def _run(tmp_path, keys: dict) -> dict:
    cp = tmp_path / "CIRCUITPY"
    cp.mkdir()
    bh.copy_replay(str(cp), ["fan_0_low_0_weight"], 2)
    settings = dict(SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, MAX_WINDOWS=2, HEARTBEAT_WINDOWS=1,
                    WATCHDOG_TIMEOUT=30)
    settings.update(keys)
    bh.write_settings(str(cp), **settings)
    code = CHILD % {"tests": HERE, "root": ROOT, "cp": str(cp), "lora": keys["TELEMETRY"] == "lora"}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(HERE, "ulab_emu"), ROOT]))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600,
                       cwd=str(tmp_path))
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("MODS ")]
    assert line, (r.stdout + r.stderr)[-3000:]
    return json.loads(line[-1][5:])


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_a_board_keeps_only_its_own_transport(tmp_path, kind):
    keys, cls, own = CONFIGS[kind]
    d = _run(tmp_path, keys)
    assert d["transport"] == cls, d["lines"]
    mods = set(d["modules"])
    for name in own:
        assert name in mods
    others = [n for n in TRANSPORT_CODE if n in mods and n not in own]
    assert not others, "%s board holds other transports' code: %s" % (kind, others)
    left = [n for n in NEVER_AFTER_SETUP if n in mods]
    assert not left, "%s board still holds setup or host code after setup: %s" % (kind, left)
    assert not d["twice"], "device modules alive twice: %s" % d["twice"]


# what has left the heap before code.py builds the network transport (its library, client and
# interned names): the setup peak holds the transport or these, not both (docs/board.md section 9)
GONE_BEFORE_TRANSPORT = ("device.wiring", "device.settings", "device.model", "device.modelformat",
                         "device.modelcheck", "device.chips", "device.app", "device.detectors")


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_the_transport_is_built_after_the_setup_code_left(tmp_path, kind):
    d = _run(tmp_path, CONFIGS[kind][0])
    assert d["at_transport"] is not None, d["lines"]
    alive = [n for n in GONE_BEFORE_TRANSPORT if n in d["at_transport"]]
    assert not alive, "%s: built while %s were in the heap" % (kind, alive)
