"""The running app tells its heap margin (issue 15, item 6): heartbeats carry gc.mem_free()
and the lowest value seen, and doctor shows them; doctor checks the firmware version."""

from __future__ import annotations

from host_tools.board import doctor as connection
from test_board_app import Flaky, _app, fan  # noqa: F401 - shared fakes and fixture
from device.sensors import ReplaySensor  # noqa: F401


def test_heartbeat_carries_mem_free_and_lowest(fan):
    path, normal, _ = fan
    from device import model as model_mod

    s = Flaky(normal, fail_first=0, exc=RuntimeError)
    a, box, *_ = _app(s, model_mod.load(path), heartbeat_every=4)
    frees = iter([50000, 42000, 47000, 45000, 39000, 44000, 43000, 41000, 40000, 38000])
    a._mem_free = lambda: next(frees)  # gc.mem_free on a board; CPython's gc has none
    a.run(8)
    hb = box.of("heartbeat")
    assert [(p["mem_free"], p["mem_low"]) for p in hb] == [(45000, 42000), (41000, 39000)]


def test_no_mem_fields_without_gc_mem_free(fan):
    path, normal, _ = fan
    from device import model as model_mod

    a, box, *_ = _app(Flaky(normal, fail_first=0, exc=RuntimeError), model_mod.load(path), heartbeat_every=2)
    a._mem_free = None
    a.run(2)
    assert "mem_free" not in box.of("heartbeat")[0]


def test_firmware_versions():
    assert connection.firmware_supported("circuitpython", "9.2.8") == (
        True, "supported; no SHA-256 in its hashlib: the model check at boot runs in Python (seconds)")
    assert connection.firmware_supported("circuitpython", "10.1.0") == (True, "supported")
    assert connection.firmware_supported("circuitpython", "10.3.0-alpha.4")[0]
    assert not connection.firmware_supported("circuitpython", "9.1.4")[0]
    assert not connection.firmware_supported("circuitpython", "8.2.10")[0]
    assert not connection.firmware_supported("circuitpython", "11.0.0")[0]
    assert connection.firmware_supported("micropython", "1.28.0") == (True, "")


def test_setup_stages_leave_one_after_another(tmp_path, fan_model_path, monkeypatch):
    """Settings table, then model loader, then the app's modules: each stage's code is
    dropped before the next one's is imported (a lower setup peak; tests/heap_configs.py
    measures it per configuration)."""
    import os
    import shutil
    import sys

    from board_harness import copy_replay, fake_hardware, run_code_py, write_settings
    from device import model as model_mod
    from device import wiring

    root = tmp_path / "CIRCUITPY"
    root.mkdir()
    for f in model_mod.files_of(fan_model_path):
        shutil.copy(f, root / os.path.basename(f))
    copy_replay(str(root), ["fan_0_low_0_weight"], 3)
    write_settings(str(root), SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0)
    at_load = []
    orig = model_mod.load

    def load(*a, **k):
        doc = orig(*a, **k)
        at_load.append(set(sys.modules))
        return doc

    monkeypatch.setattr(model_mod, "load", load)
    for n in ("device.app", "device.features", "device.detectors", "device.decision", "device.settings"):
        monkeypatch.delitem(sys.modules, n, raising=False)
    at_end = []
    orig_drop = wiring.drop_setup_modules

    def drop(extra=()):
        at_end.append(set(sys.modules))
        return orig_drop(extra)

    monkeypatch.setattr(wiring, "drop_setup_modules", drop)
    monkeypatch.setitem(sys.modules, "device.model", model_mod)
    with fake_hardware() as hw:
        r = run_code_py(str(root), hw)
    assert r.app is not None and r.app.model is not None
    mods = at_load[0]
    assert "device.settings" not in mods  # dropped once the settings were read
    assert not {"device.app", "device.features", "device.detectors"} & mods  # not yet imported
    for name in ("device.model", "device.modelcheck", "device.modelformat"):
        assert name not in at_end[0]  # the loader left before the app was built


def test_small_heap_warning_for_network_libraries(monkeypatch):
    """The boot warning compares the heap with what the accelerometer app with that transport
    is estimated to need (device/heapfit.ACCEL_NEED): a board 1 byte short is told, a board
    with the heap it needs or PSRAM is not."""
    from device import heapfit, wiring

    for kind, need in heapfit.ACCEL_NEED.items():
        lines = []
        monkeypatch.setattr(wiring, "heap_total", lambda n=need: n - 1)
        wiring._warn_small_heap(kind, lines.append)
        assert len(lines) == 1 and ("TELEMETRY = %s" % kind) in lines[0], (kind, lines)
        assert "needs about %d KB" % ((need + 1023) // 1024) in lines[0]
        monkeypatch.setattr(wiring, "heap_total", lambda n=need: n)
        wiring._warn_small_heap(kind, lines.append)
        monkeypatch.setattr(wiring, "heap_total", lambda: 2 * 1024 * 1024)  # PSRAM
        wiring._warn_small_heap(kind, lines.append)
        assert len(lines) == 1, (kind, lines)
    # the order the estimate gives: a network costs heap, MQTT's libraries the most
    n = heapfit.ACCEL_NEED
    assert n["none"] < n["lora"] < n["http"] < n["mqtt"]
    monkeypatch.setattr(wiring, "heap_total", lambda: None)  # CPython: nothing to say
    lines = []
    wiring._warn_small_heap("mqtt", lines.append)
    assert lines == []