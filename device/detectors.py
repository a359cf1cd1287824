"""Anomaly scores against one or more operating modes: z-score and Mahalanobis.

Each mode carries the training mean and scale of its features and a threshold on the raw
score (max |z| or d^2) chosen for a stated false-alarm rate. A window is scored against
every mode; the mode with the smallest score/threshold ratio is the one the machine is in,
and that ratio is the reported score, so 1.0 is always the alarm line whatever the mode.
For Mahalanobis the precision matrix is the inverse of the (shrunk) correlation of the
standardised features: every number multiplied on the board is O(1).
"""

from device import xp


class _Detector:
    kind = None

    def __init__(self, modes):
        if not modes:
            raise ValueError("a detector needs at least one mode")
        self.mode_names = []
        self._mean = []
        self._inv_scale = []
        self._thr = []
        for m in modes:
            self.mode_names.append(m["name"])
            self._mean.append(xp.array(m["mean"]))
            self._inv_scale.append(1.0 / xp.array(m["scale"]))
            self._thr.append(float(m["threshold"]))
        self.size = len(modes[0]["mean"])
        self.last_raw = 0.0
        self._z = xp.zeros(self.size)  # standardised vector, reused for every mode

    def set_mode(self, i, mean=None, scale=None, threshold=None):
        """Replace one mode's location, scale and/or threshold (commissioning)."""
        if mean is not None:
            self._mean[i] = xp.array(mean) if isinstance(mean, list) else mean.copy()
        if scale is not None:
            s = xp.array(scale) if isinstance(scale, list) else scale
            self._inv_scale[i] = 1.0 / s
        if threshold is not None:
            self._thr[i] = float(threshold)

    def mode_params(self, i):
        """(mean, scale, threshold) of mode i as Python lists/floats, for saving."""
        return (xp.tolist(self._mean[i]), xp.tolist(1.0 / self._inv_scale[i]), self._thr[i])

    def threshold(self, i):
        return self._thr[i]

    def standardise(self, x, i):
        """(x - mean) / scale of mode i, written into a buffer the next call reuses."""
        z = self._z
        z[:] = x
        z -= self._mean[i]
        z *= self._inv_scale[i]
        return z

    def raw(self, x, i):
        """Raw score of x against mode i (max |z| or d^2)."""
        raise NotImplementedError

    def score(self, x):
        """(ratio, mode index): ratio = raw/threshold of the best-fitting mode.
        The raw score of that mode is left in self.last_raw."""
        best = -1.0
        best_i = 0
        best_raw = 0.0
        for i in range(len(self._thr)):
            r = self.raw(x, i)
            ratio = r / self._thr[i]
            if best < 0 or ratio < best:
                best = ratio
                best_i = i
                best_raw = r
        self.last_raw = best_raw
        return best, best_i

    def nearest(self, x):
        """Mode index with the smallest raw score (thresholds ignored)."""
        best = -1.0
        best_i = 0
        for i in range(len(self._thr)):
            r = self.raw(x, i)
            if best < 0 or r < best:
                best = r
                best_i = i
        return best_i

    def contributions(self, x, i):
        raise NotImplementedError

    def explain(self, x, i, names, top=3):
        """The `top` features that contribute most to the score, as (name, value) pairs."""
        c = xp.tolist(self.contributions(x, i))
        order = sorted(range(len(c)), key=lambda k: -c[k])
        return [(names[k], c[k]) for k in order[:top]]


class ZScoreDetector(_Detector):
    """score = max over features of |x - mean| / scale."""

    kind = "zscore"

    def raw(self, x, i):
        z = self.standardise(x, i)
        return float(xp.np.max(abs(z)))

    def contributions(self, x, i):
        return abs(self.standardise(x, i))


class MahalanobisDetector(_Detector):
    """d^2 = z^T P z with z the standardised features and P the inverse correlation."""

    kind = "mahalanobis"

    def __init__(self, modes):
        _Detector.__init__(self, modes)
        self._prec = [xp.array(m["inv_cov"]) for m in modes]

    def raw(self, x, i):
        np = xp.np
        z = self.standardise(x, i)
        return float(np.dot(z, np.dot(self._prec[i], z)))

    def contributions(self, x, i):
        """Per-feature share of d^2: z_k (P z)_k; they sum to d^2."""
        np = xp.np
        z = self.standardise(x, i)
        return z * np.dot(self._prec[i], z)


def from_model(doc):
    kind = doc["detector"]
    if kind == "mahalanobis":
        return MahalanobisDetector(doc["modes"])
    if kind == "zscore":
        return ZScoreDetector(doc["modes"])
    raise ValueError("unknown detector kind: %r" % (kind,))
