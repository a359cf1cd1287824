"""Window -> feature vector, identical on the board (ulab) and the host (NumPy float32).

Accelerometer windows are arrays of shape (axes, window) in g. Every feature is computed
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


class AccelFeatures:
    """Tilt-free features of a 3-axis vibration window.

    Per window: log energy in `bands` equal-width frequency bands (DC excluded) of the
    axis-summed power spectrum, the power-weighted centroid of each band relative to its
    centre (in band widths, -0.5..0.5: it tracks small shifts of rotation harmonics that a
    coin on a blade causes), per-axis log RMS, per-axis log kurtosis, and the envelope
    variation (std/mean of the vector magnitude). The window is zero-padded to a power of
    two for the FFT, as ulab requires.
    """

    kind = "accel"

    def __init__(self, window, rate, bands=16, axes=3):
        if window < 8:
            raise ValueError("window must be at least 8 samples")
        if bands < 1:
            raise ValueError("bands must be at least 1")
        self.window = int(window)
        self.rate = float(rate)
        self.axes = int(axes)
        self.n_fft = next_pow2(self.window)
        half = self.n_fft // 2
        if bands > half:
            raise ValueError("more bands than frequency bins")
        self.bands = int(bands)
        self.n_bins = half + 1
        # One matrix for both band sums: rows 0..bands-1 sum power, rows bands.. weight
        # it by the bin offset from the band centre, so a single np.dot gives both.
        edges = [1 + (half * b) // bands for b in range(bands + 1)]
        rows = []
        for b in range(bands):
            lo, hi = edges[b], edges[b + 1]
            rows.append([1.0 if lo <= k < hi else 0.0 for k in range(self.n_bins)])
        for b in range(bands):
            lo, hi = edges[b], edges[b + 1]
            centre = (lo + hi - 1) / 2.0
            width = float(hi - lo)
            rows.append([(k - centre) / width if lo <= k < hi else 0.0 for k in range(self.n_bins)])
        self.edges = edges
        self._band_matrix = xp.array(rows)
        self._pad = xp.zeros(self.n_fft)
        self._centred = xp.zeros((self.axes, self.window))
        self._rows = [self._centred[a] for a in range(self.axes)]
        self._mag = xp.zeros(self.window)
        self._power = xp.zeros(self.n_bins)
        self.names = self._names()
        self.size = len(self.names)
        self._out = xp.zeros(self.size)

    def _names(self):
        hz = self.rate / self.n_fft
        names = []
        for prefix in ("energy", "centroid"):
            for b in range(self.bands):
                lo = self.edges[b] * hz
                hi = self.edges[b + 1] * hz
                names.append("%s_%.0f-%.0fHz" % (prefix, lo, hi))
        axes = "xyz" if self.axes <= 3 else None
        for stat in ("rms", "kurtosis"):
            for a in range(self.axes):
                names.append("%s_%s" % (stat, axes[a] if axes else str(a)))
        names.append("envelope")
        return names

    def recipe(self):
        return {"kind": self.kind, "window": self.window, "rate": self.rate,
                "bands": self.bands, "axes": self.axes, "n_fft": self.n_fft,
                "names": list(self.names)}

    def compute(self, win):
        """Features of one window (axes x window array). Returns an internal buffer
        that the next call overwrites: copy it if you keep it.

        Written for the board's heap: the centred window, the envelope and the power
        spectrum live in buffers allocated once; moments are np.dot of row views (scalars,
        no arrays); the only per-window allocations left are the FFT's own outputs."""
        np = xp.np
        w = self.window
        nb = self.bands
        na = self.axes
        out = self._out
        rows = self._rows
        mag = self._mag
        power = self._power
        pad = self._pad
        nbins = self.n_bins
        mag[:] = 0.0
        for a in range(na):
            r = rows[a]
            r[:] = win[a]
            r -= np.mean(r)
            ms = np.dot(r, r) / w + EPS
            out[2 * nb + a] = 0.5 * math.log(ms)
            pad[0:w] = r
            r *= r  # r now holds d^2 of this axis
            out[2 * nb + na + a] = math.log(np.dot(r, r) / w / (ms * ms) + EPS)
            mag += r
            re, im = xp.fft(pad)
            re *= re
            im *= im
            re += im
            if a == 0:
                power[:] = re[0:nbins]
            else:
                power += re[0:nbins]
        mag **= 0.5  # in place: np.sqrt would allocate a new array
        out[2 * nb + 2 * na] = np.std(mag) / (np.mean(mag) + EPS)
        sums = np.dot(self._band_matrix, power)
        energy = sums[0:nb] + EPS
        out[0:nb] = np.log(energy)
        out[nb:2 * nb] = sums[nb:2 * nb] / energy
        return out


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
        self._out = xp.zeros(self.size)
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
        out = self._out
        if self.window < 3:
            out[0] = np.mean(row)
            return out
        out[0] = np.mean(row)
        out[1] = np.std(row)
        out[2] = np.dot(self._slope_w, row)
        return out


def from_recipe(recipe):
    """Build the feature extractor a model file describes."""
    kind = recipe.get("kind")
    if kind == "accel":
        return AccelFeatures(recipe["window"], recipe["rate"], recipe.get("bands", 16),
                             recipe.get("axes", 3))
    if kind == "scalar":
        return ScalarFeatures(recipe.get("window", 1), recipe.get("rate", 1.0))
    raise ValueError("unknown feature kind: %r" % (kind,))
