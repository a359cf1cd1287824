"""SerialBoard against a REPL that does not take the first commands (a busy board, or the
MicroPython unix port flushing input while it switches terminal mode): mpremote is tried
again with back-off until the deadline, and then says what it saw. The stand-in mpremote
is a script that fails its first N runs the way mpremote does."""

from __future__ import annotations

import os
import stat
import sys
import time

import pytest

from host_tools.board import connection as board_mod

FAKE = r'''#!%(python)s
import os, sys
count = %(count)r
n = int(open(count).read()) if os.path.exists(count) else 0
open(count, "w").write(str(n + 1))
if n < %(fail)d:
    sys.stderr.write("mpremote: %(message)s\n")
    sys.exit(1)
print("CPA:ok")
'''


def _fake(tmp_path, fail: int, message: str = "could not enter raw repl") -> tuple[str, str]:
    count = str(tmp_path / "count")
    exe = tmp_path / "mpremote"
    exe.write_text(FAKE % {"python": sys.executable, "count": count, "fail": fail, "message": message})
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    port = tmp_path / "ttyACM0"
    port.write_text("")
    return str(exe), str(port)


def _runs(tmp_path) -> int:
    return int(open(tmp_path / "count").read())


@pytest.mark.parametrize("message", ["could not enter raw repl", "could not complete raw paste: b''"])
def test_a_repl_that_does_not_take_the_command_is_tried_again(tmp_path, message):
    exe, port = _fake(tmp_path, 3, message)
    b = board_mod.SerialBoard(port, resume=True, mpremote=exe, timeout=120)
    assert b.exec("print('CPA:ok')") == ["ok"]
    assert _runs(tmp_path) == 4


def test_the_tries_stop_at_the_deadline(tmp_path):
    exe, port = _fake(tmp_path, 10**6)
    b = board_mod.SerialBoard(port, resume=True, mpremote=exe, timeout=10)
    t0 = time.monotonic()
    with pytest.raises(board_mod.BoardError, match=r"is not a board's REPL \(mpremote: could not enter raw repl; "
                                                   r"\d+ tries in 10 s\)"):
        b.exec("print('CPA:ok')")
    assert time.monotonic() - t0 < 10 + 60  # bounded (generous: each try starts a Python under load)
    assert 2 <= _runs(tmp_path)


def test_other_failures_are_not_retried(tmp_path):
    exe, port = _fake(tmp_path, 1, "failed to access " + os.devnull)
    b = board_mod.SerialBoard(port, resume=True, mpremote=exe, timeout=120)
    with pytest.raises(board_mod.BoardError, match="cannot be opened"):
        b.exec("print('CPA:ok')")
    assert _runs(tmp_path) == 1


GARBLED = r'''#!%(python)s
import os, sys
count = %(count)r
n = int(open(count).read()) if os.path.exists(count) else 0
open(count, "w").write(str(n + 1))
print("CA:('micopython', '1.2" if n == 0 else "CPA:('micropython', '1.29.0')")
'''


def test_a_garbled_reply_is_asked_again_but_a_commit_is_not(tmp_path):
    exe, port = _fake(tmp_path, 0)
    exe_path = tmp_path / "mpremote"
    exe_path.write_text(GARBLED % {"python": sys.executable, "count": str(tmp_path / "count")})
    b = board_mod.SerialBoard(port, resume=True, mpremote=exe, timeout=120)
    assert b.exec("print(1)", literal=True) == ["('micropython', '1.29.0')"]
    assert _runs(tmp_path) == 2
    os.remove(tmp_path / "count")
    with pytest.raises(board_mod.BoardError, match="did not run the check"):
        b.exec("commit", again=False)
    assert _runs(tmp_path) == 1
