"""SHA-256 on every CircuitPython the board supports (9.2.x, 10.0.x, 10.1.x and later).

CircuitPython's `hashlib` has only `new(name, data=b"")` (shared-bindings/hashlib/__init__.c:
there is no `hashlib.sha256`), and `new("sha256")` exists only from 10.1.0; 9.x and 10.0.x
accept only "sha1" and raise ValueError("Unsupported hash algorithm")
(shared-module/hashlib/__init__.c). So: `hashlib.new("sha256")` where the core has it, else
the pure-Python `device.sha256.Sha256` (imported only then, so a board that has the
built-in never holds its bytecode). MicroPython's unix port (used by the tests) has no
`new` but a built-in `sha256` class; it is looked up by name so the board code never
refers to an attribute CircuitPython lacks.

The Adafruit library `adafruit_hashlib` (PyPI adafruit-circuitpython-hashlib 1.4.22) was
considered: on CircuitPython its `from hashlib import sha256` always fails, so it always
runs its pure-Python code, and its package import also loads sha1, md5 and sha512.
"""


def _builtin():
    try:
        import hashlib
    except ImportError:
        return None
    try:
        return hashlib.new("sha256")
    except (ValueError, AttributeError, TypeError):
        pass
    cls = getattr(hashlib, "sha256", None)  # MicroPython: no new(), a sha256 class
    return cls() if cls is not None else None


def sha256(data=None):
    """A SHA-256 object (update(), digest()), fed `data` if given."""
    h = _builtin()
    if h is None:
        from device.sha256 import Sha256

        h = Sha256()
    if data:
        h.update(data)
    return h


def builtin():
    """True when the core hashes SHA-256 itself (False: pure Python, ~1000x slower)."""
    return _builtin() is not None
