"""CSV recordings from a folder on the drive played as a sensor (SENSOR = "replay"): accel
windows or thermal frames, in the host's order and with the host's line rules
(device.csvrows), optionally at the recorded rate."""

import array
import os

from device.chips import MLX_COLS, MLX_ROWS
from device.sensors import _Paced, frame_buffer, frame_of, window_buffers
from device.ticks import default_ticks


class CsvReplaySensor(_Paced):
    """Plays CSV recordings from a folder on the drive, window by window.

    accel: rows of `x,y,z` in g (the ceiling-fan format), `window` rows per window;
    thermal: one frame per row (768 values in degrees C after any leading columns, the
    recording format of device/framerows.py), or blocks of 24 rows of 32 values. Files are taken in name
    order; a window never spans two files (the host cuts windows the same way), so a
    replay on the board sees the same windows as `host_tools simulate`. Lines follow
    device.csvrows, as on the host: a header allowed on the first line, blank lines
    skipped, values finite and physically possible; a bad line raises ValueError naming
    the file and line (the app counts it and the next read goes on with the next
    window). realtime=True spaces windows at the recording's rate.
    """

    def __init__(self, folder, kind="accel", window=200, rate=200.0, axes=3, loop=True,
                 realtime=False, ticks_ms=None, sleep=None, listdir=None, opener=None,
                 buffers=None):
        self.folder = folder
        self.kind = kind
        if kind == "thermal":
            self.rows_n, self.cols_n, self.transpose = MLX_ROWS, MLX_COLS, False
            self.window = MLX_ROWS
        else:
            self.rows_n, self.cols_n, self.transpose = int(window), int(axes), True
            self.window = int(window)
        self.rate = float(rate)
        self.axes = int(axes)
        self.loop = loop
        self.realtime = realtime
        self._ticks = ticks_ms if ticks_ms is not None else default_ticks()
        self._sleep = sleep
        self._listdir = listdir if listdir is not None else os.listdir
        self._open = opener if opener is not None else open
        if self.transpose:
            self._bufs, self.win = window_buffers(self.cols_n, self.rows_n, buffers)
        else:
            self._buf, self._flat = frame_buffer(self.rows_n, self.cols_n)
            self.win, self._shared = frame_of(self._flat, self.rows_n, self.cols_n, self._buf)
        self._rows = None  # device.csvrows.Rows, made at the first read (after setup's peak)
        self._row = array.array("f", [0.0] * self.cols_n)
        self.files = None
        self._fi = 0
        self._f = None
        self._pending = None
        self._amb_col = None
        self._line = 0
        self.ambient = None
        self._last = None
        self.windows = 0
        self.rate_measured = self.rate
        self.rate_ok = True
        per_read = 1 if kind == "thermal" else self.window  # samples per read
        self.period_ms = int(1000.0 * per_read / self.rate)

    def _list(self):
        try:
            names = self._listdir(self.folder)
        except OSError:
            raise OSError(2, "replay folder %r not found" % self.folder)
        from device.csvrows import natural_key

        files = sorted([n for n in names if n.lower().endswith(".csv") and not n.startswith(".")], key=natural_key)
        if not files:
            raise OSError(2, "replay folder %r has no .csv files" % self.folder)
        self.files = files

    def _open_next(self):
        """Open the next file; returns False when the replay is over."""
        if self._f is not None:
            self._f.close()
            self._f = None
        if self._fi >= len(self.files):
            if not self.loop:
                return False
            self._fi = 0
        path = self.folder + "/" + self.files[self._fi]
        self._fi += 1
        self._f = self._open(path, "r")
        self._path = path
        if self._rows is None:
            from device import csvrows

            self._rows = csvrows.Rows(self.kind)
        self._rows.start(path)
        self._line = 0
        self._amb_col = None
        self._pending = None
        return True

    def _fill(self):
        """Fill the window from the current file; False if the file ended first. Rows
        follow device.csvrows (the host's rules): a bad line raises ValueError naming the
        file and the line as an editor numbers it."""
        if not self.transpose:
            return self._fill_frame()
        return self._fill_rows()

    def _fill_frame(self):
        """One thermal frame: a row of 768 values after any leading columns (the
        recording format of device/framerows.py; a header names the leading columns, and
        one named `ambient` or `ta` gives `ambient`), or a block of 24 rows of 32
        (device.csvrows' thermal rows)."""
        f = self._f
        n = MLX_ROWS * MLX_COLS
        flat = self._buf
        while True:
            line = f.readline()
            if not line:
                return False
            self._line += 1
            s = line.strip()
            if s:
                break
            self._rows.feed(line)  # keeps the block reader's line numbers right
        cells = s.split(",")
        if len(cells) < n:  # a block of rows: the first line goes to the row reader
            self._pending = line
            return self._fill_rows()
        lead = len(cells) - n
        try:
            float(cells[lead])
        except ValueError:
            if self._line == 1:  # a header: find the ambient column
                self._amb_col = -1
                for k in range(lead):
                    nm = cells[k].strip().lower()
                    if nm == "ambient" or nm == "ta":
                        self._amb_col = k
                return self._fill_frame()
            raise ValueError("%s: line %d has a non-numeric value %r" % (self._path, self._line, cells[lead].strip()))
        for k in range(n):
            c = cells[lead + k]
            try:
                v = float(c)
            except ValueError:
                raise ValueError("%s: line %d has a non-numeric value %r" % (self._path, self._line, c.strip()))
            if not -60.0 <= v <= 400.0:  # NaN fails too
                raise ValueError("%s: line %d has %s, outside the physical range of thermal data "
                                 "(-60..400 deg C)" % (self._path, self._line, c.strip()))
            flat[k] = v
        if self._amb_col is None:
            self._amb_col = -1
        if 0 <= self._amb_col < lead:
            try:
                self.ambient = float(cells[self._amb_col])
            except ValueError:
                self.ambient = None
        return True

    def _fill_rows(self):
        f = self._f
        n = self.rows_n
        cols = self.cols_n
        transpose = self.transpose
        bufs = self._bufs if transpose else None
        flat = None if transpose else self._buf
        rows = self._rows
        row = self._row
        r = 0
        while r < n:
            if self._pending is not None:  # a block's first line, read by _fill_frame
                line = self._pending
                self._pending = None
            else:
                line = f.readline()
                if not line:
                    return False
            if rows.feed(line, row) is None:
                continue
            if transpose:
                for c in range(cols):
                    bufs[c][r] = row[c]
            else:
                base = r * cols
                for c in range(cols):
                    flat[base + c] = row[c]
            r += 1
        return True

    def read(self):
        if self.files is None:
            self._list()
        if self._f is None and not self._open_next():
            return None
        tries = 0
        while not self._fill():
            tries += 1
            if tries > len(self.files) + 1 or not self._open_next():
                if tries > len(self.files) + 1:
                    raise ValueError("replay folder %r has no file with a whole window" % self.folder)
                return None
        if self.realtime:
            self._pace()
        self.windows += 1
        if not self.transpose and not self._shared:
            self.win = self._flat.reshape((self.rows_n, self.cols_n))
        return self.win

    def _pace(self):
        now = self._ticks()
        if self._last is not None:
            self._wait_until(self._last, self.period_ms)
            now = self._ticks()
        self._last = now

    def recover(self):
        pass

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None
