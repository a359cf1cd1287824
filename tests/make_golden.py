"""Golden vectors: a few recorded windows, a small trained model, and what device/ computes.

tests/golden/golden.json holds, per case, the model document (inline), the input windows
and, for every window, the expected feature vector, the raw score against every mode, the
threshold ratio and mode the detector picks, and the per-feature contributions. The host
computes the expected values with the device/ code on NumPy float32;
tests/test_golden.py checks on every run that the current code still reproduces them, and
tests/board_selftest.py runs the same windows through device/ on a board (ulab) to show
the board computes what the host computes.

Cases:
- "accel-mahalanobis": a 2-mode (fan low / fan medium) Mahalanobis model trained with
  host_tools.modeling.train on the bundled ceiling-fan recordings (default recipe: 200-sample
  windows at 200 Hz, 16 bands, 39 features; thresholds from the last 25% of each folder),
  and 7 windows: 2 held-out normal windows per mode, 2 from the coin-on-blade anomaly
  folder, 1 with the fan off.
- "scalar-zscore": a 1-mode z-score model over 16-sample windows of a synthetic
  temperature stream (mean, std, slope), and 3 windows (2 normal, 1 overheating).

Regenerate deliberately (after an intended change to features, detectors or training),
from the repository root, then review `git diff tests/golden/` and commit the result:

    .venv/bin/python tests/make_golden.py            # rewrite tests/golden/golden.json
    .venv/bin/python tests/make_golden.py --check    # exit 1 if the file is out of date

The output is deterministic (fixed files, fixed seed, fixed training date), so a rerun
with unchanged code reproduces the file (up to float32 last-digit noise across CPUs and
NumPy builds, which `--check` and the tests tolerate).
"""

from __future__ import annotations

import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from device import detectors as detectors_mod  # noqa: E402
from device import features as features_mod  # noqa: E402
from device import model as model_mod  # noqa: E402
from device import xp  # noqa: E402
from host_tools.data import datasets  # noqa: E402
from host_tools.modeling import train  # noqa: E402

GOLDEN_PATH = os.path.join(HERE, "golden", "golden.json")
DATA = os.path.join(ROOT, "data", "ceiling-fan")
FORMAT = 1
FIXED_DATE = "2026-01-01T00:00:00Z"

ACCEL_MODES = ("fan_0_low_0_weight", "fan_0_med_0_weight")
ACCEL_WINDOWS = (  # (folder, file): held-out normal, anomaly, and fan off
    ("fan_0_low_0_weight", "0578.csv"),
    ("fan_0_low_0_weight", "0584.csv"),
    ("fan_0_med_0_weight", "0581.csv"),
    ("fan_0_med_0_weight", "0587.csv"),
    ("fan_0_low_1_weight", "0000.csv"),
    ("fan_0_low_1_weight", "0006.csv"),
    ("fan_0_off_0_weight", "0577.csv"),
)

# Relative tolerance used by `--check` (and tests/test_golden.py) when comparing a
# regenerated document with the stored one: float32 results may differ in the last digit
# between CPUs/NumPy builds; inputs and model must agree to 7 significant digits.
CHECK_RTOL = {"expected": 2e-5, "other": 1e-6}


def _g9(v: float) -> float:
    """A float32 value with 9 significant digits: round-trips float32 exactly."""
    return float("%.9g" % float(v))


def _expected(ex, det, windows) -> list[dict]:
    out = []
    for w in windows:
        x = ex.compute(xp.array(w))
        feats = [_g9(v) for v in xp.tolist(x)]
        raws = [_g9(det.raw(x, i)) for i in range(len(det.mode_names))]
        ratio, mode = det.score(x)
        contrib = [_g9(v) for v in xp.tolist(det.contributions(x, mode))]
        out.append({"features": feats, "raw": raws, "ratio": _g9(ratio), "mode": mode,
                    "mode_name": det.mode_names[mode], "contributions": contrib})
    return out


def _case(name: str, doc: dict, windows: list, source: list[str]) -> dict:
    model_mod.validate(doc)
    ex = features_mod.from_recipe(doc["features"])
    det = detectors_mod.from_model(doc)
    return {"name": name, "model": doc, "source": source, "windows": windows,
            "expected": _expected(ex, det, windows)}


def accel_case() -> dict:
    ex = datasets.make_extractor("accel", 200, 200.0, 16)
    fit_sets, calib = [], []
    for i, folder in enumerate(ACCEL_MODES):
        ws = datasets.load_folder(os.path.join(DATA, folder), ex, progress=False)
        fit, hold = ws.split_time(0.75, 0.25)
        fit_sets.append((ws.name, fit.features))
        calib.append((hold.features, i))
    doc = train.build_model(ex, "mahalanobis", fit_sets, calib, 0.01, "auto",
                            dict(train.DEFAULT_DECISION), sessions=list(ACCEL_MODES),
                            threshold_source="time-ordered hold-out (25% of each folder)")
    doc["training"]["date"] = FIXED_DATE
    doc["training"]["tool"] = "tests/make_golden.py"
    windows, source = [], []
    for folder, fname in ACCEL_WINDOWS:
        path = os.path.join(DATA, folder, fname)
        rec = datasets.read_recording(path, "accel")  # (3, 200) float64 as written in the CSV
        windows.append([[float(v) for v in row] for row in rec[:, :ex.window]])
        source.append("%s/%s" % (folder, fname))
    return _case("accel-mahalanobis", doc, windows, source)


def temperature_stream(n: int, seed: int = 0, hot_from: int | None = None) -> np.ndarray:
    """A synthetic room temperature in degC, one sample a second: slow drift + noise,
    optionally overheating (a ramp of +0.05 degC/s) from sample `hot_from` on."""
    rs = np.random.RandomState(seed)  # legacy generator: frozen stream across NumPy versions
    t = np.arange(n, dtype=np.float64)
    x = 21.0 + 0.8 * np.sin(2 * math.pi * t / 600.0) + 0.05 * rs.randn(n)
    if hot_from is not None:
        x[hot_from:] += 0.05 * (t[hot_from:] - hot_from)
    return np.round(x, 3)


def scalar_case() -> dict:
    window = 16
    ex = features_mod.ScalarFeatures(window, 1.0)
    fit = temperature_stream(window * 120, seed=1)
    cal = temperature_stream(window * 60, seed=2)

    def feats(stream):
        return np.stack([np.array(ex.compute(xp.array([list(stream[i:i + window])])), dtype=np.float32)
                         for i in range(0, len(stream) - window + 1, window)])

    decision = {"k": 2, "n": 3, "on": 1.0, "off": 0.8, "cooldown": 5}
    doc = train.build_model(ex, "zscore", [("normal", feats(fit))], [(feats(cal), 0)], 0.01,
                            decision=decision, sessions=["synthetic-1", "synthetic-2"],
                            threshold_source="calibration")
    doc["training"]["date"] = FIXED_DATE
    doc["training"]["tool"] = "tests/make_golden.py"
    test = temperature_stream(window * 3, seed=3, hot_from=2 * window)
    windows = [[[float(v) for v in test[i:i + window]]] for i in range(0, len(test), window)]
    return _case("scalar-zscore", doc, windows, ["synthetic seed 3, window %d" % i for i in range(3)])


def build() -> dict:
    return {
        "format": FORMAT,
        "about": "golden vectors for device/ (see tests/make_golden.py); "
                 "check a board with tests/board_selftest.py",
        "cases": [accel_case(), scalar_case()],
    }


# ---- writing: one line per number list, so diffs stay readable ----------------------

def _dump(obj, indent: int = 0) -> str:
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f'{pad} {json.dumps(k)}: {_dump(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (list, dict)) for v in obj):
            return json.dumps(obj)
        items = [pad + " " + _dump(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj)


def dumps(golden: dict) -> str:
    return _dump(golden) + "\n"


# ---- comparing: exact for structure, tolerant for float32 results --------------------

def compare(stored, fresh, path: str = "", out: list | None = None, rtol: float | None = None) -> list[str]:
    """Differences between two golden documents, as readable strings (empty: same)."""
    if out is None:
        out = []
    if rtol is None:
        rtol = CHECK_RTOL["expected"] if "/expected" in path else CHECK_RTOL["other"]
    if isinstance(stored, dict) and isinstance(fresh, dict):
        if set(stored) != set(fresh):
            out.append(f"{path}: keys differ: {sorted(set(stored) ^ set(fresh))}")
        for k in stored:
            if k in fresh:
                sub = f"{path}/{k}"
                compare(stored[k], fresh[k], sub, out,
                        CHECK_RTOL["expected"] if "/expected" in sub else CHECK_RTOL["other"])
    elif isinstance(stored, list) and isinstance(fresh, list):
        if len(stored) != len(fresh):
            out.append(f"{path}: length {len(stored)} != {len(fresh)}")
        else:
            for i, (a, b) in enumerate(zip(stored, fresh)):
                compare(a, b, f"{path}[{i}]", out, rtol)
    elif isinstance(stored, float) or isinstance(fresh, float):
        a, b = float(stored), float(fresh)
        if abs(a - b) > rtol * max(abs(a), abs(b), 1e-3):
            out.append(f"{path}: {a!r} != {b!r}")
    elif stored != fresh or type(stored) is not type(fresh):
        out.append(f"{path}: {stored!r} != {fresh!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    fresh = build()
    if "--check" in argv:
        try:
            with open(GOLDEN_PATH, encoding="utf-8") as f:
                stored = json.load(f)
        except OSError as e:
            print(f"{GOLDEN_PATH}: cannot read ({e})")
            return 1
        diffs = compare(stored, fresh)
        if diffs:
            print(f"{GOLDEN_PATH} is out of date ({len(diffs)} differences), e.g.:")
            for d in diffs[:10]:
                print("  " + d)
            print("regenerate with: python tests/make_golden.py")
            return 1
        print(f"{GOLDEN_PATH} is up to date")
        return 0
    os.makedirs(os.path.dirname(GOLDEN_PATH), exist_ok=True)
    text = dumps(fresh)
    with open(GOLDEN_PATH, "w", encoding="utf-8") as f:
        f.write(text)
    n = sum(len(c["windows"]) for c in fresh["cases"])
    print(f"wrote {GOLDEN_PATH}: {len(fresh['cases'])} cases, {n} windows, {len(text)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
