"""The wall clock a days-off profile needs: the board's RTC, set from NTP when it can be.

The adaptive detector's days-off profile (weekends, holidays) needs the date of each
window; the board's uptime clock does not know it. This object holds the pieces code.py
passes in and never imports them: `rtc_mod` (CircuitPython's `rtc`: `rtc.RTC().datetime
= struct_time` sets the clock that `time.time()` reads), `time_fn` (`time.time`), and
`ntp` (an `adafruit_ntp.NTP(pool, tz_offset=hours)`, whose `datetime` property asks a
server and raises OSError or ArithmeticError when none answers in its socket timeout);
`ntp` is None without Wi-Fi.

The clock counts as set when `time_fn()` is past 2020-01-01: CircuitPython's RTC starts at
2000-01-01 after power-up and keeps its time across a soft reload. `TZ_OFFSET` (hours,
settings.toml) goes to adafruit_ntp, so `time_fn()` reads local time and the day changes
at local midnight. Until the clock is set the detector treats every day as a workday (its
safe fallback). Sync attempts are bounded: one NTP request (the library's own failover,
each under its socket timeout) per attempt, at most `attempts` attempts, spaced by a
back-off that doubles from `retry_s` seconds of uptime; once set, it asks again once
a day (one request; a failure keeps the running clock).
"""

VALID_AFTER = 1577836800  # 2020-01-01: before this the RTC has not been set
DAY_S = 86400


class WallClock:
    def __init__(self, time_fn, rtc_mod=None, ntp=None, attempts=6, retry_s=60, uptime=None, why=None,
                 watchdog=None):
        self._time = time_fn
        self._wd = watchdog
        self.why = why  # why there is no NTP (shown when the clock is not set)
        self._rtc = rtc_mod
        self._ntp = ntp
        self.attempts = int(attempts)
        self.retry_s = retry_s
        self._uptime = uptime  # seconds since boot (device.ticks.Uptime): when to retry
        self.tries = 0
        self.synced = False  # set from NTP by this object (not only kept across a reload)
        self.last_error = None
        self._next = 0.0

    def now(self):
        """Seconds since 1970 (local time with TZ_OFFSET), or None while the clock is unset."""
        try:
            t = self._time()
        except (OSError, ValueError, OverflowError):
            return None
        if t is None or t < VALID_AFTER:
            return None
        return int(t)

    def _up(self):
        return self._uptime() if self._uptime is not None else 0.0

    def can_sync(self):
        return self._ntp is not None and self._rtc is not None

    def due(self):
        """True when a sync attempt is due (bounded: never after `attempts` failures)."""
        if not self.can_sync():
            return False
        if not self.synced and self.tries >= self.attempts:
            return False
        return self._up() >= self._next

    def sync(self):
        """One NTP request; on success the RTC is set. Returns True if the clock was set."""
        if not self.can_sync():
            return False
        # One request may wait a socket timeout per server (adafruit_ntp fails over):
        # a running watchdog is paused around it (mode None stops it on every port).
        wd = self._wd
        mode = getattr(wd, "mode", None) if wd is not None else None
        if mode is not None:
            wd.feed()
            wd.mode = None
        err = None
        try:
            dt = self._ntp.datetime
            self._rtc.RTC().datetime = dt
        except (OSError, ArithmeticError, ValueError, RuntimeError) as e:
            err = "%s: %s" % (type(e).__name__, e)
        finally:
            if mode is not None:
                wd.mode = mode
                wd.feed()
        if err is not None:
            self.last_error = err
            if self.synced:
                self._next = self._up() + DAY_S
                return False
            self.tries += 1
            k = self.tries - 1
            self._next = self._up() + self.retry_s * (1 << (k if k < 6 else 6))
            return False
        self.synced = True
        self.last_error = None
        self._next = self._up() + DAY_S
        return self.now() is not None

    # ---- the app's side: device.app.App calls start() once and window() per window -----
    def start(self, app):
        """At boot: the window length, a first sync, and one console line without a clock."""
        f = app.model["features"]
        w = app.model.get("adaptive", {}).get("seconds", {}).get("window") or \
            float(f["window"]) / float(f["rate"])
        self.window_s = int(round(w)) if w >= 1 else 1
        self.aligned_at = None  # window count when the detector was last set from the clock
        self._said = False
        self.align(app)
        if self.aligned_at is None:
            app.log("# no wall clock%s: days off (weekends, holidays) not known, every day "
                    "counts as a workday until the clock is set" % (
                        " (NTP: %s)" % self.last_error if self.last_error else
                        "" if self.can_sync() else " (%s)" % (self.why or "no NTP")))

    def window(self, app):
        """Before a window is scored: align when the clock first comes, then once a cycle
        (the board's windows are not exactly their nominal length)."""
        if self.aligned_at is None or app.windows - self.aligned_at >= app.detector.cycle:
            self.align(app)

    def align(self, app):
        """Set the detector's clock from this one (syncing first when an attempt is due).
        The window about to be scored started one window ago (at boot: now)."""
        t = self.now()
        if self.due() and self.sync():
            t = self.now()
        if t is None:
            if not self._said and self.can_sync() and not self.synced and self.tries >= self.attempts:
                self._said = True
                app.log("# wall clock: NTP failed %d times (%s): every day stays a workday "
                        "until a restart" % (self.tries, self.last_error))
            return
        w = self.window_s
        app.detector.set_time(t - w if app.windows else t, w)
        if self.aligned_at is None and app.windows:
            app.log("# wall clock set: days off follow it from window %d" % app.windows)
        self.aligned_at = app.windows
