"""Device math (float32, as on the board) against SciPy / scikit-learn / float64 NumPy.

Stated tolerances (float32 keeps ~7 significant digits; the board's Python floats ~6):
- Mahalanobis d^2 (float32 device code) vs scipy (float64): rtol 1e-4.
- Streaming (Welford, float32) mean/std vs batch float64 NumPy: mean within 1e-4 of a
  standard deviation, std rtol 1e-4.
- Accelerometer features (float32) vs a float64 NumPy reimplementation of the formulas:
  log band energies, log rms, log kurtosis: atol 1e-4 (i.e. 1e-4 relative on the energy,
  rms and kurtosis themselves); band centroids (in band widths, |c| <= 0.5): atol 1e-5;
  envelope: rtol 1e-4.
- Tilt (constant per-axis offset) and rotation invariance, float32 on both sides:
  log features atol 1e-3, centroids atol 5e-4 (a 1 g offset costs float32 ~7 bits of the
  ~0.01-0.1 g vibration signal, so this is looser than the float64 comparison).
"""

from __future__ import annotations

import math
import os
from fractions import Fraction

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis
from scipy.stats import ortho_group

from conftest import fan, synthetic_modes
from device import detectors, features, scalarfeatures, xp
from device.zscore import ZScoreDetector
from device.commission import Welford, threshold_from_scores
from host_tools.data import datasets
from host_tools.modeling import train


# ---- detectors --------------------------------------------------------------------

def test_mahalanobis_raw_matches_scipy_on_standardised_data():
    n = 12
    modes = synthetic_modes(n, n_modes=2, seed=3)
    det = detectors.MahalanobisDetector(modes)
    rs = np.random.RandomState(7)
    for _ in range(20):
        x64 = np.asarray(modes[0]["mean"]) + rs.randn(n) * 3 * np.asarray(modes[0]["scale"])
        x32 = xp.array(list(x64))
        for i, m in enumerate(modes):
            z = (x32.astype(np.float64) - np.asarray(m["mean"])) / np.asarray(m["scale"])
            want = mahalanobis(z, np.zeros(n), np.asarray(m["inv_cov"], dtype=np.float64)) ** 2
            got = det.raw(x32, i)
            assert isinstance(got, float)
            assert got == pytest.approx(want, rel=1e-4)


def test_mahalanobis_with_fitted_inverse_matches_scipy():
    """fit_mode's stored inverse is the inverse of the shrunk correlation of the data."""
    rs = np.random.RandomState(11)
    n = 8
    mix = rs.randn(n, n)
    feats = (rs.randn(300, n) @ mix + 5).astype(np.float32)
    mode = train.fit_mode("m", feats, "mahalanobis", shrinkage=0.2)
    z = (feats.astype(np.float64) - np.asarray(mode["mean"])) / np.asarray(mode["scale"])
    cov, _ = train.shrunk_correlation(z, 0.2)
    vi = np.linalg.inv(cov)
    np.testing.assert_allclose(np.asarray(mode["inv_cov"]), vi, rtol=1e-5, atol=1e-6)
    det = detectors.MahalanobisDetector([dict(mode, threshold=1.0)])
    for row in feats[:10]:
        zz = (row.astype(np.float64) - np.asarray(mode["mean"])) / np.asarray(mode["scale"])
        assert det.raw(row, 0) == pytest.approx(mahalanobis(zz, np.zeros(n), vi) ** 2, rel=1e-4)


def test_contributions_sum_to_d2_and_zscore_contributions():
    n = 10
    modes = synthetic_modes(n, n_modes=1, seed=5)
    det = detectors.MahalanobisDetector(modes)
    rs = np.random.RandomState(2)
    for _ in range(10):
        x = xp.array(list(rs.randn(n) * 2))
        c = det.contributions(x, 0)
        assert float(np.sum(c, dtype=np.float64)) == pytest.approx(det.raw(x, 0), rel=1e-4, abs=1e-5)
    top = det.explain(x, 0, ["f%d" % k for k in range(n)], top=3)
    vals = [v for _, v in top]
    assert len(top) == 3 and vals == sorted(vals, reverse=True)
    assert vals[0] == pytest.approx(float(np.max(c)), rel=1e-6)

    zmodes = synthetic_modes(n, n_modes=1, seed=5, detector="zscore")
    zdet = ZScoreDetector(zmodes)
    c = zdet.contributions(x, 0)
    want = np.abs((x.astype(np.float64) - np.asarray(zmodes[0]["mean"])) / np.asarray(zmodes[0]["scale"]))
    np.testing.assert_allclose(c, want, rtol=1e-5)
    assert zdet.raw(x, 0) == pytest.approx(float(want.max()), rel=1e-5)


def test_score_picks_the_mode_with_the_smallest_ratio():
    n = 6
    modes = synthetic_modes(n, n_modes=2, seed=9)
    modes[1]["mean"] = [v + 10.0 for v in modes[0]["mean"]]
    det = detectors.MahalanobisDetector(modes)
    x = xp.array(modes[1]["mean"])
    ratio, mode = det.score(x)
    assert mode == 1 and ratio == pytest.approx(0.0, abs=1e-6)
    assert det.last_raw == pytest.approx(0.0, abs=1e-5)
    x = xp.array(modes[0]["mean"])
    ratio, mode = det.score(x)
    assert mode == 0 and det.nearest(x) == 0


# ---- host statistics ------------------------------------------------------------------

def test_shrunk_correlation_fixed_shrinkage_matches_np_cov_formula():
    rs = np.random.RandomState(0)
    z = rs.randn(200, 7) @ rs.randn(7, 7)
    z = z - z.mean(axis=0)  # shrunk_correlation assumes centred data; np.cov centres itself
    a = 0.3
    got, alpha = train.shrunk_correlation(z, a)
    emp = np.cov(z, rowvar=False)
    mu = np.trace(emp) / emp.shape[0]
    want = (1 - a) * emp + a * mu * np.eye(7)
    assert alpha == a
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_shrunk_correlation_auto_is_ledoit_wolf():
    from sklearn.covariance import LedoitWolf

    rs = np.random.RandomState(1)
    z = rs.randn(60, 10) @ rs.randn(10, 10)
    got, alpha = train.shrunk_correlation(z, "auto")
    lw = LedoitWolf(assume_centered=True).fit(z)
    np.testing.assert_allclose(got, lw.covariance_, rtol=1e-10)
    assert alpha == pytest.approx(lw.shrinkage_)


# ---- streaming statistics ------------------------------------------------------------------

def test_welford_matches_batch_mean_and_std():
    rs = np.random.RandomState(4)
    n, f = 600, 9
    data = (rs.randn(n, f) * rs.uniform(0.05, 2.0, f) + rs.uniform(-8, 8, f)).astype(np.float32)
    w = Welford(f)
    for row in data:
        w.update(row)
    d64 = data.astype(np.float64)
    mean, std = d64.mean(axis=0), d64.std(axis=0, ddof=1)
    assert w.n == n
    np.testing.assert_array_less(np.abs(np.asarray(w.mean, dtype=np.float64) - mean), 1e-4 * std)
    np.testing.assert_allclose(np.asarray(w.std(), dtype=np.float64), std, rtol=1e-4)
    with pytest.raises(ValueError):
        Welford(3).std()


# ---- conformal threshold ------------------------------------------------------------------

def _conformal(scores, a):
    n = len(scores)
    k = math.ceil((n + 1) * (1 - Fraction(a).limit_denominator(10 ** 9)))
    return sorted(scores)[min(max(k, 1), n) - 1]


@pytest.mark.parametrize("n,a", [(99, 0.05), (19, 0.1), (9, 0.1), (10, 0.01), (1000, 0.01),
                                 (50, 0.2), (3, 0.5), (200, 0.001)])
def test_threshold_is_the_conformal_order_statistic(n, a):
    rs = np.random.RandomState(n)
    scores = list(rs.permutation(np.arange(1, n + 1)).astype(float))
    assert threshold_from_scores(scores, a) == _conformal(scores, a)


@pytest.mark.parametrize("n,a", [(99, 0.05), (199, 0.01), (999, 0.01), (299, 0.01), (499, 0.02),
                                 (19, 0.1), (150, 0.01), (999, 0.001)])
def test_threshold_rank_is_exact_in_float32_arithmetic(n, a):
    """The board's Python floats are float32 (even ~30 bits). Passing the rate as a
    np.float32 makes CPython do the rank arithmetic in float32 too: the chosen order
    statistic must not move (e.g. 99 scores at 5%: the 95th, not the 96th)."""
    scores = [float(v) for v in range(1, n + 1)]
    assert threshold_from_scores(scores, np.float32(a)) == _conformal(scores, a)


def test_threshold_hand_cases():
    s = [float(v) for v in range(1, 100)]  # 99 scores
    assert threshold_from_scores(s, 0.05) == 95.0  # ceil(100 * 0.95) = 95th smallest
    assert threshold_from_scores(s[:10], 0.01) == 10.0  # too few windows: the largest
    assert threshold_from_scores(s[:9], 0.1) == 9.0  # (9+1)*0.9 = 9 exactly
    with pytest.raises(ValueError):
        threshold_from_scores([], 0.05)


# ---- accelerometer features ---------------------------------------------------------------

def _fan_window(folder="fan_0_low_0_weight", i=0):
    path = datasets.list_csv(fan(folder))[i]
    return datasets.read_recording(path, "accel")[:, :200]  # float64 (3, 200)


def reference_features(win64: np.ndarray, ex: features.AccelFeatures) -> np.ndarray:
    """The documented formulas in float64 NumPy (independent of device/features.py)."""
    d = win64 - win64.mean(axis=1, keepdims=True)
    ms = (d ** 2).mean(axis=1) + features.EPS
    rms = 0.5 * np.log(ms)
    kurt = np.log((d ** 4).mean(axis=1) / ms ** 2 + features.EPS)
    mag = np.sqrt((d ** 2).sum(axis=0))
    env = mag.std() / (mag.mean() + features.EPS)
    spec = np.abs(np.fft.rfft(d, n=ex.n_fft, axis=1)) ** 2
    power = spec.sum(axis=0)
    energy, centroid = [], []
    for b in range(ex.bands):
        lo, hi = ex.edges[b], ex.edges[b + 1]
        k = np.arange(lo, hi)
        p = power[lo:hi]
        e = p.sum() + features.EPS
        energy.append(np.log(e))
        centroid.append(((k - (lo + hi - 1) / 2.0) / (hi - lo) * p).sum() / e)
    return np.concatenate([energy, centroid, rms, kurt, [env]])


def _split(ex, v):
    nb, na = ex.bands, ex.axes
    v = np.asarray(v, dtype=np.float64)
    return {"energy": v[:nb], "centroid": v[nb:2 * nb], "rms": v[2 * nb:2 * nb + na],
            "kurtosis": v[2 * nb + na:2 * nb + 2 * na], "envelope": v[2 * nb + 2 * na:]}


@pytest.mark.parametrize("folder", ["fan_0_low_0_weight", "fan_0_high_1_weight", "fan_0_off_0_weight"])
def test_accel_features_float32_vs_float64_reference(folder):
    ex = features.AccelFeatures(200, 200.0, bands=16)
    for i in (0, 50):
        w = _fan_window(folder, i)
        got = _split(ex, ex.compute(w.astype(np.float32)))
        want = _split(ex, reference_features(w.astype(np.float32).astype(np.float64), ex))
        np.testing.assert_allclose(got["energy"], want["energy"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(got["rms"], want["rms"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(got["kurtosis"], want["kurtosis"], rtol=0, atol=1e-4)
        np.testing.assert_allclose(got["centroid"], want["centroid"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(got["envelope"], want["envelope"], rtol=1e-4)


def test_accel_feature_names_and_recipe():
    ex = features.AccelFeatures(200, 200.0, bands=16)
    assert ex.size == len(ex.names) == 2 * 16 + 3 + 3 + 1
    assert ex.n_fft == 256 and len(set(ex.names)) == ex.size
    r = ex.recipe()
    assert features.from_recipe(r).names == ex.names
    with pytest.raises(ValueError):
        features.AccelFeatures(4, 100.0)
    with pytest.raises(ValueError):
        features.AccelFeatures(16, 100.0, bands=9)  # 16 -> n_fft 16 -> 8 bins
    with pytest.raises(ValueError):
        features.from_recipe({"kind": "thermal"})


@pytest.mark.parametrize("offset", [(0.0, 0.0, 1.0), (0.3, -0.5, 0.8), (-1.0, 0.2, 0.0)])
def test_accel_features_ignore_tilt_offset(offset):
    """A constant per-axis offset (gravity seen at another tilt) must not change features."""
    ex = features.AccelFeatures(200, 200.0, bands=16)
    w = _fan_window("fan_0_med_0_weight", 3)
    base = np.array(ex.compute(w.astype(np.float32)), dtype=np.float64)
    shifted = np.array(ex.compute((w + np.asarray(offset)[:, None]).astype(np.float32)), dtype=np.float64)
    b, s = _split(ex, base), _split(ex, shifted)
    for key in ("energy", "rms", "kurtosis"):
        np.testing.assert_allclose(s[key], b[key], rtol=0, atol=1e-3, err_msg=key)
    np.testing.assert_allclose(s["centroid"], b["centroid"], rtol=0, atol=5e-4)
    np.testing.assert_allclose(s["envelope"], b["envelope"], rtol=2e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_band_features_are_rotation_invariant(seed):
    """Rotating the sensor mixes the axes: band energies/centroids (power summed over axes)
    and the envelope (vector magnitude) stay; per-axis rms/kurtosis do change."""
    ex = features.AccelFeatures(200, 200.0, bands=16)
    w = _fan_window("fan_0_high_0_weight", 7)
    rot = ortho_group.rvs(3, random_state=seed)
    base = _split(ex, np.array(ex.compute(w.astype(np.float32))))
    turned = _split(ex, np.array(ex.compute((rot @ w).astype(np.float32))))
    np.testing.assert_allclose(turned["energy"], base["energy"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(turned["centroid"], base["centroid"], rtol=0, atol=5e-4)
    np.testing.assert_allclose(turned["envelope"], base["envelope"], rtol=2e-3)
    per_axis = np.concatenate([turned["rms"] - base["rms"], turned["kurtosis"] - base["kurtosis"]])
    assert np.max(np.abs(per_axis)) > 1e-2  # the rotation did change the per-axis view


@pytest.mark.parametrize("band,bin_", [(5, 44), (0, 3), (12, 100)])
def test_pure_tone_lands_in_its_band(band, bin_):
    ex = features.AccelFeatures(200, 200.0, bands=16)
    hz = ex.rate / ex.n_fft
    f = bin_ * hz
    t = np.arange(200) / ex.rate
    w = np.stack([0.1 * np.sin(2 * np.pi * f * t), 0.05 * np.cos(2 * np.pi * f * t), np.zeros(200)]) + \
        np.array([[0.0], [0.0], [1.0]])
    v = _split(ex, ex.compute(w.astype(np.float32)))
    energy = np.exp(v["energy"])
    assert int(np.argmax(energy)) == band
    assert energy[band] / energy.sum() > 0.8
    lo, hi = ex.edges[band], ex.edges[band + 1]
    assert lo <= bin_ < hi
    expect_c = (bin_ - (lo + hi - 1) / 2.0) / (hi - lo)
    assert v["centroid"][band] == pytest.approx(expect_c, abs=0.05)
    name = ex.names[band]  # e.g. "energy_32-38Hz"
    lo_hz, hi_hz = (float(s) for s in name.split("_")[1][:-2].split("-"))
    assert lo_hz - 0.5 <= f <= hi_hz + 0.5


def test_scalar_features_match_numpy():
    ex = scalarfeatures.ScalarFeatures(16, 1.0)
    rs = np.random.RandomState(0)
    row = 20 + 0.01 * np.arange(16) * 3 + rs.randn(16) * 0.1
    got = np.array(ex.compute(row.astype(np.float32)[None, :]), dtype=np.float64)
    r32 = row.astype(np.float32).astype(np.float64)
    slope = np.polyfit(np.arange(16), r32, 1)[0]
    np.testing.assert_allclose(got, [r32.mean(), r32.std(), slope], rtol=1e-4, atol=1e-5)
    one = scalarfeatures.ScalarFeatures(1, 1.0)
    assert one.names == ["value"]
    assert float(one.compute(np.array([[21.5]], dtype=np.float32))[0]) == 21.5
