"""`python -m host_tools bench`: windows per second through the device code path on this
machine (CPython + NumPy float32, not a board).

Times device.features.AccelFeatures.compute and device.detectors.MahalanobisDetector.score
(several modes, as a multi-speed fan model has) separately and together, for each window
length asked for. Windows and feature vectors are built before the clock starts, the
timed loops only call the device code, the garbage collector is off while timing, and
each figure is the best of several repeats (the least disturbed run), as timeit does.
Figures are printed, never asserted: speed depends on the machine.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
from typing import Callable, Sequence

import numpy as np

from device import features as features_mod
from host_tools.data import datasets
from host_tools.modeling import train
from host_tools.data.datasets import DataError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR",
                   help="real windows from this folder of CSVs, or from the first --modes "
                        "session folders of a dataset root (default: synthetic random windows)")
    p.add_argument("--windows", type=int, nargs="+", default=[200, 256], metavar="N",
                   help="window lengths in samples")
    p.add_argument("--rate", type=float, default=200.0, help="sample rate in Hz")
    p.add_argument("--bands", type=int, default=16, help="spectral bands")
    p.add_argument("--modes", type=int, default=4, help="modes in the Mahalanobis model")
    p.add_argument("--count", type=int, default=200, help="windows per timed loop")
    p.add_argument("--repeats", type=int, default=5, help="repeats; the best one is reported")


def synthetic_windows(count: int, window: int, modes: int, rate: float,
                      seed: int = 0) -> list[list[np.ndarray]]:
    """Per mode, `count` windows of gravity + a rotation tone + noise (float32, 3 axes);
    modes differ in tone frequency and amplitude, like fan speeds."""
    rng = np.random.default_rng(seed)
    t = np.arange(window) / rate
    gravity = np.array([[0.0], [0.2], [1.0]])
    out = []
    for m in range(modes):
        f, amp = 2.0 + 1.5 * m, 0.01 * (1 + m)
        ws = []
        for _ in range(count):
            phase = rng.uniform(0, 2 * np.pi, size=(3, 1))
            w = gravity + amp * np.sin(2 * np.pi * f * t + phase) + 0.005 * rng.standard_normal((3, window))
            ws.append(w.astype(np.float32))
        out.append(ws)
    return out


def _folder_windows(folder: str, window: int, count: int) -> list[np.ndarray]:
    """Up to `count` windows from a folder's recordings in time order; the files are
    joined end to end first so windows longer than one file (256 > 200 rows) exist."""
    parts, have = [], 0
    for f in datasets.list_csv(folder):
        rec = datasets.read_recording(f, "accel")
        parts.append(rec)
        have += rec.shape[1]
        if have >= count * window:
            break
    stream = np.concatenate(parts, axis=1)
    return datasets.cut_windows(stream, window, folder)[:count]


def real_windows(root: str, count: int, window: int, modes: int) -> list[list[np.ndarray]]:
    """Windows per mode: one session folder per mode from a dataset root, or a single
    folder of CSVs cut into `modes` consecutive chunks."""
    if not os.path.isdir(root):
        raise DataError(f"{root}: no such folder")
    subs = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    subs = [d for d in subs if any(f.lower().endswith(".csv") for f in os.listdir(os.path.join(root, d)))]
    if subs:
        return [_folder_windows(os.path.join(root, d), window, count) for d in subs[:modes]]
    ws = _folder_windows(root, window, count * modes)
    per = max(1, len(ws) // modes)
    return [ws[i * per:(i + 1) * per] for i in range(modes) if ws[i * per:(i + 1) * per]]


def best_time(fn: Callable[[], None], repeats: int) -> float:
    """Best wall time of `repeats` calls of fn, with the garbage collector off."""
    best = float("inf")
    was = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    finally:
        if was:
            gc.enable()
    return best


def run_bench(window: int, rate: float, bands: int, per_mode: Sequence[Sequence[np.ndarray]],
              repeats: int) -> list[dict]:
    """Time features, scoring and both over the windows; returns one row per part."""
    ex = features_mod.AccelFeatures(window, rate, bands)
    feats_per_mode = [[np.array(ex.compute(w)) for w in ws] for ws in per_mode]
    modes = []
    for i, fs in enumerate(feats_per_mode):
        if len(fs) < train.MIN_WINDOWS:
            raise DataError(f"mode {i}: only {len(fs)} windows of {window} samples, "
                            f"need {train.MIN_WINDOWS} to fit a mode")
        modes.append(train.fit_mode(f"mode{i}", np.stack(fs), "mahalanobis"))
    maha = train.make_detector("mahalanobis", modes)
    zs = train.make_detector("zscore", modes)
    wins = [w for ws in per_mode for w in ws]
    feats = [x for fs in feats_per_mode for x in fs]
    n = len(wins)
    compute = ex.compute

    def t_features() -> None:
        for w in wins:
            compute(w)

    def t_score() -> None:
        score = maha.score
        for x in feats:
            score(x)

    def t_zscore() -> None:
        score = zs.score
        for x in feats:
            score(x)

    def t_both() -> None:
        score = maha.score
        for w in wins:
            score(compute(w))

    t_both()  # warm up caches and NumPy's FFT plan before timing
    k = len(modes)
    rows = []
    for part, fn in (("features", t_features), (f"score mahalanobis ({k} modes)", t_score),
                     (f"score zscore ({k} modes)", t_zscore), ("features + mahalanobis", t_both)):
        t = best_time(fn, repeats) / n
        rows.append({"window": window, "part": part, "us_per_window": t * 1e6,
                     "windows_per_s": 1.0 / t, "realtime_factor": (window / rate) / t,
                     "windows": n, "features": ex.size})
    return rows


def main(a: argparse.Namespace) -> int:
    if a.count < 1 or a.repeats < 1 or a.modes < 1:
        raise DataError("--count, --repeats and --modes must be at least 1")
    src = f"real windows from {a.data}" if a.data else "synthetic windows"
    print(f"bench: device code path on {platform.python_implementation()} {platform.python_version()}, "
          f"NumPy {np.__version__}, {platform.machine()}; {src}; best of {a.repeats} repeats")
    print(f"{'window':>6}  {'part':<30} {'us/window':>10} {'windows/s':>10} {'x real time':>12}")
    for w in a.windows:
        try:
            features_mod.AccelFeatures(w, a.rate, a.bands)
        except ValueError as e:
            raise DataError(f"--windows {w}: {e}") from None
        per = max(train.MIN_WINDOWS, a.count // a.modes)  # a mode needs MIN_WINDOWS to fit
        per_mode = (real_windows(a.data, per, w, a.modes) if a.data
                    else synthetic_windows(per, w, a.modes, a.rate))
        for r in run_bench(w, a.rate, a.bands, per_mode, a.repeats):
            print(f"{r['window']:>6}  {r['part']:<30} {r['us_per_window']:>10.1f} "
                  f"{r['windows_per_s']:>10.0f} {r['realtime_factor']:>12.0f}")
    print("x real time = window duration / processing time per window (this host, not a board)")
    return 0
