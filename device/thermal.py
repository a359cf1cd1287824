"""Thermal frames (24 x 32 deg C) -> hot spot and frame features, against per-mode
per-pixel baselines. The camera as scalar streams: device/framescalars.py; the
one-frame-per-row CSV format and its recorder: device/framerows.py.

Same code on the board (ulab) and the host (NumPy float32). Per frame:

1. ambient offset: the mean of the frame over the model's REFERENCE pixels (pixels that
   stay put in every operating mode: walls, floor) minus the baseline's mean there. It
   follows slow drift of the room and of the sensor; a hot spot of a few pixels moves it
   by (area x excess / reference pixels), a few hundredths of a degree;
2. operating mode: the nearest per-mode mean map, and the baseline as the least-squares
   affine combination of all mode maps (weights summing to 1): a boiler warming up from
   "cold" to "hot" is a mix of maps, not an anomaly, while a spot of a few pixels barely
   moves the weights. Distances and weights come from ONE matrix-vector product of the
   stacked mean maps with the frame (the Gram matrix and its inverse are precomputed), so
   the modes cost one product and a few in-place map operations each;
3. excess map (deg C over that baseline and the offset) and z-map (excess times the
   nearest mode's inverse per-pixel scale), both zero where the MASK allows heat;
4. hot spot: pixels over `z_hot` and at least `min_excess` deg C (only when the largest z
   is over z_hot: a quiet frame costs nothing here), their largest 4-connected blob, its
   excess-weighted centroid, area and peak excess; for an event the cold side too (a
   pipe that stays cold), and the stronger of the two is reported with its sign;
5. frame features (NAMES) for the model's detector (Mahalanobis or z-score).

Board memory (shared/notes/ulab-allocation-costs.md): every per-pixel step is a whole-
array in-place operation on preallocated buffers (in-place ops take one-element arrays,
not Python scalars); the excess and z maps live in array('f') buffers, so the hot-spot
scan reads pixels from Python without allocating; candidate pixels come from
np.nonzero. The mean and inverse-scale maps are the model's pixel sidecar itself
(scales inverted in place on the board).
"""

import array
import math

from device import xp
from device.stats import Welford

ROWS = 24
COLS = 32
N = ROWS * COLS
NAMES = ["mean", "max", "p90", "rms_z", "max_z", "min_z", "max_excess", "log_hot_pixels", "log_blob_area"]
MIN_C = -60.0  # outside the MLX90640's -40..300 C (with margin) a pixel is a broken reading
MAX_C = 400.0
GRID_ON = "#"
GRID_OFF = "."


class Baseline(Welford):
    """Per-pixel running mean and spread of normal frames (device.stats.Welford)."""

    def __init__(self, rows=ROWS, cols=COLS):
        Welford.__init__(self, (rows, cols))

    def scale(self, floor=0.05):
        return xp.np.maximum(self.std(), floor)


def parse_grid(lines, what="mask", rows=ROWS, cols=COLS):
    """array('f') of rows*cols from `rows` strings of `cols` characters: 1.0 for '#',
    0.0 for '.'. Raises ValueError naming the bad row."""
    if not isinstance(lines, list) or len(lines) != rows:
        raise ValueError("%s must be a list of %d strings" % (what, rows))
    out = xp.fbuf(rows * cols)
    for r in range(rows):
        s = lines[r]
        if not isinstance(s, str) or len(s) != cols:
            raise ValueError("%s row %d must be a string of %d characters" % (what, r, cols))
        for c in range(cols):
            ch = s[c]
            if ch == GRID_ON:
                out[r * cols + c] = 1.0
            elif ch != GRID_OFF:
                raise ValueError("%s row %d: %r is not '#' or '.'" % (what, r, ch))
    return out


def grid_lines(flags, rows=ROWS, cols=COLS):
    """The text form of a 0/1 grid (a flat sequence of rows*cols truthy values)."""
    return ["".join(GRID_ON if flags[r * cols + c] else GRID_OFF for c in range(cols))
            for r in range(rows)]


def _inverse(a, ridge=1e-4):
    """Inverse of a small symmetric positive matrix (lists; Gauss-Jordan), with a ridge
    of `ridge` times its mean diagonal: two nearly equal mode maps must not blow up."""
    n = len(a)
    if n == 0:
        return []
    lam = ridge * sum(a[i][i] for i in range(n)) / n + 1e-9
    m = [[float(a[i][j]) + (lam if i == j else 0.0) for j in range(n)] + [1.0 if i == j else 0.0 for j in range(n)]
         for i in range(n)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[piv] = m[piv], m[col]
        p = m[col][col]
        if p == 0.0:
            raise ValueError("mode maps are degenerate")
        m[col] = [v / p for v in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0.0:
                f = m[r][col]
                m[r] = [m[r][j] - f * m[col][j] for j in range(2 * n)]
    return [row[n:] for row in m]


class ThermalFeatures:
    """Frame -> feature vector (NAMES) and hot spot, against per-mode pixel baselines.

    means, scales: (n_modes * rows, cols) float32 arrays, mode after mode (the model's
    pixel sidecar rows); with inplace=True they are turned into centred means and
    inverse scales in place (the board: no second copy), otherwise copied.
    mask: grid lines of pixels allowed to be hot; reference: grid lines of the pixels the
    ambient offset is measured on (None: no offset).
    """

    kind = "thermal"

    def __init__(self, means, scales, mask=None, reference=None, z_hot=4.0, min_excess=1.5,
                 rate=1.0, names=None, mode_names=None, rows=ROWS, cols=COLS, inplace=False):
        np = xp.np
        if rows * cols != N:
            raise ValueError("thermal frames are %d x %d" % (ROWS, COLS))
        self.rows = rows
        self.cols = cols
        self.window = 1
        self.rate = float(rate)
        self.axes = 1
        self.z_hot = float(z_hot)
        self.min_excess = float(min_excess)
        if names is not None and list(names) != NAMES:
            raise ValueError("thermal feature names %r are not this code's %r" % (names, NAMES))
        self.names = list(NAMES)
        self.size = len(NAMES)
        self.mask_lines = mask
        self.reference_lines = reference
        nm = means.shape[0] // rows
        if nm < 1 or means.shape != (nm * rows, cols) or scales.shape != (nm * rows, cols):
            raise ValueError("pixel maps must be (modes x %d, %d) arrays" % (rows, cols))
        self.n_modes = nm
        self.mode_names = mode_names
        if not inplace:
            means = np.array(means, dtype=xp.FLOAT)
            scales = np.array(scales, dtype=xp.FLOAT)
        self._mstack = means.reshape((nm, N))
        self._istack = scales.reshape((nm, N))
        m = self._mstack
        self._mv = [m[i] for i in range(nm)]
        self._iv = [self._istack[i] for i in range(nm)]
        for v in self._iv:
            v **= -1.0  # scale -> 1/scale, in place
        # centre every mean map on their average g: float32 dot products then work on
        # O(10) numbers instead of O(40), and only differences matter anyway
        self._g = np.mean(m, axis=0) if nm > 1 else np.array(m[0], dtype=xp.FLOAT)
        for v in self._mv:
            v -= self._g
        # buffers: the excess and z maps, each an array('f') with a flat view
        self._eb = xp.fbuf(N)
        self._zb = xp.fbuf(N)
        self._e = xp.view(self._eb)
        self._z = xp.view(self._zb)
        self._allow = xp.view(xp.fbuf(N))
        self._allow += xp.array([1.0])
        if mask is not None:
            self._allow -= xp.view(parse_grid(mask, "mask", rows, cols))
        self.n_allowed = int(float(np.sum(self._allow)) + 0.5)
        if self.n_allowed < 1:
            raise ValueError("the mask allows heat everywhere: nothing left to watch")
        self._ref = None
        self.n_ref = 0
        if reference is not None:
            self._ref = xp.view(parse_grid(reference, "reference", rows, cols))
            self.n_ref = int(float(np.sum(self._ref)) + 0.5)
            if self.n_ref == 0:
                self._ref = None
        # per-mode scalars (Python floats): |m_i|^2, sum(m_i), m_i . m_j, reference mean
        self._q = [float(np.dot(v, v)) for v in self._mv]
        self._s = [float(np.sum(v)) for v in self._mv]
        self._gram = [[float(np.dot(self._mv[i], self._mv[j])) for j in range(nm)] for i in range(nm)]
        self._rm = [float(np.dot(v, self._ref)) / self.n_ref if self._ref is not None else 0.0
                    for v in self._mv]
        self._rbar = sum(self._rm) / nm
        self._dots = xp.fbuf(nm)
        self._c = xp.fbuf(nm)
        self._rhs = xp.fbuf(nm)
        self._ainv = _inverse([[self._gram[j][k] - self._gram[j][0] - self._gram[0][k] + self._gram[0][0]
                                for k in range(1, nm)] for j in range(1, nm)])
        self._k_buf = xp.fbuf(1)
        self._k = xp.view(self._k_buf)
        self._zero = xp.view(xp.fbuf(1))
        self._mark = bytearray(N)
        self._hot = array.array("H", [0] * N)
        self._stack = array.array("H", [0] * N)
        self._out_buf = xp.fbuf(self.size)
        self._out = xp.view(self._out_buf)
        self._hs = xp.fbuf(7)  # row, col, area, peak excess, peak z, mean excess, mean z
        self._cs = xp.fbuf(7)  # the same for the largest cold blob (events only)
        self.has_hotspot = False
        self.min_z = 0.0
        self.ok = True
        self.mode = 0
        self.offset = 0.0
        self.frame_mean = 0.0
        self.frame_max = 0.0
        self.hot_pixels = 0
        self._frame = None

    # ---- model plumbing ----------------------------------------------------------------
    def recipe(self):
        r = {"kind": self.kind, "window": 1, "rate": self.rate, "rows": self.rows, "cols": self.cols,
             "z_hot": self.z_hot, "min_excess": self.min_excess, "names": list(self.names)}
        if self.mask_lines is not None:
            r["mask"] = list(self.mask_lines)
        if self.reference_lines is not None:
            r["reference"] = list(self.reference_lines)
        return r

    # ---- per frame ---------------------------------------------------------------------
    def compute(self, win):
        """Features of one frame ((rows, cols) or flat, deg C). Returns an internal buffer
        the next call overwrites. `ok` is False for a non-finite or impossible frame."""
        np = xp.np
        f = win.reshape((N,)) if len(win.shape) == 2 else win
        self._frame = f
        s = np.sum(f)
        if not xp.finite(s):
            return self._invalid()
        fmax = float(np.max(f))
        if fmax > MAX_C or float(np.min(f)) < MIN_C:
            return self._invalid()
        e = self._e
        z = self._z
        kb = self._k_buf
        k1 = self._k
        zero = self._zero
        e *= zero
        e += f
        e -= self._g  # frame - g
        d = self._dots
        i = 0
        for v in np.dot(self._mstack, e):
            d[i] = v
            i += 1
        r = float(np.dot(e, self._ref)) / self.n_ref if self._ref is not None else 0.0
        off0 = r - self._rbar
        q = self._q
        ss = self._s
        nm = self.n_modes
        best = 0
        bd = 0.0
        for m in range(nm):
            dm = q[m] - 2.0 * (d[m] - off0 * ss[m])
            if m == 0 or dm < bd:
                best, bd = m, dm
        # least-squares weights of the mode maps (an affine combination: they sum to 1),
        # from the precomputed Gram matrix: frame - g - off ~ m_0 + sum_j w_j (m_j - m_0)
        c = self._c
        c[0] = 1.0
        for j in range(1, nm):
            c[j] = 0.0
        if nm > 1:
            g0 = self._gram[0]
            rhs = self._rhs
            for j in range(1, nm):
                rhs[j - 1] = (d[j] - d[0]) - off0 * (ss[j] - ss[0]) - (g0[j] - q[0])
            ainv = self._ainv
            for j in range(1, nm):
                row = ainv[j - 1]
                w = 0.0
                for k in range(nm - 1):
                    w += row[k] * rhs[k]
                c[j] = w
                c[0] -= w
        off = 0.0
        if self._ref is not None:
            off = r
            for m in range(nm):
                off -= c[m] * self._rm[m]
        self.mode = best
        self.offset = off
        for m in range(nm):  # z is free until the z-map: the temporary of the mix
            kb[0] = c[m]
            z *= zero
            z += self._mv[m]
            z *= k1
            e -= z
        z *= zero
        z += self._iv[best]
        kb[0] = off
        e -= k1
        allow = self._allow
        e *= allow
        z *= e
        z *= allow
        max_z = float(np.max(z))
        min_z = float(np.min(z))
        rms_z = (float(np.dot(z, z)) / self.n_allowed) ** 0.5
        max_ex = float(np.max(e))
        sub = np.sort(f[::3])  # 256 pixels spread over every column
        p90 = float(sub[(len(sub) * 9) // 10])
        mean = float(s) / N
        self.frame_mean = mean
        self.frame_max = fmax
        self.min_z = min_z
        hot, area = self._hotspot(max_z)
        self.hot_pixels = hot
        ob = self._out_buf
        ob[0] = mean - off
        ob[1] = fmax - off
        ob[2] = p90 - off
        ob[3] = rms_z
        ob[4] = max_z
        ob[5] = min_z
        ob[6] = max_ex
        ob[7] = math.log(1.0 + hot)  # counts compressed: 100 warm pixels must not weigh
        ob[8] = math.log(1.0 + area)  # 25 times as much as a 2x2 spot
        self.ok = True
        return self._out

    def _invalid(self):
        self.ok = False
        self.has_hotspot = False
        self.min_z = 0.0
        self.hot_pixels = 0
        ob = self._out_buf
        for k in range(self.size):
            ob[k] = 0.0
        return self._out

    def _hotspot(self, max_z):
        """(hot pixel count, largest hot blob area); the blob's stats go to self._hs."""
        self.has_hotspot = False
        if not max_z > self.z_hot:
            return 0, 0
        n_hot, best = self._blobs(1.0, self._hs)
        self.has_hotspot = n_hot > 0
        return n_hot, best

    def _blobs(self, sign, hs):
        """Pixels over z_hot and at least min_excess deg C away from their baseline on one
        side (sign 1.0: warmer, -1.0: colder) and their largest 4-connected blob:
        (pixel count, blob area); the blob's row, col, area, peak |excess|, peak |z|,
        mean |excess| and mean |z| go to hs. The frame features use the warm side only."""
        eb = self._eb
        zb = self._zb
        mark = self._mark
        hot = self._hot
        mx = self.min_excess
        n_hot = 0
        cand = self._z > self.z_hot if sign > 0 else self._z < -self.z_hot
        for p in xp.np.nonzero(cand)[0]:
            p = int(p)
            if eb[p] * sign >= mx:
                mark[p] = 1
                hot[n_hot] = p
                n_hot += 1
        if not n_hot:
            return 0, 0
        cols = self.cols
        stack = self._stack
        best = 0
        for h in range(n_hot):
            start = hot[h]
            if mark[start] != 1:
                continue
            mark[start] = 2
            stack[0] = start
            sp = 1
            size = 0
            w = 0.0
            rs = 0.0
            cs = 0.0
            peak = 0.0
            pz = 0.0
            zs = 0.0
            while sp:
                sp -= 1
                p = stack[sp]
                size += 1
                ex = eb[p] * sign
                zp = zb[p] * sign
                r = p // cols
                c = p - r * cols
                w += ex
                rs += ex * r
                cs += ex * c
                zs += zp
                if ex > peak:
                    peak = ex
                if zp > pz:
                    pz = zp
                if r > 0 and mark[p - cols] == 1:
                    mark[p - cols] = 2
                    stack[sp] = p - cols
                    sp += 1
                if r < self.rows - 1 and mark[p + cols] == 1:
                    mark[p + cols] = 2
                    stack[sp] = p + cols
                    sp += 1
                if c > 0 and mark[p - 1] == 1:
                    mark[p - 1] = 2
                    stack[sp] = p - 1
                    sp += 1
                if c < cols - 1 and mark[p + 1] == 1:
                    mark[p + 1] = 2
                    stack[sp] = p + 1
                    sp += 1
            if size > best:
                best = size
                hs[0] = rs / w
                hs[1] = cs / w
                hs[2] = size
                hs[3] = peak
                hs[4] = pz
                hs[5] = w / size
                hs[6] = zs / size
        for h in range(n_hot):
            mark[hot[h]] = 0
        return n_hot, best

    def hotspot(self):
        """The last frame's strongest blob far from its baseline, warm or cold, as a dict
        (row, col: excess-weighted centre; area in pixels; excess: peak deg C from the
        baseline, negative when cold; z: peak z, signed alike; kind: "hot" or "cold"), or
        None. Warm and cold blobs compete by their mean |z| (a small pipe 12 C too cold
        beats a large body 4 C warm). Called for an event, not per frame: the cold side
        is scanned only here."""
        hs = self._hs if self.has_hotspot else None
        kind = "hot"
        if self.min_z < -self.z_hot and self._blobs(-1.0, self._cs)[0]:
            if hs is None or self._cs[6] > hs[6]:
                hs = self._cs
                kind = "cold"
        if hs is None:
            return None
        sign = -1.0 if kind == "cold" else 1.0
        return {"row": round(hs[0], 2), "col": round(hs[1], 2), "area": int(hs[2]),
                "excess": round(sign * hs[3], 2), "z": round(sign * hs[4], 1), "kind": kind}

    # ---- maps for reports (host) -------------------------------------------------------
    def excess_map(self):
        """A copy of the last excess map (rows, cols), deg C over the blended baseline."""
        return xp.np.array(self._e, dtype=xp.FLOAT).reshape((self.rows, self.cols))

    def z_map(self):
        return xp.np.array(self._z, dtype=xp.FLOAT).reshape((self.rows, self.cols))

    def baseline_map(self):
        """The baseline the last frame was compared with (deg C, offset included)."""
        np = xp.np
        b = np.array(self._g, dtype=xp.FLOAT) + self.offset
        for m in range(self.n_modes):
            b = b + self._mv[m] * self._c[m]
        return b.reshape((self.rows, self.cols))

    def weights(self):
        """The mode maps' weights in the last frame's baseline (they sum to 1)."""
        return [self._c[m] for m in range(self.n_modes)]

    def allow_map(self):
        return xp.np.array(self._allow, dtype=xp.FLOAT).reshape((self.rows, self.cols))


def from_model(doc, inplace=None):
    """ThermalFeatures from a loaded model (pixel maps attached by device.model.load)."""
    np = xp.np
    rec = doc["features"]
    modes = doc["modes"]
    means = doc.get("_pixel_means")
    scales = doc.get("_pixel_scales")
    if means is None or scales is None:  # not one contiguous block each: stack copies
        means = np.concatenate([_map(m.get("pixel_mean")) for m in modes], axis=0)
        scales = np.concatenate([_map(m.get("pixel_scale")) for m in modes], axis=0)
        inplace = True
    if inplace is None:
        inplace = xp.ULAB
    return ThermalFeatures(means, scales, mask=rec.get("mask"), reference=rec.get("reference"),
                           z_hot=rec.get("z_hot", 4.0), min_excess=rec.get("min_excess", 1.5),
                           rate=rec.get("rate", 1.0), names=rec.get("names"),
                           mode_names=[m["name"] for m in modes], inplace=inplace)


def _map(v):
    if v is None:
        raise ValueError("a thermal model needs pixel_mean and pixel_scale for every mode")
    return xp.array(v) if isinstance(v, list) else xp.np.array(v, dtype=xp.FLOAT)


# ---- the camera as scalar streams --------------------------------------------------------
