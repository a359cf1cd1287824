"""The board bench and the emulator's allocation accounting.

- The ulab emulator charges the measured bytes of the note's table to `ulab.EMU`, counts
  element-wise ndarray stores and reads, and `np.frombuffer` shares its buffer's memory.
- tests/board_bench.py runs under the emulator, on plain CPython + NumPy and on the
  MicroPython unix port, and its last line is one JSON object with the agreed keys (the
  figures themselves are not asserted: budgets are for a board).
- The hot path (MSA301 read, features, score, decide) does no element-wise ndarray store
  or read, counted by the emulator.
"""

from __future__ import annotations

import array
import json
import os
import struct
import sys

import pytest

from conftest import ROOT, TESTS, ULAB_EMU, require_tool, run_py

BENCH = os.path.join(TESTS, "board_bench.py")
EMU_PATH = {"PYTHONPATH": os.pathsep.join([ULAB_EMU, ROOT, TESTS])}
KEYS = {"fft_us": float, "read_bytes": int, "window_bytes": int, "window_fft_eq": float,
        "model_load_peak_bytes": int, "heap_free_after_warmup": int}


def _cost(ulab, f):
    ulab.EMU.reset()
    f()
    return ulab.EMU.bytes


# ---- the emulator's accounting ----------------------------------------------------------

def test_every_row_of_the_measured_table(ulab):
    np = ulab.numpy
    v, w = np.zeros(256), np.zeros(256)
    m = np.zeros((3, 256))
    p = np.zeros(129) + 1.0
    big = np.zeros((32, 129))

    def put():
        v[7] = 1.5

    def put2():
        m[1, 7] = 1.5

    def assign():
        v[0:128] = w[0:128]

    def fill():
        v[:] = 0.0

    def imul():
        a = v
        a *= 2.0

    def iadd():
        a = v
        a += w

    rows = [(put, 288), (put2, 256), (lambda: v[7], 112), (assign, 832), (lambda: v[0:128], 128),
            (fill, 304), (imul, 144), (iadd, 48), (lambda: np.mean(v), 32),
            (lambda: np.dot(v, v), 96), (lambda: v * v, 1136), (lambda: np.log(p), 608),
            (lambda: np.dot(big, p), 208), (lambda: np.fft.fft(v), 2224),
            (lambda: np.fft.fft(v, w), 2224)]
    got = [_cost(ulab, f) for f, _ in rows]
    assert got == [b for _, b in rows]


def test_derived_sizes_and_labels(ulab):
    np = ulab.numpy
    a = np.zeros(64)
    assert _cost(ulab, lambda: a * a) == 256 + 112
    assert ulab.EMU.by_basis["derived"] == 368
    assert _cost(ulab, lambda: np.fft.fft(a)) == 2 * 256 + 176
    assert _cost(ulab, lambda: np.sqrt(a)) == 256 + 80
    assert _cost(ulab, lambda: a * 2.0) == 256 + 112 + 96
    assert ulab.EMU.by_basis["estimate"] == 464 and ulab.EMU.by_basis["measured"] == 0
    assert _cost(ulab, lambda: np.asarray(a)) == 0  # the same object comes back
    ulab.EMU.reset()
    np.std(np.sqrt(a))  # a nested call is charged once per operation
    assert ulab.EMU.ops == {"sqrt": [1, 336], "std": [1, 32]}


def test_element_counters(ulab):
    np = ulab.numpy
    v = np.zeros(8)
    m = np.zeros((2, 8))
    ulab.EMU.reset()
    v[1] = 2.0
    m[1, 2] = 3.0
    m[1][3] = 4.0  # a row view, then a 1-D element store
    assert ulab.EMU.elem_stores == 3 and ulab.EMU.elem_reads == 0
    x = v[1] + m[1, 2]
    assert x == 5.0 and ulab.EMU.elem_reads == 2
    ulab.EMU.reset()
    v[0:4] = 1.0
    m[0] = v
    _ = v[2:5], m[1], np.sum(v)
    assert ulab.EMU.elem_stores == 0 and ulab.EMU.elem_reads == 0 and ulab.EMU.iter_items == 0
    assert [float(x) for x in v] == [1.0] * 4 + [0.0] * 4
    assert ulab.EMU.iter_items == 8 and ulab.EMU.elem_reads == 0


def test_frombuffer_shares_memory_both_ways(ulab):
    np = ulab.numpy
    buf = array.array("f", [0.0] * 6)
    a = np.frombuffer(buf, dtype=np.float)
    buf[2] = 1.5
    assert a[2] == 1.5
    a[4] = -2.0
    a[0:2] = 7.0
    assert list(buf) == [7.0, 7.0, 1.5, 0.0, -2.0, 0.0]
    raw = array.array("h", [1, -2, 3])
    b = np.frombuffer(raw, dtype=np.int16)
    raw[1] = 5
    assert b.tolist() == [1, 5, 3] and b.dtype == np.int16


def test_utils_from_int16_buffer_and_spectrogram(ulab):
    np = ulab.numpy
    raw = bytearray(struct.pack("<6h", 4, -8, 12, 16, -20, 24))
    out = np.zeros(4)
    assert _cost(ulab, lambda: ulab.utils.from_int16_buffer(raw, count=4, offset=4, out=out)) == 0
    assert out.tolist() == [12.0, 16.0, -20.0, 24.0]
    got = ulab.utils.from_int16_buffer(raw, byteswap=True)
    assert got.tolist() == [float(v) for v in struct.unpack(">6h", raw)]
    with pytest.raises(ValueError):
        ulab.utils.from_int16_buffer(raw, count=4, out=np.zeros(2))
    with pytest.raises(TypeError):  # 6.5.5 keywords, not on the board
        ulab.utils.spectrogram(np.zeros(8), out=np.zeros(8))
    with pytest.raises(AttributeError):
        ulab.utils.from_intbuffer  # noqa: B018
    x = np.array([float((i * 7) % 5) for i in range(256)])
    y = np.array([float((i * 3) % 7) for i in range(256)])
    s = ulab.utils.spectrogram(x, y)
    re, im = np.fft.fft(x, y)
    want = np.sqrt(re * re + im * im)
    assert max(abs(s - want)) <= 1e-5 * max(want)
    assert _cost(ulab, lambda: ulab.utils.spectrogram(x)) == 2208


def test_live_bytes_follow_array_lifetimes(ulab):
    np = ulab.numpy
    before = ulab.EMU.live_bytes()
    a = np.zeros((32, 129))
    assert ulab.EMU.live_bytes() - before == 48 + 16512
    row = a[3]
    assert ulab.EMU.live_bytes() - before == 48 + 16512 + 48  # a view holds a header only
    del a, row
    assert ulab.EMU.live_bytes() == before


def test_accounting_adds_no_public_name(ulab):
    unp = ulab.numpy
    public = {n for n in vars(unp) if not n.startswith("_") and not n.isupper()}
    assert public == set(unp.API_NAMES)
    assert hasattr(ulab, "EMU") and not hasattr(unp, "EMU")


# ---- the bench -----------------------------------------------------------------------------

def _last_json(r) -> dict:
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.strip().splitlines()
    doc = json.loads(lines[-1])
    assert isinstance(doc, dict)
    return doc


def _check_keys(doc: dict) -> None:
    for key, typ in KEYS.items():
        assert key in doc, key
        v = doc[key]
        assert isinstance(v, (int, float)) and not isinstance(v, bool), (key, v)
        if typ is int:
            assert isinstance(v, int), (key, v)
    assert doc["fft_us"] > 0 and doc["window_fft_eq"] > 0
    assert doc["read_bytes"] >= 0 and doc["window_bytes"] >= 0
    assert 0 < doc["model_load_peak_bytes"]
    assert doc["heap_free_after_warmup"] < 150 * 1024
    assert set(doc["budgets"]) == set(KEYS) - {"fft_us"}


def test_bench_under_the_emulator_prints_estimates():
    r = run_py([BENCH, "3"], env_extra=EMU_PATH, timeout=300)
    doc = _last_json(r)
    _check_keys(doc)
    assert doc["source"] == "emulator-estimate"
    assert "ESTIMATE" in doc["heap_kind"]
    parts = doc["heap_parts"]
    assert parts["arrays"] > 0 and parts["python_objects"] > 0
    assert doc["heap_free_after_warmup"] == 150 * 1024 - parts["arrays"] - parts["mpy"] - parts["python_objects"]
    counts = doc["stage_counts"]
    assert set(counts) == {"read", "features", "score", "decide"}
    assert all(isinstance(c["elem_stores"], int) for c in counts.values())
    assert sum(sum(c["by_basis"].values()) for c in counts.values()) == \
        doc["read_bytes"] + doc["window_bytes"]
    assert not [n for n in os.listdir(ROOT) if n.startswith("bench_model")]


def test_bench_on_cpython_numpy():
    r = run_py([BENCH, "3"], timeout=300)
    doc = _last_json(r)
    _check_keys(doc)
    assert doc["source"] == "cpython"


def test_bench_under_micropython_without_ulab(tmp_path):
    mp = require_tool("micropython")
    r = run_py([BENCH], python=mp, cwd=str(tmp_path), timeout=300,
               env_extra={"MICROPYPATH": ".frozen" + os.pathsep + ROOT})
    doc = _last_json(r)
    assert doc["source"] == "micropython-pc"  # not a board: a PC's MicroPython (issue 15)
    assert doc["ran_on"].startswith("micropython ")
    assert isinstance(doc["model_load_peak_bytes"], int) and doc["model_load_peak_bytes"] > 0
    assert doc["read_bytes"] is None  # no array library: only the model load is measured
    assert os.listdir(tmp_path) == []


# ---- the hot path stores into and reads from no ndarray element ----------------------------

PROBE = r"""
import json, sys
import ulab
from device import decision, detectors, features
import board_bench as bb

doc = bb.synthetic_model(bb.recipe())
feats = features.from_recipe(doc["features"])
det = detectors.from_model(doc)
dec = decision.Decision.from_settings(doc["decision"])
sensor = bb.make_sensor(feats)
names = {"read": "MSA301Sensor.read", "features": "features.compute",
         "score": "detector.score", "decide": "decision.update"}
stages = [(names[n], f) for n, f in bb.pipeline(sensor, feats, det, dec)]
%s
for _n, f in stages:  # warm-up: first calls may set things up
    f()
out = {}
for name, f in stages:
    ulab.EMU.reset()
    f()
    out[name] = [ulab.EMU.elem_stores, ulab.EMU.elem_reads, ulab.EMU.iter_items]
print(json.dumps(out))
"""

# A stage that stores element-wise, to show the probe itself sees stores and reads.
STORING = r"""
v = sensor.read()[0]
def storing():
    for i in range(16):
        v[i] = v[i] + 1.0
stages.append(("storing", storing))
"""


def _probe(extra: str = "") -> dict:
    r = run_py(["-c", PROBE % extra], env_extra=EMU_PATH, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_probe_sees_element_stores_and_reads():
    got = _probe(STORING)
    assert got["storing"] == [16, 16, 0]
    assert got["decision.update"] == [0, 0, 0]


def test_hot_path_has_no_element_wise_ndarray_access():
    got = _probe()
    bad = {k: v for k, v in got.items() if v[:2] != [0, 0]}
    assert not bad, "element-wise ndarray [stores, reads, items iterated] per window: %r" % bad


# ---- the model writer the lead switches to the sidecar format ----------------------------

def test_write_model_uses_modelwrite_when_it_exists(tmp_path, monkeypatch):
    import board_bench
    import device
    from device import model as model_mod
    from device import modelwrite

    doc = board_bench.synthetic_model(board_bench.recipe(), modes=2)
    path = str(tmp_path / "m.json")
    calls = []
    monkeypatch.setattr(modelwrite, "save", lambda p, d: calls.append((p, d)))
    board_bench.write_model(path, doc)
    assert calls == [(path, doc)]
    monkeypatch.delattr(device, "modelwrite", raising=False)  # a board without the writer
    monkeypatch.setitem(sys.modules, "device.modelwrite", None)
    board_bench.write_model(path, doc)
    assert model_mod.load(path)["modes"][1]["name"] == "mode1"  # today's checksum-first JSON


