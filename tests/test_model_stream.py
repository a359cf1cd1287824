"""The arrays sidecar is streamed (issue 15, item 6): device.model.load reads the .npy row by
row straight into the arrays the detector keeps (mean/scale rows, precision factors cut
into device.detectors.BANDS row bands), so a board never holds the file's whole float32
stack; and a bad sidecar still raises ModelError naming what is wrong.

- The numbers arrive bit for bit: every view equals the file's rows, the bands equal what
  detectors._bands_of cuts from the file's factors, and the scores equal those of a
  detector built from the full arrays.
- Under MicroPython (unix port, the ulab stand-in of tests/mp_standins) in a heap cut into
  20 KB holes: the 4-mode, 39-feature model (a 25.6 KB stack) loads, and a block of the
  stack's size does not fit. The previous loader (np.load of the whole stack) raised
  MemoryError there.
- Corrupt, short, wrong-dtype, wrong-shape, NaN and bad-diagonal sidecars, each with a valid
  sha256 (so the reader itself must catch them), give a ModelError saying why.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess

import numpy as np
import pytest

import board_bench
from conftest import ROOT, TESTS, require_tool, venv_tool
from device import detectors, model, modelwrite

STANDINS = os.path.join(TESTS, "mp_standins")


@pytest.fixture()
def bench_model(tmp_path):
    """The bench's 4-mode, 39-feature Mahalanobis model written as JSON + .npy sidecar."""
    doc = board_bench.synthetic_model(board_bench.recipe())
    path = str(tmp_path / "model.json")
    modelwrite.save(path, doc)
    return path


def _npy(path: str) -> str:
    return path[:-5] + ".npy"


def test_loader_bands_are_the_detectors_bands():
    assert model.BANDS == detectors.BANDS
    for n in (1, 2, 3, 15, 39, 40):
        assert model._band_edges(n, model.BANDS) == detectors._band_edges(n)


def test_streamed_arrays_equal_the_file_bit_for_bit(bench_model):
    raw = np.load(_npy(bench_model))
    body = json.load(open(bench_model))
    n = len(body["features"]["names"])
    host = model.load(bench_model)  # NumPy: bands=1, each mode's factor an (n, n) view
    board = model.load(bench_model, bands=model.BANDS)
    factors = []
    for i, m in enumerate(body["modes"]):
        lo, hi = m["prec_chol"]["rows"]
        factors.append(raw[lo:hi])
        for doc in (host, board):
            assert np.array_equal(doc["modes"][i]["mean"], raw[m["mean"]["row"]])
            assert np.array_equal(doc["modes"][i]["scale"], raw[m["scale"]["row"]])
        assert np.array_equal(host["modes"][i]["prec_chol"], raw[lo:hi])
        assert board["modes"][i]["prec_chol"] is None
    assert "_bands" not in host
    edges, blocks = board["_bands"]
    ref_edges, ref_blocks = detectors._bands_of(factors, n)
    assert edges == ref_edges and len(blocks) == len(ref_blocks)
    for got, want in zip(blocks, ref_blocks):
        assert got.shape == want.shape and np.array_equal(got, want)
    # the bands hold the factors' upper part only: less than the stack the file holds
    kept = sum(b.nbytes for b in blocks)
    assert kept < 0.76 * 4 * len(body["modes"]) * n * n
    # scores: in place on the bands == copied from full factors == the old full-array path
    full = {"detector": "mahalanobis", "modes": [dict(m, mean=raw[m["mean"]["row"]], scale=raw[m["scale"]["row"]],
                                                          prec_chol=f) for m, f in zip(body["modes"], factors)]}
    dets = [detectors.from_model(board), detectors.from_model(host), detectors.from_model(full)]
    rs = np.random.RandomState(3)
    for _ in range(20):
        x = (raw[body["modes"][0]["mean"]["row"]] + rs.randn(n).astype(np.float32)).astype(np.float32)
        got = [d.score(x) for d in dets]
        assert got[0] == got[1] == got[2]
    assert board["_spent"] and board["_bands"] is None


def test_a_model_whose_rows_are_out_of_writer_order_loads(bench_model):
    """Old or hand-made files: factors not in mode order, a row shared by two arrays."""
    raw = np.load(_npy(bench_model))
    body = json.load(open(bench_model))
    modes = body["modes"]
    modes[0]["prec_chol"], modes[1]["prec_chol"] = modes[1]["prec_chol"], modes[0]["prec_chol"]
    modes[2]["scale"] = modes[3]["scale"]  # one row read into two arrays
    _rewrite(bench_model, body)
    for bands in (1, model.BANDS):
        doc = model.load(bench_model, bands=bands)
        assert np.array_equal(doc["modes"][2]["scale"], raw[modes[3]["scale"]["row"]])
        assert np.array_equal(doc["modes"][3]["scale"], raw[modes[3]["scale"]["row"]])
        if bands == 1:
            lo, hi = modes[0]["prec_chol"]["rows"]
            assert np.array_equal(doc["modes"][0]["prec_chol"], raw[lo:hi])
        else:
            lo, hi = modes[1]["prec_chol"]["rows"]
            n = hi - lo
            e = doc["_bands"][0]
            assert np.array_equal(doc["_bands"][1][0][e[1]:2 * e[1]], raw[lo:lo + e[1]])  # mode 1's first band
            assert doc["_bands"][1][0].shape == (len(modes) * e[1], n)


# ---- MicroPython: the stack never in one piece -------------------------------------------------

FRAGMENTED = r"""
import gc, json
from device import model, xp
HOLE = 20 * 1024
gc.collect()
big = [None] * 64
rest = [None] * 256
k = 0
try:  # the heap filled with 20 KB blocks ...
    while k < 64:
        big[k] = bytearray(HOLE)
        k += 1
except MemoryError:
    pass
j = 0
for size in (4096, 1024, 256):  # ... and what is left with smaller ones
    try:
        while j < 256:
            rest[j] = bytearray(size)
            j += 1
    except MemoryError:
        pass
rest[j - 1] = rest[j - 2] = rest[j - 3] = rest[j - 4] = None  # room for the loop below
i = 0
while i < k:  # then every other 20 KB block freed: holes of 20 KB
    big[i] = None
    i += 2
gc.collect()
try:
    bytearray(%(stack)d)
    room = "fits"
except MemoryError:
    room = "no room"
try:
    doc = model.load("model.json")
    edges, blocks = doc["_bands"]
    res = ["loaded", edges, [list(b.shape) for b in blocks], float(doc["modes"][1]["scale"][2])]
except MemoryError:
    res = ["MemoryError"]
big = rest = None
gc.collect()
print(json.dumps([xp.ULAB, room] + res))
"""


def test_micropython_loads_the_model_in_a_heap_without_room_for_its_stack(bench_model, tmp_path):
    require_tool("micropython")
    folder = os.path.dirname(bench_model)
    rows, cols = json.load(open(bench_model))["arrays"]["shape"]
    script = tmp_path / "fragmented.py"
    script.write_text(FRAGMENTED % {"stack": 4 * rows * cols})
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([ROOT, STANDINS, ".frozen"]))
    r = subprocess.run([venv_tool("micropython"), "-X", "heapsize=400000", str(script)], cwd=folder, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got[:2] == [True, "no room"], got  # ulab (stand-in); no contiguous block of the stack's size
    assert got[2] == "loaded", "the loader needs the stack in one piece: %r" % (got,)
    n = cols
    edges = detectors._band_edges(n)
    assert got[3] == edges
    assert got[4] == [[4 * (edges[b + 1] - edges[b]), n - edges[b]] for b in range(len(edges) - 1)]
    raw = np.load(_npy(bench_model))
    assert got[5] == float(raw[json.load(open(bench_model))["modes"][1]["scale"]["row"]][2])


# ---- bad sidecars, each with a matching sha256 ---------------------------------------------------

def _rewrite(path: str, body: dict, npy: bytes | None = None) -> None:
    """Replace the sidecar's bytes (if given) and the JSON, with sha256 and checksum to match."""
    if npy is not None:
        with open(_npy(path), "wb") as f:
            f.write(npy)
    with open(_npy(path), "rb") as f:
        body["arrays"]["sha256"] = hashlib.sha256(f.read()).hexdigest()
    body.pop("checksum", None)
    with open(path, "wb") as f:
        f.write(model.dumps(body))


def _header(shape, descr="<f4", fortran=False, version=1) -> bytes:
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, tuple(shape))
    h += " " * ((64 - (12 + len(h) + 1) % 64) % 64) + "\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode()
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(h)) + h.encode()


def _data(path: str) -> tuple[bytes, np.ndarray]:
    raw = np.load(_npy(path))
    return _header(raw.shape), raw


def _set(raw, row, col, v):
    a = raw.copy()
    a[row, col] = v
    return a.astype("<f4").tobytes()


BAD = {
    # name: (make (body, header, raw) -> new sidecar bytes or None, pattern)
    "not an npy file": (lambda b, h, a: b"PK\x03\x04" + a.tobytes(), r"cannot be read as float32 \.npy \(no \.npy header\)"),
    "empty": (lambda b, h, a: b"", r"cannot be read as float32 \.npy \(no \.npy header\)"),
    "header cut short": (lambda b, h, a: h[:40], r"header is cut short"),
    "float64": (lambda b, h, a: _header(a.shape, "<f8") + a.astype("<f8").tobytes(), r"dtype '<f8', not little-endian"),
    "big-endian": (lambda b, h, a: _header(a.shape, ">f4") + a.astype(">f4").tobytes(), r"dtype '>f4'"),
    "Fortran order": (lambda b, h, a: _header(a.shape, fortran=True) + a.T.astype("<f4").tobytes(), r"Fortran order"),
    "shape differs from the model's": (lambda b, h, a: _header((a.shape[0] - 1, a.shape[1])) + a[:-1].tobytes(),
                                       r"has shape \(163, 39\), the model says \(164, 39\)"),
    "one-dimensional": (lambda b, h, a: _header((a.size,)) + a.tobytes(), r"has shape \(6396,\), the model says"),
    "cut short": (lambda b, h, a: h + a.tobytes()[:-100], r"cannot be read as float32 \.npy \(it ends in row 164 of 164\)"),
    "NaN": (lambda b, h, a: h + _set(a, 100, 5, np.nan), r"holds a non-finite number"),
    "inf in a zero left of a band": (lambda b, h, a: h + _set(a, 30, 2, np.inf), r"holds a non-finite number"),
    "zero on a factor's diagonal": (lambda b, h, a: h + _set(a, 45, 6, 0.0), r"mode 'mode1' prec_chol diagonal must be > 0"),
    "negative diagonal in band 2": (lambda b, h, a: h + _set(a, 30, 30, -1.0), r"mode 'mode0' prec_chol diagonal must be > 0"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("bands", [1, 2])  # 2: detectors.BANDS
def test_bad_sidecar_raises_model_error(bench_model, case, bands):
    make, pattern = BAD[case]
    body = json.load(open(bench_model))
    h, raw = _data(bench_model)
    _rewrite(bench_model, body, make(body, h, raw))
    with pytest.raises(model.ModelError, match=pattern):
        model.load(bench_model, bands=bands)


def test_npy_format_2_header_is_read(bench_model):
    body = json.load(open(bench_model))
    _, raw = _data(bench_model)
    _rewrite(bench_model, body, _header(raw.shape, version=2) + raw.tobytes())
    doc = model.load(bench_model, bands=model.BANDS)
    assert np.array_equal(doc["modes"][3]["mean"], raw[body["modes"][3]["mean"]["row"]])


REFS = {
    "mean is a matrix reference": (lambda m: m.update(mean={"rows": [160, 162]}), r"mode 'mode0' mean has shape \(2, 39\), expected \(39,\)"),
    "factor is a row reference": (lambda m: m.update(prec_chol={"row": 3}), r"mode 'mode0' prec_chol has shape \(39,\), expected \(39, 39\)"),
    "factor of too few rows": (lambda m: m.update(prec_chol={"rows": [0, 38]}), r"prec_chol has shape \(38, 39\), expected \(39, 39\)"),
    "inv_cov in the sidecar": (lambda m: (m.pop("prec_chol"), m.update(inv_cov={"rows": [0, 39]})),
                               r"mode 'mode0' inv_cov must be inline"),
    "rows outside the file": (lambda m: m.update(scale={"row": 164}), r"refers to rows outside the arrays file"),
}


@pytest.mark.parametrize("case", sorted(REFS))
def test_bad_reference_raises_model_error(bench_model, case):
    fn, pattern = REFS[case]
    body = json.load(open(bench_model))
    fn(body["modes"][0])
    _rewrite(bench_model, body)
    for bands in (1, model.BANDS):
        with pytest.raises(model.ModelError, match=pattern):
            model.load(bench_model, bands=bands)


def test_changed_sidecar_is_refused_before_it_is_read(bench_model):
    with open(_npy(bench_model), "r+b") as f:
        f.seek(300)
        f.write(b"\x00\x00\xc0\x7f")  # a NaN: the sha256 says so first
    with pytest.raises(model.ModelError, match="does not match .*sha256 differs"):
        model.load(bench_model)
