"""Thresholds that hold across recording sessions: leave-one-session-out calibration.

A threshold chosen on held-out windows of the session the model was fitted on says how
often a *later part of that session* crosses the line ("within a session"). A new session
(the machine restarted another day, the sensor re-taped) varies more. When a mode has
several sessions (folders, or streams split by long gaps) the between-session variation
is put into the threshold: for each session j the mode is fitted on the other sessions
only and session j's windows are scored against that fit; those out-of-session scores
calibrate the final model (fitted on every session), which is the cross-conformal / CV+
scheme and errs high (the final fit has seen more).

Each mode then stores the rate its threshold supports across sessions
(`fa_supported_across`, a 90% upper bound on the out-of-session scores) and within a
session (`fa_supported_within`, on the time-ordered hold-out scores), and `fa_supported`
is the larger. With one session `fa_supported_across` is None: the rate is within-session
only, and `train`/`evaluate` say so.

Sessions marked as another installation (a remount) are not calibration data: they are
commissioned (the board's Commissioner) and tested after it (`installation_test`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from device import detectors as detectors_mod
from device import threshold as threshold_mod


def split_sessions(starts: np.ndarray | None, gap_seconds: float | None) -> np.ndarray:
    """Session number of each window: a new session after a gap longer than gap_seconds
    between consecutive window starts (None, or no time stamps: one session)."""
    n = 0 if starts is None else len(starts)
    if not gap_seconds or starts is None or n == 0:
        return np.zeros(n, dtype=int)
    t = np.asarray(starts, dtype=np.float64)
    d = np.diff(t)
    brk = np.r_[False, np.isfinite(d) & (d > gap_seconds)]
    return np.cumsum(brk)


def out_of_session_scores(sessions: Sequence[np.ndarray], fit: Callable[[list], detectors_mod._Detector]
                          ) -> np.ndarray:
    """Raw scores of every session's windows against the mode fitted on the others;
    fit(the other sessions, a list of window arrays) -> a one-mode device detector
    (host_tools.modeling.train's fit)."""
    out = []
    for j, held in enumerate(sessions):
        rest = [s for k, s in enumerate(sessions) if k != j and len(s)]
        if not rest or not len(held):
            continue
        det = fit(rest)
        out.append(np.array([det.raw(x, 0) for x in held], dtype=np.float64))
    return np.concatenate(out) if out else np.zeros(0)


def across_sessions(m: dict, fa: float, within: Sequence[float], across: np.ndarray,
                    n_sessions: int) -> None:
    """Set mode m's threshold to back the rate both within and across sessions, and store
    both supported rates (model fields, see the module doc)."""
    m["sessions"] = int(n_sessions)
    m["fa_supported_within"] = m.get("fa_supported")
    if n_sessions < 2 or len(across) < threshold_mod.MIN_TAIL:
        m["fa_supported_across"] = None
        return
    t_across, _, how = threshold_mod.choose(across, fa)
    t_within = float(m["threshold"])
    thr = max(t_within, float(t_across))
    thr = float(np.float32(thr))
    m["threshold"] = thr
    # (a bound is never 0: a tail bound that underflows is stored as 1e-9)
    m["fa_supported_within"] = _num(max(threshold_mod.supported_at(within, thr), 1e-9))
    m["fa_supported_across"] = _num(max(threshold_mod.supported_at(across, thr), 1e-9))
    m["fa_supported"] = max(m["fa_supported_within"], m["fa_supported_across"])
    m["n_threshold_across"] = int(len(across))
    if t_across > t_within:
        m["threshold_method"] = f"across-{how}"


AXIS_HEADROOM = 2.0
AXIS_PREDICTION = 0.95  # two-sided coverage of the bound on a new session's axis shift


def axis_allowance(modes: list[dict], i: int, sessions: Sequence[np.ndarray]) -> float | None:
    """The commissioning guard's operating-axis limit for mode i when its sessions (sensor
    positions, installations) moved it along the axis more than the default allows
    (device.commission.AXIS_LIMIT); None otherwise (one session, one mode, or no wider).

    Each session's mean is projected, against the mean of the others, on the line towards
    the nearest other mode (as the board's guard does): t_1..t_n. A new position is one
    more draw of the same spread, so the limit is a prediction bound for it, not the
    largest shift seen: Student's t at AXIS_PREDICTION with n degrees of freedom (the
    expected shift of a position is 0) times the root mean square of the t_j, times
    sqrt(1 + 1/n); never below AXIS_HEADROOM x the largest t_j. With three positions the
    bound is about 3.7 x their spread: few positions say little about the next one, and a
    change along the axis smaller than the bound (a fault that slows the machine a little)
    is then indistinguishable from a move (docs/board.md section 11)."""
    from scipy import stats

    from device import commission as commission_mod

    if len(sessions) < 2 or len(modes) < 2:
        return None
    sc = np.asarray(modes[i]["scale"], dtype=np.float64)
    mu = np.asarray(modes[i]["mean"], dtype=np.float64)
    ts = []
    for j, held in enumerate(sessions):
        rest = np.concatenate([s for k, s in enumerate(sessions) if k != j]).astype(np.float64)
        d = (held.mean(axis=0) - rest.mean(axis=0)) / sc
        best = None
        for k, m in enumerate(modes):
            if k == i:
                continue
            u = (np.asarray(m["mean"], dtype=np.float64) - mu) / sc
            uu = float(u @ u)
            if uu > 0:
                t = float(d @ u) / uu
                best = t if best is None else max(best, t)
        if best is not None:
            ts.append(best)
    if not ts:
        return None
    n = len(ts)
    rms = float(np.sqrt(np.mean(np.square(ts))))
    bound = float(stats.t.ppf(0.5 + AXIS_PREDICTION / 2, n)) * rms * np.sqrt(1.0 + 1.0 / n)
    lim = max(AXIS_HEADROOM * max(0.0, max(ts)), bound)
    return round(lim, 4) if lim > commission_mod.AXIS_LIMIT else None


def _num(v: float) -> float:
    return float("%.7g" % v)


def pct(v: float | None) -> str:
    """A rate as a percentage that does not round a small rate to zero."""
    if v is None:
        return "-"
    return "<0.01%" if 0 < v < 0.0001 else f"{100 * v:.2f}%"


def rates_text(doc: dict) -> list[str]:
    """Per mode: the rate supported within a session and across sessions (or that the
    model has one session of it, so within-session only)."""
    fa = doc["fa_rate"]
    out = []
    for m in doc["modes"]:
        w = m.get("fa_supported_within", m.get("fa_supported"))
        a = m.get("fa_supported_across")
        ws = pct(w)
        if a is None:
            out.append(f"  mode {m['name']}: stated {fa:.2%}, supported within a session {ws}; "
                       f"{m.get('sessions', 1)} session: within-session only (no other session "
                       f"to say how a new one behaves)")
        else:
            out.append(f"  mode {m['name']}: stated {fa:.2%}, supported within a session {ws}, "
                       f"across sessions {pct(a)} ({m['sessions']} sessions, leave-one-session-out)")
    return out


def installation_test(doc: dict, feats: np.ndarray, commission: Callable, share: float = 0.3,
                      mode: str | None = None) -> dict:
    """A session marked as another installation: commission on its first `share` with
    `commission` (host_tools.modeling.train.commission_model: the board's Commissioner and
    guards), then the false alarms on the rest."""
    from host_tools.data.datasets import DataError

    k = int(round(share * len(feats)))
    res: dict = {"windows": int(len(feats)), "commission_windows": k}
    try:
        new, _ = commission(doc, feats[:k], mode=mode)
    except DataError as e:
        res.update(refused=str(e), fa_rate=None)
        return res
    det = detectors_mod.from_model(new)
    r = np.array([det.score(x)[0] for x in feats[k:]])
    res.update(refused=None, tested=int(len(r)), over=int(np.sum(r > 1.0)),
               fa_rate=float(np.mean(r > 1.0)) if len(r) else None)
    return res


# ---- train's options: more sessions of a mode, session gaps, other installations ----------

def add_train_arguments(t) -> None:
    """train's options for sessions and installations (each with its default)."""
    from host_tools.data.argtypes import fraction, period

    t.add_argument("--session", action="append", default=[], metavar="MODE=DIR",
                   help="another recording session of mode MODE (the folder name of one of the "
                        "--normal folders); its windows join the fit, and the threshold is also "
                        "calibrated across sessions (leave-one-session-out). Repeatable. "
                        "Default: none (one session per mode: the rate is within-session only)")
    t.add_argument("--session-gap", type=period, default=None, metavar="DURATION",
                   help="a gap longer than this between time-stamped windows of a folder starts a "
                        "new session of its mode (e.g. 6h). Default: none (a folder is one session)")
    t.add_argument("--installation", action="append", default=[], metavar="MODE=DIR",
                   help="a recording of mode MODE at another installation (sensor moved or "
                        "re-taped): never pooled into the threshold; after training it is "
                        "commissioned on its first --installation-share and tested on the rest. "
                        "Repeatable. Default: none")
    t.add_argument("--installation-share", type=fraction, default=0.3,
                   help="share of an --installation recording used to commission (default 0.3)")


def _pairs(values: Sequence[str], option: str, names: Sequence[str]) -> list[tuple[int, str]]:
    from host_tools.data.datasets import DataError

    out = []
    for v in values:
        mode, sep, d = v.partition("=")
        if not sep or not d:
            raise DataError(f"{option} {v}: give MODE=DIR (MODE: one of {', '.join(names)})")
        if mode not in names:
            raise DataError(f"{option} {v}: {mode!r} is not a mode (the --normal folders give "
                            f"{', '.join(names)})")
        out.append((list(names).index(mode), d))
    return out


def load_extra(a, sets: list, load) -> tuple[list[list], list[tuple[str, object]]]:
    """(per mode: its sessions as WindowSets, installations as (mode, WindowSet))."""
    names = [s.name for s in sets]
    per_mode: list[list] = [[s] for s in sets]
    for i, d in _pairs(getattr(a, "session", []) or [], "--session", names):
        per_mode[i].append(load(d))
    gap = getattr(a, "session_gap", None)
    if gap:
        split = []
        for group in per_mode:
            parts = []
            for ws in group:
                ids = split_sessions(ws.starts, gap)
                parts += [ws.subset(ids == k) for k in range(int(ids.max()) + 1)] if len(ids) else [ws]
            split.append(parts)
        per_mode = split
    inst = [(names[i], load(d)) for i, d in _pairs(getattr(a, "installation", []) or [],
                                                   "--installation", names)]
    return per_mode, inst


def installation_line(session: str, mode: str, r: dict) -> str:
    """One line: a marked installation, commissioned and tested."""
    if r["refused"]:
        return (f"  installation {session} (mode {mode}): commissioning on its first "
                f"{r['commission_windows']} windows refused: {r['refused']}")
    fa = r["fa_rate"]
    return (f"  installation {session} (mode {mode}): commissioned on its first "
            f"{r['commission_windows']} windows; false alarms on the other {r['tested']}: "
            f"{r['over']} ({'-' if fa is None else f'{fa:.2%}'})")
