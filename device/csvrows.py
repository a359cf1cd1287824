"""The rules for one row of a recording CSV, shared by the host (host_tools.datasets) and
the board's replay sensor, so both accept and refuse the same files with the same words.

- Lines are numbered as an editor shows them: from 1, counting blank lines and a header.
- Blank lines are skipped.
- The first non-blank line of a file may be a header: it is one when none of its cells
  is a number ("x,y,z", "timestamp,value").
- Every other line has exactly the kind's number of cells, each a finite number inside
  the kind's physical range (accel: |g| <= 1000; thermal: -60..400 deg C; scalar: any
  value finite as a 32-bit float, which the board and the features compute in; the
  timestamp column only needs to be finite).
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


class Rows:
    """Line-by-line reader state for one file at a time: numbers the lines, allows the
    header only on the first non-blank line. feed(line) -> the row, or None to skip."""

    def __init__(self, kind, path="", limits=None, expect=None):
        if kind not in KINDS:
            raise ValueError("unknown sensor kind %r" % (kind,))
        self.kind = kind
        self.columns = KINDS[kind][0]
        self.limits = limits
        self.expect = expect
        self.start(path)

    def start(self, path):
        """A new file begins."""
        self.path = path
        self.lineno = 0
        self.seen = 0  # non-blank lines so far (header included)
        self.rows = 0

    def feed(self, line, out=None):
        self.lineno += 1
        row = parse_line(line, self.kind, self.lineno, self.path, self.seen == 0, self.rows == 0,
                         out, self.limits, self.expect)
        if row is not None:
            self.rows += 1
            self.seen += 1
        elif self.seen == 0 and line.strip():
            self.seen = 1  # that was the header
        return row
