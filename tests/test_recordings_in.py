"""Real recordings made by other people (issue 16): messy clocks, other layouts, huge or
binary files, thermal data with dates. Each case is built by tests/recording_cases.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

import recording_cases as rc
from conftest import cli_error
from host_tools.cli import main as cli
from host_tools.data import datasets, readers


def _train(capsys, argv) -> tuple[int, str, str]:
    rc_ = cli.main(["train", *argv])
    out, err = capsys.readouterr()
    return rc_, out, err


# ---- clocks ---------------------------------------------------------------------------

def test_55_minute_step_back_splits_with_a_note_and_trains(capsys, tmp_path):
    rc.step_back_series(str(tmp_path / "boiler"), back_at=600)
    code, out, err = _train(capsys, ["--sensor", "scalar", "--rate", "5min", "--window", "12",
                                     "--normal", str(tmp_path / "boiler"), "--out", str(tmp_path / "m.json")])
    assert code == 0, err
    assert "boiler.csv: line 602 steps the clock back by 55 min (2021-03-03T01:55:00Z -> " \
           "2021-03-03T01:00:00Z): the recording is split there" in err
    # no window spans the step: 600 rows before it (50 windows), the rest after it
    s = datasets.load_session(str(tmp_path / "boiler"), "scalar", 1 / 300)
    assert s.streams[0].pieces[:2] == [(0, 600), (600, 1152)]
    refs = datasets.session_windows(s, 12)
    assert all(not (r.line - 2 < 600 < r.line - 2 + 12) for r, _ in refs)


def test_repeated_stamps_and_jumps_split_without_refusing(tmp_path):
    rows = [0, 1, 2, 2, 3, 4, 40, 41, 42]  # a repeat at line 5, a jump at line 8
    f = tmp_path / "s" / "a.csv"
    f.parent.mkdir()
    f.write_text("t,value\n" + "".join(f"{t},{i}\n" for i, t in enumerate(rows)))
    s = datasets.load_session(str(f.parent), "scalar", 1.0)
    assert s.streams[0].pieces == [(0, 3), (3, 6), (6, 9)]
    assert any("line 5 repeats line 4's time stamp" in n for n in s.notes)
    assert any("gap of 36 s" in n and "before line 8" in n for n in s.notes)


def test_100_hz_file_trained_at_200_hz_is_refused_with_the_rate_it_shows(capsys, tmp_path):
    rc.timed_accel(str(tmp_path / "r"), rate=100.0, seconds=60)
    line = cli_error(capsys, ["train", "--normal", str(tmp_path / "r"), "--rate", "200",
                              "--out", str(tmp_path / "m.json"), "--quiet"])
    assert "rec.csv: its time stamps step by 10 ms (a rate of 100 Hz) but the sample rate is 200 Hz: " \
           "give the rate that matches, e.g. --rate 100" in line


def test_rate_check_takes_rounded_stamps_at_their_mean_step(tmp_path):
    # 800 Hz stamped in whole ms: steps of 1 and 2 ms (median 1 ms, 25% off the period)
    t = np.floor(np.arange(400) * 1.25)
    f = tmp_path / "ms.csv"
    f.write_text("time_ms,x,y,z\n" + "".join(f"{v:.0f},0,0,1\n" for v in t))
    tab = readers.read(str(f), "accel", 800.0)
    assert tab.breaks == [] and len(tab.values) == 400


# ---- layouts: separators and decimal marks --------------------------------------------

@pytest.mark.parametrize("comma,header", [(False, False), (True, True), (False, True)])
def test_semicolon_csv_with_dot_or_comma_decimals_is_read_with_a_note(tmp_path, comma, header):
    f = rc.semicolon(str(tmp_path / "s"), comma, header=header, n=400)
    t = readers.read(f, "accel", 200.0)
    assert t.values.shape == (400, 3) and abs(t.values[:, 2].mean() - 1.0) < 0.05
    words = "semicolon-separated, decimal " + ("comma" if comma else "point")
    assert t.notes == [f"{f}: read as {words} (detected; --separator and --decimal set it)"]


def test_semicolon_error_names_the_layout_it_read(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("x;y;z\n0,1;0,2;1,0\n0,1;zz;1,0\n")
    with pytest.raises(readers.ReadError, match=r"line 3 has a non-numeric value 'zz' \(read as "
                                                 r"semicolon-separated, decimal comma: see --separator"):
        readers.read(str(f), "accel", 200.0)


def test_separator_and_decimal_given_as_options(capsys, tmp_path):
    f = tmp_path / "t" / "tabs.csv"
    f.parent.mkdir()
    v = rc.vibration(10000, 200.0)
    f.write_text("".join("\t".join("%.5f" % x for x in row).replace(".", ",") + "\n" for row in v))
    code, out, err = _train(capsys, ["--normal", str(f.parent), "--separator", "tab", "--decimal", ",",
                                     "--out", str(tmp_path / "m.json")])
    assert code == 0, err
    assert "tabs.csv: read as tab-separated, decimal comma\n" in err


# ---- bounded reading ------------------------------------------------------------------

def test_2gb_sparse_file_is_refused_before_reading_with_file_and_size(capsys, tmp_path):
    big = rc.sparse_huge(str(tmp_path / "d"))
    line = cli_error(capsys, ["train", "--normal", str(tmp_path / "d"), "--out", str(tmp_path / "m.json"),
                              "--quiet"])
    assert line == f"error: {big}: not a text CSV file (2 GB, with NUL bytes from byte 0): not read"


def test_huge_text_file_is_refused_with_its_size(tmp_path, monkeypatch):
    f = tmp_path / "big.csv"
    f.write_text("0,0,1\n" * 1000)
    with pytest.raises(readers.ReadError, match=r"big.csv: 5.86 KB, larger than any recording this "
                                                 r"command reads \(1 KB\)"):
        readers.check_file(str(f), limit=1024)


def test_long_header_lists_are_cut_in_errors(capsys, tmp_path):
    rc.thermal_time_rt(str(tmp_path / "th"), frames=5)
    rc.plain_accel(str(tmp_path / "a"), n=4000)
    code, _, err = _train(capsys, ["--normal", str(tmp_path / "a"), "--out", str(tmp_path / "m.json"),
                                   "--holdout", "0.5"])
    assert code == 0, err
    line = cli_error(capsys, ["score", "--model", str(tmp_path / "m.json"), str(tmp_path / "th")])
    assert line == (f"error: {tmp_path / 'm.json'} is a model for an 'accel' sensor but "
                    f"{tmp_path / 'th' / 'frames.csv'} has 770 columns (Time,RT,P000,P001, ... and 766 more): "
                    f"thermal frames, one per row")


# ---- thermal: the public Time,RT,P000..P767 layout, short modes ------------------------

def test_thermal_time_rt_layout_with_dates_reads_and_shows_its_rate(tmp_path):
    f = rc.thermal_time_rt(str(tmp_path / "th"), frames=40)
    fr = readers.read_frames(f, 7.8)
    assert fr.frames.shape == (40, 24, 32) and fr.absolute and fr.lines[0] == 2
    assert abs(1 / np.median(np.diff(fr.times)) - 7.8) < 0.1
    assert fr.extra["rt"][0] == pytest.approx(30.0)
    with pytest.raises(readers.ReadError, match=r"frames.csv: its time stamps step by 12\d ms \(a rate of 7.7"
                                                 r".* sample rate is 2 Hz: .* --rate 7.7"):
        readers.read_frames(f, 2.0)


def test_thermal_trailing_label_column_and_text_labels(tmp_path):
    from host_tools.data import thermal_data

    frames = np.full((6, 24, 32), 20.0)
    frames[:, 0, 0] = np.arange(6)
    f = rc.write_time_rt(str(tmp_path / "a" / "x.csv"), frames, np.arange(6) / 8.0, np.full(6, 25.0),
                         label=np.array([0, 0, 1, 1, 0, 0]))
    fr = readers.read_frames(f, 8.0)
    assert fr.frames[:, 0, 0].tolist() == list(range(6))  # the label is not a pixel
    assert thermal_data.is_anomaly(fr.extra["label"]).tolist() == [False, False, True, True, False, False]
    assert thermal_data.is_anomaly(np.array(["normal", "blocked", "OK"], dtype=object)).tolist() == [False, True, False]


def test_thermal_three_pipes_of_120_frames_train_with_calibration(capsys, tmp_path):
    normal, cal = rc.thermal_pipes(str(tmp_path))
    code, out, err = _train(capsys, ["--sensor", "thermal", "--normal", *normal, "--calibrate", *cal,
                                     "--out", str(tmp_path / "m.json")])
    assert code == 0, err
    assert "8 frames/s, from the recordings' time stamps" in err
    doc = json.load(open(tmp_path / "m.json"))
    assert [m["n_fit"] for m in doc["modes"]] == [120, 120, 120]
    assert sum(m["n_threshold"] for m in doc["modes"]) == 120
    assert doc["modes"][0]["threshold_source"].startswith("calibration: pipe_cold, pipe_warm, pipe_hot")


def test_thermal_mode_too_short_says_how_many_minutes_more(capsys, tmp_path):
    normal, _ = rc.thermal_pipes(str(tmp_path), frames=30, calib=0)
    line = cli_error(capsys, ["train", "--sensor", "thermal", "--normal", *normal, "--out",
                              str(tmp_path / "m.json"), "--quiet"])
    assert "pipe_cold: too few frames to fit and to choose a threshold" in line
    assert "record at least 1.25 s more of mode 'pipe_cold' (it has 30 frames, 3.75 s at 8 frames/s" in line
    assert "or give --calibrate" in line


# ---- one window per row, labels, one axis ---------------------------------------------

def test_window_rows_with_labels_train_on_the_normal_rows(capsys, tmp_path):
    rc.window_rows(str(tmp_path / "w"))
    code, out, err = _train(capsys, ["--normal", str(tmp_path / "w"), "--window", "128", "--rate", "500",
                                     "--out", str(tmp_path / "m.json")])
    assert code == 0, err
    assert "one window per row: 240 windows of 128 samples, 1 axis; labels normal 60, blocked 60" in err
    assert "60 of 240 windows are labelled normal and used; the others (blocked, off, unbalanced)" in err
    doc = json.load(open(tmp_path / "m.json"))
    assert doc["features"]["axes"] == 1 and doc["modes"][0]["n_fit"] == 45


def test_window_rows_of_another_length_name_the_option(capsys, tmp_path):
    rc.window_rows(str(tmp_path / "w"), per_label=5)
    line = cli_error(capsys, ["train", "--normal", str(tmp_path / "w"), "--out", str(tmp_path / "m.json"),
                              "--quiet"])
    assert line.endswith("windows.csv: its rows are windows of 128 samples but the window is 200: give --window 128")


def test_window_rows_with_three_axes_and_a_bad_line(tmp_path):
    f = tmp_path / "xyz.csv"
    head = ",".join(f"{a}{k}" for a in "xyz" for k in range(8)) + ",class"
    f.write_text(head + "\n" + ",".join(["0.1"] * 24) + ",ok\n" + ",".join(["0.1"] * 23) + ",zz,ok\n")
    assert readers.axes_of(str(f)) == 3
    with pytest.raises(readers.ReadError, match=r"xyz.csv: line 3 has a non-numeric value 'zz'"):
        readers.read_window_rows(str(f))
    f.write_text(head + "\n" + ",".join(["0.1"] * 24) + ",ok\n")
    wr = readers.read_window_rows(str(f))
    assert wr.windows.shape == (1, 3, 8) and wr.labels == ["ok"] and wr.axis_names == ["x", "y", "z"]


def test_single_axis_magnitude_trains_a_one_axis_model(capsys, tmp_path):
    rc.magnitude(str(tmp_path / "m"))
    code, out, err = _train(capsys, ["--normal", str(tmp_path / "m"), "--out", str(tmp_path / "m.json")])
    assert code == 0, err
    assert "note: 1 acceleration axis per sample (from the recordings' columns" in err
    doc = json.load(open(tmp_path / "m.json"))
    assert doc["features"]["axes"] == 1 and "rms_y" not in doc["features"]["names"]


def test_one_axis_features_of_a_3_axis_window_are_those_of_its_magnitude():
    """The board path: a one-axis model on a 3-axis sensor is fed each sample's magnitude."""
    from device import features

    v = rc.vibration(200, 200.0).T.astype(np.float32)
    f = features.AccelFeatures(200, 200.0, 16, axes=1)
    from_xyz = np.array(f.compute(v)).copy()
    mag = np.sqrt((v.astype(np.float64) ** 2).sum(axis=0))[None].astype(np.float32)
    np.testing.assert_allclose(from_xyz, np.array(f.compute(mag)), rtol=1e-4, atol=1e-5)
    two = features.AccelFeatures(200, 200.0, 16, axes=2)
    assert two.size == 32 + 2 * 2 + 1 and np.isfinite(np.array(two.compute(v))).all()


# ---- evaluate on any folders ----------------------------------------------------------

def _eval(capsys, argv) -> tuple[int, str, str]:
    code = cli.main(["evaluate", "--no-baselines", *argv])  # the summary is read: not --quiet
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_labelled_window_rows_in_data(capsys, tmp_path):
    rc.window_rows(str(tmp_path / "w"))
    code, out, err = _eval(capsys, ["--data", str(tmp_path / "w"), "--window", "128", "--rate", "500",
                                    "--report", str(tmp_path / "rep")])
    assert code == 0, err
    assert "== labels" in out
    for lab in ("blocked", "unbalanced", "off"):
        assert f"w#{lab}" in out
    metrics = json.load(open(tmp_path / "rep" / "metrics.json"))
    det = metrics["scenarios"]["labels"]["methods"]["mahalanobis"]["anomalies"]
    assert set(det) == {"w#blocked", "w#unbalanced", "w#off"}
    assert all(d["detection_rate"] > 0.9 for d in det.values())


def test_evaluate_normal_and_anomaly_on_any_folders(capsys, tmp_path):
    for k in range(2):
        rc.plain_accel(str(tmp_path / f"n{k}"), n=12000, seed=k)
    f = rc.plain_accel(str(tmp_path / "a"), n=4000, seed=9)
    v = np.loadtxt(f, delimiter=",")
    v[:, 0] += 0.3 * np.sin(np.arange(len(v)) * 2 * np.pi * 40 / 200)  # a new vibration
    np.savetxt(f, v, fmt="%.6f", delimiter=",")
    code, out, err = _eval(capsys, ["--data", str(tmp_path), "--normal", "n0", "n1", "--anomaly", "a",
                                    "--report", str(tmp_path / "rep")])
    assert code == 0, err
    assert "== custom" in out


def test_evaluate_errors_name_the_options(capsys, tmp_path):
    rc.plain_accel(str(tmp_path / "x"))
    line = cli_error(capsys, ["evaluate", "--data", str(tmp_path), "--report", str(tmp_path / "r")])
    assert "has no folder 'fan_0_low_0_weight'" in line and "give --normal DIR..." in line and "--anomaly DIR..." in line
    line = cli_error(capsys, ["evaluate", "--data", str(tmp_path), "--normal", "x", "--report", str(tmp_path / "r")])
    assert "--normal without --anomaly: give --anomaly DIR..." in line
    line = cli_error(capsys, ["evaluate", "--data", str(tmp_path), "--anomaly", "x", "--report", str(tmp_path / "r")])
    assert "--anomaly needs --normal DIR..." in line


def test_thermal_test_option_scores_the_last_part(capsys, tmp_path):
    normal, _ = rc.thermal_pipes(str(tmp_path), frames=400, calib=0)
    code, out, err = _train(capsys, ["--sensor", "thermal", "--normal", *normal, "--test", "0.2",
                                     "--out", str(tmp_path / "m.json")])
    assert code == 0, err
    assert "  test pipe_cold: 80 frames (10 s): " in out
    doc = json.load(open(tmp_path / "m.json"))
    assert [t["windows"] for t in doc["training"]["test"]] == [80, 80, 80]
    assert [m["n_fit"] + m["n_threshold"] for m in doc["modes"]] == [320, 320, 320] or \
        sum(m["n_fit"] + m["n_threshold"] for m in doc["modes"]) == 960


def test_too_short_accel_mode_says_how_much_more_to_record(capsys, tmp_path):
    rc.plain_accel(str(tmp_path / "m0"), n=6000)  # 30 windows of 1 s
    line = cli_error(capsys, ["train", "--normal", str(tmp_path / "m0"), "--out", str(tmp_path / "m.json"),
                              "--quiet"])
    assert line == ("error: mode 'm0': only 7 calibration windows, need at least 10 to choose a threshold "
                    "(with --holdout 0.25 a mode needs 40 windows of 1 s): record at least 10 s more of "
                    "mode 'm0', or give --calibrate")
