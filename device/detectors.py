"""Anomaly scores against one or more operating modes: z-score and Mahalanobis (and,
from device.adaptive, a z-score against a baseline that follows drift).

Each mode carries the training mean and scale of its features and a threshold on the raw
score (max |z| or d^2) chosen for a stated false-alarm rate. A window is scored against
every mode; the mode with the smallest score/threshold ratio is the one the machine is in,
and that ratio is the reported score, so 1.0 is always the alarm line whatever the mode.

Mahalanobis: d^2 = z^T P z with z the standardised features and P the inverse (shrunk)
correlation, stored as its Cholesky factor U (upper triangular, P = U^T U), so
d^2 = |U z|^2. All modes are scored with ONE matrix-vector product: the rows of
W_i = U_i diag(g_scale / scale_i) for every mode are stacked, and with
x' = (x - g) / g_scale (a global centre and scale of all modes, which keeps every number
O(1) in float32) each mode's U_i z_i = W_i x' - c_i with c_i = W_i (m_i - g) / g_scale.
On the board that is a handful of array operations per window instead of a loop over
modes; the per-mode `raw(x, i)` gives the same number for training and commissioning.
"""

from device import xp


def _rows(v):
    """A float32 2-D array from nested lists, or the array itself."""
    return xp.array(v) if isinstance(v, list) else v


def _inv(t):
    """1/threshold; a zero threshold (a perfectly quiet calibration) flags any change."""
    return 1.0 / t if t > 0 else 3.0e38


def _rsqrt(t):
    """1/sqrt(threshold), the factor that turns d^2 into its threshold ratio."""
    return 1.0 / (t if t > 1e-12 else 1e-12) ** 0.5


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
        self._neg = xp.array([-1.0])
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


class ZScoreDetector(_Detector):
    """score = max over features of |x - mean| / scale."""

    kind = "zscore"

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


class MahalanobisDetector(_Detector):
    """d^2 = |U_i z_i|^2 for every mode i in one stacked product (see module doc).

    Each mode gives its precision either as `prec_chol` (U, upper triangular, P = U^T U:
    what the host writes) or `inv_cov` (P itself: factored here). `stack`, if given, is
    one (n_modes * n, n) array holding every mode's U in order (a model's sidecar): it is
    turned into W in place, so a board never holds the factors twice.

    W_i = U_i diag(1/scale_i) / sqrt(threshold_i), so |W_i (x - g) - c_i|^2 is already
    the threshold ratio of mode i: scoring every mode is one product, a subtraction, a
    square and a row sum.
    """

    kind = "mahalanobis"

    def __init__(self, modes, stack=None):
        _Detector.__init__(self, modes)
        np = xp.np
        n = self.size
        nm = self.n_modes
        # x - g with g the centre of all modes: removes the large common offset before
        # the product, so float32 loses nothing to cancellation.
        self._g = np.mean(self._means, axis=0)
        if stack is not None:
            if stack.shape != (nm * n, n):
                raise ValueError("precision stack has shape %r, expected %r" % (stack.shape, (nm * n, n)))
            w = stack
        else:
            w = xp.zeros((nm * n, n))
            for i in range(nm):
                w[i * n:(i + 1) * n, :] = self._factor(modes[i])  # a copy: the model stays as it was
        self._w = w
        self._wv = [w[i * n:(i + 1) * n] for i in range(nm)]
        self._k = [_rsqrt(t) for t in self._thr]
        for i in range(nm):
            self._wv[i] *= self._invs[i]
            self._wv[i] *= self._k[i]
        self._c = xp.zeros(nm * n)
        self._cv = [self._c[i * n:(i + 1) * n] for i in range(nm)]
        for i in range(nm):
            self._relocate(i)
        self._xs_buf = xp.fbuf(n)
        self._xs = xp.view(self._xs_buf)
        self._zero = xp.array([0.0])
        self._thr_arr = xp.array(self._thr)

    @staticmethod
    def _factor(mode):
        """U (upper, P = U^T U) of one mode, as a float32 2-D array."""
        u = mode.get("prec_chol")
        if u is not None:
            return _rows(u)
        p = mode["inv_cov"]
        if not xp.ULAB:  # the host factors in float64, as model.save does
            p64 = xp.np.asarray(p, dtype="float64")
            return xp.np.array(xp.np.linalg.cholesky((p64 + p64.T) / 2).T, dtype=xp.FLOAT)
        return xp.np.linalg.cholesky(_rows(p)).transpose()

    def set_mode(self, i, mean=None, scale=None, threshold=None):
        if threshold is not None:
            k = _rsqrt(float(threshold))
            self._wv[i] *= k / self._k[i]
            self._k[i] = k
            self._thr_arr[i] = float(threshold)
            if mean is None and scale is None:
                self._relocate(i)
        _Detector.set_mode(self, i, mean, scale, threshold)

    def _rescale(self, i, ratio):
        self._wv[i] *= ratio  # columns of W_i scale with 1/scale_i

    def _relocate(self, i):
        np = xp.np
        m = self._means[i] - self._g
        self._cv[i][:] = np.dot(self._wv[i], m)

    def _centred(self, x):
        xs = self._xs
        xs *= self._zero
        xs += x
        xs -= self._g
        return xs

    def _ratios(self, x):
        np = xp.np
        y = np.dot(self._w, self._centred(x))
        y -= self._c
        y *= y
        return np.sum(y.reshape((self.n_modes, self.size)), axis=1)

    def score(self, x):
        np = xp.np
        r = self._ratios(x)
        i = int(np.argmin(r))
        best = float(np.min(r))
        if not xp.finite(best):
            self._xs[:] = 0.0  # a NaN must not stay in the reused buffer
            self.last_raw = best
            return best, i
        self.last_raw = best * self._thr[i]
        return best, i

    def all_raw(self, x):
        r = self._ratios(x)
        r *= self._thr_arr
        if not xp.finite(float(xp.np.sum(r))):
            self._xs[:] = 0.0
        return r

    def _u_z(self, x, i):
        """W_i (x - g) - c_i = U_i z_i / sqrt(threshold_i) (a new array)."""
        np = xp.np
        y = np.dot(self._wv[i], self._centred(x))
        y -= self._cv[i]
        return y

    def raw(self, x, i):
        y = self._u_z(x, i)
        r = float(xp.np.dot(y, y)) * self._thr[i]
        if not xp.finite(r):
            self._xs[:] = 0.0
        return r

    def contributions(self, x, i):
        """Per-feature share of d^2: z_k (P z)_k; they sum to d^2."""
        np = xp.np
        y = self._u_z(x, i)
        q = np.dot(self._wv[i].transpose(), y)
        d = x - self._means[i]
        d *= self._thr[i]
        return d * q


def from_model(doc):
    """The detector a model describes. On the board the precision factors of a sidecar
    model are turned into the detector's matrix in place (no second 24 KB copy): the
    document's arrays are then spent, and a second detector from the same document
    raises instead of silently using them. On a host they are copied."""
    kind = doc["detector"]
    if kind == "mahalanobis":
        stack = doc.get("_prec_stack")
        if stack is not None and xp.ULAB:
            det = MahalanobisDetector(doc["modes"], stack=stack)
            doc["_prec_stack"] = None
            for m in doc["modes"]:
                m["prec_chol"] = None
            doc["_spent"] = True
            return det
        if doc.get("_spent"):
            raise ValueError("this model's arrays went to a detector already: load the model again")
        return MahalanobisDetector(doc["modes"])
    if kind == "zscore":
        return ZScoreDetector(doc["modes"])
    if kind == "adaptive":  # a drifting baseline for scalar streams (device.adaptive)
        from device.adaptive import AdaptiveDetector

        return AdaptiveDetector(doc["modes"], doc.get("adaptive") or {},
                                off=(doc.get("decision") or {}).get("off", 0.8))
    raise ValueError("unknown detector kind: %r" % (kind,))
