"""Network transports for the outbox: HTTP, MQTT and LoRa, each `send(payload) -> bool`.

True means the far end confirmed the payload (HTTP 2xx, MQTT PUBACK at QoS 1, LoRa ACK
from the gateway, sent once the host stored it); False means "not now" and the outbox keeps it and backs off. No
transport raises into the loop. The libraries (adafruit_requests, adafruit_minimqtt,
adafruit_rfm9x) are passed in already built, so tests run the real libraries on CPython
against loopback servers; `make_transport(settings, hw, log)` builds them on the board.

Known failures handled here:
- adafruit_rfm9x send_with_ack sleeps after every missed ACK: see LoraTransport.
- Wi-Fi: `wifi.radio.connect` is called only while disconnected (calling it again drops a
  working link), with a back-off, one socket pool for the whole run and no exception
  objects kept (repeated ConnectionErrors plus reloads ran CircuitPython out of memory,
  adafruit/circuitpython#7448).
- MiniMQTT: after a failed publish the client still holds its socket in the connection
  manager, so the next connect fails with "An existing socket is already connected" or
  leaks a socket per attempt. Every failure here closes the socket through the manager
  before the next attempt; its own blocking retry loop is off (connect_retries=1).
- adafruit_requests: a response that failed half-way leaves its socket registered; on any
  failure every socket of the pool is closed.
"""

from device import payloads

_MASK = (1 << 29) - 1
try:  # CircuitPython raises ConnectionError from wifi.radio.connect; MicroPython lacks it
    _WIFI_ERRORS = (ConnectionError, OSError, RuntimeError)
except NameError:
    _WIFI_ERRORS = (OSError, RuntimeError)
HTTP_OK = (200, 201, 202, 204)
HTTP_REFUSED = (400, 413, 422)  # the receiver will never take this payload: drop it


def _collect():
    try:
        import gc

        gc.collect()
    except ImportError:
        pass


class Wifi:
    """Keeps the station connected: `ensure()` is cheap while up, and while down tries
    `radio.connect` at most once per back-off period (doubling to `backoff_max_ms`)."""

    def __init__(self, radio, ssid, password, ticks_ms, log=None, timeout=8,
                 backoff_ms=2000, backoff_max_ms=60000, watchdog=None):
        self.radio = radio
        self.watchdog = watchdog
        self.ssid = ssid
        self.password = password
        self._ticks = ticks_ms
        self._log = log
        self.timeout = timeout
        self.backoff_ms = backoff_ms
        self.backoff_max_ms = backoff_max_ms
        self._wait = 0
        self._since = 0
        self.failures = 0
        self.connects = 0
        self.last_error = None

    def connected(self):
        c = getattr(self.radio, "connected", None)
        if c is None:
            c = getattr(self.radio, "ipv4_address", None) is not None
        return bool(c)

    def ensure(self):
        if self.connected():
            self._wait = 0
            return True
        if not self.ssid:
            return False
        now = self._ticks()
        if self._wait and ((now - self._since) & _MASK) < self._wait:
            return False
        err = None
        # One connect attempt blocks until the station is up or refused, whatever
        # `timeout` says (ports/espressif/common-hal/wifi/Radio.c): pause a running
        # watchdog around it (mode None stops it on every port) and arm it again after.
        wd = self.watchdog
        mode = getattr(wd, "mode", None) if wd is not None else None
        if mode is not None:
            wd.feed()
            wd.mode = None
        try:
            self.radio.connect(self.ssid, self.password, timeout=self.timeout)
        except _WIFI_ERRORS as e:
            err = "%s: %s" % (type(e).__name__, e)  # keep text, not the exception
        except MemoryError:
            err = "MemoryError"
        finally:
            if mode is not None:
                wd.mode = mode
                wd.feed()
        if err is None and self.connected():
            self.connects += 1
            self._wait = 0
            return True
        self.failures += 1
        self.last_error = err or "not connected"
        self._since = self._ticks()
        w = self._wait * 2 if self._wait else self.backoff_ms
        self._wait = w if w < self.backoff_max_ms else self.backoff_max_ms
        if self._log is not None and (self.failures & (self.failures - 1)) == 0:
            self._log("# wifi: %s (attempt %d)" % (self.last_error, self.failures))
        _collect()
        return False


class HttpTransport:
    """POST each payload as JSON with a bearer token (adafruit_requests Session)."""

    name = "http"

    def __init__(self, session, url, token=None, timeout=3, net=None, pool=None):
        self.session = session
        self.url = url
        self.timeout = timeout
        self.net = net
        self.pool = pool
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token
        self.rejected = 0
        self.last_status = None
        self.last_error = None

    def send(self, payload):
        if self.net is not None and not self.net.ensure():
            return False
        r = None
        try:
            # adafruit_requests tries twice when a socket fails: half the time each
            r = self.session.post(self.url, data=payloads.dumps(payload),
                                  headers=self.headers, timeout=self.timeout / 2)
            code = r.status_code
            # read the (tiny) body: Response.close() hands the socket back for reuse
            # without draining it, and the next request would read these bytes as its
            # status line, fail, and be sent again (a duplicate at the receiver)
            r.content
        except Exception as e:  # noqa: BLE001 - OSError, OutOfRetries, MemoryError...
            self.last_error = "%s: %s" % (type(e).__name__, e)
            self._reset()
            return False
        finally:
            if r is not None:
                try:
                    r.close()
                except Exception:
                    self._reset()
        self.last_status = code
        if code in HTTP_OK:
            return True
        if code in HTTP_REFUSED:
            self.rejected += 1
            return True
        return False

    def _reset(self):
        try:
            import adafruit_connection_manager as acm

            acm.connection_manager_close_all(self.pool)
        except Exception:
            pass
        _collect()


class MqttTransport:
    """Publish each payload at QoS 1 to `<topic>/<device>/<type>`; confirmed by PUBACK.
    Optionally announces the device to Home Assistant (retained discovery messages)."""

    name = "mqtt"

    def __init__(self, client, topic="anomaly", net=None, discovery_prefix=None):
        self.client = client
        self.topic = topic.rstrip("/")
        self.net = net
        self.discovery_prefix = discovery_prefix
        self._announced = []
        self.connects = 0
        self.last_error = None

    def _drop(self):
        c = self.client
        try:
            if c.is_connected():
                c.disconnect()  # closes the socket through the connection manager
        except Exception:
            pass
        sock = getattr(c, "_sock", None)
        if sock is not None:
            try:
                c._close_socket()
            except Exception:
                try:
                    sock.close()
                except Exception:
                    pass
                c._sock = None
        c._is_connected = False
        _collect()

    def _connect(self):
        try:
            self.client.connect()
            self.connects += 1
            return True
        except Exception as e:  # noqa: BLE001
            self.last_error = "%s: %s" % (type(e).__name__, e)
            self._drop()
            return False

    def send(self, payload):
        if self.net is not None and not self.net.ensure():
            return False
        if not self.client.is_connected() and not self._connect():
            return False
        dev = payload.get("device", "board")
        try:
            if self.discovery_prefix and dev not in self._announced:
                for topic, msg in payloads.ha_discovery(dev, self.topic, self.discovery_prefix):
                    self.client.publish(topic, msg, retain=True, qos=1)
                self._announced.append(dev)
            self.client.publish("%s/%s/%s" % (self.topic, dev, payload.get("type", "event")),
                                payloads.dumps(payload), qos=1)
            return True
        except Exception as e:  # noqa: BLE001
            self.last_error = "%s: %s" % (type(e).__name__, e)
            self._drop()
            return False


class LoraTransport:
    """Send each payload as one signed 49-byte packet, confirmed by the gateway's ACK.

    The RadioHead reliable-datagram exchange is done here with the driver's send() and
    receive(), not with send_with_ack(): that one sleeps a random 1-2 ACK waits after every
    missed ACK (also after the last), which at SF12 kept the loop 20 s. Here one send costs
    `tries` x (airtime + ack_wait) and further retries are the outbox's, with back-off."""

    name = "lora"

    def __init__(self, radio, key, names=None, modes=None, ack_wait=0.3, tries=1):
        self.radio = radio
        self.key = key
        self.names = names  # the model's feature names: top features travel as indexes
        self.modes = modes
        self.ack_wait = ack_wait
        self.tries = tries
        self._id = 0
        self.last_error = None

    def send(self, payload):
        try:
            pkt = payloads.pack(payload, self.key, self.names, self.modes)
            r = self.radio
            for i in range(self.tries):
                self._id = (self._id + 1) & 0xFF
                if not r.send(pkt, keep_listening=True, identifier=self._id, flags=0):
                    continue
                if r.destination == 0xFF:  # broadcast: nobody acknowledges
                    return True
                ack = r.receive(timeout=self.ack_wait, with_header=True)
                if ack is not None and len(ack) >= 4 and ack[3] & 0x80 and ack[2] == self._id:
                    return True
            return False
        except Exception as e:  # noqa: BLE001
            self.last_error = "%s: %s" % (type(e).__name__, e)
            return False


# ---- wiring ------------------------------------------------------------------------------

def _wifi(s, hw, log):
    radio = getattr(hw, "wifi_radio", None)
    if radio is None:
        return None  # a PC: the host's network is up
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
            return _make_lora(s, hw)
        net = _wifi(s, hw, log)
        if net is not None:
            net.ensure()
        pool = hw.socket_pool()
        ssl_ctx = hw.ssl_context()
        if kind == "http":
            import adafruit_requests

            session = adafruit_requests.Session(pool, ssl_ctx)
            return HttpTransport(session, s.HTTP_URL, s.HTTP_TOKEN, s.SEND_TIMEOUT, net, pool)
        from adafruit_minimqtt.adafruit_minimqtt import MQTT

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


def _make_lora(s, hw):
    import adafruit_rfm9x

    cs = hw.digital_out(hw.pin(s.LORA_CS), True)
    rst = hw.digital_out(hw.pin(s.LORA_RESET), True)
    radio = adafruit_rfm9x.RFM9x(hw.spi(), cs, rst, s.LORA_FREQUENCY, crc=True)
    return _setup_radio(radio, s)


def _setup_radio(radio, s):
    radio.enable_crc = True
    radio.spreading_factor = s.LORA_SF
    radio.tx_power = s.LORA_POWER
    radio.node = s.LORA_NODE
    radio.destination = s.LORA_GATEWAY
    # SF11/12 at 125 kHz: symbols longer than 16 ms need low-data-rate optimisation on
    # both ends (SX1276 datasheet; the driver leaves it off). gateway/ sets the same.
    radio.low_datarate_optimize = 1 if s.LORA_SF >= 11 else 0
    from device.lora_time import lora_ack_wait, lora_airtime

    radio.xmit_timeout = lora_airtime(s.LORA_SF, payloads.PACKET_LEN + 4) + 0.5
    return LoraTransport(radio, payloads.parse_key(s.LORA_KEY), ack_wait=lora_ack_wait(s.LORA_SF),
                         tries=s.LORA_RETRIES)


def make_outbox(s, hw, transport, log=None):
    """The outbox in front of `transport`: capacity, time budget and back-off from
    settings; a spill file on flash when the board owns its filesystem."""
    from device import outbox as outbox_mod

    network = getattr(transport, "name", "") in ("http", "mqtt", "lora")
    spill = None
    if network and s.OUTBOX_SPILL_BYTES and getattr(hw, "fs_writable", False):
        spill = outbox_mod.FileSpill(s.OUTBOX_SPILL_PATH, s.OUTBOX_SPILL_BYTES)
        if len(spill) and log is not None:
            log("# outbox: %d bytes of events from before the reset still to send" % spill.bytes_pending())
    return outbox_mod.Outbox(transport, capacity=s.OUTBOX_CAPACITY, per_pump=4,
                             budget_ms=s.SEND_BUDGET_MS, ticks_ms=hw.ticks_ms, spill=spill,
                             backoff_ms=1000 if network else 0, backoff_max_ms=30000)
