"""The programs host_tools sends to a board's REPL run on CircuitPython's hashlib (only new(),
sha256 from 10.1; tests/fakes/cp_hashlib.py) as well as on MicroPython's (a sha256 class).

Before: HASH_SNIPPET called hashlib.sha256(), which CircuitPython does not have, so
deploy --port and doctor --port stopped with an AttributeError on every real board."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import sys
import types

import pytest

from board_harness import FAKES
from host_tools.board.connection import HASH_SNIPPET, MARK

sys.path.insert(0, FAKES)
try:
    import cp_hashlib  # the fakes folder also holds board-module stand-ins: not left on the path
finally:
    sys.path.remove(FAKES)


def run_snippet(tmp_path, hashlib_module) -> tuple[dict, dict]:
    (tmp_path / "a.txt").write_bytes(b"x" * 1500)
    (tmp_path / "d").mkdir()
    code = HASH_SNIPPET % {"names": [str(tmp_path / "a.txt"), str(tmp_path / "gone.txt")],
                           "dirs": [str(tmp_path / "d"), str(tmp_path / "nodir")]}
    saved = sys.modules.get("hashlib")
    sys.modules["hashlib"] = hashlib_module
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<board>", "exec"), {})
    finally:
        sys.modules["hashlib"] = saved
    line = [ln for ln in out.getvalue().splitlines() if ln.startswith(MARK)][-1]
    files, dirs = ast.literal_eval(line[len(MARK):])
    return ({k.rsplit("/", 1)[-1]: v for k, v in files.items()}, {k.rsplit("/", 1)[-1]: v for k, v in dirs.items()})


def micropython_hashlib() -> types.ModuleType:
    m = types.ModuleType("hashlib")
    m.sha256 = hashlib.sha256  # MicroPython: a class, no new()
    return m


@pytest.mark.parametrize("make", [lambda: cp_hashlib.module("10.1.0"), lambda: cp_hashlib.module("10.2.1"),
                                  micropython_hashlib], ids=["circuitpython-10.1", "circuitpython-10.2", "micropython"])
def test_hash_snippet_hashes_with_the_boards_hashlib(tmp_path, make):
    files, dirs = run_snippet(tmp_path, make())
    assert files == {"a.txt": hashlib.sha256(b"x" * 1500).hexdigest(), "gone.txt": None}
    assert dirs == {"d": [], "nodir": None}


def test_hash_snippet_on_a_core_without_sha256_says_unknown(tmp_path):
    files, _ = run_snippet(tmp_path, cp_hashlib.module("9.2.8"))
    assert files == {"a.txt": "?", "gone.txt": None}  # deploy then copies the file again
