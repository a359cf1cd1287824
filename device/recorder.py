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
a reader drops it. The reader is on the host: host_tools/board/collect.py (`collect` command).

Three recorders with one `record(win)` method: SerialRecorder (console), FileRecorder (CSV
files on the drive) and HttpRecorder (POSTs each window in the serial format to the host's
`collect --http` endpoint over Wi-Fi).
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


def next_file_number(folder, listdir, mkdir):
    """The number after the highest <NNNNNN>.csv already in `folder` (made if missing), so
    a restarted board never overwrites what it recorded before."""
    try:
        names = listdir(folder)
    except OSError:
        mkdir(folder)
        names = []
    top = -1
    for name in names:
        stem = name[:-4] if name.endswith(".csv") else ""
        if stem.isdigit() and int(stem) > top:
            top = int(stem)
    return top + 1


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
        self.n = next_file_number(self.folder, self._listdir, self._mkdir)

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


class HttpRecorder:
    """POSTs each window, in the serial format above, to the host's `collect --http`
    endpoint through a requests-like `session` (adafruit_requests.Session on the board)
    with the token in an Authorization header. A post is bounded by `timeout` seconds;
    after a failure the next windows are skipped (counted in `dropped`) for a back-off
    that doubles up to `max_skip` windows, so an unreachable host costs sensing at most
    one timeout per back-off. A rejected token (401) or size (413) stops recording (the
    reason is kept in `last_error`); sensing goes on either way."""

    def __init__(self, session, url, token, kind="accel", sensor=None, ticks_ms=None,
                 timeout=2.0, max_skip=64, device=None):
        self.session = session
        self.url = url
        self.kind = kind
        self.timeout = timeout
        self.max_skip = int(max_skip)
        self.headers = {"Authorization": "Bearer %s" % (token,), "Content-Type": "text/plain"}
        if device:
            self.headers["X-Device"] = str(device)
        self._lines = []
        self._rec = SerialRecorder(kind, self._lines.append, sensor, ticks_ms)
        self.sent = 0
        self.dropped = 0
        self.failures = 0
        self.stopped = False
        self.last_error = None
        self._skip = 0
        self._backoff = 1

    def record(self, win):
        if self.stopped:
            return
        if self._skip > 0:
            self._skip -= 1
            self.dropped += 1
            self._rec.seq += 1
            return
        lines = self._lines
        self._rec.record(win)
        lines.append("")
        body = "\n".join(lines)
        del lines[:]
        code = None
        try:
            r = self.session.post(self.url, data=body, headers=self.headers, timeout=self.timeout)
            try:
                code = r.status_code
                r.content  # noqa: B018 - read the small answer: adafruit_requests reuses the socket
            finally:
                r.close()
        except Exception as e:  # noqa: BLE001 - OSError, RuntimeError, timeouts: the loop goes on
            self.last_error = "%s: %s" % (type(e).__name__, e)
        body = None
        if code in (200, 204):
            self.sent += 1
            self._backoff = 1
            return
        self.dropped += 1
        if code in (401, 413):
            self.stopped = True
            self.last_error = "collect endpoint answered %d (%s)" % (
                code, "token rejected: check RECORD_TOKEN" if code == 401 else "window too large for it")
            return
        if code is not None:
            self.last_error = "collect endpoint answered %d" % code
        self.failures += 1
        self._skip = self._backoff
        self._backoff = min(self._backoff * 2, self.max_skip)
