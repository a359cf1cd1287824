"""Window -> feature vector, identical on the board (ulab) and the host (NumPy float32).

Accelerometer windows are arrays of shape (axes, window) in g (a scalar signal's features
are device/scalarfeatures.py's, imported only for such a model). Every feature is computed
after the per-axis mean is removed, so gravity and sensor tilt never enter the model.
Spectral power is summed over the axes before banding: the sum is unchanged by a rotation
of the sensor, which keeps the spectrum features stable when a board is remounted.
"""

import math

from device import xp

EPS = 1e-9


def next_pow2(n):
    p = 1
    while p < n:
        p *= 2
    return p


MAX_G = 1000.0  # beyond this a sample is not an acceleration but a broken reading
_MAX_MS = MAX_G * MAX_G


class AccelFeatures:
    """Tilt-free features of a vibration window of `axes` axes (3; 2; or 1, a magnitude
    channel: a one-axis model given a 3-axis window takes each sample's vector magnitude,
    so a board with a 3-axis sensor runs a model trained on magnitude recordings; a
    two-axis model takes the first two axes, x and y).

    Per window: log energy in `bands` equal-width frequency bands (DC excluded) of the
    axis-summed power spectrum, the power-weighted centroid of each band relative to its
    centre (in band widths, -0.5..0.5: it tracks small shifts of rotation harmonics that a
    coin on a blade causes), per-axis log RMS, per-axis log kurtosis, and the envelope
    variation (std/mean of the vector magnitude). The window is zero-padded to a power of
    two for the FFT, as ulab requires.

    Written for the board's heap (see shared notes on ulab allocation costs): inputs live
    in array('f') buffers padded to the FFT length, which a sensor can fill directly
    (`input_views()`); scalar results are stored into an array('f') behind the output
    vector (an ndarray element store allocates, an array('f') store does not); scalar
    operands of in-place operations are one-element arrays (an in-place op with a Python
    scalar allocates a temporary array, one with an array does not); two real axes share
    one FFT call. What is left per window is the FFTs' own outputs and a few views.
    """

    kind = "accel"

    def __init__(self, window, rate, bands=16, axes=3):
        self.window = int(window)
        self.rate = float(rate)
        self.axes = int(axes)
        self.bands = int(bands)
        self.n_fft = next_pow2(self.window)
        # the checks, the band layout and the names run once: device/featureplan.py
        from device import featureplan, forget

        try:
            plan = featureplan.accel(self.window, self.n_fft, self.rate, self.bands, self.axes)
        finally:
            forget("device.featureplan")
        self.edges, self._width, self._offsets, self._band_matrix, self.names = plan
        self.n_bins = self.n_fft // 2 + 1
        self.size = len(self.names)
        w = self.window
        self._bufs = [xp.fbuf(self.n_fft) for _ in range(self.axes)]
        self._full = [xp.view(b) for b in self._bufs]
        self._head = [xp.view(b, w) for b in self._bufs]
        self._out_buf = xp.fbuf(self.size)
        self._out = xp.view(self._out_buf)
        self._oe = xp.view(self._out_buf, bands, 0)
        self._oc = xp.view(self._out_buf, bands, bands)
        self._k_buf = xp.fbuf(1)
        self._k = xp.view(self._k_buf)  # a scalar operand that allocates nothing
        self._zero = xp.view(xp.fbuf(1))
        self._half = xp.array([0.5])
        self._scratch = None  # one-axis models fed 3-axis windows: see _magnitude
        self._eps = xp.array([EPS] * bands)
        self.ok = True

    def recipe(self):
        return {"kind": self.kind, "window": self.window, "rate": self.rate,
                "bands": self.bands, "axes": self.axes, "n_fft": self.n_fft,
                "names": list(self.names)}

    def input_views(self):
        """(array('f') buffers, ndarray views) a sensor fills in place: one per axis,
        `window` samples each. A window passed back as these same views is used without
        a copy (and is overwritten by compute)."""
        return self._bufs, self._head

    def _reset(self):
        """Zero every buffer: after a window with NaN/inf the in-place updates would
        otherwise carry it into the next windows."""
        for v in self._full:
            v[:] = 0.0
        self._out[:] = 0.0

    def compute(self, win):
        """Features of one window (win[a] = samples of axis a, in g). Returns an internal
        buffer that the next call overwrites: copy it if you keep it. `self.ok` is False
        when the window held a non-finite or physically impossible sample (the returned
        vector is then not to be scored)."""
        np = xp.np
        w = self.window
        nb = self.bands
        na = self.axes
        head = self._head
        full = self._full
        ob = self._out_buf
        k1 = self._k
        kb = self._k_buf
        if win is not head:  # a window from elsewhere (host, a sensor with more axes): copy it in
            if na == 1 and len(win) > 1:
                self._magnitude(win)
            else:
                for a in range(na):
                    head[a][:] = win[a]
        for a in range(na):
            r = head[a]
            m = np.mean(r)
            if not xp.finite(m):
                return self._invalid()
            kb[0] = m
            r -= k1
        # Axis-summed power spectrum, two real axes per FFT: with Z = FFT(x + iy),
        # |X[k]|^2 + |Y[k]|^2 = (|Z[k]|^2 + |Z[N-k]|^2) / 2. A lone axis adds |Z|^2 twice
        # folded the same way, so one fold at the end serves both.
        acc = None
        a = 0
        while a < na:
            if a + 1 < na:
                re, im = xp.fft(full[a], full[a + 1])
                a += 2
            else:
                re, im = xp.fft(full[a])
                a += 1
            re *= re
            im *= im
            re += im
            if acc is None:
                acc = re
            else:
                acc += re
        n = self.n_fft
        half = n // 2
        fold = acc[1:half + 1]
        fold += acc[n - 1:half - 1:-1]
        if self._width:
            bins = fold.reshape((nb, self._width))
            energy = np.sum(bins, axis=1)
            energy *= self._half
            centroid = np.dot(bins, self._offsets)
        else:
            sums = np.dot(self._band_matrix, acc[0:half + 1])
            energy = sums[0:nb]
            centroid = sums[nb:2 * nb]
        # Moments after the FFT: the buffers may now be squared in place, and the first
        # axis' buffer then sums the squares of all axes (the squared envelope).
        for a in range(na):
            r = head[a]
            r *= r  # d^2 of this axis
            s2 = np.sum(r)
            if not xp.finite(s2) or s2 > _MAX_MS * w:
                return self._invalid()
            ms = s2 / w + EPS
            ob[2 * nb + a] = 0.5 * math.log(ms)
            ob[2 * nb + na + a] = math.log(np.dot(r, r) / w / (ms * ms) + EPS)
        mag = head[0]
        for a in range(1, na):
            mag += head[a]
        # One sample beyond MAX_G (after the mean is removed) is a broken reading, not a
        # vibration. With every sample finite and bounded, every feature below is finite.
        if not np.max(mag) <= _MAX_MS:
            return self._invalid()
        mag **= self._half  # in place: np.sqrt would allocate a new array
        ob[2 * nb + 2 * na] = np.std(mag) / (np.mean(mag) + EPS)
        energy += self._eps
        oe = self._oe
        oe *= self._zero
        oe += np.log(energy)
        oc = self._oc
        oc *= self._zero
        oc += centroid
        oc /= energy
        self.ok = True
        return self._out

    def _magnitude(self, win):
        """A one-axis model (trained on a magnitude channel) fed by a 3-axis sensor: the
        vector magnitude of each sample, built in place in the input buffer (the scratch
        buffer is allocated once, on the first such window)."""
        h = self._head[0]
        if self._scratch is None:
            self._scratch = xp.view(xp.fbuf(self.window))
        s = self._scratch
        h[:] = win[0]
        h *= h
        for a in range(1, len(win)):
            s[:] = win[a]
            s *= s
            h += s
        h **= self._half

    def _invalid(self):
        self.ok = False
        self._reset()
        return self._out


def from_recipe(recipe, model=None):
    """Build the feature extractor a model file describes (a thermal one also needs the
    loaded model: its per-pixel baselines are not part of the recipe)."""
    kind = recipe.get("kind")
    if kind == "thermal":
        if model is None:
            raise ValueError("thermal features need the model's pixel baselines")
        from device import thermal

        return thermal.from_model(model)
    if kind == "accel":
        return AccelFeatures(recipe["window"], recipe["rate"], recipe.get("bands", 16),
                             recipe.get("axes", 3))
    if kind == "scalar":
        from device.scalarfeatures import ScalarFeatures

        return ScalarFeatures(recipe.get("window", 1), recipe.get("rate", 1.0))
    raise ValueError("unknown feature kind: %r" % (kind,))
