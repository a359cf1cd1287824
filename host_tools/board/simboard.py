"""A simulated board on a serial port, to try `collect` and `monitor` without hardware.

    python -m host_tools.board.simboard --port /tmp/simboard record --data data/ceiling-fan/fan_0_low_0_weight
    python -m host_tools.board.simboard --port /tmp/simboard run --model model.json --data DIR...

It makes a pseudo-terminal pair with socat (`/tmp/simboard` is the end you give `--port`;
the board writes to the other, `/tmp/simboard.board`) and plays the board on it:

- `record`: what a board prints with `RECORD = "serial"` (its own device.recorder
  SerialRecorder), from the windows of recordings, looping over them;
- `run`: the application's console (device.app over the recordings with the model, one
  heartbeat per window), as `monitor` reads it from a board.

It runs until --seconds have passed or it is stopped (Ctrl-C, SIGTERM), then removes the
port. The board's REPL (push or doctor over --port) is not simulated: use --drive with a
folder for those (docs/tutorial.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Iterator

import numpy as np

from host_tools.data import datasets
from host_tools.data.datasets import DataError


def recording_lines(paths: list[str], window: int, rate: float) -> Iterator[bytes]:
    """The board's recording-mode output for the windows of `paths`, looping forever."""
    from device import recorder

    wins: list[np.ndarray] = []
    for p in paths:
        for f in datasets.list_csv(p):
            samples = datasets.read_recording(f, "accel").astype(np.float32)
            wins.extend(np.asarray(w, dtype=np.float32) for w in datasets.cut_windows(samples, window, f))
    if not wins:
        raise DataError(f"{' '.join(paths)}: no complete {window}-sample windows to play")

    class Sensor:
        rate_measured = rate

    clock = [0]

    def ticks() -> int:
        clock[0] += int(1000 * window / rate)
        return clock[0]

    lines: list[str] = []
    rec = recorder.SerialRecorder("accel", lines.append, Sensor(), ticks)
    yield b'{"type": "status", "state": "boot", "sensor": "msa301", "device": "simboard", "seq": 1}\n'
    i = 0
    while True:
        del lines[:]
        rec.record(wins[i % len(wins)])
        i += 1
        yield ("\n".join(lines) + "\n").encode()


def console_lines(model: str, paths: list[str], commission: int) -> Iterator[bytes]:
    """The application's console over the recordings (`simulate --heartbeat 1`: every
    window's heartbeat, events, alert changes), looping."""
    r = subprocess.run([sys.executable, "-m", "host_tools", "simulate", "--model", model, "--heartbeat", "1",
                        "--commission", str(commission), "--data", *paths], capture_output=True, text=True)
    if r.returncode != 0:
        raise DataError((r.stderr.strip().splitlines() or ["simulate failed"])[-1].removeprefix("error: "))
    chunk = r.stdout.encode()
    while True:
        for line in chunk.splitlines(keepends=True):
            yield line


def write_all(fd: int, data: bytes, stop: threading.Event) -> bool:
    """Write to a non-blocking pty end; gives up (False) once `stop` is set, so a writer
    never hangs on a reader that has finished and closed its end."""
    view = memoryview(data)
    while view:
        if stop.is_set():
            return False
        try:
            n = os.write(fd, view[:4096])
        except BlockingIOError:
            stop.wait(0.01)  # nobody reading: the pty is full, wait as a UART would
            continue
        except OSError:
            return False
        view = view[n:]
    return True


def serve(port: str, lines: Iterator[bytes], seconds: float, pace: float, background: bool = False) -> int:
    socat = shutil.which("socat")
    if socat is None:
        raise DataError("the simulated board needs socat (apt-get install socat; brew install socat)")
    board = port + ".board"
    for p in (port, board):
        if os.path.lexists(p):
            if not os.path.islink(p):
                raise DataError(f"--port {port}: {p} exists and is not a link this tool made")
            os.unlink(p)
    # socat holds none of our streams: a caller capturing our output must see it end
    proc = subprocess.Popen([socat, f"PTY,link={board},raw,echo=0", f"PTY,link={port},raw,echo=0"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        end = time.monotonic() + 10
        while not (os.path.exists(board) and os.path.exists(port)):
            if proc.poll() is not None or time.monotonic() > end:
                raise DataError(f"--port {port}: socat did not make the port (can {os.path.dirname(port) or '.'} "
                                f"be written?)")
            time.sleep(0.05)
        fd = os.open(board, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
        if background:  # the port exists now: hand the terminal back, keep playing
            pid = os.fork()
            if pid:
                with open(port + ".pid", "w", encoding="utf-8") as f:
                    f.write(str(pid))
                print(f"simulated board on {port} (process {pid}; stop it with "
                      f"python -m host_tools.board.simboard --port {port} --stop)", flush=True)
                os._exit(0)
            os.setsid()
            null = os.open(os.devnull, os.O_RDWR)
            for k in (0, 1, 2):
                os.dup2(null, k)
        else:
            print(f"simulated board on {port} (stop with Ctrl-C)", flush=True)
        deadline = time.monotonic() + seconds if seconds else None
        try:
            for data in lines:
                if stop.is_set() or (deadline is not None and time.monotonic() > deadline):
                    break
                if not write_all(fd, data, stop):
                    break
                if pace:
                    stop.wait(pace)
        except KeyboardInterrupt:
            pass
        finally:
            os.close(fd)
    finally:
        _end(proc.pid)
        for p in (port, board, port + ".pid"):
            with contextlib.suppress(OSError):
                if os.path.islink(p) or p.endswith(".pid"):
                    os.unlink(p)
    return 0


def _end(pid: int) -> None:
    """Stop socat by its pid (in the background this process did not start it, so its
    Popen cannot signal or wait for it) and wait, bounded, until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + 10
    while time.monotonic() < end:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def stop(port: str) -> int:
    """Stop the background board playing on `port` (its pid file), waiting until it is gone."""
    try:
        pid = int(open(port + ".pid", encoding="utf-8").read().strip())
    except (OSError, ValueError):
        raise DataError(f"--port {port}: no simulated board is playing there (no {port}.pid)") from None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + 15
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        raise DataError(f"process {pid} did not stop")
    print(f"stopped the simulated board on {port}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m host_tools.board.simboard", description=__doc__,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--port", required=True, metavar="PATH",
                   help="the serial port to make (a link to a pseudo-terminal), e.g. /tmp/simboard")
    p.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0 = until stopped)")
    p.add_argument("--background", action="store_true",
                   help="return once the port exists and keep playing in the background")
    p.add_argument("--stop", action="store_true", help="stop the simulated board playing on --port")
    sub = p.add_subparsers(dest="mode", required=False)
    r = sub.add_parser("record", help="play a board in RECORD = \"serial\" mode (for collect)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    r.add_argument("--data", nargs="+", required=True, metavar="DIR", help="recordings whose windows it streams")
    r.add_argument("--window", type=int, default=200, help="samples per window")
    r.add_argument("--rate", type=float, default=200.0, help="sample rate in Hz")
    r.add_argument("--pace", type=float, default=0.0, help="seconds between windows (0 = as fast as read)")
    u = sub.add_parser("run", help="play a board running a model (for monitor)", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    u.add_argument("--model", required=True, metavar="FILE", help="the model the board runs")
    u.add_argument("--data", nargs="+", required=True, metavar="DIR", help="recordings it senses, in order")
    u.add_argument("--commission", type=int, default=0, metavar="N", help="commission on the first N windows")
    u.add_argument("--pace", type=float, default=0.02, help="seconds between console lines")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        a = build_parser().parse_args(argv)
        if a.stop:
            return stop(a.port)
        if a.mode is None:
            raise DataError("say what the board does: record or run (see --help)")
        if a.mode == "record":
            lines = recording_lines(a.data, a.window, a.rate)
        else:
            lines = console_lines(a.model, a.data, a.commission)
        first = next(lines)  # bad input fails here, before the port exists

        def chained() -> Iterator[bytes]:
            yield first
            yield from lines

        return serve(a.port, chained(), a.seconds, a.pace, a.background)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
