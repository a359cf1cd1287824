"""Recordings and the command line: every bad input is exit code 2 and one line
`error: ...` on stderr naming the file; the scalar format works end to end; `simulate`
runs the board application over the bundled recordings."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from conftest import fan, run_py, cli_error
from device import model as model_mod
from host_tools.cli import main as cli
from host_tools.data import datasets
from host_tools.modeling import simulate


def _csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return path


def _accel_rows(n=200, seed=0):
    rs = np.random.RandomState(seed)
    return [(round(a, 6), round(b, 6), round(c, 6)) for a, b, c in rs.randn(n, 3) * 0.05 + [0, 0, 1]]


def _error(capsys, argv) -> str:
    return cli_error(capsys, argv)


# ---- bad inputs -----------------------------------------------------------------------

def test_missing_folder(capsys, tmp_path):
    missing = str(tmp_path / "no-such-folder")
    line = _error(capsys, ["train", "--normal", missing, "--out", str(tmp_path / "m.json"), "--quiet"])
    assert missing in line and "no such folder" in line


def test_empty_folder(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a recording")
    line = _error(capsys, ["train", "--normal", str(empty), "--out", str(tmp_path / "m.json"), "--quiet"])
    assert str(empty) in line and "no .csv files" in line


def test_ragged_csv(capsys, tmp_path):
    rows = _accel_rows()
    rows[41] = rows[41][:2]
    bad = _csv(tmp_path / "rec" / "0001.csv", rows)
    _csv(tmp_path / "rec" / "0000.csv", _accel_rows(seed=1))
    line = _error(capsys, ["train", "--normal", str(tmp_path / "rec"), "--out", str(tmp_path / "m.json"), "--quiet"])
    assert str(bad) in line and "line 42 has 2 columns, expected 3" in line


def test_non_numeric_value(capsys, tmp_path):
    rows = _accel_rows()
    rows[9] = (rows[9][0], "n/a", rows[9][2])
    bad = _csv(tmp_path / "rec" / "0000.csv", rows)
    line = _error(capsys, ["train", "--normal", str(tmp_path / "rec"), "--out", str(tmp_path / "m.json"), "--quiet"])
    assert str(bad) in line and "line 10" in line and "non-numeric value 'n/a'" in line


def test_non_finite_value(capsys, tmp_path):
    rows = _accel_rows()
    rows[0] = (rows[0][0], "nan", rows[0][2])
    bad = _csv(tmp_path / "rec" / "0000.csv", rows)
    line = _error(capsys, ["train", "--normal", str(tmp_path / "rec"), "--out", str(tmp_path / "m.json"), "--quiet"])
    assert str(bad) in line and "non-finite" in line


def test_window_longer_than_file(capsys, tmp_path):
    line = _error(capsys, ["train", "--normal", fan("fan_0_low_0_weight"), "--window", "400",
                           "--out", str(tmp_path / "m.json"), "--quiet"])
    assert fan("fan_0_low_0_weight") in line and "shorter than the window of 400" in line


def test_too_few_windows_to_fit_a_mode(capsys, tmp_path):
    for i in range(5):
        _csv(tmp_path / "tiny" / f"{i:04d}.csv", _accel_rows(seed=i))
    line = _error(capsys, ["train", "--normal", str(tmp_path / "tiny"), "--out", str(tmp_path / "m.json"), "--quiet"])
    assert "'tiny'" in line and "windows to fit, need at least 10" in line


@pytest.mark.parametrize("content", [b"", b"not json at all", b'{"checksum": "sha256:' + b"0" * 64 + b'", "x": 1}'])
def test_corrupt_model_passed_to_score(capsys, tmp_path, content):
    bad = tmp_path / "model.json"
    bad.write_bytes(content)
    line = _error(capsys, ["score", "--model", str(bad), fan("fan_0_low_0_weight")])
    assert str(bad) in line


def test_missing_model_passed_to_simulate(capsys, tmp_path):
    missing = str(tmp_path / "none.json")
    line = _error(capsys, ["simulate", "--model", missing, "--data", fan("fan_0_low_0_weight"), "--quiet"])
    assert missing in line and "not found" in line


def test_error_line_starts_its_own_line_after_progress(tmp_path):
    """Without --quiet a progress counter runs on stderr; an error after some files must
    still be a line of its own that starts with 'error: '. (A subprocess: the progress
    stream is bound to sys.stderr at import time, out of capsys' reach.)"""
    for i in range(3):
        _csv(tmp_path / "rec" / f"{i:04d}.csv", _accel_rows(seed=i))
    rows = _accel_rows(seed=9)
    rows[5] = rows[5][:1]
    _csv(tmp_path / "rec" / "0003.csv", rows)
    r = run_py(["-m", "host_tools", "train", "--normal", str(tmp_path / "rec"), "--out", str(tmp_path / "m.json")])
    assert r.returncode == 2, r.stderr
    assert "rec: 3/4" in r.stderr  # the progress counter did run
    lines = [ln for ln in r.stderr.split("\n") if ln.strip()]
    last = lines[-1].split("\r")[-1]
    assert last.startswith("error: "), f"error is not on a line of its own: {r.stderr!r}"


def test_reader_header_and_shapes(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("timestamp,value\n0,21.5\n1,21.6\n\n2,21.7\n")
    rec = datasets.read_recording(str(p), "scalar")
    assert rec.shape == (1, 3) and rec[0, 2] == pytest.approx(21.7)
    wins = datasets.cut_windows(rec, 2, str(p))
    assert len(wins) == 1 and wins[0].dtype == np.float32
    with pytest.raises(datasets.DataError, match="no data rows"):
        q = tmp_path / "h.csv"
        q.write_text("timestamp,value\n")
        datasets.read_recording(str(q), "scalar")


# ---- scalar stream: timestamp,value -------------------------------------------------------

def _temperature_folder(root, files=4, rows=120, seed=0, hot=False):
    rs = np.random.RandomState(seed)
    folder = root
    folder.mkdir(parents=True, exist_ok=True)
    t0 = 1_700_000_000
    for f in range(files):
        lines = ["timestamp,value"]
        for r in range(rows):
            k = f * rows + r
            v = 21.0 + 0.3 * np.sin(k / 50.0) + 0.05 * rs.randn()
            if hot and r >= rows // 2:
                v += 5.0
            lines.append(f"{t0 + k},{v:.3f}")
        (folder / f"{f:04d}.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_scalar_stream_trains_zscore_and_scores(capsys, tmp_path):
    normal = _temperature_folder(tmp_path / "room")
    out = tmp_path / "temp.json"
    rc = cli.main(["train", "--sensor", "scalar", "--detector", "zscore", "--window", "1", "--rate", "1",
                   "--normal", str(normal), "--fa-rate", "0.01", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    doc = model_mod.load(str(out))
    assert doc["sensor"] == "scalar" and doc["detector"] == "zscore"
    assert doc["features"]["names"] == ["value"] and "inv_cov" not in doc["modes"][0]
    capsys.readouterr()

    hot = _temperature_folder(tmp_path / "hot", files=1, seed=5, hot=True)
    rc = cli.main(["score", "--model", str(out), "--json", str(hot)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    rows = [json.loads(ln) for ln in cap.out.splitlines()]
    assert len(rows) == 120
    first, second = rows[:60], rows[60:]
    assert sum(r["anomaly"] for r in first) <= 3
    assert all(r["anomaly"] for r in second)
    assert all(r["top"][0][0] == "value" for r in rows)
    assert "windows over threshold" in cap.err


def test_scalar_stream_windowed_features(capsys, tmp_path):
    normal = _temperature_folder(tmp_path / "room", files=6, rows=160)
    out = tmp_path / "temp.json"
    rc = cli.main(["train", "--sensor", "scalar", "--detector", "mahalanobis", "--window", "8", "--rate", "1",
                   "--normal", str(normal), "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    doc = model_mod.load(str(out))
    assert doc["features"]["names"] == ["mean", "std", "slope"]


# ---- end to end: simulate the board on bundled data ----------------------------------------

def test_simulate_held_out_normal_windows_do_not_alarm(fan_model_path):
    files = datasets.list_csv(fan("fan_0_med_0_weight"))[-25:]  # never used for fitting
    app, box, alert = simulate.run(fan_model_path, files, echo=False)
    starts = [p for p in box.items if p.get("event") == "anomaly_start"]
    assert app.windows == 25 and app.faults == 0
    assert starts == [] and app.state == "normal"


def test_simulate_anomaly_folder_raises_an_alarm_with_explanations(fan_model_path):
    app, box, alert = simulate.run(fan_model_path, [fan("fan_0_low_1_weight")], echo=False)
    starts = [p for p in box.items if p.get("event") == "anomaly_start"]
    assert app.windows == 100 and len(starts) >= 1
    ev = starts[0]
    assert ev["anomaly"] is True and ev["score"] > 1.0 and ev["window"] <= 5
    assert ev["mode"] in ("fan_0_low_0_weight", "fan_0_med_0_weight")
    top = ev["top"]
    assert len(top) == 3 and all(isinstance(n, str) and isinstance(v, float) for n, v in top)
    assert top[0][1] >= top[1][1] >= top[2][1]
    assert "anomaly" in alert.changes


def test_simulate_payload_times_follow_the_windows(fan_model_path):
    """Each window is window/rate seconds of signal: the payload time of window k is
    k * window / rate, however many payloads were sent before it."""
    doc = model_mod.load(fan_model_path)
    step = doc["features"]["window"] / doc["features"]["rate"]
    app, box, alert = simulate.run(fan_model_path, [fan("fan_0_low_1_weight")], heartbeat=10, echo=False)
    for p in box.items:
        k = p.get("window", p.get("windows"))
        if k is not None:
            assert p["t"] == pytest.approx(k * step), p


def test_cli_simulate_prints_a_summary(capsys, fan_model_path):
    rc = cli.main(["simulate", "--model", fan_model_path, "--data", fan("fan_0_low_1_weight"), "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("simulated 100 windows:") and "alarm(s)" in last
    n_alarms = int(last.split(":")[1].split()[0])
    assert n_alarms >= 1


def test_cli_score_on_bundled_data(capsys, fan_model_path):
    rc = cli.main(["score", "--model", fan_model_path, "--json", fan("fan_0_high_1_weight")])
    cap = capsys.readouterr()
    assert rc == 0
    rows = [json.loads(ln) for ln in cap.out.splitlines()]
    assert len(rows) == 100 and sum(r["anomaly"] for r in rows) >= 90
    assert os.path.basename(rows[0]["file"]) == "0000.csv"
