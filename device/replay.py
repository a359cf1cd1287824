"""CSV recordings from a folder on the drive played as a sensor (SENSOR = "replay"): accel
windows or thermal frames, in the host's order and with the host's line rules
(device.csvrows), optionally at the recorded rate."""

import array
import os

from device.ticks import _Paced, default_ticks
from device.xp import window_buffers


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
    window). realtime=True spaces windows at the recording's rate. A thermal replay reads its
    frames with device/framereplay.py, imported only for it.
    """

    ambient = None  # a thermal replay's ambient reading (device/framereplay.py)

    def __init__(self, folder, kind="accel", window=200, rate=200.0, axes=3, loop=True,
                 realtime=False, ticks_ms=None, sleep=None, listdir=None, opener=None,
                 buffers=None):
        self.folder = folder
        self.kind = kind
        self.rate = float(rate)
        self.axes = int(axes)
        self.loop = loop
        self.realtime = realtime
        self._ticks = ticks_ms if ticks_ms is not None else default_ticks()
        self._sleep = sleep
        self._listdir = listdir if listdir is not None else os.listdir
        self._open = opener if opener is not None else open
        self._frames = None
        if kind == "thermal":  # its frame reader, held for the run
            from device import framereplay

            self._frames = framereplay
            framereplay.setup(self)
        else:
            self.rows_n, self.cols_n = int(window), int(axes)
            self.window = int(window)
            self._bufs, self.win = window_buffers(self.cols_n, self.rows_n, buffers)
        self._rows = None  # device.csvrows.Rows, made at the first read (after setup's peak)
        self._row = array.array("f", [0.0] * self.cols_n)
        self.files = None
        self._fi = 0
        self._f = None
        self._last = None
        self.windows = 0
        self.rate_measured = self.rate
        self.rate_ok = True
        per_read = 1 if kind == "thermal" else self.window  # samples per read
        self.period_ms = int(1000.0 * per_read / self.rate)

    def _list(self):
        """The folder's .csv files in natural order (device/csvfiles.py, imported for it and
        forgotten after: once per replay)."""
        from device import csvfiles, forget

        try:
            self.files = csvfiles.listing(self._listdir, self.folder)
        finally:
            forget("device.csvfiles")

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
        if self._frames is not None:
            self._frames.start(self)
        return True

    def _fill(self):
        """Fill the window from the current file; False if the file ended first. Rows
        follow device.csvrows (the host's rules): a bad line raises ValueError naming the
        file and the line as an editor numbers it."""
        if self._frames is not None:
            return self._frames.fill(self)
        f = self._f
        n = self.rows_n
        cols = self.cols_n
        bufs = self._bufs
        rows = self._rows
        row = self._row
        r = 0
        while r < n:
            line = f.readline()
            if not line:
                return False
            if rows.feed(line, row) is None:
                continue
            for c in range(cols):
                bufs[c][r] = row[c]
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
