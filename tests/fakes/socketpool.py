"""Fake `socketpool` (CircuitPython) over the PC's sockets, loopback only.

From adafruit/circuitpython shared-bindings/socketpool/SocketPool.c and Socket.c (10.x):
`SocketPool(radio)` with AF_INET, SOCK_STREAM, SOCK_DGRAM, IPPROTO_TCP, SOL_SOCKET,
SO_REUSEADDR, TCP_NODELAY constants, `getaddrinfo(host, port, family=0, type=0, proto=0,
flags=0)` and `socket(family=AF_INET, type=SOCK_STREAM, proto=IPPROTO_IP)`. A Socket has
connect, send, sendall, recv_into(buffer, bufsize=0), settimeout, setblocking, setsockopt,
close and the context manager -- and no recv() (CircuitPython dropped it; libraries use
recv_into). Timeouts raise OSError(ETIMEDOUT) as the core does (errno 116).
Only 127.0.0.1/localhost is reachable: tests never send traffic elsewhere.
"""

import errno
import socket as _socket

_LOOPBACK = ("127.0.0.1", "localhost")
_TIMEOUT = getattr(_socket, "timeout", OSError)


class Socket:
    def __init__(self, s):
        self._s = s

    def connect(self, address):
        if address[0] not in _LOOPBACK:
            raise OSError(errno.EHOSTUNREACH, "fake socketpool reaches loopback only")
        try:
            self._s.connect(address)
        except _TIMEOUT:
            raise OSError(116, "ETIMEDOUT")

    def send(self, data):
        return self._s.send(bytes(data))

    def sendall(self, data):
        self._s.sendall(bytes(data))

    def recv_into(self, buffer, bufsize=0):
        try:
            return self._s.recv_into(buffer, bufsize or len(buffer))
        except _TIMEOUT:
            raise OSError(116, "ETIMEDOUT")
        except BlockingIOError:
            raise OSError(errno.EAGAIN, "EAGAIN")

    def settimeout(self, value):
        self._s.settimeout(value)

    def setblocking(self, flag):
        self._s.setblocking(flag)

    def setsockopt(self, level, optname, value):
        self._s.setsockopt(level, optname, value)

    def close(self):
        self._s.close()

    def fileno(self):
        return self._s.fileno()

    def __enter__(self):
        return self

    def __exit__(self, a, b, c):
        self.close()
        return False


class SocketPool:
    AF_INET = getattr(_socket, "AF_INET", 2)
    SOCK_STREAM = getattr(_socket, "SOCK_STREAM", 1)
    SOCK_DGRAM = getattr(_socket, "SOCK_DGRAM", 2)
    IPPROTO_IP = 0
    IPPROTO_TCP = getattr(_socket, "IPPROTO_TCP", 6)
    SOL_SOCKET = getattr(_socket, "SOL_SOCKET", 1)
    SO_REUSEADDR = getattr(_socket, "SO_REUSEADDR", 2)
    TCP_NODELAY = getattr(_socket, "TCP_NODELAY", 1)
    EAI_NONAME = -2

    def __init__(self, radio):
        self.radio = radio
        self.sockets = []

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if host not in _LOOPBACK:
            raise OSError(-2, "Name or service not known")  # gaierror on the board
        return [(self.AF_INET, self.SOCK_STREAM, 0, "", ("127.0.0.1", int(port)))]

    def socket(self, family=2, type=1, proto=0):
        if not getattr(self.radio, "connected", True):
            raise OSError(errno.ENETUNREACH, "wifi is not connected")
        s = Socket(_socket.socket(family, type, proto))
        self.sockets.append(s)
        return s
