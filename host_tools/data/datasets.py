"""Recordings on disk -> sessions of time-ordered streams -> windows -> feature matrices,
with one clear error per bad input.

A folder is one recording session. Its files (CSV, or Edge Impulse JSON; host_tools.data.readers
reads each, by device.csvrows' row rules, the same code the board's replay sensor uses)
are put in time order: by their first time stamp when every file has time stamps,
otherwise in natural name order (H2 before H10); the order used is reported.

Consecutive files that are contiguous in time (the next starts within GAP_PERIODS sample
periods of the last sample) form one stream, and windows may span them. A step longer
than that, inside a file or between files, is a gap: reported, and never bridged by a
window. Files without time stamps are each a stream of their own (nothing says they are
contiguous). Windows are non-overlapping, `window` samples, from the start of each
gap-free piece; each keeps the file and line of its first sample and its start time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from device import csvrows
from device import features as features_mod
from device import model as model_mod
from host_tools.data import readers
from host_tools.data import timeaxis
from host_tools.data.readers import ReadOptions


class DataError(Exception):
    """A recording cannot be used; the message names the file (and line)."""


MAX_NOTES = 6  # gap notes printed per session (the rest are counted)


def list_csv(folder: str) -> list[str]:
    """The recording files of a folder (CSV and Edge Impulse JSON) in natural name order,
    or the file itself."""
    if not os.path.exists(folder):
        raise DataError(f"{folder}: no such folder")
    if os.path.isfile(folder):
        return [folder]
    try:
        names = os.listdir(folder)
    except OSError as e:
        raise DataError(f"{folder}: cannot list ({e.strerror or e})") from None
    # Dot files are skipped as the board does (macOS leaves binary ._*.csv beside copies).
    files = [os.path.join(folder, f) for f in sorted(names, key=timeaxis.natural_key) if readers.is_recording(f)]
    if not files:
        raise DataError(f"{folder}: no .csv files (nor Edge Impulse .json) in this folder")
    return files


def read_csv(path: str, kind: str, expect: str | None = None, opts: ReadOptions | None = None) -> np.ndarray:
    """A CSV recording's data rows as a float64 array (rows, columns) by device.csvrows'
    rules: the kind's values, and for the scalar kind [time stamp as written, value].
    `expect` phrases what the caller asked for, for the message when the file holds
    another sensor's data ("the model is for a 'scalar' sensor")."""
    try:
        t = readers.read_csv(path, kind, expect, opts or readers.DEFAULT)
    except readers.ReadError as e:
        raise DataError(str(e)) from None
    if kind == "scalar":
        times = t.times if t.times is not None and not t.absolute else np.zeros(len(t.values))
        return np.column_stack([times, t.values])
    return t.values


def read_table(path: str, kind: str, rate: float, expect: str | None = None,
               opts: ReadOptions | None = None) -> readers.Table:
    try:
        return readers.read(path, kind, rate, expect, opts or readers.DEFAULT)
    except readers.ReadError as e:
        raise DataError(str(e)) from None


def read_recording(path: str, kind: str, expect: str | None = None, opts: ReadOptions | None = None,
                   rate: float | None = None) -> np.ndarray:
    """A recording as (axes, samples): 3 rows for accel, 1 row (the values) for scalar."""
    if kind not in csvrows.KINDS:
        raise DataError(f"unknown sensor kind {kind!r}")
    if kind == "thermal":  # (frames, 24, 32): one frame per row, see host_tools.data.thermal_data
        try:
            return readers.read_frames(path, rate, opts or readers.DEFAULT).frames
        except readers.ReadError as e:
            raise DataError(str(e)) from None
    if rate is None:
        try:
            t = (readers.read_edge_impulse_json(path, kind, opts or readers.DEFAULT) if path.lower().endswith(".json")
                 else readers.read_csv(path, kind, expect, opts or readers.DEFAULT))
        except readers.ReadError as e:
            raise DataError(str(e)) from None
    else:
        t = read_table(path, kind, rate, expect, opts)
    return t.values.T


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


# ---- sessions and streams ---------------------------------------------------------------

@dataclass
class Stream:
    """Samples of consecutive, time-contiguous files (or of one file without time stamps)."""

    files: list[str]  # the session's files, in order (shared by every stream)
    values: np.ndarray  # (axes, n) float64
    file_pos: np.ndarray  # (n,) position of each sample's file in `files`
    lines: np.ndarray  # (n,) line (or JSON entry) of each sample in its file
    times: np.ndarray | None  # (n,) seconds, None without time stamps
    absolute: bool
    pieces: list[tuple[int, int]]  # [start, stop) of each gap-free stretch

    def windows(self, window: int) -> list[int]:
        """Start sample of every window: from each piece's start, never across a gap."""
        out: list[int] = []
        for a, b in self.pieces:
            out.extend(range(a, b - window + 1, window))
        return out

    def where(self, i: int) -> tuple[str, int, Any]:
        """(file, line, time for output) of sample i."""
        t = timeaxis.format_time(float(self.times[i]), self.absolute) if self.times is not None else None
        return self.files[int(self.file_pos[i])], int(self.lines[i]), t


@dataclass
class Session:
    name: str
    files: list[str]  # in the order used
    streams: list[Stream]
    order: str  # how the files were ordered, for the user
    notes: list[str] = field(default_factory=list)  # gaps and joins, for the user


def _gap_text(d: float, period: float) -> str:
    return f"{timeaxis.describe_period(d)} ({d / period:.3g} sample periods)"


def load_session(folder: str, kind: str, rate: float, expect: str | None = None,
                 opts: ReadOptions | None = None, progress: bool = False,
                 files: list[str] | None = None) -> Session:
    """Read a folder's (or the given) files, order them in time, join contiguous ones."""
    files = list_csv(folder) if files is None else files
    label = os.path.basename(os.path.normpath(folder))
    prog = Progress(label, len(files)) if progress else None
    tables = []
    notes: list[str] = []
    for f in files:  # a binary or huge file is refused before minutes of reading the others
        try:
            readers.check_file(f)
        except readers.ReadError as e:
            raise DataError(str(e)) from None
    for f in files:
        tables.append(read_table(f, kind, rate, expect, opts))
        notes.extend(tables[-1].notes)
        if prog:
            prog.tick()
    timed = all(t.times is not None for t in tables)
    if timed and len(tables) > 1:
        pos = {t.path: i for i, t in enumerate(tables)}
        tables.sort(key=lambda t: (t.t0, pos[t.path]))
        moved = [t.path for t in tables] != files
        order = (f"{len(tables)} files ordered by their first time stamp"
                 + (" (not their name order)" if moved else " (the same as name order)"))
    elif len(tables) > 1:
        some = any(t.times is not None for t in tables)
        order = f"{len(tables)} files in natural name order" + (
            " (not all have time stamps)" if some else " (no time stamps)")
    else:
        order = "1 file"
    period = 1.0 / rate
    gap = timeaxis.GAP_PERIODS * period
    ordered = [t.path for t in tables]
    streams: list[Stream] = []
    group: list[tuple[int, readers.Table]] = []

    def close() -> None:
        if not group:
            return
        vals = np.concatenate([t.values for _, t in group]).T
        pos = np.concatenate([np.full(len(t.values), i) for i, t in group])
        lines = np.concatenate([t.lines for _, t in group])
        times = np.concatenate([t.times for _, t in group]) if group[0][1].times is not None else None
        pieces = [(0, vals.shape[1])]
        if times is not None:
            steps = np.diff(times)
            # a gap, or a clock that stepped back or repeated a stamp (noted by the reader)
            cut = np.flatnonzero((steps > gap) | (steps <= 0)) + 1
            for c in cut[steps[cut - 1] > gap]:
                f, ln, when = Stream(ordered, vals, pos, lines, times, group[0][1].absolute, []).where(int(c))
                if int(pos[c]) == int(pos[c - 1]):
                    notes.append(f"{f}: gap of {_gap_text(times[c] - times[c - 1], period)} before line {ln} "
                                 f"({when}): windows do not span it")
            edges = [0, *cut.tolist(), vals.shape[1]]
            pieces = list(zip(edges[:-1], edges[1:]))
        streams.append(Stream(ordered, vals, pos, lines, times, group[0][1].absolute, pieces))
        group.clear()

    for i, t in enumerate(tables):
        if group:
            prev = group[-1][1]
            if t.times is not None and prev.times is not None and prev.absolute == t.absolute:
                d = t.t0 - prev.t1
                if 0 < d <= gap:
                    group.append((i, t))
                    continue
                if d > gap:
                    notes.append(f"{t.path}: starts {_gap_text(d, period)} after {os.path.basename(prev.path)} "
                                 f"ends: a gap, windows do not span it")
                elif prev.t0 <= t.t0:
                    notes.append(f"{t.path}: starts before {os.path.basename(prev.path)} ends "
                                 f"(time stamps overlap): not joined")
            close()
        group.append((i, t))
    close()
    return Session(label, ordered, streams, order, notes)


def session_notes(s: Session) -> list[str]:
    """What the user should know about a session's order, joins and gaps (a few lines)."""
    joined = sum(1 for st in s.streams if len(set(st.file_pos.tolist())) > 1)
    head = f"{s.name}: {s.order}"
    if joined:
        head += f"; {len(s.files)} files form {len(s.streams)} stream(s) (contiguous files joined)"
    out = [head]
    out.extend(s.notes[:MAX_NOTES])
    if len(s.notes) > MAX_NOTES:
        out.append(f"{s.name}: ... and {len(s.notes) - MAX_NOTES} more notes")
    return out


@dataclass
class WindowRef:
    """Where one window came from."""

    file: str
    line: int  # of the window's first sample
    index: int  # window index within its stream
    start: Any  # start time (ISO text or seconds), None without time stamps
    t: float  # start time in seconds (NaN without time stamps)


def session_windows(s: Session, window: int) -> list[tuple[WindowRef, np.ndarray]]:
    """(where, raw float32 (axes, window) array) of every window of a session."""
    out = []
    for st in s.streams:
        starts = st.windows(window)
        if not starts and len(st.pieces) == 1:
            f = st.files[int(st.file_pos[0])]
            raise DataError(f"{f}: has {st.values.shape[1]} samples, shorter than the window of {window}")
        for wi, a in enumerate(starts):
            f, ln, when = st.where(a)
            t = float(st.times[a]) if st.times is not None else math.nan
            w = np.ascontiguousarray(st.values[:, a:a + window], dtype=np.float32)
            out.append((WindowRef(f, ln, wi, when, t), w))
    if not out:
        raise DataError(f"{s.name}: no stretch without a gap is as long as the window of {window} samples")
    return out


@dataclass
class WindowSet:
    """Feature vectors of a folder's windows, in time order, with where each came from."""

    folder: str
    features: np.ndarray  # (n, F) float32
    files: list[str]
    index: list[int]  # window index within its stream (its file, for files without time stamps)
    file_order: np.ndarray  # position of each window's (first sample's) file in the session
    lines: list[int] = field(default_factory=list)  # line of each window's first sample
    starts: np.ndarray | None = None  # start time of each window, seconds (NaN: none)
    absolute: bool = False
    notes: list[str] = field(default_factory=list)
    labels: list[str] | None = None  # per window, from a label column (one-window-per-row files)

    @property
    def name(self) -> str:
        return os.path.basename(os.path.normpath(self.folder))

    def __len__(self) -> int:
        return len(self.index)

    def subset(self, mask: np.ndarray) -> "WindowSet":
        idx = np.flatnonzero(mask)
        return WindowSet(self.folder, self.features[idx], [self.files[i] for i in idx],
                         [self.index[i] for i in idx], self.file_order[idx],
                         [self.lines[i] for i in idx] if self.lines else [],
                         self.starts[idx] if self.starts is not None else None, self.absolute, self.notes,
                         [self.labels[i] for i in idx] if self.labels is not None else None)

    def part_masks(self, *fractions: float) -> list[np.ndarray]:
        """Masks of consecutive time-ordered parts, e.g. (0.6, 0.2, 0.2). Whole files go
        to a part when there are enough files for every part to get one (neighbouring
        windows of one file are near-copies: nothing leaks across a file boundary);
        otherwise (a single long recording) the windows themselves are split in time."""
        edges = np.cumsum([0.0, *fractions])
        n_files = int(self.file_order.max()) + 1 if len(self) else 0
        by_file = [(int(round(a * n_files)), int(round(b * n_files))) for a, b in zip(edges[:-1], edges[1:])]
        if n_files and all(hi > lo for lo, hi in by_file):
            return [(self.file_order >= lo) & (self.file_order < hi) for lo, hi in by_file]
        pos = np.arange(len(self))
        n = len(self)
        return [(pos >= int(round(a * n))) & (pos < int(round(b * n))) for a, b in zip(edges[:-1], edges[1:])]

    def split_time(self, *fractions: float) -> list["WindowSet"]:
        """Split in time order: e.g. (0.6, 0.2, 0.2) -> first 60%, next 20%, last 20%
        (by file where there are enough files, else by window; see part_masks)."""
        return [self.subset(m) for m in self.part_masks(*fractions)]

    def span(self) -> str:
        """The time the windows cover, for messages ('' without time stamps)."""
        if self.starts is None or not len(self) or not np.isfinite(self.starts).any():
            return ""
        a, b = float(np.nanmin(self.starts)), float(np.nanmax(self.starts))
        return f"{timeaxis.format_time(a, self.absolute)} .. {timeaxis.format_time(b, self.absolute)}"


_open_line: list[Any] = [None]  # the stream a progress counter is writing on, until it ends its line


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


def opts_for(extractor, opts: ReadOptions | None) -> ReadOptions:
    """The reading options with the extractor's axis count (accel: 1, 2 or 3)."""
    opts = opts or readers.DEFAULT
    if extractor.kind == "accel" and opts.axes is None and getattr(extractor, "axes", 3) != 3:
        return dataclasses.replace(opts, axes=extractor.axes)
    return opts


def load_folder(folder: str, extractor, progress: bool = True, expect: str | None = None,
                opts: ReadOptions | None = None) -> WindowSet:
    """Every window of a session through the device feature code."""
    opts = opts_for(extractor, opts)
    files = list_csv(folder)
    if extractor.kind != "thermal" and readers.is_window_rows(files[0], opts):
        return load_window_rows(folder, files, extractor, opts)
    if extractor.kind == "thermal":
        wins, _ = located_windows([folder], extractor, expect, opts)
        refs0 = [r for r, _ in wins]
        files0 = list_csv(folder)
        pos0 = {f: i for i, f in enumerate(files0)}
        return WindowSet(folder, np.stack([np.array(extractor.compute(w), dtype=np.float32) for _, w in wins]),
                         [r.file for r in refs0], [r.index for r in refs0], np.array([pos0[r.file] for r in refs0]),
                         [r.line for r in refs0], np.array([r.t for r in refs0]),
                         any(isinstance(r.start, str) for r in refs0))
    s = load_session(folder, extractor.kind, extractor.rate, expect, opts, progress)
    feats: list[np.ndarray] = []
    refs: list[WindowRef] = []
    for ref, w in session_windows(s, extractor.window):
        feats.append(np.array(extractor.compute(w), dtype=np.float32))
        refs.append(ref)
    pos = {f: i for i, f in enumerate(s.files)}
    absolute = any(st.absolute for st in s.streams)
    return WindowSet(folder, np.stack(feats), [r.file for r in refs], [r.index for r in refs],
                     np.array([pos[r.file] for r in refs]), [r.line for r in refs],
                     np.array([r.t for r in refs]), absolute, session_notes(s))


NORMAL_LABELS = ("normal", "ok", "good", "healthy", "0", "false", "no", "none", "")


def is_normal_label(label: str) -> bool:
    return label.strip().lower() in NORMAL_LABELS


def load_window_rows(folder: str, files: list[str], extractor, opts: ReadOptions) -> WindowSet:
    """A folder of one-window-per-row files (readers.read_window_rows) as a WindowSet:
    each row a window, in file and row order, with its label when the files have one."""
    kind = extractor.kind
    lo, hi = (-features_mod.MAX_G, features_mod.MAX_G) if kind == "accel" else (-csvrows.FLOAT32_MAX, csvrows.FLOAT32_MAX)
    index: list[int]
    feats, fpos, index, lines, labels, notes = [], [], [], [], [], []
    have_labels = True
    for k, f in enumerate(files):
        if not readers.is_window_rows(f, opts):
            raise DataError(f"{f}: not one window per row like {os.path.basename(files[0])}: a folder "
                            f"holds one layout")
        try:
            wr = readers.read_window_rows(f, opts, lo, hi)
        except readers.ReadError as e:
            raise DataError(str(e)) from None
        n, axes, samples = wr.windows.shape
        want_axes = getattr(extractor, "axes", 1)
        if samples != extractor.window:
            raise DataError(f"{f}: its rows are windows of {samples} samples but the window is "
                            f"{extractor.window}: give --window {samples}")
        if axes != want_axes:
            raise DataError(f"{f}: its rows hold {axes} ax{'is' if axes == 1 else 'es'} "
                            f"({', '.join(wr.axis_names)}) but {want_axes} are expected: give --axes {axes}")
        for i in range(n):
            feats.append(np.array(extractor.compute(wr.windows[i].astype(np.float32)), dtype=np.float32))
        fpos.extend([k] * n)
        index.extend(range(n))
        lines.extend(wr.lines.tolist())
        have_labels &= wr.labels is not None
        labels.extend(wr.labels or [""] * n)
        notes.extend(wr.notes)
    label = os.path.basename(os.path.normpath(folder))
    return WindowSet(folder, np.stack(feats), [files[k] for k in fpos], index, np.array(fpos), lines,
                     np.full(len(index), math.nan), False, [f"{label}: {len(files)} file(s) of windows"] + notes,
                     labels if have_labels else None)


def normal_only(ws: WindowSet) -> tuple[WindowSet, str | None]:
    """The windows labelled normal (all of them without labels), and a note saying so."""
    if ws.labels is None:
        return ws, None
    keep = np.array([is_normal_label(v) for v in ws.labels])
    others = sorted({v for v in ws.labels if not is_normal_label(v)})
    if not keep.any():
        raise DataError(f"{ws.folder}: no window is labelled normal (labels: {readers.cut_list(others, 8, ', ')}); "
                        f"normal labels are {', '.join(repr(v) for v in NORMAL_LABELS if v)}")
    note = (f"{ws.name}: {int(keep.sum())} of {len(ws)} windows are labelled normal and used; "
            f"the others ({readers.cut_list(others, 8, ', ')}) are left for evaluate") if others else None
    return ws.subset(keep), note


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


def make_extractor(sensor: str, window: int, rate: float, bands: int = 16, axes: int = 3):
    if sensor == "accel":
        return features_mod.AccelFeatures(window, rate, bands, axes)
    if sensor == "scalar":
        from device.scalarfeatures import ScalarFeatures  # its own module: off the accel board's heap

        return ScalarFeatures(window, rate)
    raise DataError(f"unknown sensor kind {sensor!r}")


def windows_of_paths(paths: Iterable[str], extractor, expect: str | None = None,
                     opts: ReadOptions | None = None) -> list[tuple[str, int, np.ndarray]]:
    """(file, window index, raw window) for files or folders given on a command line."""
    return [(r.file, r.index, w) for r, w in located_windows(paths, extractor, expect, opts)[0]]


def located_windows(paths: Iterable[str], extractor, expect: str | None = None,
                    opts: ReadOptions | None = None) -> tuple[list[tuple[WindowRef, np.ndarray]], list[str]]:
    """Every window of the given folders or files (each folder a session; loose files
    given together are one session), with where it came from; and the notes."""
    paths = list(paths)
    opts = opts_for(extractor, opts)
    for p in paths:
        list_csv(p)  # every path checked first
    out: list[tuple[WindowRef, np.ndarray]] = []
    notes: list[str] = []
    if extractor.kind == "thermal":  # frame files (host_tools.data.thermal_data): a frame per window
        for p in paths:
            for f in list_csv(p):
                try:
                    fr = readers.read_frames(f, extractor.rate, opts or readers.DEFAULT)
                except readers.ReadError as e:
                    raise DataError(str(e)) from None
                notes.extend(fr.notes)
                for wi, w in enumerate(fr.frames):
                    t = float(fr.times[wi]) if fr.times is not None else math.nan
                    when = timeaxis.format_time(t, fr.absolute) if fr.times is not None else None
                    out.append((WindowRef(f, int(fr.lines[wi]), wi, when, t), w))
        return out, notes
    loose = [p for p in paths if os.path.isfile(p)]
    for p in paths:
        if os.path.isfile(p):
            if p != (loose[0] if loose else None):
                continue
            s = load_session(os.path.dirname(p) or ".", extractor.kind, extractor.rate, expect, opts, files=loose)
        else:
            s = load_session(p, extractor.kind, extractor.rate, expect, opts)
        out.extend(session_windows(s, extractor.window))
        notes.extend(session_notes(s))
    return out, notes
