"""Setup of the network transports: `make_transport(settings, hw, log)` builds the one
TELEMETRY names, `make_outbox` the outbox in front of it, `make_session` the HTTP session of
RECORD = http. Each transport's `send(payload) -> bool`:

True means the far end confirmed the payload (HTTP 2xx, MQTT PUBACK at QoS 1, LoRa ACK
from the gateway, sent once the host stored it); False means "not now" and the outbox keeps
it and backs off. No transport raises into the loop. The libraries (adafruit_requests,
adafruit_minimqtt, adafruit_rfm9x) are passed in already built, so tests run the real
libraries on CPython against loopback servers.

Heap: this module is setup-only (device.wiring.SETUP_MODULES): device.assemble.attach_transport
imports it after the wiring has left the heap and drops it before the App's modules arrive.
Each transport lives in a module of its own, imported here only for the configuration that
uses it, so a board holds only its own transport's code:
- device/mqttsend.py (MqttTransport) and device/httpsend.py (HttpTransport), both over
  device/wifilink.py (Wifi: the station kept connected, with back-off and the watchdog
  paused around a connect);
- device/lorasend.py (LoraTransport) with device/lorapack.py (the packet and its HMAC),
  set up by device/lorasetup.py (setup-only too: a Wi-Fi board never loads it);
- device/spill.py (FileSpill: events on flash) only when the board owns its filesystem.
device/payloads.py (the whole schema, for the host) is not imported by any of them.
"""


def _wifi(s, hw, log):
    radio = getattr(hw, "wifi_radio", None)
    if radio is None:
        return None  # a PC: the host's network is up
    from device.wifilink import Wifi

    return Wifi(radio, s.CIRCUITPY_WIFI_SSID, s.CIRCUITPY_WIFI_PASSWORD, hw.ticks_ms, log,
                timeout=s.WIFI_TIMEOUT,
                watchdog=getattr(hw, "watchdog", None) if s.WATCHDOG_TIMEOUT else None)


def make_session(s, hw, log):
    """An adafruit_requests Session over Wi-Fi (the board's RECORD = http posts through
    it), or None when it cannot be made (logged)."""
    try:
        net = _wifi(s, hw, log)
        if net is not None:
            net.ensure()
        import adafruit_requests

        return adafruit_requests.Session(hw.socket_pool(), hw.ssl_context())
    except Exception as e:  # noqa: BLE001 - missing library, no Wi-Fi...
        log("# HTTP session not available: %s: %s" % (type(e).__name__, e))
        return None


def make_transport(s, hw, log):
    """The transport TELEMETRY names, built from settings `s` and hardware `hw`:
    hw.wifi_radio (None on a PC), hw.socket_pool() (socketpool.SocketPool(wifi.radio),
    or CPython's socket module), hw.ssl_context(), hw.spi(), hw.pin(name),
    hw.digital_out(pin, value), hw.ticks_ms. Returns None for console/none (the app
    keeps its console transport) or when the transport cannot be set up (logged)."""
    kind = s.TELEMETRY
    if kind not in ("http", "mqtt", "lora"):
        return None
    try:
        if kind == "lora":
            from device.lorasetup import make_lora

            return make_lora(s, hw)
        net = _wifi(s, hw, log)
        if net is not None:
            net.ensure()
        pool = hw.socket_pool()
        ssl_ctx = hw.ssl_context()
        if kind == "http":
            import adafruit_requests

            from device.httpsend import HttpTransport

            session = adafruit_requests.Session(pool, ssl_ctx)
            return HttpTransport(session, s.HTTP_URL, s.HTTP_TOKEN, s.SEND_TIMEOUT, net, pool)
        from adafruit_minimqtt.adafruit_minimqtt import MQTT

        from device.mqttsend import MqttTransport

        port = s.MQTT_PORT or (8883 if s.MQTT_TLS else 1883)
        user = s.MQTT_USER or None
        client = MQTT(broker=s.MQTT_BROKER, port=port, username=user,
                      password=s.MQTT_PASSWORD if user else None, is_ssl=s.MQTT_TLS, keep_alive=0,
                      socket_pool=pool, ssl_context=ssl_ctx, socket_timeout=1,
                      recv_timeout=max(2, int(s.SEND_TIMEOUT)), connect_retries=1,
                      client_id=s.MQTT_CLIENT_ID or None)
        return MqttTransport(client, s.MQTT_TOPIC, net,
                             s.MQTT_HA_PREFIX if s.MQTT_HA_DISCOVERY else None)
    except Exception as e:  # noqa: BLE001 - missing library, radio not found...
        log("# telemetry %s not available: %s: %s (events go to the console)" % (kind, type(e).__name__, e))
        return None


def _setup_radio(radio, s):
    """An RFM9x set up from settings -> its LoraTransport (device/lorasetup.py; the host's
    simulator and the tests call it with a simulated radio)."""
    from device.lorasetup import setup_radio

    return setup_radio(radio, s)


def make_outbox(s, hw, transport, log=None):
    """The outbox in front of `transport`: capacity, time budget and back-off from
    settings; a spill file on flash when the board owns its filesystem."""
    from device import outbox as outbox_mod

    network = getattr(transport, "name", "") in ("http", "mqtt", "lora")
    spill = None
    if network and s.OUTBOX_SPILL_BYTES and getattr(hw, "fs_writable", False):
        from device.spill import FileSpill

        spill = FileSpill(s.OUTBOX_SPILL_PATH, s.OUTBOX_SPILL_BYTES)
        if len(spill) and log is not None:
            log("# outbox: %d bytes of events from before the reset still to send" % spill.bytes_pending())
    return outbox_mod.Outbox(transport, capacity=s.OUTBOX_CAPACITY, per_pump=4,
                             budget_ms=s.SEND_BUDGET_MS, ticks_ms=hw.ticks_ms, spill=spill,
                             backoff_ms=1000 if network else 0, backoff_max_ms=30000)
