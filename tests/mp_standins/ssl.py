"""ssl stand-in (tests/mp_heap.py): CircuitPython's create_default_context()."""


class SSLContext:
    def wrap_socket(self, sock, server_hostname=None):
        return sock


def create_default_context():
    return SSLContext()
