"""device/ uses only what CircuitPython's ulab (6.5.3, float32, 2-D, no complex) provides.

Three layers:
1. The emulator itself (tests/ulab_emu/ulab) behaves like the board where NumPy differs.
2. A static scan of device/*.py: every `np.<name>` (also `np.fft.<name>`, `np.linalg.<name>`)
   is in the board's API list, and no NumPy-only array attribute or the `@` operator is used.
3. Device code run with the emulator as `ulab` (subprocesses with tests/ulab_emu first on
   PYTHONPATH, so device/xp.py takes its `from ulab import numpy` branch): the board
   self-test passes within its stated limits, and a full pipeline (features, detectors,
   commissioning, decision, the App loop) runs with board-only array semantics.
"""

from __future__ import annotations

import json
import os
import sys
import tokenize

import numpy as np
import pytest

from conftest import ROOT, TESTS, ULAB_EMU, run_py

DEVICE = os.path.join(ROOT, "device")
# Host-only code in xp.py's NumPy branch (`if not ULAB`): allowed there and nowhere else.
XP_HOST_ONLY = {"float32", "real", "imag", "astype"}
# NumPy ndarray attributes that ulab's ndarray does not have (unambiguous names only).
NUMPY_ONLY_ATTRS = {"astype", "ndim", "real", "imag", "item", "ravel", "squeeze", "nbytes",
                    "cumsum", "prod", "var", "conj", "swapaxes", "keepdims", "matmul", "outer"}


# ---- 1. the emulator ------------------------------------------------------------------------

def test_emulator_exposes_exactly_the_board_names(ulab):
    unp = ulab.numpy
    public = {n for n in vars(unp) if not n.startswith("_") and not n.isupper()}
    assert public == set(unp.API_NAMES)
    assert set(dir(unp)) == set(unp.API_NAMES)
    for name in ("cov", "var", "isnan", "percentile", "quantile", "average", "cumsum", "prod",
                 "histogram", "unique", "corrcoef", "abs", "square", "power", "reshape",
                 "transpose", "stack", "vstack", "hstack", "outer", "matmul", "take", "bincount",
                 "meshgrid", "float32", "float64", "int32", "random", "complex64", "newaxis"):
        with pytest.raises(AttributeError):
            getattr(unp, name)
    for name in ("solve", "lstsq", "pinv", "svd", "slogdet", "matrix_rank"):
        with pytest.raises(AttributeError):
            getattr(unp.linalg, name)
    for name in ("rfft", "fftfreq", "irfft"):
        with pytest.raises(AttributeError):
            getattr(unp.fft, name)


def test_emulator_dtypes_are_int_codes_and_float_is_float32(ulab):
    unp = ulab.numpy
    a = unp.array([1, 2, 3])
    assert a.dtype == unp.float == 102 and isinstance(a.dtype, int)
    assert unp.zeros(3, dtype=unp.int16).dtype == unp.int16
    assert np.asarray(a).dtype == np.float32
    with pytest.raises(TypeError):
        unp.zeros(3, dtype=np.float64)


def test_emulator_fft_is_a_float32_tuple(ulab):
    unp = ulab.numpy
    rs = np.random.RandomState(0)
    x = rs.randn(256)
    re, im = unp.fft.fft(unp.array(list(x)))
    assert re.dtype == im.dtype == unp.float
    f = np.fft.fft(np.float32(x).astype(np.float64))
    peak = np.abs(f).max()
    np.testing.assert_allclose(np.asarray(re, dtype=np.float64), f.real, atol=2e-6 * peak)
    np.testing.assert_allclose(np.asarray(im, dtype=np.float64), f.imag, atol=2e-6 * peak)
    r2, i2 = unp.fft.ifft(re, im)
    np.testing.assert_allclose(np.asarray(r2, dtype=np.float64), np.float32(x), atol=1e-5)
    with pytest.raises(ValueError):
        unp.fft.fft(unp.zeros(200))
    with pytest.raises(TypeError):
        unp.fft.fft(unp.zeros((2, 8)))
    with pytest.raises(NotImplementedError):
        unp.fft.fft([1.0, 2.0])


def test_emulator_board_behaviours(ulab):
    unp = ulab.numpy
    a = unp.array([3.0, 1.0, 2.0])
    with pytest.raises(NotImplementedError):
        unp.argsort(a)
    assert unp.argsort(a, axis=0).tolist() == [1, 2, 0]
    with pytest.raises(TypeError):
        unp.array([[[1.0]]])
    with pytest.raises(TypeError):
        unp.zeros((2, 2, 2))
    with pytest.raises(TypeError):
        unp.zeros(8).reshape((2, 2, 2))
    with pytest.raises(TypeError):
        a @ a
    with pytest.raises(TypeError):
        a % 2
    for attr in ("ndim", "astype", "mean", "sum", "real", "item", "ravel"):
        with pytest.raises(AttributeError):
            getattr(a, attr)
    for attr in ("shape", "size", "T", "reshape", "flatten", "copy", "tolist", "sort", "transpose"):
        getattr(a, attr)
    with pytest.raises(TypeError):
        a[[0, 1]]  # no integer-array indexing
    m = unp.array([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(NotImplementedError):
        m[m > 2.0]  # boolean masks on 1-D arrays only
    assert a[a > 1.5].tolist() == [3.0, 2.0]
    assert unp.mean(unp.array([])) == 0.0
    i = unp.array([1, 2], dtype=unp.uint8)
    assert (i / 2).tolist() == [0.0, 1.0]  # integer array / int truncates on the board
    assert (unp.array([200], dtype=unp.uint8) + unp.array([100], dtype=unp.uint8)).tolist() == [44]
    d = unp.dot(a, a)
    assert isinstance(d, float) and d == 14.0
    assert unp.dot(m, unp.array([1.0, 1.0])).tolist() == [3.0, 7.0]
    with pytest.raises(NotImplementedError):
        unp.dot(unp.array([1.0, 1.0]), m)
    # CircuitPython float objects keep ~22 bits: 1.0000001 -> 1.0
    assert unp.array([1.0000001])[0] == 1.0
    assert isinstance(a[0], float) and isinstance(unp.max(a), float)
    assert unp.std(a, ddof=1) == pytest.approx(1.0, rel=1e-6)
    assert unp.mean(m, axis=1).tolist() == [1.5, 3.5]
    with pytest.raises(ValueError):
        unp.linalg.inv(unp.array([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(ValueError):
        unp.linalg.cholesky(unp.array([[1.0, 2.0], [0.0, 1.0]]))


# ---- 2. static scan of device/ ----------------------------------------------------------------

def _attr_chains(path):
    """(line, [names]) for every dotted chain `a.b.c` in the file (code only: no strings/comments)."""
    with open(path, "rb") as f:
        toks = [t for t in tokenize.tokenize(f.readline)
                if t.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT,
                                  tokenize.DEDENT, tokenize.ENCODING)]
    out = []
    i = 0
    while i < len(toks):
        t = toks[i]
        if t.type == tokenize.NAME and not (i > 0 and toks[i - 1].string == "."):
            chain = [t.string]
            j = i + 1
            while j + 1 < len(toks) and toks[j].string == "." and toks[j + 1].type == tokenize.NAME:
                chain.append(toks[j + 1].string)
                j += 2
            if len(chain) > 1:
                out.append((t.start[0], chain))
            i = j
        else:
            i += 1
    return out, toks


def _device_files():
    return sorted(os.path.join(DEVICE, f) for f in os.listdir(DEVICE) if f.endswith(".py"))


LINALG = {"inv", "cholesky", "det", "eig", "norm", "qr"}


def scan_np_names(path, api_names):
    """(problems, names used): every `np.<name>` / `np.fft.<name>` / `np.linalg.<name>`."""
    allowed = {None: set(api_names), "fft": {"fft", "ifft"}, "linalg": LINALG}
    fname = os.path.basename(path)
    bad, used = [], set()
    chains, _ = _attr_chains(path)
    for line, chain in chains:
        for k, name in enumerate(chain[:-1]):
            if name != "np":
                continue
            attr = chain[k + 1]
            sub = None
            if attr in ("fft", "linalg") and k + 2 < len(chain):
                sub, attr = attr, chain[k + 2]
            full = ((sub + ".") if sub else "") + attr
            used.add(full)
            if attr in allowed[sub] or (fname == "xp.py" and attr in XP_HOST_ONLY):
                continue
            bad.append(f"{fname}:{line}: np.{full}")
    return bad, used


def scan_numpy_only(path):
    """NumPy-only array attributes, `keepdims=` and the `@` operator."""
    fname = os.path.basename(path)
    bad = []
    chains, toks = _attr_chains(path)
    for line, chain in chains:
        for name in chain[1:]:
            if name in NUMPY_ONLY_ATTRS and not (fname == "xp.py" and name in XP_HOST_ONLY):
                bad.append(f"{fname}:{line}: .{name}")
    for t in toks:
        if t.type == tokenize.NAME and t.string == "keepdims":
            bad.append(f"{fname}:{t.start[0]}: keepdims=")
        # `@` as an operator (a decorator's `@` starts its line)
        if t.type == tokenize.OP and t.string in ("@", "@=") and not t.line.lstrip().startswith("@"):
            bad.append(f"{fname}:{t.start[0]}: @ operator")
    return sorted(set(bad))


def test_device_uses_only_board_ulab_names(ulab):
    bad, used = [], set()
    for path in _device_files():
        b, u = scan_np_names(path, ulab.numpy.API_NAMES)
        bad += b
        used |= u
    assert not bad, "not on the board's ulab:\n" + "\n".join(bad)
    assert {"dot", "mean", "log", "fft.fft"} <= used  # the scan does see the device math


def test_device_uses_no_numpy_only_array_features():
    bad = []
    for path in _device_files():
        bad += scan_numpy_only(path)
    assert not bad, "NumPy-only array features (absent on the board):\n" + "\n".join(bad)


def test_scanners_catch_numpy_only_code(ulab, tmp_path):
    p = tmp_path / "bad.py"
    p.write_text(
        "from device import xp\n"
        "np = xp.np\n"
        "# np.cov in a comment is fine\n"
        "def f(a, b):\n"
        "    s = 'np.var in a string is fine'\n"
        "    c = np.cov(a)\n"
        "    r = xp.np.linalg.solve(a, b)\n"
        "    f = np.fft.rfft(a)\n"
        "    m = np.mean(a, axis=0, keepdims=True)\n"
        "    return a @ b, a.astype(xp.FLOAT), a.ndim, np.float32, np.dot(a, b)\n")
    bad, used = scan_np_names(str(p), ulab.numpy.API_NAMES)
    assert [b.split(": ")[1] for b in bad] == ["np.cov", "np.linalg.solve", "np.fft.rfft", "np.float32"]
    assert "dot" in used and "mean" in used
    found = {b.split(": ")[1] for b in scan_numpy_only(str(p))}
    assert found == {".astype", ".ndim", "keepdims=", "@ operator"}


def test_only_xp_imports_numpy_or_ulab():
    bad = []
    for path in _device_files():
        if os.path.basename(path) == "xp.py":
            continue
        _, toks = _attr_chains(path)
        for k, t in enumerate(toks[:-1]):
            if t.string in ("import", "from") and toks[k + 1].string in ("numpy", "ulab"):
                bad.append(f"{os.path.basename(path)}:{t.start[0]}")
    assert not bad, "device modules must get arrays from device.xp: " + ", ".join(bad)


# ---- 3. device code on the emulated board ------------------------------------------------------

def _run_emulated(args, **kw):
    return run_py(args, env_extra={"PYTHONPATH": ULAB_EMU + os.pathsep + ROOT}, **kw)


def test_board_selftest_passes_on_emulated_ulab():
    r = _run_emulated([os.path.join(TESTS, "board_selftest.py")])
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert lines and lines[-1] == "PASS", r.stdout + r.stderr
    assert "array backend: ulab 6.5.3-2D" in r.stdout
    # the emulated board is not bit-identical to NumPy: the errors are real, and small
    errs = [float(ln.split("max rel err")[1].split()[0]) for ln in lines if "max rel err" in ln]
    assert errs and max(errs) > 0


PIPELINE = r"""
import json, sys
from device import xp, features, detectors, decision, commission, model
from device.app import App
from device.sensors import ReplaySensor
assert xp.ULAB, "expected the ulab branch"
np = xp.np
golden = json.load(open(sys.argv[1]))
case = golden["cases"][0]
doc = case["model"]
ex = features.from_recipe(doc["features"])
det = detectors.from_model(doc)
wins = [xp.array(w) for w in case["windows"]]
out = {}
x = ex.compute(wins[4])
out["explain"] = det.explain(x, 0, ex.names, 3)
out["score"] = det.score(x)
out["nearest"] = det.nearest(x)
# Welford + Commissioner on the emulated board (normal windows repeated, slightly scaled;
# steady: a trend would be refused as halves that disagree)
com = commission.Commissioner(det, 8, 8, 0.1, mode=0, min_windows=4)
k = 0
while not com.done:
    w = wins[k % 2] * (1.0 + 0.01 * (k % 3))
    com.update(ex.compute(w).copy())
    k += 1
out["commissioned"] = [com.updated, det.mode_params(0)[2]]
# scalar features + z-score
sc = golden["cases"][1]
sx = features.from_recipe(sc["model"]["features"])
sdet = detectors.from_model(sc["model"])
out["scalar"] = [sdet.score(sx.compute(xp.array(w)))[1] for w in sc["windows"]]
# the App loop over replayed windows: 4 normal, then the anomaly windows repeated
class Box:
    def __init__(self):
        self.items = []
    def put(self, p):
        self.items.append(p)
        return True
box = Box()
seq = wins[:4] + [wins[4], wins[5]] * 4
app = App(ReplaySensor(seq), doc, outbox=box)
app.run()
out["app"] = [app.windows, [p.get("event") for p in box.items if p.get("type") == "event"]]
print(json.dumps(out))
"""


def test_device_pipeline_runs_on_emulated_ulab(tmp_path):
    script = tmp_path / "pipeline.py"
    script.write_text(PIPELINE)
    r = _run_emulated([str(script), os.path.join(TESTS, "golden", "golden.json")])
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(out["explain"]) == 3 and all(isinstance(v, float) for _, v in out["explain"])
    assert out["score"][0] > 1.0
    assert out["commissioned"][0] == ["fan_0_low_0_weight"] and out["commissioned"][1] > 0
    assert out["scalar"] == [0, 0, 0]
    windows, events = out["app"]
    assert windows == 12 and events[:1] == ["anomaly_start"]
