"""Thermal camera path: device/thermal.py (features, hot spot, camera scalar channels),
the thermal model file (pixel sidecar), the frame CSV format, the scene simulator, the
host's train/evaluate, the board app with an MLX90640, and the figures kept for the
simulated boiler (fixed seeds)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from board_harness import fake_hardware, run_code_py, write_settings
from device import modelwrite
from device import detectors, framerows, framescalars, model as model_mod, thermal
from host_tools.cli import main as cli
from host_tools.data import scene
from host_tools.data import thermal_data
from host_tools.modeling import thermal_report
from host_tools.modeling import thermal_train
from host_tools.data.datasets import DataError


def _flat_maps(maps):
    return np.concatenate([np.asarray(m, dtype=np.float32) for m in maps], axis=0)


def _one_mode(mean=22.0, scale=0.2, mask=None, reference=None, **kw):
    m = np.full((24, 32), mean, dtype=np.float32)
    s = np.full((24, 32), scale, dtype=np.float32)
    return thermal.ThermalFeatures(m, s, mask=mask, reference=reference, **kw)


# ---- device/thermal.py ------------------------------------------------------------------------

def test_hot_spot_blob_mask_centroid_and_features():
    rs = np.random.RandomState(0)
    mask = ["###" + "." * 29] * 3 + ["." * 32] * 21  # a heater allowed to be hot
    tf = _one_mode(mask=mask)
    quiet = (22.0 + 0.05 * rs.randn(24, 32)).astype(np.float32)
    x = tf.compute(quiet).copy()
    assert tf.ok and tf.hot_pixels == 0 and tf.hotspot() is None
    assert x[7] == 0 and x[8] == 0 and abs(x[0] - 22.0) < 0.01
    f = quiet.copy()
    f[0:3, 0:3] += 30.0  # masked: ignored
    f[10:13, 20:22] += 8.0  # a 3x2 hot blob
    f[5, 5] += 5.0  # a single hot pixel
    x = tf.compute(f)
    assert tf.hot_pixels == 7
    assert x[7] == pytest.approx(np.log(8.0)) and x[8] == pytest.approx(np.log(7.0))
    hs = tf.hotspot()
    assert hs["area"] == 6 and abs(hs["row"] - 11.0) < 0.05 and abs(hs["col"] - 20.5) < 0.05
    assert 7.7 < hs["excess"] < 8.3 and hs["z"] > 30
    assert 7.7 < x[6] < 8.3  # max excess, masked heater excluded
    assert tf.names == thermal.NAMES and tf.size == len(thermal.NAMES)
    # a frame with NaN, or an impossible temperature, is not ok
    bad = quiet.copy()
    bad[3, 3] = np.nan
    tf.compute(bad)
    assert not tf.ok
    bad[3, 3] = 500.0
    tf.compute(bad)
    assert not tf.ok
    tf.compute(quiet)
    assert tf.ok


def test_hot_spot_says_cold_for_a_region_gone_cold():
    """The event's spot is the stronger of the warm and cold blobs (mean |z|) with its
    sign; the frame features still count warm pixels only (the model is unchanged)."""
    rs = np.random.RandomState(1)
    tf = _one_mode()
    quiet = (22.0 + 0.05 * rs.randn(24, 32)).astype(np.float32)
    f = quiet.copy()
    f[8:10, 18:32] -= 12.0  # a pipe gone cold: 28 pixels, z -60
    f[15:17, 3:5] += 2.0  # a weaker warm patch: z +10
    x = tf.compute(f).copy()
    assert tf.hot_pixels == 4 and x[7] == pytest.approx(np.log(5.0))
    hs = tf.hotspot()
    assert hs["kind"] == "cold" and hs["area"] == 28 and hs["excess"] < -11.5 and hs["z"] < -50
    assert abs(hs["row"] - 8.5) < 0.05 and abs(hs["col"] - 24.5) < 0.05
    f[15:17, 3:5] += 40.0  # now the warm patch is the stronger
    tf.compute(f)
    hs = tf.hotspot()
    assert hs["kind"] == "hot" and hs["area"] == 4 and hs["excess"] > 40
    g = quiet.copy()
    g[8:10, 18:32] -= 12.0  # cold only: no warm blob at all
    tf.compute(g)
    assert not tf.has_hotspot and tf.hotspot()["kind"] == "cold"


def test_mode_mix_and_ambient_offset_absorb_warm_up_and_drift():
    """A frame that is 30% of the way from the cold map to the hot one, 1.5 C warmer all
    over (the room drifted), has no excess; a 2x2 spot on it is still found."""
    cold = np.full((24, 32), 20.0, dtype=np.float32)
    hot = cold.copy()
    hot[5:18, 8:18] = 60.0
    scales = np.full((48, 32), 0.2, dtype=np.float32)
    ref = ["#" * 32 if r < 3 else "." * 32 for r in range(24)]
    tf = thermal.ThermalFeatures(_flat_maps([cold, hot]), scales, reference=ref)
    frame = 0.7 * cold + 0.3 * hot + 1.5
    x = tf.compute(frame.astype(np.float32))
    assert abs(tf.offset - 1.5) < 1e-3
    assert tf.weights() == pytest.approx([0.7, 0.3], abs=1e-3)
    assert abs(x[4]) < 0.05 and abs(x[5]) < 0.05 and tf.hot_pixels == 0
    np.testing.assert_allclose(tf.baseline_map(), frame, atol=2e-3)
    spot = frame.copy()
    spot[20:22, 25:27] += 5.0
    tf.compute(spot.astype(np.float32))
    hs = tf.hotspot()
    assert hs["area"] == 4 and (hs["row"], hs["col"]) == (20.5, 25.5) and 4.9 < hs["excess"] < 5.05


def test_grid_text_round_trip_and_errors():
    flags = [1 if (k % 7 == 0) else 0 for k in range(768)]
    lines = thermal.grid_lines(flags)
    assert list(thermal.parse_grid(lines)) == [float(v) for v in flags]
    with pytest.raises(ValueError, match="row 2"):
        thermal.parse_grid(lines[:2] + ["x" * 32] + lines[3:])
    with pytest.raises(ValueError, match="24 strings"):
        thermal.parse_grid(lines[:5])
    with pytest.raises(ValueError, match="nothing left to watch"):
        _one_mode(mask=["#" * 32] * 24)


class _Cam:
    """A camera-like sensor: frames with a known max/mean and an ambient reading."""

    kind = "thermal"
    rate = 1.0

    def __init__(self):
        self.k = 0
        self.ambient = 27.5
        self.idle = None

    def read(self):
        self.k += 1
        f = np.full((24, 32), 20.0, dtype=np.float32)
        f[0, 0] = 20.0 + self.k
        return f


def test_frame_scalars_channels():
    for ch, want in (("max", [21.0, 22.0, 23.0]), ("mean", [20.0 + k / 768 for k in (1, 2, 3)]),
                     ("ambient", [27.5] * 3)):
        fs = framescalars.FrameScalars(_Cam(), ch, window=3)
        w = fs.read()
        assert list(np.asarray(w[0])) == pytest.approx(want, abs=1e-4)
    fs = framescalars.FrameScalars(_Cam(), "max")
    fs.idle = "hook"
    assert fs.sensor.idle == "hook" and fs.kind == "scalar"
    cam = _Cam()
    cam.ambient = None
    with pytest.raises(ValueError, match="no ambient"):
        framescalars.FrameScalars(cam, "ambient").read()
    with pytest.raises(ValueError, match="camera channel"):
        framescalars.FrameScalars(_Cam(), "median")


# ---- the scene simulator --------------------------------------------------------------------------

def test_scene_is_deterministic_and_shows_its_anomalies():
    a = scene.normal(5, 600)
    b = scene.normal(5, 600)
    np.testing.assert_array_equal(a["frames"], b["frames"])
    c = scene.normal(6, 600)
    assert not np.array_equal(a["frames"], c["frames"])
    np.testing.assert_array_equal(scene.Scene(seed=5).wall, scene.Scene(seed=6).wall)  # same room
    assert a["frames"].shape == (600, 24, 32) and a["frames"].dtype == np.float32
    assert (a["frames"][:, scene.DEAD[0], scene.DEAD[1]] == scene.dead_value if False else
            np.all(a["frames"][:, scene.DEAD[0], scene.DEAD[1]] == 15.0))
    spot = scene.Scene(seed=5, anomalies=[scene.Anomaly("spot", 100, 200, row=3, col=27, excess=10)]).frames(600)
    d = spot["frames"] - a["frames"]
    assert np.allclose(d[150, 3:5, 27:29], 10.0, atol=1e-3) and np.abs(d[50]).max() < 1e-3
    assert spot["label"][100:200].all() and not spot["label"][:100].any()
    grow = scene.Scene(seed=5, anomalies=[scene.Anomaly("growing", 60, row=3, col=27, rate=1.0)]).frames(600)
    g = grow["frames"] - a["frames"]
    assert g[60 + 90, 3, 27] == pytest.approx(1.5, abs=1e-3) and g[60 + 90, 4, 28] == pytest.approx(0, abs=1e-3)
    assert g[60 + 480, 4:6, 28:30].min() > 7.9  # 3x3 by then


# ---- the recording format ---------------------------------------------------------------------------

def test_frame_csv_round_trip_header_leading_columns(tmp_path):
    d = scene.normal(3, 20)
    p = str(tmp_path / "rec" / "0000.csv")
    thermal_data.write_frames(p, d["frames"], {"t_ms": np.arange(20) * 1000, "ambient": d["ta"]})
    first = open(p).readline().strip().split(",")
    assert first[:3] == ["t_ms", "ambient", "p0"] and first[-1] == "p767" and len(first) == 770
    frames, extra = thermal_data.read_frames(p)
    np.testing.assert_allclose(frames, d["frames"], atol=0.006)
    np.testing.assert_allclose(extra["ambient"], d["ta"], atol=0.006)
    assert list(extra["t_ms"][:3]) == [0, 1000, 2000]
    # no header, no leading columns
    q = tmp_path / "plain.csv"
    q.write_text("\n".join(",".join("%.1f" % (20 + k % 32 / 10) for k in range(768)) for _ in range(3)) + "\n")
    frames, extra = thermal_data.read_frames(str(q))
    assert frames.shape == (3, 24, 32) and frames[0, 5, 31] == pytest.approx(23.1) and extra == {}
    # the board replays the same file: one frame per row, ambient from its named column
    from device import replay

    s = replay.CsvReplaySensor(str(tmp_path / "rec"), kind="thermal", rate=1.0, loop=False)
    f0 = s.read()
    assert f0.shape == (24, 32) and np.allclose(np.asarray(f0), d["frames"][0], atol=0.006)
    assert s.ambient == pytest.approx(d["ta"][0], abs=0.006)
    n = 1
    while s.read() is not None:
        n += 1
    assert n == 20


@pytest.mark.parametrize("text, msg", [
    ("1,2,3\n", "needs 768 pixel values"),
    ("\n".join([",".join(["20"] * 768), ",".join(["20"] * 767 + ["x"])]) + "\n", "line 2 has a non-numeric value 'x'"),
    ("\n".join([",".join(["20"] * 768), ",".join(["20"] * 767)]) + "\n", "line 2 has 767 columns"),
    (",".join(["20"] * 700 + ["999"] + ["20"] * 67) + "\n", "line 1 pixel 700 (row 21, col 28)"),
    ("a,b\n", "header but no frames"),
])
def test_frame_csv_errors_name_file_and_line(tmp_path, text, msg):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        thermal_data.read_frames(str(p))


# ---- the model file ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def scene_model(tmp_path_factory):
    """A thermal model trained on 6 h of the simulated boiler (seed 1), as written and loaded."""
    path = str(tmp_path_factory.mktemp("thermal") / "model.json")
    return path, thermal_report.scene_model(path)


def test_model_pixel_sidecar_round_trip_and_validation(scene_model, tmp_path):
    path, doc = scene_model
    files = model_mod.files_of(path)
    assert [os.path.basename(f) for f in files] == ["model.json", "model.pixels.npy"]
    raw = json.load(open(path))
    nm = len(raw["modes"])
    assert raw["pixels"]["shape"] == [2 * 24 * nm, 32]
    assert raw["modes"][0]["pixel_mean"] == {"rows": [0, 24]}
    assert raw["modes"][0]["pixel_scale"] == {"rows": [24 * nm, 24 * nm + 24]}
    assert len(raw["features"]["mask"]) == 24 and len(raw["features"]["reference"]) == 24
    assert model_mod.verify(path)
    assert doc["_pixel_means"].shape == (24 * nm, 32)
    # the features built from the loaded file give the features of the in-memory maps
    f1 = thermal.from_model(doc)
    f2 = thermal.ThermalFeatures(_flat_maps([m["pixel_mean"] for m in doc["modes"]]),
                                 _flat_maps([m["pixel_scale"] for m in doc["modes"]]),
                                 mask=raw["features"]["mask"], reference=raw["features"]["reference"])
    fr = scene.normal(9, 30)["frames"]
    for f in fr[::7]:
        np.testing.assert_array_equal(np.array(f1.compute(f)), np.array(f2.compute(f)))
    # a changed pixel file is refused, as is a thermal model without its pixel maps
    bad = str(tmp_path / "m.json")
    modelwrite.save(bad, {k: v for k, v in doc.items() if not k.startswith("_")})
    px = str(tmp_path / "m.pixels.npy")
    with open(px, "r+b") as fh:
        fh.seek(200)
        fh.write(b"\x00\x00\x80\x7f")
    with pytest.raises(model_mod.ModelError, match="does not match"):
        model_mod.load(bad)
    body = json.loads(open(path).read())
    del body["modes"][0]["pixel_mean"]
    with pytest.raises(model_mod.ModelError, match="pixel_mean must refer to 24 rows"):
        model_mod.validate(body, arrays=False)
    body = json.loads(open(path).read())
    body["features"]["mask"][3] = "?" * 32
    with pytest.raises(model_mod.ModelError, match="mask row 3"):
        model_mod.validate(body, arrays=False)
    body = json.loads(open(path).read())
    del body["pixels"]
    with pytest.raises(model_mod.ModelError, match="needs pixels"):
        model_mod.validate(body, arrays=False)


def test_thresholds_are_honest(scene_model):
    """Every mode's threshold supports the stated per-frame rate (device.threshold.choose)."""
    _, doc = scene_model
    for m in doc["modes"]:
        assert m["fa_supported"] <= doc["fa_rate"] * 1.05
        assert m["threshold_method"] in ("rank", "tail")
        assert m["n_threshold"] >= 500


# ---- the figures (simulated boiler, fixed seeds) --------------------------------------------

def test_scene_figures(scene_model):
    """Detection of 2x2 hot spots at +5 and +10 C (30 places each, outside the mask, on
    the boiler and pipes as well as the wall), false alarms over 6 h of normal cycling at
    1 frame/s, the delay of a spot growing 0.5 C/min, a flow pipe that stays cold."""
    _, doc = scene_model
    figs = thermal_report.scene_figures(doc, spots=30)
    print("\nthermal scene figures:", json.dumps(figs, default=str))
    assert figs["spot_5C"]["rate"] >= 0.9 and figs["spot_10C"]["rate"] >= 0.95
    fa = figs["false_alarms"]
    assert fa["fps"] == 1.0 and fa["hours"] == 6.0
    assert fa["frames_over"] <= 3 * doc["fa_rate"]  # per frame, near the stated rate
    assert fa["per_hour"] <= 1.0
    g = figs["growing"]
    assert g["detected"] and g["delay_s"] <= 600 and g["alarms_before"] == 0
    assert figs["cold_pipe"]["detected"]


# ---- host command line ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    root = tmp_path_factory.mktemp("rec")
    n = scene.normal(11, 3600)
    thermal_data.write_frames(str(root / "normal" / "0000.csv"), n["frames"], {"t_ms": n["t"] * 1000, "ambient": n["ta"]})
    a = scene.Scene(seed=12, anomalies=[scene.Anomaly("spot", 200, 400, row=2, col=27, excess=8.0)]).frames(600)
    thermal_data.write_frames(str(root / "anomaly" / "spot.csv"), a["frames"],
                              {"t_ms": a["t"] * 1000, "label": a["label"].astype(int)})
    return root


def test_cli_train_score_and_evaluate_thermal(recordings, tmp_path, capsys):
    out = str(tmp_path / "m" / "model.json")
    rc = cli.main(["train", "--sensor", "thermal", "--modes", "auto", "--normal", str(recordings / "normal"),
                   "--fa-rate", "0.005", "--out", out])
    assert rc == 0
    text = capsys.readouterr().out
    assert "thermal mahalanobis" in text and "supports fa" in text
    assert os.path.exists(str(tmp_path / "m" / "model.pixels.npy"))
    rc = cli.main(["score", "--model", out, "--json", str(recordings / "anomaly")])
    assert rc == 0
    rows = [json.loads(ln) for ln in capsys.readouterr().out.splitlines()]
    assert len(rows) == 600 and max(r["score"] for r in rows[210:390]) > 1.0
    rep = str(tmp_path / "rep")
    rc = cli.main(["evaluate", "--sensor", "thermal", "--normal", str(recordings / "normal"),
                   "--anomaly", str(recordings / "anomaly"), "--fa-rate", "0.005", "--report", rep])
    assert rc == 0
    s = json.load(open(os.path.join(rep, "thermal_summary.json")))
    assert s["anomaly"][0]["detected"] and s["anomaly"][0]["first_anomalous_frame"] == 200
    assert s["anomaly"][0]["hotspot"]["area"] == 4
    assert s["heatmaps"] and os.path.getsize(os.path.join(rep, s["heatmaps"][0])) > 10000  # relative names
    assert "false alarm" in capsys.readouterr().out
    page = open(os.path.join(rep, "report.html"), encoding="utf-8").read()
    assert page.index("Verdict") < page.index("<img") < page.index("<details>")
    assert str(tmp_path) not in page and s["heatmaps"][0] in page


def test_heatmap_names_a_cold_region_cold():
    from host_tools.modeling import thermal_report

    z = np.zeros((24, 32))
    ex = np.zeros((24, 32))
    z[8:10, 18:32], ex[8:10, 18:32] = -25.0, -12.0  # a flow pipe gone cold
    z[5:17, 8:18], ex[5:17, 8:18] = 9.0, 4.0  # the boiler body a little warmer than expected
    regs = thermal_report.anomaly_regions(z, ex, np.ones((24, 32)), 4.0, 1.5)
    assert [r["kind"] for r in regs] == ["cold", "hot"] and regs[0]["area"] == 28
    words = thermal_report.region_words(regs)
    assert words.startswith("cold region at row 8.5, column 24.5 (28 pixels, up to 12.0 °C below normal)")
    assert thermal_report.region_words([]).startswith("no pixel far from its baseline")


def test_cli_thermal_bad_input_is_one_error_line(tmp_path, capsys):
    d = tmp_path / "short"
    d.mkdir()
    (d / "a.csv").write_text(",".join(["20"] * 10) + "\n")
    rc = cli.main(["train", "--sensor", "thermal", "--normal", str(d), "--out", str(tmp_path / "m.json")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and "768 pixel values" in err and len(err.splitlines()) == 1


# ---- the board: code.py with an MLX90640 -------------------------------------------------------

def _drive_with_model(path, tmp_path):
    """A CIRCUITPY folder holding the model at `path` under the names the board loads."""
    root = tmp_path / "CIRCUITPY"
    root.mkdir()
    for f in model_mod.files_of(path):
        dest = "model.json" if f.endswith(".json") else "model.pixels.npy"
        (root / dest).write_bytes(open(f, "rb").read())
    return root


def _install_camera(monkeypatch, fake):
    mod = type(sys)("adafruit_mlx90640")
    mod.MLX90640 = lambda bus: fake
    monkeypatch.setitem(sys.modules, "adafruit_mlx90640", mod)


def test_board_runs_the_thermal_model_and_reports_the_hot_spot(scene_model, tmp_path, monkeypatch):
    path, _ = scene_model
    root = _drive_with_model(path, tmp_path)
    sc = scene.Scene(seed=21, anomalies=[scene.Anomaly("spot", 40, 80, row=3, col=26, excess=8.0)]).frames(90)
    frames = [list(map(float, f.ravel())) for f in sc["frames"]]
    with fake_hardware() as hw:
        fake = hw.mlx_fake.FakeMLX90640(frames=frames, ta=28.0, frame_us=1000000)
        _install_camera(monkeypatch, fake)
        write_settings(str(root), SENSOR="mlx90640", MLX_REFRESH_HZ=2, MAX_WINDOWS=90, HEARTBEAT_WINDOWS=30)
        r = run_code_py(str(root), hw)
    assert any("thermal" in ln or "mahalanobis" in ln for ln in r.lines if ln.startswith("# model"))
    starts = [p for p in r.of_type("event") if p["event"] == "anomaly_start"]
    assert len(starts) == 1 and 40 < starts[0]["window"] <= 46
    hs = starts[0]["hotspot"]
    assert hs["area"] == 4 and (hs["row"], hs["col"]) == (3.5, 26.5) and 7.5 < hs["excess"] < 8.5
    assert r.app.state in ("anomaly", "normal") and r.app.windows == 90
    json.dumps(r.payloads, allow_nan=False)


def test_board_calls_a_cold_pipe_cold(scene_model, tmp_path, monkeypatch):
    """The board's own event for the flow pipe staying cold: a cold spot on the pipe
    (before: a "hot spot" on the boiler body, the baseline mix's side effect), and each
    top feature's value against normal, which the host words."""
    from host_tools.fleet import wording

    path, _ = scene_model
    root = _drive_with_model(path, tmp_path)
    sc = scene.Scene(seed=21, anomalies=[scene.Anomaly("cold_pipe", 40, 90)]).frames(60)
    frames = [list(map(float, f.ravel())) for f in sc["frames"]]
    with fake_hardware() as hw:
        fake = hw.mlx_fake.FakeMLX90640(frames=frames, ta=28.0, frame_us=1000000)
        _install_camera(monkeypatch, fake)
        write_settings(str(root), SENSOR="mlx90640", MLX_REFRESH_HZ=2, MAX_WINDOWS=60, HEARTBEAT_WINDOWS=30)
        r = run_code_py(str(root), hw)
    starts = [p for p in r.of_type("event") if p["event"] == "anomaly_start"]
    assert len(starts) == 1 and 40 < starts[0]["window"] <= 46
    hs = starts[0]["hotspot"]
    assert hs["kind"] == "cold" and hs["excess"] < -5 and abs(hs["row"] - 7.5) < 1 and hs["col"] > 20
    assert len(starts[0]["values"]) == len(starts[0]["top"]) == 3
    words = wording.explain_words(starts[0])
    assert "A cold spot at row" in words and "°C below normal" in words and "hot spot" not in words, words


def test_board_runs_a_scalar_model_on_the_camera(tmp_path, monkeypatch):
    """A `scalar` model (z-score on one temperature) trained on the camera's frame max runs
    on the board with the MLX90640: FrameScalars feeds it one value per frame."""
    n = scene.normal(31, 3600)
    mx = n["frames"].reshape(len(n["frames"]), -1).max(axis=1)
    d = tmp_path / "max"
    for k in range(12):  # 5-minute files: train holds out the last quarter of the files
        sl = slice(300 * k, 300 * (k + 1))
        thermal_data.write_scalar(str(d / ("%04d.csv" % k)), n["t"][sl], mx[sl])
    root = tmp_path / "CIRCUITPY"
    root.mkdir()
    rc = cli.main(["train", "--sensor", "scalar", "--detector", "zscore", "--window", "1", "--rate", "1",
                   "--normal", str(d), "--fa-rate", "0.001", "--out", str(root / "model.json"), "--quiet"])
    assert rc == 0
    sc = scene.Scene(seed=32, anomalies=[scene.Anomaly("spot", 30, 60, row=3, col=26, excess=120.0)]).frames(60)
    frames = [list(map(float, f.ravel())) for f in sc["frames"]]
    with fake_hardware() as hw:
        fake = hw.mlx_fake.FakeMLX90640(frames=frames, ta=28.0, frame_us=1000000)
        _install_camera(monkeypatch, fake)
        write_settings(str(root), SENSOR="mlx90640", MLX_REFRESH_HZ=2, MAX_WINDOWS=60)
        r = run_code_py(str(root), hw)
    assert type(r.app.sensor).__name__ == "FrameScalars" and r.app.sensor.channel == "max"
    assert r.app.features.names == ["value"] and r.app.windows == 60
    starts = [p for p in r.of_type("event") if p["event"] == "anomaly_start"]
    assert len(starts) == 1 and 30 < starts[0]["window"] <= 34
    assert r.app.sensor.sensor.ambient == 28.0  # the driver's Ta, kept by the sensor


def test_camera_wait_calls_idle_and_keeps_ambient():
    """The sensor wraps adafruit_mlx90640's status-register poll so the app's idle hook
    (watchdog, alert patterns) runs while the driver waits for a sub-page."""
    from device import camera

    class Drv:
        refresh_rate = 0

        def __init__(self, clock):
            self.clock = clock
            self.polls = 0

        def _I2CReadWords(self, addr, buffer, end=None):  # noqa: N802
            if addr == 0x8000:
                self.polls += 1
                self.clock[0] += 5
                buffer[0] = 8 if self.polls % 40 == 0 else 0

        def _GetTa(self, frame_data):  # noqa: N802
            return 31.25

        def getFrame(self, buf):  # noqa: N802
            status = [0]
            for _ in range(2):
                status[0] = 0
                while not status[0] & 8:
                    self._I2CReadWords(0x8000, status)
                self._GetTa(None)
            for k in range(768):
                buf[k] = 21.0

    clock = [0]
    drv = Drv(clock)
    s = camera.MLX90640Sensor(bus=object(), refresh_hz=2.0, driver_factory=lambda bus: drv,
                               ticks_ms=lambda: clock[0])
    calls = []
    s.idle = lambda: calls.append(clock[0])
    s.read()
    assert drv.polls == 80 and s.ambient == 31.25
    assert len(calls) >= 80 * 5 // 20 - 2  # about every 20 ms of a 400 ms wait


# ---- the bench: per-frame cost under the ulab emulator --------------------------------------

def test_thermal_bench_under_the_emulator():
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(here, "ulab_emu"), root, here]))
    r = subprocess.run([sys.executable, os.path.join(here, "thermal_bench.py")], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout.strip().splitlines()[-1])
    print("\n" + r.stdout)
    assert doc["source"] == "emulator-estimate"
    for name in ("quiet", "hot_spot"):
        fr = doc["frames"][name]
        assert fr["elem_stores"] == 0 and fr["elem_reads"] <= 1  # the p90 read only
    assert doc["frames"]["hot_spot"]["hotspot"]["area"] == 4
    assert doc["frame_bytes"] <= 8192 and doc["model_load_peak_bytes"] <= 65536


def test_board_records_frames_as_rows_the_host_reads(tmp_path, monkeypatch):
    """RECORD = "file" with the camera writes the frame-per-row format; the host reads it
    back with the ambient column; a serial capture's block files are read too."""
    sc = scene.normal(41, 12)
    frames = [list(map(float, f.ravel())) for f in sc["frames"]]
    root = tmp_path / "CIRCUITPY"
    root.mkdir()
    with fake_hardware() as hw:
        hw.storage.fresh(readonly=False)  # boot.py gave the board the drive
        fake = hw.mlx_fake.FakeMLX90640(frames=frames, ta=29.5, frame_us=1000000)
        _install_camera(monkeypatch, fake)
        write_settings(str(root), SENSOR="mlx90640", MLX_REFRESH_HZ=2, MAX_WINDOWS=12, RECORD="file")
        r = run_code_py(str(root), hw)
    files = sorted(os.listdir(root / "recordings"))
    assert files == ["000000.csv"], r.lines
    got, extra = thermal_data.read_frames(str(root / "recordings" / files[0]))
    assert got.shape == (12, 24, 32)
    np.testing.assert_allclose(got, sc["frames"], atol=0.006)
    assert np.all(extra["ambient"] == 29.5) and np.all(np.diff(extra["t_ms"]) > 0)
    blocks = tmp_path / "blocks.csv"
    blocks.write_text("\n".join(",".join("%.2f" % v for v in row) for f in sc["frames"][:2] for row in f) + "\n")
    b, _ = thermal_data.read_frames(str(blocks))
    np.testing.assert_allclose(b, sc["frames"][:2], atol=0.006)


def test_mask_is_editable_in_a_trained_model(scene_model, tmp_path, capsys):
    path, doc = scene_model
    out = str(tmp_path / "edited.json")
    assert thermal_train.main(["--model", path, "--out", out, "--clear", "--allow", "2:6,24:30"]) == 0
    assert "24 pixels allowed hot" in capsys.readouterr().out
    new = model_mod.load(out)
    assert new["features"]["mask"][3] == "." * 24 + "#" * 6 + ".." and new["features"]["mask"][0] == "." * 32
    tf = thermal.from_model(new)
    sc = scene.Scene(seed=61, anomalies=[scene.Anomaly("spot", 0, 10, row=3, col=26, excess=8.0)]).frames(5)
    tf.compute(sc["frames"][2])
    assert tf.hot_pixels == 0  # the spot is where heat is now allowed
    before = thermal.from_model(doc)
    before.compute(sc["frames"][2])
    assert before.hot_pixels == 4  # the trained mask did not allow it
    assert thermal_train.main(["--model", path, "--out", out, "--allow", "0:24,0:32"]) == 2
    assert capsys.readouterr().err.startswith("error: the mask would allow heat everywhere")


def test_thermal_model_and_recorder_under_micropython(scene_model, tmp_path):
    """The board's pure-Python side of the thermal path on MicroPython: the model (both
    sidecars hashed) verifies, the grids parse, a frame row is written in the format the
    host reads."""
    from test_micropython import _json_lines, run_mp

    path, doc = scene_model
    script = (
        "import json\n"
        "from device import framerows, model, thermal\n"
        "c = model.verify(%r)\n"
        "d = model._read_json(%r)[0]\n"
        "ref = thermal.parse_grid(d['features']['reference'])\n"
        "print(json.dumps([c, sum(ref), len(model.files_of(%r))]))\n"
        "class W:\n"
        "    def __init__(self): self.parts = []\n"
        "    def write(self, s): self.parts.append(s)\n"
        "    def flush(self): pass\n"
        "    def close(self): pass\n"
        "w = W()\n"
        "class S: ambient = 28.25\n"
        "rec = framerows.FrameRowRecorder('x', S(), lambda: 1234, opener=lambda p, m: w, mkdir=lambda p: None,\n"
        "                               listdir=lambda p: [])\n"
        "rec.record([20.0 + k / 1000 for k in range(768)])\n"
        "print(json.dumps([''.join(w.parts)]))\n" % (path, path, path))
    r = run_mp(script, tmp_path)
    (checksum, nref, nfiles), (text,) = _json_lines(r)
    assert checksum == model_mod.verify(path) and nfiles == 2
    assert nref == sum(row.count("#") for row in doc["features"]["reference"])
    p = tmp_path / "rec.csv"
    p.write_text(text)
    frames, extra = thermal_data.read_frames(str(p))
    assert extra["ambient"][0] == 28.25 and extra["t_ms"][0] == 1234
    assert frames[0, 23, 31] == pytest.approx(20.77, abs=1e-4)  # two decimals
