"""Anomaly scores against one or more operating modes: Mahalanobis here, z-score in
device/zscore.py (imported by from_model only for a z-score model) and, from device.adaptive,
a z-score against a baseline that follows drift; their common part is device/detectorbase.py.

Each mode carries the training mean and scale of its features and a threshold on the raw
score (max |z| or d^2) chosen for a stated false-alarm rate. A window is scored against
every mode; the mode with the smallest score/threshold ratio is the one the machine is in,
and that ratio is the reported score, so 1.0 is always the alarm line whatever the mode.

Mahalanobis: d^2 = z^T P z with z the standardised features and P the inverse (shrunk)
correlation, stored as its Cholesky factor U (upper triangular, P = U^T U), so
d^2 = |U z|^2. All modes are scored together, one matrix-vector product per row band of
the triangular factors: the rows of W_i = U_i diag(g_scale / scale_i) for every mode are
stacked (a band keeps only its columns right of the diagonal's start: the zeros of a
triangle cost a board heap), and with x' = (x - g) / g_scale (a global centre and scale
of all modes, which keeps every number O(1) in float32) each mode's U_i z_i = W_i x' - c_i
with c_i = W_i (m_i - g) / g_scale. On the board that is a handful of array operations per
window instead of a loop over modes; the per-mode `raw(x, i)` gives the same number for
training and commissioning.
"""

from device import xp
from device.detectorbase import _Detector


def _rows(v):
    """A float32 2-D array from nested lists, or the array itself."""
    return xp.array(v) if isinstance(v, list) else v


def _rsqrt(t):
    """1/sqrt(threshold), the factor that turns d^2 into its threshold ratio."""
    return 1.0 / (t if t > 1e-12 else 1e-12) ** 0.5


# Row bands of the triangular factors (see MahalanobisDetector). 1: one product per window
# over the whole matrix, zeros included; 2 (4 modes, 39 features): 7.6 KB fewer resident
# bytes for ~430 more allocated per window (three more small operations); 3: 9.5 KB for ~860.
# device/modelformat.py's BANDS, into which the board's loader reads a sidecar's factors, is
# the same number (tests/test_model_stream.py keeps them equal).
BANDS = 2


def _band_edges(n, bands=BANDS):
    k = bands if bands < n else n
    return [n * b // k for b in range(k + 1)]


def _bands_of(factors, n):
    """(edges, blocks): the upper-triangular factors (one (n, n) array per mode) cut into
    row bands; block b holds rows edges[b]..edges[b+1] of every mode, mode after mode, and
    only their columns from edges[b] on (left of that every row is zero)."""
    edges = _band_edges(n)
    nm = len(factors)
    blocks = []
    for b in range(len(edges) - 1):
        lo, hi = edges[b], edges[b + 1]
        h = hi - lo
        blk = xp.zeros((nm * h, n - lo))
        for i in range(nm):
            blk[i * h:(i + 1) * h, :] = _rows(factors[i])[lo:hi, lo:n]
        blocks.append(blk)
    return edges, blocks


class MahalanobisDetector(_Detector):
    """d^2 = |U_i z_i|^2 for every mode i (see module doc).

    Each mode gives its precision either as `prec_chol` (U, upper triangular, P = U^T U:
    what the host writes) or `inv_cov` (P itself: factored here). W_i = U_i diag(1/scale_i)
    / sqrt(threshold_i), so |W_i (x - g) - c_i|^2 is already the threshold ratio of mode i.

    W_i is upper triangular: its rows are kept in BANDS row bands (_bands_of), each band one
    block of every mode's rows from the band's first column on, so the zeros left of the
    band are not stored (39 features, 2 bands: 1,141 of 1,521 numbers a mode). Scoring is
    per band one product, a subtraction, a square and a row sum per mode. `bands`, if given,
    are a model's bands (device.model.load reads a sidecar's factors into them on the board):
    turned into W in place, so a board never holds them twice.
    """

    kind = "mahalanobis"

    def __init__(self, modes, bands=None):
        _Detector.__init__(self, modes)
        np = xp.np
        n = self.size
        nm = self.n_modes
        # x - g with g the centre of all modes: removes the large common offset before
        # the product, so float32 loses nothing to cancellation.
        self._g = np.mean(self._means, axis=0)
        if bands is not None:
            edges, blocks = bands
            if edges != _band_edges(n) or len(blocks) != len(edges) - 1 or blocks[0].shape != (nm * edges[1], n):
                raise ValueError("precision bands do not fit %d modes of %d features" % (nm, n))
        else:  # a copy: the model stays as it was
            edges, blocks = _bands_of([self._factor(m) for m in modes], n)
        self._edges = edges
        self._blocks = blocks
        self._cblocks = [xp.zeros(blk.shape[0]) for blk in blocks]
        self._k = [_rsqrt(t) for t in self._thr]
        for i in range(nm):
            for lo, w in self._parts(i):
                w *= self._invs[i][lo:]
                w *= self._k[i]
        for i in range(nm):
            self._relocate(i)
        self._xs_buf = xp.fbuf(n)
        self._xs = xp.view(self._xs_buf)
        # each band's part of x - g, made once: a slice per window would allocate a view
        self._xsv = [xp.view(self._xs_buf, n - lo, lo) for lo in edges[:-1]]
        self._zero = xp.array([0.0])
        self._thr_arr = xp.array(self._thr)

    def _parts(self, i, c=False):
        """[(first row, rows of W_i in that band (or of c_i, with c=True))] (views)."""
        e = self._edges
        out = []
        for b in range(len(e) - 1):
            h = e[b + 1] - e[b]
            blk = self._cblocks[b] if c else self._blocks[b]
            out.append((e[b], blk[i * h:(i + 1) * h]))
        return out

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
            for _lo, w in self._parts(i):
                w *= k / self._k[i]
            self._k[i] = k
            self._thr_arr[i] = float(threshold)
            if mean is None and scale is None:
                self._relocate(i)
        _Detector.set_mode(self, i, mean, scale, threshold)

    def _rescale(self, i, ratio):
        for lo, w in self._parts(i):
            w *= ratio[lo:]  # columns of W_i scale with 1/scale_i

    def _relocate(self, i):
        np = xp.np
        m = self._means[i] - self._g
        for (lo, w), (_lo, c) in zip(self._parts(i), self._parts(i, True)):
            c[:] = np.dot(w, m[lo:])

    def _centred(self, x):
        xs = self._xs
        xs *= self._zero
        xs += x
        xs -= self._g
        return xs

    def _ratios(self, x):
        np = xp.np
        self._centred(x)
        e = self._edges
        nm = self.n_modes
        r = None
        for b in range(len(e) - 1):
            y = np.dot(self._blocks[b], self._xsv[b])
            y -= self._cblocks[b]
            y *= y
            s = np.sum(y.reshape((nm, e[b + 1] - e[b])), axis=1)
            if r is None:
                r = s
            else:
                r += s
        return r

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
        self._centred(x)
        y = xp.zeros(self.size)
        e = self._edges
        for b, ((lo, w), (_lo, c)) in enumerate(zip(self._parts(i), self._parts(i, True))):
            yb = np.dot(w, self._xsv[b])
            yb -= c
            y[lo:e[b + 1]] = yb
        return y

    def raw(self, x, i):
        # the same sums, in the same order, as score/all_raw (band by band): a threshold
        # chosen from raw() scores holds for the scores the loop computes
        r = float(self._ratios(x)[i]) * self._thr[i]
        if not xp.finite(r):
            self._xs[:] = 0.0
        return r

    def contributions(self, x, i):
        """Per-feature share of d^2: z_k (P z)_k; they sum to d^2."""
        np = xp.np
        y = self._u_z(x, i)
        q = xp.zeros(self.size)
        e = self._edges
        for b, (lo, w) in enumerate(self._parts(i)):
            q[lo:] += np.dot(w.transpose(), y[lo:e[b + 1]])
        d = x - self._means[i]
        d *= self._thr[i]
        return d * q


def from_model(doc):
    """The detector a model describes. A model whose precision factors the loader read
    into row bands (device.model.load on the board: doc["_bands"]) gives them to the
    detector, which turns them into W in place (no second copy): the document's arrays are
    then spent, and a second detector from the same document raises instead of silently
    using them. Otherwise they are copied."""
    kind = doc["detector"]
    if kind == "mahalanobis":
        bands = doc.get("_bands")
        if bands is not None:  # used in place
            det = MahalanobisDetector(doc["modes"], bands=bands)
            doc["_bands"] = None
            doc["_spent"] = True
            return det
        if doc.get("_spent"):
            raise ValueError("this model's arrays went to a detector already: load the model again")
        return MahalanobisDetector(doc["modes"])
    if kind == "zscore":  # its own module: a board with a Mahalanobis model never holds its code
        from device.zscore import ZScoreDetector

        return ZScoreDetector(doc["modes"])
    if kind == "adaptive":  # a drifting baseline for scalar streams (device.adaptive)
        from device.adaptive import AdaptiveDetector

        return AdaptiveDetector(doc["modes"], doc.get("adaptive") or {},
                                off=(doc.get("decision") or {}).get("off", 0.8))
    raise ValueError("unknown detector kind: %r" % (kind,))
