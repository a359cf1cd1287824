"""doctor: firmware, board, heap, libraries, the model (and whether it is the local one),
the last status (state files written by the board's own persist code; the console of a
running app). Peers: a CIRCUITPY folder, the MicroPython REPL over mpremote, a pty pair
carrying a running app's console."""

from __future__ import annotations

import glob
import os
import threading

from device import model as model_mod
from device import persist
from device.fileslots import FileSlots
from flow_peers import make_drive, micropython_board, needs_board, needs_socat, open_board_end, pty_pair, write_all
from host_tools.board import connection as board_mod
from host_tools.board import doctor as doctor_mod
from host_tools.cli import main as cli
from conftest import ROOT


def run_cli(capsys, *args):
    rc = cli.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def healthy_drive(tmp_path, capsys, model) -> str:
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    assert cli.main(["deploy", "--drive", drive, "--model", model]) == 0
    capsys.readouterr()
    lib = os.path.join(drive, "lib")
    os.makedirs(os.path.join(lib, "adafruit_bus_device"))
    os.makedirs(os.path.join(lib, "adafruit_register"))
    for n in ("adafruit_msa3xx.mpy", "adafruit_mlx90640.mpy", "neopixel.mpy"):
        open(os.path.join(lib, n), "wb").write(b"C\x06")
    return drive


def test_doctor_healthy_drive(tmp_path, capsys, fan_model_path):
    drive = healthy_drive(tmp_path, capsys, fan_model_path)
    rc, out, err = run_cli(capsys, "doctor", "--drive", drive, "--model", fan_model_path)
    assert rc == 0, out + err
    want = board_mod.model_checksum(fan_model_path)
    assert "board:      Adafruit Feather ESP32-S3 No PSRAM with ESP32S3 [adafruit_feather_esp32s3_nopsram]" in out
    assert "firmware:   CircuitPython 9.2.1" in out
    assert "free heap:  not readable over the drive" in out
    assert "libraries:  present adafruit_msa3xx, adafruit_mlx90640, neopixel, adafruit_bus_device, adafruit_register" in out
    assert f"model:      model.json valid, checksum {want[:16]}...; matches {fan_model_path}" in out
    assert "doctor: 0 problem(s)" in out


def test_doctor_finds_problems(tmp_path, capsys, fan_model_path, small_model):
    drive = healthy_drive(tmp_path, capsys, fan_model_path)
    other = tmp_path / "other.json"
    other.write_bytes(model_mod.dumps(small_model))
    os.remove(os.path.join(drive, "lib", "neopixel.mpy"))
    os.remove(os.path.join(drive, "device", "features.py"))
    rc, out, err = run_cli(capsys, "doctor", "--drive", drive, "--model", str(other))
    assert rc == 1
    assert "MISSING device/features.py (run deploy)" in out
    assert "MISSING neopixel" in out
    assert f"DIFFERS from {other}" in out and "push it" in out
    assert "doctor: 3 problem(s)" in out
    data = bytearray(open(os.path.join(drive, "model.json"), "rb").read())
    data[-50] ^= 1
    open(os.path.join(drive, "model.json"), "wb").write(bytes(data))
    rc, out, err = run_cli(capsys, "doctor", "--drive", drive)
    assert rc == 1 and "model:      model.json not usable:" in out and "checksum mismatch" in out


def test_doctor_reads_the_state_the_board_saved(tmp_path, capsys, fan_model_path):
    drive = healthy_drive(tmp_path, capsys, fan_model_path)
    store = persist.Store(FileSlots(os.path.join(drive, "state")))  # the board's own writer
    counters = {"boots": 7, "windows": 12345, "anomalies": 2, "faults": 1, "errors": 3, "seq": 99}
    assert store.save({"model": "3c8dbd4653a8205b", "key": 1, "counters": counters, "modes": []})
    counters["windows"] = 12400
    assert store.save({"model": "3c8dbd4653a8205b", "key": 1, "counters": counters, "modes": []})
    rc, out, err = run_cli(capsys, "doctor", "--drive", drive)
    assert "last status: saved state: model 3c8dbd4653a8205b, boots 7, windows 12400, anomalies 2, faults 1" in out


def test_doctor_not_a_drive(tmp_path, capsys):
    rc, out, err = run_cli(capsys, "doctor", "--drive", str(tmp_path))
    assert rc == 2 and "is not a CIRCUITPY drive" in err
    rc, out, err = run_cli(capsys, "doctor", "--drive", str(tmp_path), "--listen", "3")
    assert rc == 2 and "--listen reads the serial console: give --port too" in err


@needs_board
def test_doctor_over_mpremote(tmp_path, capsys, fan_model_path):
    fs = str(tmp_path / "boardfs")
    with micropython_board(fs, str(tmp_path / "tty")) as tty:
        assert cli.main(["deploy", "--port", tty, "--no-reset", "--model", fan_model_path]) == 0
        capsys.readouterr()
        rc, out, err = run_cli(capsys, "doctor", "--port", tty, "--no-reset", "--model", fan_model_path)
    assert "firmware:   MicroPython 1." in out
    free = int(out.split("free heap:  ")[1].split()[0])
    assert free > 100_000  # gc.mem_free() as the interpreter reported it
    assert "filesystem: writable by code on the board" in out
    n = len(glob.glob(os.path.join(ROOT, "device", "*.py")))  # all compiled but __init__
    assert f"device/ ({n} modules, {n - 1} as .mpy)" in out
    assert f"matches {fan_model_path}" in out
    assert "MISSING adafruit_msa3xx" in out and rc == 1  # no libraries on this board


@needs_socat
def test_listen_reads_the_last_status_of_a_running_app(tmp_path):
    with pty_pair(str(tmp_path / "board"), str(tmp_path / "host")) as (b, h):
        stop = threading.Event()

        def app() -> None:  # a running board: heartbeats on its console
            fd = open_board_end(b)
            n = 0
            while not stop.is_set():
                n += 60
                write_all(fd, ('{"type": "heartbeat", "state": "normal", "windows": %d, "mode": "fan_low", '
                              '"score": 0.41, "device": "fan-1", "seq": %d, "t": 1.0}\n# a message\n' % (n, n)).encode(), stop)
                stop.wait(0.05)
            os.close(fd)

        t = threading.Thread(target=app, daemon=True)
        t.start()
        got = doctor_mod.listen_status(h, 1.0)
        stop.set()
        t.join()
    assert got is not None and got["type"] == "heartbeat" and got["state"] == "normal" and got["windows"] >= 60
