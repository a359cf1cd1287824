"""Small reproductions of real recordings made by other people (issue 16), written into a
folder so the tests and the before/after transcripts use the same inputs.

Each maker writes one case and returns the paths a command needs. The data are
synthetic but keep the layout, clock and rate of the real files they stand for.
"""

from __future__ import annotations

import datetime as dt
import os

import numpy as np

N_PIX = 768


def _dates(t0: dt.datetime, seconds: np.ndarray, fmt: str = "%Y-%m-%d %H:%M:%S") -> list[str]:
    return [(t0 + dt.timedelta(seconds=float(s))).strftime(fmt) for s in seconds]


def step_back_series(folder: str, days: float = 4.0, back_at: int = 600) -> str:
    """An industrial temperature logged every 5 minutes whose clock steps back once by
    55 minutes (...02:55, 02:00, 02:05...: a clock fix) after row `back_at`."""
    os.makedirs(folder, exist_ok=True)
    n = int(days * 288)
    t = np.arange(n) * 300.0
    t[back_at:] -= 3600.0  # after 02:55 the logger writes 02:00 (not 03:00): 55 min back
    rs = np.random.RandomState(1)
    v = 60.0 + 5.0 * np.sin(2 * np.pi * np.arange(n) / 288) + rs.normal(0, 0.3, n)
    path = os.path.join(folder, "boiler.csv")
    with open(path, "w") as f:
        f.write("timestamp,value\n")
        for d, x in zip(_dates(dt.datetime(2021, 3, 1, 0, 0, 0), t), v):
            f.write(f"{d},{x:.3f}\n")
    return path


def thermal_time_rt(folder: str, frames: int = 240, fps: float = 7.8, seed: int = 0,
                    base: float = 25.0) -> str:
    """The public MLX90640 layout: `Time,RT,P000..P767`, Time as `2020-06-26 15:43:14.2175`,
    about 7.8 frames per second (the stamps jitter a little)."""
    os.makedirs(folder, exist_ok=True)
    rs = np.random.RandomState(seed)
    t = np.cumsum(np.full(frames, 1.0 / fps) + rs.uniform(-0.004, 0.004, frames))
    yy, xx = np.mgrid[0:24, 0:32]
    scene = base + 0.2 * yy + 3.0 * np.exp(-((yy - 12) ** 2 + (xx - 16) ** 2) / 30.0)
    path = os.path.join(folder, "frames.csv")
    t0 = dt.datetime(2020, 6, 26, 15, 43, 14, 217500)
    with open(path, "w") as f:
        f.write("Time,RT," + ",".join("P%03d" % k for k in range(N_PIX)) + "\n")
        for i in range(frames):
            d = (t0 + dt.timedelta(seconds=float(t[i]))).strftime("%Y-%m-%d %H:%M:%S.%f")[:-2]
            px = scene.ravel() + rs.normal(0, 0.15, N_PIX)
            f.write(d + ",%.2f," % (base + 5) + ",".join("%.2f" % p for p in px) + "\n")
    return path


def vibration(n: int, rate: float, seed: int = 0, axes: int = 3, hz: float = 13.0) -> np.ndarray:
    """(n, axes) accelerations in g: gravity on z, a rotation harmonic and noise."""
    rs = np.random.RandomState(seed)
    t = np.arange(n) / rate
    out = np.empty((n, axes))
    for a in range(axes):
        out[:, a] = (0.05 * np.sin(2 * np.pi * hz * t + a) + 0.02 * np.sin(2 * np.pi * 3 * hz * t)
                     + rs.normal(0, 0.01, n) + (1.0 if a == 2 else 0.0))
    return out


def timed_accel(folder: str, rate: float = 100.0, seconds: float = 60.0, name: str = "rec.csv") -> str:
    """One `t,x,y,z` file (t in seconds) sampled at `rate`."""
    os.makedirs(folder, exist_ok=True)
    v = vibration(int(rate * seconds), rate)
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write("t,x,y,z\n")
        for i, row in enumerate(v):
            f.write("%.4f,%.6f,%.6f,%.6f\n" % (i / rate, *row))
    return path


def plain_accel(folder: str, n: int = 2000, seed: int = 0, name: str = "0000.csv") -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    np.savetxt(path, vibration(n, 200.0, seed), fmt="%.6f", delimiter=",")
    return path


def sparse_huge(folder: str, size: int = 2 * 1024 ** 3) -> str:
    """A valid small recording and a 2 GB sparse file (all NUL bytes) beside it."""
    plain_accel(folder, name="a.csv")
    path = os.path.join(folder, "b.csv")
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def semicolon(folder: str, decimal_comma: bool, header: bool = True, n: int = 8000) -> str:
    """European spreadsheet CSV: `;` between cells, with dot or comma decimals."""
    os.makedirs(folder, exist_ok=True)
    v = vibration(n, 200.0)
    path = os.path.join(folder, "rec.csv")
    with open(path, "w") as f:
        if header:
            f.write("x;y;z\n")
        for row in v:
            line = ";".join("%.6f" % x for x in row)
            f.write((line.replace(".", ",") if decimal_comma else line) + "\n")
    return path


def window_rows(folder: str, per_label: int = 60, samples: int = 128, rate: float = 500.0,
                labels: tuple = ("normal", "blocked", "unbalanced", "off"), seed: int = 0) -> str:
    """One window per row: `s0,...,s127,label`, a fan's vibration (one channel) at 500 Hz."""
    os.makedirs(folder, exist_ok=True)
    rs = np.random.RandomState(seed)
    t = np.arange(samples) / rate
    path = os.path.join(folder, "windows.csv")
    with open(path, "w") as f:
        f.write(",".join("s%d" % k for k in range(samples)) + ",label\n")
        for i in range(per_label):
            for lab in labels:
                if lab == "off":
                    w = rs.normal(0, 0.005, samples)
                else:
                    hz = {"normal": 25.0, "blocked": 18.0, "unbalanced": 25.0}[lab]
                    amp = 0.5 if lab == "unbalanced" else 0.1
                    w = amp * np.sin(2 * np.pi * hz * t + rs.uniform(0, 6.3)) + rs.normal(0, 0.01, samples)
                f.write(",".join("%.5f" % x for x in w) + f",{lab}\n")
    return path


def magnitude(folder: str, n: int = 12000, rate: float = 200.0, seed: int = 0, hz: float = 13.0) -> str:
    """A single-axis vibration recording (an MPU6050's magnitude channel): `t,magnitude`."""
    os.makedirs(folder, exist_ok=True)
    v = vibration(n, rate, seed, axes=3, hz=hz)
    mag = np.sqrt((v ** 2).sum(axis=1))
    path = os.path.join(folder, "mag.csv")
    with open(path, "w") as f:
        f.write("timestamp,magnitude\n")
        for i, m in enumerate(mag):
            f.write("%.3f,%.6f\n" % (i / rate, m))
    return path


def write_time_rt(path: str, frames: np.ndarray, t: np.ndarray, rt: np.ndarray,
                  label: np.ndarray | None = None, t0: dt.datetime = dt.datetime(2020, 6, 26, 15, 43, 14)) -> str:
    """Frames in the public `Time,RT,P000..P767` layout (dates to 1/10000 s)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("Time,RT," + ",".join("P%03d" % k for k in range(N_PIX)) + (",label" if label is not None else "")
                + "\n")
        flat = np.asarray(frames, dtype=np.float64).reshape(len(frames), N_PIX)
        for i in range(len(flat)):
            d = (t0 + dt.timedelta(seconds=float(t[i]))).strftime("%Y-%m-%d %H:%M:%S.%f")[:-2]
            f.write(d + ",%.2f," % rt[i] + ",".join("%.2f" % p for p in flat[i])
                    + (",%d" % label[i] if label is not None else "") + "\n")
    return path


def thermal_modes(root: str, minutes: float = 5.0, fps: float = 8.0, seed: int = 10) -> dict:
    """Three boiler modes (cold, warm, hot) of `minutes` each at `fps` frames/s simulated
    with host_tools.scene in the `Time,RT,P000..` layout (the label column only in anomaly
    files), plus per mode: a later normal recording (other seed) and one with a 2x2 hot
    spot of +10 C from its 60th second. Returns {"normal": [...], "test": [...],
    "anomaly": [...]} folders."""
    from host_tools.data import scene

    out: dict = {"normal": [], "test": [], "anomaly": []}
    for k, state in enumerate(("cold", "warm", "hot")):
        for part, sd, secs, anoms in (("normal", seed + k, minutes * 60, []),
                                      ("test", seed + 100 + k, 180.0, []),
                                      ("anomaly", seed + 200 + k, 180.0,
                                       [scene.Anomaly("spot", 60.0, row=3, col=24, size=2, excess=10.0)])):
            sc = scene.Scene(seed=sd, fps=fps, first_state=state, phase_minutes=(60.0, 60.0),
                             anomalies=anoms).frames(secs)
            folder = os.path.join(root, part, state)
            write_time_rt(os.path.join(folder, "frames.csv"), sc["frames"], sc["t"], sc["ta"],
                          sc["label"].astype(int) if part == "anomaly" else None,
                          t0=dt.datetime(2020, 6, 26, 8 + 2 * k + (part != "normal"), 0, 0))
            out[part].append(folder)
    return out


def thermal_pipes(root: str, frames: int = 120, calib: int = 40, fps: float = 8.0) -> tuple[list, list]:
    """Three pipe temperatures (the scene's cold, warm and hot boiler) x `frames` frames,
    and `calib` calibration frames of each recorded later: ([normal folders], [calibration
    folders]) in the board's `t_ms,ambient,p0..p767` layout."""
    from host_tools.data import scene, thermal_data

    normal, cal = [], []
    for k, state in enumerate(("cold", "warm", "hot")):
        sc = scene.Scene(seed=30 + k, fps=fps, first_state=state, phase_minutes=(60.0, 60.0)).frames(
            (frames + calib) / fps)
        for part, sl, out in (("normal", slice(0, frames), normal), ("calibrate", slice(frames, None), cal)):
            folder = os.path.join(root, part, "pipe_" + state)
            thermal_data.write_frames(os.path.join(folder, "0000.csv"), sc["frames"][sl],
                                      {"t_ms": np.round(sc["t"][sl] * 1000).astype(int), "ambient": sc["ta"][sl]})
            out.append(folder)
    return normal, cal
