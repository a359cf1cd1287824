"""The board code on each supported CircuitPython core, with stand-ins written from the
real sources (tests/fakes/cp_hashlib.py). Each test here failed on the code before
issue 15: the stand-ins of then accepted what the real cores refuse."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import sys

import pytest

from board_harness import FAKES, copy_replay, fake_hardware, run_code_py, write_settings

CORES = ("9.2.8", "10.0.3", "10.1.0", "10.2.1")
NORMAL = "fan_0_low_0_weight"
WEIGHT = "fan_0_low_1_weight"


@pytest.fixture
def root(tmp_path, fan_model_path):
    r = tmp_path / "CIRCUITPY"
    r.mkdir()
    from device import model as model_mod

    for f in model_mod.files_of(fan_model_path):
        shutil.copy(f, r / os.path.basename(f))
    return str(r)


@pytest.fixture
def fresh_imports():
    """Board modules imported anew inside the test, as a board imports them after the
    core's modules (the host session has them bound to CPython's hashlib already)."""
    saved = {n: m for n, m in sys.modules.items() if n == "device" or n.startswith("device.")}
    for n in saved:
        del sys.modules[n]
    yield
    for n in [n for n in sys.modules if n == "device" or n.startswith("device.")]:
        del sys.modules[n]
    sys.modules.update(saved)


def _core_hashlib(version):
    sys.path.insert(0, FAKES)
    try:
        import cp_hashlib
    finally:
        sys.path.remove(FAKES)
    return cp_hashlib.module(version)


@pytest.mark.parametrize("core", ("9.2.8", "10.1.0"))
def test_model_loads_and_detects_on_every_core(root, core, fresh_imports):
    """Was: hashlib.new("sha256") raised ValueError on 9.x/10.0.x and ended code.py."""
    copy_replay(root, [NORMAL, WEIGHT], 8)
    write_settings(root, SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0)
    with fake_hardware(circuitpython=core) as hw:
        import hashlib as seen

        assert not hasattr(seen, "sha256")  # the core's module, not CPython's
        r = run_code_py(root, hw)
    assert r.app.model is not None, r.text[-800:]
    assert any(p.get("event") == "anomaly_start" for p in r.payloads)


@pytest.mark.parametrize("core", CORES)
def test_lora_packets_are_signed_on_every_core(core, monkeypatch, fresh_imports):
    """Was: payloads.hmac_sha256 called hashlib.sha256, which no CircuitPython has."""
    monkeypatch.setitem(sys.modules, "hashlib", _core_hashlib(core))
    from device import payloads

    payloads._PADS[0] = None
    key = bytes(range(16))
    p = {"type": "heartbeat", "state": "normal", "device": "a-long-device-name", "seq": 7, "t": 1.5,
         "windows": 3, "faults": 0, "anomalies": 0}
    pkt = payloads.pack(p, key)
    monkeypatch.setitem(sys.modules, "hashlib", hashlib)
    body = pkt[:payloads.BODY_LEN]
    assert pkt[payloads.BODY_LEN:] == hmac.new(key, body, hashlib.sha256).digest()[:payloads.TAG_LEN]
    long_key = bytes(range(70))  # longer than a block: hashed first
    monkeypatch.setitem(sys.modules, "hashlib", _core_hashlib(core))
    payloads._PADS[0] = None
    tag = payloads.hmac_sha256(long_key, b"msg")
    assert tag == hmac.new(long_key, b"msg", hashlib.sha256).digest()


def test_lora_transport_sends_on_a_9x_core(monkeypatch, fresh_imports):
    """Was: LoraTransport.send swallowed the AttributeError and returned False forever."""
    sys.path.insert(0, FAKES)
    try:
        from rfm9x_sim import FakeRFM9x, SimLink
    finally:
        sys.path.remove(FAKES)
    monkeypatch.setitem(sys.modules, "hashlib", _core_hashlib("9.2.8"))
    from device import payloads
    from device.lorasend import LoraTransport

    payloads._PADS[0] = None
    link = SimLink()
    node, gw = FakeRFM9x(link, node=1), FakeRFM9x(link, node=2)
    node.destination = 2
    t = LoraTransport(node, bytes(16), ack_wait=0.0, tries=1)
    node.destination = 0xFF  # broadcast: no ACK needed, the packet must leave
    assert t.send({"type": "status", "state": "boot", "device": "b", "seq": 1, "t": 0.0}), t.last_error
    assert gw.receive(timeout=1.0) is not None


@pytest.mark.parametrize("core", CORES)
def test_pure_python_sha256_matches(core, monkeypatch):
    from device import hashing

    monkeypatch.setitem(sys.modules, "hashlib", _core_hashlib(core))
    data = bytes(range(256)) * 5 + b"tail"
    h = hashing.sha256()
    for i in range(0, len(data), 100):
        h.update(memoryview(data)[i:i + 100])
    assert h.digest() == hashlib.sha256(data).digest()
    assert hashing.builtin() == (core not in ("9.2.8", "10.0.3"))


def test_setup_exception_lands_in_config_error_state(root, monkeypatch):
    """No exception during setup ends code.py: a bug in setup shows the settings-error
    state (magenta NeoPixel) with one console line."""
    write_settings(root, SENSOR="replay", MAX_WINDOWS=3)
    from device import wiring

    def boom(*a, **k):
        raise RuntimeError("a bug in setup")

    monkeypatch.setattr(wiring, "build_app", boom)
    with fake_hardware() as hw:
        r = run_code_py(root, hw)
    assert r.app is None
    errs = [ln for ln in r.lines if ln.startswith("# CONFIG ERROR")]
    assert errs and "RuntimeError: a bug in setup" in errs[0]
    assert r.states() == ["config_error"]
    from device.alerts import MAGENTA

    assert MAGENTA in hw.neopixel.strips["NEOPIXEL"].shown


def test_exception_making_the_app_lands_in_config_error_state(root, monkeypatch):
    """code.py makes the App (device/assemble.py) after the wiring has left the heap: an
    exception there also ends in the settings-error state, never ends code.py."""
    write_settings(root, SENSOR="replay", MAX_WINDOWS=3)
    from device import assemble

    def boom(*a, **k):
        raise MemoryError("memory allocation failed, allocating 1024 bytes")

    monkeypatch.setattr(assemble, "app_of", boom)
    monkeypatch.setitem(sys.modules, "device.assemble", assemble)
    with fake_hardware() as hw:
        r = run_code_py(root, hw)
    assert r.app is None
    errs = [ln for ln in r.lines if ln.startswith("# CONFIG ERROR")]
    assert errs and "MemoryError: memory allocation failed" in errs[0]
    assert r.states() == ["config_error"]
    assert "device.assemble" not in sys.modules  # dropped all the same


def test_memory_error_importing_the_assembler_lands_in_config_error_state(root, monkeypatch):
    """The MicroPython unix port (tests/mp_heap.py) showed a MemoryError while importing
    device/assemble.py in a tight heap: that import is inside code.py's guard too."""
    write_settings(root, SENSOR="replay", MAX_WINDOWS=3)
    import builtins

    real_import = builtins.__import__

    def imp(name, globals=None, locals=None, fromlist=(), level=0):
        if name == "device" and fromlist and "assemble" in fromlist:
            raise MemoryError("memory allocation failed, allocating 1280 bytes")
        return real_import(name, globals, locals, fromlist, level)

    monkeypatch.setattr(builtins, "__import__", imp)
    with fake_hardware() as hw:
        r = run_code_py(root, hw)
    monkeypatch.undo()
    assert r.app is None
    errs = [ln for ln in r.lines if ln.startswith("# CONFIG ERROR")]
    assert errs and "MemoryError" in errs[0]
    assert r.states() == ["config_error"]
