"""On-device commissioning: re-learn each mode's location, scale and threshold in place.

A sensor taped onto a machine again reads differently (mounting, tilt, coupling), so a
model fitted on an earlier recording can call everything anomalous. After installation
the board treats its first windows as normal: the first `n_fit` update each mode's mean and
scale with Welford's streaming algorithm (no window is stored), the next `n_threshold` are
scored with the new location to choose each mode's threshold at the false-alarm rate.
The host-trained structure (inverse correlation) is kept. The same code runs on the host.
"""

from device import xp


def threshold_from_scores(scores, fa_rate):
    """Split-conformal threshold: the ceil((n+1)(1-a))-th smallest of n calibration scores.

    For a new normal window exchangeable with the calibration windows this bounds the
    false-alarm probability by `fa_rate`; with few windows it falls back to the largest.
    """
    s = sorted(float(v) for v in scores)
    n = len(s)
    if n == 0:
        raise ValueError("no calibration scores")
    # ceil((n+1)(1-a)) in integers: with the board's 30-bit float scalars the product or
    # a "+0.999999" rounding trick would move the rank by one.
    ppm = int(fa_rate * 1000000 + 0.5)
    k = ((n + 1) * (1000000 - ppm) + 999999) // 1000000
    if k > n:
        k = n
    if k < 1:
        k = 1
    return s[k - 1]


class Welford:
    """Streaming mean and variance of feature vectors (float32 arrays, allocated once)."""

    def __init__(self, size):
        self.n = 0
        self.mean = xp.zeros(size)
        self.m2 = xp.zeros(size)

    def update(self, x):
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    def std(self):
        if self.n < 2:
            raise ValueError("need at least two windows for a spread")
        return xp.np.sqrt(self.m2 / (self.n - 1))


class Commissioner:
    """Feeds on feature vectors; when done, the detector carries the installed values.

    margins: per-mode factors (>= 1) applied to the commissioned thresholds.

    mode: index of the one mode being commissioned, or None to assign every window to the
    nearest mode (by the model as trained) — fine when modes are far apart, as fan speeds are.
    Modes that got fewer than `min_windows` windows keep their trained values.
    """

    def __init__(self, detector, n_fit, n_threshold, fa_rate, mode=None, min_windows=8,
                 min_scale_ratio=0.1, margins=None):
        if n_fit < 2 or n_threshold < 1:
            raise ValueError("commissioning needs n_fit >= 2 and n_threshold >= 1")
        self.detector = detector
        self.n_fit = int(n_fit)
        self.n_threshold = int(n_threshold)
        self.fa_rate = float(fa_rate)
        self.mode = mode
        self.min_windows = int(min_windows)
        self.min_scale_ratio = float(min_scale_ratio)
        # A threshold learned from a short run right after installation under-covers the
        # slow drift of a long run; the host measures that factor on the training session
        # (the mode's "drift_margin") and it is applied here.
        self.margins = list(margins) if margins else [1.0] * len(detector.mode_names)
        n_modes = len(detector.mode_names)
        self._stats = [Welford(detector.size) for _ in range(n_modes)]
        self._scores = xp.zeros(self.n_threshold)
        self._score_mode = bytearray(self.n_threshold)
        self.seen = 0
        self.done = False
        self.updated = []  # names of the modes whose values were replaced

    @property
    def total(self):
        return self.n_fit + self.n_threshold

    def progress(self):
        return self.seen / self.total

    def _mode_of(self, x):
        return self.mode if self.mode is not None else self.detector.nearest(x)

    def update(self, x):
        """Take one window's features; returns True once commissioning is complete."""
        if self.done:
            return True
        det = self.detector
        if self.seen < self.n_fit:
            self._stats[self._mode_of(x)].update(x)
            self.seen += 1
            if self.seen == self.n_fit:
                self._apply_location()
            return False
        i = self._mode_of(x)
        j = self.seen - self.n_fit
        self._scores[j] = det.raw(x, i)
        self._score_mode[j] = i
        self.seen += 1
        if self.seen == self.total:
            self._apply_thresholds()
            self.done = True
        return self.done

    def _apply_location(self):
        np = xp.np
        det = self.detector
        for i in range(len(self._stats)):
            st = self._stats[i]
            if st.n < self.min_windows:
                continue
            trained_scale = 1.0 / det._inv_scale[i]
            scale = np.maximum(st.std(), trained_scale * self.min_scale_ratio)
            det.set_mode(i, mean=st.mean, scale=scale)
            self.updated.append(det.mode_names[i])

    def _apply_thresholds(self):
        det = self.detector
        for i in range(len(self._stats)):
            if det.mode_names[i] not in self.updated:
                continue
            mine = [self._scores[j] for j in range(self.n_threshold) if self._score_mode[j] == i]
            if len(mine) >= self.min_windows:
                det.set_mode(i, threshold=threshold_from_scores(mine, self.fa_rate) * self.margins[i])

    def counts(self):
        return [st.n for st in self._stats]
