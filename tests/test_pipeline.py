"""One training pipeline for every sensor (host_tools.modeling.pipeline): accelerometer,
scalar and thermal training all go through pipeline.run with their plug-in, and share one
split (--test, --holdout, --calibrate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import recording_cases as rc
from conftest import cli_error
from host_tools.cli import main as cli
from host_tools.modeling import pipeline, thermal_train


@pytest.fixture
def runs(monkeypatch):
    """Every pipeline.split call: (plugin class name, test parts, fit sizes, calibration sizes)."""
    seen = []
    real = pipeline.split

    def spy(a, plugin, sets, calib_sets):
        sp = real(a, plugin, sets, calib_sets)
        seen.append((type(plugin).__name__, [len(t) for _, _, t in sp.tests],
                     [sum(len(p) for p in parts) for _, parts in sp.fit], [len(c) for c, _ in sp.calib]))
        return sp

    monkeypatch.setattr(pipeline, "split", spy)
    return seen


def test_accel_scalar_and_thermal_train_through_the_pipeline(capsys, tmp_path, runs):
    rc.plain_accel(str(tmp_path / "a"), n=8000)  # 40 windows of 200 samples
    assert cli.main(["train", "--normal", str(tmp_path / "a"), "--out", str(tmp_path / "a.json"),
                     "--test", "0.2"]) == 0  # the messages are read below: not --quiet
    rc.step_back_series(str(tmp_path / "s"), back_at=600)
    assert cli.main(["train", "--sensor", "scalar", "--rate", "5min", "--window", "12",
                     "--normal", str(tmp_path / "s"), "--out", str(tmp_path / "s.json")]) == 0
    normal, cal = rc.thermal_pipes(str(tmp_path / "t"))
    assert cli.main(["train", "--sensor", "thermal", "--normal", *normal, "--calibrate", *cal,
                     "--out", str(tmp_path / "t.json")]) == 0
    out = capsys.readouterr().out
    assert [r[0] for r in runs] == ["AccelPlugin", "AccelPlugin", "ThermalPlugin"]
    accel = runs[0]
    # 40 windows: the last 20% (8) tested, 25% of the 40 (10) held out of the 32 left, 22 fit
    assert accel[1] == [8] and accel[2] == [22] and accel[3] == [10]
    assert runs[2][2] == [120, 120, 120] and runs[2][3] == [40, 40, 40]  # --calibrate: every frame fits
    # the same messages for every sensor, in its unit
    assert "  mode a: 22 fit windows, threshold " in out
    assert "  mode pipe_cold: 120 fit frames, threshold " in out
    assert json.load(open(tmp_path / "a.json"))["training"]["test"][0]["windows"] == 8


def test_one_split_time_ordered_and_blocks():
    s = pipeline.FrameSet("m", np.zeros((100, 2, 2)))
    fit, held = pipeline.holdout_masks(s, 0.25)
    assert fit.sum() == 75 and held[75:].all() and not held[:75].any()  # the last quarter
    fit, held = pipeline.holdout_masks(s, 0.25, block_rate=8.0)
    # 100 frames at 8 frames/s: blocks of 8 frames (3 held-out blocks at least), every 4th held out
    assert held.sum() == 24 and held[24:32].all() and not held[:24].any() and (fit == ~held).all()
    before, after = s.split_time(0.8, 0.2)
    assert len(before) == 80 and len(after) == 20
    assert thermal_train.build.__module__ == "host_tools.modeling.thermal_train"


def test_thermal_refuses_accel_only_session_options(capsys, tmp_path):
    normal, _ = rc.thermal_pipes(str(tmp_path), frames=30, calib=0)
    line = cli_error(capsys, ["train", "--sensor", "thermal", "--normal", *normal, "--session",
                              f"pipe_cold={normal[0]}", "--out", str(tmp_path / "m.json")])
    assert line.startswith("error: --session: not for --sensor thermal")
