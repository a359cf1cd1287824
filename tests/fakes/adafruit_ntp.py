"""Stand-in for adafruit_ntp 3.4.0 (adafruit-circuitpython-ntp on PyPI, adafruit_ntp.py):
`NTP(socketpool, *, server=..., port=123, tz_offset=0 (hours), socket_timeout=1.0,
cache_seconds=0, reresolve_interval=3600)`; reading `datetime` asks the servers (each
once, failover) and returns time.localtime(UTC + tz_offset) as a struct_time, or raises
OSError when none answers within socket_timeout (ArithmeticError for a bad answer).

The "server" is the module's SERVER: `utc` is a callable giving UTC seconds (None: no
server answers) and `fail` the number of requests that time out before one succeeds.
CircuitPython's localtime has no time zone: gmtime stands in for it."""

import time as _time

SERVER = {"utc": None, "fail": 0, "requests": 0}


def reset():
    SERVER.update(utc=None, fail=0, requests=0)


class NTP:
    def __init__(self, socketpool, *, server="0.adafruit.pool.ntp.org", port=123, tz_offset=0,
                 socket_timeout=1.0, cache_seconds=0, reresolve_interval=3600):
        self._pool = socketpool
        self._tz_offset = int(tz_offset * 60 * 60)
        self._socket_timeout = socket_timeout
        self.next_sync = 0

    @property
    def datetime(self):
        SERVER["requests"] += 1
        if SERVER["utc"] is None or SERVER["fail"] > 0:
            if SERVER["fail"] > 0:
                SERVER["fail"] -= 1
            raise OSError(116, "ETIMEDOUT")
        return _time.gmtime(int(SERVER["utc"]()) + self._tz_offset)
