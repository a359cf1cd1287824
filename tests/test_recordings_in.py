"""Real recordings made by other people (issue 16): messy clocks, other layouts, huge or
binary files, thermal data with dates. Each case is built by tests/recording_cases.py."""

from __future__ import annotations

import json

import numpy as np
import pytest

import recording_cases as rc
from conftest import cli_error
from host_tools import cli, datasets, readers


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
    assert "rec.csv: its time stamps step by 10 ms (a rate of 100 Hz) but the sample rate is 200 Hz" in line


def test_rate_check_takes_rounded_stamps_at_their_mean_step(tmp_path):
    # 800 Hz stamped in whole ms: steps of 1 and 2 ms (median 1 ms, 25% off the period)
    t = np.floor(np.arange(400) * 1.25)
    f = tmp_path / "ms.csv"
    f.write_text("time_ms,x,y,z\n" + "".join(f"{v:.0f},0,0,1\n" for v in t))
    tab = readers.read(str(f), "accel", 800.0)
    assert tab.breaks == [] and len(tab.values) == 400
