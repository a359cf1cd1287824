"""The moved-sensor stand-in (host_tools.modeling.moved_sensor) and what commissioning
at the new position gives on a synthetic machine."""

from __future__ import annotations

import numpy as np

from host_tools.modeling import moved_sensor as ms


def test_position_is_a_fixed_transform_with_its_own_resonance_and_noise():
    rs = np.random.RandomState(0)
    a, b = ms.Position.random(rs, 0.01), ms.Position.random(rs, 0.01)
    assert np.allclose(a.rotation @ a.rotation.T, np.eye(3), atol=1e-9)  # a rotation
    assert a.res_freq != b.res_freq and a.noise != b.noise
    win = np.random.RandomState(1).randn(3, 256).astype(np.float32) + np.array([[0], [0.2], [1.0]], dtype=np.float32)
    y1 = a.apply(win, np.random.RandomState(5))
    y2 = a.apply(win, np.random.RandomState(5))
    assert y1.shape == win.shape and np.array_equal(y1, y2)
    assert np.allclose(y1.mean(axis=1), win.mean(axis=1), atol=0.05)  # gravity stays where it was
    assert not np.allclose(y1, win, atol=0.05)


def test_commissioning_carries_a_synthetic_machine_to_a_new_position():
    """Trained at three positions, used at a fourth: after commissioning on 120 windows
    each mode's false alarms stay within 2% at a stated 1%, and every anomaly kind is
    detected in at least 90% of its windows."""
    res = ms.synthetic(1, 120)
    assert res["refused"] == []
    for name, m in res["modes"].items():
        assert m["after"] <= 0.02, (name, m)
    for a, d in res["anomalies"].items():
        assert d["after"] >= 0.9, (a, d)
    text = ms.text("synthetic", res)
    assert "before" in text and "after" in text and "slow imbalance" in text
