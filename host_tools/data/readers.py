"""One recording file -> a Table: values (in the sensor's unit: g for accel), time stamps,
and the line each row came from, so later messages can name the line.

Formats:
- CSV, with or without a header, by device.csvrows' rules (the board's replay reads rows
  the same way): columns picked by name or position (`columns`), values scaled from the
  file's unit (`units`: g or m/s2 for accel), time stamps as numbers (s or ms) or
  ISO-8601 dates. Edge Impulse's data-acquisition CSV (`timestamp,accX,accY,accZ`, the
  timestamp in ms) is such a CSV.
- Edge Impulse's data-acquisition JSON (payload.interval_ms, payload.sensors with names
  and units, payload.values): the file states its units, so m/s2 is converted to g.
write_edge_impulse_csv / _json write those two formats, so recordings move both ways.

A clean CSV takes a NumPy fast path that checks the same rules as csvrows; anything else
goes through csvrows line by line, which names the first bad line.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from device import csvlayout, csvrows
from host_tools.data import timeaxis

STANDARD_GRAVITY = 9.80665
UNITS = ("g", "m/s2")
EI_AXES = ("accx", "accy", "accz")


class ReadError(ValueError):
    """A file cannot be read as a recording; str(e) names the file (and line)."""


@dataclass
class ReadOptions:
    """How to read the files of a command: value columns and the values' unit."""

    columns: list[str] | None = None
    units: str = "g"
    axes: int | None = None  # accel values per row: None for 3, or what the recordings have (auto)
    separator: str | None = None  # None: detected (comma, semicolon or tab)
    decimal: str | None = None  # None: detected ("." or ",")

    def scale(self, kind: str) -> float:
        if self.units in ("m/s2", "m/s^2", "ms2"):
            if kind != "accel":
                raise ReadError(f"--units {self.units}: only accelerometer data has a unit to convert")
            return 1.0 / STANDARD_GRAVITY
        if self.units != "g":
            raise ReadError(f"--units {self.units}: expected g or m/s2")
        return 1.0


DEFAULT = ReadOptions()


@dataclass
class Table:
    path: str
    values: np.ndarray  # (rows, value columns) float64, in g for accel
    lines: np.ndarray  # (rows,) the line (CSV) or entry (JSON, from 1) of each row
    times: np.ndarray | None = None  # (rows,) seconds, None without time stamps
    absolute: bool = False  # times are calendar times (seconds since 1970, UTC)
    time_name: str | None = None
    where: str = "line"  # what `lines` counts
    edge_impulse: bool = False  # Edge Impulse's CSV: its "timestamp" is in ms
    in_seconds: bool = False  # times are already seconds (not a column to settle the unit of)
    breaks: list[int] = field(default_factory=list)  # rows where the clock stepped back or repeated
    notes: list[str] = field(default_factory=list)  # what the reader did that the user should know

    @property
    def t0(self) -> float:
        return float(self.times[0]) if self.times is not None else math.nan

    @property
    def t1(self) -> float:
        return float(self.times[-1]) if self.times is not None else math.nan


MAX_FILE_BYTES = 256 * 1024 ** 2  # far beyond any recording a command trains or scores on
SNIFF_BYTES = 64 * 1024


def _size_text(n: int) -> str:
    for unit, k in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= k:
            return f"{n / k:.3g} {unit}"
    return f"{n} bytes"


def check_file(path: str, limit: int = MAX_FILE_BYTES) -> int:
    """Refuse, before reading it, a file that is not text (NUL bytes in its first 64 KB:
    a binary, a sparse or a corrupt file) or far larger than any recording; returns its
    size. Both refusals name the file and its size."""
    what = "JSON" if path.lower().endswith(".json") else "CSV"
    try:
        size = os.path.getsize(path)
        if os.path.isdir(path):
            raise IsADirectoryError
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
    except IsADirectoryError:
        raise ReadError(f"{path}: is a folder, expected a {what} file") from None
    except OSError as e:
        raise ReadError(f"{path}: cannot read ({e.strerror or e})") from None
    if b"\0" in head:
        raise ReadError(f"{path}: not a text {what} file ({_size_text(size)}, with NUL bytes from "
                        f"byte {head.index(bytes(1))}): not read")
    if size > limit:
        raise ReadError(f"{path}: {_size_text(size)}, larger than any recording this command "
                        f"reads ({_size_text(limit)}): not read; split it into smaller files")
    return size


def read_text(path: str) -> str:
    what = "JSON" if path.lower().endswith(".json") else "CSV"
    check_file(path)
    try:
        # utf-8-sig: a byte-order mark (Excel's CSV export) is not part of the first cell
        with open(path, "r", encoding="utf-8-sig") as f:
            return f.read()
    except UnicodeDecodeError:
        raise ReadError(f"{path}: not a text {what} file (not UTF-8)") from None
    except IsADirectoryError:
        raise ReadError(f"{path}: is a folder, expected a {what} file") from None
    except OSError as e:
        raise ReadError(f"{path}: cannot read ({e.strerror or e})") from None


SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}


def sniff(text: str, separator: str | None = None, decimal: str | None = None) -> tuple[str, str]:
    """(separator, decimal mark) of a CSV text: given, or taken from its first lines. A
    separator is the one of ; and tab that every sampled line holds equally often; a
    decimal comma is taken where the separator is not a comma and digits sit on both
    sides of a comma."""
    lines = [ln for ln in text[:SNIFF_BYTES].split("\n")[:40] if ln.strip()]
    if len(text) > SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    sep = separator
    if sep is None:
        sep = ","
        for cand in (";", "\t"):
            counts = {ln.count(cand) for ln in lines}
            if lines and len(counts) == 1 and counts.pop() > 0:
                sep = cand
                break
    dec = decimal
    if dec is None:
        dec = "."
        if sep != ",":
            body = "\n".join(lines[1:] if len(lines) > 1 else lines)
            if any(body[i - 1].isdigit() and body[i + 1:i + 2].isdigit()
                   for i in range(1, len(body)) if body[i] == ","):
                dec = ","
    return sep, dec


def layout_words(sep: str, dec: str) -> str:
    """'semicolon-separated, decimal comma' for messages."""
    return f"{SEPARATORS.get(sep, repr(sep))}-separated, decimal {'comma' if dec == ',' else 'point'}"


def to_commas(text: str, sep: str, dec: str) -> str:
    """The text with commas between cells and points in numbers (what csvrows reads)."""
    if sep == "," and dec == ".":
        return text
    if sep == "," and dec == ",":
        raise ReadError("a decimal comma needs another separator (--separator ';')")
    if dec == ",":
        text = text.replace(",", ".")
    return text.replace(sep, ",")


def read(path: str, kind: str, rate: float, expect: str | None = None,
         opts: ReadOptions = DEFAULT) -> Table:
    """A recording file of any supported format as a Table (time stamps checked)."""
    if path.lower().endswith(".json"):
        t = read_edge_impulse_json(path, kind, opts)
    else:
        t = read_csv(path, kind, expect, opts)
    if t.times is not None:
        check_times(t, rate)
    return t


# ---- CSV ------------------------------------------------------------------------------

def _probe(lines: list[str], kind: str, path: str, expect: str | None, opts: ReadOptions):
    """A Rows reader that has seen the header and first data row (layout settled), or
    None when those lines break a rule (the slow path then names it)."""
    rows = csvrows.Rows(kind, path, expect=expect, columns=opts.columns, scale=opts.scale(kind),
                        axes=opts.axes if kind == "accel" else None)
    try:
        for ln in lines:
            if rows.feed(ln) is not None:
                return rows
    except csvrows.RowError:
        return None
    return rows


def read_csv(path: str, kind: str, expect: str | None = None, opts: ReadOptions = DEFAULT,
             text: str | None = None) -> Table:
    if kind not in csvrows.KINDS:
        raise ReadError(f"unknown sensor kind {kind!r}")
    if text is not None:  # already read and turned into commas and points
        return _read_csv_text(path, kind, expect, opts, text)
    text = read_text(path)
    sep, dec = sniff(text, opts.separator, opts.decimal)
    if (sep, dec) != (",", "."):
        try:
            t = read_csv(path, kind, expect, opts, to_commas(text, sep, dec))
        except ReadError as e:
            raise ReadError(f"{e} (read as {layout_words(sep, dec)}: see --separator, --decimal)") from None
        given = opts.separator is not None and opts.decimal is not None
        t.notes.append(f"{path}: read as {layout_words(sep, dec)}"
                       + ("" if given else " (detected; --separator and --decimal set it)"))
        return t
    return _read_csv_text(path, kind, expect, opts, text)


PARSE_ROWS = 4096  # rows parsed per NumPy call: the token lists stay small


def parse_rows(lines: list[str], width: int, dtype=np.float64) -> np.ndarray | None:
    """Rows of `width` comma-separated numbers -> (rows, width) array, parsed a block of
    rows at a time into one preallocated array (memory: the array, not a list of every
    cell); None when a row has another cell count or a cell is not a number (the
    per-line rules then name the line)."""
    out = np.empty((len(lines), width), dtype=dtype)
    for a in range(0, len(lines), PARSE_ROWS):
        block = lines[a:a + PARSE_ROWS]
        text = " ".join(block)
        if text.count(",") != (width - 1) * len(block):
            return None
        try:
            vals = np.array(text.replace(",", " ").split(), dtype=np.float64)
        except ValueError:
            return None
        if vals.size != width * len(block):
            return None
        out[a:a + len(block)] = vals.reshape(len(block), width)
    return out


def _read_csv_text(path: str, kind: str, expect: str | None, opts: ReadOptions, text: str) -> Table:
    columns, lo, hi = csvrows.KINDS[kind][:3]
    nv = opts.axes if kind == "accel" and opts.axes else csvrows.VALUES[kind]
    lines = text.split("\n")  # text mode: \r\n and \r are already \n
    keep = [i for i, ln in enumerate(lines) if ln.strip()]
    probe = _probe([lines[i] for i in keep[:2]], kind, path, expect, opts) if keep else None
    if probe is not None and probe.rows == 1:
        body_at = keep[1:] if probe.names is not None else keep
        width = probe.width
        idx = probe.values if probe.values is not None else (
            [1] if kind == "scalar" else list(range(nv)))
        t_col = probe.time
        dated = t_col >= 0 and csvrows.is_date(probe.time_text or "")
        body = [lines[i] for i in body_at]
        if not dated and all(ln.count(",") == width - 1 for ln in body):
            data = parse_rows(body, width)
            if data is not None:
                vals = data[:, idx]
                if probe.values is not None and probe.scale != 1.0:
                    vals = vals * probe.scale
                l, h = (lo, hi) if lo is not None else (-csvrows.FLOAT32_MAX, csvrows.FLOAT32_MAX)
                if probe.limits is not None:
                    l, h = probe.limits
                ok = ((vals >= l) & (vals <= h)).all() and np.isfinite(data).all()
                if ok:
                    times = data[:, t_col] if t_col >= 0 else None
                    return _finish(path, probe, vals, np.array(body_at) + 1, times, None)
    # Not clean (or empty): the shared per-line rules find and name the first bad line.
    rows = csvrows.Rows(kind, path, expect=expect, columns=opts.columns, scale=opts.scale(kind),
                        axes=opts.axes if kind == "accel" else None)
    out: list[list[float]] = []
    texts: list[str | None] = []
    at: list[int] = []
    first = 1 if kind == "scalar" else 0
    try:
        for i, ln in enumerate(lines):
            r = rows.feed(ln)
            if r is not None:
                out.append(r[first:])
                texts.append(rows.time_text)
                at.append(i + 1)
    except csvrows.RowError as e:
        raise ReadError(str(e)) from None
    if not out:
        raise ReadError(f"{path}: file has no data rows")
    vals = np.array(out, dtype=np.float64).reshape(len(out), nv)
    return _finish(path, rows, vals, np.array(at), None, texts if rows.time >= 0 else None)


def _finish(path: str, rows, vals: np.ndarray, at: np.ndarray, times: np.ndarray | None,
            texts: list | None) -> Table:
    name = rows.names[rows.time].strip().strip('"') if rows.names is not None and rows.time >= 0 else None
    if len(vals) == 0:
        raise ReadError(f"{path}: file has no data rows")
    t = Table(path, vals, at, time_name=name)
    if texts is not None:
        if csvrows.is_date(texts[0] or ""):
            bad = [i for i, c in enumerate(texts) if not csvrows.is_date(c or "")]
            if bad:
                raise ReadError(f"{path}: line {int(at[bad[0]])} has a time stamp {texts[bad[0]]!r} "
                                f"but line {int(at[0])} has a date: one kind of time stamp per file")
            try:
                t.times = timeaxis.parse_dates(texts, path, at)
            except ValueError as e:
                raise ReadError(str(e)) from None
            t.absolute = True
            return t
        times = np.array([float(c) for c in texts], dtype=np.float64)  # csvrows checked them
    if times is not None:
        names = [c.strip().strip('"').lower() for c in (rows.names or [])]
        t.times = times
        t.time_name = name
        t.edge_impulse = (name or "").lower() == "timestamp" and any(n in EI_AXES for n in names)
    return t


RATE_TOLERANCE = 1.25  # the stamps' rate may differ from --rate by this factor either way


def check_times(t: Table, rate: float) -> None:
    """Settle a numeric time column's unit (s or ms); split the file where its clock steps
    back or repeats a stamp (a clock fix, a daylight-saving change: a note, not an error;
    `t.breaks`); and check that the stamps step by about one sample period: a wrong --rate
    is said here, with the rate the stamps show, not found later as 'every sample is a gap'."""
    times = t.times
    assert times is not None, "check_times needs a table with time stamps"  # both callers' case
    steps = np.diff(times)
    if not t.absolute and not t.in_seconds:
        unit = timeaxis.numeric_unit(t.time_name, steps, rate, t.edge_impulse)
        if unit != 1.0:
            times = times * unit
            steps = steps * unit
        t.times = times
        t.absolute = bool(times[0] >= timeaxis.ABSOLUTE_S)
    back = np.flatnonzero(steps <= 0)
    t.breaks = (back + 1).tolist()
    for i in back[:MAX_LISTED].tolist():
        if steps[i] == 0:
            what = f"repeats {t.where} {int(t.lines[i])}'s time stamp ({_show(t, i)})"
        else:
            what = (f"steps the clock back by {timeaxis.describe_period(-float(steps[i]))} "
                    f"({_show(t, i)} -> {_show(t, i + 1)})")
        t.notes.append(f"{t.path}: {t.where} {int(t.lines[i + 1])} {what}: the recording is split "
                       f"there, no window spans it")
    if len(back) > MAX_LISTED:
        t.notes.append(f"{t.path}: ... and {len(back) - MAX_LISTED} more steps back or repeated stamps "
                       f"(each splits the recording)")
    pos = steps[steps > 0]
    if len(pos) == 0:
        return
    d = float(np.median(pos))
    # the mean of the ordinary steps (gaps left out) is exact where stamps are rounded
    # (an 800 Hz stream stamped in whole ms steps by 1 or 2 ms)
    ordinary = pos[pos <= timeaxis.GAP_PERIODS * d]
    d = float(ordinary.mean()) if len(ordinary) else d
    period = 1.0 / rate
    if not 1 / RATE_TOLERANCE <= d / period <= RATE_TOLERANCE:
        raise ReadError(f"{t.path}: its time stamps step by {timeaxis.describe_period(d)} (a rate of "
                        f"{1 / d:.4g} Hz) but the sample rate is {rate:g} Hz: give the rate that "
                        f"matches, e.g. --rate {_period_arg(d)}")


MAX_LISTED = 5  # notes or cells listed one by one before "... and N more"


def cut_list(items: list, limit: int = 8, sep: str = ",") -> str:
    """A list for a one-line message: the first `limit` items, then '... and N more'."""
    items = [str(x).strip() for x in items]
    if len(items) <= limit:
        return sep.join(items)
    return sep.join(items[:limit]) + f"{sep} ... and {len(items) - limit} more"


def _period_arg(d: float) -> str:
    if d < 1.0:  # frames or samples per second read better as a rate than as a period
        return f"{1 / d:.4g}"
    for unit, s in (("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3)):
        if d >= s:
            return f"{d / s:.4g}{unit}"
    return f"{1 / d:.4g}"


def _show(t: Table, i: int) -> str:
    assert t.times is not None  # check_times' notes: a table with time stamps
    return str(timeaxis.format_time(float(t.times[i]), t.absolute))


def axes_of(path: str, opts: ReadOptions = DEFAULT) -> int:
    """How many acceleration axes a recording holds (1: a magnitude channel, 2 or 3): its
    value columns (--columns, or a header's columns other than the time stamp); 3 when
    nothing says otherwise (a header-less row of 2 cells is timestamp,value data)."""
    if opts.columns:
        return len(opts.columns)
    if path.lower().endswith(".json"):
        return 3
    try:
        with open(path, "r", encoding="utf-8-sig", errors="replace") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return 3  # the reader refuses the file with its own words
    sep, dec = sniff(head, opts.separator, opts.decimal)
    lines = [ln for ln in to_commas(head, sep, dec).split("\n") if ln.strip()][:2]
    if not lines:
        return 3
    cells = lines[0].split(",")
    if csvrows.is_header(cells) and (layout := window_layout(cells)) is not None:
        return len(layout[0])
    if csvrows.is_header(cells):
        n = len(cells) - (1 if any(csvlayout.is_time_name(c) for c in cells) else 0)
        return n if n in (1, 2) else 3
    return 1 if len(cells) == 1 else 3


# ---- Edge Impulse JSON ------------------------------------------------------------------

def read_edge_impulse_json(path: str, kind: str, opts: ReadOptions = DEFAULT) -> Table:
    """Edge Impulse's data-acquisition format: payload.sensors [{name, units}],
    payload.values (one list per sample, or numbers for one sensor), payload.interval_ms."""
    try:
        doc = json.loads(read_text(path))
    except ValueError as e:
        raise ReadError(f"{path}: not valid JSON ({e})") from None
    p = doc.get("payload") if isinstance(doc, dict) else None
    if not isinstance(p, dict) or not isinstance(p.get("values"), list) or not isinstance(p.get("sensors"), list):
        raise ReadError(f"{path}: not an Edge Impulse data-acquisition file (needs payload.sensors "
                        f"and payload.values)")
    sensors = [s for s in p["sensors"] if isinstance(s, dict)]
    names = [str(s.get("name", "")) for s in sensors]
    units = [str(s.get("units", "")) for s in sensors]
    nv = opts.axes if kind == "accel" and opts.axes else csvrows.VALUES[kind]
    if opts.columns:
        idx = []
        for c in opts.columns:
            if str(c).isdigit() and 1 <= int(c) <= len(names):
                idx.append(int(c) - 1)
            elif str(c).lower() in [n.lower() for n in names]:
                idx.append([n.lower() for n in names].index(str(c).lower()))
            else:
                raise ReadError(f"{path}: has no sensor {c!r} (its sensors: {', '.join(names)})")
    elif kind == "accel" and all(a in [n.lower() for n in names] for a in EI_AXES):
        idx = [[n.lower() for n in names].index(a) for a in EI_AXES]
    else:
        idx = list(range(len(names)))
    if len(idx) != nv:
        raise ReadError(f"{path}: {len(idx)} sensors ({', '.join(names[i] for i in idx)}), a {kind} "
                        f"recording needs {nv}: choose them with --columns")
    try:
        raw = np.array(p["values"], dtype=np.float64)
    except (ValueError, TypeError):
        raw = None
    if raw is None or raw.ndim not in (1, 2) or len(raw) == 0:
        for i, v in enumerate(p["values"]):
            row = v if isinstance(v, list) else [v]
            if len(row) != len(names) or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                 for x in row):
                raise ReadError(f"{path}: payload.values entry {i + 1} is {json.dumps(v)[:60]}, "
                                f"expected {len(names)} numbers")
        raise ReadError(f"{path}: payload.values is empty")
    if raw.ndim == 1:
        raw = raw[:, None]
    if raw.shape[1] != len(names):
        raise ReadError(f"{path}: payload.values rows have {raw.shape[1]} numbers, payload.sensors "
                        f"names {len(names)}")
    vals = raw[:, idx].copy()
    if kind == "accel":
        for j, i in enumerate(idx):
            u = units[i].replace(" ", "").lower()
            if u in ("m/s2", "m/s^2", "ms2", "m/s²"):
                vals[:, j] /= STANDARD_GRAVITY
            elif u not in ("g", ""):
                raise ReadError(f"{path}: sensor {names[i]} is in {units[i]!r}, expected m/s2 or g")
    lo, hi = csvrows.KINDS[kind][1:3]
    lo, hi = (lo, hi) if lo is not None and hi is not None else (-csvrows.FLOAT32_MAX, csvrows.FLOAT32_MAX)
    bad = np.flatnonzero(~(np.isfinite(vals) & (vals >= lo) & (vals <= hi)).all(axis=1))
    if len(bad):
        raise ReadError(f"{path}: payload.values entry {int(bad[0]) + 1} has a value that is not finite "
                        f"or outside the physical range of {kind} data")
    t = Table(path, vals, np.arange(1, len(vals) + 1), where="entry")
    iv = p.get("interval_ms")
    if isinstance(iv, (int, float)) and not isinstance(iv, bool) and iv > 0:
        t.times = np.arange(len(vals)) * (float(iv) / 1000.0)
        t.time_name = "interval_ms"
        t.in_seconds = True
    return t


def _ei_series(values: np.ndarray, kind: str) -> tuple[list[str], list[str], np.ndarray]:
    if kind == "accel":
        return ["accX", "accY", "accZ"], ["m/s2"] * 3, values * STANDARD_GRAVITY
    return ["value"], ["N/A"], values


def write_edge_impulse_json(path: str, values: np.ndarray, rate: float, kind: str = "accel",
                            device: str = "circuitpython-anomaly") -> None:
    """values (rows, axes) in g (accel) -> Edge Impulse JSON (m/s2, unsigned)."""
    names, units, v = _ei_series(np.asarray(values, dtype=np.float64), kind)
    doc = {"protected": {"ver": "v1", "alg": "none"}, "signature": "0" * 64,
           "payload": {"device_name": device, "device_type": "CIRCUITPYTHON", "interval_ms": 1000.0 / rate,
                       "sensors": [{"name": n, "units": u} for n, u in zip(names, units)],
                       "values": [[float("%.7g" % x) for x in row] for row in v]}}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f)


def write_edge_impulse_csv(path: str, values: np.ndarray, rate: float, kind: str = "accel") -> None:
    """values (rows, axes) in g (accel) -> `timestamp,accX,accY,accZ` (ms, m/s2)."""
    names, _, v = _ei_series(np.asarray(values, dtype=np.float64), kind)
    period_ms = 1000.0 / rate
    with open(path, "w", encoding="utf-8") as f:
        f.write("timestamp," + ",".join(names) + "\n")
        for i, row in enumerate(v):
            f.write("%.6g," % (i * period_ms) + ",".join("%.7g" % x for x in row) + "\n")


def export(tables: list[Table], kind: str, rate: float, fmt: str, out_dir: str) -> list[str]:
    """Write each table as an Edge Impulse file (fmt 'ei-json' or 'ei-csv') in out_dir,
    named after its source; returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for t in tables:
        stem = os.path.splitext(os.path.basename(t.path))[0]
        path = os.path.join(out_dir, stem + (".json" if fmt == "ei-json" else ".csv"))
        if fmt == "ei-json":
            write_edge_impulse_json(path, t.values, rate, kind)
        else:
            write_edge_impulse_csv(path, t.values, rate, kind)
        written.append(path)
    return written


METADATA_FILES = ("session.json",)  # what collect writes beside a session's recordings


def is_recording(name: str) -> bool:
    n = name.lower()
    base = os.path.basename(n)
    return (n.endswith(".csv") or n.endswith(".json")) and not base.startswith(".") and base not in METADATA_FILES


def file_label(path: str) -> str:
    return os.path.basename(path)


# ---- thermal frames: one MLX90640 frame per row -----------------------------------------

_PIXEL_NAME = re.compile(r"^[pP]_?[0-9]+$")
FRAME_TIME_NAMES = ("t", "t_ms", "time", "timestamp", "date", "datetime", "time_s", "time (s)", "time (ms)")


@dataclass
class Frames:
    """A thermal recording: frames (n, 24, 32) float32 in deg C; the named leading columns
    (time stamps as seconds when the column is a time, labels as text when not numbers);
    the line of each frame; the time stamps in seconds (None without a time column)."""

    path: str
    frames: np.ndarray
    extra: dict
    lines: np.ndarray
    times: np.ndarray | None = None
    absolute: bool = False
    notes: list[str] = field(default_factory=list)
    breaks: list[int] = field(default_factory=list)


def read_frames(path: str, rate: float | None = None, opts: ReadOptions = DEFAULT) -> Frames:
    """One CSV of frames (see host_tools.thermal_data for the format). Leading columns
    before the 768 pixels are read one by one: numbers, ISO-8601 dates in a time column
    (`Time,RT,P000..P767` with `2020-06-26 15:43:14.2175`), or text labels. With `rate`
    the time stamps are checked as every reader checks them (steps back split, a rate
    that does not match is refused)."""
    from device.thermal import COLS, MAX_C, MIN_C, N, ROWS

    text = read_text(path)
    sep, dec = sniff(text, opts.separator, opts.decimal)
    layout = (sep, dec) != (",", ".")
    text = to_commas(text, sep, dec)
    how = f" (read as {layout_words(sep, dec)})" if layout else ""
    numbered = [(i + 1, ln) for i, ln in enumerate(text.split("\n")) if ln.strip()]
    if not numbered:
        raise ReadError(f"{path}: file has no data rows")
    header = None
    first = numbered[0][1].split(",")
    if csvrows.is_header(first):
        header = [c.strip().strip('"') for c in first]
        numbered = numbered[1:]
        if not numbered:
            raise ReadError(f"{path}: file has a header but no frames")
    width = len(header) if header else numbered[0][1].count(",") + 1
    if width == COLS and len(numbered) % ROWS == 0 and header is None:
        return _frame_blocks(path, numbered)
    lead, trail = width - N, 0
    if header:  # pixels named p0..p767 or P000..P767: other columns may follow them (a label)
        pix = [i for i, h in enumerate(header) if _PIXEL_NAME.match(h)]
        if len(pix) == N and pix[-1] - pix[0] == N - 1:
            lead, trail = pix[0], width - 1 - pix[-1]
    if lead < 0:
        raise ReadError(f"{path}: line {numbered[0][0]} has {width} columns; a thermal frame row "
                        f"needs {N} pixel values (24 x 32), after any named leading columns{how}")
    if header:
        names = [h.lower() for h in header[:lead]] + [h.lower() for h in header[width - trail:]]
    else:
        names = [f"col{k}" for k in range(lead)]
    rows = len(numbered)
    lines = np.array([n for n, _ in numbered])
    heads = []
    body_lines = []
    for _, ln in numbered:
        cells = ln.split(",", lead) if lead else [ln]
        rest = cells[lead] if len(cells) > lead else ""
        tail = rest.rsplit(",", trail) if trail else [rest]
        heads.append(cells[:lead] + tail[1:])
        body_lines.append(tail[0])
    data = parse_rows(body_lines, N, np.float32)
    if data is None:  # name the bad line
        for (ln_no, ln), rest in zip(numbered, body_lines):
            n_cells = ln.count(",") + 1
            if n_cells != width:
                raise ReadError(f"{path}: line {ln_no} has {n_cells} columns, expected {width}{how}")
            for c in rest.split(","):
                if not csvrows.is_number(c):
                    raise ReadError(f"{path}: line {ln_no} has a non-numeric value {c.strip()!r}{how}")
        raise ReadError(f"{path}: malformed CSV{how}")
    del body_lines
    bad = ~np.isfinite(data) | (data < MIN_C) | (data > MAX_C)
    if bad.any():
        r, k = np.argwhere(bad)[0]
        raise ReadError(f"{path}: line {numbered[r][0]} pixel {k} (row {k // COLS}, col {k % COLS}) "
                        f"is {data[r, k]!r}: not a temperature between {MIN_C:g} and {MAX_C:g} C")
    out = Frames(path, data.astype(np.float32).reshape(rows, ROWS, COLS), {}, lines)
    if layout:
        out.notes.append(f"{path}: read as {layout_words(sep, dec)}")
    time_col = None
    for j, name in enumerate(names):
        cells = [h[j].strip().strip('"') for h in heads]
        if name in FRAME_TIME_NAMES and time_col is None:
            time_col = name
            if csvrows.is_date(cells[0]):
                bad_at = [i for i, c in enumerate(cells) if not csvrows.is_date(c)]
                if bad_at:
                    raise ReadError(f"{path}: line {int(lines[bad_at[0]])} has a time stamp {cells[bad_at[0]]!r} "
                                    f"but line {int(lines[0])} has a date: one kind of time stamp per file")
                try:
                    out.extra[name] = timeaxis.parse_dates(cells, path, lines)
                except ValueError as e:
                    raise ReadError(str(e)) from None
                out.absolute = True
                continue
        try:
            out.extra[name] = np.array(cells, dtype=np.float64)
        except ValueError:
            if name in ("label", "anomaly", "class", "state"):
                out.extra[name] = np.array(cells, dtype=object)
                continue
            i = next(i for i, c in enumerate(cells) if not csvrows.is_number(c))
            raise ReadError(f"{path}: line {int(lines[i])} has a non-numeric value {cells[i]!r} in "
                            f"column {name!r}{how}") from None
    if time_col is not None:
        t = Table(path, np.empty((rows, 0)), lines, out.extra[time_col], out.absolute, time_col,
                  in_seconds=out.absolute)
        if rate is not None and rows > 1:
            check_times(t, rate)
        elif not out.absolute:
            stamps = out.extra[time_col]  # t.times as yet
            t.times = stamps * timeaxis.numeric_unit(time_col, np.diff(stamps), 1.0)
        out.times, out.notes, out.breaks = t.times, out.notes + t.notes, t.breaks
    return out


def _frame_blocks(path: str, numbered: list[tuple[int, str]]) -> Frames:
    """Frames written as blocks of 24 rows of 32 values (device.recorder's window files)."""
    from device.thermal import COLS, MAX_C, MIN_C, ROWS

    try:
        data = np.array([[float(c) for c in ln.split(",")] for _, ln in numbered], dtype=np.float64)
    except ValueError:
        for ln_no, ln in numbered:
            cells = ln.split(",")
            if len(cells) != COLS or not all(csvrows.is_number(c) for c in cells):
                raise ReadError(f"{path}: line {ln_no}: not {COLS} numbers") from None
        raise ReadError(f"{path}: malformed CSV") from None
    if not np.all(np.isfinite(data)) or data.min() < MIN_C or data.max() > MAX_C:
        raise ReadError(f"{path}: a pixel is not a temperature between {MIN_C:g} and {MAX_C:g} C")
    frames = data.astype(np.float32).reshape(-1, ROWS, COLS)
    return Frames(path, frames, {}, np.array([n for n, _ in numbered[::ROWS]]))


# ---- one window per row: s0,...,s127[,label] ------------------------------------------------

_SAMPLE_NAME = re.compile(r"^([A-Za-z_]*?)_?([0-9]+)$")
WINDOW_LABEL_NAMES = ("label", "class", "target", "y", "state", "condition", "fault")
MIN_ROW_SAMPLES = 8


@dataclass
class WindowRows:
    """A file with one window per row (the layout of most public time-series archives):
    windows (n, axes, samples) float64, the line of each, its label (text) or None."""

    path: str
    windows: np.ndarray
    lines: np.ndarray
    labels: list[str] | None
    axis_names: list[str]
    notes: list[str] = field(default_factory=list)


def window_layout(header: list[str]) -> tuple[list[list[int]], int] | None:
    """(column indexes of each axis' samples in order, label column or -1) when a header
    names samples (s0..s127; x0..x127,y0..y127,z0..z127) and at most a label or a time
    column besides; else None."""
    groups: dict[str, list[tuple[int, int]]] = {}
    label = -1
    for i, h in enumerate(header):
        name = h.strip().strip('"')
        m = _SAMPLE_NAME.match(name)
        if m and not csvlayout.is_time_name(name):
            groups.setdefault(m.group(1).lower(), []).append((int(m.group(2)), i))
        elif name.lower() in WINDOW_LABEL_NAMES and label < 0:
            label = i
        elif not csvlayout.is_time_name(name):
            return None
    if not groups or len(groups) > 3:
        return None
    cols = []
    for g in groups.values():
        g.sort()
        if [n for n, _ in g] != list(range(g[0][0], g[0][0] + len(g))):
            return None
        cols.append([i for _, i in g])
    if len({len(c) for c in cols}) != 1 or len(cols[0]) < MIN_ROW_SAMPLES:
        return None
    return cols, label


def is_window_rows(path: str, opts: ReadOptions = DEFAULT) -> bool:
    """Whether a CSV's header says it holds one window per row."""
    if path.lower().endswith(".json"):
        return False
    try:
        with open(path, "r", encoding="utf-8-sig", errors="replace") as f:
            head = f.read(SNIFF_BYTES)
    except OSError:
        return False
    sep, dec = sniff(head, opts.separator, opts.decimal)
    for ln in to_commas(head, sep, dec).split("\n"):
        if ln.strip():
            cells = ln.split(",")
            return csvrows.is_header(cells) and window_layout(cells) is not None
    return False


def read_window_rows(path: str, opts: ReadOptions = DEFAULT, lo: float = -1000.0, hi: float = 1000.0) -> WindowRows:
    """One-window-per-row CSV -> WindowRows (values checked finite and within lo..hi)."""
    text = read_text(path)
    sep, dec = sniff(text, opts.separator, opts.decimal)
    text = to_commas(text, sep, dec)
    how = f" (read as {layout_words(sep, dec)})" if (sep, dec) != (",", ".") else ""
    numbered = [(i + 1, ln) for i, ln in enumerate(text.split("\n")) if ln.strip()]
    del text
    header = [c.strip().strip('"') for c in numbered[0][1].split(",")]
    got = window_layout(header)
    if got is None:
        raise ReadError(f"{path}: its header does not name one window per row (s0,s1,...,label)")
    cols, label = got
    body = numbered[1:]
    if not body:
        raise ReadError(f"{path}: file has a header but no windows")
    width = len(header)
    flat = [i for c in cols for i in c]
    vals = np.empty((len(body), len(flat)))
    labels: list[str] | None = [] if label >= 0 else None
    for r, (ln_no, ln) in enumerate(body):
        cells = ln.split(",")
        if len(cells) != width:
            raise ReadError(f"{path}: line {ln_no} has {len(cells)} columns, expected {width} "
                            f"(one window per row: {csvlayout.listed(header)}){how}")
        try:
            vals[r] = [float(cells[i]) for i in flat]
        except ValueError:
            bad = next(cells[i] for i in flat if not csvrows.is_number(cells[i]))
            raise ReadError(f"{path}: line {ln_no} has a non-numeric value {bad.strip()!r}{how}") from None
        if labels is not None:
            labels.append(cells[label].strip().strip('"'))
    ok = np.isfinite(vals) & (vals >= lo) & (vals <= hi)
    if not ok.all():
        r = int(np.flatnonzero(~ok.all(axis=1))[0])
        raise ReadError(f"{path}: line {body[r][0]} has a value that is not finite or outside "
                        f"{lo:g}..{hi:g}{how}")
    n_ax, n_s = len(cols), len(cols[0])
    # window_layout matched every sample column's name
    names = [(m.group(1) if (m := _SAMPLE_NAME.match(header[c[0]])) else "") or f"axis{k}"
             for k, c in enumerate(cols)]
    out = WindowRows(path, vals.reshape(len(body), n_ax, n_s), np.array([n for n, _ in body]), labels, names)
    counts = ""
    if labels is not None:
        seen: dict[str, int] = {}
        for v in labels:
            seen[v] = seen.get(v, 0) + 1
        counts = "; labels " + cut_list([f"{k} {v}" for k, v in seen.items()], 8, ", ")
    out.notes.append(f"{path}: one window per row: {len(body)} windows of {n_s} samples, {n_ax} "
                     f"ax{'is' if n_ax == 1 else 'es'}{counts}" + (f"; {how.strip(' ()')}" if how else ""))
    return out
