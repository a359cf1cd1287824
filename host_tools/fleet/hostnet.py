"""The board's own transports (device.telemetry) on a PC: `host_transport(url)` gives the HTTP or
MQTT transport a board would use, over CPython's socket module; `SendOutbox` forwards through the
board's outbox. Used by `simulate --send`, the telemetry bench and the loopback tests."""

from __future__ import annotations

import os
import socket
import ssl
import time
import urllib.parse

from host_tools.data.datasets import DataError


class HostNet:
    """What device.telemetry.make_transport needs from `hw`, on CPython: no Wi-Fi radio
    (the PC is online), CPython's socket module as the socket pool."""

    wifi_radio = None
    fs_writable = False

    def __init__(self) -> None:
        self.ticks_ms = lambda: int(time.monotonic() * 1000) & ((1 << 29) - 1)
        self.sleep = time.sleep

    def socket_pool(self):
        return socket

    def ssl_context(self):
        return ssl.create_default_context()


class _S:
    """Settings for make_transport, from the defaults plus a few keys."""

    def __init__(self, **kw) -> None:
        from device import settings as settings_mod

        d = settings_mod.defaults()
        for k in dir(d):
            if k.isupper():
                setattr(self, k, getattr(d, k))
        for k, v in kw.items():
            setattr(self, k, v)


def host_transport(url: str, token: str | None = None, timeout: int = 3):
    """The board's HTTP or MQTT transport for `url` (http(s)://... or mqtt://user:pass@host:port/topic)."""
    from device import telemetry

    u = urllib.parse.urlsplit(url)
    if u.scheme in ("http", "https"):
        s = _S(TELEMETRY="http", HTTP_URL=url, HTTP_TOKEN=token, SEND_TIMEOUT=timeout)
    elif u.scheme in ("mqtt", "mqtts"):
        if not u.hostname:
            raise DataError(f"--send {url}: expected mqtt://user:pass@host:port")
        s = _S(TELEMETRY="mqtt", MQTT_BROKER=u.hostname, MQTT_PORT=u.port or 0,
               MQTT_USER=urllib.parse.unquote(u.username) if u.username else None,
               MQTT_PASSWORD=urllib.parse.unquote(u.password) if u.password else None,
               MQTT_TLS=u.scheme == "mqtts", MQTT_TOPIC=u.path.strip("/") or "anomaly",
               SEND_TIMEOUT=timeout, MQTT_CLIENT_ID=f"sim{os.getpid()}")
    else:
        raise DataError(f"--send {url}: expected http://..., https://... or mqtt://...")
    errors: list[str] = []
    t = telemetry.make_transport(s, HostNet(), errors.append)
    if t is None:
        raise DataError(f"--send {url}: {' '.join(errors)}")
    return t


class SendOutbox:
    """simulate --send: echo like the console and forward through the board's outbox."""

    def __init__(self, transport, echo_box) -> None:
        from device import outbox as outbox_mod

        self.echo = echo_box
        self.box = outbox_mod.Outbox(transport, capacity=256, per_pump=16, budget_ms=2000,
                                     backoff_ms=500, backoff_max_ms=4000)
        self.items = echo_box.items

    def put(self, payload: dict) -> bool:
        self.echo.put(payload)
        return self.box.put(dict(payload))

    def pump(self) -> int:
        return self.box.pump()

    def finish(self, timeout_s: float = 15.0) -> str:
        ok = self.box.flush(int(timeout_s * 1000), sleep=time.sleep)
        b = self.box
        return (f"sent {b.sent}, waiting {len(b)}, dropped {b.dropped}, failed attempts {b.failed}"
                + ("" if ok else " (link did not confirm everything)"))
