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

The MLX90640 driver's own conversion of raw sub-pages to deg C (adafruit_mlx90640, pure
Python per pixel) is not part of this figure: it dominates a frame on the board.
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
           "model_load_peak_bytes": ("<=", 65536), "heap_free_after_warmup": (">=", 49152)}


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
        heap_free, parts = bb.heap_estimate(mem, (feats, det, dec, doc, win, sidecar))
        heap_kind = "ESTIMATE: %d - arrays %d - device .mpy %s - Python objects %d" % (
            bb.HEAP, parts["arrays"], parts["mpy"], parts["python_objects"])
    say("heap free after warm-up: %d (%s)" % (heap_free, heap_kind))
    result["heap_free_after_warmup"] = heap_free
    result["heap_kind"] = heap_kind
    worst_b = max(out[k]["bytes"] for k in out)
    worst_t = max(out[k]["fft_eq"] for k in out)
    say("one 256-point FFT: %.1f us" % fft_us)
    for key, v in (("frame_bytes", worst_b), ("frame_fft_eq", worst_t), ("model_load_peak_bytes", load_bytes),
                   ("heap_free_after_warmup", heap_free)):
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
