"""Welford's streaming mean and variance, in place: the one definition used by
commissioning (feature vectors) and the thermal baseline (24 x 32 frames).

Arrays of any shape the array library handles (1-D vectors, 2-D frames), float32 on both
the host and the board. Two scratch buffers of the same shape are allocated once, so an
update allocates nothing beyond what ulab's in-place operators need.
"""

from device import xp


class Welford:
    """Running mean and sum of squared deviations (m2) of equally shaped arrays."""

    def __init__(self, shape):
        self.n = 0
        self.mean = xp.zeros(shape)
        self.m2 = xp.zeros(shape)
        self._d = xp.zeros(shape)
        self._e = xp.zeros(shape)

    def update(self, x):
        self.n += 1
        d = self._d
        e = self._e
        d[:] = x
        d -= self.mean  # x - old mean
        e[:] = d
        e /= float(self.n)
        self.mean += e
        e[:] = x
        e -= self.mean  # x - new mean
        e *= d
        self.m2 += e

    def variance(self):
        if self.n < 2:
            raise ValueError("need at least two samples for a spread")
        return self.m2 / (self.n - 1)

    def std(self):
        return xp.np.sqrt(self.variance())
