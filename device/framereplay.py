"""Thermal frames for the CSV replay sensor (device/replay.py, REPLAY_KIND = "thermal"): the
frame buffer, and the reading of one frame from a recording, either one frame per row (768
values in degrees C after any leading columns, the recording format of device/framerows.py)
or a block of 24 rows of 32 (device.csvrows' thermal rows).

A module of its own for the board's heap: CsvReplaySensor imports it only for a thermal
replay (which holds it for the run), so a board replaying accelerometer recordings never
loads this code. Only functions live here; the state is on the sensor `s`.
"""

from device.chips import MLX_COLS, MLX_ROWS
from device.framebuf import frame_buffer, frame_of


def setup(s):
    """The sensor's frame shape and buffers: a (24, 32) frame over an array('f')."""
    s.rows_n, s.cols_n = MLX_ROWS, MLX_COLS
    s.window = MLX_ROWS
    s._buf, s._flat = frame_buffer(MLX_ROWS, MLX_COLS)
    s.win, s._shared = frame_of(s._flat, MLX_ROWS, MLX_COLS, s._buf)
    s._pending = None
    s._amb_col = None
    s._line = 0
    s.ambient = None


def start(s):
    """A new file begins."""
    s._line = 0
    s._amb_col = None
    s._pending = None


def fill(s):
    """One thermal frame into the sensor's buffer; False if the file ended first."""
    if not _fill_frame(s):
        return False
    if not s._shared:
        s.win = s._flat.reshape((s.rows_n, s.cols_n))
    return True


def _fill_frame(s):
    """A row of 768 values after any leading columns (a header names the leading columns,
    and one named `ambient` or `ta` gives `ambient`), or a block of 24 rows of 32."""
    f = s._f
    n = MLX_ROWS * MLX_COLS
    flat = s._buf
    while True:
        line = f.readline()
        if not line:
            return False
        s._line += 1
        st = line.strip()
        if st:
            break
        s._rows.feed(line)  # keeps the block reader's line numbers right
    cells = st.split(",")
    if len(cells) < n:  # a block of rows: the first line goes to the row reader
        s._pending = line
        return _fill_block(s)
    lead = len(cells) - n
    try:
        float(cells[lead])
    except ValueError:
        if s._line == 1:  # a header: find the ambient column
            s._amb_col = -1
            for k in range(lead):
                nm = cells[k].strip().lower()
                if nm == "ambient" or nm == "ta":
                    s._amb_col = k
            return _fill_frame(s)
        raise ValueError("%s: line %d has a non-numeric value %r" % (s._path, s._line, cells[lead].strip()))
    for k in range(n):
        c = cells[lead + k]
        try:
            v = float(c)
        except ValueError:
            raise ValueError("%s: line %d has a non-numeric value %r" % (s._path, s._line, c.strip()))
        if not -60.0 <= v <= 400.0:  # NaN fails too
            raise ValueError("%s: line %d has %s, outside the physical range of thermal data "
                             "(-60..400 deg C)" % (s._path, s._line, c.strip()))
        flat[k] = v
    if s._amb_col is None:
        s._amb_col = -1
    if 0 <= s._amb_col < lead:
        try:
            s.ambient = float(cells[s._amb_col])
        except ValueError:
            s.ambient = None
    return True


def _fill_block(s):
    """24 rows of 32 by device.csvrows' rules, the first of them the line _fill_frame read."""
    f = s._f
    cols = s.cols_n
    flat = s._buf
    rows = s._rows
    row = s._row
    r = 0
    while r < s.rows_n:
        if s._pending is not None:
            line = s._pending
            s._pending = None
        else:
            line = f.readline()
            if not line:
                return False
        if rows.feed(line, row) is None:
            continue
        base = r * cols
        for c in range(cols):
            flat[base + c] = row[c]
        r += 1
    return True
