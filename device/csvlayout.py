"""Which cells of a recording's rows are the values and which is the time stamp: Rows.layout of
device/csvrows.py (the rules are in its docstring), settled once per file from the header and
the first data row; and `pick`, the row reader for a layout other than the kind's own (a time
column, chosen or scaled columns).

A module of its own for the board's heap: csvrows.Rows.layout imports it once per file and
forgets it after, so a board replaying plain x,y,z recordings (SENSOR = "replay") does not
hold its code; a file in another layout keeps `pick` (and so this module) while it is read.
Only functions live here. The csvrows module is passed in as `m` (importing it back from
here would be a cycle). The names only this code needs live here too (TIME_NAMES,
is_time_name, listed; the host's readers import them from here).
"""


FRAME_PIXELS = 768  # an MLX90640 frame: a row this wide is a thermal frame
TIME_NAMES = ("timestamp", "time", "t", "ts", "date", "datetime", "time_s", "time_ms", "timestamp_ms",
              "ms", "seconds", "epoch", "time (s)", "time (ms)")


def is_time_name(name):
    n = name.strip().strip('"').lower()
    return n in TIME_NAMES or n.startswith("timestamp") or n.startswith("datetime")


def listed(cells, limit=8):
    """Cells for a one-line message: the first `limit`, then '... and N more' (a thermal
    header has 770 names)."""
    shown = ",".join(c.strip() for c in cells[:limit])
    if len(cells) > limit:
        shown += ", ... and %d more" % (len(cells) - limit)
    return shown


def _fail(r, m, msg):
    raise m.RowError("%s: %s" % (r.path, msg))


def _default(r):
    """The kind's own layout (x,y,z / timestamp,value / 32 pixels): the per-line rules of
    csvrows.parse_line, or explicit columns when the values need scaling."""
    r.width = r.columns
    r.values = None
    if r.scale != 1.0:
        first = 1 if r.kind == "scalar" else 0
        r.values = [first + i for i in range(r.n)]


def _index(r, c, m):
    """Column index of a `columns` entry: a header name or a 1-based position."""
    if isinstance(c, int) or (isinstance(c, str) and c.strip().isdigit()):
        i = int(c) - 1
        if not 0 <= i < r.width:
            _fail(r, m, "has no column %s (rows have %d columns)" % (c, r.width))
        return i
    if r.names is not None:
        want = c.strip().lower()
        for i in range(len(r.names)):
            if r.names[i].strip().strip('"').lower() == want:
                return i
        _fail(r, m, "has no column named %r (its header: %s)" % (c, listed(r.names)))
    _fail(r, m, "has no header, so column %r cannot be found by name: give its position (1, 2, ...)" % (c,))


def layout(r, width, m):
    """Settle the layout of the csvrows.Rows `r` for rows of `width` cells (m: the csvrows
    module)."""
    n = r.n
    names = r.names
    r.width = width
    if names is not None and len(names) != width:
        _fail(r, m, "line %d has %d columns but the header has %d" % (r.lineno, width, len(names)))
    if r.pick is not None:
        idx = [_index(r, c, m) for c in r.pick]
        if len(idx) != n:
            _fail(r, m, "%d columns chosen (%s), a %s row needs %d" % (
                len(idx), ",".join(str(c) for c in r.pick), r.kind, n))
        r.values = idx
        r.time = -1
        if names is not None:
            for i in range(width):
                if i not in idx and is_time_name(names[i]):
                    r.time = i
                    break
        elif width == n + 1 and 0 not in idx:
            r.time = 0
        return
    if names is not None:
        t = -1
        for i in range(width):
            if is_time_name(names[i]):
                t = i
                break
        idx = [i for i in range(width) if i != t]
        if len(idx) == n:
            r.time = t
            if (t < 0 and width == r.columns and n == m.VALUES[r.kind]) or (t == 0 and r.kind == "scalar"):
                _default(r)
            else:
                r.values = idx
            return
        if r.kind != "thermal" and width >= FRAME_PIXELS:  # a camera's frame per row
            raise m.RowError("%s but %s has %d columns (%s): thermal frames, one per row" % (
                r.expect or "expected '%s' sensor data" % r.kind, r.path, width, listed(names, 4)))
        if m.describe(width) is None or width == r.columns:
            _fail(r, m, "header has %d columns (%s) and %s of them can be values, a %s row has %d: "
                    "choose them with --columns" % (width, listed(names), len(idx), r.kind, n))
        # another kind's data: the default rules say so on the first data row
    if r.kind != "scalar" and width == n + 1:
        r.time = 0
        r.values = [1 + i for i in range(n)]
        return
    if n != m.VALUES[r.kind] and width == n:  # fewer axes than the kind's default, no time
        r.time = -1
        r.values = [i for i in range(n)]
        return
    r.time = 0 if r.kind == "scalar" else -1
    _default(r)


def pick(r, cells, out, m):
    """One data row of the csvrows.Rows `r` in a layout other than the kind's own (a time
    column, chosen or scaled columns): Rows.feed calls it for every line of such a file (m:
    the csvrows module; the Rows holds this function, so the module stays while it reads)."""
    if len(cells) != r.width:
        if r.rows == 0:
            other = m.describe(len(cells))
            if other is not None:
                raise m.RowError("%s but %s has %d columns (%s) on line %d" % (
                    r.expect or "expected '%s' sensor data" % r.kind, r.path, len(cells),
                    other, r.lineno))
        _fail(r, m, "line %d has %d columns, expected %d (%s)" % (
            r.lineno, len(cells), r.width, listed(r.names)
            if r.names is not None else (m.KINDS[r.kind][5] if r.values is None
                                         else "time stamp and %s" % m.KINDS[r.kind][5])))
    columns, lo, hi, ranged, unit, what = m.KINDS[r.kind]
    if r.limits is not None:
        lo, hi = r.limits
    lineno = r.lineno
    path = r.path
    if r.time >= 0:
        c = cells[r.time]
        r.time_text = c.strip()
        if not m.is_date(c):
            try:
                t = float(c)
            except ValueError:
                raise m.RowError("%s: line %d has a time stamp %r that is neither a number nor an "
                                 "ISO-8601 date" % (path, lineno, c.strip()))
            if t - t != 0.0:
                raise m.RowError("%s: line %d has a non-finite time stamp %r" % (path, lineno, c.strip()))
    row = out if out is not None else [0.0] * ((1 if r.kind == "scalar" else 0) + r.n)
    first = 0
    if r.kind == "scalar":
        row[0] = 0.0
        if r.time >= 0 and not m.is_date(cells[r.time]):
            row[0] = float(cells[r.time])
        first = 1
    idx = r.values if r.values is not None else [1]  # scalar: timestamp,value
    scale = r.scale
    for j in range(len(idx)):
        c = cells[idx[j]]
        try:
            v = float(c)
        except ValueError:
            raise m.RowError("%s: line %d has a non-numeric value %r" % (path, lineno, c.strip()))
        if v - v != 0.0:
            raise m.RowError("%s: line %d has a non-finite value %r" % (path, lineno, c.strip()))
        v *= scale
        if lo is None:
            if not -m.FLOAT32_MAX <= v <= m.FLOAT32_MAX:
                raise m.RowError("%s: line %d has %s, too large for a 32-bit float" % (path, lineno, c.strip()))
        elif not lo <= v <= hi:
            raise m.RowError("%s: line %d has %s%s, outside the physical range of %s data (%g..%g%s)" % (
                path, lineno, c.strip(), "" if scale == 1.0 else " (%g%s)" % (v, unit), r.kind,
                lo, hi, unit))
        row[first + j] = v
    return row
