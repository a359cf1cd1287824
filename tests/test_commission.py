"""On-device commissioning recovers a shifted location/scale and sets an honest threshold.

Tolerances: Welford in float32 vs NumPy batch float64 -> mean within 1e-4 of a standard
deviation, std rtol 1e-4. The threshold is device.threshold.choose of the threshold-phase
raw scores (stored as float32 by the board code): rel 1e-5, as the scores recomputed here
after the threshold is set may differ in the last float32 bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import synthetic_modes
from device import detectors, xp
from device.commission import Commissioner
from device.threshold import choose


def _detector(n=6, n_modes=1, detector="mahalanobis", seed=0):
    modes = synthetic_modes(n, n_modes=n_modes, seed=seed, detector=detector)
    return detectors.from_model({"detector": detector, "modes": modes}), modes


def _stream(rs, n, centre, spread, mix=None):
    x = rs.randn(n, len(centre))
    if mix is not None:
        x = x @ mix
    return (x * spread + centre).astype(np.float32)


@pytest.mark.parametrize("detector", ["mahalanobis", "zscore"])
def test_commissioning_recovers_shifted_location_and_scale(detector):
    n = 6
    det, modes = _detector(n, detector=detector)
    rs = np.random.RandomState(3)
    centre = np.asarray(modes[0]["mean"]) + np.linspace(1.0, 4.0, n)  # remounted: shifted
    spread = np.asarray(modes[0]["scale"]) * np.linspace(0.5, 2.0, n)
    n_fit, n_thr, fa = 150, 100, 0.05
    data = _stream(rs, n_fit + n_thr, centre, spread)
    com = Commissioner(det, n_fit, n_thr, fa, mode=0)
    done = [com.update(x) for x in data]
    assert done[-1] and not any(done[:-1]) and com.done and com.progress() == 1.0
    assert com.updated == ["mode0"] and com.counts() == [n_fit]

    mean, scale, thr = det.mode_params(0)
    fit = data[:n_fit].astype(np.float64)
    want_mean, want_std = fit.mean(axis=0), fit.std(axis=0, ddof=1)
    np.testing.assert_array_less(np.abs(np.asarray(mean) - want_mean), 1e-4 * want_std)
    np.testing.assert_allclose(scale, want_std, rtol=1e-4)

    # the threshold is chosen from the threshold-phase raw scores, which were scored
    # against the commissioned location (float32, as the board keeps them)
    raws = np.array([det.raw(x, 0) for x in data[n_fit:]], dtype=np.float32)
    want_thr, want_sup, want_how = choose(list(raws), fa)
    assert thr == pytest.approx(want_thr, rel=1e-5) and com.methods == [want_how]
    assert com.fa_supported[0] == pytest.approx(want_sup, rel=1e-4)
    assert com.refused is None and com.warnings == [] and want_sup <= fa
    # and the commissioned model no longer calls the installed normal data anomalous
    ratios = [det.score(x)[0] for x in data[n_fit:]]
    assert np.mean(np.array(ratios) > 1.0) <= fa + 0.02


def test_margin_scales_the_commissioned_threshold():
    det, modes = _detector(4)
    det2, _ = _detector(4)
    rs = np.random.RandomState(1)
    data = _stream(rs, 60, np.asarray(modes[0]["mean"]) + 2, 1.0)
    a = Commissioner(det, 30, 30, 0.1, mode=0)
    b = Commissioner(det2, 30, 30, 0.1, mode=0, margins=[1.5])
    for x in data:
        a.update(x)
        b.update(x)
    assert det2.threshold(0) == pytest.approx(1.5 * det.threshold(0), rel=1e-6)


def test_nearest_mode_assignment_and_min_windows():
    """mode=None: each window goes to its nearest trained mode; a mode that sees fewer
    than min_windows windows keeps its trained values."""
    n = 5
    det, modes = _detector(n, n_modes=3, seed=2)
    m0 = np.asarray(modes[0]["mean"])
    modes[1]["mean"] = list(m0 + 30.0)
    modes[2]["mean"] = list(m0 - 30.0)
    det = detectors.from_model({"detector": "mahalanobis", "modes": modes})
    trained = [det.mode_params(i) for i in range(3)]
    rs = np.random.RandomState(5)
    near0 = _stream(rs, 40, m0 + 0.5, 0.3)
    near1 = _stream(rs, 40, m0 + 30.5, 0.3)
    few2 = _stream(rs, 3, m0 - 30.0, 0.3)
    fit = np.concatenate([near0[:20], near1[:20], few2])
    thr = np.concatenate([near0[20:], near1[20:]])
    com = Commissioner(det, len(fit), len(thr), 0.1, mode=None, min_windows=8)
    for x in np.concatenate([fit, thr]):
        com.update(x)
    assert com.counts() == [20, 20, 3]
    assert sorted(com.updated) == ["mode0", "mode1"]
    assert det.mode_params(2) == trained[2]  # untouched
    np.testing.assert_allclose(det.mode_params(1)[0], near1[:20].astype(np.float64).mean(axis=0), atol=1e-4)
    raws1 = np.array([det.raw(x, 1) for x in thr[20:]], dtype=np.float32)
    assert det.threshold(1) == pytest.approx(choose(list(raws1), 0.1)[0], rel=1e-5)
    assert com.fa_supported[2] is None and com.fa_supported[1] is not None


def test_scale_floor_keeps_a_fraction_of_the_trained_scale():
    """A perfectly quiet installation must not produce a zero scale (division by ~0)."""
    n = 4
    det, modes = _detector(n, detector="zscore")
    const = np.asarray(modes[0]["mean"], dtype=np.float32) + 1.0
    com = Commissioner(det, 20, 10, 0.1, mode=0, min_scale_ratio=0.1)
    for _ in range(30):
        com.update(xp.array(list(const)))
    _, scale, _ = det.mode_params(0)
    np.testing.assert_allclose(scale, 0.1 * np.asarray(modes[0]["scale"]), rtol=1e-6)


def test_commissioner_argument_checks():
    det, _ = _detector(3)
    with pytest.raises(ValueError):
        Commissioner(det, 1, 10, 0.01)
    with pytest.raises(ValueError):
        Commissioner(det, 10, 0, 0.01)


def test_host_commission_model_matches_board_commissioner(small_model):
    """host_tools.modeling.train.commission_model (used by `commission`) runs the same Commissioner."""
    from device import features
    from host_tools.modeling import train

    ex = features.from_recipe(small_model["features"])
    rs = np.random.RandomState(9)
    m = small_model["modes"][0]
    feats = _stream(rs, 80, np.asarray(m["mean"]) + 0.7, np.asarray(m["scale"]))
    new, com = train.commission_model(small_model, feats, fit_share=0.5, mode=m["name"])
    assert com.updated == [m["name"]]
    nm = new["modes"][0]
    assert nm["threshold_source"] == "commissioning"
    np.testing.assert_allclose(nm["mean"], feats[:40].astype(np.float64).mean(axis=0), atol=1e-4)
    assert new["modes"][1] == small_model["modes"][1]
    assert ex.size == len(nm["mean"])


# ---- guards: commissioning data that is not steady normal operation ------------------------
# A 4-mode model trained by the CLI on the bundled fan sample (off/low/med/high), and the
# bundled sessions' features. The remount sessions (fan_0_low-deploy, -moving) must be
# accepted; the fan at high speed, with or without the coin, commissioned as "off", refused.

OFF = "fan_0_off_0_weight"
FOUR = (OFF, "fan_0_low_0_weight", "fan_0_med_0_weight", "fan_0_high_0_weight")


@pytest.fixture(scope="module")
def four_mode(tmp_path_factory):
    from conftest import fan
    from host_tools.cli import main as cli
    from host_tools.data import datasets
    from device import features, model

    out = str(tmp_path_factory.mktemp("four") / "model.json")
    assert cli.main(["train", "--normal", *[fan(f) for f in FOUR], "--out", out, "--quiet"]) == 0
    doc = model.load(out)
    ex = features.from_recipe(doc["features"])
    feats = {}

    def load(folder, fraction=0.3):
        if (folder, fraction) not in feats:
            ws = datasets.load_folder(fan(folder), ex, progress=False)
            feats[folder, fraction] = ws.split_time(fraction)[0].features
        return feats[folder, fraction]
    return out, doc, load


def _run(doc, feats, mode=None, **kw):
    from device import commission

    det = detectors.from_model(doc)
    n_fit = len(feats) // 2
    idx = None if mode is None else det.mode_names.index(mode)
    com = commission.from_model(det, doc, n_fit, len(feats) - n_fit, mode=idx, **kw)
    done = [com.update(x) for x in feats]
    assert done[-1] and not any(done[:-1])
    return det, com


def test_trained_model_stores_supported_rate_and_typical_score(four_mode):
    _, doc, _ = four_mode
    for m in doc["modes"]:
        assert m["threshold_method"] == "tail" and m["n_threshold"] == 25
        assert 0 < m["fa_supported"] <= doc["fa_rate"] * 1.0001
        assert 0 < m["typical_raw"] < m["threshold"]


@pytest.mark.parametrize("folder", ["fan_0_high_1_weight", "fan_0_high_0_weight"])
def test_board_refuses_off_mode_on_high_speed_and_keeps_the_trained_values(four_mode, folder):
    _, doc, load = four_mode
    trained = detectors.from_model(doc)
    det, com = _run(doc, load(folder), mode=OFF)
    assert com.done and com.updated == [] and com.fa_supported == [None] * 4
    assert "farther than remounting explains" in com.refused and OFF in com.refused
    for i in range(4):  # every mode exactly as trained
        assert det.mode_params(i) == trained.mode_params(i)


@pytest.mark.parametrize("folder,mode", [("fan_0_low-deploy", None), ("fan_0_low-deploy", "fan_0_low_0_weight")])
def test_board_accepts_a_genuine_remount(four_mode, folder, mode):
    _, doc, load = four_mode
    det, com = _run(doc, load(folder), mode=mode)
    assert com.refused is None and com.updated == ["fan_0_low_0_weight"]
    i = det.mode_names.index("fan_0_low_0_weight")
    assert com.fa_supported[i] is not None and com.methods[i] == "tail"
    assert det.threshold(i) != detectors.from_model(doc).threshold(i)


@pytest.mark.parametrize("mode", [None, "fan_0_low_0_weight"])
def test_board_refuses_the_session_recorded_while_the_fan_was_moved(four_mode, mode):
    """fan_0_low_0_weight-moving: the fan base was nudged while recording; its windows
    vary about twice as much as any steady session, so it is no reference."""
    _, doc, load = four_mode
    det, com = _run(doc, load("fan_0_low_0_weight-moving"), mode=mode)
    assert com.refused is not None and com.updated == []
    if mode is not None:  # nearest mode: some windows go to "off", whose axis guard may speak first
        assert "not steady operation" in com.refused
    assert det.mode_params(1) == detectors.from_model(doc).mode_params(1)


@pytest.mark.parametrize("coin,mode", [("fan_0_low_1_weight", "fan_0_low_0_weight"),
                                       ("fan_0_med_1_weight", "fan_0_med_0_weight"),
                                       ("fan_0_high_1_weight", "fan_0_high_0_weight"),
                                       ("fan_0_high_1_weight", None)])
def test_board_refuses_a_coin_for_its_own_speed(four_mode, coin, mode):
    """The coin moves each speed part of the way towards the next slower one: the
    operating-axis guard (or, nearest-mode, another guard) refuses it."""
    _, doc, load = four_mode
    det, com = _run(doc, load(coin), mode=mode)
    assert com.refused is not None and com.updated == []
    if mode is not None:
        assert "of the way towards mode" in com.refused or "not steady" in com.refused
    for i in range(4):
        assert det.mode_params(i) == detectors.from_model(doc).mode_params(i)


def test_board_accepts_the_later_part_of_each_normal_session(four_mode):
    from conftest import fan
    from host_tools.data import datasets
    from device import features

    _, doc, _ = four_mode
    ex = features.from_recipe(doc["features"])
    for folder in FOUR:
        feats = datasets.load_folder(fan(folder), ex, progress=False).split_time(0.7, 0.3)[1].features
        _, com = _run(doc, feats, mode=folder)
        assert com.refused is None and com.updated == [folder], (folder, com.refused)
        i = FOUR.index(folder)
        assert com.axis_share[i] is not None and com.axis_share[i] < 0.16
        assert com.spread_ratio[i] < 1.6


def test_operating_axis_guard_on_synthetic_modes():
    """Two modes; a run shifted 30% of the way from mode 0 to mode 1 is refused, the same
    shift sideways (perpendicular to the line between the modes) is adopted."""
    det, modes = _detector(6, n_modes=2)
    rs = np.random.RandomState(5)
    m0, m1 = np.asarray(modes[0]["mean"]), np.asarray(modes[1]["mean"])
    sc = np.asarray(modes[0]["scale"])
    u = (m1 - m0) / sc
    side = rs.randn(len(u))
    side -= (side @ u) / (u @ u) * u
    side *= 0.3 * np.linalg.norm(u) / np.linalg.norm(side)
    for shift, refused in ((0.3 * u, True), (side, False)):
        det, _ = _detector(6, n_modes=2)
        data = _stream(rs, 80, m0 + shift * sc, sc)
        com = Commissioner(det, 40, 40, 0.01, mode=0)
        for x in data:
            com.update(x)
        assert (com.refused is not None) == refused, com.refused
        assert com.axis_share[0] == pytest.approx(0.3 if refused else 0.0, abs=0.08)


def test_board_refuses_halves_that_disagree(four_mode):
    """Low speed, then the coin taped on half way: each half is steady, together not."""
    _, doc, load = four_mode
    feats = np.concatenate([load("fan_0_low_0_weight", 0.2), load("fan_0_low_1_weight", 0.2)])
    det, com = _run(doc, feats, mode="fan_0_low_0_weight")
    assert "second half of the windows differs from the first" in com.refused
    assert det.mode_params(1) == detectors.from_model(doc).mode_params(1)
    # the guard is what refuses it: without it the same windows are adopted
    _, com2 = _run(doc, feats, mode="fan_0_low_0_weight", guard=False)
    assert com2.refused is None and com2.updated == ["fan_0_low_0_weight"]


def test_board_refuses_a_mode_change_while_commissioning(four_mode):
    _, doc, load = four_mode
    feats = np.concatenate([load("fan_0_low_0_weight", 0.2), load("fan_0_high_0_weight", 0.2)])
    _, com = _run(doc, feats)  # nearest mode: low in the first half, high in the second
    assert "changed mode while commissioning" in com.refused and com.updated == []


def test_commissioner_warns_when_too_few_windows_support_the_rate():
    det, modes = _detector(4)
    rs = np.random.RandomState(2)
    data = _stream(rs, 16, np.asarray(modes[0]["mean"]), np.asarray(modes[0]["scale"]))
    com = Commissioner(det, 8, 8, 0.01, mode=0)  # 8 threshold windows: no tail fit
    for x in data:
        com.update(x)
    assert com.refused is None and com.methods == ["max"]
    assert com.fa_supported[0] == pytest.approx(-np.log(0.1) / 8)
    assert len(com.warnings) == 1 and "mode0" in com.warnings[0] and "not the 1%" in com.warnings[0]


def test_host_commission_refused_is_an_error_exit_2(four_mode, tmp_path, capsys):
    from conftest import fan
    from host_tools.cli import main as cli

    path, _, _ = four_mode
    out = tmp_path / "c.json"
    rc = cli.main(["commission", "--model", path, "--data", fan("fan_0_high_1_weight"), "--fraction", "0.3",
                   "--mode", OFF, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1
    assert err[0].startswith("error: commissioning refused, model not changed: mode fan_0_off_0_weight")
    assert not out.exists() and not (tmp_path / "c.json.tmp").exists()


def test_host_commission_accepts_remount_and_prints_supported_rates(four_mode, tmp_path, capsys):
    from conftest import fan
    from device import model
    from host_tools.cli import main as cli

    path, doc, _ = four_mode
    out = tmp_path / "c.json"
    rc = cli.main(["commission", "--model", path, "--data", fan("fan_0_low-deploy"), "--fraction", "0.3",
                   "--out", str(out), "--quiet"])
    o = capsys.readouterr()
    assert rc == 0 and "supports fa" in o.out and o.err == ""
    new = model.load(str(out))
    low = new["modes"][1]
    assert low["threshold_source"] == "commissioning" and low["n_threshold"] == 15
    assert low["threshold_method"] == "tail" and low["fa_supported"] <= doc["fa_rate"] * 1.0001
    # 16 windows: 8 to choose thresholds from, too few for the rate: a warning line
    rc = cli.main(["commission", "--model", path, "--data", fan("fan_0_low-deploy"), "--windows", "16",
                   "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0 and err.startswith("warning: mode fan_0_low_0_weight: a threshold from 8 windows supports")


def test_train_warns_when_a_threshold_cannot_support_the_rate(small_model):
    from host_tools.modeling import train

    assert train.threshold_warnings(small_model) == []
    doc = dict(small_model, modes=[dict(m) for m in small_model["modes"]])
    doc["modes"][1].update(fa_supported=0.2, threshold_method="max", n_threshold=11)
    w = train.threshold_warnings(doc)
    assert len(w) == 1 and "'busy'" in w[0] and "20.00%" in w[0] and "5.00%" in w[0]
    # how many it has, and how many more (47 back 5% distribution-free: 36 more)
    assert "from 11 calibration windows" in w[0] and "47 calibration windows" in w[0] and "36 more" in w[0]
    spw = doc["features"]["window"] / doc["features"]["rate"]
    w = train.threshold_warnings(doc, 0.25)
    assert f"about {36 * spw / 0.25:.0f} s more recording" in w[0]


def test_windows_needed_backs_the_rate_distribution_free():
    from device import threshold

    for fa in (0.01, 0.05, 0.2):
        n = threshold.windows_needed(fa)
        assert threshold.count_upper(0) / n <= fa < threshold.count_upper(0) / (n - 1)
        s = list(np.linspace(0, 1, n))
        assert threshold.choose(s, fa)[2] == "rank"


def test_one_welford_for_commissioning_and_the_thermal_baseline():
    from device import commission, stats, thermal

    assert commission.Welford is stats.Welford and issubclass(thermal.Baseline, stats.Welford)
    rs = np.random.RandomState(8)
    frames = (20 + rs.randn(50, 24, 32) * rs.uniform(0.1, 2, (24, 32))).astype(np.float32)
    b = thermal.Baseline()
    for f in frames:
        b.update(f)
    d64 = frames.astype(np.float64)
    np.testing.assert_allclose(b.mean, d64.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(b.std(), d64.std(axis=0, ddof=1), rtol=1e-4)
    np.testing.assert_allclose(b.scale(floor=0.5), np.maximum(d64.std(axis=0, ddof=1), 0.5), rtol=1e-4)


def test_an_adopted_run_close_to_the_axis_limit_gets_a_warning():
    """A run 13% of the way from mode 0 to mode 1 is adopted (limit 16%) with a warning
    that a small fault looks the same; one that stayed put is adopted without one."""
    from device import commission

    _, modes = _detector(6, n_modes=2)
    rs = np.random.RandomState(7)
    m0, m1 = np.asarray(modes[0]["mean"]), np.asarray(modes[1]["mean"])
    sc = np.asarray(modes[0]["scale"])
    for share, warned in ((0.13, True), (0.0, False)):
        det, _ = _detector(6, n_modes=2)
        data = _stream(rs, 400, m0 + share * (m1 - m0), sc)
        com = Commissioner(det, 200, 200, 0.01, mode=0)
        for x in data:
            com.update(x)
        assert com.refused is None, com.refused
        assert com.axis_share[0] > commission.CLOSE_SHARE * commission.AXIS_LIMIT if warned else True
        close = [w for w in com.warnings if "close to the 16% limit" in w]
        assert bool(close) == warned, com.warnings


def test_guard_table_decisions_and_margins(four_mode):
    """host_tools.modeling.guard_table on the bundled sample: every coin folder refused for
    its own speed, the remount and each mode's later own data accepted, and the margins
    line of each mode says how close the axis decisions came to the limit."""
    from host_tools.modeling import guard_table

    _, doc, load = four_mode
    names = list(FOUR) + ["fan_0_low_1_weight", "fan_0_med_1_weight", "fan_0_high_1_weight", "fan_0_low-deploy"]
    rows = guard_table.table(doc, [(n, load(n, 1.0)) for n in names])
    by = {r["folder"]: {d["mode"]: d for d in r["decisions"]} for r in rows}
    for m in FOUR:
        assert by[m][m]["accepted"], (m, by[m][m]["why"])
    for coin, m in (("fan_0_low_1_weight", FOUR[1]), ("fan_0_med_1_weight", FOUR[2]),
                    ("fan_0_high_1_weight", FOUR[3])):
        assert not by[coin][m]["accepted"] and not by[coin][None]["accepted"]
    assert by["fan_0_low-deploy"][FOUR[1]]["accepted"] and by["fan_0_low-deploy"][None]["accepted"]
    text = guard_table.text(rows, doc)
    assert "margins along the operating axis" in text
    assert sum(line.startswith("  fan_0_") and "limit 16%" in line for line in text.splitlines()) == 4
