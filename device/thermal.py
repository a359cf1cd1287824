"""Thermal frame (24 x 32 deg C) -> features against a per-pixel baseline.

Not wired into the app yet: the model file (device/model.py) has no thermal schema, so the
MLX90640 path runs in the no-model state. This is the feature side a thermal model needs:

- `Baseline` learns the per-pixel mean and spread of normal frames (device.stats.Welford);
- `ThermalFeatures.compute(frame)` standardises each pixel against the baseline, ignores
  pixels the mask allows to be hot, and returns
  [hot_pixels, largest_blob, max_excess, centroid_row, centroid_col]:
  the number of pixels more than `z_hot` spreads (and at least `min_excess` deg C) above
  their baseline, the size of the largest 4-connected group of them, the largest excess
  over baseline in deg C, and the excess-weighted centre of the hot pixels (-1 if none).

All buffers are allocated once; the hot-pixel scan is a plain loop over 768 pixels (a few
ms on a board, fine at the MLX90640's frame rates) with a preallocated flood-fill stack.
"""

import array

from device import xp
from device.stats import Welford

ROWS = 24
COLS = 32
N = ROWS * COLS
NAMES = ["hot_pixels", "largest_blob", "max_excess", "centroid_row", "centroid_col"]


class Baseline(Welford):
    """Per-pixel running mean and spread of normal frames (device.stats.Welford)."""

    def __init__(self, rows=ROWS, cols=COLS):
        Welford.__init__(self, (rows, cols))

    def scale(self, floor=0.05):
        return xp.np.maximum(self.std(), floor)


class ThermalFeatures:
    kind = "thermal"

    def __init__(self, mean, scale, mask=None, z_hot=3.0, min_excess=1.0, rows=ROWS, cols=COLS):
        np = xp.np
        self.rows = rows
        self.cols = cols
        self.mean = mean
        self.inv_scale = 1.0 / scale
        # allow: 1.0 where a pixel may be reported hot, 0.0 where the mask allows heat there
        self.allow = xp.zeros((rows, cols)) + 1.0
        if mask is not None:
            self.allow -= np.clip(xp.array(mask) if isinstance(mask, list) else mask, 0.0, 1.0)
        self.z_hot = float(z_hot)
        self.min_excess = float(min_excess)
        self.names = list(NAMES)
        self.size = len(NAMES)
        self._ex = xp.zeros((rows, cols))
        self._z = xp.zeros((rows, cols))
        self._ex_rows = [self._ex[r] for r in range(rows)]
        self._z_rows = [self._z[r] for r in range(rows)]
        self._hot = bytearray(rows * cols)
        self._stack = array.array("H", [0] * (rows * cols))
        self._out = xp.zeros(self.size)

    def compute(self, frame):
        """Features of one frame; returns an internal buffer the next call overwrites."""
        np = xp.np
        ex = self._ex
        z = self._z
        ex[:] = frame
        ex -= self.mean
        ex *= self.allow
        z[:] = ex
        z *= self.inv_scale
        hot = self._hot
        rows, cols = self.rows, self.cols
        zh, mx = self.z_hot, self.min_excess
        count = 0
        wsum = 0.0
        rsum = 0.0
        csum = 0.0
        k = 0
        for r in range(rows):
            zr = self._z_rows[r]
            er = self._ex_rows[r]
            for c in range(cols):
                e = er[c]
                if zr[c] > zh and e >= mx:
                    hot[k] = 1
                    count += 1
                    wsum += e
                    rsum += e * r
                    csum += e * c
                else:
                    hot[k] = 0
                k += 1
        out = self._out
        out[0] = count
        out[1] = self._largest_blob() if count else 0
        out[2] = np.max(ex)
        if count:
            out[3] = rsum / wsum
            out[4] = csum / wsum
        else:
            out[3] = -1.0
            out[4] = -1.0
        return out

    def _largest_blob(self):
        """Largest 4-connected group of hot pixels (flood fill; marks visited with 2)."""
        hot = self._hot
        stack = self._stack
        cols = self.cols
        n = self.rows * cols
        best = 0
        for start in range(n):
            if hot[start] != 1:
                continue
            hot[start] = 2
            sp = 1
            stack[0] = start
            size = 0
            while sp:
                sp -= 1
                p = stack[sp]
                size += 1
                c = p % cols
                for q in (p - cols, p + cols, p - 1 if c > 0 else -1, p + 1 if c < cols - 1 else -1):
                    if 0 <= q < n and hot[q] == 1:
                        hot[q] = 2
                        stack[sp] = q
                        sp += 1
            if size > best:
                best = size
        return best
