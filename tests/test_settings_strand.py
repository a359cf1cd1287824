"""Settings that cannot strand the board (issue 15, item 3): each combination the real
libraries or the watchdog refuse at run time is refused by the settings check, or made
safe. Each test failed on the code before."""

from __future__ import annotations

import sys

import pytest

from board_harness import FAKES, fake_hardware
from device import settings, telemetry
from device.wifilink import Wifi
from gateway.gateway import configure as gateway_configure
from gateway.gateway import settings as gateway_settings

BASE = {"SENSOR": "replay"}
MQTT = dict(BASE, TELEMETRY="mqtt", MQTT_BROKER="127.0.0.1", CIRCUITPY_WIFI_SSID="net")
LORA = dict(BASE, TELEMETRY="lora", LORA_KEY="00" * 16)


def load(**keys):
    return settings.load(keys.get)


def problems(**keys):
    with pytest.raises(settings.SettingsError) as e:
        load(**keys)
    return str(e.value)


def test_mqtt_user_needs_a_password():
    assert "MQTT_PASSWORD" in problems(**MQTT, MQTT_USER="alice")
    s = load(**MQTT, MQTT_USER="alice", MQTT_PASSWORD="")
    assert s.MQTT_PASSWORD == ""


def test_mqtt_empty_password_reaches_minimqtt(monkeypatch):
    """MiniMQTT 8.1.0 connect() does len(self._password.encode()) whenever there is a user."""
    import adafruit_minimqtt.adafruit_minimqtt as mm

    seen = {}

    class Spy(mm.MQTT):
        def __init__(self, **kw):
            seen.update(kw)
            super().__init__(**kw)

    monkeypatch.setattr(mm, "MQTT", Spy)
    import socket
    import ssl

    class Hw:
        wifi_radio = None
        ticks_ms = staticmethod(lambda: 0)

        def socket_pool(self):
            return socket

        def ssl_context(self):
            return ssl.create_default_context()

    s = load(**MQTT, MQTT_USER="alice", MQTT_PASSWORD="")
    tr = telemetry.make_transport(s, Hw(), lambda m: None)
    assert tr is not None and seen["username"] == "alice" and seen["password"] == ""


@pytest.mark.parametrize("freq,ok", [("239.9", False), ("240", True), ("868.0", True), ("960", True),
                                     ("960.5", False), ("1020", False), ("137", False)])
def test_lora_frequency_is_what_rfm9x_takes(freq, ok):
    if ok:
        assert load(**LORA, LORA_FREQUENCY=freq).LORA_FREQUENCY == float(freq)
    else:
        assert "LORA_FREQUENCY" in problems(**LORA, LORA_FREQUENCY=freq)
        with pytest.raises(ValueError):
            gateway_settings({"LORA_FREQUENCY": freq}.get)


def test_sf6_refused_on_node_and_gateway():
    assert "LORA_SF" in problems(**LORA, LORA_SF=6)
    with pytest.raises(ValueError):
        gateway_settings({"LORA_SF": 6}.get)
    assert gateway_settings({"LORA_SF": "12", "LORA_FREQUENCY": "915.0"}.get) == (915.0, 12, 2)


def _sim():
    sys.path.insert(0, FAKES)
    try:
        import rfm9x_sim
    finally:
        sys.path.remove(FAKES)
    return rfm9x_sim


@pytest.mark.parametrize("sf", [7, 10, 11, 12])
def test_node_and_gateway_agree_on_low_datarate_optimize(sf):
    sim = _sim()
    link = sim.SimLink()
    node = sim.FakeRFM9x(link)
    s = load(**LORA, LORA_SF=sf, WATCHDOG_TIMEOUT=30)
    tr = telemetry._setup_radio(node, s)
    assert node.low_datarate_optimize == (1 if sf >= 11 else 0)
    gw = gateway_configure(sim.FakeRFM9x(link), sf, 2)
    assert gw.low_datarate_optimize == node.low_datarate_optimize
    assert tr.ack_wait == settings.lora_ack_wait(sf)
    node.send(b"hello", destination=2)
    assert gw.receive(timeout=1.0) == bytearray(b"hello")


def test_lora_retries_must_fit_the_watchdog():
    """SF12 with 5 tries is ~21 s of blocking: refused with the default 10 s watchdog."""
    msg = problems(**LORA, LORA_SF=12, LORA_RETRIES=5)
    assert "WATCHDOG_TIMEOUT" in msg and "LORA_SF" in msg
    load(**LORA, LORA_SF=12, LORA_RETRIES=5, WATCHDOG_TIMEOUT=30)
    load(**LORA, LORA_SF=12, LORA_RETRIES=1)  # ~4.5 s: fits 10 s
    load(**LORA, LORA_SF=12, LORA_RETRIES=5, WATCHDOG_TIMEOUT=0)  # no watchdog


def test_send_timeout_must_fit_the_watchdog():
    assert "SEND_TIMEOUT" in problems(**MQTT, SEND_TIMEOUT=30)
    assert "SEND_TIMEOUT" in problems(**dict(MQTT, TELEMETRY="http", HTTP_URL="http://x/"), SEND_TIMEOUT=30,
                                      WATCHDOG_TIMEOUT=20)
    load(**MQTT)  # the defaults fit


def test_wifi_connect_pauses_the_watchdog():
    """One wifi.radio.connect attempt can block longer than the watchdog whatever its
    timeout says: the watchdog is stopped around it and armed again after."""
    with fake_hardware() as hw:
        wd = hw.microcontroller.watchdog
        wd.timeout = 2.0
        wd.mode = hw.watchdog.WatchDogMode.RAISE

        class Radio:
            connected = False

            def connect(self, ssid, password, timeout=None):
                assert wd.mode is None  # paused
                hw.supervisor.sleep(20.0)  # a slow association
                self.connected = True

        w = Wifi(Radio(), "net", "pw", hw.supervisor.ticks_ms, watchdog=wd)
        assert w.ensure()
        assert wd.mode == hw.watchdog.WatchDogMode.RAISE
        wd.feed()  # no WatchDogTimeout: the 20 s were not counted
        assert wd.fired == 0
