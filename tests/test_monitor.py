"""monitor: the board console (JSON payloads from the real App, via `simulate`) -> one line
per window with a score bar against the alarm line, events, and a PNG plot on exit.
Peer: a socat pty pair carrying the app's console."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from conftest import ROOT, fan
from flow_peers import needs_socat, open_board_end, pty_pair, write_all
from host_tools.cli import main as cli
from host_tools.board import monitor


def test_bar_marks_the_alarm_line():
    assert monitor.bar(0.5) == "[" + "#" * 8 + "." * 7 + "|" + "." * 14 + "]"
    assert monitor.bar(1.5) == "[" + "#" * 22 + "." * 8 + "]"  # past the line: filled through it
    assert monitor.bar(0.0) == "[" + "." * 15 + "|" + "." * 14 + "]"
    assert monitor.bar(7.0).endswith(">") and monitor.bar(7.0).count("#") == 30


def test_view_lines():
    out: list[str] = []
    m = monitor.Monitor(out.append)
    feed = [
        '{"type": "status", "state": "boot", "boots": 3, "sensor": "msa301", "device": "fan-1", "seq": 1, "t": 0.1}',
        "#W,1,accel,200,3,200.00,0", "0.1,0.2,0.3",  # recording lines: not shown
        '{"type": "window", "window": 1, "state": "commissioning", "device": "fan-1", "seq": 2, "t": 1}',
        '{"type": "window", "window": 2, "state": "normal", "mode": "low", "score": 0.5, "anomaly": false}',
        '{"type": "event", "event": "anomaly_start", "window": 3, "mode": "low", "score": 2.5, "top": [["rms_x", 9.1]]}',
        '{"type": "heartbeat", "state": "anomaly", "windows": 4, "mode": "low", "score": 1.7, "anomaly": true}',
        '{"type": "event", "event": "anomaly_end", "window": 9, "mode": "low", "score": 0.6}',
        "# sensor error: OSError: [Errno 19] (retrying)",
        '{"broken',
    ]
    for ln in feed:
        m.feed(ln)
    assert out[0].startswith("-- boot ") and '"sensor": "msa301"' in out[0]
    assert out[1] == "      1  commissioning (no score: commissioning)"
    assert out[2] == "      2  normal        low                   0.500 " + monitor.bar(0.5)
    assert out[3] == "!! ANOMALY at window 3: mode low, score 2.5 (most off: rms_x 9.1)"
    assert out[4].endswith(monitor.bar(1.7) + " ANOMALY")
    assert out[5] == "-- anomaly over at window 9 (score 0.6)"
    assert out[6].startswith("# sensor error")
    assert len(out) == 7 and m.spans == [[3, 9]] and m.scored == 2


def test_anomaly_against_normal_and_a_cold_spot():
    """A board that sends `values` is explained against normal, in the dashboard's words."""
    out = []
    m = monitor.Monitor(out.append)
    m.feed(json.dumps({"type": "event", "event": "anomaly_start", "window": 3, "mode": "low", "score": 2.5,
                       "top": [["energy_88-95Hz", 40.0], ["rms_x", 9.1]],
                       "values": [[-2.1, -5.05, 0.4], [-1.0, -1.5, 0.1]]}))
    assert out[0] == ("!! ANOMALY at window 3: mode low, score 2.5 (most off: vibration energy in 88–95 Hz is "
                      "19× normal; vibration level on the x axis is 1.6× normal)")
    m.feed(json.dumps({"type": "event", "event": "anomaly_start", "window": 5, "mode": "boiler", "score": 3.0,
                       "top": [["min_z", 40.0]], "values": [[-32.3, -2.0, 1.5]],
                       "hotspot": {"row": 7.5, "col": 26.7, "area": 19, "excess": -23.8, "kind": "cold"}}))
    assert out[1].endswith("(most off: the pixel furthest below its baseline is 20.2 standard deviations below "
                           "normal; A cold spot at row 7.5, column 26.7 (19 pixels): 23.8 °C below normal)")


def test_plot(tmp_path):
    m = monitor.Monitor(lambda s: None)
    for i in range(1, 30):
        m.feed(json.dumps({"type": "window", "window": i, "state": "normal", "mode": "a", "score": 0.3 + (i > 20)}))
    m.feed('{"type": "event", "event": "anomaly_start", "window": 21, "score": 1.3}')
    p = tmp_path / "s.png"
    m.plot(str(p))
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


@pytest.mark.parametrize("args,msg", [
    ([], "give one input"),
    (["--port", "/dev/ttyNOPE7"], "no such serial port"),
    (["--from", "missing.txt"], "no such capture file"),
    (["--from", "-", "--plot", "/nonexistent/dir/x.png"], "does not exist"),
])
def test_monitor_bad_input(capsys, args, msg):
    rc = cli.main(["monitor"] + args)
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and msg in err and err.count("\n") == 1


def simulated_console(model: str, *folders: str) -> str:
    """The board App's console output over recordings (one heartbeat per window)."""
    r = subprocess.run([sys.executable, "-m", "host_tools", "simulate", "--model", model, "--heartbeat", "1",
                        "--data", *folders], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stdout


@needs_socat
def test_monitor_over_a_pty_with_plot(tmp_path, capsys, fan_model_path):
    console = simulated_console(fan_model_path, fan("fan_0_low_1_weight"), fan("fan_0_high_0_weight"))
    n = sum(1 for ln in console.splitlines() if '"type": "heartbeat"' in ln)
    with pty_pair(str(tmp_path / "board"), str(tmp_path / "host")) as (b, h):
        stop = threading.Event()

        def board() -> None:
            fd = open_board_end(b)
            while not stop.is_set():  # until the monitor has seen it all (it opens the port when it likes)
                write_all(fd, console.encode(), stop)
                stop.wait(0.2)
            os.close(fd)

        t = threading.Thread(target=board, daemon=True)
        t.start()
        png = tmp_path / "scores.png"
        rc = cli.main(["monitor", "--port", h, "--windows", str(n), "--duration", "120", "--plot", str(png)])
        stop.set()
        t.join()
    out = capsys.readouterr().out
    assert rc == 0
    assert "!! ANOMALY at window" in out  # the high-speed recordings are off the low/med model
    assert f"monitor: {n} scored window(s)" in out
    assert png.read_bytes()[:4] == b"\x89PNG"
