"""Thermal recordings: one MLX90640 frame per CSV row.

Format (what the board's recording mode writes, and what `train`/`evaluate`/`score` read):

- one frame per row: 768 temperatures in deg C, row-major (row 0 first: pixel k is row
  k // 32, column k % 32);
- an optional header row; leading columns before the 768 pixels are not pixels: a header
  names them (e.g. `t_ms,ambient,p0,...,p767`); without a header they are unnamed
  (`col0`, `col1`, ...). Recognised names: a time stamp (`t`, `t_ms`, `time`,
  `timestamp`), the sensor's ambient reading (`ambient`, `ta`), and a ground-truth label
  (`label` or `anomaly`: 1 where the frame shows an anomaly) for evaluation;
- every pixel a finite number within -60..400 deg C, else the file and line are named.

Files of blocks of 24 rows of 32 values (no header: what `device.recorder` makes of a
serial capture, one frame per file) are read too.

A folder is one session; its CSV files are taken in name order (time order).
"""

from __future__ import annotations

import os

import numpy as np

from device.framerows import csv_header, csv_row
from device.thermal import COLS, MAX_C, MIN_C, N, ROWS
from host_tools.data.datasets import DataError, list_csv

TIME_NAMES = ("t", "t_ms", "time", "timestamp")
AMBIENT_NAMES = ("ambient", "ta", "t_ambient")
LABEL_NAMES = ("label", "anomaly")


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def read_frames(path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(frames (n, 24, 32) float32, {leading column name: values}) of one CSV file."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln.strip()]
    if not numbered:
        raise DataError(f"{path}: file has no data rows")
    header = None
    first = numbered[0][1].split(",")
    if not all(_is_number(c) for c in first):
        header = [c.strip() for c in first]
        numbered = numbered[1:]
        if not numbered:
            raise DataError(f"{path}: file has a header but no frames")
    width = len(header) if header else len(numbered[0][1].split(","))
    if width == COLS and len(numbered) % ROWS == 0 and header is None:
        return _blocks(path, numbered)  # 24 rows of 32 per frame: the serial capture's files
    lead = width - N
    if lead < 0:
        raise DataError(f"{path}: line {numbered[0][0]} has {width} columns; a thermal frame row "
                        f"needs {N} pixel values (24 x 32), after any named leading columns")
    names = [h.lower() for h in header[:lead]] if header else [f"col{k}" for k in range(lead)]
    body = "\n".join(ln for _, ln in numbered)
    rows = len(numbered)
    data = None
    if body.count(",") == (width - 1) * rows:
        try:
            data = np.array(body.replace(",", " ").split(), dtype=np.float64)
            data = data.reshape(rows, width) if data.size == rows * width else None
        except ValueError:
            data = None
    if data is None:  # name the bad line
        for ln_no, ln in numbered:
            cells = ln.split(",")
            if len(cells) != width:
                raise DataError(f"{path}: line {ln_no} has {len(cells)} columns, expected {width}")
            for c in cells:
                if not _is_number(c):
                    raise DataError(f"{path}: line {ln_no} has a non-numeric value {c.strip()!r}")
        raise DataError(f"{path}: malformed CSV")
    pix = data[:, lead:]
    bad = ~np.isfinite(pix) | (pix < MIN_C) | (pix > MAX_C)
    if bad.any():
        r, k = np.argwhere(bad)[0]
        raise DataError(f"{path}: line {numbered[r][0]} pixel {k} (row {k // COLS}, col {k % COLS}) "
                        f"is {pix[r, k]!r}: not a temperature between {MIN_C:g} and {MAX_C:g} C")
    extra = {names[j]: data[:, j] for j in range(lead)}
    return pix.astype(np.float32).reshape(rows, ROWS, COLS), extra


def _blocks(path: str, numbered: list[tuple[int, str]]) -> tuple[np.ndarray, dict]:
    """Frames written as blocks of 24 rows of 32 values (device.recorder's window files)."""
    try:
        data = np.array([[float(c) for c in ln.split(",")] for _, ln in numbered], dtype=np.float64)
    except ValueError:
        for ln_no, ln in numbered:
            cells = ln.split(",")
            if len(cells) != COLS or not all(_is_number(c) for c in cells):
                raise DataError(f"{path}: line {ln_no}: not {COLS} numbers") from None
        raise DataError(f"{path}: malformed CSV") from None
    if not np.all(np.isfinite(data)) or data.min() < MIN_C or data.max() > MAX_C:
        raise DataError(f"{path}: a pixel is not a temperature between {MIN_C:g} and {MAX_C:g} C")
    return data.astype(np.float32).reshape(-1, ROWS, COLS), {}


def column(extra: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray | None:
    for n in names:
        if n in extra:
            return extra[n]
    return None


def load_folder(folder: str) -> dict:
    """Every frame of every CSV in `folder` (or one file): {"frames", "files", "index",
    "ambient" or None, "label" or None, "t" or None}."""
    files = list_csv(folder)
    frames, names, index, amb, lab, ts = [], [], [], [], [], []
    have_amb = have_lab = have_t = True
    for path in files:
        f, extra = read_frames(path)
        frames.append(f)
        names.extend([path] * len(f))
        index.extend(range(len(f)))
        a = column(extra, AMBIENT_NAMES)
        lb = column(extra, LABEL_NAMES)
        t = column(extra, TIME_NAMES)
        have_amb &= a is not None
        have_lab &= lb is not None
        have_t &= t is not None
        amb.append(a)
        lab.append(lb)
        ts.append(t)
    return {"frames": np.concatenate(frames), "files": names, "index": index,
            "ambient": np.concatenate(amb) if have_amb else None,
            "label": np.concatenate(lab) > 0.5 if have_lab else None,
            "t": np.concatenate(ts) if have_t else None}


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
