"""The MQTT transport: publish each payload at QoS 1 (adafruit_minimqtt), True on PUBACK.

A module of its own (heap): an MQTT board loads this and device/wifilink.py, not the HTTP or
LoRa code nor device/payloads.py (the app builds the payload dicts; JSON is json.dumps). The
Home Assistant discovery messages (device/hadiscovery.py) are imported only when discovery
is on, at the first announcement. Built by device/telemetry.make_transport, which leaves the
heap after setup.

MiniMQTT: after a failed publish the client still holds its socket in the connection
manager, so the next connect fails with "An existing socket is already connected" or leaks
a socket per attempt. Every failure here closes the socket through the manager before the
next attempt; its own blocking retry loop is off (connect_retries=1).
"""

import json

from device.wifilink import collect


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
        collect()

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
                from device.hadiscovery import ha_discovery

                for topic, msg in ha_discovery(dev, self.topic, self.discovery_prefix):
                    self.client.publish(topic, msg, retain=True, qos=1)
                self._announced.append(dev)
            self.client.publish("%s/%s/%s" % (self.topic, dev, payload.get("type", "event")),
                                json.dumps(payload), qos=1)
            return True
        except Exception as e:  # noqa: BLE001
            self.last_error = "%s: %s" % (type(e).__name__, e)
            self._drop()
            return False
