"""Every bad command-line input: exit code 2, exactly one stderr line `error: ...` naming
the option or file, no traceback, nothing left behind. Also device.csvrows, the one set
of CSV row rules the host reader and the board's replay sensor share."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from conftest import fan, run_py, cli_error
from device import csvrows
from device import model as model_mod
from device import modelwrite
from host_tools.cli import main as cli
from host_tools.data import datasets

LOW = fan("fan_0_low_0_weight")


def _error(capsys, argv) -> str:
    return cli_error(capsys, argv)


def _train(tmp_path, *extra, out=None):
    return ["train", "--normal", LOW, "--out", str(tmp_path / "m.json" if out is None else out), "--quiet", *extra]


def _csv(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _accel_text(n=200, seed=0):
    rs = np.random.RandomState(seed)
    return "".join("%.5f,%.5f,%.5f\n" % tuple(r) for r in rs.randn(n, 3) * 0.05 + [0, 0, 1])


def _scalar_text(n=200, seed=0):
    rs = np.random.RandomState(seed)
    return "".join("%d,%.3f\n" % (i, 21 + 0.1 * v) for i, v in enumerate(rs.randn(n)))


# ---- options: argparse's own errors are one line too ---------------------------------

@pytest.mark.parametrize("argv, words", [
    ([], "required"),
    (["nosuchcommand"], "invalid choice"),
    (["train", "--out", "m.json"], "--normal"),
    (["train", "--normal", "x", "--out", "m.json", "--window", "abc"], "--window"),
    (["score", "--model", "m.json", "x", "--no-such-option"], "--no-such-option"),
    (["train", "--normal", "x", "--out", "m.json", "--fa-rate", "abc"], "between 0 and 1"),
    (["train", "--normal", "x", "--out", "m.json", "--holdout", "1.5"], "between 0 and 1"),
])
def test_argparse_errors_are_one_line(capsys, argv, words):
    line = _error(capsys, argv)
    assert words in line and "usage:" not in line


def test_help_still_exits_0(capsys):
    assert cli.main(["train", "--help"]) == 0
    assert "--normal" in capsys.readouterr().out


# ---- options: ranges, checked before any work ------------------------------------------

@pytest.mark.parametrize("extra, words", [
    (["--window", "0"], "--window 0: accelerometer features need at least 8"),
    (["--window", "4"], "--window 4: accelerometer features need at least 8"),
    (["--sensor", "scalar", "--window", "0"], "--window 0: samples per window must be at least 1"),
    (["--bands", "0"], "--bands 0"),
    (["--bands", "500"], "--bands 500: a 200-sample window has only 128 frequency bins"),
    (["--shrinkage", "abc"], "'abc' is neither 'auto' nor a number"),
    (["--shrinkage", "5"], "5 is not between 0 and 1"),
    (["--shrinkage", "-0.1"], "not between 0 and 1"),
    (["--k", "0"], "--k 0"),
    (["--n", "-1"], "--n -1"),
    (["--k", "4", "--n", "3"], "k <= n"),
    (["--off", "0"], "--off 0"),
    (["--off", "1.5"], "--off 1.5"),
    (["--cooldown", "-1"], "--cooldown -1"),
    (["--rate", "0"], "--rate 0"),
    (["--rate", "nan"], "--rate nan"),
    (["--fa-rate", "0"], "--fa-rate"),
    (["--holdout", "1"], "--holdout"),
])
def test_train_option_ranges(capsys, tmp_path, extra, words):
    line = _error(capsys, _train(tmp_path, *extra))
    assert words in line, line
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("extra, words", [
    (["--window", "0"], "--window 0"),
    (["--bands", "500"], "--bands 500"),
    (["--k", "-3"], "--k -3"),
    (["--cooldown", "-5"], "--cooldown -5"),
    (["--shrinkage", "5"], "5 is not between 0 and 1"),
    (["--fa-rate", "2"], "between 0 and 1"),
])
def test_evaluate_option_ranges(capsys, tmp_path, extra, words):
    line = _error(capsys, ["evaluate", "--report", str(tmp_path / "r"), "--quiet", *extra])
    assert words in line, line
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("extra, words", [
    (["--commission", "-1"], "--commission -1"),
    (["--heartbeat", "-2"], "--heartbeat -2"),
])
def test_simulate_negative_counts(capsys, tmp_path, extra, words):
    line = _error(capsys, ["simulate", "--model", str(tmp_path / "m.json"), "--data", LOW, "--quiet", *extra])
    assert words in line


def test_score_negative_top(capsys, tmp_path):
    assert "--top -1" in _error(capsys, ["score", "--model", str(tmp_path / "m.json"), "--top", "-1", LOW])


@pytest.mark.parametrize("extra, words", [
    (["--windows", "0"], "--windows 0"),
    (["--fraction", "0"], "--fraction"),
    (["--fit-share", "1"], "--fit-share"),
])
def test_commission_option_ranges(capsys, tmp_path, extra, words):
    line = _error(capsys, ["commission", "--model", "m.json", "--data", LOW, "--out", str(tmp_path / "o.json"),
                           "--quiet", *extra])
    assert words in line


@pytest.mark.parametrize("extra, words", [
    (["--windows", "200", "0"], "--windows 0: accelerometer features need at least 8"),
    (["--windows", "4"], "--windows 4"),
    (["--bands", "200", "--windows", "256"], "--bands 200"),
    (["--count", "0"], "--count 0"),
    (["--repeats", "-1"], "--repeats -1"),
    (["--modes", "0"], "--modes 0"),
])
def test_bench_option_ranges(capsys, extra, words):
    assert words in _error(capsys, ["bench", *extra])


def test_demo_negative_commission(capsys):
    from host_tools import demo

    assert demo.main(["--commission", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --commission -1") and "\n" not in err


# ---- output paths: fail at once, leave nothing behind -----------------------------------

def test_out_is_a_folder(capsys, tmp_path):
    line = _error(capsys, _train(tmp_path, out=tmp_path))
    assert "is a folder" in line and os.listdir(tmp_path) == []


def test_out_under_a_file(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    line = _error(capsys, _train(tmp_path, out=tmp_path / "file" / "m.json"))
    assert "is not a folder" in line
    assert os.listdir(tmp_path) == ["file"]


def test_out_in_a_read_only_place(capsys):
    # /proc refuses new files even to root (a chmod'ed folder would not stop root)
    line = _error(capsys, ["train", "--normal", LOW, "--out", "/proc/model.json", "--quiet"])
    assert "--out /proc/model.json: cannot write in /proc" in line


@pytest.mark.parametrize("bad", ["", "   ", "bad\0name.json", "sub/"])
def test_out_invalid_names(capsys, tmp_path, bad):
    line = _error(capsys, _train(tmp_path, out=str(tmp_path) + "/" + bad if bad == "sub/" else bad))
    assert "--out" in line
    assert os.listdir(tmp_path) == []


def test_write_failure_leaves_no_temporary_file(tmp_path, monkeypatch):
    """The write itself fails half-way (disk full): an `error:` and no stray .tmp."""
    monkeypatch.delattr(modelwrite, "save", raising=False)  # the fallback writer

    def full(doc):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_mod, "dumps", full)
    out = tmp_path / "new" / "deeper" / "m.json"
    with pytest.raises(datasets.DataError, match="No space left on device"):
        cli._write(str(out), {"x": 1})
    assert os.listdir(tmp_path) == []  # neither the .tmp nor the folders made for it


def test_write_is_atomic_and_readable(tmp_path, monkeypatch):
    monkeypatch.delattr(modelwrite, "save", raising=False)  # the fallback writer
    out = tmp_path / "deeper" / "m.json"
    out.parent.mkdir()
    out.write_text("old")
    cli._write(str(out), {"schema": "x"})
    assert json.loads(out.read_bytes())["schema"] == "x"
    assert os.listdir(out.parent) == ["m.json"]
    assert os.stat(out).st_mode & 0o044  # not left 0600 like a mkstemp file


def test_report_unwritable_fails_before_the_work(capsys, tmp_path, monkeypatch):
    from host_tools.modeling import evaluate

    def no_work(*args, **kwargs):
        raise AssertionError("data was loaded before --report was checked")

    monkeypatch.setattr(evaluate, "load_folders", no_work)
    (tmp_path / "file").write_text("x")
    line = _error(capsys, ["evaluate", "--report", str(tmp_path / "file" / "r"), "--quiet"])
    assert "--report" in line and "is not a folder" in line
    line = _error(capsys, ["evaluate", "--report", str(tmp_path / "file"), "--quiet"])
    assert "is a file, expected a folder" in line
    line = _error(capsys, ["evaluate", "--report", "/proc/r", "--quiet"])
    assert "cannot write in /proc" in line


def test_commission_out_checked_before_loading_data(capsys, tmp_path, fan_model_path):
    line = _error(capsys, ["commission", "--model", fan_model_path, "--data", LOW,
                           "--out", "/proc/x.json", "--quiet"])
    assert "--out /proc/x.json" in line


# ---- model files -----------------------------------------------------------------------

def test_model_is_a_folder(capsys, tmp_path):
    line = _error(capsys, ["score", "--model", str(tmp_path), LOW])
    assert f"{tmp_path}: is a folder, expected a model file" in line


def test_model_missing(capsys, tmp_path):
    line = _error(capsys, ["commission", "--model", str(tmp_path / "none.json"), "--data", LOW,
                           "--out", str(tmp_path / "o.json"), "--quiet"])
    assert "model file not found" in line


def test_json_that_is_not_a_model(capsys, tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text('{"hello": [1, 2, 3]}')
    line = _error(capsys, ["score", "--model", str(bad), LOW])
    assert f"{bad}: is JSON but not a model file" in line


def test_csv_passed_as_model(capsys):
    line = _error(capsys, ["score", "--model", os.path.join(LOW, "0000.csv"), LOW])
    assert "0000.csv: checksum missing" in line


def test_recipe_no_longer_matches_feature_names(capsys, tmp_path, fan_model_path):
    doc = json.loads(open(fan_model_path, "rb").read())
    doc["features"]["bands"] = 8  # 8 bands give 23 features; the model has 39 names
    edited = tmp_path / "edited.json"
    edited.write_bytes(model_mod.dumps(doc))
    for f in model_mod.files_of(fan_model_path)[1:]:  # its .npy sidecar goes along
        shutil.copy(f, tmp_path / os.path.basename(f))
    line = _error(capsys, ["score", "--model", str(edited), LOW])
    assert "feature recipe" in line and "23 features" in line and "39 names" in line
    line = _error(capsys, ["simulate", "--model", str(edited), "--data", LOW, "--quiet"])
    assert "feature recipe" in line


def test_commission_unknown_mode(capsys, tmp_path, fan_model_path):
    line = _error(capsys, ["commission", "--model", fan_model_path, "--data", LOW, "--mode", "turbo",
                           "--out", str(tmp_path / "o.json"), "--quiet"])
    assert "--mode turbo" in line and "fan_0_low_0_weight" in line
    assert os.listdir(tmp_path) == []


# ---- sensor kinds ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scalar_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("scalar")
    for i in range(4):
        _csv(d / "room" / f"{i:04d}.csv", "timestamp,value\n" + _scalar_text(seed=i))
    out = d / "temp.json"
    assert cli.main(["train", "--sensor", "scalar", "--detector", "zscore", "--window", "10", "--rate", "1",
                     "--normal", str(d / "room"), "--out", str(out), "--quiet"]) == 0
    return str(out)


def test_scalar_model_on_accelerometer_data(capsys, scalar_model):
    line = _error(capsys, ["score", "--model", scalar_model, LOW])
    assert f"{scalar_model} is a model for a 'scalar' sensor but " in line
    assert "0000.csv has 3 columns (x,y,z accelerometer data) on line 1" in line
    line = _error(capsys, ["simulate", "--model", scalar_model, "--data", LOW, "--quiet"])
    assert "'scalar' sensor but" in line


def test_accelerometer_model_on_scalar_data(capsys, tmp_path, fan_model_path):
    f = _csv(tmp_path / "t" / "0000.csv", "timestamp,value\n" + _scalar_text())
    line = _error(capsys, ["score", "--model", fan_model_path, str(f)])
    assert "is a model for an 'accel' sensor but" in line
    assert "has 2 columns (timestamp,value scalar data) on line 2" in line


def test_train_default_sensor_on_scalar_data(capsys, tmp_path):
    _csv(tmp_path / "t" / "0000.csv", _scalar_text())
    line = _error(capsys, ["train", "--normal", str(tmp_path / "t"), "--out", str(tmp_path / "m.json"), "--quiet"])
    assert "--sensor accel was given (the default) but" in line and "2 columns" in line


# ---- recordings ----------------------------------------------------------------------------

def _train_on(capsys, folder, tmp_path):
    return _error(capsys, ["train", "--normal", str(folder), "--out", str(tmp_path / "m.json"), "--quiet"])


def test_line_numbers_count_header_and_blank_lines(capsys, tmp_path):
    lines = _accel_text().splitlines()
    lines[40] = "0.1,0.2"  # data row 41 ...
    text = "x,y,z\n\n" + "\n".join(lines) + "\n"  # ... is line 43 in an editor
    f = _csv(tmp_path / "rec" / "0000.csv", text)
    line = _train_on(capsys, tmp_path / "rec", tmp_path)
    assert f"{f}: line 43 has 2 columns, expected 3" in line


def test_header_is_accepted(tmp_path):
    f = _csv(tmp_path / "h.csv", "x,y,z\n" + _accel_text(10))
    plain = _csv(tmp_path / "p.csv", _accel_text(10))
    np.testing.assert_array_equal(datasets.read_recording(str(f), "accel"),
                                  datasets.read_recording(str(plain), "accel"))


def test_header_only_on_the_first_line(capsys, tmp_path):
    f = _csv(tmp_path / "rec" / "0000.csv", _accel_text(5) + "x,y,z\n" + _accel_text(200))
    line = _train_on(capsys, tmp_path / "rec", tmp_path)
    assert f"{f}: line 6 has a non-numeric value 'x'" in line


@pytest.mark.parametrize("value, words", [
    ("1500", "line 7 has 1500, outside the physical range of accel data (-1000..1000 g)"),
    ("-1e10", "outside the physical range"),
    ("inf", "line 7 has a non-finite value 'inf'"),
    ("nan", "non-finite"),
])
def test_values_outside_the_physical_range(capsys, tmp_path, value, words):
    lines = _accel_text().splitlines()
    lines[6] = f"0.01,{value},1.0"
    f = _csv(tmp_path / "rec" / "0000.csv", "\n".join(lines) + "\n")
    line = _train_on(capsys, tmp_path / "rec", tmp_path)
    assert str(f) in line and words in line


def test_empty_and_header_only_files(capsys, tmp_path):
    f = _csv(tmp_path / "rec" / "0000.csv", "")
    assert f"{f}: file has no data rows" in _train_on(capsys, tmp_path / "rec", tmp_path)
    f.write_text("x,y,z\n\n\n")
    assert f"{f}: file has no data rows" in _train_on(capsys, tmp_path / "rec", tmp_path)


def test_binary_file_named_csv(capsys, tmp_path):
    f = tmp_path / "rec" / "0000.csv"
    f.parent.mkdir()
    f.write_bytes(bytes(range(256)) * 4)
    assert f"{f}: not a text CSV file" in _train_on(capsys, tmp_path / "rec", tmp_path)


def test_folder_named_csv_and_broken_link(capsys, tmp_path):
    (tmp_path / "rec" / "0000.csv").mkdir(parents=True)
    assert "is a folder, expected a CSV file" in _train_on(capsys, tmp_path / "rec", tmp_path)
    os.rmdir(tmp_path / "rec" / "0000.csv")
    os.symlink(tmp_path / "gone.csv", tmp_path / "rec" / "0000.csv")
    assert "0000.csv: cannot read (No such file or directory)" in _train_on(capsys, tmp_path / "rec", tmp_path)


def test_hidden_files_are_not_recordings(capsys, tmp_path):
    """macOS leaves ._0000.csv resource files next to copies; the board skips dot files too."""
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "._0000.csv").write_bytes(b"\x00\x05\x16\x07")
    assert "no .csv files" in _train_on(capsys, tmp_path / "rec", tmp_path)


def test_score_checks_every_path_before_printing(capsys, tmp_path, fan_model_path):
    line = _error(capsys, ["score", "--model", fan_model_path, LOW, str(tmp_path / "missing")])
    assert "missing: no such folder" in line
    assert capsys.readouterr().out == ""


def test_windows_crlf_and_bom_files_read_like_plain_ones(tmp_path):
    text = _accel_text(20)
    a = _csv(tmp_path / "a.csv", text)
    b = tmp_path / "b.csv"
    b.write_bytes(b"\xef\xbb\xbfx,y,z\r\n" + text.replace("\n", "\r\n").encode())
    np.testing.assert_array_equal(datasets.read_recording(str(a), "accel"),
                                  datasets.read_recording(str(b), "accel"))


def test_error_from_a_subprocess_is_one_line_without_traceback(tmp_path):
    r = run_py(["-m", "host_tools", "train", "--normal", LOW, "--window", "0", "--out", str(tmp_path / "m.json")])
    assert r.returncode == 2
    assert r.stderr.strip().startswith("error: --window 0") and "\n" not in r.stderr.strip()


# ---- device.csvrows: the shared row rules ----------------------------------------------------

def test_rows_skip_blank_lines_and_one_header():
    rows = csvrows.Rows("accel", "f.csv")
    got = [rows.feed(ln) for ln in ["x,y,z", "", "1,2,3", "  ", "4,5,6"]]
    assert got == [None, None, [1.0, 2.0, 3.0], None, [4.0, 5.0, 6.0]]
    with pytest.raises(csvrows.RowError, match=r"^f.csv: line 6 has a non-numeric value 'x'$"):
        rows.feed("x,y,z")


def test_rows_fill_a_buffer_and_restart_per_file():
    rows = csvrows.Rows("thermal", "a.csv")
    buf = [0.0] * 32
    assert rows.feed(",".join(["20.5"] * 32), buf) is buf and buf[31] == 20.5
    rows.start("b.csv")
    assert rows.feed(",".join("c%d" % i for i in range(32))) is None  # a header again
    with pytest.raises(csvrows.RowError, match=r"b.csv: line 2 has 450, outside the physical range of thermal"):
        rows.feed(",".join(["450"] + ["20"] * 31))


def test_scalar_range_is_finite_only_unless_given():
    assert csvrows.parse_line("1700000000,1e30", "scalar", 1) == [1.7e9, 1e30]
    with pytest.raises(csvrows.RowError, match="non-finite"):
        csvrows.parse_line("1,-inf", "scalar", 3, "t.csv")
    with pytest.raises(csvrows.RowError, match="too large for a 32-bit float"):
        csvrows.parse_line("1,-1e39", "scalar", 3, "t.csv")
    with pytest.raises(csvrows.RowError, match="outside"):
        csvrows.parse_line("1,50", "scalar", 3, "t.csv", limits=(-40.0, 45.0))


def test_column_count_message_names_expected_and_got():
    with pytest.raises(csvrows.RowError, match=r"^r.csv: line 9 has 4 columns, expected 3 \(x,y,z"):
        csvrows.parse_line("1,2,3,4", "accel", 9, "r.csv")
    with pytest.raises(csvrows.RowError, match=r"^expected 'accel' sensor data but r.csv has 2 columns \(timestamp,value"):
        csvrows.parse_line("1,2", "accel", 1, "r.csv", first_row=True)


EDITS = {"accel": ["", "  ", "x,y,z", "1,2", "1,2,3,4", "1,,2", "nan,0,0", "0,0,1001", "0,0,-1000",
                   "1e3,0,0", " 0.5 , 0.5 ,0.5", "0x1,0,0", "1_0,0,0"],
         "scalar": ["", "t,v", "5,1e38", "5,-3.5e38", "1e39,1", "5,inf", "5", "5,6,7", "1,2,3"]}


@pytest.mark.parametrize("kind", ["accel", "scalar"])
def test_host_fast_path_and_shared_rules_agree(tmp_path, kind):
    """Random edits of a clean file: the NumPy reader accepts exactly what the per-line
    rules accept, with the same rows, and otherwise names the same line."""
    rs = np.random.RandomState(0)
    base = (_accel_text(30) if kind == "accel" else _scalar_text(30)).splitlines()
    edits = EDITS[kind]
    for trial in range(60):
        lines = list(base)
        for _ in range(rs.randint(1, 3)):
            lines.insert(rs.randint(0, len(lines) + 1), edits[rs.randint(len(edits))])
        f = tmp_path / f"t{trial}.csv"
        f.write_text("\n".join(lines) + "\n")
        rows = csvrows.Rows(kind, str(f))
        try:
            want = np.array([r for r in map(rows.feed, f.read_text().split("\n")) if r is not None])
            want_err = None
        except csvrows.RowError as e:
            want_err = str(e)
        try:
            got = datasets.read_csv(str(f), kind)
            assert want_err is None, (lines, want_err)
            np.testing.assert_array_equal(got, want)
        except datasets.DataError as e:
            assert str(e) == want_err, lines


ROW_CASES = [("accel", ["x,y,z", "", "0.1,-0.2,1.0", " 0.5 , 0.5 ,0.5", "1e3,0,-1000", "0,0,1001"]),
             ("accel", ["1,2", "1,2,3"]),
             ("accel", ["1,2,3", "1,2,3,4"]),
             ("accel", ["1,2,3", "nan,0,0"]),
             ("accel", ["1,2,3", "1,inf,0"]),
             ("accel", ["1,2,3", "1,n/a,0"]),
             ("scalar", ["timestamp,value", "1700000000,21.5", "1700000001,-1e30", "1700000002,1e39"]),
             ("scalar", ["1,2", "2,-3.5e38"]),
             ("thermal", [",".join(["25.5"] * 32), ",".join(["-61"] + ["20"] * 31)])]


def _run_rows(kind, lines):
    rows = csvrows.Rows(kind, "r.csv")
    out = []
    try:
        for ln in lines:
            out.append(rows.feed(ln))
    except csvrows.RowError as e:
        out.append("error: " + str(e))
    return out


def test_csvrows_under_micropython_gives_the_same_rows_and_messages(tmp_path):
    """The board runs this same file: rows and error messages must match CPython's."""
    from test_micropython import run_mp

    script = ("import json\nfrom device import csvrows\n"
              "def run(kind, lines):\n"
              "    rows = csvrows.Rows(kind, 'r.csv')\n"
              "    out = []\n"
              "    try:\n"
              "        for ln in lines:\n"
              "            out.append(rows.feed(ln))\n"
              "    except csvrows.RowError as e:\n"
              "        out.append('error: ' + str(e))\n"
              "    return out\n"
              "cases = json.loads(%r)\n"
              "print(json.dumps([run(k, ls) for k, ls in cases]))\n") % json.dumps(ROW_CASES)
    r = run_mp(script, tmp_path)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    want = json.loads(json.dumps([_run_rows(k, ls) for k, ls in ROW_CASES]))
    assert got == want


def test_unforeseen_file_system_error_is_one_line(capsys, monkeypatch, fan_model_path):
    """A failure no check could foresee (the disk fills while the report is written) is
    still one `error:` line naming the file."""
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", "reports/x/coin_roc.png")

    monkeypatch.setattr(datasets, "list_csv", full)
    line = _error(capsys, ["score", "--model", fan_model_path, LOW])
    assert line == "error: reports/x/coin_roc.png: No space left on device"
