"""The thermal recording format, one frame per CSV row (t_ms, ambient, p0..p767), and the
board's recorder for it (RECORD = "file" with the camera)."""

from device.chips import MLX_COLS as COLS
from device.chips import MLX_ROWS as ROWS

N = ROWS * COLS

def csv_header(leading=("t_ms", "ambient")):
    """Header of a frame CSV: the named leading columns, then p0..p767 (row-major)."""
    return ",".join(list(leading) + ["p%d" % k for k in range(N)])


def csv_row(frame, leading=()):
    """One CSV line (no newline) for a frame (a flat sequence of 768 deg C) and the
    values of its leading columns."""
    cells = ["%s" % (v,) if isinstance(v, int) else "%.2f" % v for v in leading]
    for k in range(N):
        cells.append("%.2f" % frame[k])
    return ",".join(cells)


class FrameRowRecorder:
    """RECORD = "file" with the camera: frames as rows (the format above), `per_file`
    frames to a CSV `<folder>/<NNNNNN>.csv` with the header `t_ms,ambient,p0..p767`
    (t_ms from the board's tick clock, ambient the chip's Ta or nan). Stops after
    `max_files` files or when the drive is full (`last_error`; sensing goes on). Needs the
    board to own the filesystem (boot.py)."""

    def __init__(self, folder="recordings", sensor=None, ticks_ms=None, max_files=1000,
                 per_file=300, opener=None, mkdir=None, listdir=None):
        import os

        self.folder = folder
        self.sensor = sensor
        self._ticks = ticks_ms
        self.max_files = int(max_files)
        self.per_file = int(per_file)
        self._open = opener if opener is not None else open
        self._mkdir = mkdir if mkdir is not None else os.mkdir
        self._listdir = listdir if listdir is not None else os.listdir
        self.kind = "thermal"
        self.n = None
        self.written = 0  # files started
        self.rows = 0  # frames in the current file
        self.stopped = False
        self.last_error = None
        self._f = None

    def _next_file(self):
        if self.n is None:
            from device.recorder import next_file_number

            self.n = next_file_number(self.folder, self._listdir, self._mkdir)
        if self._f is not None:
            self._f.close()
            self._f = None
        if self.written >= self.max_files:
            self.stopped = True
            self.last_error = "reached RECORD_MAX_FILES (%d)" % self.max_files
            return
        self._f = self._open("%s/%06d.csv" % (self.folder, self.n), "w")
        self._f.write(csv_header())
        self._f.write("\n")
        self.n += 1
        self.written += 1
        self.rows = 0

    def record(self, win):
        if self.stopped:
            return
        try:
            if self._f is None or self.rows >= self.per_file:
                self._next_file()
                if self.stopped:
                    return
            f = self._f
            t = self._ticks() if self._ticks is not None else 0
            amb = getattr(self.sensor, "ambient", None)
            f.write("%d,%s," % (t, "nan" if amb is None else "%.2f" % amb))
            flat = win.reshape((N,)) if hasattr(win, "reshape") else win
            for r in range(ROWS):  # a row of the image at a time: short strings
                f.write(",".join(["%.2f" % flat[r * COLS + c] for c in range(COLS)]))
                f.write("," if r < ROWS - 1 else "\n")
            f.flush()
            self.rows += 1
        except OSError as e:
            self.stopped = True
            self.last_error = "%s: %s" % (type(e).__name__, e)

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None
