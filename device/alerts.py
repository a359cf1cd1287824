"""Alert outputs: LED (digitalio) and the on-board NeoPixel as status (the buzzer, on pwmio,
is in device/buzzer.py: imported only by a board with BUZZER_PIN set).

Each output follows the app's state with a pattern and never blocks: `set_state(state)`
starts the state's pattern, `tick(now)` advances it (the app calls tick between windows
and, through the sensor's idle hook, while a window is being sampled). Hardware objects
are passed in (code.py makes them), so the same classes run against fakes on a PC.

A pattern is a tuple of phases; each phase is (duration_ms, period_ms, spans) where spans
are (on_ms, off_ms) offsets inside the period during which the output is on, and
duration 0 means "until the state changes". Time comes from `ticks_ms` (wrap-safe
integer milliseconds) when given, otherwise from `now` (seconds) passed to tick.
"""

# State names, used by device.app and everything that reports status.
NO_MODEL = "no_model"
COMMISSIONING = "commissioning"
NORMAL = "normal"
ANOMALY = "anomaly"
FAULT = "fault"
CONFIG = "config_error"
BAD_DATA = "bad_data"  # the sensor delivered non-finite or impossible values

from device.ticks import TICKS_MASK as _MASK
_OFF = ((0, 1000, ()),)
_STEADY = ((0, 1000, ((0, 1000),)),)


def _blink(on, period):
    return ((0, period, ((0, on),)),)


_FAST = _blink(100, 200)  # patterns that several tables use, made once
_HALF = _blink(500, 1000)
_QUARTER = _blink(250, 500)

LED_PATTERNS = {
    ANOMALY: _STEADY,
    FAULT: _HALF,
    NO_MODEL: ((0, 2000, ((0, 100),)),),
    COMMISSIONING: _blink(200, 1000),
    NORMAL: ((0, 5000, ((0, 100),)),),  # a short blip: alive
    CONFIG: _FAST,
    BAD_DATA: ((0, 1000, ((0, 100), (200, 300))),),
}

# NeoPixel: (colour, pattern). Colours at full scale; brightness is set on the strip.
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
RED = (255, 0, 0)
ORANGE = (255, 90, 0)
PURPLE = (160, 0, 255)
MAGENTA = (255, 0, 160)
YELLOW = (255, 200, 0)
BLACK = (0, 0, 0)
PIXEL_PATTERNS = {
    NORMAL: (GREEN, _STEADY),
    COMMISSIONING: (BLUE, _HALF),
    ANOMALY: (RED, _QUARTER),
    FAULT: (ORANGE, _HALF),
    NO_MODEL: (PURPLE, ((0, 2000, ((0, 150), (300, 450))),)),
    CONFIG: (MAGENTA, _FAST),
    BAD_DATA: (YELLOW, _QUARTER),
}


def level_at(pattern, elapsed):
    """True if the pattern is on `elapsed` ms after it started."""
    start = 0
    for duration, period, spans in pattern:
        if duration and elapsed >= start + duration:
            start += duration
            continue
        pos = (elapsed - start) % period
        for on, off in spans:
            if on <= pos < off:
                return True
        return False
    return False


class PatternOutput:
    """Base: follows a state with a pattern; subclasses implement _apply(level)."""

    def __init__(self, patterns, ticks_ms=None):
        self.patterns = patterns
        self.state = None
        self._ticks = ticks_ms
        self._pattern = _OFF
        self._start = None
        self._level = None
        self._last_now = 0

    def _now_ms(self, now):
        if self._ticks is not None:
            return self._ticks()
        if now is None:
            return self._last_now
        return int(now * 1000)

    def set_state(self, state):
        if state == self.state:
            return
        self.state = state
        self._pattern = self.patterns.get(state, _OFF)
        self._start = None  # the next tick starts the pattern clock
        self._show(level_at(self._pattern, 0))

    def tick(self, now=None):
        t = self._now_ms(now)
        self._last_now = t
        if self._start is None:
            self._start = t
        if self._ticks is not None:
            elapsed = (t - self._start) & _MASK
        else:
            elapsed = t - self._start
        self._show(level_at(self._pattern, elapsed))

    def _show(self, level):
        if level != self._level:
            self._level = level
            self._apply(level)

    def _apply(self, level):
        raise NotImplementedError

    def off(self):
        self.state = None
        self._pattern = _OFF
        self._show(False)

    def deinit(self):
        self.off()


class Led(PatternOutput):
    """A plain LED on a digitalio.DigitalInOut already switched to output."""

    def __init__(self, io, active_low=False, ticks_ms=None):
        PatternOutput.__init__(self, LED_PATTERNS, ticks_ms)
        self.io = io
        self.active_low = bool(active_low)
        self._apply(False)

    def _apply(self, level):
        self.io.value = (not level) if self.active_low else bool(level)


class StatusPixel(PatternOutput):
    """The on-board NeoPixel (a neopixel.NeoPixel with auto_write=False): colour = state."""

    def __init__(self, pixels, ticks_ms=None, index=0):
        PatternOutput.__init__(self, {}, ticks_ms)
        self.pixels = pixels
        self.index = index
        self.colour = BLACK
        self._apply(False)

    def set_state(self, state):
        if state == self.state:
            return
        colour, pattern = PIXEL_PATTERNS.get(state, (BLACK, _OFF))
        self.colour = colour
        self.patterns = {state: pattern}
        self._level = None  # the colour may have changed: always repaint
        PatternOutput.set_state(self, state)

    def _apply(self, level):
        self.pixels[self.index] = self.colour if level else BLACK
        self.pixels.show()
