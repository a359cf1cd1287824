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
