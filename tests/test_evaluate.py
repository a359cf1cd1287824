"""`host_tools evaluate`: end to end on the bundled subset, bad inputs, metric helpers,
and the MAD baseline against a hand computation."""

from __future__ import annotations

import json
import os
import statistics

import numpy as np
import pytest

from host_tools.modeling import baselines
from host_tools.cli import main as cli
from host_tools.modeling import evaluate
from host_tools.data.datasets import WindowSet

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "ceiling-fan")
FOLDERS = sorted(d for d in os.listdir(DATA) if os.path.isdir(os.path.join(DATA, d)))
DEC = {"k": 3, "n": 5, "on": 1.0, "off": 0.8, "cooldown": 0}


# ---- end to end ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """All scenarios with baselines on the bundled subset, run once for several tests."""
    out = tmp_path_factory.mktemp("report")
    import contextlib
    import io

    buf_out, buf_err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf_out), contextlib.redirect_stderr(buf_err):
        rc = cli.main(["evaluate", "--data", DATA, "--report", str(out)])  # --quiet: one line
    return rc, out, buf_out.getvalue(), buf_err.getvalue()


def test_evaluate_writes_report(full_run):
    rc, out, stdout, _ = full_run
    assert rc == 0
    for f in ("metrics.json", "report.md", "report.html"):
        assert (out / f).stat().st_size > 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    from host_tools.modeling import report

    scen = json.loads((out / "metrics.json").read_text())["scenarios"]
    # every method's distributions, false alarms over time, the timeline and the ROC (also
    # where every method separates perfectly: its caption says so)
    assert pngs == sorted(f"{s}_{k}.png" for s in ("state", "remount", "coin")
                          for k in ("hist", "alarms", "timeline", "roc"))
    assert not report.roc_informative(scen["state"]) or "state_roc.png" in pngs
    assert "coin_roc.png" in pngs
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "## Scenario coin" in md and "![" in md and "| method |" in md
    assert md.index("## Verdict") < md.index("![") < md.index("| method |")
    html = (out / "report.html").read_text()
    assert "<table>" in html and "coin_roc.png" in html
    assert "report:" in stdout and "report.html" in stdout
    assert "== state" in stdout and "== remount" in stdout and "== coin" in stdout
    assert "false alarms per mode" in stdout and "== coin mahalanobis" in stdout


def test_report_opens_with_a_verdict_and_folds_the_tables(full_run):
    _, out, _, _ = full_run
    html = (out / "report.html").read_text()
    # the verdict per scenario in words and numbers, then figures, then the tables folded
    assert html.index("<h2>Verdict</h2>") < html.index("<figure>") < html.index("<details>") < html.index("| method |" if False else "<th>method</th>")
    for name in ("state", "remount", "coin"):
        assert f"<b>{name}:</b>" in html
    assert "per day" in html and "First alarm" in html
    # 20 normal test windows cannot back a 1% rate (the count rule training uses: 231)
    assert ("Not enough normal data to check the stated false-alarm rate of 1.0%: 20 normal test windows (20 s), "
            "0 over the line; 231 are needed to tell (211 more, about 4 min more of normal running)") in html
    assert "The stated false-alarm rate held" not in html and "class='verdict unknown'" in html
    assert html.count("<figcaption>") == 12 and "<table>" in html.split("<details>")[0]  # one short table on top
    assert html.split("<details>")[0].count("<table>") == 1
    assert str(out) not in html and "/tmp" not in html and os.getcwd() not in html  # no absolute paths
    m = json.loads((out / "metrics.json").read_text())["meta"]
    assert not any(os.path.isabs(p) for p in m["evaluated"] + [m["data"]])


def test_evaluate_metrics_json(full_run):
    _, out, _, _ = full_run
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["timing_seconds"]) >= {"load", "fit", "score", "baselines", "report", "total"}
    sc = m["scenarios"]
    assert set(sc) == {"state", "remount", "coin"}
    baseline_names = {"mad-mahalanobis", "isolation-forest", "elliptic-envelope"}
    for name, s in sc.items():
        assert {"mahalanobis", "zscore"} <= set(s["methods"])
        assert baseline_names <= set(s["methods"])
        for k, meth in s["methods"].items():
            if "error" in meth:
                continue
            assert 0.0 <= meth["normal"]["fa_rate"] <= 1.0
            for a in s["anomalies"]:
                am = meth["anomalies"][a]
                assert 0.0 <= am["auc"] <= 1.0 and 0.0 <= am["detection_rate"] <= 1.0
                assert am["delay_windows"] is None or am["delay_windows"] >= 0
    # The state change (fan off / at another speed) is easy for our detector.
    state = sc["state"]["methods"]["mahalanobis"]["anomalies"]
    assert state["fan_0_off_0_weight"]["auc"] > 0.95
    assert state["fan_0_high_0_weight"]["detection_rate"] > 0.9
    # Subset: 100 files a folder, one window each -> 60/20/20.
    assert sc["state"]["fit_windows"] == {"fan_0_low_0_weight": 60}
    assert sc["state"]["normal_test"]["windows"] == 20
    assert sc["coin"]["normal_test"]["windows"] == 80
    # Remount: commissioned on the first 30%, tested on the other 70 windows, with the
    # uncommissioned model reported alongside.
    rm = sc["remount"]
    assert rm["commissioning"]["windows"] == 30
    assert rm["normal_test"]["windows"] == 70
    assert "mahalanobis-uncommissioned" in rm["methods"]
    assert rm["methods"]["mahalanobis-uncommissioned"]["normal"]["fa_rate"] > \
        rm["methods"]["mahalanobis"]["normal"]["fa_rate"]
    # Per mode: measured vs stated vs supported false-alarm rate of ours.
    parts = sc["coin"]["methods"]["mahalanobis"]["normal_parts"]
    assert [p["mode"] for p in parts] == sc["coin"]["normal_modes"]
    assert all(p["windows"] == 20 and p["stated"] == 0.01 and 0 < p["fa_supported"] <= 0.0101 for p in parts)
    assert rm["methods"]["mahalanobis"]["normal_parts"][0]["mode"] == "fan_0_low_0_weight"
    # The moving session is an informational extra row in every scenario.
    for s in sc.values():
        assert "fan_0_low_0_weight-moving" in s["extras"]


def test_evaluate_single_scenario_no_baselines(tmp_path, capsys):
    rc = cli.main(["evaluate", "--data", DATA, "--scenario", "coin", "--no-baselines",
                   "--detector", "zscore", "--report", str(tmp_path)])  # the summary is checked below
    assert rc == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert list(m["scenarios"]) == ["coin"]
    coin = m["scenarios"]["coin"]
    assert set(coin["methods"]) == {"mahalanobis", "zscore"}
    assert coin["primary"] == "zscore"
    assert coin["normal_modes"] == ["fan_0_off_0_weight", "fan_0_low_0_weight",
                                    "fan_0_med_0_weight", "fan_0_high_0_weight"]
    assert "zscore*" in capsys.readouterr().out


def test_evaluate_custom_folders(tmp_path):
    rc = cli.main(["evaluate", "--data", DATA, "--normal", "fan_0_low_0_weight", "fan_0_high_0_weight",
                   "--anomaly", "fan_0_low_1_weight", "--no-baselines", "--report", str(tmp_path), "--quiet"])
    assert rc == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["scenarios"]["custom"]["anomalies"] == ["fan_0_low_1_weight"]


# ---- bad inputs ---------------------------------------------------------------------

def _partial_data(tmp_path, leave_out: str, empty: bool = False):
    root = tmp_path / "data"
    root.mkdir()
    for d in FOLDERS:
        if d == leave_out:
            if empty:
                (root / d).mkdir()
            continue
        os.symlink(os.path.join(DATA, d), root / d)
    return root


def test_missing_folder_is_a_one_line_error(tmp_path, capsys):
    root = _partial_data(tmp_path, "fan_0_med_1_weight")
    rc = cli.main(["evaluate", "--data", str(root), "--scenario", "coin", "--quiet",
                   "--report", str(tmp_path / "r")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "fan_0_med_1_weight" in err and "coin" in err
    assert not (tmp_path / "r").exists()  # failed before any work


def test_scenario_without_its_folder_fails_but_others_run(tmp_path, capsys):
    root = _partial_data(tmp_path, "fan_0_low-deploy")
    assert cli.main(["evaluate", "--data", str(root), "--scenario", "remount", "--quiet",
                     "--report", str(tmp_path / "r")]) == 2
    assert "fan_0_low-deploy" in capsys.readouterr().err
    # coin lists the deployment session only as an informational extra: it still runs.
    assert cli.main(["evaluate", "--data", str(root), "--scenario", "coin", "--no-baselines",
                     "--quiet", "--report", str(tmp_path / "r2")]) == 0
    m = json.loads((tmp_path / "r2" / "metrics.json").read_text())
    assert m["scenarios"]["coin"]["missing_extras"] == ["fan_0_low-deploy"]


def test_empty_folder_is_an_error(tmp_path, capsys):
    root = _partial_data(tmp_path, "fan_0_low_1_weight", empty=True)
    rc = cli.main(["evaluate", "--data", str(root), "--scenario", "state", "--no-baselines",
                   "--quiet", "--report", str(tmp_path / "r")])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "fan_0_low_1_weight" in err and "\n" not in err


def test_missing_data_root(tmp_path, capsys):
    assert cli.main(["evaluate", "--data", str(tmp_path / "nope"), "--quiet"]) == 2
    assert "nope" in capsys.readouterr().err


# ---- metric helpers -----------------------------------------------------------------

def test_count_alarms_debounce_and_cooldown():
    seq = [2, 2, 2, 0, 0, 0, 0, 0, 2, 2, 2]
    # k=3 of 5: the third hit starts an alarm; 5 quiet windows end it; three more hits
    # start a second one.
    assert evaluate.count_alarms(seq, DEC) == 2
    # With a cooldown of 30 windows after the end, the second burst stays silent.
    assert evaluate.count_alarms(seq, dict(DEC, cooldown=30)) == 1
    # Two hits of five never start an alarm; exactly 1.0 is not over the line.
    assert evaluate.count_alarms([2, 0, 2, 0, 0, 1.0, 1.0, 1.0], DEC) == 0


def test_alarms_per_hour():
    seq = [0.0] * 3600
    seq[100:103] = [2, 2, 2]
    seq[2000:2003] = [2, 2, 2]
    n, hours, per_hour = evaluate.alarms_per_hour(seq, DEC, 1.0)
    assert (n, hours, per_hour) == (2, 1.0, 2.0)
    n, hours, per_hour = evaluate.alarms_per_hour(seq, DEC, 0.5)  # half-second windows
    assert (n, hours, per_hour) == (2, 0.5, 4.0)
    s = evaluate.alarm_summary(seq, DEC, 1.0)
    assert s["alarms"] == 2 and s["fa_rate"] == pytest.approx(6 / 3600)
    # Each alarm is on after the window that starts it (3rd hit) and after the next four
    # quiet ones; the fifth quiet window ends it: 5 windows per alarm.
    assert s["alarm_on_share"] == pytest.approx(10 / 3600)


def test_detection_delay():
    quiet = [0.1] * 10
    assert evaluate.detection_delay(quiet, [2.0] * 10, DEC) == (3, False)
    # Two hits still in the history when the anomaly starts: the first anomaly window is
    # the third of five.
    assert evaluate.detection_delay(quiet + [2, 2], [2.0] * 10, DEC) == (1, False)
    assert evaluate.detection_delay(quiet, [0.5, 2, 0.5, 2, 2, 2], DEC) == (5, False)
    assert evaluate.detection_delay(quiet, [0.5] * 20, DEC) == (None, False)
    # A false alarm still on when the anomaly begins.
    assert evaluate.detection_delay(quiet + [2, 2, 2], [2.0] * 5, DEC) == (0, True)


def test_detection_rate_and_auc():
    assert evaluate.detection_rate(np.array([0.5, 1.0, 1.5, 3.0])) == 0.5
    assert evaluate.roc_auc(np.array([0.1, 0.2]), np.array([0.3, 0.4])) == 1.0
    assert evaluate.roc_auc(np.array([0.1, 0.4]), np.array([0.3, 0.5])) == 0.75


def test_report_roc_points_match_sklearn_with_ties():
    """The report's NumPy ROC (sorted scores, cumulative sums) is sklearn's roc_curve with
    every threshold kept, ties included, and its area is roc_auc_score."""
    from sklearn.metrics import roc_auc_score, roc_curve

    from host_tools.modeling import report

    rs = np.random.RandomState(3)
    normal = np.round(rs.rand(57), 1)  # rounding makes many ties, within and across sets
    anomaly = np.round(rs.rand(41) + 0.3, 1)
    fpr, tpr = report.roc_points(normal, anomaly)
    y = np.r_[np.zeros(len(normal)), np.ones(len(anomaly))]
    f_ref, t_ref, _ = roc_curve(y, np.r_[normal, anomaly], drop_intermediate=False)
    np.testing.assert_allclose(fpr, f_ref)
    np.testing.assert_allclose(tpr, t_ref)
    assert np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2) == pytest.approx(roc_auc_score(y, np.r_[normal, anomaly]))
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)


def _tiny_report_input(name="s"):
    rs = np.random.RandomState(1)
    an = ["fan_0_low_1_weight", "fan_0_med_1_weight"]
    ser = {k: {"normal": rs.rand(30), an[0]: rs.rand(20) + 1, an[1]: rs.rand(20) + 0.5}
           for k in ("mahalanobis", "zscore")}
    methods = {k: {"label": k, "family": "ours", "pooled": {"auc": 0.9},
                   "anomalies": {a: {"auc": 0.8} for a in an}} for k in ser}
    r = {"name": name, "anomalies": an, "primary": "mahalanobis", "methods": methods,
         "timeline_methods": ["mahalanobis"]}
    return [r], {name: ser}


@pytest.mark.parametrize("workers", [1, 2])
def test_report_figures_serial_and_in_worker_processes(tmp_path, workers):
    from host_tools.modeling import report

    results, series = _tiny_report_input()
    files = report.write_figures(str(tmp_path), results, series, workers=workers)
    assert files == {"s": ["s_hist.png", "s_roc.png", "s_alarms.png", "s_timeline.png"]}
    for f in files["s"]:
        assert (tmp_path / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_figure_error_in_a_worker_reaches_the_caller(tmp_path):
    from host_tools.modeling import report

    results, series = _tiny_report_input()
    (tmp_path / "s_roc.png").mkdir()  # a folder where a figure goes: the save fails
    with pytest.raises(OSError):
        report.write_figures(str(tmp_path), results, series, workers=2)


def test_part_mask_matches_split_time():
    order = np.repeat(np.arange(17), 2)  # 17 files, two windows each
    ws = WindowSet("x", np.arange(34, dtype=np.float32).reshape(34, 1), ["f"] * 34,
                   [0, 1] * 17, order)
    ev = evaluate.Evaluator({"x": evaluate.Folder(ws, None)}, None, None, None)
    for part, sub in enumerate(ws.split_time(*evaluate.SPLIT)):
        np.testing.assert_array_equal(ws.features[ev._part_mask("x", part)], sub.features)


def test_normal_parts_measured_vs_stated_per_mode():
    """Each normal test part gets its own measured rate (ratios > 1 of its windows, in the
    order the parts were concatenated) next to the rate stated and the rate supported."""
    parts = [("a last 20%", WindowSet("a", np.zeros((4, 2), np.float32), ["f"] * 4, [0] * 4, np.arange(4))),
             ("b last 20%", WindowSet("b", np.zeros((2, 2), np.float32), ["f"] * 2, [0] * 2, np.arange(2)))]
    doc = {"modes": [{"name": "a", "fa_supported": 0.01, "threshold_method": "tail", "n_threshold": 30},
                     {"name": "b", "fa_supported": 0.04, "threshold_method": "max", "n_threshold": 9}]}
    ratios = np.array([0.2, 1.5, 0.9, 1.0, 3.0, 0.1])  # 1.0 itself is not over the line
    got = evaluate.normal_parts(ratios, parts, doc, 0.01)
    assert [(p["mode"], p["windows"], p["over"], p["fa_rate"]) for p in got] == [("a", 4, 1, 0.25), ("b", 2, 1, 0.5)]
    assert [(p["stated"], p["fa_supported"], p["threshold_method"], p["threshold_windows"]) for p in got] == \
        [(0.01, 0.01, "tail", 30), (0.01, 0.04, "max", 9)]
    # remount: one part, the deployment session, belongs to the commissioned mode
    one = evaluate.normal_parts(ratios, parts[:1], doc, 0.01, ["b"])
    assert one[0]["mode"] == "b" and one[0]["fa_supported"] == 0.04
    text = evaluate.fa_table_text([{"name": "coin", "methods": {
        "mahalanobis": {"family": "ours", "normal_parts": got,
                        "anomalies": {"fan_0_high_1_weight": {"detection_rate": 0.921}}},
        "mad-mahalanobis": {"family": "baseline"}}}])
    lines = text.splitlines()
    assert "== coin mahalanobis" in lines and not any("mad-mahalanobis" in ln for ln in lines)
    row = next(ln for ln in lines if ln.strip().startswith("b last 20%"))
    assert row.split()[3:8] == ["2", "1", "50.00%", "1.00%", "4.00%"]
    assert "detected: fan_0_high_1_weight 92.1%" in text


# ---- baselines ----------------------------------------------------------------------

def test_mad_features_by_hand():
    rng = np.random.default_rng(3)
    win = np.round(rng.normal(0, 0.05, size=(3, 200)) * 2048) / 2048 + np.array([[0.0], [0.2], [1.0]])
    got = baselines.mad_features(win)
    for a in range(3):
        xs = [float(v) for v in win[a, :128]]  # the original used the first 128 rows
        med = statistics.median(xs)
        mad = statistics.median([abs(v - med) for v in xs])
        assert got[a] == pytest.approx(mad * 1.4826, rel=1e-12)
    stack = baselines.mad_features(np.stack([win, win * 2]))
    assert stack.shape == (2, 3)
    np.testing.assert_allclose(stack[1], 2 * got)
    # Samples after the first 128 do not count.
    win2 = win.copy()
    win2[:, 128:] = 100.0
    np.testing.assert_array_equal(baselines.mad_features(win2), got)


def test_mad_mahalanobis_baseline():
    rng = np.random.default_rng(0)
    x = rng.normal([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], size=(500, 3))
    b = baselines.MadMahalanobis().fit(x)
    assert b.score(b.mean[None, :])[0] == pytest.approx(0.0, abs=1e-12)
    # One axis 3 sd away in an (almost) uncorrelated Gaussian -> distance about 3.
    d = b.score((b.mean + [0.3, 0, 0])[None, :])[0]
    assert 2.5 < d < 3.5


@pytest.mark.parametrize("cls", [baselines.IsolationForestBaseline, baselines.EllipticEnvelopeBaseline])
def test_sklearn_baselines_rank_outliers_higher(cls):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 5))
    b = cls().fit(x)
    s = b.score(np.vstack([np.zeros(5), np.full(5, 6.0)]))
    assert s[1] > s[0] > 0


def test_stated_rate_needs_enough_normal_windows():
    """The verdict says whether the stated rate held only with the windows that can back
    it (device.threshold.windows_needed); with fewer it says how many more are needed,
    unless even those few show the rate broken."""
    from device import threshold
    from host_tools.modeling.report import rate_check

    need = threshold.windows_needed(0.01)
    assert need == 231
    held, words = rate_check(1, 1000, 0.01, 2.0)
    assert held is True and words.startswith("The stated false-alarm rate held: 0.10% of 1000")
    held, words = rate_check(30, 1000, 0.01, 2.0)
    assert held is False and "did NOT hold: 3.0% of 1000" in words
    held, words = rate_check(0, 20, 0.01, 2.0)
    assert held is None and "20 normal test windows (40 s)" in words and "211 more, about 7 min more" in words
    held, words = rate_check(6, 20, 0.01, 2.0)  # 6 of 20 over the line: broken even so
    assert held is False and "even so few windows show it" in words
    held, words = rate_check(0, 400, 0.001, 0.125, "frames")  # thermal: frames at 8 per second
    assert held is None and "400 normal test frames" in words and "needed to tell" in words
