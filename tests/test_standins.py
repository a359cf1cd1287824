"""Stand-ins that behave like the real thing (issue 15, item 4): each test here failed with
the stand-ins of before, which accepted what the real cores refuse (or never ran a path)."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import sys
import threading

import pytest

from board_harness import FAKES, REPO, copy_replay, fake_hardware, run_code_py, write_settings
from device import settings as settings_mod


def _fake(name):
    sys.path.insert(0, FAKES)
    try:
        return __import__(name)
    finally:
        sys.path.remove(FAKES)


# ---- settings.toml / os.getenv per core ------------------------------------------------------

def test_single_quotes_are_not_strings_in_settings_toml(tmp_path):
    st = _fake("settings_toml")
    p = tmp_path / "settings.toml"
    p.write_text("SENSOR = 'replay'\nDEVICE_ID = \"fan-1\"\nWINDOW = 256\n")
    g = st.getenv_from(str(p), "10.1.0")
    with pytest.raises(ValueError):
        g("SENSOR")  # CircuitPython <= 10.1: an invalid value raises when read
    assert g("DEVICE_ID") == "fan-1" and g("WINDOW") == 256
    g2 = st.getenv_from(str(p), "10.2.1")
    assert g2("SENSOR") == "'replay'" and g2("WINDOW") == "256"  # 10.2+: strings, no raise
    with pytest.raises(settings_mod.SettingsError) as e:
        settings_mod.load(g)
    assert "SENSOR: cannot be read" in str(e.value)


@pytest.mark.parametrize("core", ["10.1.0", "10.2.1"])
def test_settings_example_reads_the_same_on_both_getenvs(core):
    st = _fake("settings_toml")
    path = os.path.join(REPO, "settings.toml.example")
    base = settings_mod.load(st.getenv_from(path, "10.1.0"))
    s = settings_mod.load(st.getenv_from(path, core))
    for key, *_ in settings_mod.SPEC:
        assert getattr(s, key) == getattr(base, key), key


# ---- the watchdog fires where the code is ------------------------------------------------------

def test_raise_watchdog_fires_inside_a_transport_and_the_loop_rearms(fan_model_path):
    """The real RAISE timeout lands wherever the code is -- here inside LoraTransport.send's
    `except Exception` (the old stand-in raised only in feed(), where the loop expects it)."""
    from device import app as app_mod
    from device.appconfig import AppConfig
    from device import model as model_mod
    from device import outbox as outbox_mod
    from device.lorasend import LoraTransport

    with fake_hardware() as hw:
        sim = _fake("rfm9x_sim")
        link = sim.SimLink()
        radio = sim.FakeRFM9x(link, node=1)
        radio.destination = 2
        radio.airtime = 1.0
        radio.xmit_timeout = 5.0
        import time as _time

        real_sleep = _time.sleep
        _time.sleep = hw.supervisor.sleep  # the simulated radio spends virtual time
        try:
            tr = LoraTransport(radio, bytes(16), ack_wait=0.0, tries=4)  # 4 s per send
            box = outbox_mod.Outbox(tr, capacity=8, per_pump=1, budget_ms=100000, ticks_ms=hw.supervisor.ticks_ms)
            from test_board_app import Flaky
            from host_tools.data import datasets
            from device import features

            doc = model_mod.load(fan_model_path)
            ex = features.from_recipe(doc["features"])
            normal = [w for _, _, w in datasets.windows_of_paths(
                [os.path.join(REPO, "data", "ceiling-fan", "fan_0_low_0_weight")], ex)][:6]
            dog = hw.microcontroller.watchdog
            dog.timeout = 2.0
            lines = []
            a = app_mod.App(Flaky(normal, fail_first=0, exc=RuntimeError), doc,
                            AppConfig(guard=True, heartbeat_every=1), outbox=box, watchdog=dog,
                            log=lines.append, clock=lambda: hw.supervisor.clock.us / 1e6)
            a.watchdog_mode = hw.watchdog.WatchDogMode.RAISE
            dog.mode = a.watchdog_mode
            a.run(3)
        finally:
            _time.sleep = real_sleep
        assert dog.fired >= 1
        assert "WatchDogTimeout" in (tr.last_error or "")  # raised inside the transport's except
        # swallowed there, the loop never saw it; it found the watchdog stopped and armed
        # it again (every window here: a 4 s send against 2 s -- what the settings check
        # refuses, tests/test_settings_strand.py)
        assert a.watchdog_rearms >= 1
        a._idle()
        assert dog.mode == hw.watchdog.WatchDogMode.RAISE
        a.stop_watchdog()


# ---- board.SPI, wifi, socketpool, ssl: code.py's Hardware runs -----------------------------------

class _Ingest(http.server.BaseHTTPRequestHandler):
    got: list = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        _Ingest.got.append((self.headers.get("Authorization"), json.loads(self.rfile.read(n))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def root(tmp_path, fan_model_path):
    r = tmp_path / "CIRCUITPY"
    r.mkdir()
    from device import model as model_mod

    for f in model_mod.files_of(fan_model_path):
        shutil.copy(f, r / os.path.basename(f))
    return str(r)


def test_code_py_hardware_with_wifi_socketpool_ssl_over_http(root):
    """code.py's Hardware.socket_pool()/ssl_context() and the Wi-Fi join run against the
    stand-ins (before: no wifi/socketpool/ssl stand-ins, so that code never ran)."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ingest)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Ingest.got = []
    copy_replay(root, ["fan_0_low_0_weight"], 3)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, HEARTBEAT_WINDOWS=1,
                   TELEMETRY="http", HTTP_URL="http://127.0.0.1:%d/ingest" % srv.server_address[1],
                   HTTP_TOKEN="tok", CIRCUITPY_WIFI_SSID="net", CIRCUITPY_WIFI_PASSWORD="pw")
    saved = {n: sys.modules.get(n) for n in ("wifi", "socketpool", "ssl")}
    try:
        with fake_hardware() as hw:
            for n in ("wifi", "socketpool", "ssl"):
                sys.modules.pop(n, None)
            wifi, socketpool, ssl = _fake("wifi"), _fake("socketpool"), _fake("ssl")
            sys.modules.update(wifi=wifi, socketpool=socketpool, ssl=ssl)
            wifi.radio.networks = {"net": "pw"}
            r = run_code_py(root, hw)
            assert wifi.radio.connected and wifi.radio.connects == 1
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
        srv.shutdown()
    assert r.app is not None
    kinds = [p.get("type") for _, p in _Ingest.got]
    assert "heartbeat" in kinds and all(a == "Bearer tok" for a, _ in _Ingest.got), r.text[-600:]


def test_board_spi_with_no_radio_keeps_the_console(root):
    """board.SPI() exists (it did not in the old stand-in); a bare bus has no RFM9x: the board
    says so and keeps the console transport."""
    copy_replay(root, ["fan_0_low_0_weight"], 2)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, TELEMETRY="lora",
                   LORA_KEY="00" * 16)
    with fake_hardware() as hw:
        r = run_code_py(root, hw)
    assert any("telemetry lora not available" in ln and "Failed to find rfm9x" in ln for ln in r.lines), r.lines
    assert r.app is not None and r.app.windows == 2
