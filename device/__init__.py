"""Board-side package: everything here is copied to CIRCUITPY/device/ and also imported by host_tools."""


def forget(name):
    """Take a module off sys.modules and off this package, so its code leaves the heap at the
    next collection: setup modules once setup is done (wiring.drop_modules, assemble), the rarely-run
    modules (device.apprare, device.persistload) after each use.
    Only functions may live in such a module: nothing made there may outlive the call."""
    import sys

    sys.modules.pop(name, None)
    pkg = sys.modules.get("device")
    short = name.split(".")[-1]
    if pkg is not None and short in pkg.__dict__:
        delattr(pkg, short)
