"""Window sources. Real sensors take their bus in the constructor; ReplaySensor plays
recorded windows (demos, simulation, and testing a board without the sensor attached)."""


class ReplaySensor:
    """Plays a sequence of windows, each an (axes, window) array. read() returns None at
    the end, or starts over when loop=True."""

    def __init__(self, windows, loop=False):
        self._windows = windows
        self._i = 0
        self.loop = loop

    def read(self):
        if self._i >= len(self._windows):
            if not self.loop or not len(self._windows):
                return None
            self._i = 0
        w = self._windows[self._i]
        self._i += 1
        return w
