"""Fake `microcontroller` (CircuitPython): Pin, cpu, nvm, watchdog, ResetReason.

`nvm` is an `EspNvm`, written from adafruit/circuitpython
ports/espressif/common-hal/nvm/ByteArray.c (9.2.x-10.x) and shared-bindings/nvm/ByteArray.c:
- 8 KiB (CIRCUITPY_INTERNAL_NVM_SIZE), read as zeros while the NVS blob is absent;
- every access (read or write, slice or index) copies the whole blob into a new 8 KiB heap
  buffer (gc_alloc, no collection first): counted in `allocated`, and `fail_alloc` makes it
  raise MemoryError as a full heap does;
- a write: read blob -> nvs_erase_all (the blob is gone) -> memcpy -> nvs_set_blob -> commit.
  `step_hook(name)` runs before each step, so a test can inject a reset between any two;
- slice assignment must keep the length ("Slice and value different lengths.").
"""

import watchdog as _watchdog


class Pin:
    def __init__(self, name):
        self.name = name
        self.in_use = False

    def __repr__(self):
        return "board.%s" % self.name


class ResetReason:
    POWER_ON = "microcontroller.ResetReason.POWER_ON"
    SOFTWARE = "microcontroller.ResetReason.SOFTWARE"
    WATCHDOG = "microcontroller.ResetReason.WATCHDOG"
    RESET_PIN = "microcontroller.ResetReason.RESET_PIN"
    UNKNOWN = "microcontroller.ResetReason.UNKNOWN"


class RunMode:
    NORMAL = "NORMAL"
    SAFE_MODE = "SAFE_MODE"
    BOOTLOADER = "BOOTLOADER"
    UF2 = "UF2"


class _Processor:
    def __init__(self):
        self.uid = bytearray(b"\x7c\xdf\xa1\x00\x12\x34")
        self.reset_reason = ResetReason.POWER_ON
        self.temperature = 31.5
        self.frequency = 240000000
        self.voltage = 3.3


class EspNvm:
    SIZE = 8192

    def __init__(self):
        self.blob = None  # the NVS "data" blob; None = absent (erased or never written)
        self.step_hook = None
        self.allocated = 0
        self.fail_alloc = False
        self.writes = 0

    def __len__(self):
        return self.SIZE

    def _step(self, name):
        if self.step_hook is not None:
            self.step_hook(name)

    def _get(self):
        if self.fail_alloc:
            raise MemoryError("memory allocation failed, allocating %d bytes" % self.SIZE)
        self.allocated += self.SIZE
        return bytearray(self.blob) if self.blob is not None else bytearray(self.SIZE)

    def __iter__(self):
        return iter(self._get())

    def __getitem__(self, i):
        buf = self._get()
        if isinstance(i, slice):
            return bytearray(buf[i])
        return buf[i]

    def __setitem__(self, i, v):
        if isinstance(i, slice):
            start, stop, step = i.indices(self.SIZE)
            if step != 1:
                raise NotImplementedError("only slices with step=1 (aka None) are supported")
            v = bytes(v)
            if len(v) != stop - start:
                raise ValueError("Slice and value different lengths.")
        else:
            start = i
            v = bytes([v])
        self._step("nvm-read")
        buf = self._get()
        self._step("nvm-erase")
        self.blob = None  # nvs_erase_all
        buf[start:start + len(v)] = v
        self._step("nvm-set-blob")
        self.blob = bytes(buf)
        self._step("nvm-commit")
        self.writes += 1


cpu = _Processor()
nvm = EspNvm()
watchdog = _watchdog.WatchDogTimer()
resets = []


def reset():
    resets.append("reset")
    raise SystemExit("microcontroller.reset()")


def on_next_reset(run_mode):
    pass


def fresh():
    """Reset the fake's state between tests."""
    global watchdog, nvm
    watchdog = _watchdog.WatchDogTimer()
    nvm = EspNvm()
    cpu.reset_reason = ResetReason.POWER_ON
    del resets[:]
