"""Recording mode: raw windows/frames out of the board, from the same sensor path that
inference reads, so training data and live data never differ in how they were sampled.

Serial line format (one window; other console lines - JSON payloads, `# ` messages - may
come before or after, never inside a window):

    #W,<seq>,<kind>,<rows>,<cols>,<rate_hz>,<t_ms>
    <rows> lines of <cols> comma-separated numbers
    #E,<seq>

accel windows: rows = samples, cols = 3 (x,y,z in g) - exactly the CSV format of the
ceiling-fan recordings, one window per file. thermal frames: rows = 24, cols = 32 (deg C).
`rate_hz` is the rate the sensor actually achieved for this window; `t_ms` the board's
uptime in ms. A window without its `#E` line, or with a wrong row count, is incomplete and
a reader drops it. `parse_lines` below is such a reader (pure Python, host or board).
"""

import os


def _row_writer(kind):
    return "%.6f" if kind == "accel" else "%.2f"


def window_rows(win, kind):
    """(rows, cols, cell(r, c)) for a window: accel windows are stored (axes, samples),
    written as samples x axes; thermal frames are written as they are."""
    if kind == "accel":
        shape = win.shape if hasattr(win, "shape") else (len(win), len(win[0]))
        return shape[1], shape[0], lambda r, c: win[c][r]
    shape = win.shape if hasattr(win, "shape") else (len(win), len(win[0]))
    return shape[0], shape[1], lambda r, c: win[r][c]


class SerialRecorder:
    """Streams each window to the console (or any `write(line)`), in the format above."""

    def __init__(self, kind="accel", write=None, sensor=None, ticks_ms=None):
        self.kind = kind
        self._write = write if write is not None else print
        self.sensor = sensor
        self._ticks = ticks_ms
        self.seq = 0
        self._fmt = _row_writer(kind)

    def record(self, win):
        self.seq += 1
        rate = getattr(self.sensor, "rate_measured", 0.0) if self.sensor is not None else 0.0
        t = self._ticks() if self._ticks is not None else 0
        if self.kind == "accel":
            n = len(win[0])
            self._write("#W,%d,%s,%d,%d,%.2f,%d" % (self.seq, self.kind, n, len(win), rate, t))
            x, y, z = win[0], win[1], win[2]
            for i in range(n):
                self._write("%.6f,%.6f,%.6f" % (x[i], y[i], z[i]))
        else:
            rows, cols, cell = window_rows(win, self.kind)
            self._write("#W,%d,%s,%d,%d,%.2f,%d" % (self.seq, self.kind, rows, cols, rate, t))
            fmt = self._fmt
            for r in range(rows):
                row = win[r]
                self._write(",".join([fmt % row[c] for c in range(cols)]))
        self._write("#E,%d" % self.seq)


class FileRecorder:
    """Writes each window as one CSV file `<folder>/<NNNNNN>.csv` (needs the board to own
    the filesystem: see boot.py). Stops after `max_files` files or when the drive is full
    (the error is kept in `last_error`; sensing goes on)."""

    def __init__(self, folder="recordings", kind="accel", max_files=1000, opener=None,
                 mkdir=None, listdir=None):
        self.folder = folder
        self.kind = kind
        self.max_files = int(max_files)
        self._open = opener if opener is not None else open
        self._mkdir = mkdir if mkdir is not None else os.mkdir
        self._listdir = listdir if listdir is not None else os.listdir
        self._fmt = _row_writer(kind)
        self.n = None
        self.written = 0
        self.stopped = False
        self.last_error = None

    def _start(self):
        try:
            names = self._listdir(self.folder)
        except OSError:
            self._mkdir(self.folder)
            names = []
        top = -1
        for name in names:
            stem = name[:-4] if name.endswith(".csv") else ""
            if stem.isdigit() and int(stem) > top:
                top = int(stem)
        self.n = top + 1

    def record(self, win):
        if self.stopped:
            return
        try:
            if self.n is None:
                self._start()
            if self.written >= self.max_files:
                self.stopped = True
                self.last_error = "reached RECORD_MAX_FILES (%d)" % self.max_files
                return
            rows, cols, cell = window_rows(win, self.kind)
            fmt = self._fmt
            with self._open("%s/%06d.csv" % (self.folder, self.n), "w") as f:
                for r in range(rows):
                    f.write(",".join([fmt % cell(r, c) for c in range(cols)]))
                    f.write("\n")
            self.n += 1
            self.written += 1
        except OSError as e:  # read-only filesystem (USB owns it) or drive full
            self.stopped = True
            self.last_error = "%s: %s" % (type(e).__name__, e)


def parse_lines(lines):
    """Reader for the serial format: yields (header dict, rows as lists of floats) for
    every complete window in an iterable of text lines; everything else is ignored."""
    head = None
    rows = None
    for raw in lines:
        line = raw.strip()
        if line.startswith("#W,"):
            parts = line.split(",")
            head = None
            if len(parts) >= 7:
                try:
                    head = {"seq": int(parts[1]), "kind": parts[2], "rows": int(parts[3]),
                            "cols": int(parts[4]), "rate": float(parts[5]), "t_ms": int(parts[6])}
                except ValueError:
                    head = None
            rows = [] if head is not None else None
            continue
        if head is None:
            continue
        if line.startswith("#E,"):
            ok = line[3:].strip() == str(head["seq"]) and len(rows) == head["rows"]
            if ok:
                yield head, rows
            head = None
            rows = None
            continue
        try:
            vals = [float(c) for c in line.split(",")]
        except ValueError:
            head = None  # something else got printed inside the window: drop it
            rows = None
            continue
        if len(vals) != head["cols"]:
            head = None
            rows = None
            continue
        rows.append(vals)


def save_session(lines, folder):
    """Host side: every complete window in `lines` (a console capture) as one CSV file
    <folder>/<NNNN>.csv in the training format. Returns the number of files written."""
    try:
        os.makedirs(folder)
    except OSError:
        pass
    n = 0
    for head, rows in parse_lines(lines):
        fmt = _row_writer(head["kind"])
        with open("%s/%04d.csv" % (folder, n), "w") as f:
            for r in rows:
                f.write(",".join([fmt % v for v in r]) + "\n")
        n += 1
    return n


if __name__ == "__main__":  # python -m device.recorder CAPTURE.txt|- OUT_FOLDER  (on a PC)
    import sys

    if len(sys.argv) != 3:
        print("usage: python -m device.recorder CAPTURE.txt|- OUT_FOLDER")
        sys.exit(2)
    src = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
    print("wrote %d window file(s) to %s" % (save_session(src, sys.argv[2]), sys.argv[2]))
