"""Stand-in for CircuitPython's built-in `hashlib`, per core version.

Written from adafruit/circuitpython (tags 9.2.8, 10.0.3, 10.1.0, 10.2.1; see
/work/shared/notes/circuitpython-semantics.md):
- shared-bindings/hashlib/__init__.c: the module has only `new(name, data=b"")`; there is
  no `hashlib.sha256`, `sha1`, `md5` attribute.
- shared-bindings/hashlib/Hash.c: a Hash has `update(data)`, `digest()` and `digest_size`
  (no `hexdigest`, no `copy`).
- shared-module/hashlib/__init__.c: 9.x and 10.0.x know only "sha1" and raise
  ValueError("Unsupported hash algorithm") for anything else; "sha256" is there from 10.1.0.

`module(version)` returns a module object for that version; tests put it in
sys.modules["hashlib"] (tests/board_harness.py: fake_hardware(circuitpython=...)).
"""

import hashlib as _cpython
import types


def _version_tuple(v):
    out = []
    for part in str(v).split("-")[0].split("."):
        try:
            out.append(int(part))
        except ValueError:
            break
    return tuple(out)


class Hash:
    def __init__(self, name, data=b""):
        self._h = _cpython.new(name)
        self.digest_size = self._h.digest_size
        if data:
            self.update(data)

    def update(self, data):
        if isinstance(data, str):
            raise TypeError("object with buffer protocol required")
        self._h.update(bytes(data))

    def digest(self):
        return self._h.digest()


def module(version="10.1.0"):
    names = ("sha1", "sha256") if _version_tuple(version) >= (10, 1) else ("sha1",)
    m = types.ModuleType("hashlib")
    m.__doc__ = "CircuitPython %s hashlib (stand-in)" % version

    def new(name, data=b""):
        if name not in names:
            raise ValueError("Unsupported hash algorithm")
        return Hash(name, data)

    m.new = new
    m.circuitpython_version = version
    return m
