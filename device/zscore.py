"""The z-score detector: score = max over features of |x - mean| / scale (the common part:
device/detectorbase.py; the Mahalanobis detector: device/detectors.py).

Its own module so that a board with a Mahalanobis model (the default) never holds its code:
detectors.from_model imports it only for a z-score model.
"""

from device import xp
from device.detectorbase import _Detector


class ZScoreDetector(_Detector):
    """score = max over features of |x - mean| / scale."""

    kind = "zscore"

    def __init__(self, modes):
        _Detector.__init__(self, modes)
        self._neg = xp.array([-1.0])

    def all_raw(self, x):
        np = xp.np
        t = self._means - x
        t *= self._invs
        hi = np.max(t, axis=1)
        lo = np.min(t, axis=1)
        lo *= self._neg
        return np.maximum(hi, lo)

    def raw(self, x, i):
        return float(xp.np.max(abs(self.standardise(x, i))))

    def contributions(self, x, i):
        return abs(self.standardise(x, i))
