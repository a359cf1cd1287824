"""The layout of device.features.AccelFeatures, worked out once when an extractor is made: the
checks of its arguments, the frequency band edges, the in-band offsets (or,
for unequal bands, the band matrix) and the feature names.

A module of its own for the board's heap: this runs once, at setup, while compute runs for
every window; AccelFeatures.__init__ imports it and forgets it after, so the loop does not
hold its code. Only functions live here.
"""

from device import xp


def accel(window, n_fft, rate, bands, axes):
    """(edges, width, offsets, band_matrix, names) of AccelFeatures(window, rate, bands,
    axes) with its FFT length n_fft; raises ValueError for arguments it cannot use."""
    if window < 8:
        raise ValueError("window must be at least 8 samples")
    if bands < 1:
        raise ValueError("bands must be at least 1")
    half = n_fft // 2
    if bands > half:
        raise ValueError("more bands than frequency bins")
    n_bins = half + 1
    edges = [1 + (half * b) // bands for b in range(bands + 1)]
    width = half // bands
    # The folded spectrum holds twice the power (hence the 0.5s). Equal-width bands
    # (the usual case: a power-of-two FFT and 2^k bands) are a reshape of the spectrum
    # to (bands, width) and two reductions; otherwise one matrix gives both sums.
    width = width if width * bands == half else 0
    offsets = band_matrix = None
    if width:
        centre = (width - 1) / 2.0
        offsets = xp.array([0.5 * (k - centre) / width for k in range(width)])
    else:
        rows = []
        for b in range(bands):
            lo, hi = edges[b], edges[b + 1]
            rows.append([0.5 if lo <= k < hi else 0.0 for k in range(n_bins)])
        for b in range(bands):
            lo, hi = edges[b], edges[b + 1]
            centre = (lo + hi - 1) / 2.0
            w = float(hi - lo)
            rows.append([0.5 * (k - centre) / w if lo <= k < hi else 0.0 for k in range(n_bins)])
        band_matrix = xp.array(rows)
    hz = rate / n_fft
    names = []
    for prefix in ("energy", "centroid"):
        for b in range(bands):
            names.append("%s_%.0f-%.0fHz" % (prefix, edges[b] * hz, edges[b + 1] * hz))
    letters = "xyz" if axes <= 3 else None
    for stat in ("rms", "kurtosis"):
        for a in range(axes):
            names.append("%s_%s" % (stat, letters[a] if letters else str(a)))
    names.append("envelope")
    return edges, width, offsets, band_matrix, names
