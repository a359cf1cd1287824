"""socketpool stand-in (tests/mp_heap.py): every TCP connect is refused (no network, as a
board whose broker or receiver is down), so transports run their failure paths."""

import errno


class _Socket:
    def settimeout(self, t):
        pass

    def setblocking(self, f):
        pass

    def setsockopt(self, *a):
        pass

    def connect(self, addr):
        raise OSError(errno.ECONNREFUSED)

    def close(self):
        pass


class SocketPool:
    AF_INET = 2
    SOCK_STREAM = 1
    SOCK_DGRAM = 2
    IPPROTO_TCP = 6
    SOL_SOCKET = 1
    SO_REUSEADDR = 2
    TCP_NODELAY = 1
    timeout = OSError
    gaierror = OSError

    def __init__(self, radio):
        pass

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        return [(2, 1, 6, "", (host, port))]

    def socket(self, family=2, type=1, proto=0):
        return _Socket()
