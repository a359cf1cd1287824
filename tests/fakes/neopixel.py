"""Fake `neopixel` library: NeoPixel keeps its pixels and the colours each show() sent."""

RGB = "RGB"
GRB = "GRB"
strips = {}


def fresh():
    strips.clear()


class NeoPixel:
    def __init__(self, pin, n, *, bpp=3, brightness=1.0, auto_write=True, pixel_order=None):
        if getattr(pin, "in_use", False):
            raise ValueError("%s in use" % pin)
        pin.in_use = True
        self.pin = pin
        self.n = n
        self.brightness = brightness
        self.auto_write = auto_write
        self._px = [(0, 0, 0)] * n
        self.shown = []
        strips[pin.name] = self

    def __len__(self):
        return self.n

    def __setitem__(self, i, colour):
        self._px[i] = tuple(colour)
        if self.auto_write:
            self.show()

    def __getitem__(self, i):
        return self._px[i]

    def fill(self, colour):
        for i in range(self.n):
            self._px[i] = tuple(colour)
        if self.auto_write:
            self.show()

    def show(self):
        self.shown.append(self._px[0])

    def deinit(self):
        self.pin.in_use = False
