"""Code a default board never uses is never in its heap (issue 15, item 6).

code.py and device/*.mpy run under the MicroPython unix port with the stand-ins of
tests/mp_standins (tests/mp_heap.py builds the CIRCUITPY folder). A default board (MSA301,
no buzzer, the drive owned by USB, a Mahalanobis model) never imports device/buzzer.py,
device/fileslots.py or device/zscore.py, and the modules it keeps no longer hold those
classes; a board with a buzzer, a drive it can write or a z-score model imports the one it
needs and uses it (the buzzer among the alerts, the state written to its two files, windows
scored by the z-score detector)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import mp_heap
from conftest import require_tool

SPLIT = ("device.buzzer", "device.fileslots", "device.zscore")
# where each class was before it had a module of its own
GONE = {"device.alerts": "Buzzer", "device.persist": "FileSlots", "device.detectors": "ZScoreDetector"}

PROBE = r"""
import sys
sys.path[0] = ""
import os
import storage
storage._Mount.readonly = %(readonly)r  # the stand-in: CIRCUITPY owned by USB (True) or by the board
import code
app = code.app
import json
m = sys.modules
print("SPLITS " + json.dumps({
    "modules": sorted(k for k in m if k.startswith("device.")),
    "held": sorted(k + "." + n for k, n in %(gone)r.items() if k in m and hasattr(m[k], n)),
    "alerts": [type(a).__name__ for a in app.alerts],
    "tones": [sorted(a.tones.values()) for a in app.alerts if type(a).__name__ == "Buzzer"],
    "places": [getattr(d, "name", "?") for d in app.store.mirrors + [app.store.slots]] if app.store else [],
    "saves": app.store.saves if app.store else 0,
    "files": sorted(f for f in os.listdir() if f.startswith("state.")),
    "detector": type(app.detector).__name__ if app.detector else None,
    "kind": app.detector.kind if app.detector else None,
    "windows": app.windows, "anomalies": app.anomalies,
}))
"""


@pytest.fixture(scope="module")
def circuitpy(tmp_path_factory):
    """A CIRCUITPY folder with the 4-mode fan model (Mahalanobis, model.json) and the same
    fan trained as a z-score model (zmodel.json)."""
    require_tool("micropython")
    require_tool("mpy-cross")
    tmp = tmp_path_factory.mktemp("splits")
    files = mp_heap.train_model(str(tmp / "model"))
    dest = str(tmp / "CIRCUITPY")
    mp_heap.build(mp_heap.ROOT, dest, files, "accel", "none")
    cmd = [sys.executable, "-m", "host_tools", "train", "--quiet", "--detector", "zscore",
           "--out", os.path.join(dest, "zmodel.json"), "--normal"] + [
        os.path.join(mp_heap.DATA, "fan_0_%s_0_weight" % s) for s in ("off", "low", "med", "high")]
    subprocess.run(cmd, check=True, cwd=mp_heap.ROOT, capture_output=True, env=dict(os.environ, PYTHONPATH=mp_heap.ROOT))
    return dest


def _board(dest, readonly=True, **keys) -> dict:
    """code.py's app on the stand-ins, 24 windows of the fan (the coin on a blade from the 17th)."""
    for f in os.listdir(dest):
        if f.startswith("state."):
            os.remove(os.path.join(dest, f))
    settings = dict(mp_heap.CONFIGS["accel"], MAX_WINDOWS=str(mp_heap.WINDOWS), HEARTBEAT_WINDOWS="12",
                    WATCHDOG_TIMEOUT="30")
    settings.update(keys)
    with open(os.path.join(dest, "splits.py"), "w") as f:
        f.write(PROBE % {"readonly": readonly, "gone": GONE})
    r = subprocess.run([mp_heap.tool("micropython"), "-X", "heapsize=4194304", "splits.py"], cwd=dest,
                       env=mp_heap.env_for(dest, settings), capture_output=True, text=True, timeout=300)
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("SPLITS ")]
    assert r.returncode == 0 and line, (r.stdout + r.stderr)[-3000:]
    d = json.loads(line[-1][7:])
    assert d["windows"] == mp_heap.WINDOWS, r.stdout[-2000:]
    return d


def test_a_default_board_never_loads_the_split_off_code(circuitpy):
    d = _board(circuitpy)
    assert d["detector"] == "MahalanobisDetector" and d["anomalies"] >= 1
    assert "Buzzer" not in d["alerts"] and d["places"] == ["rtc", "nvm"] and d["files"] == []
    loaded = [n for n in SPLIT if n in d["modules"]]
    assert not loaded, "a default board imported %s" % loaded
    assert d["held"] == [], "a default board's modules still hold %s" % d["held"]


def test_a_board_with_a_buzzer_imports_and_uses_it(circuitpy):
    d = _board(circuitpy, BUZZER_PIN="D5", BUZZER_ANOMALY_HZ="2500", BUZZER_FAULT_HZ="400")
    assert "device.buzzer" in d["modules"] and d["alerts"].count("Buzzer") == 1
    assert d["tones"] == [[400, 2500]]
    assert "device.fileslots" not in d["modules"] and "device.zscore" not in d["modules"]


def test_a_board_that_owns_its_drive_keeps_its_state_in_files(circuitpy):
    d = _board(circuitpy, readonly=False, PERSIST_EVERY="1")
    assert "device.fileslots" in d["modules"]
    assert d["places"] == ["rtc", "file", "nvm"] and d["saves"] >= mp_heap.WINDOWS
    assert d["files"] == ["state.0", "state.1"]  # written by FileSlots, as before
    assert "device.buzzer" not in d["modules"] and "device.zscore" not in d["modules"]


def test_a_board_with_a_zscore_model_imports_and_uses_it(circuitpy):
    d = _board(circuitpy, MODEL_PATH="zmodel.json")
    assert "device.zscore" in d["modules"]
    assert d["detector"] == "ZScoreDetector" and d["kind"] == "zscore"
    assert "device.buzzer" not in d["modules"] and "device.fileslots" not in d["modules"]
