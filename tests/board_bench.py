"""Board benchmark: per-stage time and memory of the app loop, on a board or on a PC.

    on a board (device/ copied to CIRCUITPY):   mpremote run tests/board_bench.py
    on a PC (CPython + NumPy):                  .venv/bin/python tests/board_bench.py [windows]
    on a PC with the ulab emulator:             PYTHONPATH=tests/ulab_emu .venv/bin/python tests/board_bench.py

Prints, for a 3-axis window of 256 samples at 200 Hz with 16 spectral bands and a
4-mode Mahalanobis model:
- time per window of each stage: read (the MSA301 fill loop against an in-memory I2C
  device: the CPU cost of sampling, without the bus time), features, score, decide;
- the same in "FFT-equivalents": units of one 256-point np.fft.fft timed in the same run;
- bytes allocated per window after warm-up: gc.mem_alloc() before/after with the GC off
  (board: every byte the step allocates), or the tracemalloc peak above the starting level
  (CPython: NumPy frees temporaries at once, so this is the transient peak, a lower bound);
- the heap used while loading the model file (board: allocated with the GC off, an upper
  bound of the peak; CPython: tracemalloc peak) and what stays allocated afterwards.
Targets: <= 10 FFT-equivalents (features + score + decide) and <= 12 KB per window.
"""

import gc
import sys
import time

try:
    import os

    _here = os.path.dirname(os.path.abspath(__file__))
    _root = os.path.dirname(_here)
    if _root not in sys.path:
        sys.path.insert(0, _root)
except (ImportError, NameError, AttributeError):  # a board: device/ is on the drive
    pass

from device import decision as decision_mod  # noqa: E402
from device import detectors as detectors_mod  # noqa: E402
from device import features as features_mod  # noqa: E402
from device import model as model_mod  # noqa: E402
from device import sensors as sensors_mod  # noqa: E402
from device import xp  # noqa: E402

try:
    import tracemalloc
except ImportError:
    tracemalloc = None

WINDOW = 256
RATE = 200.0
BANDS = 16
MODES = 4
TARGET_FFT_EQ = 10.0
TARGET_BYTES = 12 * 1024

if hasattr(time, "perf_counter_ns"):
    def now_us():
        return time.perf_counter_ns() // 1000
elif hasattr(time, "monotonic_ns"):
    def now_us():
        return time.monotonic_ns() // 1000
else:
    def now_us():
        return time.ticks_us()


# ---- memory measurement ------------------------------------------------------------

class Mem:
    """Bytes a block of code allocates.

    board / MicroPython: gc.mem_alloc() delta with the GC off - every byte allocated;
    CPython: tracemalloc peak above the starting level (NumPy frees temporaries at once,
    so this is the transient peak, and NumPy's FFT works in complex128: not the board's
    figure; under the ulab emulator it also counts the emulator's own temporaries).
    """

    def __init__(self):
        self.board = hasattr(gc, "mem_alloc") and tracemalloc is None
        if self.board:
            self.kind = "gc.mem_alloc delta with the GC off"
        elif tracemalloc is not None:
            self.kind = "tracemalloc peak over start (CPython)"
        else:
            self.kind = "unavailable"
        self.load_kind = self.kind

    def start(self, load=False):
        gc.collect()
        self._load = load
        if self.board:
            gc.disable()
            self._a = gc.mem_alloc()
        elif tracemalloc is not None:
            if not tracemalloc.is_tracing():
                tracemalloc.start()
            tracemalloc.reset_peak()
            self._a = tracemalloc.get_traced_memory()[0]

    def stop(self):
        if self.board:
            b = gc.mem_alloc() - self._a
            gc.enable()
            return b
        if tracemalloc is not None:
            b = tracemalloc.get_traced_memory()[1] - self._a
            tracemalloc.stop()
            return b
        return -1

    def retained(self):
        gc.collect()
        if self.board:
            return gc.mem_alloc()
        return -1


# ---- a synthetic model and sensor ----------------------------------------------------

class Lcg:
    """Deterministic pseudo-random numbers without the random module."""

    def __init__(self, seed=12345):
        self.s = seed

    def uniform(self):
        self.s = (1103515245 * self.s + 12345) & 0x7FFFFFFF
        return self.s / 2147483648.0


def recipe():
    """The feature recipe of the benchmark window (names made up where there is no array
    library to build the extractor: the model file has the same size)."""
    if xp.np is not None:
        return features_mod.AccelFeatures(WINDOW, RATE, BANDS).recipe()
    n = 2 * BANDS + 7
    return {"kind": "accel", "window": WINDOW, "rate": RATE, "bands": BANDS, "axes": 3,
            "n_fft": 256, "names": ["feature_%02d" % i for i in range(n)]}


def synthetic_model(rec, modes=MODES):
    """A valid model dict: random mean/scale, a diagonally dominant symmetric precision
    matrix, threshold 60."""
    rnd = Lcg()
    n = len(rec["names"])
    out = []

    def r7(v):  # 7 significant digits, as host_tools.train writes them
        return float("%.7g" % v)

    for m in range(modes):
        mean = [r7(rnd.uniform() * 2 - 1) for _ in range(n)]
        scale = [r7(0.5 + rnd.uniform()) for _ in range(n)]
        inv = [[0.0] * n for _ in range(n)]
        for i in range(n):
            inv[i][i] = r7(1.0 + 0.5 * rnd.uniform())
            for j in range(i):
                v = r7(0.02 * (rnd.uniform() - 0.5))
                inv[i][j] = v
                inv[j][i] = v
        out.append({"name": "mode%d" % m, "mean": mean, "scale": scale, "inv_cov": inv,
                    "threshold": 60.0 + m})
    return {"schema": model_mod.SCHEMA, "version": model_mod.VERSION, "sensor": "accel",
            "features": rec, "detector": "mahalanobis", "fa_rate": 0.01, "modes": out,
            "decision": {"k": 3, "n": 5, "on": 1.0, "off": 0.8, "cooldown": 30}}


def model_bytes(doc):
    """model.dumps without relying on dict order (MicroPython's json.dumps does not keep
    insertion order, and the checksum must come first)."""
    import json

    zeros = "0" * 64
    body = json.dumps(doc)
    data = ('{"checksum": "sha256:' + zeros + '", ' + body[1:]).encode()
    digest = model_mod.checksum_of(data)
    return data.replace(zeros.encode(), digest.encode(), 1)


class MemI2CDevice:
    """Stands in for the driver's I2CDevice: a 6-byte burst of a changing pattern."""

    def __init__(self):
        self.k = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write_then_readinto(self, out, buf):
        k = self.k = (self.k + 37) & 0x3FFF
        buf[0] = (k << 2) & 0xFF
        buf[1] = (k >> 6) & 0xFF
        buf[2] = 0
        buf[3] = 0x08
        buf[4] = (k & 0x3C) << 2
        buf[5] = 0x10


class MemDriver:
    def __init__(self, bus):
        self.i2c_device = MemI2CDevice()
        self.data_rate = 0
        self.bandwidth = 0
        self.range = 1


def make_sensor():
    # rate far above what anything reaches: no waiting, the pure CPU cost of the loop
    return sensors_mod.MSA301Sensor(bus=object(), window=WINDOW, rate=1.0e7, driver_factory=MemDriver)


# ---- timing ---------------------------------------------------------------------------

def best_time(f, reps, repeats=3):
    """Best (least disturbed) mean time of f() in us over `repeats` runs of `reps` calls."""
    best = None
    for _ in range(repeats):
        gc.collect()
        t0 = now_us()
        for _ in range(reps):
            f()
        t = (now_us() - t0) / reps
        best = t if best is None or t < best else best
    return best


def time_fft(n=256, reps=50):
    x = xp.zeros(n)
    for i in range(n):
        x[i] = (i * 7919 % 97) / 97.0
    xp.fft(x)
    return best_time(lambda: xp.fft(x), reps)


def _impl():
    if not xp.ULAB:
        return "numpy %s" % xp.np.__version__ if xp.np is not None else "no array library"
    try:
        import ulab

        return "ulab %s%s" % (ulab.__version__, " (emulator)" if getattr(ulab, "EMULATED", False) else "")
    except (ImportError, AttributeError):
        return "ulab"


def measure_load(mem, say):
    """Peak heap while model.load reads, verifies and validates a 4-mode model file."""
    data = model_bytes(synthetic_model(recipe()))
    path = "bench_model.json"
    from_file = True
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError:
        from_file = False
    base = mem.retained()
    note = ""
    mem.start(load=True)
    try:
        doc = model_mod.load(path) if from_file else model_mod.loads(data)
        peak = mem.stop()
    except MemoryError:  # more than the free heap with the GC off: measure what stays
        peak = mem.stop()
        gc.collect()
        doc = model_mod.load(path) if from_file else model_mod.loads(data)
        note = " [GC off ran out of heap at that point; the GC had to run]"
    held = mem.retained() - base if base >= 0 else -1
    if from_file:
        try:
            os.remove(path)
        except (OSError, NameError, AttributeError):
            pass
    say("model file: %d bytes, 4 modes x %d features" % (len(data), len(doc["features"]["names"])))
    say("model load: %d bytes peak (%s)%s%s" % (
        peak, mem.load_kind, "" if held < 0 else ", %d bytes held by the parsed document" % held,
        "" if from_file else " [parsed from RAM: the drive is read-only to code]") + note)
    return doc, peak


def run(windows=60, warmup=5):
    mem = Mem()
    out = []
    say = out.append
    say("board_bench: %s on %s, window %d x 3 axes at %s Hz, %d bands, %d modes (mahalanobis)" % (
        _impl(), sys.platform, WINDOW, RATE, BANDS, MODES))
    try:
        doc, peak_load = measure_load(mem, say)
    except MemoryError:  # a board without PSRAM: report it and go on with the dict itself
        if mem.board:
            gc.enable()
        gc.collect()
        say("model load: MemoryError - a 4-mode, %d-feature JSON model does not fit this heap"
            % len(recipe()["names"]))
        doc, peak_load = synthetic_model(recipe()), -1
    if xp.np is None:
        say("no array library here: only the model load was measured")
        for line in out:
            print(line)
        return {"peak_load": peak_load}
    base = mem.retained()
    feats = features_mod.from_recipe(doc["features"])
    det = detectors_mod.from_model(doc)
    dec = decision_mod.Decision.from_settings(doc["decision"])
    for m in doc["modes"]:  # what build_app does once the detector holds the arrays
        m["mean"] = m["scale"] = m["inv_cov"] = None
    if base >= 0:
        say("after building features + detector and dropping the parsed arrays: %d bytes held" % (
            mem.retained() - base))

    sensor = make_sensor()
    stages = (
        ("read", lambda: sensor.read()),
        ("features", lambda: feats.compute(sensor.win)),
        ("score", lambda: det.score(feats._out)),
        ("decide", lambda: dec.update(1.5)),
    )
    for _ in range(warmup):
        for _n, f in stages:
            f()

    fft_us = time_fft(256, windows)
    times = {}
    for name, f in stages:
        times[name] = best_time(f, windows)
    allocs = {}
    for name, f in stages:
        best = None
        for _ in range(3):
            mem.start()
            f()
            got = mem.stop()
            best = got if best is None or got < best else best
        allocs[name] = best

    say("one 256-point FFT: %.1f us" % fft_us)
    say("%-24s %12s %10s %14s" % ("stage", "us/window", "FFT-eq", "bytes/window"))
    for name, _f in stages:
        say("%-24s %12.1f %10.2f %14d" % (name, times[name], times[name] / fft_us, allocs[name]))
    compute = ("features", "score", "decide")
    tot_t = sum(times[k] for k in compute)
    tot_b = sum(allocs[k] for k in compute)
    say("%-24s %12.1f %10.2f %14d   targets <= %.0f FFT-eq, <= %d bytes: %s" % (
        "total (f+s+d)", tot_t, tot_t / fft_us, tot_b, TARGET_FFT_EQ, TARGET_BYTES,
        "OK" if tot_t / fft_us <= TARGET_FFT_EQ and tot_b <= TARGET_BYTES else "OVER"))
    say("read: %.2f us of CPU per sample (bus time excluded)" % (times["read"] / WINDOW))
    say("bytes/window: %s" % mem.kind)
    for line in out:
        print(line)
    return {"fft_us": fft_us, "times": times, "allocs": allocs, "peak_load": peak_load}


if __name__ == "__main__":
    n = 60
    try:
        if len(sys.argv) > 1:
            n = int(sys.argv[1])
    except (AttributeError, ValueError):
        pass
    run(n)
