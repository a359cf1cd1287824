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
with unchanged code reproduces the file up to the last digits of float32, which differ
between CPUs and NumPy/BLAS builds (SIMD widths change the order of sums). `compare`
allows for that and nothing more (TOLERANCE below, derived from the board's precision);
`build(jitter_ulps=...)` reproduces "another CPU" by moving every feature the training
and the expected values see by a few float32 units in the last place, and
tests/test_golden.py checks that such a rebuild still matches while a one-digit change
to the math does not.
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
from device.scalarfeatures import ScalarFeatures  # noqa: E402
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

# ---- tolerances, from the board's precision -----------------------------------------------
# The board computes in float32 arrays (unit in the last place 2**-23, ~7 digits) and
# CircuitPython floats (30-bit objects: 2 mantissa bits fewer, 2**-21, ~6 digits).
FLOAT32_ULP = 2.0 ** -23
BOARD_FLOAT_ULP = 2.0 ** -21
# One tolerance for every number: 32 units in the board float's last place (1.5e-5),
# measured against the largest magnitude in the same array (vector or matrix: sums, FFTs
# and matrix inverses bound their errors by the norm, a small entry's own last digits
# carry no promise), and a contribution against the d^2 it is a share of.
# - What the board computes from the stored model and windows (features, raw scores,
#   ratio, contributions) passes through tens of float32 rounding steps (sums over the
#   window, FFT, log, sqrt, a 39x39 product).
# - What training writes (means, scales, inverse correlation, thresholds) is fitted on
#   float32 features; inverting the shrunk correlation matrix magnifies a last-place
#   change of the features by its condition number (8-16 here).
EXPECTED_RTOL = 32 * BOARD_FLOAT_ULP
MODEL_RTOL = 32 * BOARD_FLOAT_ULP
TOLERANCE = {"expected": EXPECTED_RTOL, "model": MODEL_RTOL, "windows": 0.0, "other": MODEL_RTOL}
# Backwards-compatible name for callers of the previous version.
CHECK_RTOL = TOLERANCE


def _part(path: str) -> str:
    """Which tolerance a path in the document gets."""
    for key in ("expected", "model", "windows"):
        if f"/{key}" in path:
            return key
    return "other"


def _jitter(a, rs, ulps: float):
    """`a` (float32) with every element moved by up to `ulps` units in its last place, as
    another CPU's float32 arithmetic may leave it."""
    a = np.asarray(a, dtype=np.float32)
    step = np.spacing(np.abs(a)).astype(np.float64)
    return (a + rs.uniform(-ulps, ulps, a.shape) * step).astype(np.float32)


def _g9(v: float) -> float:
    """A float32 value with 9 significant digits: round-trips float32 exactly."""
    return float("%.9g" % float(v))


def _expected(ex, det, windows, jitter=None) -> list[dict]:
    out = []
    for w in windows:
        x = ex.compute(xp.array(w))
        if jitter is not None:
            x = jitter(x)
        feats = [_g9(v) for v in xp.tolist(x)]
        raws = [_g9(det.raw(x, i)) for i in range(len(det.mode_names))]
        ratio, mode = det.score(x)
        contrib = [_g9(v) for v in xp.tolist(det.contributions(x, mode))]
        out.append({"features": feats, "raw": raws, "ratio": _g9(ratio), "mode": mode,
                    "mode_name": det.mode_names[mode], "contributions": contrib})
    return out


def _case(name: str, doc: dict, windows: list, source: list[str], jitter=None, score_with=None) -> dict:
    """One case; the expected values come from `score_with` (a stored model document) if
    given, so that what training wrote and what the math computes are checked apart."""
    model_mod.validate(doc)
    use = score_with or doc
    ex = features_mod.from_recipe(use["features"])
    det = detectors_mod.from_model(use)
    return {"name": name, "model": doc, "source": source, "windows": windows,
            "expected": _expected(ex, det, windows, jitter)}


def _no_jitter(a):
    return a


def accel_case(jitter=_no_jitter, score_with=None) -> dict:
    ex = datasets.make_extractor("accel", 200, 200.0, 16)
    fit_sets, calib = [], []
    for i, folder in enumerate(ACCEL_MODES):
        ws = datasets.load_folder(os.path.join(DATA, folder), ex, progress=False)
        fit, hold = ws.split_time(0.75, 0.25)
        fit_sets.append((ws.name, jitter(fit.features)))
        calib.append((jitter(hold.features), i))
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
    return _case("accel-mahalanobis", doc, windows, source, None if jitter is _no_jitter else jitter, score_with)


def temperature_stream(n: int, seed: int = 0, hot_from: int | None = None) -> np.ndarray:
    """A synthetic room temperature in degC, one sample a second: slow drift + noise,
    optionally overheating (a ramp of +0.05 degC/s) from sample `hot_from` on."""
    rs = np.random.RandomState(seed)  # legacy generator: frozen stream across NumPy versions
    t = np.arange(n, dtype=np.float64)
    x = 21.0 + 0.8 * np.sin(2 * math.pi * t / 600.0) + 0.05 * rs.randn(n)
    if hot_from is not None:
        x[hot_from:] += 0.05 * (t[hot_from:] - hot_from)
    return np.round(x, 3)


def scalar_case(jitter=_no_jitter, score_with=None) -> dict:
    window = 16
    ex = ScalarFeatures(window, 1.0)
    fit = temperature_stream(window * 120, seed=1)
    cal = temperature_stream(window * 60, seed=2)

    def feats(stream):
        return jitter(np.stack([np.array(ex.compute(xp.array([list(stream[i:i + window])])), dtype=np.float32)
                                for i in range(0, len(stream) - window + 1, window)]))

    decision = {"k": 2, "n": 3, "on": 1.0, "off": 0.8, "cooldown": 5}
    doc = train.build_model(ex, "zscore", [("normal", feats(fit))], [(feats(cal), 0)], 0.01,
                            decision=decision, sessions=["synthetic-1", "synthetic-2"],
                            threshold_source="calibration")
    doc["training"]["date"] = FIXED_DATE
    doc["training"]["tool"] = "tests/make_golden.py"
    test = temperature_stream(window * 3, seed=3, hot_from=2 * window)
    windows = [[[float(v) for v in test[i:i + window]]] for i in range(0, len(test), window)]
    return _case("scalar-zscore", doc, windows, ["synthetic seed 3, window %d" % i for i in range(3)],
                 None if jitter is _no_jitter else jitter, score_with)


def build(jitter_ulps: float = 0.0, seed: int = 0, stored: dict | None = None) -> dict:
    """The golden document. `jitter_ulps` > 0: as computed on "another CPU", every feature
    vector (for training and for the expected values) moved by up to that many float32
    units in the last place. `stored`: a golden document whose models score the windows
    (its "expected" then tests the math alone; "model" still holds the fresh training)."""
    with_models = [c["model"] for c in stored["cases"]] if stored else [None, None]
    jitter = _no_jitter
    if jitter_ulps:
        rs = np.random.RandomState(seed)

        def jitter(a):
            return _jitter(a, rs, jitter_ulps)
    return {
        "format": FORMAT,
        "about": "golden vectors for device/ (see tests/make_golden.py); "
                 "check a board with tests/board_selftest.py",
        "cases": [accel_case(jitter, with_models[0]), scalar_case(jitter, with_models[1])],
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

def _numbers(v) -> list[float]:
    """The numbers of a (nested) list, or [] if it holds anything else."""
    if isinstance(v, bool) or not isinstance(v, (list, int, float)):
        return []
    if not isinstance(v, list):
        return [abs(float(v))]
    out: list[float] = []
    for x in v:
        sub = _numbers(x)
        if not sub and not (isinstance(x, list) and not x):
            return []
        out += sub
    return out


def compare(stored, fresh, path: str = "", out: list | None = None, scale: float | None = None) -> list[str]:
    """Differences between two golden documents, as readable strings (empty: same).
    Structure, names, modes and counts must be equal; a number may differ by its part's
    TOLERANCE times the largest magnitude in the same array (vector or matrix; for
    contributions, the d^2 they share), or its own magnitude (floor 1e-3) when it stands
    alone."""
    if out is None:
        out = []
    if isinstance(stored, dict) and isinstance(fresh, dict):
        if set(stored) != set(fresh):
            out.append(f"{path}: keys differ: {sorted(set(stored) ^ set(fresh))}")
        share_of = None  # contributions are shares of the raw score of the chosen mode
        if "contributions" in stored and isinstance(stored.get("raw"), list) and \
                isinstance(stored.get("mode"), int) and 0 <= stored["mode"] < len(stored["raw"]):
            share_of = abs(float(stored["raw"][stored["mode"]]))
        for k in stored:
            if k in fresh:
                sub_scale = None
                if k == "contributions" and share_of is not None:
                    sub_scale = max(_numbers(stored[k]) + [share_of])
                compare(stored[k], fresh[k], f"{path}/{k}", out, sub_scale)
    elif isinstance(stored, list) and isinstance(fresh, list):
        if len(stored) != len(fresh):
            out.append(f"{path}: length {len(stored)} != {len(fresh)}")
        else:
            if scale is None:  # the outermost numeric array sets the scale of its entries
                nums = _numbers(stored)
                scale = max(nums) if nums else None
            for i, (a, b) in enumerate(zip(stored, fresh)):
                compare(a, b, f"{path}[{i}]", out, scale)
    elif isinstance(stored, float) or isinstance(fresh, float):
        a, b = float(stored), float(fresh)
        rtol = TOLERANCE[_part(path)]
        if not abs(a - b) <= rtol * max(abs(a), abs(b), 1e-3 if scale is None else scale):
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
