"""Fake `ssl` (CircuitPython): `create_default_context()` -> an SSLContext whose
wrap_socket(sock, server_hostname=None) wraps a fake socketpool Socket (shared-bindings/
ssl/__init__.c and SSLContext.c, 10.x). Loopback tests use plain sockets; wrapping is
there so code.py's Hardware.ssl_context() runs."""



class SSLContext:
    def __init__(self):
        self.check_hostname = True

    def load_verify_locations(self, cadata=None):
        self.cadata = cadata

    def wrap_socket(self, sock, server_side=False, server_hostname=None):
        raise OSError("fake ssl: TLS is not simulated on loopback (use MQTT_TLS = 0 / http://)")


def create_default_context():
    return SSLContext()
