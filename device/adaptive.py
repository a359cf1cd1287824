"""A scalar detector whose baseline follows slow drift: score the residual, not the level.

Per feature k, the prediction is level[k] + profile[slot][k]:
- level: an exponentially weighted mean with a time constant of `tau` windows (follows
  seasonal drift; the daily cycle is taken out first, so it does not chase the cycle);
- profile (optional, `slots` > 0): the mean deviation from the level in each of `slots`
  equal parts of a cycle of `cycle` windows (a daily profile: cycle = windows per day),
  each slot an exponentially weighted mean with a time constant of `profile_tau` cycles;
- spread: the exponentially weighted root mean square of the residual x - prediction,
  time constant `spread_tau` windows, never below `floor` times the trained scale. The
  host's train chooses spread_tau (host_tools.modeling.train.spread_horizon): 4 tau, or
  longer when the residuals are correlated from window to window, so the spread averages
  enough independent residuals not to swing with each burst of them (nor to widen with
  the first hours of a slow failure until it no longer stands out).
The raw score is max_k |residual_k| / spread_k; its ratio to the threshold is the score.

Weeks (optional, `day_types`): a second profile bank for days off. A window belongs to a
day off when its weekday is in `off_weekdays` (0 = Monday) or its day is in `holidays`
(days since 1970-01-01); the profile slot and the day come from the clock: `day0` (the
day of window 0) and `phase0` (windows since that day's midnight), given by the host
from the first time stamp or by the board from its clock (`set_time`). The cycle must then
be one day. Without a clock (day0 None) every day is a workday and the slots count from
the start, as without day types. The days-off bank starts as a copy of the workday
profile on the first day off and learns from days off only.

While an anomaly lasts the baseline is frozen, so an incident is not learned as normal:
a window whose ratio is over the line (1.0) freezes it, and it stays frozen until a
window's ratio falls below `off` (the decision's clearing line). A lasting change of the
machine therefore keeps alarming until the model is retrained or the board restarted.
The first `warmup` windows only learn (ratio 0.0, `learning` True): the trained level is
from another time, and the profile starts empty (its slots count windows from the start,
so no clock is needed).

Board memory: the state is array('f') buffers of n (level, spread^2, last residual) and
slots x n (profile) floats, allocated once; per window O(n) float arithmetic on Python
floats (30-bit on the board: updates are formed as small increments a * (x - m) on
values of the data's own magnitude, which a 21-bit mantissa carries) and two in-place
array operations to copy the feature vector into an array('f') (no ndarray element reads
or stores).
"""

import array

from device import xp


def _fbuf(n, v=0.0):
    a = array.array("f")
    for _ in range(n):
        a.append(v)
    return a


class AdaptiveDetector:
    kind = "adaptive"

    def __init__(self, modes, params, off=0.8):
        if len(modes) != 1:
            raise ValueError("an adaptive detector has exactly one mode")
        m = modes[0]
        self.mode_names = [m["name"]]
        self.n_modes = 1
        mean = [float(v) for v in m["mean"]]
        scale = [float(v) for v in m["scale"]]
        n = len(mean)
        self.size = n
        self._thr = float(m["threshold"])
        self.tau = float(params.get("tau", 36))
        self.spread_tau = float(params.get("spread_tau", 4 * self.tau))
        self.cycle = int(params.get("cycle", 0))
        self.slots = int(params.get("slots", 0)) if self.cycle > 0 else 0
        self.profile_tau = float(params.get("profile_tau", 5.0))
        self.warmup = int(params.get("warmup", 0))
        self.floor = float(params.get("floor", 0.1))
        self.day_types = 1 if (params.get("day_types") and self.slots) else 0
        self.off_weekdays = [int(v) for v in params.get("off_weekdays", [5, 6])]
        self.holidays = set(int(v) for v in params.get("holidays", []))
        d0 = params.get("day0")
        self.day0 = int(d0) if d0 is not None else None
        self.phase0 = int(params.get("phase0", 0))
        self.off = float(off)
        self._a = 1.0 / self.tau if self.tau > 1.0 else 1.0
        self._as = 1.0 / self.spread_tau if self.spread_tau > 1.0 else 1.0
        # a slot is updated cycle/slots times per cycle: profile_tau cycles of updates
        self._ap = (float(self.slots) / (self.profile_tau * self.cycle)) if self.slots else 0.0
        if self._ap > 1.0:
            self._ap = 1.0
        self._mean0 = mean
        self._scale0 = scale
        self._level = _fbuf(n)
        self._var = _fbuf(n)
        self._min_var = _fbuf(n)
        self._res = _fbuf(n)
        self._prof = _fbuf(self.slots * n * (1 + self.day_types))
        self._xb = _fbuf(n)
        self._xv = xp.view(self._xb) if xp.np is not None else None
        self._zero = xp.array([0.0]) if xp.np is not None else None
        for k in range(n):
            self._min_var[k] = (self.floor * scale[k]) ** 2
        self.last_raw = 0.0
        self.reset()

    def reset(self):
        """Back to the trained level and spread, profile empty, warm-up again."""
        for k in range(self.size):
            self._level[k] = self._mean0[k]
            self._var[k] = self._scale0[k] * self._scale0[k]
            self._res[k] = 0.0
        for j in range(len(self._prof)):
            self._prof[j] = 0.0
        self._off_started = False
        self._days_seen = [0, 0]  # days of each type learned (workday, day off)
        self._last_day = None
        self.count = 0
        self.frozen = False
        self.learning = self.warmup > 0
        self.last_raw = 0.0

    # ---- the interface the app, training and commissioning use -------------------------
    def threshold(self, i=0):
        return self._thr

    def mode_params(self, i=0):
        return (list(self._mean0), list(self._scale0), self._thr)

    def set_mode(self, i, mean=None, scale=None, threshold=None):
        if mean is not None:
            self._mean0 = [float(v) for v in mean]
        if scale is not None:
            self._scale0 = [float(v) for v in scale]
            for k in range(self.size):
                self._min_var[k] = (self.floor * self._scale0[k]) ** 2
        if threshold is not None:
            self._thr = float(threshold)
        if mean is not None or scale is not None:
            self.reset()

    def skip(self, windows):
        """Windows that were never seen (a gap in a recording): the cycle's phase moves on,
        the level and spread stay."""
        if windows > 0:
            self.count += int(windows)
            if self.learning and self.count >= self.warmup:
                self.learning = False

    def nearest(self, x):
        return 0

    def set_time(self, epoch_seconds, window_seconds):
        """The clock time of the next window (seconds since 1970, integer): from here on
        the profile slot and the day type follow the clock."""
        s = int(epoch_seconds)
        w = int(window_seconds) if window_seconds >= 1 else 1
        # window 0 sits `count` windows before the next one
        s -= self.count * w
        first = self.day0 is None
        old = self.phase0
        self.day0 = s // 86400
        self.phase0 = (s % 86400) // w
        if self.slots and self.count and self.phase0 != old:
            # a clock set after windows were learned (a board whose clock came late, or a
            # re-alignment): the profile learned so far moves to the slots the clock says
            self._rotate(self.phase0 - old)
        if first and self.day_types and self.cycle:
            # what was learned before the clock counts as workdays seen
            self._days_seen[0] = self.count // self.cycle
            self._last_day = self.day0 + (self.count + self.phase0) // self.cycle - 1

    def _rotate(self, windows):
        """Move every profile bank `windows` windows later in the cycle (whole slots)."""
        sl = self.slots
        d = int(round(float(windows) * sl / self.cycle)) % sl
        if not d:
            return
        n = self.size
        tmp = _fbuf(sl * n)
        for b in range(1 + self.day_types):
            o = b * sl * n
            for j in range(sl * n):
                tmp[j] = self._prof[o + j]
            for j in range(sl):
                t = ((j + d) % sl) * n
                for k in range(n):
                    self._prof[o + t + k] = tmp[j * n + k]

    def day_off(self, day):
        """True if `day` (days since 1970-01-01) is a day off."""
        return day in self.holidays or ((day + 3) % 7) in self.off_weekdays

    def _where(self):
        """(profile base index, bank) of the window about to be scored."""
        if not self.slots:
            return 0, 0
        into = self.count + self.phase0
        base = ((into % self.cycle) * self.slots // self.cycle) * self.size
        if not self.day_types or self.day0 is None:
            return base, 0
        day = self.day0 + into // self.cycle
        bank = 1 if self.day_off(day) else 0
        if day != self._last_day:
            self._last_day = day
            self._days_seen[bank] += 1
            if bank == 1 and not self._off_started:
                # the first day off starts from the workday profile
                half = self.slots * self.size
                for j in range(half):
                    self._prof[half + j] = self._prof[j]
                self._off_started = True
        return base + bank * self.slots * self.size, bank

    def _load(self, x):
        """x (an ndarray, list or array('f')) into the array('f') _xb, without ndarray
        element reads: two in-place array operations."""
        if self._xv is not None and not isinstance(x, (list, array.array)):
            xv = self._xv
            xv *= self._zero
            xv += x
        else:
            for k in range(self.size):
                self._xb[k] = x[k]
        return self._xb

    def step(self, x):
        """Score x against the baseline, then learn it unless frozen; returns the raw
        score (max |residual| / spread). Windows are taken in time order: this is the
        only method that moves the baseline."""
        xb = self._load(x)
        n = self.size
        prof = self._prof
        base, bank = self._where()
        level = self._level
        var = self._var
        res = self._res
        raw = 0.0
        for k in range(n):
            v = xb[k]
            p = prof[base + k] if self.slots else 0.0
            r = v - level[k] - p
            res[k] = r
            s2 = var[k]
            if s2 < self._min_var[k]:
                s2 = self._min_var[k]
            z = r * r / s2
            if z > raw:
                raw = z
        raw = raw ** 0.5
        if not raw - raw == 0.0:  # NaN/inf: never learned, never normal
            self.last_raw = raw
            return raw
        ratio = raw / self._thr if self._thr > 0 else raw
        if self.learning:
            ratio = 0.0
        if self.frozen:
            if ratio < self.off:
                self.frozen = False
        elif ratio > 1.0:
            self.frozen = True
        if not self.frozen:
            # A running mean until the time constant is reached (the trained level is
            # from another time), then exponential weighting.
            c1 = self.count + 1.0
            a = self._a if self._a * c1 >= 1.0 else 1.0 / c1
            aS = self._as if self._as * c1 >= 1.0 else 1.0 / c1
            ap = self._ap
            if self.slots:
                days = (self._days_seen[bank] - 1) if (self.day_types and self.day0 is not None) \
                    else self.count // self.cycle
                seen = days * (self.cycle // self.slots) + 1.0
                if ap * seen < 1.0:
                    ap = 1.0 / seen
            for k in range(n):
                r = res[k]
                # level learns the de-cycled value, the slot the deviation from the level
                level[k] = level[k] + a * r
                if self.slots:
                    prof[base + k] = prof[base + k] + ap * (r - a * r)
                var[k] = var[k] + aS * (r * r - var[k])
        self.count += 1
        if self.learning and self.count >= self.warmup:
            self.learning = False
        self.last_raw = raw
        return raw

    def score(self, x):
        """(ratio, 0): the residual's ratio to the threshold (0.0 while warming up)."""
        raw = self.step(x)
        if not raw - raw == 0.0:
            return raw, 0
        if self.learning or self.count <= self.warmup:
            return 0.0, 0
        return raw / self._thr, 0

    def raw(self, x, i=0):
        """The raw score of x (stateful: it learns x, as score does)."""
        return self.step(x)

    def all_raw(self, x):
        return xp.array([self.step(x)])

    def contributions(self, x, i=0):
        """|residual| / spread per feature, of the window scored last."""
        out = []
        for k in range(self.size):
            s2 = self._var[k]
            if s2 < self._min_var[k]:
                s2 = self._min_var[k]
            out.append(abs(self._res[k]) / s2 ** 0.5)
        return out

    def residuals(self):
        """The signed residuals (x - prediction) of the window scored last."""
        return list(self._res)

    def explain(self, x, i, names, top=3):
        return self.explain_values(x, i, names, top)[0]

    def explain_values(self, x, i, names, top=3):
        """(pairs, values) as device.detectors' detectors give them; here "normal" is the
        prediction the last window was scored against (level + profile slot, frozen
        during an anomaly) and the spread its residual's spread."""
        c = self.contributions(x, i)
        order = sorted(range(len(c)), key=lambda k: -c[k])[:top]
        vals = []
        for k in order:
            s2 = self._var[k]
            if s2 < self._min_var[k]:
                s2 = self._min_var[k]
            v = self._xb[k]
            vals.append([v, v - self._res[k], s2 ** 0.5])
        return [(names[k], c[k]) for k in order], vals

    def baseline(self):
        """(level, spread) of feature 0 as the next window would see them (plots, tests)."""
        base = 0
        if self.slots:
            into = self.count + self.phase0
            base = ((into % self.cycle) * self.slots // self.cycle) * self.size
            if self.day_types and self.day0 is not None and \
                    self.day_off(self.day0 + into // self.cycle) and self._off_started:
                base += self.slots * self.size
        p = self._prof[base] if self.slots else 0.0
        s2 = self._var[0] if self._var[0] > self._min_var[0] else self._min_var[0]
        return self._level[0] + p, s2 ** 0.5
