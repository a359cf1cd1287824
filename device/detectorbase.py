"""What every detector of device/detectors.py (Mahalanobis) and device/zscore.py (z-score)
has in common: the modes' means, scales and thresholds, and scoring by the best-fitting
mode's score/threshold ratio (see device/detectors.py).

A module of its own so that device/zscore.py can subclass it without importing
device/detectors.py, whose from_model imports device/zscore.py (an import cycle otherwise).
"""

from device import xp


def _inv(t):
    """1/threshold; a zero threshold (a perfectly quiet calibration) flags any change."""
    return 1.0 / t if t > 0 else 3.0e38


def _vec(v):
    return xp.array(v) if isinstance(v, list) else xp.np.array(v, dtype=xp.FLOAT)


class _Detector:
    kind = None

    def __init__(self, modes):
        np = xp.np
        if not modes:
            raise ValueError("a detector needs at least one mode")
        self.mode_names = [m["name"] for m in modes]
        self._thr = [float(m["threshold"]) for m in modes]
        self.n_modes = len(modes)
        self.size = len(modes[0]["mean"])
        n = self.size
        self._means = xp.zeros((self.n_modes, n))
        self._scales = xp.zeros((self.n_modes, n))
        for i in range(self.n_modes):
            self._means[i, :] = _vec(modes[i]["mean"])
            self._scales[i, :] = _vec(modes[i]["scale"])
        self._invs = 1.0 / self._scales
        # Row views (shared memory) kept for callers that work one mode at a time.
        self._mean = [self._means[i] for i in range(self.n_modes)]
        self._inv_scale = [self._invs[i] for i in range(self.n_modes)]
        self._inv_thr = xp.array([_inv(t) for t in self._thr])
        self.last_raw = 0.0
        del np

    # ---- parameters ----------------------------------------------------------------
    def set_mode(self, i, mean=None, scale=None, threshold=None):
        """Replace one mode's location, scale and/or threshold (commissioning)."""
        if scale is not None:
            new = _vec(scale)
            self._rescale(i, self._scales[i] / new)
            self._scales[i, :] = new
            self._invs[i, :] = 1.0 / new
        if mean is not None:
            self._means[i, :] = _vec(mean)
        if mean is not None or scale is not None:
            self._relocate(i)
        if threshold is not None:
            self._thr[i] = float(threshold)
            self._inv_thr[i] = _inv(self._thr[i])

    def _rescale(self, i, ratio):
        pass

    def _relocate(self, i):
        pass

    def mode_params(self, i):
        """(mean, scale, threshold) of mode i as Python lists/floats, for saving."""
        return (xp.tolist(self._means[i]), xp.tolist(self._scales[i]), self._thr[i])

    def threshold(self, i):
        return self._thr[i]

    def standardise(self, x, i):
        """(x - mean) / scale of mode i (a new array)."""
        z = x - self._means[i]
        z *= self._invs[i]
        return z

    # ---- scoring ---------------------------------------------------------------------
    def all_raw(self, x):
        """Raw score of x against every mode (a new array of n_modes)."""
        raise NotImplementedError

    def raw(self, x, i):
        """Raw score of x against mode i (max |z| or d^2)."""
        raise NotImplementedError

    def score(self, x):
        """(ratio, mode index): ratio = raw/threshold of the best-fitting mode.
        The raw score of that mode is left in self.last_raw. A non-finite x gives a
        non-finite ratio (callers treat that as a fault, never as normal)."""
        np = xp.np
        r = self.all_raw(x)
        r *= self._inv_thr
        i = int(np.argmin(r))
        best = float(np.min(r))
        if not xp.finite(best):
            self.last_raw = best
            return best, i
        self.last_raw = best * self._thr[i]
        return best, i

    def nearest(self, x):
        """Mode index with the smallest raw score (thresholds ignored)."""
        return int(xp.np.argmin(self.all_raw(x)))

    def contributions(self, x, i):
        raise NotImplementedError

    def explain(self, x, i, names, top=3):
        """The `top` features that contribute most to the score, as (name, value) pairs."""
        return self.explain_values(x, i, names, top)[0]

    def explain_values(self, x, i, names, top=3):
        """(pairs, values): the `top` features that contribute most to the score against
        mode i as (name, contribution) pairs, and for each of them [value, normal, spread]:
        its value in x, the mode's mean and scale (what the host needs to say "19x
        normal" or "4.1 standard deviations above normal"). Called once per event, not
        per window: it reads only the top features' elements."""
        c = xp.tolist(self.contributions(x, i))
        order = sorted(range(len(c)), key=lambda k: -c[k])[:top]
        m = self._means
        s = self._scales
        return ([(names[k], c[k]) for k in order],
                [[float(x[k]), float(m[i, k]), float(s[i, k])] for k in order])
