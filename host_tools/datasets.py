"""Recordings on disk -> windows -> feature matrices, with one clear error per bad input.

Two CSV formats:
- accelerometer: rows of `x,y,z` in g (the ceiling-fan format), any number of rows;
- scalar stream: rows of `timestamp,value`.
The row rules (optional header, blank lines, finite values inside a physical range,
line numbers as an editor counts them) are device.csvrows, the same code the board's
replay sensor uses; a clean file takes a NumPy fast path that checks the same rules.
A folder is one recording session; its CSV files are taken in name order (time order).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from device import csvrows
from device import features as features_mod
from device import model as model_mod


class DataError(Exception):
    """A recording cannot be used; the message names the file (and line)."""


def list_csv(folder: str) -> list[str]:
    if not os.path.exists(folder):
        raise DataError(f"{folder}: no such folder")
    if os.path.isfile(folder):
        return [folder]
    try:
        names = os.listdir(folder)
    except OSError as e:
        raise DataError(f"{folder}: cannot list ({e.strerror or e})") from None
    # Dot files are skipped as the board does (macOS leaves binary ._*.csv beside copies).
    files = sorted(os.path.join(folder, f) for f in names if f.lower().endswith(".csv") and not f.startswith("."))
    if not files:
        raise DataError(f"{folder}: no .csv files in this folder")
    return files


def _read_text(path: str) -> str:
    try:
        # utf-8-sig: a byte-order mark (Excel's CSV export) is not part of the first cell
        with open(path, "r", encoding="utf-8-sig") as f:
            return f.read()
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text CSV file (not UTF-8)") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a CSV file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None


def read_csv(path: str, kind: str, expect: str | None = None) -> np.ndarray:
    """A recording's data rows as a float64 array (rows, columns), by device.csvrows'
    rules. `expect` phrases what the caller asked for, for the message when the file
    holds another sensor's data ("the model is for a 'scalar' sensor")."""
    if kind not in csvrows.KINDS:
        raise DataError(f"unknown sensor kind {kind!r}")
    columns, lo, hi, ranged = csvrows.KINDS[kind][:4]
    lines = _read_text(path).split("\n")  # text mode: \r\n and \r are already \n
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None:
        head = lines[first].strip().split(",")
        body = [ln for ln in lines[first + csvrows.is_header(head):] if ln.strip()]
        text = "\n".join(body)
        commas = columns - 1  # per line: equal totals could hide a short line next to a long one
        if body and all(ln.count(",") == commas for ln in body):
            try:
                data = np.array(text.replace(",", " ").split(), dtype=np.float64)
            except ValueError:
                data = None
            if data is not None and data.size == columns * len(body):
                data = data.reshape(len(body), columns)
                checked = data[:, ranged:]
                if lo is None:
                    lo, hi = -csvrows.FLOAT32_MAX, csvrows.FLOAT32_MAX
                ok = ((checked >= lo) & (checked <= hi)).all()  # NaN fails both comparisons
                if ok and np.isfinite(data).all():
                    return data
    # Not clean (or empty): the shared per-line rules find and name the first bad line.
    rows = csvrows.Rows(kind, path, expect=expect)
    try:
        out = [r for r in map(rows.feed, lines) if r is not None]
    except csvrows.RowError as e:
        raise DataError(str(e)) from None
    if not out:
        raise DataError(f"{path}: file has no data rows")
    return np.array(out, dtype=np.float64)


def read_recording(path: str, kind: str, expect: str | None = None) -> np.ndarray:
    """A recording as (axes, samples): 3 rows for accel, 1 row (the values) for scalar."""
    if kind == "accel":
        return read_csv(path, kind, expect).T
    if kind == "scalar":
        return read_csv(path, kind, expect)[:, 1:].T
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


def load_folder(folder: str, extractor, progress: bool = True, expect: str | None = None) -> WindowSet:
    """Every window of every CSV in `folder` through the device feature code."""
    files = list_csv(folder)
    kind = extractor.kind
    feats: list[np.ndarray] = []
    names: list[str] = []
    index: list[int] = []
    order: list[int] = []
    prog = Progress(os.path.basename(os.path.normpath(folder)), len(files)) if progress else None
    for fi, path in enumerate(files):
        for wi, w in enumerate(cut_windows(read_recording(path, kind, expect), extractor.window, path)):
            feats.append(np.array(extractor.compute(w), dtype=np.float32))
            names.append(path)
            index.append(wi)
            order.append(fi)
        if prog:
            prog.tick()
    return WindowSet(folder, np.stack(feats), names, index, np.array(order))


def spectrum_bins(window: int) -> int:
    """Frequency bins (DC excluded) the accel features split into bands: the window is
    zero-padded to a power of two."""
    return features_mod.next_pow2(int(window)) // 2


def load_model(path: str) -> tuple[dict, Any]:
    """A model file and the feature extractor its recipe builds, checked to agree with the
    model's feature names (a hand-edited recipe would silently score the wrong features)."""
    if os.path.isdir(path):
        raise DataError(f"{path}: is a folder, expected a model file (e.g. {os.path.join(path, 'model.json')})")
    if not os.path.exists(path):
        raise DataError(f"{path}: model file not found")
    try:
        doc = model_mod.load(path)
    except model_mod.ModelError as e:
        if _json_but_not_a_model(path):
            raise DataError(f"{path}: is JSON but not a model file (no 'schema' field; "
                            f"models are written by `python -m host_tools train`)") from None
        raise DataError(f"{path}: {e}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read the model ({e.strerror or e})") from None
    recipe = doc["features"]
    try:
        ex = features_mod.from_recipe(recipe, doc)
    except (ValueError, KeyError, TypeError) as e:
        raise DataError(f"{path}: its feature recipe cannot be built ({e})") from None
    names = list(recipe["names"])
    if list(ex.names) != names:
        shown = ", ".join(f"{k}={recipe[k]}" for k in ("kind", "window", "rate", "bands") if k in recipe)
        diff = next((i for i, (a, b) in enumerate(zip(ex.names, names)) if a != b), min(len(names), len(ex.names)))
        raise DataError(f"{path}: its feature recipe ({shown}) gives {len(ex.names)} features but the model "
                        f"lists {len(names)} names (first difference at #{diff + 1}): the file was edited "
                        f"or written by another version")
    return doc, ex


def _json_but_not_a_model(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return False
    return not (isinstance(doc, dict) and "schema" in doc)


def model_expect(path: str, extractor) -> str:
    """How a kind mismatch between a model and a recording starts its message."""
    kind = extractor.kind
    return f"{path} is a model for {'an' if kind[0] in 'aeiou' else 'a'} '{kind}' sensor"


def make_extractor(sensor: str, window: int, rate: float, bands: int = 16):
    if sensor == "accel":
        return features_mod.AccelFeatures(window, rate, bands)
    if sensor == "scalar":
        return features_mod.ScalarFeatures(window, rate)
    raise DataError(f"unknown sensor kind {sensor!r}")


def windows_of_paths(paths: Iterable[str], extractor,
                     expect: str | None = None) -> list[tuple[str, int, np.ndarray]]:
    """(file, window index, raw window) for files or folders given on a command line."""
    out = []
    for p in paths:
        for f in list_csv(p):
            for wi, w in enumerate(cut_windows(read_recording(f, extractor.kind, expect), extractor.window, f)):
                out.append((f, wi, w))
    return out
