"""Fake `alarm` (CircuitPython): only `sleep_memory`, the RTC memory the state store
mirrors its records into.

From adafruit/circuitpython ports/espressif/common-hal/alarm/SleepMemory.c (10.x):
`_sleep_mem[SLEEP_MEMORY_LENGTH]` in RTC memory (RTC_NOINIT_ATTR on current cores), kept
over software, watchdog and panic resets and deep sleep, cleared at power-on and brown-out;
`alarm.sleep_memory` is a bytearray-like of fixed length whose slices cannot change size
(shared-bindings/alarm/SleepMemory.c). A write is a plain memcpy: a reset in the middle of
one leaves it torn (modelled in two halves, see `step_hook`).
"""

SLEEP_MEMORY_LENGTH = 4096


class SleepMemory:
    def __init__(self, n=SLEEP_MEMORY_LENGTH):
        self._b = bytearray(n)
        self.step_hook = None  # called with a step name before each step (reset injection)

    def __len__(self):
        return len(self._b)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return bytearray(self._b[i])
        return self._b[i]

    def __setitem__(self, i, v):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self._b))
            if step != 1:
                raise NotImplementedError("only slices with step=1 (aka None) are supported")
            v = bytes(v)
            if len(v) != stop - start:
                raise ValueError("Slice and value different lengths.")
            half = len(v) // 2
            if self.step_hook:
                self.step_hook("rtc-copy-1")
            self._b[start:start + half] = v[:half]
            if self.step_hook:
                self.step_hook("rtc-copy-2")
            self._b[start + half:stop] = v[half:]
            return
        if not 0 <= int(v) <= 255:
            raise ValueError("Array values should be single bytes.")
        self._b[i] = v

    def power_on(self):
        """What a power-on or brown-out does: RTC memory starts cleared."""
        for i in range(len(self._b)):
            self._b[i] = 0


sleep_memory = SleepMemory()


def fresh():
    global sleep_memory
    sleep_memory = SleepMemory()
