"""The board application's pure logic on CPython: settings, outbox, persistence,
recording format, and the App loop's robustness (retries, faults, watchdog, back-off,
unexpected errors, commissioning that survives a reset). Hardware-free: fakes are plain
objects here; tests/test_code_py.py runs code.py end to end on the fake hardware modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from board_harness import DATA, REPO, fake_hardware
from device import app as app_mod
from device.appconfig import AppConfig
from device import model as model_mod
from device import outbox as outbox_mod
from device import payload_check, persist, recorder
from device.fileslots import FileSlots
from host_tools.fleet import wording
from host_tools.board.collect import parse_lines
from device import settings as settings_mod
from device.sensors import ReplaySensor


def env(**kw):
    return lambda key: kw.get(key)


# ---- settings --------------------------------------------------------------------------

def test_settings_defaults_and_conversion():
    s = settings_mod.load(env(SENSOR="msa301", NEOPIXEL_BRIGHTNESS="0.25", SAMPLE_RATE=200,
                              REPLAY_LOOP="false", ACCEL_DATA_RATE="62.5", I2C_FREQUENCY="0x61A80"))
    assert s.SENSOR == "msa301"
    assert s.NEOPIXEL_BRIGHTNESS == 0.25 and s.SAMPLE_RATE == 200.0
    assert s.REPLAY_LOOP is False and s.ACCEL_DATA_RATE == 62.5 and s.I2C_FREQUENCY == 400000
    assert s.MODEL_PATH == "model.json" and s.HEARTBEAT_WINDOWS == 60 and s.WINDOW is None
    assert s.LED_PIN == "LED?" and s.BUZZER_PIN is None and s.TELEMETRY == "console"
    assert sorted(s.given) == sorted(["SENSOR", "NEOPIXEL_BRIGHTNESS", "SAMPLE_RATE", "REPLAY_LOOP",
                                      "ACCEL_DATA_RATE", "I2C_FREQUENCY"])


def test_settings_required_and_every_problem_listed():
    with pytest.raises(settings_mod.SettingsError) as e:
        settings_mod.load(env(SAMPLE_RATE="fast", ACCEL_RANGE=3, TELEMETRY="pigeon", REPLAY_LOOP=7))
    msg = str(e.value)
    assert "SENSOR is required (msa301, mlx90640, replay)" in msg
    assert "SAMPLE_RATE: got 'fast', expected a number" in msg
    assert "ACCEL_RANGE: got 3, expected one of 2, 4, 8, 16" in msg
    assert "TELEMETRY: got 'pigeon', expected one of console, none, http, mqtt, lora" in msg
    assert "REPLAY_LOOP: got 7" in msg
    assert len(e.value.problems) == 5


def test_settings_cross_checks():
    with pytest.raises(settings_mod.SettingsError, match="shorter than one MLX90640 frame"):
        settings_mod.load(env(SENSOR="mlx90640", MLX_REFRESH_HZ="0.5", WATCHDOG_TIMEOUT=5))
    with pytest.raises(settings_mod.SettingsError, match="COMMISSION_WINDOWS"):
        settings_mod.load(env(SENSOR="replay", COMMISSION_WINDOWS=2))
    s = settings_mod.load(env(SENSOR="msa301", SAMPLE_RATE=500, ACCEL_DATA_RATE=250))
    assert "samples will repeat" in s.warnings[0]
    with pytest.raises(settings_mod.SettingsError, match="cannot be read"):
        settings_mod.load(lambda k: (_ for _ in ()).throw(ValueError("Invalid value")) if k == "WINDOW" else (
            "replay" if k == "SENSOR" else None))


def test_settings_example_documents_every_key():
    text = open(os.path.join(REPO, "settings.toml.example")).read()
    for key, *_ in settings_mod.SPEC:
        assert key in text, key


def test_settings_example_is_valid():
    sys.path.insert(0, os.path.join(REPO, "tests", "fakes"))
    try:
        import settings_toml
    finally:
        sys.path.pop(0)
    s = settings_mod.load(settings_toml.getenv_from(os.path.join(REPO, "settings.toml.example")))
    assert s.SENSOR == "msa301"


# ---- outbox ------------------------------------------------------------------------------

class FlakyTransport:
    def __init__(self):
        self.up = True
        self.sent = []

    def send(self, p):
        if not self.up:
            return False
        self.sent.append(p)
        return True


def test_outbox_console_lines(capsys):
    box = outbox_mod.Outbox(outbox_mod.ConsoleTransport())
    box.put({"type": "event", "score": 1.5})
    assert json.loads(capsys.readouterr().out) == {"type": "event", "score": 1.5}
    assert box.sent == 1 and len(box) == 0


def test_outbox_store_and_forward_events_outrank_heartbeats():
    tr = FlakyTransport()
    box = outbox_mod.Outbox(tr, capacity=4, per_pump=2)
    tr.up = False
    for i in range(3):
        box.put({"type": "heartbeat", "i": i})
    box.put({"type": "event", "i": 10})
    box.put({"type": "event", "i": 11})  # full: the oldest heartbeat goes
    box.put({"type": "heartbeat", "i": 3})  # full: another heartbeat goes
    assert [p["i"] for p in box._q] == [2, 10, 11, 3]
    for i in range(12, 15):
        box.put({"type": "event", "i": i})
    assert [p["type"] for p in box._q] == ["event"] * 4
    box.put({"type": "heartbeat", "i": 99})  # only events queued: a heartbeat is refused
    assert box.dropped == 6 and len(box) == 4
    tr.up = True
    assert box.pump() == 2 and len(box) == 2  # bounded per call
    box.pump(10)
    assert [p["i"] for p in tr.sent] == [11, 12, 13, 14]


def test_outbox_transport_exception_is_contained():
    class Boom:
        def send(self, p):
            raise OSError("link down")

    box = outbox_mod.Outbox(Boom())
    assert box.put({"type": "event"}) is True
    assert box.failed == 1 and len(box) == 1


# ---- persistence -----------------------------------------------------------------------

def _state(seq=5, modes=2, nf=3):
    return {"model": "0123456789abcdef", "key": persist.key_of("x"),
            "counters": {"boots": 2, "windows": 100, "anomalies": 1, "faults": 3, "errors": 4, "seq": seq},
            "modes": [(i == 0, 10.5 + i, [0.5 * j for j in range(nf)], [1.0 + j for j in range(nf)])
                      for i in range(modes)]}


def test_persist_roundtrip_and_alternating_slots():
    nvm = bytearray(b"\xff" * 8192)
    st = persist.Store(persist.NvmSlots(nvm))
    assert st.load() is None
    assert st.save(_state(seq=1))
    assert st.save(_state(seq=2))
    got = persist.Store(persist.NvmSlots(nvm)).load()
    assert got["counters"]["seq"] == 2 and got["model"] == "0123456789abcdef"
    assert got["modes"][0] == (True, 10.5, [0.0, 0.5, 1.0], [1.0, 2.0, 3.0])
    assert got["modes"][1][0] is False
    # the two saves went to different slots
    assert nvm[0:4] == b"CPAD" and nvm[4096:4100] == b"CPAD"


def test_persist_torn_write_keeps_the_previous_record():
    nvm = bytearray(b"\xff" * 8192)
    slots = persist.NvmSlots(nvm)
    st = persist.Store(slots)
    st.save(_state(seq=1))
    st.save(_state(seq=2))
    st3 = persist.Store(slots)
    st3.load()
    # a reset in the middle of the third write: only half the record reaches the slot
    new = _state(seq=3)
    new["modes"][-1] = (True, 99.0, [7.0, 8.0, 9.0], [2.0, 2.0, 2.0])  # differs at the end
    rec = persist.frame(persist.encode(new), st3.seq + 1)
    a = st3._next * slots.slot_size
    nvm[a:a + len(rec) // 2] = rec[:len(rec) // 2]
    got = persist.Store(slots).load()
    assert got["counters"]["seq"] == 2  # the intact older record wins
    # a flipped bit is caught by the CRC as well
    nvm[a:a + len(rec)] = rec
    nvm[a + 40] ^= 0x10
    assert persist.Store(slots).load()["counters"]["seq"] == 2
    nvm[a + 40] ^= 0x10
    assert persist.Store(slots).load()["counters"]["seq"] == 3


def test_persist_file_slots(tmp_path):
    base = str(tmp_path / "state")
    st = persist.Store(FileSlots(base))
    for i in range(3):
        assert st.save(_state(seq=i))
    assert sorted(os.listdir(tmp_path)) == ["state.0", "state.1"]
    with open(base + ".0", "r+b") as f:  # the newest (third save) went to slot 0: spoil it
        f.truncate(30)
    assert persist.Store(FileSlots(base)).load()["counters"]["seq"] == 1


def test_persist_readonly_fs_is_reported(tmp_path):
    def opener(path, mode):
        raise OSError(30, "Read-only filesystem")

    st = persist.Store(FileSlots(str(tmp_path / "s"), opener=opener))
    assert st.load() is None
    assert st.save(_state()) is False and "Read-only" in st.last_error


def test_persist_too_big_for_nvm():
    st = persist.Store(persist.NvmSlots(bytearray(1024)))
    assert st.save(_state(modes=4, nf=39)) is False
    assert "does not fit" in st.last_error


# ---- recording format ------------------------------------------------------------------

def test_serial_recorder_lines_parse_back():
    lines = []
    win = np.arange(30, dtype=np.float32).reshape(3, 10) / 7.0

    class S:
        rate_measured = 199.5

    rec = recorder.SerialRecorder("accel", lines.append, S(), lambda: 1234)
    rec.record(win)
    lines.insert(5, '{"type": "heartbeat"}')  # a payload printed inside a window
    rec.record(win)
    lines.append("#W,3,accel,10,3,200.00,0")  # cut short: never completed
    lines.append("0.1,0.2,0.3")
    assert lines[0] == "#W,1,accel,10,3,199.50,1234"
    got = list(parse_lines(lines))
    assert len(got) == 1  # window 1 was spoiled by the interleaved line, 3 is incomplete
    head, rows = got[0]
    assert head == {"seq": 2, "kind": "accel", "rows": 10, "cols": 3, "rate": 199.5, "t_ms": 1234}
    np.testing.assert_allclose(np.array(rows).T, win, atol=1e-6)


def test_serial_recorder_thermal_and_file_recorder(tmp_path):
    lines = []
    frame = np.full((24, 32), 21.5, dtype=np.float32)
    recorder.SerialRecorder("thermal", lines.append).record(frame)
    (head, rows), = parse_lines(lines)
    assert (head["rows"], head["cols"]) == (24, 32) and rows[0][0] == 21.5
    fr = recorder.FileRecorder(str(tmp_path / "rec"), "accel", max_files=2)
    win = np.ones((3, 5), dtype=np.float32)
    for _ in range(3):
        fr.record(win)
    assert sorted(os.listdir(tmp_path / "rec")) == ["000000.csv", "000001.csv"]
    assert fr.stopped and "RECORD_MAX_FILES" in fr.last_error
    assert open(tmp_path / "rec" / "000000.csv").read().splitlines()[0] == "1.000000,1.000000,1.000000"
    fr2 = recorder.FileRecorder(str(tmp_path / "rec"), "accel")
    fr2.record(win)
    assert "000002.csv" in os.listdir(tmp_path / "rec")  # numbering continues


# ---- the App loop ------------------------------------------------------------------------

class Flaky(ReplaySensor):
    """Replay that raises `fail_first` times (or forever), counting recover() calls."""

    kind = "accel"

    def __init__(self, windows, fail_first=0, fail_always=False, exc=OSError, loop=True):
        ReplaySensor.__init__(self, windows, loop=loop)
        self.fail_first = fail_first
        self.fail_always = fail_always
        self.exc = exc
        self.recovers = 0
        self.idle = None
        self.rate = 200.0
        self.rate_measured = 200.0
        self.rate_ok = True

    def read(self):
        if self.idle is not None:
            self.idle()
        if self.fail_always or self.fail_first > 0:
            self.fail_first -= 1
            raise self.exc("Too many retries" if self.exc is not OSError else "[Errno 116] ETIMEDOUT")
        return ReplaySensor.read(self)

    def recover(self):
        self.recovers += 1


class Dog:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class Box:
    def __init__(self):
        self.items = []
        self.pumps = 0

    def put(self, p):
        self.items.append(dict(p))
        return True

    def pump(self):
        self.pumps += 1

    def of(self, t):
        return [p for p in self.items if p.get("type") == t]

    def states(self):
        return [p.get("state") for p in self.items if p.get("type") == "status"]


class Alert:
    def __init__(self):
        self.states = []
        self.ticks = 0

    def set_state(self, s):
        self.states.append(s)

    def tick(self, now):
        self.ticks += 1


@pytest.fixture(scope="module")
def fan(fan_model_path):
    from device import features
    from host_tools.data import datasets

    doc = model_mod.load(fan_model_path)
    ex = features.from_recipe(doc["features"])
    normal = [w for _, _, w in datasets.windows_of_paths([os.path.join(DATA, "fan_0_low_0_weight")], ex)][:40]
    weight = [w for _, _, w in datasets.windows_of_paths([os.path.join(DATA, "fan_0_low_1_weight")], ex)][:30]
    return fan_model_path, normal, weight


_NOT_CONFIG = ("log", "store", "restore", "model_error", "clock", "recorder", "boot_info", "on_commissioned")


def _app(sensor, doc=None, **kw):
    """An App with stand-in outputs; keyword arguments are AppConfig fields, or the
    App's own arguments named in _NOT_CONFIG."""
    box, alert, dog = Box(), Alert(), Dog()
    slept = []
    parts = {k: kw.pop(k) for k in _NOT_CONFIG if k in kw}
    a = app_mod.App(sensor, doc, AppConfig(**kw), outbox=box, alerts=[alert], watchdog=dog,
                    sleep=slept.append, **parts)
    return a, box, alert, dog, slept


@pytest.mark.parametrize("fails, fault", [(2, False), (3, False), (4, True), (9, True)])
def test_sensor_raises_n_times_then_recovers(fan, fails, fault):
    path, normal, _ = fan
    s = Flaky(normal, fail_first=fails, exc=RuntimeError)
    a, box, alert, dog, slept = _app(s, model_mod.load(path), retries=3, heartbeat_every=5)
    a.run(12)
    assert a.errors == fails
    assert a.faults == fails // 4  # each step makes 1 + retries attempts
    assert ("fault" in box.states()) == fault
    assert ("recovered" in box.states()) == fault
    assert a.state == "normal" and alert.states[-1] == "normal"
    assert a.windows == 12 - a.faults
    assert dog.feeds >= 12
    if fault:
        assert s.recovers == a.faults and slept  # backed off, still feeding
    hb = box.of("heartbeat")[-1]
    assert hb["errors"] == fails


def test_sensor_never_recovers(fan):
    path, normal, _ = fan
    s = Flaky(normal, fail_always=True)
    lines = []
    a, box, alert, dog, slept = _app(s, model_mod.load(path), retries=2, log=lines.append)
    assert a.run(20) == 20  # the loop stays alive
    assert a.state == "fault" and alert.states[-1] == "fault"
    assert box.states().count("fault") == 1  # reported once, not every window
    assert a.faults == 20 and a.errors == 60 and a.windows == 0
    assert dog.feeds >= 20 * 3  # fed every step and around every retry
    assert s.recovers == 20
    assert max(slept) <= 0.05 + 1e-9 and 7.9 < sum(slept[-200:]) < 8.1 * 2  # back-off capped at 8 s
    assert sum(1 for ln in lines if "sensor error" in ln) == 1  # no console flood
    assert "ETIMEDOUT" in box.items[-1]["error"]


def test_unexpected_error_is_contained_when_guarded(fan):
    path, normal, _ = fan

    class Buggy(Flaky):
        def read(self):
            raise KeyError("bug")

    a, box, alert, dog, slept = _app(Buggy(normal), model_mod.load(path), guard=True)
    assert a.run(5) == 5
    assert a.crashes == 5 and a.state == "fault"
    assert "KeyError" in box.of("status")[-1]["error"]
    a2, *_ = _app(Buggy(normal), model_mod.load(path))
    with pytest.raises(KeyError):
        a2.run(1)


def test_no_model_keeps_sampling_and_recording(fan):
    _, normal, _ = fan
    lines = []
    rec = recorder.SerialRecorder("accel", lines.append)
    a, box, alert, dog, _ = _app(Flaky(normal, loop=False), None, model_error="checksum mismatch in model.json",
                                 recorder=rec, heartbeat_every=10)
    assert a.run() == len(normal)
    assert box.items[0]["state"] == "no_model" and "checksum" in box.items[0]["error"]
    assert alert.states == ["no_model"]
    assert len(list(parse_lines(lines))) == len(normal)
    assert box.of("heartbeat")[-1]["state"] == "no_model"


def test_rate_shortfall_warning(fan):
    path, normal, _ = fan
    s = Flaky(normal)
    s.rate_ok = False
    s.rate_measured = 151.26
    lines = []
    a, box, *_ = _app(s, model_mod.load(path), log=lines.append)
    a.run(10)
    w = box.of("warning")
    assert len(w) == 1 and w[0]["measured"] == 151.3 and w[0]["configured"] == 200.0
    assert "151.3 Hz" in lines[-1]


def test_detects_and_explains(fan):
    path, normal, weight = fan
    a, box, alert, *_ = _app(ReplaySensor(normal[:20] + weight), model_mod.load(path))
    a.run()
    ev = box.of("event")
    assert ev and ev[0]["event"] == "anomaly_start" and len(ev[0]["top"]) == 3
    assert "anomaly" in alert.states and a.anomalies >= 1
    # each top feature's value, normal mean and spread in the mode: "19x normal" on the host
    doc = model_mod.load(path)
    mode = next(m for m in doc["modes"] if m["name"] == ev[0]["mode"])
    names = doc["features"]["names"]
    assert len(ev[0]["values"]) == 3
    for (name, _), (value, normal, spread) in zip(ev[0]["top"], ev[0]["values"]):
        k = names.index(name)
        assert normal == pytest.approx(mode["mean"][k], rel=1e-5, abs=1e-5)
        assert spread == pytest.approx(mode["scale"][k], rel=1e-5, abs=1e-5)
        assert abs(value - normal) > spread  # the features that moved, moved
    assert payload_check.validate(dict(ev[0], device="fan", seq=1, t=1.0)) is not None
    words = wording.explain_words(ev[0])
    assert "normal" in words and "of the deviation" not in words, words


def test_commissioning_survives_a_reset(fan):
    path, normal, _ = fan
    nvm = bytearray(b"\xff" * 8192)

    def boot(n, **kw):
        store = persist.Store(persist.NvmSlots(nvm))
        doc = model_mod.load(path)
        a, box, alert, *_ = _app(Flaky(normal), doc, store=store, restore=store.load(),
                                 commission_windows=24, model_id=doc["checksum"][7:], persist_every=10,
                                 commission_key="24|None|", **kw)
        a.run(n)
        return a, box, alert

    a1, box1, alert1 = boot(30)
    assert "commissioned" in box1.states() and alert1.states[0] == "commissioning"
    thr = [a1.detector.threshold(i) for i in range(len(a1.detector.mode_names))]
    mean0 = np.array(a1.detector._mean[0])
    last_seq = box1.items[-1]["seq"]
    a2, box2, alert2 = boot(5, boot_info={"sensor": "test"})
    assert box2.items[0]["state"] == "boot" and box2.items[0]["boots"] == 2
    assert box2.items[1]["state"] == "commission_restored"
    assert alert2.states[0] == "normal"  # straight to normal: no second commissioning
    assert [a2.detector.threshold(i) for i in range(len(thr))] == pytest.approx(thr, rel=1e-6)
    np.testing.assert_allclose(np.array(a2.detector._mean[0]), mean0, rtol=1e-6)
    assert box2.items[0]["seq"] > last_seq  # sequence numbers never repeat across resets
    assert a2.windows == 35
    # another model (or COMMISSION_ID) -> the record does not apply: commission again
    store = persist.Store(persist.NvmSlots(nvm))
    a3, box3, alert3, *_ = _app(Flaky(normal), model_mod.load(path), store=store, restore=store.load(),
                                commission_windows=24, model_id="somethingelse", commission_key="24|None|")
    assert alert3.states[0] == "commissioning"


def test_kept_record_survives_a_boot_without_model(fan):
    path, normal, _ = fan
    nvm = bytearray(b"\xff" * 8192)
    doc = model_mod.load(path)
    mid = doc["checksum"][7:]
    st = persist.Store(persist.NvmSlots(nvm))
    a, *_ = _app(Flaky(normal), doc, store=st, commission_windows=24, model_id=mid, commission_key="k")
    a.run(30)
    st = persist.Store(persist.NvmSlots(nvm))
    b, *_ = _app(Flaky(normal), None, store=st, restore=st.load(), model_error="model file not found")
    b.run(3)
    st = persist.Store(persist.NvmSlots(nvm))
    c, box, alert, *_ = _app(Flaky(normal), model_mod.load(path), store=st, restore=st.load(),
                             commission_windows=24, model_id=mid, commission_key="k")
    assert alert.states[0] == "normal" and "commission_restored" in box.states()
    assert c.boots == 3


def test_uptime_wraps():
    t = [(1 << 29) - 5]
    up = app_mod.Uptime(lambda: t[0])
    t[0] = 10
    assert up.ms() == 15
    assert up() == 0.015


# ---- host_tools simulate still drives the same App ------------------------------------------

def test_simulate_still_works(fan_model_path):
    from host_tools.modeling import simulate

    app, box, alert = simulate.run(fan_model_path, [os.path.join(DATA, "fan_0_low_1_weight")],
                                   commission=0, heartbeat=20, echo=False)
    assert app.windows == 100
    assert any(p.get("event") == "anomaly_start" for p in box.items)


# ---- the board benchmark runs on CPython ------------------------------------------------------

def test_board_bench_runs():
    r = subprocess.run([sys.executable, os.path.join(REPO, "tests", "board_bench.py"), "5"],
                       capture_output=True, text=True, timeout=300, cwd=str(REPO))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for stage in ("read", "features", "score", "decide", "total (f+s+d)", "one 256-point FFT",
                  "model load"):
        assert stage in out
    total = [ln for ln in out.splitlines() if ln.startswith("total (f+s+d)")][0].split()
    assert float(total[2]) > 0 and int(total[4]) >= 0  # us/window and bytes/window were measured


def test_recorder_capture_to_session_folder(tmp_path):
    lines = ["boot.py output", "# a message"]
    win = (np.arange(30, dtype=np.float32).reshape(3, 10) / 8.0)
    rec = recorder.SerialRecorder("accel", lines.append)
    rec.record(win)
    rec.record(win * 2)
    cap = tmp_path / "capture.txt"
    cap.write_text("\n".join(lines) + "\n")
    out = tmp_path / "session"
    r = subprocess.run([sys.executable, "-m", "host_tools", "collect", "--from", str(cap), "--out", str(out),
                        "--label", "t"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0 and "wrote 2 window(s)" in r.stdout
    from host_tools.data import datasets

    rec2 = datasets.read_recording(str(out / "0001.csv"), "accel")
    np.testing.assert_allclose(rec2, win * 2, atol=1e-6)


def test_raise_mode_watchdog_is_rearmed_after_a_timeout(fan):
    """CircuitPython semantics (tests/fakes/watchdog.py): a RAISE-mode watchdog that fires
    raises WatchDogTimeout and stops itself; feed() on a stopped watchdog does nothing. The
    loop must notice the stopped mode and arm it again, or the board runs unguarded."""
    path, normal, _ = fan
    with fake_hardware() as hw:
        wdmod = hw.watchdog
        dog = wdmod.WatchDogTimer()
        dog.timeout = 2.0

        class Stall(Flaky):
            reads = 0

            def read(self):
                Stall.reads += 1
                if Stall.reads == 3:  # one read hangs for 3 s
                    hw.supervisor.clock.advance_us(3000000)
                return Flaky.read(self)

        lines = []
        a = app_mod.App(Stall(normal), model_mod.load(path), AppConfig(guard=True), watchdog=dog,
                        log=lines.append, clock=lambda: hw.supervisor.clock.us / 1e6)
        a.watchdog_mode = wdmod.WatchDogMode.RAISE
        dog.mode = a.watchdog_mode
        a.run(8)
        assert dog.fired == 1  # it did time out once ...
        assert a.crashes == 1 and "WatchDogTimeout" in a.last_error
        assert dog.mode == wdmod.WatchDogMode.RAISE  # ... and runs again
        assert a.watchdog_rearms == 1 and any("re-armed" in ln for ln in lines)
        feeds = dog.feeds
        a.run(2)
        assert dog.feeds > feeds
        a.stop_watchdog()
        assert dog.mode is None
        dog.feed()  # on a stopped watchdog: nothing, as on CircuitPython
