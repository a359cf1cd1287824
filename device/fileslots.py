"""The state record's two slots as two small files (device/persist.py's Store writes them).

Its own module so that a board whose drive the USB host owns (the default: boot.py leaves
CIRCUITPY to the computer) never holds its code: device/wiring.py make_store imports it only
when the board can write its filesystem.
"""


class FileSlots:
    """Two files `<base>.0` and `<base>.1` (needs a filesystem writable by code)."""

    name = "file"

    def __init__(self, base, opener=None, sync=None):
        self.base = base
        self._open = opener if opener is not None else open
        self._sync = sync

    def capacity(self):
        return 1 << 20

    def _path(self, slot):
        return "%s.%d" % (self.base, slot)

    def read(self, slot):
        try:
            with self._open(self._path(slot), "rb") as f:
                return f.read()
        except OSError:
            return None

    def write(self, slot, rec):
        with self._open(self._path(slot), "wb") as f:
            f.write(rec)
            if hasattr(f, "flush"):
                f.flush()
        if self._sync is not None:
            self._sync()
