"""Fit per-mode detectors on normal recordings and write the model file.

Statistics are estimated in float64 (mean, scale, shrunk correlation and its inverse);
thresholds are chosen by scoring held-out normal windows with the board's own detector
code in float32, so the threshold matches what the board will compute. Each mode stores
the false-alarm rate its threshold actually supports ("fa_supported", a 90% upper bound,
device.threshold.choose) and how it was chosen ("threshold_method"); threshold_warnings
lists the modes whose supported rate is worse than the one asked for.
"""

from __future__ import annotations

import datetime
import os
from typing import Sequence

import numpy as np

from device import detectors as detectors_mod
from device import model as model_mod
from device import commission as commission_mod
from device import threshold as threshold_mod
from device.commission import Commissioner, threshold_from_scores
from host_tools.data.datasets import DataError

MIN_WINDOWS = 10
DEFAULT_DECISION = {"k": 3, "n": 5, "on": 1.0, "off": 0.8, "cooldown": 30}


def _f32(values: np.ndarray) -> list:
    """Round to float32-representable values (what the board will hold)."""
    return [_num(v) for v in np.asarray(values, dtype=np.float32)]


def _num(v: float) -> float:
    """7 significant digits: float32 precision, and a model file half the size."""
    return float("%.7g" % v)


def shrunk_correlation(z: np.ndarray, shrinkage: float | str = "auto") -> tuple[np.ndarray, float]:
    """Covariance of standardised data shrunk towards the identity (Ledoit-Wolf when 'auto')."""
    if shrinkage == "auto":
        from sklearn.covariance import ledoit_wolf

        cov, alpha = ledoit_wolf(z, assume_centered=True)
        return cov, float(alpha)
    a = float(shrinkage)
    emp = z.T @ z / (len(z) - 1)
    mu = np.trace(emp) / emp.shape[0]
    return (1 - a) * emp + a * mu * np.eye(emp.shape[0]), a


def within_sessions(parts: Sequence[np.ndarray]) -> np.ndarray | None:
    """The windows of several sessions, each centred on its own session mean (float64), or
    None with fewer than two sessions of two or more windows."""
    use = [np.asarray(p, dtype=np.float64) for p in parts if len(p) >= 2]
    if len(use) < 2:
        return None
    return np.concatenate([p - p.mean(axis=0) for p in use])


def fit_mode(name: str, feats: np.ndarray, detector: str, shrinkage: float | str = "auto",
             min_shrinkage: float = 0.05, floors: np.ndarray | None = None,
             sessions: Sequence[np.ndarray] | None = None) -> dict:
    """One mode's mean, scale and (for Mahalanobis) inverse shrunk correlation.
    floors: per-feature scale floors (thermal frame features: a count that is always 0 in
    training must not turn one noisy pixel into an alarm); a floored feature's variance
    is then taken as at least 1, the spread the floor means.
    sessions: `feats` split by recording session (sensor position, installation). With two
    or more, the scale and correlation are those of the windows around their own session's
    mean (the within-session spread): that is what the mode looks like once commissioning
    has re-learnt its location at a new position, and a between-session offset (a sensor
    moved: axis gains, rotation, a mounting resonance) must not pass for how the features
    vary together. The mean is that of all windows; how far a new session lies from it is
    the across-session threshold's business (host_tools.modeling.calibration)."""
    x = np.asarray(feats, dtype=np.float64)
    if len(x) < MIN_WINDOWS:
        raise DataError(f"mode {name!r}: only {len(x)} windows to fit, need at least {MIN_WINDOWS}")
    mean = x.mean(axis=0)
    dev = within_sessions(sessions) if sessions is not None else None
    if dev is not None:
        n_sess = len([p for p in sessions or () if len(p) >= 2])
        scale = np.sqrt((dev * dev).sum(axis=0) / max(1, len(dev) - n_sess))  # pooled within-session std
    else:
        scale = x.std(axis=0, ddof=1)
    scale = np.maximum(scale, 1e-6 + 1e-6 * np.abs(mean)) if floors is None else np.maximum(scale, floors)
    mode = {"name": name, "mean": _f32(mean), "scale": _f32(scale), "n_fit": int(len(x))}
    if detector == "mahalanobis":
        z = (x - np.asarray(mode["mean"])) / np.asarray(mode["scale"]) if dev is None \
            else dev / np.asarray(mode["scale"])
        cov, alpha = shrunk_correlation(z, shrinkage)
        if shrinkage == "auto" and alpha < min_shrinkage:
            cov, alpha = shrunk_correlation(z, min_shrinkage)
        if floors is not None:  # the inverse would amplify a variance under 1
            cov = cov + np.diag(np.maximum(0.0, 1.0 - np.diag(cov)))
        inv = np.linalg.inv(cov)
        inv = (inv + inv.T) / 2
        inv32: np.ndarray = np.asarray(inv, dtype=np.float32)
        inv32 = (inv32 + inv32.T) / 2  # exactly symmetric after rounding
        mode["inv_cov"] = [[_num(v) for v in row] for row in inv32]
        mode["shrinkage"] = round(alpha, 4)
    return mode


class _Replay:
    """Stands in for a stateful detector in choose_thresholds: each 'window' is its raw
    score, already computed in time order."""

    def raw(self, x, i):
        return float(x[0])

    def set_mode(self, i, threshold=None):
        pass


def make_detector(detector: str, modes: list[dict], adaptive: dict | None = None):
    """The device detector over fitted modes (threshold 1.0 until chosen)."""
    ms = [dict(m, threshold=m.get("threshold", 1.0)) for m in modes]
    return detectors_mod.from_model({"detector": detector, "modes": ms, "adaptive": adaptive or {}})


def adaptive_params(window_seconds: float, tau: float, cycle: float | None, slots: int,
                    warmup: float | None = None) -> dict:
    """device.adaptive's parameters in windows, from times in seconds: the level's time
    constant `tau`, the cycle of the profile (None: no profile) split into `slots`."""
    tau_w = max(1.0, tau / window_seconds)
    p: dict = {"tau": round(tau_w, 3), "spread_tau": round(4 * tau_w, 3), "profile_tau": 5.0, "floor": 0.1}
    if cycle:
        cyc = int(round(cycle / window_seconds))
        if cyc < 2:
            raise DataError(f"--cycle: a cycle of {cycle:g} s is under two windows of {window_seconds:g} s")
        p.update(cycle=cyc, slots=max(1, min(int(slots), cyc)))
    else:
        p.update(cycle=0, slots=0)
    w = warmup if warmup is not None else (2 * cycle if cycle else 3 * tau)
    p["warmup"] = int(round(w / window_seconds))
    p["seconds"] = {"window": window_seconds, "tau": tau, "cycle": cycle or 0}
    return p


# Effective samples the adaptive spread averages over: its relative error is about
# 1/sqrt(2 * 50) = 10%, so the score's scale does not swing with each burst of residuals.
SPREAD_SAMPLES = 50


def residual_rho(res: np.ndarray) -> float:
    """Lag-1 autocorrelation of the adaptive detector's residuals (rows: windows after its
    warm-up), the largest over features, within [0, 0.99]; 0.0 with too few windows."""
    r = np.asarray(res, dtype=np.float64)
    if r.ndim != 2 or len(r) < 3 * MIN_WINDOWS:
        return 0.0
    r = r[np.all(np.isfinite(r), axis=1)]
    if len(r) < 3 * MIN_WINDOWS:
        return 0.0
    r = r - r.mean(axis=0)
    den = (r * r).sum(axis=0)
    num = (r[1:] * r[:-1]).sum(axis=0)
    rho = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return float(min(0.99, max(0.0, float(rho.max()))))


def spread_horizon(base: float, rho: float, n_fit: int) -> float:
    """The spread's time constant in windows: long enough to hold SPREAD_SAMPLES effective
    samples of the squared residual, never shorter than `base`.

    An exponentially weighted mean with time constant T over independent values is worth
    about 2T samples; over an AR(1) residual with lag-1 correlation rho, whose square is
    correlated rho^2, about 2T (1 - rho^2) / (1 + rho^2). Hourly temperatures whose level
    follows the weather leave residuals correlated over hours (rho about 0.75): a 1-day
    spread then averages about 10 samples and swings with every front, and with the first
    hours of a slow failure, which widen it until the failure no longer stands out. Capped
    at a quarter of the fit windows, so the spread has settled before calibration starts.
    """
    r2 = rho * rho
    need = SPREAD_SAMPLES * (1.0 + r2) / (2.0 * (1.0 - r2))
    cap = n_fit / 4.0
    return max(base, min(need, cap))


def _learn_fit(det, feats: np.ndarray, starts, window_seconds: float) -> np.ndarray:
    """A stateful (adaptive) detector learns the fit windows in time order, with a line no
    window reaches (nothing freezes); returns the residuals of the windows after warm-up."""
    det.set_mode(0, threshold=3.0e38)
    _set_clock(det, starts, window_seconds)
    res = []
    for x, k in zip(feats, gap_skips(starts, len(feats), window_seconds)):
        det.skip(k)
        det.step(x)
        if not det.learning:
            res.append(det.residuals())
    return np.asarray(res, dtype=np.float64).reshape(len(res), -1)


def gap_skips(starts: np.ndarray | None, n: int, window_seconds: float) -> np.ndarray:
    """Windows missing before each window (gaps in the recording), from start times."""
    if starts is None or window_seconds <= 0:
        return np.zeros(n, dtype=int)
    t = np.asarray(starts, dtype=np.float64)
    d = np.diff(t, prepend=t[:1]) / window_seconds
    k = np.round(d) - 1
    k[~np.isfinite(k) | (k < 0)] = 0
    return k.astype(int)


def raw_scores(det, feats: np.ndarray, mode: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw score of each window against its given mode or, if None, its nearest mode."""
    raws = np.empty(len(feats))
    which = np.empty(len(feats), dtype=int)
    for r, x in enumerate(feats):
        i = mode if mode is not None else det.nearest(x)
        raws[r] = det.raw(x, i)
        which[r] = i
    return raws, which


def choose_thresholds(det, modes: list[dict], calib: Sequence[tuple[np.ndarray, int | None]],
                      fa_rate: float, source: str) -> list[list[float]]:
    """Set each mode's threshold from calibration windows (labelled or nearest-mode);
    returns each mode's calibration scores."""
    per_mode: list[list[float]] = [[] for _ in modes]
    for feats, mode in calib:
        raws, which = raw_scores(det, feats, mode)
        for v, i in zip(raws, which):
            per_mode[i].append(float(v))
    for i, m in enumerate(modes):
        if len(per_mode[i]) < MIN_WINDOWS:
            raise DataError(f"mode {m['name']!r}: only {len(per_mode[i])} calibration windows, "
                            f"need at least {MIN_WINDOWS} to choose a threshold")
        thr, supported, method = threshold_mod.choose(per_mode[i], fa_rate)
        m["threshold"] = float(np.float32(thr))
        m["fa_supported"] = _num(supported)
        m["threshold_method"] = method
        # the upper median, as the board's Commissioner takes it
        m["typical_raw"] = _num(sorted(per_mode[i])[len(per_mode[i]) // 2])
        m["n_threshold"] = len(per_mode[i])
        m["threshold_source"] = source
        det.set_mode(i, threshold=m["threshold"])
    return per_mode


def drift_margin(det, i: int, feats: np.ndarray, fa_rate: float, fraction: float = 0.3,
                 fit_share: float = 0.5, starts: int = 20, coverage: float = 0.75) -> float:
    """How much a commissioned threshold must grow to cover the rest of a session.

    Replays commissioning (the board's Commissioner) on the mode's own training windows in
    time order: commission on a block of `fraction` of them, then take the conformal
    quantile of the following windows' score ratios. Over several block starts the ratios
    spread widely (0.9-1.9 on the ceiling fan); the `coverage` quantile of them (never below
    1) is stored as the mode's drift_margin: the allowance that would have sufficed for 3 of
    4 installation times in the training session.
    """
    n = len(feats)
    k = int(fraction * n)
    n_fit = max(2, int(k * fit_share))
    if k - n_fit < MIN_WINDOWS or n - k < MIN_WINDOWS:
        return 1.0
    mean, scale, thr = det.mode_params(i)
    ratios = []
    last = n - k - MIN_WINDOWS
    for start in sorted({int(round(j * last / max(1, starts - 1))) for j in range(starts)}):
        det.set_mode(i, mean=mean, scale=scale, threshold=thr)
        com = Commissioner(det, n_fit, k - n_fit, fa_rate, mode=i, guard=False)
        for x in feats[start:start + k]:
            com.update(x)
        later = [det.raw(x, i) / det.threshold(i) for x in feats[start + k:]]
        ratios.append(threshold_from_scores(later, fa_rate))
    det.set_mode(i, mean=mean, scale=scale, threshold=thr)
    return max(1.0, float(np.quantile(ratios, coverage)))


def _set_clock(det, starts, window_seconds: float) -> None:
    """A days-off profile needs the clock: the first window's dated start."""
    if getattr(det, "day_types", 0) and starts is not None and len(starts) and np.isfinite(starts[0]) \
            and window_seconds > 0:
        det.set_time(int(starts[0]), window_seconds)


def build_model(extractor, detector: str, fit_sets: Sequence[tuple[str, np.ndarray]],
                calib: Sequence[tuple[np.ndarray, int | None]], fa_rate: float,
                shrinkage: float | str = "auto", decision: dict | None = None,
                sessions: Sequence[str] = (), threshold_source: str = "calibration",
                margin_windows: Sequence[np.ndarray] | None = None,
                adaptive: dict | None = None,
                starts: Sequence[np.ndarray | None] | None = None,
                session_windows: Sequence[Sequence[np.ndarray]] | None = None,
                fit_groups: Sequence[Sequence[np.ndarray] | None] | None = None) -> dict:
    """Fit every mode, choose thresholds, and return the model dict (not yet written).

    margin_windows: per mode, its windows in time order (fit + hold-out) on which the
    commissioning drift margin is measured; None leaves the margin at 1.
    adaptive: device.adaptive's parameters (detector "adaptive"); starts: for it, the
    start times of the fit windows and of each calibration set (gaps move its cycle on).
    session_windows: per mode, the windows of each of its recording sessions; a mode with
    two or more gets a threshold that also holds across sessions (host_tools.modeling.calibration).
    fit_groups: per mode, its fit windows split by session (None: one session); a mode with
    two or more is fitted with the within-session scale and correlation (fit_mode).
    """
    if not 0 < fa_rate < 1:
        raise DataError(f"--fa-rate must be between 0 and 1, got {fa_rate}")
    if detector == "adaptive" and len(fit_sets) != 1:
        raise DataError(f"the adaptive detector follows one stream: give one --normal folder, "
                        f"not {len(fit_sets)}")
    groups = list(fit_groups) if fit_groups is not None else [None] * len(fit_sets)
    modes = [fit_mode(name, f, detector, shrinkage, sessions=g) for (name, f), g in zip(fit_sets, groups)]
    det = make_detector(detector, modes, adaptive)
    if detector == "adaptive":
        # Stateful: learn the fit windows in time order (with a line no window reaches,
        # so nothing freezes), then score the calibration windows that follow them.
        spw = float((adaptive or {}).get("seconds", {}).get("window", 0.0))
        st = list(starts) if starts is not None else [None] * (1 + len(calib))
        res = _learn_fit(det, fit_sets[0][1], st[0], spw)
        adaptive = dict(adaptive or {})
        rho = residual_rho(res)
        base = float(adaptive.get("spread_tau", 4 * float(adaptive.get("tau", 36))))
        longer = spread_horizon(base, rho, len(fit_sets[0][1]))
        adaptive["residual_rho"] = round(rho, 4)
        if longer > base:
            # the board reads spread_tau from the model: nothing more to carry
            adaptive["spread_tau"] = round(longer, 3)
            if spw > 0:
                adaptive["seconds"] = dict(adaptive.get("seconds") or {}, spread=round(longer * spw, 1))
            det = make_detector(detector, modes, adaptive)
            _learn_fit(det, fit_sets[0][1], st[0], spw)
        raws = []
        for (f, _), t in zip(calib, st[1:]):
            for x, k in zip(f, gap_skips(t, len(f), spw)):
                det.skip(k)
                raws.append(det.step(x))
        # choose_thresholds scores in order: hand it the raw scores just computed
        calib = [(np.asarray(raws, dtype=np.float32)[:, None], 0)]
        det = _Replay()
    within = choose_thresholds(det, modes, calib, fa_rate, threshold_source)
    if session_windows is not None and detector in ("mahalanobis", "zscore"):
        from host_tools.modeling import calibration

        for i, m in enumerate(modes):
            sess = [s for s in session_windows[i] if len(s)]
            def fit(rest, name=m["name"]):
                return make_detector(detector, [fit_mode(name, np.concatenate(rest), detector, shrinkage,
                                                         sessions=rest if groups[i] is not None else None)])

            across = calibration.out_of_session_scores(sess, fit) if len(sess) >= 2 else np.zeros(0)
            calibration.across_sessions(m, fa_rate, within[i], across, len(sess))
            det.set_mode(i, threshold=m["threshold"])
        for i, m in enumerate(modes):
            lim = calibration.axis_allowance(modes, i, [s for s in session_windows[i] if len(s)])
            if lim is not None:
                m["axis_limit"] = lim
    for i, m in enumerate(modes):
        span = margin_windows[i] if margin_windows is not None and detector != "adaptive" else None
        if span is not None and len(span) >= 2 * MIN_WINDOWS:
            m["drift_margin"] = round(drift_margin(det, i, span, fa_rate), 4)
    doc = {
        "schema": model_mod.SCHEMA,
        "version": model_mod.VERSION,
        "sensor": extractor.kind,
        "features": extractor.recipe(),
        "detector": detector,
        "fa_rate": fa_rate,
        "modes": modes,
        "decision": dict(decision or DEFAULT_DECISION),
        **({"adaptive": dict(adaptive or {})} if detector == "adaptive" else {}),
        "training": {
            "sessions": list(sessions),
            "fit_windows": {m["name"]: m["n_fit"] for m in modes},
            "threshold_windows": {m["name"]: m["n_threshold"] for m in modes},
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tool": "host_tools.modeling.train",
        },
    }
    # modes whose scale and correlation are those within a session (fit_mode)
    within_fit = [name for (name, _), g in zip(fit_sets, groups) if g is not None and within_sessions(g) is not None]
    if within_fit:
        doc["training"]["within_session_fit"] = within_fit
    model_mod.validate(doc)
    return doc


def threshold_warnings(doc: dict, calib_share: float | None = None) -> list[str]:
    """One line per mode whose threshold supports a worse false-alarm rate than asked:
    how many calibration windows it has, the rate they support, and how many more (and
    how many seconds of recording) back the asked rate without a tail assumption.
    calib_share: the share of a mode's recording that becomes calibration windows (train's
    --holdout); None: the seconds count calibration windows only."""
    fa = doc["fa_rate"]
    feat = doc.get("features", {})
    spw = float(feat.get("window", 0)) / float(feat.get("rate", 1.0) or 1.0)
    need = threshold_mod.windows_needed(fa)
    out = []
    for m in doc["modes"]:
        sup = m.get("fa_supported")
        if sup is not None and threshold_mod.differs(sup, fa):
            n = m.get("n_threshold")
            line = (f"mode {m['name']!r}: threshold from {n if n is not None else '?'} calibration windows "
                    f"({m.get('threshold_method', '?')}) supports a false-alarm rate of "
                    f"{sup:.2%}, not the {fa:.2%} asked for")
            if isinstance(n, int) and n < need:
                more = need - n
                secs = more * spw / (calib_share if calib_share else 1.0)
                line += (f"; {need} calibration windows back {fa:.2%} without a tail assumption: "
                         f"{more} more" + (f", about {secs:.0f} s more recording of this mode"
                                           + (f" (with {calib_share:.0%} of it held out for "
                                              f"calibration)" if calib_share else "")
                                           if spw > 0 else ""))
            else:
                line += "; give it more calibration windows"
            out.append(line)
    return out


def cluster_modes(feats: list[np.ndarray], max_modes: int = 6, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """--modes auto: k-means on standardised features, k chosen by silhouette."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = np.concatenate(feats).astype(np.float64)
    z = (x - x.mean(0)) / (x.std(0) + 1e-9)
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, max_modes + 1):
        if len(z) < k * MIN_WINDOWS:
            break
        labels = KMeans(k, n_init=5, random_state=seed).fit_predict(z)
        if min(np.bincount(labels)) < MIN_WINDOWS:
            continue
        s = silhouette_score(z, labels, sample_size=min(2000, len(z)), random_state=seed)
        if best is None or s > best[0]:
            best = (s, labels)
    if best is None or best[0] < 0.25:
        return [("normal", x.astype(np.float32))]
    labels = best[1]
    return [(f"mode{k}", x[labels == k].astype(np.float32)) for k in range(labels.max() + 1)]


def commission_model(doc: dict, feats: np.ndarray, fit_share: float = 0.5,
                     mode: str | None = None) -> tuple[dict, Commissioner]:
    """Run the board's Commissioner over feature vectors; returns the updated model dict."""
    n = len(feats)
    n_fit = int(round(n * fit_share))
    n_thr = n - n_fit
    if n_fit < 2 or n_thr < 1:
        raise DataError(f"commissioning needs more windows (got {n})")
    det = detectors_mod.from_model(doc)
    idx = None
    if mode is not None:
        if mode not in det.mode_names:
            raise DataError(f"mode {mode!r} is not in the model (modes: {', '.join(det.mode_names)})")
        idx = det.mode_names.index(mode)
    com = commission_mod.from_model(det, doc, n_fit, n_thr, mode=idx)
    for x in feats:
        com.update(x)
    if com.refused:
        raise DataError(f"commissioning refused, model not changed: {com.refused}")
    new = dict(doc)
    new["modes"] = []
    for i, m in enumerate(doc["modes"]):
        m = dict(m)
        if m["name"] in com.updated:
            mean, scale, thr = det.mode_params(i)
            m.update(mean=_f32(mean), scale=_f32(scale), threshold=float(np.float32(thr)),
                     threshold_source="commissioning", n_threshold=com.threshold_counts()[i])
            if com.fa_supported[i] is not None:
                m.update(fa_supported=_num(com.fa_supported[i]), threshold_method=com.methods[i],
                         typical_raw=_num(com.typical[i]))
        new["modes"].append(m)
    new["commissioning"] = {"windows": n, "fit_windows": n_fit, "threshold_windows": n_thr,
                            "per_mode": dict(zip(det.mode_names, com.counts())),
                            "updated": list(com.updated),
                            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    model_mod.validate(new)
    return new, com


def test_summary(doc: dict, path: str, before, after) -> dict:
    """The model on a folder's held-out test part (the last windows in time): windows over
    the line and alarms from the board's Decision. A stateful (adaptive) detector first
    runs over the windows before the test, as it would have on the board."""
    from device.decision import START, Decision

    det = detectors_mod.from_model(doc)
    spw = doc["features"]["window"] / doc["features"]["rate"]
    if doc["detector"] == "adaptive":
        _set_clock(det, before.starts, spw)
        for x, k in zip(before.features, gap_skips(before.starts, len(before), spw)):
            det.skip(k)
            det.score(x)
    d = Decision.from_settings(doc["decision"])
    over = alarms = 0
    skips = gap_skips(np.r_[before.starts[-1:], after.starts] if before.starts is not None and len(before)
                      else after.starts, len(after) + (1 if before.starts is not None and len(before) else 0), spw)
    skips = skips[-len(after):] if len(after) else skips
    for x, k in zip(after.features, skips):
        if k and hasattr(det, "skip"):
            det.skip(k)
        r = det.score(x)[0]
        over += r > 1.0
        alarms += d.update(r) == START
    n = len(after)
    return {"session": os.path.basename(os.path.normpath(path)), "windows": n, "span": after.span(),
            "over": int(over), "fa_rate": over / n if n else 0.0, "alarms": int(alarms)}
