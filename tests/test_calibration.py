"""Thresholds across sessions (host_tools.modeling.calibration): leave-one-session-out scores,
within/across supported rates, session gaps, installations tested after commissioning."""

from __future__ import annotations

import json

import numpy as np
import pytest

from device import detectors, threshold
from host_tools.modeling import calibration, train
from host_tools.data.datasets import DataError


def _sessions(rs, k, n, dim=6, between=1.0):
    """k sessions of n windows: each session's centre is offset (between-session spread),
    windows vary around it (within-session spread 1)."""
    return [(rs.randn(n, dim) + between * rs.randn(dim)).astype(np.float32) for _ in range(k)]


class _Ex:
    kind = "accel"

    def recipe(self):
        return {"kind": "accel", "window": 200, "rate": 200.0, "bands": 1, "axes": 3, "n_fft": 256,
                "names": [f"f{i}" for i in range(6)]}


def _model(sessions, across: bool):
    fit = np.concatenate([s[: int(0.75 * len(s))] for s in sessions])
    cal = np.concatenate([s[int(0.75 * len(s)):] for s in sessions])
    return train.build_model(_Ex(), "mahalanobis", [("m", fit)], [(cal, 0)], 0.01,
                             session_windows=[sessions] if across else None)


def test_split_sessions_at_gaps():
    t = np.array([0, 1, 2, 100, 101, 500, np.nan, 501.0])
    assert list(calibration.split_sessions(t, 10)) == [0, 0, 0, 1, 1, 2, 2, 2]
    assert list(calibration.split_sessions(t, None)) == [0] * 8
    assert list(calibration.split_sessions(None, 10)) == []


def test_supported_at_agrees_with_choose():
    rs = np.random.RandomState(1)
    for n in (40, 120, 400):
        s = rs.exponential(size=n)
        t, sup, _ = threshold.choose(s, 0.01)
        assert threshold.supported_at(s, t) == pytest.approx(sup, rel=1e-6)
        assert threshold.supported_at(s, 2 * t) < sup  # higher line, lower rate


def test_across_session_threshold_holds_on_new_sessions():
    """Trained on 6 sessions, tested on 6 new ones, over 8 draws: the within-session
    threshold raises several times the stated 1% on new sessions; the across-session one
    stays near it (a new session can still differ more than the 6 seen: single draws
    reach 2-7%)."""
    within_r, across_r = [], []
    for seed in range(8):
        rs = np.random.RandomState(seed)
        train_s = _sessions(rs, 6, 150)
        new = _sessions(rs, 6, 300)
        within = _model(train_s, across=False)
        across = _model(train_s, across=True)
        m = across["modes"][0]
        assert m["sessions"] == 6 and m["fa_supported_across"] is not None
        assert m["fa_supported"] == max(m["fa_supported_within"], m["fa_supported_across"])
        assert m["threshold"] >= within["modes"][0]["threshold"]
        for doc, out in ((within, within_r), (across, across_r)):
            det = detectors.from_model(doc)
            out.append(float(np.mean([det.score(x)[0] > 1.0 for s in new for x in s])))
    assert np.mean(within_r) > 0.04 and np.mean(across_r) < 0.02
    assert np.mean(within_r) > 2.5 * np.mean(across_r)
    lines = calibration.rates_text(across)
    assert "across sessions" in lines[0] and "6 sessions" in lines[0]
    assert "within-session only" in calibration.rates_text(within)[0]


def test_train_cli_sessions_and_installations(tmp_path, capsys):
    from conftest import fan
    from host_tools.cli import main as cli

    out = tmp_path / "m.json"
    rc = cli.main(["train", "--normal", fan("fan_0_off_0_weight"), fan("fan_0_low_0_weight"),
                   "--session", f"fan_0_low_0_weight={fan('fan_0_low_0_weight-moving')}",
                   "--installation", f"fan_0_low_0_weight={fan('fan_0_low-deploy')}",
                   "--out", str(out)])  # the rates text is read: not --quiet
    text = capsys.readouterr().out
    assert rc == 0
    doc = json.load(open(out))
    off, low = doc["modes"]
    assert off.get("fa_supported_across") is None and low["sessions"] == 2
    assert low["fa_supported_across"] is not None and low["n_threshold_across"] == 200
    assert "within-session only" in text and "across sessions" in text
    inst = doc["training"]["installations"][0]
    assert inst["session"] == "fan_0_low-deploy" and inst["mode"] == "fan_0_low_0_weight"
    assert inst["refused"] is None and inst["tested"] == 70 and "installation fan_0_low-deploy" in text


@pytest.mark.parametrize("opt,value,msg", [("--session", "nomode", "give MODE=DIR"),
                                           ("--installation", "other=x", "is not a mode")])
def test_train_cli_bad_session_option(tmp_path, capsys, opt, value, msg):
    from conftest import fan
    from host_tools.cli import main as cli

    rc = cli.main(["train", "--normal", fan("fan_0_low_0_weight"), opt, value,
                   "--out", str(tmp_path / "m.json"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and opt in err


def test_within_session_fit_learns_the_spread_inside_a_session():
    """Sessions offset along one direction (a sensor moved) around the same within-session
    noise: with the sessions given, the mode's scale and correlation are the within-session
    ones (what commissioning's re-learnt location leaves), not the offsets'; without them
    the offsets inflate the scale and correlate the features."""
    rs = np.random.RandomState(3)
    mix = np.eye(6)
    mix[0, 1] = 0.8  # within a session, f1 follows f0
    offset_dir = np.array([1.0, -1.0, 1.0, 0, 0, 0])
    sessions = [(rs.randn(400, 6) @ mix + 6.0 * rs.randn() * offset_dir).astype(np.float32) for _ in range(4)]
    pooled = train.fit_mode("m", np.concatenate(sessions), "mahalanobis", shrinkage=0.0)
    within = train.fit_mode("m", np.concatenate(sessions), "mahalanobis", shrinkage=0.0, sessions=sessions)
    dev = np.concatenate([s - s.mean(0) for s in sessions]).astype(np.float64)
    assert np.allclose(within["scale"], dev.std(0, ddof=4), rtol=1e-3)
    assert np.all(np.asarray(pooled["scale"])[:3] > 2 * np.asarray(within["scale"])[:3])
    z = dev / np.asarray(within["scale"])
    corr = z.T @ z / (len(z) - 1)
    assert np.allclose(np.linalg.inv(np.asarray(within["inv_cov"])), corr, atol=2e-3)
    assert np.allclose(within["mean"], np.concatenate(sessions).mean(0), atol=1e-4)
    # one session (or sessions of one window) is the plain fit
    one = train.fit_mode("m", sessions[0], "mahalanobis", shrinkage=0.0, sessions=[sessions[0], sessions[1][:1]])
    assert one["scale"] == train.fit_mode("m", sessions[0], "mahalanobis", shrinkage=0.0)["scale"]


def test_across_session_threshold_holds_with_the_within_session_fit():
    """As train does with several sessions (fit_groups): the within-session fit, with the
    threshold calibrated leave-one-session-out, still holds on new sessions before any
    commissioning (8 draws of 6 sessions; measured 1.3% mean at a stated 1%)."""
    rates = []
    for seed in range(8):
        rs = np.random.RandomState(seed)
        train_s = _sessions(rs, 6, 150)
        new = _sessions(rs, 6, 300)
        fit = [s[: int(0.75 * len(s))] for s in train_s]
        cal = np.concatenate([s[int(0.75 * len(s)):] for s in train_s])
        doc = train.build_model(_Ex(), "mahalanobis", [("m", np.concatenate(fit))], [(cal, 0)], 0.01,
                                session_windows=[train_s], fit_groups=[fit])
        assert doc["training"]["within_session_fit"] == ["m"]
        det = detectors.from_model(doc)
        rates.append(float(np.mean([det.score(x)[0] > 1.0 for s in new for x in s])))
    assert np.mean(rates) < 0.02


def test_axis_allowance_is_a_prediction_bound_over_the_sessions():
    """Two modes on one axis; three sessions of mode 0 shifted along it by known amounts:
    the limit is Student's t (95%, 3 dof) x their rms shift x sqrt(1 + 1/3), and never
    under twice the largest shift; one session, or shifts inside the default, give None."""
    from scipy import stats

    from device import commission

    dim = 4
    modes = [{"name": "a", "mean": [0.0] * dim, "scale": [1.0] * dim},
             {"name": "b", "mean": [10.0] + [0.0] * (dim - 1), "scale": [1.0] * dim}]
    shifts = [0.0, 1.0, 2.0]  # along the axis, in the units of the axis (length 10)
    sessions = [np.tile([s] + [0.0] * (dim - 1), (20, 1)) for s in shifts]
    lim = calibration.axis_allowance(modes, 0, sessions)
    ts = [(s - np.mean([o for o in shifts if o != s])) / 10.0 for s in shifts]
    rms = np.sqrt(np.mean(np.square(ts)))
    want = max(2 * max(ts), stats.t.ppf(0.975, 3) * rms * np.sqrt(4 / 3))
    assert lim == pytest.approx(want, abs=1e-4) and lim > commission.AXIS_LIMIT
    assert calibration.axis_allowance(modes, 0, sessions[:1]) is None
    small = [np.tile([s / 20] + [0.0] * (dim - 1), (20, 1)) for s in shifts]
    assert calibration.axis_allowance(modes, 0, small) is None
