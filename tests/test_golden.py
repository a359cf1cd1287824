"""Golden vectors (tests/golden/golden.json) and the board self-test.

- The current device/ code, given the stored model and windows, reproduces every stored
  feature, raw score, ratio, mode and contribution, within make_golden.EXPECTED_RTOL
  (32 units in the last place of the board's float, against the array's magnitude).
- tests/make_golden.py regenerates the same document (training included), so changing
  the file is a deliberate act: `python tests/make_golden.py`, review the diff, commit.
  The comparison passes when every feature moves by 2 float32 last places (another CPU
  or BLAS build) and fails when a feature's math changes in its 4th digit.
- tests/board_selftest.py prints PASS on this machine, FAIL when the golden file
  disagrees with the code (or is missing), and runs the way it will on a board: no
  __file__, cwd = the board's root, golden file at /golden.json.
"""

from __future__ import annotations

import copy
import json
import os
import shutil

import numpy as np
import pytest

import make_golden
from conftest import ROOT, TESTS, require_tool, run_py
from device import detectors, features, model, xp

GOLDEN = os.path.join(TESTS, "golden", "golden.json")
SELFTEST = os.path.join(TESTS, "board_selftest.py")
RTOL = make_golden.EXPECTED_RTOL


@pytest.fixture(scope="module")
def golden():
    with open(GOLDEN, encoding="utf-8") as f:
        return json.load(f)


def test_golden_file_shape(golden):
    assert golden["format"] == make_golden.FORMAT
    names = [c["name"] for c in golden["cases"]]
    assert names == ["accel-mahalanobis", "scalar-zscore"]
    accel = golden["cases"][0]
    assert len(accel["windows"]) == len(make_golden.ACCEL_WINDOWS) == len(accel["expected"])
    assert [len(r) for r in accel["windows"][0]] == [200, 200, 200]
    assert len(accel["model"]["modes"]) == 2
    # normal windows fit their own mode; the coin-on-blade windows are anomalies
    exp = accel["expected"]
    assert [e["mode_name"] for e in exp[:4]] == ["fan_0_low_0_weight"] * 2 + ["fan_0_med_0_weight"] * 2
    assert all(e["ratio"] < 1.0 for e in exp[:4]) and all(e["ratio"] > 1.0 for e in exp[4:6])
    scalar = golden["cases"][1]["expected"]
    assert scalar[0]["ratio"] < 1.0 and scalar[2]["ratio"] > 1.0
    # small enough to json.load on a board without PSRAM
    assert os.path.getsize(GOLDEN) < 150_000


def test_golden_models_are_valid_model_files(golden):
    for case in golden["cases"]:
        doc = case["model"]
        model.validate(doc)
        assert model.loads(model.dumps(doc))["modes"] == doc["modes"]
        assert features.from_recipe(doc["features"]).names == doc["features"]["names"]


@pytest.mark.parametrize("case_index", [0, 1])
def test_current_code_reproduces_golden(golden, case_index):
    case = golden["cases"][case_index]
    doc = case["model"]
    ex = features.from_recipe(doc["features"])
    det = detectors.from_model(doc)
    for k, (win, want) in enumerate(zip(case["windows"], case["expected"])):
        where = f"{case['name']} window {k} ({case['source'][k]})"
        x = ex.compute(xp.array(win))
        np.testing.assert_allclose(np.asarray(x, dtype=np.float64), want["features"], rtol=RTOL,
                                   atol=RTOL * max(abs(v) for v in want["features"]), err_msg=where + ": features")
        raws = [det.raw(x, i) for i in range(len(det.mode_names))]
        np.testing.assert_allclose(raws, want["raw"], rtol=RTOL, atol=RTOL * max(abs(v) for v in want["raw"]),
                                   err_msg=where + ": raw scores")
        ratio, mode = det.score(x)
        assert mode == want["mode"] and det.mode_names[mode] == want["mode_name"], where
        assert ratio == pytest.approx(want["ratio"], rel=RTOL), where
        np.testing.assert_allclose(np.asarray(det.contributions(x, mode), dtype=np.float64), want["contributions"],
                                   rtol=RTOL, atol=RTOL * max(1.0, abs(want["raw"][mode])),
                                   err_msg=where + ": contributions")
        if doc["detector"] == "mahalanobis":  # shares of d^2 sum to d^2
            assert sum(want["contributions"]) == pytest.approx(want["raw"][mode], rel=1e-4, abs=1e-4)
        else:  # |z| per feature, the largest is the score
            assert max(want["contributions"]) == pytest.approx(want["raw"][mode], rel=1e-6)


def test_make_golden_reproduces_the_file(golden):
    diffs = make_golden.compare(golden, make_golden.build())
    assert not diffs, ("tests/golden/golden.json is out of date: regenerate with "
                       "`python tests/make_golden.py` if the change is intended\n" + "\n".join(diffs[:20]))


@pytest.mark.parametrize("seed", [0, 1])
def test_make_golden_matches_on_another_cpu(golden, seed):
    """Another CPU or BLAS build: every feature vector, for training and for the expected
    values, 2 float32 units in the last place off. The file still matches."""
    diffs = make_golden.compare(golden, make_golden.build(jitter_ulps=2, seed=seed))
    assert not diffs, "\n".join(diffs[:20])


def test_make_golden_catches_a_small_change_to_a_feature(golden, monkeypatch):
    """The same comparison fails when one feature's math changes in its 4th digit."""
    k = golden["cases"][0]["model"]["features"]["names"].index("kurtosis_x")
    compute = features.AccelFeatures.compute

    def changed(self, w):
        x = compute(self, w)
        x[k] = x[k] * 1.0001
        return x

    monkeypatch.setattr(features.AccelFeatures, "compute", changed)
    diffs = make_golden.compare(golden, make_golden.build())
    assert any(f"/features[{k}]:" in d for d in diffs), diffs[:5]
    assert all(d.startswith("/cases[0]/") for d in diffs)  # the scalar case has no kurtosis


def test_make_golden_writer_round_trips(golden):
    text = make_golden.dumps(golden)
    assert json.loads(text) == golden
    with open(GOLDEN, encoding="utf-8") as f:
        assert f.read() == text  # the file is exactly what the writer produces


def test_compare_notices_changes(golden):
    g = copy.deepcopy(golden)
    g["cases"][0]["expected"][2]["features"][5] *= 1.001
    g["cases"][1]["model"]["modes"][0]["threshold"] += 1
    g["cases"][0]["expected"][0]["mode"] = 1
    diffs = make_golden.compare(golden, g)
    assert len(diffs) == 3


# ---- the board self-test ------------------------------------------------------------------

def _last_line(out: str) -> str:
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def test_selftest_imports_no_numpy():
    with open(SELFTEST, encoding="utf-8") as f:
        src = f.read()
    assert "import numpy" not in src and "from numpy" not in src


def test_selftest_passes_from_repo_root():
    r = run_py(["tests/board_selftest.py"])
    assert r.returncode == 0, r.stderr
    assert _last_line(r.stdout) == "PASS", r.stdout
    assert "array backend: numpy" in r.stdout
    for stage in ("features", "raw", "ratio", "contributions", "mode"):
        assert stage in r.stdout


def test_selftest_passes_from_another_cwd(tmp_path):
    r = run_py([SELFTEST], cwd=str(tmp_path))
    assert _last_line(r.stdout) == "PASS", r.stdout + r.stderr


def _corrupt(golden, tmp_path, fn) -> str:
    g = copy.deepcopy(golden)
    fn(g)
    p = tmp_path / "golden.json"
    p.write_text(json.dumps(g))
    return str(p)


def _scale(lst, i, f):
    lst[i] *= f


def _shift_contribution(exp, i, share):
    exp["contributions"][i] += share * exp["raw"][exp["mode"]]


CORRUPTIONS = {
    "feature off by 0.1%": lambda g: _scale(g["cases"][0]["expected"][3]["features"], 7, 1.001),
    "raw score off by 1%": lambda g: _scale(g["cases"][0]["expected"][1]["raw"], 1, 1.01),
    "ratio off by 1%": lambda g: g["cases"][1]["expected"][0].update(ratio=g["cases"][1]["expected"][0]["ratio"] * 1.01),
    "contribution moved": lambda g: _shift_contribution(g["cases"][0]["expected"][4], 0, 0.01),
    "wrong mode": lambda g: g["cases"][0]["expected"][0].update(mode=1),
    "input changed": lambda g: _scale(g["cases"][0]["windows"][2][0], 10, 1.5),
    "input overflows float32 (NaN/inf results)": lambda g: g["cases"][0]["windows"][1].__setitem__(
        0, [1e30 * (-1) ** i for i in range(200)]),
    "model threshold changed": lambda g: g["cases"][1]["model"]["modes"][0].update(
        threshold=g["cases"][1]["model"]["modes"][0]["threshold"] * 2),
    "invalid model": lambda g: g["cases"][0]["model"].update(version=99),
    "no cases": lambda g: g.update(cases=[]),
}


@pytest.mark.parametrize("what", sorted(CORRUPTIONS))
def test_selftest_fails_on_corrupted_golden(golden, tmp_path, what):
    path = _corrupt(golden, tmp_path, CORRUPTIONS[what])
    r = run_py([SELFTEST, path])
    assert _last_line(r.stdout) == "FAIL", r.stdout + r.stderr
    assert path in r.stdout


def test_selftest_fails_without_golden_file(tmp_path):
    missing = str(tmp_path / "missing.json")
    r = run_py([SELFTEST, missing], cwd=str(tmp_path))  # an explicit path is the only candidate
    assert _last_line(r.stdout) == "FAIL" and "golden file not found" in r.stdout and missing in r.stdout
    board = tmp_path / "board"
    shutil.copytree(os.path.join(ROOT, "device"), board / "device")
    src = open(SELFTEST, encoding="utf-8").read()
    r = run_py(["-c", src], cwd=str(board))  # no __file__, no golden anywhere
    assert _last_line(r.stdout) == "FAIL" and "golden file not found" in r.stdout


def test_selftest_reports_a_broken_golden_file(tmp_path):
    p = tmp_path / "golden.json"
    p.write_text('{"format": 1, "cases": [')
    r = run_py([SELFTEST, str(p)])
    assert _last_line(r.stdout) == "FAIL" and "error" in r.stdout


def _board_layout(tmp_path, golden_at: str) -> str:
    """A directory laid out like CIRCUITPY: /device/*.py and the golden file."""
    board = tmp_path / "board"
    shutil.copytree(os.path.join(ROOT, "device"), board / "device",
                    ignore=shutil.ignore_patterns("__pycache__"))
    dest = board / golden_at
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(GOLDEN, dest)
    return str(board)


@pytest.mark.parametrize("golden_at", ["golden.json", "tests/golden/golden.json"])
def test_selftest_runs_like_mpremote_run(tmp_path, golden_at):
    """`mpremote run` sends the source to the REPL: no __file__, cwd is the board root."""
    board = _board_layout(tmp_path, golden_at)
    src = open(SELFTEST, encoding="utf-8").read()
    r = run_py(["-c", src], cwd=board)
    assert _last_line(r.stdout) == "PASS", r.stdout + r.stderr
    assert "golden file: " + golden_at in r.stdout


def test_selftest_under_micropython_without_ulab_fails_cleanly(tmp_path):
    """On an interpreter without ulab the script still parses, finds the golden file and
    ends with FAIL and a reason (instead of a traceback)."""
    mp = require_tool("micropython")
    import subprocess

    board = _board_layout(tmp_path, "golden.json")
    shutil.copy(SELFTEST, os.path.join(board, "board_selftest.py"))
    env = dict(os.environ, MICROPYPATH=board + os.pathsep + ".frozen")
    src = open(SELFTEST, encoding="utf-8").read()
    for argv in (["board_selftest.py"], ["-c", src]):  # as a file, and as mpremote sends it (no __file__)
        r = subprocess.run([mp, *argv], cwd=board, env=env, capture_output=True, text=True, timeout=60)
        assert _last_line(r.stdout) == "FAIL", r.stdout + r.stderr
        assert "golden file: golden.json" in r.stdout
        assert "array backend: none (micropython)" in r.stdout
        assert "no ulab/numpy" in r.stdout
