"""Board self-test: does this board's device/ code compute what the host computed?

Runs the golden vectors (tests/golden/golden.json, written by tests/make_golden.py) through
device.features / device.detectors / device.model and prints, per case, the largest
relative error of each stage against the host's values, then PASS or FAIL as the very
last line.

On a PC, from the repository root (CPython + NumPy):
    python tests/board_selftest.py [path/to/golden.json]
On a board with ulab (CircuitPython), with device/ copied to /device and the golden file
copied to /tests/golden/golden.json or /golden.json:
    mpremote run tests/board_selftest.py

Errors and limits (chosen to accept a float32 ulab board against NumPy float32: different
summation order, FFT kernel and CircuitPython's ~30-bit float objects):
    features       |a - b| / max(|b|, 1)   <= 2e-4   (log energies, centroids, log rms, ...)
    raw score      |a - b| / max(|b|, 1)   <= 1e-3   (every mode: max|z| or d^2)
    ratio          |a - b| / max(|b|, 1)   <= 1e-3   (raw / threshold of the chosen mode)
    contributions  |a - b| / max(|b|, d^2, 1) <= 1e-3 (each feature's share, against the total)
    mode           the same mode index, unless the host's two best ratios are within 1e-3
MLX90640 (tests/golden/mlx90640.jsonl, written by tests/make_mlx_golden.py; copy it to
/tests/golden/ or / on a board): device/mlxconv.py converts the example sub-pages of each
case (chess and interleaved, broken/outlier pixel, pixels in temperature ranges 0, 2, 3)
from the Adafruit driver's extracted parameters, and every pixel must be within
    0.01 deg C of the unmodified driver's getFrame on the host.
No NumPy import here: the arrays come from device.xp (ulab on the board).
"""

import gc
import sys

LIMITS = {"features": 2e-4, "raw": 1e-3, "ratio": 1e-3, "contributions": 1e-3}
STAGES = ("features", "raw", "ratio", "contributions")


def _dirname(p):
    p = p.replace("\\", "/")
    i = p.rfind("/")
    if i < 0:
        return ""
    if i == 0:
        return "/"
    return p[:i]


def _repo_root():
    """The repository root from this file's location, or None (mpremote run has no __file__)."""
    try:
        here = __file__
    except NameError:
        return None
    root = _dirname(_dirname(here))
    return root if root else "."


ROOT = _repo_root()
if ROOT is not None and ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from device import detectors, features, model, xp  # noqa: E402


def _candidates():
    """An explicit path (command line) alone; else next to this file, then the board's root."""
    argv = getattr(sys, "argv", None) or []
    if len(argv) > 1:
        return [argv[1]]
    out = []
    if ROOT is not None:
        out.append(ROOT + "/tests/golden/golden.json")
    out.extend(["tests/golden/golden.json", "/tests/golden/golden.json", "golden.json",
                "/golden.json"])
    return out


def _open_golden():
    import json

    tried = []
    for path in _candidates():
        try:
            f = open(path, "r")
        except OSError:
            tried.append(path)
            continue
        try:
            return path, json.load(f)
        finally:
            f.close()
    raise OSError("golden file not found; tried: " + ", ".join(tried))


INF = float("inf")


def _rel(a, b, floor):
    """|a - b| / max(|b|, floor); a NaN or infinite result from the device is infinitely wrong."""
    if a != a or a == INF or a == -INF:
        return INF
    m = abs(b)
    if m < floor:
        m = floor
    return abs(a - b) / m


def _max_rel(got, want, floor):
    if len(got) != len(want):
        raise ValueError("length %d, expected %d" % (len(got), len(want)))
    worst = 0.0
    for i in range(len(want)):
        e = _rel(got[i], want[i], floor)
        if e > worst:
            worst = e
    return worst


def run_case(case):
    """Errors of one golden case: (dict stage -> max error, mode mismatches, windows)."""
    doc = case["model"]
    model.validate(doc)
    ex = features.from_recipe(doc["features"])
    if ex.names != doc["features"]["names"]:
        raise ValueError("feature names differ from the model's recipe")
    det = detectors.from_model(doc)
    n_modes = len(det.mode_names)
    worst = {}
    for s in STAGES:
        worst[s] = 0.0
    mode_errors = 0
    for k in range(len(case["windows"])):
        want = case["expected"][k]
        win = xp.array(case["windows"][k])
        x = ex.compute(win)
        e = _max_rel(xp.tolist(x), want["features"], 1.0)
        worst["features"] = max(worst["features"], e)
        raws = [det.raw(x, i) for i in range(n_modes)]
        worst["raw"] = max(worst["raw"], _max_rel(raws, want["raw"], 1.0))
        ratio, mode = det.score(x)
        worst["ratio"] = max(worst["ratio"], _rel(ratio, want["ratio"], 1.0))
        if mode != want["mode"]:
            ratios = sorted(want["raw"][i] / det.threshold(i) for i in range(n_modes))
            if not (n_modes > 1 and _rel(ratios[1], ratios[0], 1.0) <= LIMITS["ratio"]):
                mode_errors += 1
        total = abs(want["raw"][want["mode"]])
        c = xp.tolist(det.contributions(x, want["mode"]))
        worst["contributions"] = max(worst["contributions"],
                                     _max_rel(c, want["contributions"], max(total, 1.0)))
        gc.collect()
    return worst, mode_errors, len(case["windows"])


def _backend():
    if xp.np is None:
        return "none"
    if xp.ULAB:
        try:
            import ulab

            return "ulab " + str(ulab.__version__)
        except (ImportError, AttributeError):
            return "ulab"
    return "numpy " + str(getattr(xp.np, "__version__", "?"))


MLX_TOL = 0.01


def _mlx_candidates(golden_path):
    out = []
    d = _dirname(golden_path) if golden_path else ""
    if d:
        out.append(d + "/mlx90640.jsonl")
    if ROOT is not None:
        out.append(ROOT + "/tests/golden/mlx90640.jsonl")
    out.extend(["tests/golden/mlx90640.jsonl", "/tests/golden/mlx90640.jsonl", "mlx90640.jsonl",
                "/mlx90640.jsonl"])
    return out


class _Params:
    """The driver's extracted parameters (what device.mlxconv reads from the driver)."""


def run_mlx(golden_path):
    """(ok, lines printed) for the MLX90640 cases; None when the file is not there."""
    import json

    from device import mlxconv

    f = None
    for path in _mlx_candidates(golden_path):
        try:
            f = open(path, "r")
            break
        except OSError:
            continue
    if f is None:
        print("mlx90640: golden file not found (tests/golden/mlx90640.jsonl): not checked")
        return None
    print("mlx90640 golden file: %s" % path)
    ok = True
    params = None
    base = None
    try:
        while True:
            line = f.readline()
            if not line:
                break
            o = json.loads(line)
            kind = o.get("kind")
            if kind == "params":
                params = o
            elif kind == "subpages":
                base = o["words"]
            elif kind == "case":
                worst = _mlx_case(mlxconv, params, base, o)
                good = worst <= MLX_TOL
                ok = ok and good
                print("  mlx90640 %-26s max |d| %.5f C  (limit %.2f)  %s" % (
                    o["name"], worst, MLX_TOL, "ok" if good else "TOO LARGE"))
            o = None
            gc.collect()
    finally:
        f.close()
    return ok


def _mlx_case(mlxconv, params, base, case):
    p = _Params()
    for k, v in params.items():
        setattr(p, k, v)
    for k, v in case.get("override", {}).items():
        if isinstance(v, list) and v and isinstance(v[0], list):
            lst = list(getattr(p, k))
            for i, val in v:
                lst[i] = val
            setattr(p, k, lst)
        else:
            setattr(p, k, v)
    p.brokenPixels = case["bad"]
    p.outlierPixels = []
    frame = xp.fbuf(768)
    conv = mlxconv.Converter(p, frame)
    ctl = case["control"]
    for n in range(2):
        sp = case["subpages"][n]
        ram = bytearray(1664)
        words = base[n]
        for i in range(832):
            w = words[i]
            ram[2 * i] = (w >> 8) & 0xFF
            ram[2 * i + 1] = w & 0xFF
        for s, i, w in case["patch"]:
            if s == n:
                ram[2 * i] = (w >> 8) & 0xFF
                ram[2 * i + 1] = w & 0xFF
        conv.convert(ram, ctl, sp)
    want = case["expected"]
    worst = 0.0
    for i in range(768):
        a = frame[i]
        e = abs(a - want[i]) if (a == a and a != INF and a != -INF) else INF
        if e > worst:
            worst = e
    return worst


def main():
    ok = True
    try:
        path, golden = _open_golden()
    except (OSError, ValueError) as e:
        print("error: %s" % (e,))
        print("FAIL")
        return False
    print("golden file: %s" % path)
    print("array backend: %s (%s)" % (_backend(), sys.implementation.name))
    if xp.np is None:
        print("error: no ulab/numpy on this interpreter: cannot run device math")
        print("FAIL")
        return False
    cases = golden.get("cases", [])
    if not cases:
        print("error: golden file has no cases")
        ok = False
    for case in cases:
        name = case.get("name", "?")
        try:
            worst, mode_errors, n = run_case(case)
        except Exception as e:  # report and go on: the last line must still come
            print("case %s: error: %s: %s" % (name, type(e).__name__, e))
            ok = False
            continue
        print("case %s: %d windows" % (name, n))
        for s in STAGES:
            good = worst[s] <= LIMITS[s]
            ok = ok and good
            print("  %-14s max rel err %.2e  (limit %.0e)  %s" % (s, worst[s], LIMITS[s], "ok" if good else "TOO LARGE"))
        ok = ok and mode_errors == 0
        print("  %-14s %d of %d windows differ  %s" % ("mode", mode_errors, n, "ok" if mode_errors == 0 else "MISMATCH"))
        gc.collect()
    cases = golden = None
    gc.collect()
    try:
        mlx = run_mlx(path)
    except Exception as e:  # report and go on: the last line must still come
        print("mlx90640: error: %s: %s" % (type(e).__name__, e))
        mlx = False
    if mlx is False:
        ok = False
    print("PASS" if ok else "FAIL")
    return ok


main()
