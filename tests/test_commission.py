"""On-device commissioning recovers a shifted location/scale and sets an honest threshold.

Tolerances: Welford in float32 vs NumPy batch float64 -> mean within 1e-4 of a standard
deviation, std rtol 1e-4. The threshold is compared exactly: it is device.threshold.choose
of the threshold-phase raw scores (stored as float32 by the board code), a deterministic
function of them.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import synthetic_modes
from device import detectors, xp
from device.commission import Commissioner
from device.threshold import choose


def _detector(n=6, n_modes=1, detector="mahalanobis", seed=0):
    modes = synthetic_modes(n, n_modes=n_modes, seed=seed, detector=detector)
    return detectors.from_model({"detector": detector, "modes": modes}), modes


def _stream(rs, n, centre, spread, mix=None):
    x = rs.randn(n, len(centre))
    if mix is not None:
        x = x @ mix
    return (x * spread + centre).astype(np.float32)


@pytest.mark.parametrize("detector", ["mahalanobis", "zscore"])
def test_commissioning_recovers_shifted_location_and_scale(detector):
    n = 6
    det, modes = _detector(n, detector=detector)
    rs = np.random.RandomState(3)
    centre = np.asarray(modes[0]["mean"]) + np.linspace(1.0, 4.0, n)  # remounted: shifted
    spread = np.asarray(modes[0]["scale"]) * np.linspace(0.5, 2.0, n)
    n_fit, n_thr, fa = 150, 100, 0.05
    data = _stream(rs, n_fit + n_thr, centre, spread)
    com = Commissioner(det, n_fit, n_thr, fa, mode=0)
    done = [com.update(x) for x in data]
    assert done[-1] and not any(done[:-1]) and com.done and com.progress() == 1.0
    assert com.updated == ["mode0"] and com.counts() == [n_fit]

    mean, scale, thr = det.mode_params(0)
    fit = data[:n_fit].astype(np.float64)
    want_mean, want_std = fit.mean(axis=0), fit.std(axis=0, ddof=1)
    np.testing.assert_array_less(np.abs(np.asarray(mean) - want_mean), 1e-4 * want_std)
    np.testing.assert_allclose(scale, want_std, rtol=1e-4)

    # the threshold is chosen from the threshold-phase raw scores, which were scored
    # against the commissioned location (float32, as the board keeps them)
    raws = np.array([det.raw(x, 0) for x in data[n_fit:]], dtype=np.float32)
    want_thr, want_sup, want_how = choose(list(raws), fa)
    assert thr == want_thr and com.fa_supported == [want_sup] and com.methods == [want_how]
    assert com.refused is None and com.warnings == [] and want_sup <= fa
    # and the commissioned model no longer calls the installed normal data anomalous
    ratios = [det.score(x)[0] for x in data[n_fit:]]
    assert np.mean(np.array(ratios) > 1.0) <= fa + 0.02


def test_margin_scales_the_commissioned_threshold():
    det, modes = _detector(4)
    det2, _ = _detector(4)
    rs = np.random.RandomState(1)
    data = _stream(rs, 60, np.asarray(modes[0]["mean"]) + 2, 1.0)
    a = Commissioner(det, 30, 30, 0.1, mode=0)
    b = Commissioner(det2, 30, 30, 0.1, mode=0, margins=[1.5])
    for x in data:
        a.update(x)
        b.update(x)
    assert det2.threshold(0) == pytest.approx(1.5 * det.threshold(0), rel=1e-6)


def test_nearest_mode_assignment_and_min_windows():
    """mode=None: each window goes to its nearest trained mode; a mode that sees fewer
    than min_windows windows keeps its trained values."""
    n = 5
    det, modes = _detector(n, n_modes=3, seed=2)
    m0 = np.asarray(modes[0]["mean"])
    modes[1]["mean"] = list(m0 + 30.0)
    modes[2]["mean"] = list(m0 - 30.0)
    det = detectors.from_model({"detector": "mahalanobis", "modes": modes})
    trained = [det.mode_params(i) for i in range(3)]
    rs = np.random.RandomState(5)
    near0 = _stream(rs, 40, m0 + 0.5, 0.3)
    near1 = _stream(rs, 40, m0 + 30.5, 0.3)
    few2 = _stream(rs, 3, m0 - 30.0, 0.3)
    fit = np.concatenate([near0[:20], near1[:20], few2])
    thr = np.concatenate([near0[20:], near1[20:]])
    com = Commissioner(det, len(fit), len(thr), 0.1, mode=None, min_windows=8)
    for x in np.concatenate([fit, thr]):
        com.update(x)
    assert com.counts() == [20, 20, 3]
    assert sorted(com.updated) == ["mode0", "mode1"]
    assert det.mode_params(2) == trained[2]  # untouched
    np.testing.assert_allclose(det.mode_params(1)[0], near1[:20].astype(np.float64).mean(axis=0), atol=1e-4)
    raws1 = np.array([det.raw(x, 1) for x in thr[20:]], dtype=np.float32)
    assert det.threshold(1) == choose(list(raws1), 0.1)[0]
    assert com.fa_supported[2] is None and com.fa_supported[1] is not None


def test_scale_floor_keeps_a_fraction_of_the_trained_scale():
    """A perfectly quiet installation must not produce a zero scale (division by ~0)."""
    n = 4
    det, modes = _detector(n, detector="zscore")
    const = np.asarray(modes[0]["mean"], dtype=np.float32) + 1.0
    com = Commissioner(det, 20, 10, 0.1, mode=0, min_scale_ratio=0.1)
    for _ in range(30):
        com.update(xp.array(list(const)))
    _, scale, _ = det.mode_params(0)
    np.testing.assert_allclose(scale, 0.1 * np.asarray(modes[0]["scale"]), rtol=1e-6)


def test_commissioner_argument_checks():
    det, _ = _detector(3)
    with pytest.raises(ValueError):
        Commissioner(det, 1, 10, 0.01)
    with pytest.raises(ValueError):
        Commissioner(det, 10, 0, 0.01)


def test_host_commission_model_matches_board_commissioner(small_model):
    """host_tools.train.commission_model (used by `commission`) runs the same Commissioner."""
    from device import features
    from host_tools import train

    ex = features.from_recipe(small_model["features"])
    rs = np.random.RandomState(9)
    m = small_model["modes"][0]
    feats = _stream(rs, 80, np.asarray(m["mean"]) + 0.7, np.asarray(m["scale"]))
    new, com = train.commission_model(small_model, feats, fit_share=0.5, mode=m["name"])
    assert com.updated == [m["name"]]
    nm = new["modes"][0]
    assert nm["threshold_source"] == "commissioning"
    np.testing.assert_allclose(nm["mean"], feats[:40].astype(np.float64).mean(axis=0), atol=1e-4)
    assert new["modes"][1] == small_model["modes"][1]
    assert ex.size == len(nm["mean"])
