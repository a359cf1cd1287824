"""Garbage is never normal: non-finite or impossible samples are bad data, not scores.

A window with one huge sample (1e10 g overflows float32 in the kurtosis term) or a NaN
must be counted and reported with its own status and NeoPixel colour, must never reach
the decision (neither to trigger nor to clear an alarm), and no payload may carry NaN or
Infinity (JSON has neither). Also: a commissioning the board refuses keeps the trained
model and says why.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from device import alerts, app as app_mod, features, model as model_mod
from device.appconfig import AppConfig
from device.sensors import ReplaySensor
from host_tools.data import datasets
from conftest import DATA


class Box:
    def __init__(self):
        self.items = []

    def put(self, p):
        # what a transport would send: must be strict JSON
        json.dumps(p, allow_nan=False)
        self.items.append(dict(p))
        return True

    def states(self):
        return [p.get("state") for p in self.items if p.get("type") == "status"]


class Pixel:
    def __init__(self):
        self.states = []

    def set_state(self, s):
        self.states.append(s)

    def tick(self, now):
        pass


def _windows(folder, ex, n):
    return [w for _, _, w in datasets.windows_of_paths([os.path.join(DATA, folder)], ex)][:n]


@pytest.fixture(scope="module")
def fan(fan_model_path):
    doc = model_mod.load(fan_model_path)
    ex = features.from_recipe(doc["features"])
    return fan_model_path, _windows("fan_0_low_0_weight", ex, 30), _windows("fan_0_low_1_weight", ex, 20)


def _spoil(w, value, where=(0, 17)):
    w = np.array(w, dtype=np.float32)
    w[where] = value
    return w


@pytest.mark.parametrize("value", [1e10, 1e30, float("nan"), float("inf"), -float("inf"), 5000.0])
def test_feature_extractor_flags_garbage(fan, value):
    path, normal, _ = fan
    ex = features.from_recipe(model_mod.load(path)["features"])
    ex.compute(_spoil(normal[0], value))
    assert not ex.ok
    x = np.array(ex.compute(normal[1]))  # the next good window is unaffected
    assert ex.ok and np.all(np.isfinite(x))
    ref = features.from_recipe(model_mod.load(path)["features"])
    np.testing.assert_array_equal(x, np.array(ref.compute(normal[1])))


def test_one_huge_sample_is_bad_data_not_normal(fan):
    path, normal, _ = fan
    windows = normal[:10] + [_spoil(normal[10], 1e10)] + normal[11:20]
    box, pix = Box(), Pixel()
    a = app_mod.App(ReplaySensor(windows), model_mod.load(path), AppConfig(heartbeat_every=5), outbox=box,
                    alerts=[pix])
    a.run()
    assert a.bad == 1 and a.windows == 20
    assert alerts.BAD_DATA in box.states() and "recovered" in box.states()
    assert alerts.BAD_DATA in pix.states and pix.states[-1] == alerts.NORMAL
    assert alerts.PIXEL_PATTERNS[alerts.BAD_DATA][0] not in (
        alerts.PIXEL_PATTERNS[s][0] for s in (alerts.NORMAL, alerts.ANOMALY, alerts.FAULT))
    beats = [p for p in box.items if p["type"] == "heartbeat"]
    assert beats and all(b["score"] is None or np.isfinite(b["score"]) for b in beats)
    assert beats[-1]["bad"] == 1


def test_garbage_inside_an_anomaly_does_not_hide_it(fan):
    """The review's case: a coin anomaly plus one 1e10 sample gave 0 alarms."""
    path, normal, weight = fan
    windows = normal[:10] + weight[:5] + [_spoil(weight[5], 1e10)] + weight[6:15]
    box = Box()
    a = app_mod.App(ReplaySensor(windows), model_mod.load(path), outbox=box)
    a.run()
    starts = [p for p in box.items if p.get("event") == "anomaly_start"]
    assert len(starts) == 1 and a.bad == 1


def test_persistent_garbage_escalates_to_fault(fan):
    path, normal, _ = fan
    windows = normal[:3] + [_spoil(w, float("nan")) for w in normal[3:10]] + normal[10:14]
    box = Box()
    a = app_mod.App(ReplaySensor(windows), model_mod.load(path), AppConfig(retries=3), outbox=box)
    a.run()
    st = box.states()
    assert alerts.BAD_DATA in st and alerts.FAULT in st and st[-1] == "recovered"
    assert a.bad == 7 and a.state == alerts.NORMAL


def test_nan_score_is_bad_data(fan):
    """Even if features slipped through, a non-finite score is never 'ok'."""
    path, normal, _ = fan
    box = Box()
    a = app_mod.App(ReplaySensor(normal[:6]), model_mod.load(path), outbox=box)

    real = a.detector.score
    calls = []

    def score(x):
        calls.append(1)
        return (float("nan"), 0) if len(calls) == 3 else real(x)

    a.detector.score = score
    a.run()
    assert a.bad == 1 and alerts.BAD_DATA in box.states()


def test_payload_numbers_are_never_nan():
    assert app_mod.num(float("nan")) is None and app_mod.num(float("inf")) is None
    assert app_mod.num(1.234567) == 1.2346


def test_board_refuses_commissioning_off_mode_on_high_speed(tmp_path):
    """Commissioning the 'off' mode on high-speed data must not be adopted: the board
    keeps the trained values and reports why."""
    from host_tools.cli import main as cli

    out = str(tmp_path / "model.json")
    assert cli.main(["train", "--normal", os.path.join(DATA, "fan_0_off_0_weight"),
                     os.path.join(DATA, "fan_0_low_0_weight"), os.path.join(DATA, "fan_0_high_0_weight"),
                     "--out", out, "--quiet"]) == 0
    doc = model_mod.load(out)
    ex = features.from_recipe(doc["features"])
    high = _windows("fan_0_high_1_weight", ex, 40)
    box = Box()
    lines = []
    config = AppConfig(commission_windows=30, commission_mode="fan_0_off_0_weight")
    a = app_mod.App(ReplaySensor(high), doc, config, outbox=box, log=lines.append)
    trained = a.detector.mode_params(0)
    a.run()
    refused = [p for p in box.items if p.get("state") == "commission_refused"]
    assert len(refused) == 1 and refused[0]["error"]
    assert "commissioned" not in box.states()
    assert a.detector.mode_params(0) == trained
    assert any("NOT adopted" in ln for ln in lines)
    assert a.snapshot()["modes"] == []  # nothing persisted: the next start commissions again
