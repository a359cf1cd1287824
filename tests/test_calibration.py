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
