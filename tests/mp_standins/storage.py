"""storage stand-in (tests/mp_heap.py): the USB host owns CIRCUITPY (read-only to code)."""


class _Mount:
    readonly = True


def getmount(path):
    return _Mount()
