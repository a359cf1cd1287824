"""Scores -> events: k-of-n debounce, hysteresis and cooldown.

One noisy window must not sound a buzzer, and a score hovering at the line must not make
it chatter. An alarm starts when k of the last n windows are over the `on` line (and the
cooldown since the last alarm has passed); it ends when `clear` windows in a row are under
the lower `off` line. Scores are threshold ratios, so on=1.0 is the model's threshold.
"""

START = "anomaly_start"
END = "anomaly_end"


class Decision:
    def __init__(self, k=3, n=5, on=1.0, off=0.8, clear=None, cooldown=0):
        k = int(k)
        n = int(n)
        if not 1 <= k <= n:
            raise ValueError("decision needs 1 <= k <= n")
        if not 0 < off <= on:
            raise ValueError("decision needs 0 < off <= on")
        if cooldown < 0:
            raise ValueError("decision cooldown must be >= 0")
        self.k = k
        self.n = n
        self.on = float(on)
        self.off = float(off)
        self.clear = int(clear) if clear is not None else n
        self.cooldown = int(cooldown)
        self._hist = bytearray(n)
        self._pos = 0
        self._hits = 0
        self._quiet = 0
        self._since_end = self.cooldown
        self.active = False

    @classmethod
    def from_settings(cls, d):
        return cls(d.get("k", 3), d.get("n", 5), d.get("on", 1.0), d.get("off", 0.8),
                   d.get("clear"), d.get("cooldown", 0))

    def reset(self):
        for i in range(self.n):
            self._hist[i] = 0
        self._hits = 0
        self._quiet = 0
        self._since_end = self.cooldown
        self.active = False

    def update(self, score):
        """Feed one window's score; returns START, END or None."""
        hit = 1 if score > self.on else 0
        self._hits += hit - self._hist[self._pos]
        self._hist[self._pos] = hit
        self._pos = (self._pos + 1) % self.n
        if not self.active:
            if self._since_end < self.cooldown:
                self._since_end += 1
                return None
            if self._hits >= self.k:
                self.active = True
                self._quiet = 0
                return START
            return None
        if score < self.off:
            self._quiet += 1
        else:
            self._quiet = 0
        if self._quiet >= self.clear:
            self.active = False
            self._since_end = 0
            return END
        return None
