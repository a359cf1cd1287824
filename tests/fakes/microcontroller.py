"""Fake `microcontroller` (CircuitPython): Pin, cpu, nvm, watchdog, ResetReason."""

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


cpu = _Processor()
nvm = bytearray(8192)
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
    for i in range(len(nvm)):
        nvm[i] = 0xFF
    cpu.reset_reason = ResetReason.POWER_ON
    del resets[:]
