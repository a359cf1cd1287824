"""Recordings on disk -> windows -> feature matrices, with one clear error per bad input.

Two CSV formats, no header needed:
- accelerometer: rows of `x,y,z` in g (the ceiling-fan format), any number of rows;
- scalar stream: rows of `timestamp,value` (an optional header line is skipped).
A folder is one recording session; its CSV files are taken in name order (time order).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from device import features as features_mod


class DataError(Exception):
    """A recording cannot be used; the message names the file (and line)."""


def list_csv(folder: str) -> list[str]:
    if not os.path.exists(folder):
        raise DataError(f"{folder}: no such folder")
    if os.path.isfile(folder):
        return [folder]
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.lower().endswith(".csv"))
    if not files:
        raise DataError(f"{folder}: no .csv files in this folder")
    return files


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def read_csv(path: str, columns: int) -> np.ndarray:
    """Rows of `columns` numbers as a float64 array (rows, columns)."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read ({e})") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if lines and not any(_is_number(c) for c in lines[0].split(",")):
        lines = lines[1:]  # a header line
    if not lines:
        raise DataError(f"{path}: file has no data rows")
    body = "\n".join(lines)
    if body.count(",") == (columns - 1) * len(lines):
        try:
            data = np.array(body.replace(",", " ").split(), dtype=np.float64)
            if data.size == columns * len(lines) and np.all(np.isfinite(data)):
                return data.reshape(len(lines), columns)
        except ValueError:
            pass
    for n, ln in enumerate(lines, 1):  # slow path only to name the bad line
        cells = ln.split(",")
        if len(cells) != columns:
            raise DataError(f"{path}: line {n} has {len(cells)} columns, expected {columns}")
        for c in cells:
            if not _is_number(c):
                raise DataError(f"{path}: line {n} has a non-numeric value {c.strip()!r}")
            if not np.isfinite(float(c)):
                raise DataError(f"{path}: line {n} has a non-finite value {c.strip()!r}")
    raise DataError(f"{path}: malformed CSV")


def read_recording(path: str, kind: str) -> np.ndarray:
    """A recording as (axes, samples): 3 rows for accel, 1 row (the values) for scalar."""
    if kind == "accel":
        return read_csv(path, 3).T
    if kind == "scalar":
        return read_csv(path, 2)[:, 1:].T
    if kind == "thermal":  # (frames, 24, 32): one frame per row, see host_tools.thermal_data
        from host_tools import thermal_data

        return thermal_data.read_frames(path)[0]
    raise DataError(f"unknown sensor kind {kind!r}")


def cut_windows(rec: np.ndarray, window: int, path: str = "") -> list[np.ndarray]:
    """Non-overlapping windows of `window` samples, as float32 (axes, window) arrays
    (thermal recordings: each frame is a window)."""
    if rec.ndim == 3:
        return list(rec.astype(np.float32))
    n = rec.shape[1]
    if n < window:
        raise DataError(f"{path}: has {n} samples, shorter than the window of {window}")
    rec = rec.astype(np.float32)
    return [np.ascontiguousarray(rec[:, i:i + window]) for i in range(0, n - window + 1, window)]


@dataclass
class WindowSet:
    """Feature vectors of a folder's windows, in time order, with where each came from."""

    folder: str
    features: np.ndarray  # (n, F) float32
    files: list[str]
    index: list[int]  # window index within its file
    file_order: np.ndarray  # position of each window's file in the folder (time order)

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.folder))

    def __len__(self) -> int:
        return len(self.index)

    def subset(self, mask: np.ndarray) -> "WindowSet":
        idx = np.flatnonzero(mask)
        return WindowSet(self.folder, self.features[idx], [self.files[i] for i in idx],
                         [self.index[i] for i in idx], self.file_order[idx])

    def split_time(self, *fractions: float) -> list["WindowSet"]:
        """Split by file position: e.g. (0.6, 0.2, 0.2) -> first 60% of files, ..."""
        n_files = int(self.file_order.max()) + 1 if len(self) else 0
        edges = np.cumsum([0.0, *fractions])
        out = []
        for a, b in zip(edges[:-1], edges[1:]):
            lo, hi = int(round(a * n_files)), int(round(b * n_files))
            out.append(self.subset((self.file_order >= lo) & (self.file_order < hi)))
        return out


_open_line = [None]  # the stream a progress counter is writing on, until it ends its line


def end_progress_line() -> None:
    """Finish an unfinished progress line, so an error message starts a line of its own."""
    if _open_line[0] is not None:
        _open_line[0].write("\n")
        _open_line[0].flush()
        _open_line[0] = None


class Progress:
    """A one-line progress counter on stderr for long loads."""

    def __init__(self, label: str, total: int, stream=None, every: float = 0.1) -> None:
        self.label, self.total = label, max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.step = max(1, int(self.total * every))
        self.done = 0

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.done % self.step == 0 or self.done == self.total:
            self.stream.write(f"\r  {self.label}: {self.done}/{self.total}")
            _open_line[0] = self.stream
            if self.done >= self.total:
                end_progress_line()
            self.stream.flush()


def iter_windows(paths: Sequence[str], kind: str, window: int) -> Iterator[tuple[str, int, np.ndarray]]:
    for p in paths:
        for i, w in enumerate(cut_windows(read_recording(p, kind), window, p)):
            yield p, i, w


def load_folder(folder: str, extractor, progress: bool = True) -> WindowSet:
    """Every window of every CSV in `folder` through the device feature code."""
    files = list_csv(folder)
    kind = extractor.kind
    feats: list[np.ndarray] = []
    names: list[str] = []
    index: list[int] = []
    order: list[int] = []
    prog = Progress(os.path.basename(os.path.normpath(folder)), len(files)) if progress else None
    for fi, path in enumerate(files):
        for wi, w in enumerate(cut_windows(read_recording(path, kind), extractor.window, path)):
            feats.append(np.array(extractor.compute(w), dtype=np.float32))
            names.append(path)
            index.append(wi)
            order.append(fi)
        if prog:
            prog.tick()
    return WindowSet(folder, np.stack(feats), names, index, np.array(order))


def make_extractor(sensor: str, window: int, rate: float, bands: int = 16):
    if sensor == "accel":
        return features_mod.AccelFeatures(window, rate, bands)
    if sensor == "scalar":
        return features_mod.ScalarFeatures(window, rate)
    raise DataError(f"unknown sensor kind {sensor!r}")


def windows_of_paths(paths: Iterable[str], extractor) -> list[tuple[str, int, np.ndarray]]:
    """(file, window index, raw window) for files or folders given on a command line."""
    out = []
    for p in paths:
        for f in list_csv(p):
            for wi, w in enumerate(cut_windows(read_recording(f, extractor.kind), extractor.window, f)):
                out.append((f, wi, w))
    return out
