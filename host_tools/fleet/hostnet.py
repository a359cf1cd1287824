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


class _Watched:
    """The board's transport, remembering why the last send failed (host only): an HTTP
    status or the socket error, so `simulate --send` can name it."""

    def __init__(self, transport) -> None:
        self.t = transport
        self.confirmed = 0
        self.refused = 0
        self.fatal: str | None = None  # a failure retrying cannot cure (wrong token)
        self.last: str | None = None

    def send(self, payload: dict) -> bool:
        ok = self.t.send(payload)
        code = getattr(self.t, "last_status", None)
        err = getattr(self.t, "last_error", None)
        if ok:
            if code is not None and code >= 300:
                self.refused += 1
                self.last = f"HTTP {code}: the receiver refused a payload as invalid"
            else:
                self.confirmed += 1
            return True
        if code in (401, 403) and not err:
            self.fatal = self.last = f"HTTP {code}: wrong or missing token (--token)"
        elif err:
            self.last = _why(err)
        elif code is not None:
            self.last = f"HTTP {code}"
        else:
            self.last = "not confirmed"
        if hasattr(self.t, "last_error"):
            self.t.last_error = None
        return False


def _why(err: str) -> str:
    low = err.lower()
    if "refused" in low or "errno 111" in low:
        return f"connection refused: is the receiver running at that address? ({err})"
    if "timed out" in low or "timeout" in low:
        return f"timed out: no answer from the receiver ({err})"
    if "name or service" in low or "gaierror" in low or "nodename" in low:
        return f"unknown host ({err})"
    return err


class SendOutbox:
    """simulate --send: echo like the console and forward through the board's outbox."""

    def __init__(self, transport, echo_box) -> None:
        from device import outbox as outbox_mod

        self.echo = echo_box
        self.link = _Watched(transport)
        self.box = outbox_mod.Outbox(self.link, capacity=256, per_pump=16, budget_ms=2000,
                                     backoff_ms=500, backoff_max_ms=4000)
        self.items = echo_box.items

    def put(self, payload: dict) -> bool:
        self.echo.put(payload)
        return self.box.put(dict(payload))

    def pump(self) -> int:
        if self.link.fatal:
            return 0
        return self.box.pump()

    def finish(self, timeout_s: float = 15.0) -> tuple[bool, str]:
        """Send what waits (bounded); (everything confirmed?, what happened in words)."""
        end = time.monotonic() + timeout_s
        b = self.box
        while len(b) and not self.link.fatal and time.monotonic() < end:
            if b.pump() == 0:
                time.sleep(0.05)
        ln = self.link
        text = (f"sent {ln.confirmed}, waiting {len(b)}, dropped {b.dropped}, refused {ln.refused}, "
                f"failed attempts {b.failed}")
        ok = len(b) == 0 and ln.confirmed > 0 and not ln.refused
        if not ok:
            why = ln.last or "nothing to send"
            text += f" - {'nothing' if ln.confirmed == 0 else 'not everything'} was confirmed: {why}"
        return ok, text

