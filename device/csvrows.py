"""The rules for one row of a recording CSV, shared by the host (host_tools.data.datasets) and
the board's replay sensor, so both accept and refuse the same files with the same words.

- Lines are numbered as an editor shows them: from 1, counting blank lines and a header.
- Blank lines are skipped.
- The first non-blank line of a file may be a header: it is one when none of its cells
  is a number ("x,y,z", "timestamp,value", Edge Impulse's "timestamp,accX,accY,accZ").
- Which cells are the values and which is the time stamp (the layout) is settled by the
  header and the first data row, once per file (Rows.layout):
  * `columns` given (names from the header, or 1-based positions): those are the values;
  * otherwise a header's time column is the one named like a time (timestamp, time, t,
    date, datetime, ts, ...) and the other columns are the values;
  * without a header, a row of the kind's value count is values only (x,y,z), one more
    cell is a leading time stamp (t,x,y,z; the scalar kind's timestamp,value).
- Every data line has the layout's number of cells; each value a finite number inside
  the kind's physical range after the unit `scale` (accel: |g| <= 1000; thermal:
  -60..400 deg C; scalar: any value finite as a 32-bit float, which the board and the
  features compute in); a time stamp a finite number or an ISO-8601 date (its full
  parsing is the host's: host_tools.data.timeaxis).
A bad line raises RowError(message), the message naming the file and the line.

Pure Python for CPython, MicroPython and CircuitPython: no typing, % formatting. Per
line it allocates only what strip(), split() and float() must; with `out` the values go
into the caller's buffer instead of a new list. (On a board with 30-bit floats the
float32 bound may round to infinity; values are still checked to be finite.)
"""

# kind -> (columns, lowest, highest, first column the range applies to, unit, what a row is)
KINDS = {
    "accel": (3, -1000.0, 1000.0, 0, " g", "x,y,z accelerometer data"),
    "scalar": (2, None, None, 1, "", "timestamp,value scalar data"),
    "thermal": (32, -60.0, 400.0, 0, " deg C", "thermal frame rows of 32 pixels"),
}


FLOAT32_MAX = 3.4028234e38
VALUES = {"accel": 3, "scalar": 1, "thermal": 32}  # value cells per row (time stamp not counted)



class RowError(ValueError):
    """A line of a CSV recording breaks the rules; str(e) names the file and line."""


def describe(columns):
    """What a row of this many cells is, e.g. 'x,y,z accelerometer data', or None."""
    for k in KINDS:
        if KINDS[k][0] == columns:
            return KINDS[k][5]
    return None


def is_number(cell):
    try:
        float(cell)
        return True
    except ValueError:
        return False


def is_header(cells):
    """A header row: no cell is a number."""
    for c in cells:
        if is_number(c):
            return False
    return True


def parse_line(line, kind, lineno, path="", header_ok=False, first_row=False, out=None,
               limits=None, expect=None):
    """Cells of one text line as floats (a list, or written into `out`), or None for a
    blank line or a header (allowed when `header_ok`: the first non-blank line).
    `lineno` is the line's number as an editor shows it. `first_row`: the file's first
    data row, where a column count that is another kind's says which sensor the data is
    from; `expect` phrases what was asked for ("the model is for a 'scalar' sensor").
    `limits` = (lowest, highest) replaces the kind's physical range."""
    columns, lo, hi, ranged, unit, what = KINDS[kind]
    if limits is not None:
        lo, hi = limits
    s = line.strip()
    if not s:
        return None
    cells = s.split(",")
    if header_ok and is_header(cells):
        return None
    if len(cells) != columns:
        other = describe(len(cells))
        if first_row and other is not None:
            raise RowError("%s but %s has %d columns (%s) on line %d" % (
                expect or "expected '%s' sensor data" % kind, path, len(cells), other, lineno))
        raise RowError("%s: line %d has %d columns, expected %d (%s)" % (
            path, lineno, len(cells), columns, what))
    row = out if out is not None else [0.0] * columns
    for i in range(columns):
        c = cells[i]
        try:
            v = float(c)
        except ValueError:
            raise RowError("%s: line %d has a non-numeric value %r" % (path, lineno, c.strip()))
        if v - v != 0.0:  # NaN or +-inf (inf - inf is NaN; NaN compares unequal to all)
            raise RowError("%s: line %d has a non-finite value %r" % (path, lineno, c.strip()))
        if i < ranged:  # a timestamp: finite is enough
            pass
        elif lo is None:
            if not -FLOAT32_MAX <= v <= FLOAT32_MAX:
                raise RowError("%s: line %d has %s, too large for a 32-bit float" % (path, lineno, c.strip()))
        elif not lo <= v <= hi:
            raise RowError("%s: line %d has %s, outside the physical range of %s data (%g..%g%s)" % (
                path, lineno, c.strip(), kind, lo, hi, unit))
        row[i] = v
    return row


def is_date(cell):
    """A cell that looks like an ISO-8601 date (2013-12-02, 2013-12-02 21:15:00, ...T...Z)."""
    c = cell.strip().strip('"')
    return len(c) >= 10 and c[0:4].isdigit() and c[4] == "-" and c[5:7].isdigit() and c[7] == "-"


class Rows:
    """Line-by-line reader state for one file at a time: numbers the lines, allows the
    header only on the first non-blank line. feed(line) -> the row, or None to skip.

    The row is the kind's values (accel x,y,z in g; thermal 32 pixels) or, for the scalar
    kind, [time stamp, value] (the time 0.0 when the file has none or it is a date). The
    time stamp cell as written is in `time_text` (None without a time column).
    `columns`: value columns by header name or 1-based position (strings or ints);
    `scale` multiplies every value (e.g. 1/9.80665 for m/s^2 -> g) before the range check.
    """

    def __init__(self, kind, path="", limits=None, expect=None, columns=None, scale=1.0, axes=None):
        if kind not in KINDS:
            raise ValueError("unknown sensor kind %r" % (kind,))
        self.kind = kind
        self.columns = KINDS[kind][0]
        # values per row: 3 for accel unless the recording has 1 (a magnitude) or 2 axes
        self.n = int(axes) if axes else VALUES[kind]
        self.limits = limits
        self.expect = expect
        self.pick = columns
        self.scale = float(scale)
        self.start(path)

    def start(self, path):
        """A new file begins."""
        self.path = path
        self.lineno = 0
        self.seen = 0  # non-blank lines so far (header included)
        self.rows = 0
        self.names = None  # header cells, if the file has a header
        self.width = 0  # cells per row once the layout is known
        self.values = None  # value column indexes (None: the default layout)
        self.time = -1  # time stamp column index, -1 if none
        self.time_text = None
        self._picker = None  # (csvlayout.pick, this module) for a layout other than the default

    def feed(self, line, out=None):
        self.lineno += 1
        s = line.strip()
        if not s:
            return None
        cells = s.split(",")
        if self.seen == 0:
            self.seen = 1
            if is_header(cells):
                self.names = cells
                return None
        if self.width == 0:
            self.layout(len(cells))
        if self.values is None and not (self.time >= 0 and is_date(cells[self.time])):
            # the default layout with numbers only: the long-standing per-line rules
            row = parse_line(line, self.kind, self.lineno, self.path, False, self.rows == 0,
                             out, self.limits, self.expect)
            if self.time >= 0:
                self.time_text = cells[0].strip()
            self.rows += 1
            return row
        pick, m = self._picker  # a time column or chosen columns: csvlayout.pick
        row = pick(self, cells, out, m)
        self.rows += 1
        return row

    def layout(self, width):
        """Settle which cells are values and which is the time stamp (see module doc). Once
        per file: the code is device/csvlayout.py's, imported for it and forgotten after (off
        the heap of a board replaying recordings). A file in another layout than the kind's
        own (a time column, chosen or scaled columns) keeps its row reader, csvlayout.pick."""
        import sys

        from device import csvlayout, forget

        m = sys.modules[__name__]
        try:
            csvlayout.layout(self, width, m)
            if self.values is not None or self.time >= 0:
                self._picker = (csvlayout.pick, m)
        finally:
            forget("device.csvlayout")
