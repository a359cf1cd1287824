"""wifi stand-in (tests/mp_heap.py): a station already joined (CIRCUITPY_WIFI_SSID)."""


class _Radio:
    enabled = True
    connected = True
    ipv4_address = "10.0.0.2"
    hostname = "board"

    def connect(self, ssid, password="", channel=0, bssid=None, timeout=None):
        pass


radio = _Radio()
