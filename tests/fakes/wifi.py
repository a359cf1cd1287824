"""Fake `wifi` (CircuitPython, espressif port) for PC tests: `wifi.radio`.

From adafruit/circuitpython shared-bindings/wifi/Radio.c and ports/espressif/common-hal/
wifi/Radio.c (10.x): `radio.connect(ssid, password="", *, channel=0, bssid=None,
timeout=None)` makes ONE blocking attempt that lasts until the station is up or refused,
whatever `timeout` says (timeout bounds the retries only); it raises ConnectionError for an
unknown network or a wrong password; connecting again to the network it is on returns at
once. `connected` and `ipv4_address` (None while down) tell the state.
Here an attempt costs `attempt_s` of the fake supervisor's virtual clock; `networks` maps
the SSIDs in range to their passwords.
"""

import supervisor


class _Radio:
    def __init__(self):
        self.enabled = True
        self.networks = {}
        self.attempt_s = 2.0
        self.connects = 0
        self._ssid = None
        self.ipv4_address = None

    @property
    def connected(self):
        return self._ssid is not None

    def connect(self, ssid, password="", *, channel=0, bssid=None, timeout=None):
        if self._ssid == ssid:
            return
        self.connects += 1
        supervisor.sleep(self.attempt_s)  # blocks: no timeout shortens one attempt
        if ssid not in self.networks:
            raise ConnectionError("No network with that ssid")
        if self.networks[ssid] != (password or ""):
            raise ConnectionError("Authentication failure")
        self._ssid = ssid
        self.ipv4_address = "127.0.0.1"

    def disconnect(self):
        self._ssid = None
        self.ipv4_address = None


radio = _Radio()


def fresh():
    global radio
    radio = _Radio()
