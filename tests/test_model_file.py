"""The model file: a valid one round-trips; every invalid one raises ModelError naming why.

Each case is checked through both entry points: `loads(bytes)` (whole document in memory)
and `load(path)` (the board's path: checksum streamed in chunks, then json.load).
"""

from __future__ import annotations

import copy
import json
import re

import pytest

from device import model

INF = float("inf")


def _write(tmp_path, data: bytes, name="model.json") -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def test_valid_model_round_trips(small_model, tmp_path):
    data = model.dumps(small_model)
    assert data.startswith(b'{"checksum": "sha256:')
    doc = model.loads(data)
    assert doc == json.loads(json.dumps(small_model)) | {"checksum": doc["checksum"]}
    assert model.load(_write(tmp_path, data)) == doc
    assert model.loads(data.decode()) == doc  # str is accepted too
    # a larger chunk or a tiny one gives the same verdict
    assert model.load(_write(tmp_path, data), chunk=7) == doc
    # writing what was read gives the same bytes (the checksum is a pure function of content)
    assert model.dumps(doc) == data


def test_checksum_is_sha256_of_content_with_digits_zeroed(small_model):
    import hashlib

    data = model.dumps(small_model)
    m = re.match(rb'\{"checksum": "sha256:([0-9a-f]{64})"', data)
    assert m
    zeroed = data.replace(m.group(1), b"0" * 64, 1)
    assert hashlib.sha256(zeroed).hexdigest() == m.group(1).decode()


# ---- invalid documents (re-serialised with a valid checksum, so validation must catch them)

def _mutate(doc, fn):
    d = copy.deepcopy(doc)
    fn(d)
    return d


def _m0(d):
    return d["modes"][0]


def _non_pd(d):
    n = len(_m0(d)["mean"])
    eye = [[1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    eye[0][1] = eye[1][0] = 2.0  # eigenvalues 3 and -1: symmetric, not positive definite
    _m0(d)["inv_cov"] = eye


DOC_CASES = {
    "unknown schema": (lambda d: d.update(schema="someone-elses-model"), r"unknown schema"),
    "unknown version": (lambda d: d.update(version=3), r"unsupported schema version 3"),
    "missing version": (lambda d: d.pop("version"), r"unsupported schema version None"),
    "unknown sensor": (lambda d: d.update(sensor="sonar"), r"unknown sensor 'sonar'"),
    "unknown detector": (lambda d: d.update(detector="forest"), r"unknown detector 'forest'"),
    "recipe missing": (lambda d: d.pop("features"), r"features recipe missing"),
    "recipe kind mismatch": (lambda d: d["features"].update(kind="scalar"), r"does not match sensor"),
    "window not an int": (lambda d: d["features"].update(window=1.5), r"features.window"),
    "rate zero": (lambda d: d["features"].update(rate=0), r"features.rate"),
    "no names": (lambda d: d["features"].update(names=[]), r"features.names"),
    "fa_rate out of range": (lambda d: d.update(fa_rate=1.5), r"fa_rate must be between 0 and 1"),
    "no modes": (lambda d: d.update(modes=[]), r"no modes"),
    "duplicate mode": (lambda d: d["modes"].append(copy.deepcopy(d["modes"][0])), r"duplicate mode name"),
    "mode without name": (lambda d: _m0(d).pop("name"), r"mode 0 has no name"),
    "mean too short": (lambda d: _m0(d)["mean"].pop(), r"mean has 14 values, expected 15"),
    "scale too long": (lambda d: _m0(d)["scale"].append(1.0), r"scale has 16 values, expected 15"),
    "mean not a list": (lambda d: _m0(d).update(mean=3.0), r"mean must be a list"),
    "NaN in mean": (lambda d: _m0(d)["mean"].__setitem__(3, float("nan")), r"mean\[3\] is not a finite number"),
    "inf in scale": (lambda d: _m0(d)["scale"].__setitem__(2, INF), r"scale\[2\] is not a finite number"),
    "string in mean": (lambda d: _m0(d)["mean"].__setitem__(1, "0.5"), r"mean\[1\] is not a finite number"),
    "bool in mean": (lambda d: _m0(d)["mean"].__setitem__(1, True), r"mean\[1\] is not a finite number"),
    "zero scale": (lambda d: _m0(d)["scale"].__setitem__(4, 0.0), r"scale\[4\] must be > 0"),
    "negative scale": (lambda d: _m0(d)["scale"].__setitem__(0, -1.0), r"scale\[0\] must be > 0"),
    "threshold zero": (lambda d: _m0(d).update(threshold=0.0), r"threshold must be a finite number > 0"),
    "threshold NaN": (lambda d: _m0(d).update(threshold=float("nan")), r"threshold must be a finite number > 0"),
    "inv_cov missing": (lambda d: _m0(d).pop("inv_cov"), r"needs prec_chol \(or inv_cov\)"),
    "inv_cov missing a row": (lambda d: _m0(d)["inv_cov"].pop(), r"inv_cov must be a 15x15 matrix"),
    "inv_cov short row": (lambda d: _m0(d)["inv_cov"][3].pop(), r"inv_cov row 3 has 14 values, expected 15"),
    "inv_cov NaN": (lambda d: _m0(d)["inv_cov"][2].__setitem__(5, float("nan")), r"inv_cov row 2\[5\] is not a finite"),
    "inv_cov inf": (lambda d: _m0(d)["inv_cov"][0].__setitem__(0, -INF), r"inv_cov row 0\[0\] is not a finite"),
    "inv_cov not symmetric": (lambda d: _m0(d)["inv_cov"][0].__setitem__(1, _m0(d)["inv_cov"][0][1] + 0.5),
                              r"inv_cov is not symmetric at \[0\]\[1\]"),
    "inv_cov not positive definite": (_non_pd, r"inv_cov is not positive definite"),
    "decision k > n": (lambda d: d["decision"].update(k=6, n=5), r"1 <= k <= n"),
    "decision k zero": (lambda d: d["decision"].update(k=0), r"1 <= k <= n"),
    "decision k float": (lambda d: d["decision"].update(k=2.0), r"1 <= k <= n"),
    "decision off > on": (lambda d: d["decision"].update(on=1.0, off=1.2), r"0 < off <= on"),
    "decision off zero": (lambda d: d["decision"].update(off=0.0), r"0 < off <= on"),
    "decision negative cooldown": (lambda d: d["decision"].update(cooldown=-1), r"cooldown must be an integer >= 0"),
    "decision not an object": (lambda d: d.update(decision=[3, 5]), r"decision settings must be an object"),
}


@pytest.mark.parametrize("case", sorted(DOC_CASES))
def test_invalid_document_raises_model_error(small_model, tmp_path, case):
    fn, pattern = DOC_CASES[case]
    data = model.dumps(_mutate(small_model, fn))
    with pytest.raises(model.ModelError, match=pattern):
        model.loads(data)
    with pytest.raises(model.ModelError, match=pattern):
        model.load(_write(tmp_path, data))
    with pytest.raises(model.ModelError, match=pattern):
        model.validate(json.loads(data))


# ---- invalid files (bytes that are not a correctly checksummed document) -------------

def _edit_digit(data: bytes) -> bytes:
    """Change one digit of a number well after the checksum (the file still parses)."""
    i = data.index(b'"threshold": ') + len(b'"threshold": ')
    while not data[i:i + 1].isdigit() or data[i:i + 1] == b"9":
        i += 1
    return data[:i] + bytes([data[i] + 1]) + data[i + 1:]


def _edit_checksum(data: bytes) -> bytes:
    i = data.index(b"sha256:") + len(b"sha256:")
    c = b"0" if data[i:i + 1] != b"0" else b"1"
    return data[:i] + c + data[i + 1:]


FILE_CASES = {
    # name: (make bytes from a valid file, pattern for loads, pattern for load)
    "empty file": (lambda b: b"", r"model file is empty", r"model file is empty"),
    "truncated JSON": (lambda b: b[:len(b) // 2], r"not valid JSON \(truncated\?\)",
                       r"checksum mismatch .*cut short"),
    "truncated in the checksum": (lambda b: b[:40], r"checksum truncated", r"checksum truncated"),
    "missing checksum": (lambda b: json.dumps({k: v for k, v in json.loads(b).items() if k != "checksum"}).encode(),
                         r"checksum missing", r"checksum missing"),
    "checksum not first": (lambda b: json.dumps(dict(list(json.loads(b).items())[1:] + [("checksum", json.loads(b)["checksum"])])).encode(),
                           r"checksum missing", r"checksum missing"),
    "one digit edited": (_edit_digit, r"checksum mismatch", r"checksum mismatch"),
    "checksum edited": (_edit_checksum, r"checksum mismatch", r"checksum mismatch"),
    "appended garbage": (lambda b: b + b"\n{}", r"checksum mismatch|not valid JSON", r"checksum mismatch"),
    "not JSON at all": (lambda b: b"\x00\x01binary junk" * 20, r"checksum missing", r"checksum missing"),
}


@pytest.mark.parametrize("case", sorted(FILE_CASES))
def test_invalid_file_raises_model_error(small_model, tmp_path, case):
    make, pat_loads, pat_load = FILE_CASES[case]
    data = make(model.dumps(small_model))
    with pytest.raises(model.ModelError, match=pat_loads):
        model.loads(data)
    with pytest.raises(model.ModelError, match=pat_load):
        model.load(_write(tmp_path, data))


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope" / "model.json")
    with pytest.raises(model.ModelError, match=r"model file not found: .*nope/model.json"):
        model.load(path)


def test_model_error_is_a_value_error():
    assert issubclass(model.ModelError, ValueError)
