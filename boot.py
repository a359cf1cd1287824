"""Board boot (runs once after a hard reset, before USB starts): who owns CIRCUITPY.

Only one side may write the CIRCUITPY drive:
- the PC over USB (default): you copy code, model and settings from the computer; code on
  the board cannot write files (nvm still works, so commissioning and counters persist);
- the board: code can write (on-board recordings, state files, a model pushed over the
  serial REPL with `mpremote fs cp`); the drive is read-only to the PC.

settings.toml chooses the default with FS_OWNER = "usb" or "board". Connecting the pin
named by FS_OWNER_PIN (default D5) to GND while the board starts flips the choice for
that boot - the way back when the board owns the drive and you need to edit files.
Safe mode (press reset again during the yellow blink) skips this file: USB then owns it.
"""

import os

import storage

try:
    import board
    import digitalio
except ImportError:  # pragma: no cover
    board = None
    digitalio = None


def _setting(name, default):
    try:
        v = os.getenv(name)
    except Exception:  # a malformed settings.toml must not stop the board from booting
        v = None
    return default if v is None else v


def pin_grounded(name, explicit=True):
    """True if the named pin reads low with the internal pull-up on (jumper to GND)."""
    if not name or board is None:
        return False
    pin = getattr(board, str(name), None)
    if pin is None:
        if explicit:
            print("boot.py: FS_OWNER_PIN %r is not a pin on this board; ignored" % (name,))
        return False
    io = digitalio.DigitalInOut(pin)
    try:
        io.switch_to_input(pull=digitalio.Pull.UP)
        return not io.value
    finally:
        io.deinit()


def board_owns_fs():
    owner = str(_setting("FS_OWNER", "usb")).strip().lower()
    if owner not in ("usb", "board"):
        print("boot.py: FS_OWNER must be usb or board, got %r; using usb" % (owner,))
        owner = "usb"
    name = _setting("FS_OWNER_PIN", None)
    flipped = pin_grounded("D5" if name is None else name, explicit=name is not None)
    return (owner == "board") != flipped


if board_owns_fs():
    storage.remount("/", readonly=False)
    print("boot.py: CIRCUITPY is writable by code on the board (read-only over USB)")
else:
    print("boot.py: CIRCUITPY is writable over USB (read-only to code on the board)")
