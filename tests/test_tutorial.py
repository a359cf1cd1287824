"""docs/tutorial.md, walked end to end: every command in its ```sh blocks runs (through the
installed `cpy-anomaly` console script) against a simulated board:

- the serial port ($PORT) is one end of a socat pty pair; a thread plays the board on the
  other end: in recording mode its own SerialRecorder streams windows of a bundled fan
  recording (a different speed for each `collect --label`), in run mode the console of the
  real App (`simulate --heartbeat 1`) with the trained model;
- the drive ($D) is a CIRCUITPY folder with a CircuitPython boot_out.txt;
- commands that talk to the board's REPL (`push/doctor --port`) go to the MicroPython unix
  port on its own pty through mpremote (with --no-reset, which that REPL needs).
Set TUTORIAL_TRANSCRIPT=path to keep the transcript."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading

from conftest import ROOT, fan, venv_tool
from flow_peers import (fan_windows, make_drive, micropython_board, needs_board, open_board_end, pty_pair,
                        write_all)

TUTORIAL = os.path.join(ROOT, "docs", "tutorial.md")
LABELS = {"low": "fan_0_low_0_weight", "med": "fan_0_med_0_weight", "high": "fan_0_high_0_weight"}


def sh_blocks(path: str, board: bool = True) -> list[str]:
    """The page's ```sh blocks; board=True: those for a (simulated) board on $PORT/$D,
    without the ones that start their own simulated board (host_tools.board.simboard; they run
    whole, in tests/test_docs.py)."""
    text = open(path, encoding="utf-8").read()
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [b for b in blocks if "host_tools.board.simboard" not in b] if board else blocks


def commands(block: str) -> list[str]:
    """Shell commands of a block (continuation lines joined; setup lines the test provides dropped)."""
    out: list[str] = []
    for ln in block.replace("\\\n", " ").splitlines():
        cmd = ln.split("  #")[0].strip()
        if cmd and not cmd.startswith(("pip install", "export ", "#")):
            out.append(cmd)
    return out


class SimBoard(threading.Thread):
    """Plays the board on one end of the pty pair; `feed` says what it prints."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.feed = None  # callable -> bytes for the next chunk, or None (silent)

    def run(self) -> None:
        fd = open_board_end(self.path)
        try:
            while not self.stop.is_set():
                f = self.feed
                if f is None:
                    self.stop.wait(0.05)
                    continue
                if not write_all(fd, f(), self.stop):
                    return
        finally:
            os.close(fd)


def recording(folder: str):
    from device import recorder

    wins = fan_windows(100, folder)
    lines: list[str] = []
    clock = [0]

    def ticks() -> int:
        clock[0] += 1000
        return clock[0]

    class Sensor:
        rate_measured = 200.0

    rec = recorder.SerialRecorder("accel", lines.append, Sensor(), ticks)
    i = [0]

    def chunk() -> bytes:
        del lines[:]
        for _ in range(5):
            rec.record(wins[i[0] % len(wins)])
            i[0] += 1
        return ("\n".join(lines) + "\n").encode()

    return chunk


def drain(port: str) -> None:
    import serial

    with serial.Serial(port, timeout=0.2) as s:
        while s.read(65536):
            pass


@needs_board
def test_tutorial_end_to_end(tmp_path):
    exe = venv_tool("cpy-anomaly")
    assert exe is not None, "pip install . must give the cpy-anomaly command"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["PATH"] = os.path.dirname(exe) + os.pathsep + env.get("PATH", "")
    work = tmp_path / "work"
    work.mkdir()
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    env["D"] = drive
    transcript: list[str] = []
    blocks = sh_blocks(TUTORIAL)
    assert len(blocks) >= 6
    boardfs = str(tmp_path / "boardfs")
    with pty_pair(str(tmp_path / "board"), str(tmp_path / "port")) as (board_end, port), \
            micropython_board(boardfs, str(tmp_path / "repl")) as repl:
        env["PORT"] = port
        sim = SimBoard(board_end)
        sim.start()

        def run(cmd: str) -> subprocess.CompletedProcess:
            if re.match(r"cpy-anomaly (push|doctor|deploy) .*--port", cmd):
                cmd = cmd.replace('--port "$PORT"', f'--port "{repl}" --no-reset')
            sim.feed = None
            drain(port)  # what the board printed while nobody listened (the user switching the fan)
            m = re.search(r"collect .*--label (\w+)", cmd)
            sim.feed = recording(LABELS[m.group(1)]) if m else None
            if cmd.startswith("cpy-anomaly monitor"):
                sim.feed = lambda: console
            if cmd.startswith("cpy-anomaly doctor"):
                for lib in (os.path.join(drive, "lib"), os.path.join(boardfs, "lib")):  # as circup would
                    os.makedirs(lib, exist_ok=True)
                    for n in ("adafruit_msa3xx.mpy", "adafruit_mlx90640.mpy", "neopixel.mpy"):
                        open(os.path.join(lib, n), "wb").write(b"C")
                    for n in ("adafruit_bus_device", "adafruit_register"):
                        os.makedirs(os.path.join(lib, n), exist_ok=True)
            r = subprocess.run(["bash", "-c", cmd], cwd=work, env=env, capture_output=True, text=True, timeout=300)
            sim.feed = None
            out = re.sub(r"[^\n]*\r", "", r.stderr)  # keep the last state of the live count
            transcript.append(f"$ {cmd}\n{r.stdout}{out}[exit {r.returncode}]\n")
            return r

        console = b""
        results: dict[str, subprocess.CompletedProcess] = {}
        try:
            # the REPL board gets the application the way a user would (deploy over mpremote)
            for block in blocks:
                for cmd in commands(block):
                    if cmd.startswith("cpy-anomaly monitor"):
                        sim_out = subprocess.run(
                            [sys.executable, "-m", "host_tools", "simulate", "--model", str(work / "model.json"),
                             "--heartbeat", "1", "--commission", "30",
                             # installed at medium speed (commissioning refuses a coin
                             # already on the blade), then the coin at high speed
                             "--data", fan("fan_0_med_0_weight"), fan("fan_0_high_1_weight")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
                        console = sim_out.stdout.encode()
                    if "--port" in cmd and not os.path.exists(os.path.join(boardfs, "device")):
                        assert run('cpy-anomaly deploy --port "$PORT"').returncode == 0, transcript[-1]
                    r = run(cmd)
                    results[cmd] = r
                    assert r.returncode == 0, transcript[-1]
        finally:
            sim.stop.set()
            sim.join()
            path = os.environ.get("TUTORIAL_TRANSCRIPT")
            if path:
                open(path, "w").write("\n".join(transcript))
    text = "\n".join(transcript)
    # collect -> session folders in the training format
    for label in ("low", "med", "high"):
        folder = work / "data" / "my-fan" / f"{label}_1"
        assert len([f for f in os.listdir(folder) if f.endswith(".csv")]) == 100
        assert '"label": "%s"' % label in (folder / "session.json").read_text()
    assert "wrote 100 window(s) to data/my-fan/low_1 (accel, 200x3, 200.0 Hz)" in text
    # train -> report
    assert (work / "model.json").exists() and (work / "out" / "report" / "report.html").exists()
    # push: drive and board-checked, same checksum as the local model
    from host_tools.board import connection as board_mod

    want = board_mod.model_checksum(str(work / "model.json"))[:16]
    assert text.count(f"checksum {want}... matches") >= 2
    assert "verified by read back from the drive" in text and "verified by the board's device/model.py" in text
    assert open(work / "model.json", "rb").read() == open(os.path.join(drive, "model.json"), "rb").read()
    assert open(work / "model.json", "rb").read() == open(os.path.join(boardfs, "model.json"), "rb").read()
    # doctor: healthy on both paths
    assert text.count("doctor: 0 problem(s)") == 2 and f"matches model.json" in text
    # monitor: lines with score bars, the anomaly seen, the plot written
    assert re.search(r"\n\s+\d+  (normal|anomaly)\s+\S+\s+\d+\.\d{3} \[[#.|]+[\]>]", text)
    assert "ANOMALY" in text and (work / "scores.png").read_bytes()[:4] == b"\x89PNG"
    assert "commissioned" in text
    for label in ("low", "med", "high"):  # a session holds only its own windows, no garbage
        assert re.search(r"data/my-fan/%s_1 .*skipped 0 garbage line\(s\)" % label, text)


def test_every_workflow_command_has_help_with_an_example(capsys):
    from host_tools.cli import main as cli

    for cmd in ("collect", "push", "deploy", "doctor", "monitor"):
        try:
            code = cli.main([cmd, "--help"])
        except SystemExit as e:  # argparse's own exit, where cli.main lets it through
            code = e.code
        out = capsys.readouterr().out
        assert code == 0 and "example:\n  cpy-anomaly " + cmd in out and "options:" in out
    r = subprocess.run([sys.executable, "-m", "host_tools", "push", "--help"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "--drive DIR" in r.stdout and "--port PORT" in r.stdout
