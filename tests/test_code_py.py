"""code.py and boot.py themselves, run end to end on a PC.

Each test builds a temporary CIRCUITPY root (settings.toml, model.json, replay CSVs),
installs the fake hardware modules (tests/fakes) in place of board/busio/digitalio/pwmio/
neopixel/microcontroller/supervisor/storage/watchdog, and runs the repository's code.py
with runpy, as the board would (cwd = the root, os.getenv reading its settings.toml). The
MSA301 path uses the real adafruit_msa3xx driver against a simulated chip on the fake bus.
The loop is bounded by MAX_WINDOWS or by the end of a replay. Last, the same files compile
with mpy-cross and run under the MicroPython unix port with the fakes on its path.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import require_tool
from board_harness import BOOT_PY, DATA, FAKES, REPO, copy_replay, fake_hardware, run_code_py, write_settings

NORMAL = "fan_0_low_0_weight"
WEIGHT = "fan_0_low_1_weight"


@pytest.fixture
def hw():
    with fake_hardware() as h:
        yield h


@pytest.fixture
def root(tmp_path, fan_model_path):
    r = tmp_path / "CIRCUITPY"
    r.mkdir()
    from device import model as model_mod

    for f in model_mod.files_of(fan_model_path):  # model.json and its model.npy
        shutil.copy(f, r / os.path.basename(f))
    return str(r)


def _fan_rows(folder, files=3):
    rows = []
    for name in sorted(os.listdir(os.path.join(DATA, folder)))[:files]:
        rows += [tuple(r) for r in np.loadtxt(os.path.join(DATA, folder, name), delimiter=",")]
    return rows


# ---- replay + model ------------------------------------------------------------------------

def test_replay_end_to_end(root, hw):
    copy_replay(root, [NORMAL, WEIGHT], 12)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, HEARTBEAT_WINDOWS=6,
                   BUZZER_PIN="D12", DEVICE_ID="fan-1", NEOPIXEL_BRIGHTNESS="0.2")
    r = run_code_py(root, hw)
    app = r.app
    assert app.windows == 24 and app.faults == 0
    boot = r.payloads[0]
    assert boot["state"] == "boot" and boot["sensor"] == "replay" and boot["window"] == 200
    assert all(p["device"] == "fan-1" for p in r.payloads)
    seqs = [p["seq"] for p in r.payloads]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    starts = [p for p in r.of_type("event") if p["event"] == "anomaly_start"]
    assert len(starts) == 1 and starts[0]["window"] > 12 and len(starts[0]["top"]) == 3
    assert len(r.of_type("heartbeat")) == 4
    assert r.states()[-1] == "stopped"
    # status outputs followed the state
    px = hw.neopixel.strips["NEOPIXEL"]
    assert px.brightness == 0.2
    assert (0, 255, 0) in px.shown and (255, 0, 0) in px.shown
    buzzer = hw.pwmio.outputs["D12"]
    assert any(d == 32768 and f == 2000 for d, f in buzzer.history)
    led = hw.digitalio.outputs["LED"]
    assert True in led.history
    # watchdog: configured, fed every window, released when the loop ended
    wd = hw.microcontroller.watchdog
    assert wd.timeout == 10.0 and wd.feeds >= 24 and wd.deinited
    # counters were kept in nvm
    assert bytes(hw.microcontroller.nvm[0:4]) == b"CPAD"


def test_defaults_when_settings_are_minimal(root, hw):
    copy_replay(root, [NORMAL], 2)
    write_settings(root, SENSOR="replay", MAX_WINDOWS=3, REPLAY_REALTIME=0)
    r = run_code_py(root, hw)
    app = r.app
    assert app.windows == 3
    assert app.heartbeat_every == 60 and app.retries == 3
    assert app.device_id == "7cdfa1001234"  # from microcontroller.cpu.uid
    assert app.model is not None  # MODEL_PATH default model.json
    assert "NEOPIXEL" in hw.neopixel.strips and "D12" not in hw.pwmio.outputs  # no buzzer by default


# ---- the MSA301 through the real driver ---------------------------------------------------

def test_msa301_end_to_end_with_recording(root, hw):
    sim = hw.msa301_sim.MSA301Sim(hw.msa301_sim.from_rows(_fan_rows(NORMAL), 200.0))
    hw.busio.attach(0x26, sim)
    write_settings(root, SENSOR="msa301", ACCEL_RANGE=2, MAX_WINDOWS=4, HEARTBEAT_WINDOWS=2,
                   RECORD="serial")
    r = run_code_py(root, hw)
    app = r.app
    assert app.windows == 4 and app.errors == 0
    assert sim.range_g == 2 and sim.odr_hz == 500.0 and sim.power_mode == 0
    hb = r.of_type("heartbeat")[-1]
    assert hb["state"] == "normal" and abs(hb["rate"] - 200.0) < 1
    assert app.sensor.rate_ok
    from host_tools.board.collect import parse_lines

    windows = list(parse_lines(r.lines))
    assert len(windows) == 4
    head, rows = windows[0]
    assert head["rows"] == 200 and head["cols"] == 3 and abs(head["rate"] - 200) < 1
    # what was recorded is what the chip was fed (14-bit at 2 g: 1/4096 g per count)
    fed = np.array(_fan_rows(NORMAL))
    got = np.array(rows)
    i0 = int(np.argmin(np.abs(fed[:, 0] - got[0, 0]) + np.abs(fed[:, 1] - got[0, 1])))
    assert np.max(np.abs(fed[i0:i0 + 200] - got)) <= 1 / 4096 + 1e-6
    # watchdog fed in time while a one-second window was being sampled
    wd = hw.microcontroller.watchdog
    assert wd.max_gap_ms < 100


@pytest.mark.parametrize("fails", [3, 7])
def test_sensor_raises_n_times_then_recovers(root, hw, fails):
    sim = hw.msa301_sim.MSA301Sim()
    hw.busio.attach(0x26, sim)
    write_settings(root, SENSOR="msa301", WINDOW=32, SAMPLE_RATE=200, MODEL_PATH="none.json",
                   MAX_WINDOWS=6, HEARTBEAT_WINDOWS=1, SENSOR_RETRIES=3)
    left = [fails]
    orig = sim.read

    def read(n):  # the chip is found and configured; its first `fails` data reads fail
        if sim.ptr == 0x02 and left[0] > 0:
            left[0] -= 1
            raise OSError(116, "ETIMEDOUT")
        return orig(n)

    sim.read = read
    r = run_code_py(root, hw)
    app = r.app
    assert app.errors == fails
    assert app.faults == (1 if fails > 3 else 0)
    states = r.states()
    assert ("fault" in states) == (fails > 3) and ("recovered" in states) == (fails > 3)
    assert app.state == "no_model"
    assert r.of_type("heartbeat")[-1]["errors"] == fails
    assert any("sensor error: OSError" in ln for ln in r.lines)


def test_sensor_never_recovers(root, hw):
    sim = hw.msa301_sim.MSA301Sim()
    sim.fail_always = True
    hw.busio.attach(0x26, sim)
    write_settings(root, SENSOR="msa301", MAX_WINDOWS=12, BUZZER_PIN="D12", SENSOR_RETRIES=2)
    r = run_code_py(root, hw)
    app = r.app
    assert app.state == "fault" and app.faults == 12 and app.windows == 0
    assert r.states().count("fault") == 1 and r.states()[-1] == "stopped"
    fault = [p for p in r.payloads if p.get("state") == "fault"][0]
    assert "MSA301" in fault["error"] or "Errno" in fault["error"]
    wd = hw.microcontroller.watchdog
    assert wd.feeds > 12 * 3
    assert wd.max_gap_ms < 1000  # fed through the back-off pauses
    assert hw.neopixel.strips["NEOPIXEL"].shown[-1] in ((255, 90, 0), (0, 0, 0))
    assert (255, 90, 0) in hw.neopixel.strips["NEOPIXEL"].shown
    assert hw.pwmio.outputs["D12"].frequency == 500  # the fault tone
    assert len(hw.busio.buses) == 12  # recover(): the bus is released and made again each time
    assert all(b.deinited for b in hw.busio.buses)


def test_sensor_missing_at_boot_then_plugged_in(root, hw):
    hw.busio.init_error = "No pull up found on SDA or SCL; check your wiring"
    write_settings(root, SENSOR="msa301", MAX_WINDOWS=5, WINDOW=16, SAMPLE_RATE=200,
                   MODEL_PATH="none.json", HEARTBEAT_WINDOWS=1)

    sim = hw.msa301_sim.MSA301Sim()
    orig_sleep = hw.supervisor.sleep
    plugged = []

    def sleep(s):  # the user plugs the sensor in during the first back-off
        orig_sleep(s)
        if not plugged:
            plugged.append(1)
            hw.busio.init_error = None
            hw.busio.attach(0x26, sim)

    hw.supervisor.sleep = sleep
    try:
        r = run_code_py(root, hw)
    finally:
        hw.supervisor.sleep = orig_sleep
    assert "fault" in r.states() and "recovered" in r.states()
    assert "No pull up" in [p for p in r.payloads if p.get("state") == "fault"][0]["error"]
    assert r.app.windows == 4


# ---- model problems --------------------------------------------------------------------

def test_corrupt_model_no_model_state_keeps_sampling(root, hw):
    with open(os.path.join(root, "model.json"), "r+b") as f:
        f.seek(500)
        f.write(b"9999")
    copy_replay(root, [NORMAL], 3)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, RECORD="serial",
                   HEARTBEAT_WINDOWS=1)
    r = run_code_py(root, hw)
    assert r.payloads[1]["state"] == "no_model"
    assert "checksum mismatch in model.json" in r.payloads[1]["error"]
    assert any("NO MODEL: checksum mismatch" in ln for ln in r.lines)
    assert r.app.windows == 3  # kept sampling...
    from host_tools.board.collect import parse_lines

    assert len(list(parse_lines(r.lines))) == 3  # ...and recording
    assert all(p["state"] == "no_model" for p in r.of_type("heartbeat"))
    assert (160, 0, 255) in hw.neopixel.strips["NEOPIXEL"].shown


def test_missing_model_and_model_settings_mismatch(root, hw):
    copy_replay(root, [NORMAL], 1)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, WINDOW=256)
    r = run_code_py(root, hw)
    err = r.payloads[1]["error"]
    assert r.payloads[1]["state"] == "no_model"
    assert "expects windows of 200 samples; settings.toml has WINDOW = 256" in err
    os.remove(os.path.join(root, "model.json"))
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0)
    with fake_hardware() as hw2:
        r = run_code_py(root, hw2)
    assert r.payloads[1]["error"] == "model file not found: model.json"


# ---- settings problems ---------------------------------------------------------------

def test_missing_required_setting(root, hw):
    write_settings(root, MAX_WINDOWS=40, SAMPLE_RATE="fast")
    r = run_code_py(root, hw)
    assert r.app is None
    err = r.payloads[0]
    assert err["state"] == "config_error"
    assert "SENSOR is required" in err["error"] and "SAMPLE_RATE: got 'fast'" in err["error"]
    assert r.lines[0].startswith("# CONFIG ERROR: settings.toml: ")
    shown = hw.neopixel.strips["NEOPIXEL"].shown
    assert (255, 0, 160) in shown and (0, 0, 0) in shown  # magenta blinking
    assert not hw.microcontroller.watchdog.mode  # never started


def test_unknown_pin(root, hw):
    write_settings(root, SENSOR="replay", BUZZER_PIN="D99", MAX_WINDOWS=2)
    r = run_code_py(root, hw)
    assert "BUZZER_PIN: this board has no pin 'D99'" in r.payloads[0]["error"]


def test_only_max_windows_set(root, hw):
    write_settings(root, MAX_WINDOWS=3)  # (with no settings.toml at all the error loop never ends)
    r = run_code_py(root, hw)
    assert "SENSOR is required" in r.payloads[0]["error"]


# ---- persistence across resets ---------------------------------------------------------------

def test_commissioning_persists_across_reset(root, hw):
    copy_replay(root, [NORMAL], 40)
    write_settings(root, SENSOR="replay", REPLAY_REALTIME=0, COMMISSION_WINDOWS=30, MAX_WINDOWS=35,
                   PERSIST_EVERY=10)
    r1 = run_code_py(root, hw)
    assert "commissioned" in r1.states()
    assert (0, 0, 255) in hw.neopixel.strips["NEOPIXEL"].shown  # blue while commissioning
    thr = [m["raw_threshold"] for m in [p for p in r1.payloads if p.get("state") == "commissioned"][0]["modes"]]
    nvm = bytes(hw.microcontroller.nvm)
    last_seq = r1.payloads[-1]["seq"]
    with fake_hardware() as hw2:  # a reset: fresh RAM, the same nvm
        hw2.microcontroller.nvm[:] = nvm
        hw2.microcontroller.cpu.reset_reason = hw2.microcontroller.ResetReason.WATCHDOG
        r2 = run_code_py(root, hw2)
        assert hw2.neopixel.strips["NEOPIXEL"].shown[1] == (0, 255, 0)  # straight to normal
    assert r2.payloads[0]["boots"] == 2 and r2.payloads[0]["reset_reason"] == "WATCHDOG"
    restored = r2.payloads[1]
    assert restored["state"] == "commission_restored"
    assert [m["raw_threshold"] for m in restored["modes"]] == pytest.approx(thr, rel=1e-5)
    assert r2.payloads[0]["seq"] > last_seq
    assert "commissioned" not in r2.states()
    # a new COMMISSION_ID asks for commissioning again
    write_settings(root, SENSOR="replay", REPLAY_REALTIME=0, COMMISSION_WINDOWS=30, MAX_WINDOWS=3,
                   COMMISSION_ID="moved-to-the-bedroom")
    with fake_hardware() as hw3:
        hw3.microcontroller.nvm[:] = nvm
        r3 = run_code_py(root, hw3)
    assert r3.app.state == "commissioning"


def test_board_owned_fs_state_files_and_file_recording(root, hw):
    hw.storage.fresh(readonly=False)  # boot.py gave the board the drive
    copy_replay(root, [NORMAL], 3)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, PERSIST="file",
                   RECORD="file", RECORD_PATH="rec")
    run_code_py(root, hw)
    assert sorted(f for f in os.listdir(root) if f.startswith("state.")) == ["state.0", "state.1"]
    files = sorted(os.listdir(os.path.join(root, "rec")))
    assert files == ["000000.csv", "000001.csv", "000002.csv"]
    a = np.loadtxt(os.path.join(root, "rec", "000000.csv"), delimiter=",")
    b = np.loadtxt(os.path.join(root, "replay", "0000.csv"), delimiter=",")
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_file_recording_refused_when_usb_owns_fs(root, hw):
    copy_replay(root, [NORMAL], 1)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, RECORD="file", PERSIST="file")
    r = run_code_py(root, hw)
    assert any("RECORD = file, but the USB host owns the filesystem" in ln for ln in r.lines)
    assert any("PERSIST = file, but the USB host owns" in ln for ln in r.lines)
    assert r.app.windows == 1


# ---- the thermal path ------------------------------------------------------------------------

def test_mlx90640_runs_in_no_model_and_recording_mode(root, hw, monkeypatch):
    fake = hw.mlx_fake.FakeMLX90640(fail_on=(2,))
    mod = type(sys)("adafruit_mlx90640")
    mod.MLX90640 = lambda bus: fake
    monkeypatch.setitem(sys.modules, "adafruit_mlx90640", mod)
    write_settings(root, SENSOR="mlx90640", MLX_REFRESH_HZ=4, MAX_WINDOWS=3, RECORD="serial",
                   HEARTBEAT_WINDOWS=1)
    r = run_code_py(root, hw)
    assert "is for a 'accel' sensor but this board reads 'thermal'" in r.payloads[1]["error"]
    assert r.app.windows == 3 and r.app.errors == 1
    from host_tools.board.collect import parse_lines

    frames = list(parse_lines(r.lines))
    assert len(frames) == 3 and frames[0][0]["kind"] == "thermal" and len(frames[0][1]) == 24
    assert fake.refresh_rate == 3


# ---- boot.py ------------------------------------------------------------------------------

@pytest.mark.parametrize("owner, grounded, board_owns", [
    (None, False, False), ("board", False, True), (None, True, True), ("board", True, False)])
def test_boot_py_filesystem_owner(tmp_path, hw, owner, grounded, board_owns):
    keys = {} if owner is None else {"FS_OWNER": owner}
    write_settings(str(tmp_path), **keys)
    if grounded:
        hw.digitalio.levels["D5"] = False
    r = run_code_py(str(tmp_path), hw, path=BOOT_PY)
    assert hw.storage.getmount("/").readonly is (not board_owns)
    assert bool(hw.storage.remounts) == board_owns
    assert ("writable by code on the board" in r.text) == board_owns
    assert not hw.board.D5.in_use  # the pin was released for code.py


def test_boot_py_pin_setting(tmp_path, hw):
    write_settings(str(tmp_path), FS_OWNER_PIN="NOPE", FS_OWNER="sideways")
    r = run_code_py(str(tmp_path), hw, path=BOOT_PY)
    assert "not a pin on this board" in r.text and "FS_OWNER must be usb or board" in r.text
    assert hw.storage.getmount("/").readonly is True


# ---- the same files under MicroPython tools ---------------------------------------------------

BOARD_FILES = (["code.py", "boot.py"] + sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(REPO, "device", "*.py")))
               + sorted(os.path.relpath(p, REPO) for p in glob.glob(os.path.join(FAKES, "*.py"))) + ["tests/board_bench.py"])


@pytest.mark.parametrize("rel", BOARD_FILES)
def test_mpy_cross_compiles(rel, tmp_path):
    tool = require_tool("mpy-cross")
    r = subprocess.run([tool, "-o", str(tmp_path / "out.mpy"), os.path.join(REPO, rel)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def _micropython(args, cwd, env_extra):
    tool = require_tool("micropython")
    env = {"PATH": os.environ.get("PATH", ""), "MICROPYPATH": FAKES + ":" + REPO + ":.frozen"}
    env.update(env_extra)
    return subprocess.run([tool, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_micropython_imports_board_modules(tmp_path):
    mods = ["board", "busio", "digitalio", "pwmio", "neopixel", "microcontroller", "supervisor",
            "storage", "watchdog", "msa301_sim", "mlx_fake"] + [
        "device." + os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "device", "*.py"))
        if not p.endswith("__init__.py")]
    script = "import " + ", ".join(mods) + "\nprint('imported', %d)\n" % len(mods)
    r = _micropython(["-c", script], str(tmp_path), {})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "imported" in r.stdout


def test_micropython_runs_code_py_on_replay(tmp_path):
    """code.py under MicroPython with the fakes: no ulab there, so the app runs in the
    no-model state - sampling, recording, heartbeats, nvm persistence."""
    rep = tmp_path / "replay"
    rep.mkdir()
    shutil.copy(os.path.join(DATA, NORMAL, "0000.csv"), rep / "0000.csv")
    # code.py sits at the drive's root, as on the board (run from the repository, the
    # repository's board/ folder would shadow the `board` module on MicroPython's path)
    shutil.copy(os.path.join(REPO, "code.py"), tmp_path / "code.py")
    r = _micropython(["code.py"], str(tmp_path),
                     {"SENSOR": "replay", "MAX_WINDOWS": "4", "WINDOW": "50", "REPLAY_REALTIME": "0",
                      "RECORD": "serial", "HEARTBEAT_WINDOWS": "2", "BUZZER_PIN": "D12"})
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    payloads = [json.loads(ln) for ln in lines if ln.startswith("{")]
    assert payloads[0]["state"] == "boot" and payloads[1]["state"] == "no_model"
    assert [p["windows"] for p in payloads if p["type"] == "heartbeat"] == [2, 4]
    from host_tools.board.collect import parse_lines

    wins = list(parse_lines(lines))
    assert len(wins) == 4 and wins[0][0]["rows"] == 50
    rows = np.loadtxt(os.path.join(DATA, NORMAL, "0000.csv"), delimiter=",")
    np.testing.assert_allclose(np.array(wins[1][1]), rows[50:100], atol=1e-6)


def test_micropython_runs_msa301_driverless_path(tmp_path):
    """The MSA301 adapter + simulated chip under MicroPython (a driver stand-in made of the
    same register calls, since the Adafruit driver needs adafruit_register's typing imports
    to be skipped): sample pacing on the fake clock and decoding run on the real VM."""
    script = r"""
import sys
import busio, board, msa301_sim, supervisor
from device import sensors
sim = msa301_sim.MSA301Sim()
busio.attach(0x26, sim)
bus = busio.I2C(board.SCL, board.SDA, frequency=400000)

class Dev:
    def __enter__(self):
        while not bus.try_lock():
            pass
        return self
    def __exit__(self, *a):
        bus.unlock()
    def write_then_readinto(self, out, buf):
        bus.writeto_then_readfrom(0x26, out, buf)

class Drv:
    def __init__(self, b):
        self.i2c_device = Dev()
        with self.i2c_device:
            bus.writeto(0x26, bytes([0x11, 0x00]))
            bus.writeto(0x26, bytes([0x0F, 0x01]))
        self.data_rate = 9
        self.bandwidth = 9
        self.range = 1

s = sensors.MSA301Sensor(bus=bus, window=40, rate=200.0, driver_factory=Drv, ticks_ms=supervisor.ticks_ms)
w = s.read()
print(len(w), len(w[0]), s.rate_ok, round(s.rate_measured), s.times[1] - s.times[0])
print(round(w[2][0], 2))
"""
    r = _micropython(["-c", script], str(tmp_path), {})
    assert r.returncode == 0, r.stdout + r.stderr
    first, second = r.stdout.split("\n")[:2]
    assert first == "3 40 True 200 5"
    assert abs(float(second) - 1.0) < 0.02


def test_code_py_under_the_ulab_emulator(root, tmp_path):
    """The whole board path (App, features, detector, commissioning, sensors, alerts) on the
    ulab emulator (tests/ulab_emu: only the functions CircuitPython's ulab has), in a
    subprocess so this process keeps NumPy."""
    copy_replay(root, [NORMAL, WEIGHT], 10)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, COMMISSION_WINDOWS=6,
                   HEARTBEAT_WINDOWS=5, RECORD="serial")
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, json\n"
        "sys.path[:0] = [%r, %r, %r]\n"
        "from device import xp\n"
        "assert xp.ULAB\n"
        "import board_harness as bh\n"
        "with bh.fake_hardware() as hw:\n"
        "    r = bh.run_code_py(%r, hw)\n"
        "print(json.dumps({'windows': r.app.windows, 'states': r.states(),\n"
        "                  'events': [p['event'] for p in r.of_type('event')]}))\n"
        % (os.path.join(REPO, "tests", "ulab_emu"), os.path.join(REPO, "tests"), REPO, root))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["windows"] == 20
    assert "commissioned" in res["states"] and "anomaly_start" in res["events"]


def test_setup_code_leaves_the_heap_before_the_loop(root, hw):
    """code.py drops the setup-only modules (settings, model loader, wiring) before the
    loop, and nothing in its namespace keeps them alive; objects that must outlive setup
    (power-enable pins) are held by the app. The App's start (device.apprare) and the
    state read at start (device.persistload) left too."""
    import gc
    import weakref

    from device import wiring

    ref = weakref.ref(wiring)
    del wiring
    copy_replay(root, [NORMAL], 2)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, NEOPIXEL_POWER_PIN="NEOPIXEL_POWER")
    r = run_code_py(root, hw)
    app = r.globals["app"]
    assert app.windows == 2
    for name in ("device.wiring", "device.settings", "device.model", "device.modelcheck", "device.modelformat",
                 "device.appconfig", "device.assemble", "device.apprare", "device.persistload"):
        assert name not in sys.modules
    assert "wiring" not in r.globals
    gc.collect()
    assert ref() is None  # the module object itself is gone
    assert len(app.held) == 1 and app.held[0].value is True  # the NeoPixel power pin stays on
