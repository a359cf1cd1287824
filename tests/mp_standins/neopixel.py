"""neopixel stand-in (tests/mp_heap.py): one pixel; `shown` is the last colour shown."""


class NeoPixel:
    def __init__(self, pin, n, brightness=1.0, auto_write=True, pixel_order=None):
        self._c = [(0, 0, 0)] * n
        self.brightness = brightness
        self.shown = None

    def __setitem__(self, i, c):
        self._c[i] = c

    def __getitem__(self, i):
        return self._c[i]

    def fill(self, c):
        for i in range(len(self._c)):
            self._c[i] = c

    def show(self):
        self.shown = self._c[0]
