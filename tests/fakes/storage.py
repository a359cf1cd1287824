"""Fake `storage`: who may write CIRCUITPY (see boot.py)."""


class _Mount:
    def __init__(self):
        self.readonly = True  # to code: the USB host owns the drive by default
        self.label = "CIRCUITPY"


_root = _Mount()
remounts = []


def getmount(path):
    if path != "/":
        raise OSError(2, "no mount at %s" % path)
    return _root


def remount(mount_path, readonly=False, *, disable_concurrent_write_protection=False):
    remounts.append((mount_path, readonly))
    _root.readonly = readonly


def fresh(readonly=True):
    _root.readonly = readonly
    del remounts[:]
