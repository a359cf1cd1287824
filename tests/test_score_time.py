"""Time in every output, and one long recording split in time.

`score --json` carries each window's start time and first line; `score --events` prints
the board's debounced events (the App's own code: the same alarms `simulate` counts);
a single long timestamped recording trains with a fit / calibration / test split."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np

from conftest import fan
from host_tools.cli import main as cli
from host_tools.modeling import simulate


def _long(path, days=12, gap_at=None, seed=0, hot=None):
    """A 5-minute temperature log with a daily cycle (ISO time stamps)."""
    rs = np.random.RandomState(seed)
    n = days * 288
    t0 = dt.datetime(2013, 12, 2, 21, 15)
    x = 70 + 2 * np.sin(2 * np.pi * np.arange(n) / 288) + 0.3 * rs.randn(n)
    if hot is not None:
        x[hot[0]:hot[1]] += 6.0
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        f.write("timestamp,value\n")
        for i in range(n):
            if gap_at is not None and gap_at <= i < gap_at + 24:
                continue
            f.write("%s,%.3f\n" % ((t0 + dt.timedelta(minutes=5 * i)).strftime("%Y-%m-%d %H:%M:%S"), x[i]))
    return str(path)


def _train(capsys, folder, out, *extra):
    rc = cli.main(["train", "--sensor", "scalar", "--normal", str(folder), "--window", "1", "--rate", "5min",
                   "--out", str(out), *extra])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    return captured


def test_single_long_recording_trains_with_a_time_split(capsys, tmp_path):
    _long(tmp_path / "m" / "machine.csv", gap_at=2000)
    cap = _train(capsys, tmp_path / "m", tmp_path / "a.json", "--detector", "adaptive", "--holdout", "0.2",
                 "--test", "0.2", "--tau", "6h", "--cycle", "24h")
    doc = json.loads((tmp_path / "a.json").read_text())
    m = doc["modes"][0]
    n = 12 * 288 - 24
    assert m["n_fit"] + m["n_threshold"] + doc["training"]["test"][0]["windows"] == n
    assert abs(m["n_threshold"] - 0.2 * n) <= 1  # not "only 0 calibration windows"
    test = doc["training"]["test"][0]
    assert test["span"].startswith("2013-12-12T") and test["span"].endswith("Z")
    assert "gap of 2.08 h (25 sample periods) before line 2002" in cap.err
    assert "fit " in cap.err and "calibration " in cap.err and "test m:" in cap.out


def test_score_json_has_start_time_and_line(capsys, tmp_path):
    f = _long(tmp_path / "m" / "machine.csv", days=3)
    _train(capsys, tmp_path / "m", tmp_path / "z.json", "--quiet")
    assert cli.main(["score", "--model", str(tmp_path / "z.json"), f, "--json", "--quiet"]) == 0
    rows = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert rows[0]["start"] == "2013-12-02T21:15:00Z" and rows[0]["line"] == 2
    assert rows[12]["start"] == "2013-12-02T22:15:00Z" and rows[12]["window"] == 12


def test_score_json_without_time_stamps_has_no_start(capsys, fan_model_path):
    assert cli.main(["score", "--model", fan_model_path, fan("fan_0_low_0_weight"), "--json", "--quiet"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert "start" not in row and row["line"] == 1 and row["window"] == 0


def test_score_events_are_the_boards_alarms(capsys, tmp_path, fan_model_path):
    data = [fan("fan_0_low_0_weight"), fan("fan_0_high_1_weight")]
    assert cli.main(["score", "--model", fan_model_path, *data, "--events", "--json", "--quiet"]) == 0
    out = capsys.readouterr()
    events = [json.loads(ln) for ln in out.out.splitlines()]
    app, box, _ = simulate.run(fan_model_path, data, echo=False)
    want = [(p["event"], p["window"]) for p in box.items if p.get("type") == "event"]
    assert want, "the coin folder raises an alarm"
    # the same events as the board's App (simulate), each located in its file
    assert len(events) == len(want)
    assert [e["event"] for e in events] == [w[0] for w in want]
    assert all(e["file"].endswith(".csv") and e["line"] >= 1 for e in events)
    assert f"{sum(1 for e in events if e['event'] == 'anomaly_start')} alarm(s)" in out.err
    # per window (no debounce) flags more windows than there are alarms
    assert cli.main(["score", "--model", fan_model_path, *data, "--quiet"]) == 0
    flagged = int(capsys.readouterr().err.split("/")[0])
    assert flagged > len(events)


def test_adaptive_events_with_start_times(capsys, tmp_path):
    _long(tmp_path / "m" / "machine.csv", days=10)
    _train(capsys, tmp_path / "m", tmp_path / "a.json", "--detector", "adaptive", "--quiet")
    f = _long(tmp_path / "hot" / "machine.csv", days=10, hot=(2500, 2560))
    assert cli.main(["score", "--model", str(tmp_path / "a.json"), f, "--events", "--json", "--quiet"]) == 0
    starts = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()
              if json.loads(ln)["event"] == "anomaly_start"]
    t_hot = (dt.datetime(2013, 12, 2, 21, 15) + dt.timedelta(minutes=5 * 2500)).strftime("%Y-%m-%dT%H:%M")
    assert any(e["start"].startswith(t_hot[:13]) for e in starts), starts
