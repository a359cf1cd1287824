"""On-device commissioning: re-learn each mode's location, scale and threshold in place.

A sensor taped onto a machine again reads differently (mounting, tilt, coupling), so a
model fitted on an earlier recording can call everything anomalous. After installation
the board treats its first windows as normal: the first `n_fit` update each mode's mean and
scale with Welford's streaming algorithm (no window is stored), the next `n_threshold` are
scored with the new location to choose each mode's threshold at the false-alarm rate
(device.threshold.choose: the rate the threshold supports is kept in `fa_supported`).
The host-trained structure (inverse correlation) is kept. The same code runs on the host.

Commissioning only helps if its windows are steady normal operation. When they finish,
three guards run; if one fails nothing is adopted (the trained values stay) and `refused`
says why:
- distance: more than half of a mode's first-half windows score over `max_ratio` times
  the mode's typical score (model "typical_raw") -- farther than a remount moves a mode
  (REMOUNT_ALLOWANCE is measured on the ceiling fan's remounted sessions, docs/board.md);
- mode change: a mode has enough windows in one half and not in the other;
- halves: the mean of a mode's second-half windows, scored against the location fitted on
  the first half, is over `halves_limit` times the median score of those windows (steady
  sessions: 0.01-0.35; a change in the middle: 0.85-1.0);
- unsteady: the windows of a mode vary more than `spread_limit` times what the mode varied
  in training (the median over features of the commissioning std over the trained scale):
  a recording made while the machine was being moved about is not a reference;
- operating axis: the windows' mean has moved more than `axis_limit` of the way from the
  mode towards another trained mode (the projection of the standardised shift on the line
  between the two modes' means). A moved sensor changes how the vibration reaches it (axis
  gains, rotation, a mounting resonance, the noise floor); the line between two trained
  modes is how the machine itself changes when it runs differently. On the ceiling fan a
  coin on a blade moves every speed 17-54% of the way towards the next slower speed; the
  later parts of the normal sessions move 0-15% and the remounted session 7-12%
  (docs/board.md section 11). Needs two or more modes. A mode trained on several sessions
  (sensor positions) may carry its own wider limit (`axis_limit`): a bound, from how far
  its sessions moved along the axis from one another, on how far a new position may move
  it (host_tools.modeling.calibration.axis_allowance).
"""

from device import xp
from device.stats import Welford  # noqa: F401  (re-exported: the one Welford)
from device.threshold import choose, differs, threshold_from_scores  # noqa: F401

# How far a genuine remount moves a mode: the median raw score of the commissioning
# windows over the mode's typical raw score (the median of its calibration windows; both
# squared distances: d^2, or max|z| squared), with headroom. On the ceiling fan
# (docs/board.md), over every 15% block of the remounted sessions against the low-speed
# mode: fan_0_low-deploy 8-15 (z-score 8-19), fan_0_low_0_weight-moving 9-78 (z-score
# 17-206); the fan at high speed, with or without the coin, against the "off" mode:
# 165-228 (z-score 484-936). Models trained on 25 or 117 calibration windows a mode agree.
REMOUNT_ALLOWANCE = {"mahalanobis": 115.0, "zscore": 300.0}
# Without a typical score in the model (files from before it was stored): the threshold
# over this factor stands in for it (thresholds are 2-6 x the typical score).
TYPICAL_PER_THRESHOLD = 0.4
HALVES_LIMIT = 0.5
# Operating-axis guard: the share of the way towards another trained mode a commissioning
# run may have moved (ceiling fan, every 10-30% block: normal sessions 0-0.15, the
# remounted session 0.07-0.12, coin sessions 0.17-0.54). Thin on the high-speed mode, whose
# own session drifts towards medium speed by its end (0.15) while the coin sits at 0.17-0.27.
AXIS_LIMIT = 0.16
# An adopted run that came within a factor 1.5 of its limit along the operating axis gets
# a warning: on the ceiling fan the high-speed session's own later part moves 8-16% and
# the coin at high speed 15-26% (docs/board.md section 11): a close decision, and the
# user should hear so.
CLOSE_SHARE = 0.67
# Unsteady guard: median over features of (commissioning std / trained scale). Steady
# sessions 0.8-1.3 on the ceiling fan, the session recorded while the fan was being
# moved about about 2 and more.
SPREAD_LIMIT = 1.6


def from_model(detector, doc, n_fit, n_threshold, mode=None, **kw):
    """A Commissioner with the model's false-alarm rate, drift margins and typical scores."""
    modes = doc["modes"]
    return Commissioner(detector, n_fit, n_threshold, doc.get("fa_rate", 0.01), mode=mode,
                        margins=[m.get("drift_margin", 1.0) for m in modes],
                        typical=[m.get("typical_raw") for m in modes],
                        axis_limits=[m.get("axis_limit") for m in modes], **kw)


class Commissioner:
    """Feeds on feature vectors; when done, the detector carries the installed values.

    margins: per-mode factors (>= 1) applied to the commissioned thresholds.
    typical: per mode, the median raw score of its calibration windows (the model's
    "typical_raw"), the unit of the distance guard; None: threshold x TYPICAL_PER_THRESHOLD.

    mode: index of the one mode being commissioned, or None to assign every window to the
    nearest mode (by the model as trained) — fine when modes are far apart, as fan speeds are.
    Modes that got fewer than `min_windows` windows keep their trained values.

    After the last window: done = True; refused = None (adopted) or the reason nothing was
    adopted; updated = names of the modes replaced; fa_supported[i] / methods[i] = the
    rate mode i's new threshold supports and how it was chosen, typical[i] its new typical
    raw score (None / unchanged if not replaced);
    warnings = one line per mode whose supported rate is worse than fa_rate.
    guard=False skips the guards (the host's drift-margin replays).
    """

    def __init__(self, detector, n_fit, n_threshold, fa_rate, mode=None, min_windows=8,
                 min_scale_ratio=0.1, margins=None, typical=None, max_ratio=None,
                 halves_limit=HALVES_LIMIT, guard=True, axis_limit=AXIS_LIMIT,
                 spread_limit=SPREAD_LIMIT, axis_limits=None):
        if n_fit < 2 or n_threshold < 1:
            raise ValueError("commissioning needs n_fit >= 2 and n_threshold >= 1")
        self.detector = detector
        self.n_fit = int(n_fit)
        self.n_threshold = int(n_threshold)
        self.fa_rate = float(fa_rate)
        self.mode = mode
        self.min_windows = int(min_windows)
        self.min_scale_ratio = float(min_scale_ratio)
        self.max_ratio = float(max_ratio if max_ratio is not None
                               else REMOUNT_ALLOWANCE.get(detector.kind, REMOUNT_ALLOWANCE["mahalanobis"]))
        self.halves_limit = float(halves_limit)
        self.axis_limit = float(axis_limit)
        # per mode: a wider operating-axis limit the host measured between the mode's
        # training sessions (sensor positions), None: axis_limit
        n_m = len(detector.mode_names)
        lims = list(axis_limits) if axis_limits else [None] * n_m
        self.axis_limits = [float(v) if v else self.axis_limit for v in lims]
        self.spread_limit = float(spread_limit)
        self.guard = guard
        # what the guards measured, per mode (None: not measured): share of the way to the
        # nearest other mode along the operating axis (and which mode), and spread ratio
        self.axis_share = [None] * len(detector.mode_names)
        self.axis_towards = [None] * len(detector.mode_names)
        self.spread_ratio = [None] * len(detector.mode_names)
        # A threshold learned from a short run right after installation under-covers the
        # slow drift of a long run; the host measures that factor on the training session
        # (the mode's "drift_margin") and it is applied here.
        n_modes = len(detector.mode_names)
        self.margins = list(margins) if margins else [1.0] * n_modes
        typ = list(typical) if typical else [None] * n_modes
        self.typical = [float(typ[i]) if typ[i] else detector.threshold(i) * TYPICAL_PER_THRESHOLD
                        for i in range(n_modes)]
        # squared distance over which a window is farther than a remount explains
        self._far_raw = [self._squared(t) * self.max_ratio for t in self.typical]
        self._stats = [Welford(detector.size) for _ in range(n_modes)]
        self._sum2 = [xp.zeros(detector.size) for _ in range(n_modes)]  # second-half sums
        self._n2 = [0] * n_modes
        self._far = [0] * n_modes
        self._scores = xp.zeros(self.n_threshold)
        self._score_mode = bytearray(self.n_threshold)
        self._trained = None
        self.seen = 0
        self.done = False
        self.refused = None
        self.updated = []  # names of the modes whose values were replaced
        self.fa_supported = [None] * n_modes
        self.methods = [None] * n_modes
        self.warnings = []

    @property
    def total(self):
        return self.n_fit + self.n_threshold

    def progress(self):
        return self.seen / self.total

    def _squared(self, raw):
        """Raw score in squared-distance units (max|z| is a distance, d^2 a squared one)."""
        return raw * raw if self.detector.kind == "zscore" else raw

    def _mode_of(self, x):
        return self.mode if self.mode is not None else self.detector.nearest(x)

    def update(self, x):
        """Take one window's features; returns True once commissioning is complete
        (adopted or refused: see `refused`)."""
        if self.done:
            return True
        det = self.detector
        i = self._mode_of(x)
        if self.seen < self.n_fit:
            self._stats[i].update(x)
            if self.guard and self._squared(det.raw(x, i)) > self._far_raw[i]:
                self._far[i] += 1
            self.seen += 1
            if self.seen == self.n_fit:
                self._apply_location()
            return False
        j = self.seen - self.n_fit
        self._scores[j] = det.raw(x, i)
        self._score_mode[j] = i
        self._sum2[i] += x
        self._n2[i] += 1
        self.seen += 1
        if self.seen == self.total:
            self._finish()
        return self.done

    def _apply_location(self):
        np = xp.np
        det = self.detector
        # the trained values of the modes about to change, to restore them on refusal
        self._trained = []
        for i in range(len(self._stats)):
            st = self._stats[i]
            if st.n < self.min_windows:
                continue
            mean, scale, thr = det.mode_params(i)
            self._trained.append((i, mean, scale, thr))
            floor = xp.array(scale)
            floor *= self.min_scale_ratio
            det.set_mode(i, mean=st.mean, scale=np.maximum(st.std(), floor))
            self.updated.append(det.mode_names[i])

    def _mine(self, i):
        return sorted(self._scores[j] for j in range(self.n_threshold) if self._score_mode[j] == i)

    def _finish(self):
        det = self.detector
        why = self._check() if self.guard else None
        if why is not None:
            for i, mean, scale, thr in self._trained:
                det.set_mode(i, mean=mean, scale=scale, threshold=thr)
            self.updated = []
            self.refused = why
        else:
            for i in range(len(self._stats)):
                name = det.mode_names[i]
                if name not in self.updated:
                    continue
                mine = self._mine(i)
                if len(mine) < self.min_windows:
                    continue  # guard=False only: the guards refuse this case
                thr, sup, how = choose(mine, self.fa_rate, self.margins[i])
                det.set_mode(i, threshold=thr)
                self.typical[i] = mine[len(mine) // 2]
                self.fa_supported[i] = sup
                self.methods[i] = how
                if differs(sup, self.fa_rate):
                    self.warnings.append(
                        "mode %s: a threshold from %d windows supports a false-alarm rate of "
                        "%.2g%%, not the %.2g%% asked for" % (name, len(mine), 100 * sup,
                                                              100 * self.fa_rate))
                a = self.axis_share[i]
                if a is not None and a > CLOSE_SHARE * self.axis_limits[i]:
                    self.warnings.append(
                        "mode %s: moved %.0f%% towards mode %s, close to the %.0f%% limit: a "
                        "small fault (unbalanced rotor) looks the same, check the machine"
                        % (name, 100 * a, self.axis_towards[i], 100 * self.axis_limits[i]))
        self._trained = None
        self.done = True

    def _check(self):
        """None if the commissioning windows look like steady normal operation, else why."""
        det = self.detector
        mw = self.min_windows
        for i in range(len(self._stats)):
            n1 = self._stats[i].n
            if n1 >= mw and 2 * self._far[i] > n1:
                return ("mode %s: %d of %d windows are over %g x its typical score from it, "
                        "farther than remounting explains (another mode, or not normal "
                        "operation)" % (det.mode_names[i], self._far[i], n1, self.max_ratio))
        for i in range(len(self._stats)):
            n1, n2 = self._stats[i].n, self._n2[i]
            if (n1 >= mw) != (n2 >= mw):
                return ("mode %s: %d windows in the first half, %d in the second: the machine "
                        "changed mode while commissioning" % (det.mode_names[i], n1, n2))
        why = self._steady_and_axis()
        if why is not None:
            return why
        for i in range(len(self._stats)):
            if det.mode_names[i] not in self.updated:
                continue
            mine = self._mine(i)
            med = mine[len(mine) // 2]
            s = self._sum2[i]
            s /= float(self._n2[i])  # the second half's mean (the sum is not needed again)
            h = self._squared(det.raw(s, i))
            med = self._squared(med)
            # (a negligible h: the windows were all identical, e.g. a quiet test rig)
            if h > self.halves_limit * med and h > 1e-4:
                return ("mode %s: the second half of the windows differs from the first "
                        "(its mean scores %.3g x a typical window against the first half's "
                        "fit, limit %g): not steady operation"
                        % (det.mode_names[i], h / med if med > 0 else h, self.halves_limit))
        return None

    def _trained_of(self, j):
        """(mean, scale) of mode j as trained, as arrays."""
        for i, mean, scale, _ in self._trained:
            if i == j:
                return xp.array(mean), xp.array(scale)
        mean, scale, _ = self.detector.mode_params(j)
        return xp.array(mean), xp.array(scale)

    def _steady_and_axis(self):
        """The unsteady and operating-axis guards (see the module doc); None or why."""
        np = xp.np
        det = self.detector
        n_modes = len(self._stats)
        for i in range(n_modes):
            if det.mode_names[i] not in self.updated:
                continue
            mu, sc = self._trained_of(i)
            st = self._stats[i]
            ratio = st.std()
            ratio /= sc
            r = sorted(xp.tolist(ratio))
            self.spread_ratio[i] = r[len(r) // 2]
            if self.spread_ratio[i] > self.spread_limit:
                return ("mode %s: the windows vary %.2g x as much as the mode did in training "
                        "(limit %g): not steady operation" % (det.mode_names[i],
                                                              self.spread_ratio[i], self.spread_limit))
            # the run's mean over both halves, standardised against the trained mode
            s = self._sum2[i] + st.mean * float(st.n)
            s /= float(st.n + self._n2[i])
            s -= mu
            s /= sc
            best, towards = None, None
            for j in range(n_modes):
                if j == i:
                    continue
                mj, _ = self._trained_of(j)
                mj -= mu
                mj /= sc  # u: the way from mode i to mode j, in mode i's units
                uu = float(np.dot(mj, mj))
                if uu <= 0.0:
                    continue
                t = float(np.dot(s, mj)) / uu
                if best is None or t > best:
                    best, towards = t, j
            if best is None:
                continue
            self.axis_share[i] = best
            self.axis_towards[i] = det.mode_names[towards]
            if best > self.axis_limits[i]:
                return ("mode %s: the windows have moved %.0f%% of the way towards mode %s "
                        "(limit %.0f%%): the machine runs differently (another speed or load, or "
                        "a fault), which a moved sensor does not explain"
                        % (det.mode_names[i], 100 * best, det.mode_names[towards],
                           100 * self.axis_limits[i]))
        return None

    def counts(self):
        """Windows each mode got in the first (location/scale) half."""
        return [st.n for st in self._stats]

    def threshold_counts(self):
        """Windows each mode got in the second (threshold) half."""
        return list(self._n2)
