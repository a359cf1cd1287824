"""Thermal recordings: one MLX90640 frame per CSV row.

Format (what the board's recording mode writes, and what `train`/`evaluate`/`score` read):

- one frame per row: 768 temperatures in deg C, row-major (row 0 first: pixel k is row
  k // 32, column k % 32);
- an optional header row; leading columns before the 768 pixels are not pixels: a header
  names them (e.g. `t_ms,ambient,p0,...,p767`); without a header they are unnamed
  (`col0`, `col1`, ...). Recognised names: a time stamp (`t`, `t_ms`, `time`,
  `timestamp`; a number or an ISO-8601 date, as in the public `Time,RT,P000..P767`
  layout), the sensor's ambient reading (`ambient`, `ta`), and a ground-truth label
  (`label` or `anomaly`: 1, or any word but normal/ok/0, where the frame shows an
  anomaly) for evaluation; with named pixels (`p0..`, `P000..`) columns may follow them;
- every pixel a finite number within -60..400 deg C, else the file and line are named;
- commas, semicolons or tabs between cells, decimal points or commas (detected).

The reading itself is host_tools.data.readers.read_frames (time stamps checked as every
reader checks them); this module keeps the folder-level view and the writers.

Files of blocks of 24 rows of 32 values (no header: what `device.recorder` makes of a
serial capture, one frame per file) are read too.

A folder is one session; its CSV files are taken in name order (time order).
"""

from __future__ import annotations

import os
from typing import cast

import numpy as np

from device.framerows import csv_header, csv_row
from device.thermal import N
from host_tools.data import readers
from host_tools.data.datasets import DataError, list_csv

TIME_NAMES = ("t", "t_ms", "time", "timestamp")
AMBIENT_NAMES = ("ambient", "ta", "t_ambient")
LABEL_NAMES = ("label", "anomaly")


NORMAL_LABELS = ("normal", "ok", "0", "false", "no", "")


def read(path: str, rate: float | None = None, opts: readers.ReadOptions = readers.DEFAULT) -> readers.Frames:
    """One frame CSV (host_tools.readers.read_frames), errors as DataError."""
    try:
        return readers.read_frames(path, rate, opts)
    except readers.ReadError as e:
        raise DataError(str(e)) from None


def read_frames(path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(frames (n, 24, 32) float32, {leading column name: values}) of one CSV file."""
    f = read(path)
    return f.frames, f.extra


def is_anomaly(labels: np.ndarray) -> np.ndarray:
    """Label column -> bool per frame: numbers over 0.5, or any text but a normal word."""
    if labels.dtype == object:
        return np.array([str(v).strip().lower() not in NORMAL_LABELS for v in labels])
    return labels > 0.5


def column(extra: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray | None:
    for n in names:
        if n in extra:
            return extra[n]
    return None


def load_folder(folder: str, rate: float | None = None, opts: readers.ReadOptions = readers.DEFAULT) -> dict:
    """Every frame of every CSV in `folder` (or one file): {"frames", "files", "index",
    "ambient" or None, "label" (bool per frame) or None, "t" (seconds) or None, "notes",
    "rate" (frames per second the time stamps show, or None)}. With `rate` the time
    stamps are checked against it."""
    files = list_csv(folder)
    for path in files:  # a binary or huge file is refused before reading the others
        try:
            readers.check_file(path)
        except readers.ReadError as e:
            raise DataError(str(e)) from None
    index: list[int]
    frames, names, index, amb, lab, ts, notes = [], [], [], [], [], [], []
    have_amb = have_lab = have_t = True
    for path in files:
        fr = read(path, rate)
        f, extra = fr.frames, fr.extra
        frames.append(f)
        names.extend([path] * len(f))
        index.extend(range(len(f)))
        a = column(extra, AMBIENT_NAMES)
        lb = column(extra, LABEL_NAMES)
        have_amb &= a is not None
        have_lab &= lb is not None
        have_t &= fr.times is not None
        amb.append(a)
        lab.append(is_anomaly(lb) if lb is not None else None)
        ts.append(fr.times)
        notes.extend(fr.notes)
    t = np.concatenate(cast("list[np.ndarray]", ts)) if have_t else None  # have_t: none is None
    shown = None
    if t is not None:
        steps = np.diff(t)
        steps = steps[steps > 0]
        shown = 1.0 / float(np.median(steps)) if len(steps) else None
    return {"frames": np.concatenate(frames), "files": names, "index": index,
            "ambient": np.concatenate(cast("list[np.ndarray]", amb)) if have_amb else None,
            "label": np.concatenate(cast("list[np.ndarray]", lab)) if have_lab else None,
            "t": t, "notes": notes, "rate": shown}


def write_frames(path: str, frames: np.ndarray, columns: dict[str, np.ndarray] | None = None) -> None:
    """Write frames in the recording format (header, named leading columns first)."""
    columns = columns or {}
    names = list(columns)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    flat = np.asarray(frames, dtype=np.float64).reshape(len(frames), N)
    with open(path, "w", encoding="utf-8") as f:
        f.write(csv_header(names) + "\n")
        for i in range(len(flat)):
            lead = [int(columns[n][i]) if n in ("t_ms", "label") else float(columns[n][i]) for n in names]
            f.write(csv_row(flat[i], lead) + "\n")


def write_scalar(path: str, t: np.ndarray, values: np.ndarray) -> None:
    """A scalar stream (`timestamp,value`) from a camera channel, for `train --sensor scalar`."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("timestamp,value\n")
        for a, b in zip(t, values):
            f.write(f"{a:.3f},{b:.3f}\n")
