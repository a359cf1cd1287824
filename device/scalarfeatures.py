"""Features of a window of one scalar signal (a temperature, a thermal camera's frame maximum):
device.features.from_recipe's "scalar" kind.

A module of its own for the board's heap: an accelerometer model never needs this class,
and every imported module's code stays in the heap while the loop runs. from_recipe imports
it only for a scalar model (then it stays: the extractor is an instance of this class).
"""

from device import xp


class ScalarFeatures:
    """Features of a window of one scalar signal (e.g. a temperature): the value itself
    for a one-sample window; mean, spread and slope per sample for longer ones."""

    kind = "scalar"

    def __init__(self, window=1, rate=1.0):
        if window < 1:
            raise ValueError("window must be at least 1 sample")
        self.window = int(window)
        self.rate = float(rate)
        self.axes = 1
        self.names = ["value"] if self.window < 3 else ["mean", "std", "slope"]
        self.size = len(self.names)
        self._out_buf = xp.fbuf(self.size)
        self._out = xp.view(self._out_buf)
        self.ok = True
        if self.window >= 3:
            n = self.window
            c = (n - 1) / 2.0
            t = [(i - c) for i in range(n)]
            denom = sum(v * v for v in t)
            self._slope_w = xp.array([v / denom for v in t])

    def recipe(self):
        return {"kind": self.kind, "window": self.window, "rate": self.rate,
                "names": list(self.names)}

    def compute(self, win):
        np = xp.np
        row = win[0]
        ob = self._out_buf
        ob[0] = np.mean(row)
        if self.window >= 3:
            ob[1] = np.std(row)
            ob[2] = np.dot(self._slope_w, row)
        self.ok = xp.finite(np.sum(self._out))
        return self._out
