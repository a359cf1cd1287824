"""Reading every recording format, and putting a session's files in time order.

Each reader case and ordering case of issue 10 has a test here: headers, columns by name
and position, units, numeric (s, ms) and ISO-8601 time stamps, Edge Impulse CSV and
JSON (both ways), natural and time-stamp order, contiguous files as one stream, gaps,
overlaps, a single long recording split in time, --rate as a period. Every reader error
names the file and the line as an editor counts it."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from device import csvrows
from device.scalarfeatures import ScalarFeatures
from host_tools.data import argtypes
from host_tools.cli import main as cli
from host_tools.data import datasets
from host_tools.data import readers
from host_tools.data import timeaxis


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def _accel(n=50, seed=0):
    rs = np.random.RandomState(seed)
    return rs.randn(n, 3) * 0.05 + [0, 0, 1]


def _error(capsys, argv) -> str:
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [ln for ln in err.split("\n") if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


class Ex:
    """A stand-in extractor: what load_session / located_windows need."""

    def __init__(self, kind="scalar", window=2, rate=1.0):
        self.kind, self.window, self.rate = kind, window, rate


# ---- CSV layouts -------------------------------------------------------------------------

def test_header_or_not_same_rows(tmp_path):
    v = _accel(10)
    body = "".join("%.5f,%.5f,%.5f\n" % tuple(r) for r in v)
    a = readers.read_csv(_write(tmp_path / "a.csv", body), "accel")
    b = readers.read_csv(_write(tmp_path / "b.csv", "x,y,z\n" + body), "accel")
    np.testing.assert_array_equal(a.values, b.values)
    assert list(b.lines[:2]) == [2, 3] and list(a.lines[:2]) == [1, 2]


def test_columns_by_name_and_by_position(tmp_path):
    v = _accel(10)
    text = "time,temp,ax,ay,az\n" + "".join("%d,21.5,%.5f,%.5f,%.5f\n" % ((i,) + tuple(r)) for i, r in enumerate(v))
    f = _write(tmp_path / "c.csv", text)
    by_name = readers.read_csv(f, "accel", opts=readers.ReadOptions(["ax", "ay", "az"]))
    by_pos = readers.read_csv(f, "accel", opts=readers.ReadOptions(["3", "4", "5"]))
    np.testing.assert_allclose(by_name.values, v, atol=1e-5)
    np.testing.assert_array_equal(by_name.values, by_pos.values)
    assert by_name.time_name == "time" and by_name.times[3] == 3.0


def test_header_with_extra_columns_asks_for_columns(tmp_path):
    f = _write(tmp_path / "c.csv", "time,temp,ax,ay,az\n0,1,0,0,1\n")
    with pytest.raises(readers.ReadError, match=r"c.csv: header has 5 columns .* choose them with --columns"):
        readers.read_csv(f, "accel")
    with pytest.raises(readers.ReadError, match=r"c.csv: has no column named 'bx' \(its header: time,temp,ax,ay,az\)"):
        readers.read_csv(f, "accel", opts=readers.ReadOptions(["bx", "ay", "az"]))


def test_units_m_s2_become_g_and_range_is_checked_in_g(tmp_path):
    f = _write(tmp_path / "u.csv", "x,y,z\n0,0,9.80665\n0,0,19.6133\n")
    t = readers.read_csv(f, "accel", opts=readers.ReadOptions(units="m/s2"))
    np.testing.assert_allclose(t.values[:, 2], [1.0, 2.0])
    bad = _write(tmp_path / "b.csv", "x,y,z\n0,0,9.8\n0,0,9900\n")
    with pytest.raises(readers.ReadError, match=r"b.csv: line 3 has 9900 \(1009.52 g\), outside the physical range"):
        readers.read_csv(bad, "accel", opts=readers.ReadOptions(units="m/s2"))


def test_leading_time_column_without_header(tmp_path):
    text = "".join("%g,%.5f,%.5f,%.5f\n" % ((i * 0.005,) + tuple(r)) for i, r in enumerate(_accel(20)))
    t = readers.read(_write(tmp_path / "t.csv", text), "accel", 200.0)
    assert t.values.shape == (20, 3) and t.times[4] == pytest.approx(0.02)


def test_numeric_time_stamps_in_ms_are_recognised(tmp_path):
    text = "time_ms,value\n" + "".join("%d,%.2f\n" % (i * 5000, 20 + i * 0.01) for i in range(10))
    t = readers.read(_write(tmp_path / "m.csv", text), "scalar", 0.2)
    assert t.times[1] == pytest.approx(5.0)
    plain = "t,value\n" + "".join("%d,%.2f\n" % (i * 5000, 20) for i in range(10))
    t2 = readers.read(_write(tmp_path / "p.csv", plain), "scalar", 0.2)  # inferred from the rate
    assert t2.times[1] == pytest.approx(5.0)


def test_epoch_seconds_are_calendar_times(tmp_path):
    text = "timestamp,value\n" + "".join("%d,20\n" % (1700000000 + 60 * i) for i in range(5))
    t = readers.read(_write(tmp_path / "e.csv", text), "scalar", 1 / 60)
    assert t.absolute and timeaxis.format_time(t.t0, True) == "2023-11-14T22:13:20Z"


def test_iso_time_stamps_naive_t_z_and_offset(tmp_path):
    naive = "timestamp,value\n2013-12-02 21:15:00,73.9\n2013-12-02 21:20:00,74.0\n"
    t = readers.read(_write(tmp_path / "n.csv", naive), "scalar", 1 / 300)
    assert t.absolute and t.times[1] - t.times[0] == 300.0
    assert timeaxis.format_time(t.t0, True) == "2013-12-02T21:15:00Z"
    zoned = "timestamp,value\n2013-12-02T22:15:00+01:00,1\n2013-12-02T21:20:00Z,2\n"
    t2 = readers.read(_write(tmp_path / "z.csv", zoned), "scalar", 1 / 300)
    np.testing.assert_array_equal(t2.times, t.times)
    assert readers.read_csv(_write(tmp_path / "z2.csv", zoned), "scalar").values[:, 0].tolist() == [1.0, 2.0]


def test_bad_iso_time_stamp_names_the_line(tmp_path):
    text = "timestamp,value\n\n2013-12-02 21:15:00,1\n2013-12-02 21:20:00,2\n2013-13-02 21:25:00,3\n"
    with pytest.raises(readers.ReadError, match=r"d.csv: line 5 has a time stamp '2013-13-02 21:25:00' that is not an ISO-8601"):
        readers.read(_write(tmp_path / "d.csv", text), "scalar", 1 / 300)


def test_time_going_backwards_splits_with_a_note_naming_the_line(tmp_path):
    text = "timestamp,value\n0,1\n1,1\n2,1\n1.5,1\n2.5,1\n2.5,1\n3.5,1\n"
    t = readers.read(_write(tmp_path / "b.csv", text), "scalar", 1.0)
    assert t.breaks == [3, 5]
    assert "b.csv: line 5 steps the clock back by 500 ms (2.0 -> 1.5)" in t.notes[0]
    assert "b.csv: line 7 repeats line 6's time stamp (2.5)" in t.notes[1]


def test_rate_that_does_not_match_the_time_stamps_says_which(tmp_path):
    text = "timestamp,value\n" + "".join("2013-12-02 %02d:%02d:00,1\n" % divmod(5 * i, 60) for i in range(12))
    with pytest.raises(readers.ReadError, match=r"step by 5 min .* sample rate is 200 Hz: .* --rate 5min"):
        readers.read(_write(tmp_path / "r.csv", text), "scalar", 200.0)


def test_non_time_text_in_the_time_column_names_the_line(tmp_path):
    f = _write(tmp_path / "x.csv", "timestamp,value\n0,1\nyesterday,2\n")
    with pytest.raises(readers.ReadError, match=r"x.csv: line 3 has a non-numeric value 'yesterday'"):
        readers.read(f, "scalar", 1.0)


# ---- Edge Impulse ----------------------------------------------------------------------------

def test_edge_impulse_csv_with_units(tmp_path):
    g = _accel(20)
    text = "timestamp,accX,accY,accZ\n" + "".join(
        "%d,%.6f,%.6f,%.6f\n" % ((i * 10,) + tuple(r * readers.STANDARD_GRAVITY)) for i, r in enumerate(g))
    t = readers.read(_write(tmp_path / "ei.csv", text), "accel", 100.0, opts=readers.ReadOptions(units="m/s2"))
    np.testing.assert_allclose(t.values, g, atol=1e-6)
    assert t.times[1] == pytest.approx(0.01)  # Edge Impulse's timestamp is in ms


def test_edge_impulse_json_reads_units_and_interval(tmp_path):
    g = _accel(16)
    doc = {"protected": {"ver": "v1", "alg": "none"}, "signature": "0" * 64,
           "payload": {"device_type": "X", "interval_ms": 1, "sensors": [
               {"name": "accX", "units": "m/s2"}, {"name": "accY", "units": "m/s2"}, {"name": "accZ", "units": "m/s2"}],
               "values": (g * readers.STANDARD_GRAVITY).tolist()}}
    f = _write(tmp_path / "s.json", json.dumps(doc))
    t = readers.read(f, "accel", 1000.0)
    np.testing.assert_allclose(t.values, g, atol=1e-9)
    assert t.times[-1] == pytest.approx(0.015) and t.where == "entry"
    doc["payload"]["values"][6] = [1, "x", 2]
    with pytest.raises(readers.ReadError, match=r"bad.json: payload.values entry 7 is \[1, \"x\", 2\]"):
        readers.read(_write(tmp_path / "bad.json", json.dumps(doc)), "accel", 1000.0)
    with pytest.raises(readers.ReadError, match="not an Edge Impulse data-acquisition file"):
        readers.read(_write(tmp_path / "other.json", "{\"a\": 1}"), "accel", 1000.0)


def test_edge_impulse_both_ways(tmp_path):
    g = _accel(64)
    readers.write_edge_impulse_json(str(tmp_path / "o.json"), g, 100.0)
    readers.write_edge_impulse_csv(str(tmp_path / "o.csv"), g, 100.0)
    a = readers.read(str(tmp_path / "o.json"), "accel", 100.0)
    b = readers.read(str(tmp_path / "o.csv"), "accel", 100.0, opts=readers.ReadOptions(units="m/s2"))
    np.testing.assert_allclose(a.values, g, atol=1e-6)
    np.testing.assert_allclose(b.values, g, atol=1e-6)
    np.testing.assert_allclose(a.times, b.times)


def test_edge_impulse_csv_trains_from_the_command_line(tmp_path, capsys):
    (tmp_path / "ei").mkdir()
    for i in range(8):
        readers.write_edge_impulse_csv(str(tmp_path / "ei" / f"s{i}.csv"), _accel(640, seed=i), 100.0)
    rc = cli.main(["train", "--normal", str(tmp_path / "ei"), "--rate", "10ms", "--window", "64", "--bands", "8",
                   "--units", "m/s2", "--out", str(tmp_path / "m.json"), "--quiet"])
    assert rc == 0, capsys.readouterr().err


# ---- ordering, streams, gaps -------------------------------------------------------------------

def _scalar_file(path, t0, n, step=1.0, iso=False):
    rows = []
    for i in range(n):
        t = t0 + i * step
        ts = (dt.datetime(2024, 1, 1) + dt.timedelta(seconds=t)).strftime("%Y-%m-%d %H:%M:%S") if iso else "%g" % t
        rows.append("%s,%.3f\n" % (ts, 20 + 0.01 * i))
    return _write(path, "timestamp,value\n" + "".join(rows))


def test_natural_name_order_without_time_stamps(tmp_path):
    for name in ("H1", "H10", "H2", "H100"):
        _write(tmp_path / "s" / f"{name}.csv", "x,y,z\n0,0,1\n")
    files = [p.rsplit("/", 1)[1] for p in datasets.list_csv(str(tmp_path / "s"))]
    assert files == ["H1.csv", "H2.csv", "H10.csv", "H100.csv"]
    s = datasets.load_session(str(tmp_path / "s"), "accel", 200.0)
    assert s.order == "4 files in natural name order (no time stamps)"
    assert len(s.streams) == 4  # nothing says files without time stamps are contiguous


def test_time_stamps_order_files_not_their_names(tmp_path):
    _scalar_file(tmp_path / "s" / "b.csv", 0, 5)
    _scalar_file(tmp_path / "s" / "a.csv", 100, 5)
    s = datasets.load_session(str(tmp_path / "s"), "scalar", 1.0)
    assert [f.rsplit("/", 1)[1] for f in s.files] == ["b.csv", "a.csv"]
    assert s.order == "2 files ordered by their first time stamp (not their name order)"
    assert "starts 1.6 min (96 sample periods) after b.csv ends: a gap" in s.notes[0]


def test_contiguous_files_are_one_stream_and_windows_span_them(tmp_path):
    _scalar_file(tmp_path / "s" / "1.csv", 0, 5, iso=True)
    _scalar_file(tmp_path / "s" / "2.csv", 5, 5, iso=True)
    wins, notes = datasets.located_windows([str(tmp_path / "s")], Ex(window=4))
    assert len(wins) == 2  # 10 samples, windows of 4: one spans the two files
    ref, w = wins[1]
    assert ref.file.endswith("1.csv") and ref.line == 6 and ref.start == "2024-01-01T00:00:04Z"
    np.testing.assert_allclose(w[0], [20.04, 20.0, 20.01, 20.02], atol=1e-5)  # 1.csv's last, 2.csv's first
    assert "form 1 stream(s)" in notes[0]


def test_gap_inside_a_file_is_reported_and_not_bridged(tmp_path):
    text = "timestamp,value\n" + "".join("%d,1\n" % t for t in [0, 1, 2, 3, 4, 50, 51, 52, 53])
    _write(tmp_path / "g" / "g.csv", text)
    s = datasets.load_session(str(tmp_path / "g"), "scalar", 1.0)
    assert s.streams[0].pieces == [(0, 5), (5, 9)]
    assert "gap of 46 s (46 sample periods) before line 7" in s.notes[0]
    assert s.streams[0].windows(4) == [0, 5]  # never a window over the gap


def test_overlapping_files_are_not_joined(tmp_path):
    _scalar_file(tmp_path / "o" / "a.csv", 0, 10)
    _scalar_file(tmp_path / "o" / "b.csv", 5, 10)
    s = datasets.load_session(str(tmp_path / "o"), "scalar", 1.0)
    assert len(s.streams) == 2 and "time stamps overlap" in s.notes[0]


def test_single_long_recording_splits_by_window_in_time(tmp_path):
    _scalar_file(tmp_path / "l" / "long.csv", 0, 100, iso=True)
    ws = datasets.load_folder(str(tmp_path / "l"), ScalarFeatures(1, 1.0), progress=False)
    fit, cal, test = ws.split_time(0.6, 0.2, 0.2)
    assert (len(fit), len(cal), len(test)) == (60, 20, 20)
    assert fit.starts.max() < cal.starts.min() < cal.starts.max() < test.starts.min()
    assert test.span() == "2024-01-01T00:01:20Z .. 2024-01-01T00:01:39Z"


def test_many_files_still_split_by_file(tmp_path):
    for i in range(5):
        _write(tmp_path / "m" / f"{i}.csv", "timestamp,value\n" + "".join("%d,1\n" % t for t in range(4)))
    ws = datasets.load_folder(str(tmp_path / "m"), ScalarFeatures(1, 1.0), progress=False)
    masks = ws.part_masks(0.6, 0.2, 0.2)
    assert [sorted(set(ws.file_order[m].tolist())) for m in masks] == [[0, 1, 2], [3], [4]]


# ---- options ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, hz", [("5min", 1 / 300), ("10ms", 100.0), ("200", 200.0), ("1kHz", 1000.0),
                                      ("2s", 0.5), ("1h", 1 / 3600)])
def test_rate_accepts_a_period(text, hz):
    assert argtypes.rate(text) == pytest.approx(hz)


def test_bad_rate_and_columns_are_one_line(capsys, tmp_path):
    line = _error(capsys, ["train", "--normal", "x", "--out", str(tmp_path / "m.json"), "--rate", "5parsecs"])
    assert "--rate" in line and "unknown unit 'parsecs'" in line
    _scalar_file(tmp_path / "d" / "a.csv", 0, 20)
    line = _error(capsys, ["train", "--sensor", "scalar", "--normal", str(tmp_path / "d"), "--window", "1",
                           "--rate", "1", "--columns", "temp", "--out", str(tmp_path / "m.json"), "--quiet"])
    assert "a.csv: has no column named 'temp' (its header: timestamp,value)" in line


def test_scalar_sensor_trains_zscore_by_default(capsys, tmp_path):
    _scalar_file(tmp_path / "d" / "a.csv", 0, 200)
    rc = cli.main(["train", "--sensor", "scalar", "--normal", str(tmp_path / "d"), "--window", "1", "--rate", "1s",
                   "--out", str(tmp_path / "m.json"), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "m.json").read_text())["detector"] == "zscore"


def test_csvrows_layouts_keep_the_board_api():
    rows = csvrows.Rows("accel", "r.csv")
    buf = [0.0] * 3
    assert rows.feed("timestamp,accX,accY,accZ") is None
    assert rows.feed("0,0.1,0.2,0.3", buf) is buf and buf == pytest.approx([0.1, 0.2, 0.3])
    assert rows.time_text == "0"
    with pytest.raises(csvrows.RowError, match=r"r.csv: line 3 has 3 columns, expected 4 \(timestamp,accX,accY,accZ\)"):
        rows.feed("1,2,3")


def test_export_to_edge_impulse_and_back(capsys, tmp_path):
    from conftest import fan

    src = fan("fan_0_low_0_weight")
    assert cli.main(["export", src, "--out", str(tmp_path / "ei"), "--to", "ei-json"]) == 0
    assert "wrote 100 ei-json file(s)" in capsys.readouterr().out
    first = datasets.list_csv(src)[0]
    back = readers.read(str(tmp_path / "ei" / (first.rsplit("/", 1)[1][:-4] + ".json")), "accel", 200.0)
    np.testing.assert_allclose(back.values, datasets.read_recording(first, "accel").T, atol=1e-5)
    assert cli.main(["export", first, "--out", str(tmp_path / "c"), "--to", "ei-csv"]) == 0
    again = readers.read(str(tmp_path / "c" / first.rsplit("/", 1)[1]), "accel", 200.0,
                         opts=readers.ReadOptions(units="m/s2"))
    np.testing.assert_allclose(again.values, back.values, atol=1e-5)


LAYOUT_CASES = [
    ("accel", None, 1.0, ["timestamp,accX,accY,accZ", "0,0.1,0.2,0.3", "10,0.1,0.2", "20,1,2,3"]),
    ("accel", ["ax", "ay", "az"], 1.0, ["t,temp,ax,ay,az", "0,20,0.1,0.2,0.3", "1,20,a,0,0"]),
    ("accel", ["3", "4", "5"], 0.5, ["0,20,0.1,0.2,0.3", "1,20,0,0,2500"]),
    ("accel", None, 1.0, ["0.005,0.1,0.2,0.3", "0.010,1,2,3"]),
    ("scalar", None, 1.0, ["timestamp,value", "2013-12-02 21:15:00,73.5", "nonsense,1"]),
    ("accel", ["bx"], 1.0, ["x,y,z", "1,2,3"]),
]


def _layout_rows(kind, columns, scale, lines):
    rows = csvrows.Rows(kind, "r.csv", columns=columns, scale=scale)
    out = []
    try:
        for ln in lines:
            out.append(rows.feed(ln))
            out.append(rows.time_text)
    except csvrows.RowError as e:
        out.append("error: " + str(e))
    return out


def test_csvrows_layouts_under_micropython(tmp_path):
    """The board runs csvrows: header layouts, picked columns and scaling give the same
    rows and messages under MicroPython."""
    from test_micropython import run_mp

    script = ("import json\nfrom device import csvrows\n"
              "def run(kind, columns, scale, lines):\n"
              "    rows = csvrows.Rows(kind, 'r.csv', columns=columns, scale=scale)\n"
              "    out = []\n"
              "    try:\n"
              "        for ln in lines:\n"
              "            out.append(rows.feed(ln))\n"
              "            out.append(rows.time_text)\n"
              "    except csvrows.RowError as e:\n"
              "        out.append('error: ' + str(e))\n"
              "    return out\n"
              "cases = json.loads(%r)\n"
              "print(json.dumps([run(*c) for c in cases]))\n") % json.dumps(LAYOUT_CASES)
    r = run_mp(script, tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    want = json.loads(json.dumps([_layout_rows(*c) for c in LAYOUT_CASES]))
    assert got == want
    assert want[0][-1].startswith("error: r.csv: line 3 has 3 columns, expected 4")
    assert want[2][-1].startswith("error: r.csv: line 2 has 2500 (1250 g), outside the physical range")
    assert want[5][-1] == "error: r.csv: has no column named 'bx' (its header: x,y,z)"
