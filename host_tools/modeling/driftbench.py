"""`python -m host_tools drift-bench`: fixed z-score vs the adaptive baseline on
synthetic temperature streams that drift.

Each stream (fixed seed): a daily cycle, a seasonal drift, noise, and injected incidents
of three kinds: spikes (short and large), steps (a lasting offset) and slow ramps (a
drift over hours that then drops back). The first FIT_DAYS fit both models, the next
CAL_DAYS choose their thresholds (host_tools.modeling.train.build_model, as `train` does), and
the rest is the test. Both detectors run the board's code (device.detectors,
device.adaptive) and the board's Decision; an incident is a hit when an alarm starts
between its start and GRACE windows after its end; every other alarm start is a
false-alarm run.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

from device import detectors as detectors_mod
from device.decision import START, Decision
from device.features import ScalarFeatures
from host_tools.modeling import train

PERIOD_S = 600.0  # one sample (and window) every 10 minutes
DAY = int(86400 / PERIOD_S)
FIT_DAYS, CAL_DAYS = 14, 7
GRACE = 3  # windows after an incident's end in which its alarm still counts
KINDS = ("spike", "step", "ramp")


@dataclass
class Incident:
    kind: str
    start: int  # sample index
    end: int  # exclusive
    size: float


def make_stream(seed: int, days: int = 120, noise: float = 0.3, daily: float = 3.0,
                seasonal: float = 8.0, per_kind: int = 3) -> tuple[np.ndarray, list[Incident]]:
    """(values, incidents): `days` of samples every PERIOD_S seconds. The seasonal drift
    is a quarter of a sine (a spring warming by `seasonal` degrees); incidents start
    after the fit and calibration days and never overlap."""
    rs = np.random.RandomState(seed)
    n = days * DAY
    t = np.arange(n) / DAY  # days
    phase = rs.uniform(0, 2 * np.pi)
    x = 20.0 + daily * np.sin(2 * np.pi * t + phase) + seasonal * np.sin(0.5 * np.pi * t / days)
    # noise with some memory (a real room does not jump independently every 10 minutes)
    e = rs.randn(n) * noise
    for i in range(1, n):
        e[i] = 0.5 * e[i - 1] + 0.87 * e[i]
    x = x + e
    incidents: list[Incident] = []
    lo = (FIT_DAYS + CAL_DAYS + 1) * DAY
    taken = np.zeros(n, dtype=bool)
    for kind in KINDS:
        for _ in range(per_kind):
            for _attempt in range(100):
                if kind == "spike":
                    length, size = int(rs.randint(3, 7)), float(rs.uniform(4.0, 6.0))
                elif kind == "step":
                    length, size = int(rs.randint(6 * 6, 24 * 6)), float(rs.uniform(2.0, 3.0)) * rs.choice([-1, 1])
                else:
                    length, size = int(rs.randint(6 * 6, 12 * 6)), float(rs.uniform(3.0, 5.0))
                a = int(rs.randint(lo, n - length - DAY))
                if not taken[max(0, a - DAY):a + length + DAY].any():
                    break
            taken[a:a + length] = True
            if kind == "ramp":
                x[a:a + length] += size * np.arange(1, length + 1) / length
            else:
                x[a:a + length] += size
            incidents.append(Incident(kind, a, a + length, size))
    incidents.sort(key=lambda i: i.start)
    return x, incidents


def _features(x: np.ndarray) -> np.ndarray:
    ex = ScalarFeatures(1, 1.0 / PERIOD_S)
    return np.array([np.array(ex.compute(np.array([[v]], dtype=np.float32))) for v in x], dtype=np.float32)


def build(detector: str, feats: np.ndarray, fa_rate: float = 0.01, tau_h: float = 6.0,
          cycle_h: float | None = 24.0, slots: int = 48) -> dict:
    ex = ScalarFeatures(1, 1.0 / PERIOD_S)
    fit = feats[:FIT_DAYS * DAY]
    cal = feats[FIT_DAYS * DAY:(FIT_DAYS + CAL_DAYS) * DAY]
    adaptive = None
    if detector == "adaptive":
        adaptive = train.adaptive_params(PERIOD_S, tau_h * 3600, cycle_h * 3600 if cycle_h else None, slots)
    return train.build_model(ex, detector, [("normal", fit)], [(cal, 0)], fa_rate,
                             decision=dict(train.DEFAULT_DECISION), adaptive=adaptive)


def alarms(doc: dict, feats: np.ndarray, warm: np.ndarray | None = None) -> list[int]:
    """Window indexes (into feats) where the board's Decision starts an alarm. `warm`:
    windows fed first (the adaptive detector's warm-up on the days before the test)."""
    det = detectors_mod.from_model(doc)
    d = Decision.from_settings(doc["decision"])
    if warm is not None:
        for x in warm:
            d.update(det.score(x)[0])
    out = []
    d.reset()
    for i, x in enumerate(feats):
        if d.update(det.score(x)[0]) == START:
            out.append(i)
    return out


def tally(starts: list[int], incidents: list[Incident], offset: int) -> dict:
    """Hits per kind and false-alarm runs (alarm starts outside every incident)."""
    hits = {k: 0 for k in KINDS}
    total = {k: 0 for k in KINDS}
    used = set()
    for inc in incidents:
        total[inc.kind] += 1
        a, b = inc.start - offset, inc.end - offset + GRACE
        got = [s for s in starts if a <= s < b]
        if got:
            hits[inc.kind] += 1
            used.update(got)
    false = [s for s in starts if s not in used and not any(
        i.start - offset <= s < i.end - offset + GRACE for i in incidents)]
    return {"hits": hits, "total": total, "false_runs": len(false)}


def run_seed(seed: int, days: int = 120) -> dict[str, dict]:
    x, incidents = make_stream(seed, days)
    feats = _features(x)
    test_at = (FIT_DAYS + CAL_DAYS) * DAY
    out = {}
    for det in ("zscore", "adaptive"):
        doc = build(det, feats)
        warm = feats[:test_at] if det == "adaptive" else None
        starts = alarms(doc, feats[test_at:], warm)
        out[det] = tally(starts, incidents, test_at)
        out[det]["test_days"] = (len(x) - test_at) / DAY
    return out


def table(seeds: list[int], days: int = 120) -> tuple[str, dict]:
    rows = []
    sums: dict[str, dict] = {}
    for seed in seeds:
        res = run_seed(seed, days)
        for det, r in res.items():
            s = sums.setdefault(det, {"hits": {k: 0 for k in KINDS}, "total": {k: 0 for k in KINDS},
                                      "false_runs": 0, "test_days": 0.0})
            for k in KINDS:
                s["hits"][k] += r["hits"][k]
                s["total"][k] += r["total"][k]
            s["false_runs"] += r["false_runs"]
            s["test_days"] += r["test_days"]
            rows.append((str(seed), det, r))
    for det, s in sums.items():
        rows.append(("all", det, s))
    head = f"{'seed':>5} {'detector':9} " + " ".join(f"{k + ' hits':>10}" for k in KINDS) + \
        f" {'false-alarm runs':>17} {'per 30 days':>12}"
    lines = [head]
    for seed, det, r in rows:
        cells = " ".join(f"{r['hits'][k]:>6d}/{r['total'][k]:<3d}" for k in KINDS)
        lines.append(f"{seed:>5} {det:9} {cells} {r['false_runs']:>17d} "
                     f"{30 * r['false_runs'] / r['test_days']:>12.2f}")
    return "\n".join(lines), sums


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3],
                   help="random seeds, one synthetic stream set each")
    p.add_argument("--days", type=int, default=120, help="days per stream (>= 30)")


def main(a: argparse.Namespace) -> int:
    from host_tools.data.datasets import DataError

    if a.days < 30:
        raise DataError(f"--days {a.days}: a stream needs at least 30 days ({FIT_DAYS} fit, {CAL_DAYS} "
                        f"thresholds, then incidents)")
    print(f"synthetic streams: {a.days} days every {PERIOD_S / 60:g} min, daily cycle +-3, seasonal "
          f"drift +8, noise 0.3 (deg C); fit {FIT_DAYS} d, thresholds {CAL_DAYS} d at fa 1%, test the "
          f"rest; decision {train.DEFAULT_DECISION['k']} of {train.DEFAULT_DECISION['n']}; adaptive: "
          f"tau 6 h, daily profile of 48 slots; hit = an alarm starts during the incident (or "
          f"{GRACE} windows after it; an alarm already on does not count)")
    text, _ = table(a.seeds, a.days)
    print(text)
    return 0
