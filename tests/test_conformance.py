"""CI runs the conformance check (tests/cp_conformance.py): the board code against
CircuitPython's published stubs. It failed on the code before issue 15 (payloads.py's
hashlib.sha256, which no CircuitPython has)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cp_conformance  # noqa: E402

pytest.importorskip("mypy")


def test_board_code_conforms_to_circuitpython_stubs():
    attrs, calls, findings, allowed = cp_conformance.run()
    print("conformance: %d module attribute uses, %d calls checked; %d stub gaps allowed" % (attrs, calls, len(allowed)))
    assert attrs > 50 and calls > 1000
    assert findings == []


def test_the_check_sees_circuitpython_hashlib(tmp_path):
    """hashlib resolves to CircuitPython's stub (only new()), not CPython's."""
    d = cp_conformance.stubs_dir()
    try:
        src = tmp_path / "t.py"
        src.write_text("import hashlib\nimport os\nimport time\nhashlib.sha256(b'')\nos.replace('a', 'b')\n"
                       "time.perf_counter()\nhashlib.new('sha256')\nos.getenv('X')\ntime.monotonic()\n")
        r = cp_conformance._mypy(str(tmp_path), ["t.py"], d)
    finally:
        import shutil

        shutil.rmtree(d, ignore_errors=True)
    errs = [ln for ln in r.stdout.splitlines() if "error" in ln]
    assert [int(ln.split(":")[1]) for ln in errs] == [4, 5, 6], r.stdout
