"""Telemetry settings, make_transport/make_outbox wiring with fake hardware, and the Wi-Fi
manager's reconnect behaviour."""

from __future__ import annotations

import pytest

from device import settings as settings_mod
from device import telemetry
from device.httpsend import HttpTransport
from device.lorasend import LoraTransport
from device.wifilink import Wifi
from fakes.rfm9x_sim import FakeRFM9x, SimLink
from host_tools.fleet.hostnet import HostNet


def env(**kw):
    d = {"SENSOR": "replay"}
    d.update(kw)
    return lambda k: d.get(k)


def test_telemetry_settings_checked():
    with pytest.raises(settings_mod.SettingsError) as e:
        settings_mod.load(env(TELEMETRY="http"))
    assert "HTTP_URL is required with TELEMETRY = http" in str(e.value)
    assert "CIRCUITPY_WIFI_SSID is required" in str(e.value)
    with pytest.raises(settings_mod.SettingsError, match="HTTP_URL: got 'ftp://x'"):
        settings_mod.load(env(TELEMETRY="http", HTTP_URL="ftp://x", CIRCUITPY_WIFI_SSID="n"))
    with pytest.raises(settings_mod.SettingsError, match="LORA_KEY: LoRa key"):
        settings_mod.load(env(TELEMETRY="lora", LORA_KEY="abc"))
    with pytest.raises(settings_mod.SettingsError, match="PERSIST = off with TELEMETRY = mqtt"):
        settings_mod.load(env(TELEMETRY="mqtt", MQTT_BROKER="b", CIRCUITPY_WIFI_SSID="n", PERSIST="off"))
    with pytest.raises(settings_mod.SettingsError, match="LORA_NODE and LORA_GATEWAY must differ"):
        settings_mod.load(env(TELEMETRY="lora", LORA_KEY="00" * 16, LORA_NODE=2))
    s = settings_mod.load(env(TELEMETRY="lora", LORA_KEY="00" * 16, LORA_SF=12, LORA_FREQUENCY="915.0"))
    assert (s.LORA_SF, s.LORA_FREQUENCY, s.LORA_POWER) == (12, 915.0, 13)


class RadioHw(HostNet):
    def __init__(self, link):
        super().__init__()
        self.link = link
        self.pins = []
        self.fs_writable = True

    def pin(self, name):
        return name

    def digital_out(self, pin, value=False):
        self.pins.append((pin, value))
        return pin

    def spi(self):
        return "spi"


def test_make_transport_and_outbox(monkeypatch, tmp_path):
    import adafruit_rfm9x

    link = SimLink()
    made = []

    def fake(spi, cs, rst, freq, crc=True):
        assert (spi, cs, rst, freq, crc) == ("spi", "D9", "D10", 915.0, True)
        made.append(FakeRFM9x(link))
        return made[-1]

    monkeypatch.setattr(adafruit_rfm9x, "RFM9x", fake)
    s = settings_mod.load(env(TELEMETRY="lora", LORA_KEY="00" * 16, LORA_CS="D9", LORA_RESET="D10",
                              LORA_FREQUENCY="915.0", LORA_SF=9, LORA_POWER=20,
                              OUTBOX_SPILL_PATH=str(tmp_path / "spill")))
    hw = RadioHw(link)
    tr = telemetry.make_transport(s, hw, print)
    assert isinstance(tr, LoraTransport)
    r = made[0]
    assert (r.spreading_factor, r.tx_power, r.enable_crc, r.node, r.destination) == (9, 20, True, 1, 2)
    box = telemetry.make_outbox(s, hw, tr)
    assert box.spill is not None and box.backoff_ms == 1000 and box.capacity == 16
    s2 = settings_mod.load(env(TELEMETRY="http", HTTP_URL="http://127.0.0.1:9/ingest", CIRCUITPY_WIFI_SSID="n",
                               HTTP_TOKEN="t"))
    assert isinstance(telemetry.make_transport(s2, HostNet(), print), HttpTransport)
    logs = []
    monkeypatch.setattr(adafruit_rfm9x, "RFM9x", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no chip")))
    assert telemetry.make_transport(s, hw, logs.append) is None
    assert "telemetry lora not available: RuntimeError: no chip" in logs[0]
    assert telemetry.make_transport(settings_mod.load(env()), hw, print) is None  # console


class FlakyRadio:
    """wifi.radio: connect raises ConnectionError until `up`."""

    def __init__(self):
        self.connected = False
        self.calls = 0
        self.up = False

    def connect(self, ssid, password, timeout=None):
        self.calls += 1
        if self.connected:
            raise AssertionError("connect while connected drops the link")
        if not self.up:
            raise ConnectionError("No network with that ssid")
        self.connected = True


def test_wifi_reconnects_with_backoff_and_keeps_no_exception():
    clock = [0]
    radio = FlakyRadio()
    logs = []
    w = Wifi(radio, "net", "pw", lambda: clock[0], logs.append, backoff_ms=1000, backoff_max_ms=8000)
    for _ in range(1000):  # a long outage: one try per back-off period, never an exception
        assert w.ensure() is False
        clock[0] += 100
    assert 10 <= radio.calls <= 20 and w.failures == radio.calls
    assert isinstance(w.last_error, str) and "No network" in w.last_error
    assert len(logs) <= 6  # logged at failures 1, 2, 4, 8...
    radio.up = True
    clock[0] += 8000
    assert w.ensure() is True and w.connects == 1
    calls = radio.calls
    assert w.ensure() is True and radio.calls == calls  # up: no connect() call
    radio.connected = False  # the access point drops us
    radio.up = False
    assert w.ensure() is False
    radio.up = True
    clock[0] += 1000
    assert w.ensure() is True and w.connects == 2
