"""Evaluation report: figures (matplotlib, Agg), report.md, report.html, metrics.json, and
the compact summary printed to stdout.

The markdown and HTML are rendered from one list of blocks (heading, paragraph, table,
image) so both always say the same thing. Scores are plotted as ratios to each method's
own threshold, so 1.0 is the alarm line for every method (the distributions get a panel
per method: their spreads differ by orders of magnitude).
"""

from __future__ import annotations

import html
import json
import math
import os
import sys
from typing import Any, Callable, Sequence

import numpy as np

Block = tuple  # ("h1"|"h2"|"h3"|"p", text) | ("table", header, rows) | ("img", file, alt)

SHORT_METHOD = {"mahalanobis": "maha", "zscore": "zscore", "mad-mahalanobis": "MAD",
                "isolation-forest": "IForest", "elliptic-envelope": "EllEnv"}


# ---- formatting ---------------------------------------------------------------------

def short_folder(name: str) -> str:
    """fan_0_low_1_weight -> low_1 (stdout tables only; the report keeps full names)."""
    s = name[6:] if name.startswith("fan_0_") else name
    return s.replace("_weight", "")


def short_method(key: str, primary: str) -> str:
    base, sep, _ = key.partition("-uncommissioned")
    s = SHORT_METHOD.get(base, base) + ("-nocom" if sep else "")
    return s + ("*" if key == primary else "")


def _ok(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def pct(v: Any, nd: int = 1) -> str:
    return f"{100 * v:.{nd}f}%" if _ok(v) else "-"


def num(v: Any, fmt: str = ".3f") -> str:
    return format(v, fmt) if _ok(v) else "-"


def method_order(methods: dict, primary: str) -> list[str]:
    ours = [k for k, m in methods.items() if m.get("family") == "ours"]
    ours.sort(key=lambda k: (k != primary, "uncommissioned" in k, k))
    return ours + [k for k, m in methods.items() if m.get("family") != "ours"]


def _delay(a: dict) -> tuple[str, str]:
    d = a.get("delay_windows")
    if d is None:
        return "never", "-"
    if a.get("alarm_on_at_onset"):
        return "0 (alarm already on)", "0"
    return str(d), f"{a['delay_seconds']:.1f}"


# ---- stdout -------------------------------------------------------------------------

def summary_text(results: Sequence[dict], meta: dict) -> str:
    """Per scenario: rows = normal false alarms and each anomaly folder, columns = methods,
    cells 'AUC det%'."""
    lines = [f"data: {_evaluated(meta)}",
             f"fa-rate {meta['fa_rate']}, window {meta['window']} @ {meta['rate']:g} Hz, "
             f"* = headline detector; cells: AUC / detection rate at the threshold; "
             f"extra = normal sessions never used (informational); 'pooled AUC vs' = all anomaly "
             f"windows against that unseen normal session"]
    w0, w = 27, 13
    for r in results:
        order = [k for k in method_order(r["methods"], r["primary"]) if "error" not in r["methods"][k]]
        ms = r["methods"]
        nt = r["normal_test"]["windows"]
        lines.append("")
        lines.append(f"== {r['name']}: {r['title']} (normal test: {nt} windows)")
        lines.append("".ljust(w0) + "".join(short_method(k, r["primary"]).rjust(w) for k in order))
        lines.append("normal FA%".ljust(w0) + "".join(pct(ms[k]["normal"]["fa_rate"]).rjust(w) for k in order))
        hours = ms[order[0]]["normal"]["hours"] if order else 0.0
        lines.append(f"normal alarms in {_duration(hours)}".ljust(w0) +
                     "".join(str(ms[k]["normal"]["alarms"]).rjust(w) for k in order))
        lines.append("normal alarm on (time)".ljust(w0) +
                     "".join(pct(ms[k]["normal"]["alarm_on_share"]).rjust(w) for k in order))
        if hours >= 1.0:  # a rate per hour from minutes of data says more about the data than the method
            lines.append("normal alarms/h".ljust(w0) +
                         "".join(num(ms[k]["normal"]["alarms_per_hour"], ".1f").rjust(w) for k in order))
        for an in r["anomalies"] + ["pooled"]:
            cells = []
            for k in order:
                a = ms[k]["pooled"] if an == "pooled" else ms[k]["anomalies"][an]
                cells.append(f"{num(a['auc'])} {pct(a['detection_rate'], 0)}".rjust(w))
            lines.append(short_folder(an).ljust(w0) + "".join(cells))
        for ex in r["extras"]:
            lines.append(f"extra FA% {short_folder(ex)}".ljust(w0) +
                         "".join(pct(ms[k]["extras"][ex]["fa_rate"]).rjust(w) for k in order))
        for ex in r["extras"]:
            lines.append(f"pooled AUC vs {short_folder(ex)}".ljust(w0) +
                         "".join(num(ms[k]["pooled"]["auc_vs_extras"][ex]).rjust(w) for k in order))
        for k, m in ms.items():
            if "error" in m:
                lines.append(f"  {k}: failed ({m['error']})")
    return "\n".join(lines)


def _duration(hours: float) -> str:
    s = hours * 3600.0
    return f"{s:.0f} s" if s < 120 else (f"{s / 60:.0f} min" if s < 7200 else f"{hours:.1f} h")


def timing_text(timing: dict, labels: dict) -> str:
    parts = [f"{labels.get(k, k)} {v:.2f}s" for k, v in timing.items() if k != "total"]
    return f"time: {timing.get('total', 0.0):.2f}s total = " + ", ".join(parts)


# ---- figures ------------------------------------------------------------------------
# Drawn with matplotlib's object API on the Agg canvas (no pyplot: no figure manager, no
# backend switching). Most of the time of a figure is tick labels and legends, so tick
# positions are fixed where the axis range is known (ROC: 0..1), minor ticks carry no
# labels, every legend has a fixed place (loc="best" searches the data to place it) and
# titles a fixed height (y=1.0; otherwise each draw measures the axes' tick labels to
# place it).

LOG_FLOOR = 1e-3  # ratios are >= 0; keep zeros visible on log axes
DPI = 90


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str) -> None:
    # zlib level 1: a slightly larger PNG, encoded several times faster than the default 6
    fig.savefig(path, dpi=DPI, pil_kwargs={"compress_level": 1})


def _log_axis(axis) -> None:
    """Decade labels as plain numbers (0.01, 1, 100) and no minor ticks: mathtext labels
    (10^k) and minor tick objects were a large share of the drawing time."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_locator(NullLocator())


def roc_points(normal: np.ndarray, anomaly: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ROC curve (false-alarm rate, detection rate) with one point per distinct score,
    from (0, 0) to (1, 1): scores sorted once, true and false positives as cumulative
    sums (higher score = more anomalous, as sklearn's roc_curve)."""
    normal = np.asarray(normal, dtype=np.float64)
    anomaly = np.asarray(anomaly, dtype=np.float64)
    s = np.r_[normal, anomaly]
    y = np.r_[np.zeros(len(normal)), np.ones(len(anomaly))]
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each distinct score
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    return (np.r_[0.0, fp / max(len(normal), 1)], np.r_[0.0, tp / max(len(anomaly), 1)])


def _hist(path: str, r: dict, series: dict[str, dict[str, np.ndarray]]) -> None:
    """Score distributions, one panel per method with its own axis: the normal test
    windows and each anomaly folder as a bar from the 5th to the 95th percentile, a thick
    bar over the middle half and a dot at the median, as ratios to the method's own
    threshold (1.0, dashed). Each panel spans its own data (log scale when the ratios
    span more than a factor of 20, linear otherwise): a method whose scores all lie within
    a few tenths of its line (IsolationForest) is as readable as one spanning decades,
    which one shared axis squeezed to a line at 1."""
    from matplotlib.ticker import LogLocator, MaxNLocator

    sets = ["normal"] + r["anomalies"]
    order = [k for k in method_order(r["methods"], r["primary"]) if k in series]
    n = max(len(order), 1)
    fig = _figure(max(7.5, 1.9 * n + 1.6), 4.4)
    axes = fig.subplots(1, n, squeeze=False)[0]
    lw = 5 if len(sets) < 6 else 3
    for ax, k in zip(axes, order):
        qs = []
        for j, s in enumerate(sets):
            v = np.maximum(np.asarray(series[k][s], dtype=np.float64), LOG_FLOOR)
            if not len(v):
                continue
            q = np.percentile(v, [5, 25, 50, 75, 95])
            qs.append(q)
            ax.vlines([j], q[0], q[4], color=f"C{j}", linewidth=1)
            ax.vlines([j], q[1], q[3], color=f"C{j}", linewidth=lw)
            ax.scatter([j], [q[2]], color="k", s=6, zorder=3)
        ax.axhline(1.0, color="k", linestyle="--", linewidth=1)
        lo = min([float(q[0]) for q in qs] + [1.0])
        hi = max([float(q[4]) for q in qs] + [1.0])
        if hi / max(lo, LOG_FLOOR) > 20:
            ax.set_yscale("log")
            _log_axis(ax.yaxis)
            if hi / max(lo, LOG_FLOOR) < 1000:  # a few decades: label 1, 2, 5 of each
                ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.set_ylim(max(lo, LOG_FLOOR) / 1.5, hi * 1.5)
        else:
            pad = 0.08 * (hi - lo) or 0.05
            ax.set_ylim(max(lo - pad, 0.0), hi + pad)
            ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xticks([])
        ax.set_xlim(-0.7, len(sets) - 0.3)
        ax.set_title(short_method(k, r["primary"]), fontsize=9)
    axes[0].set_ylabel("score / its threshold (1 = alarm line)", fontsize=8)
    handles = [axes[0].vlines([], [], [], color=f"C{j}", linewidth=5) for j in range(len(sets))]
    fig.legend(handles, ["normal test" if s == "normal" else short_folder(s) for s in sets],
               fontsize=7, loc="lower center", ncol=min(len(sets), 4), frameon=False)
    fig.suptitle(f"{r['name']}: score distributions per method (5-95%, middle half, median), each on its own axis",
                 fontsize=10)
    rows = -(-len(sets) // 4)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.06 + 0.05 * rows, top=0.86, wspace=0.45)
    _save(fig, path)


def _alarms(path: str, r: dict, series: dict[str, dict[str, np.ndarray]]) -> None:
    """False alarms over time, per normal session (the test windows and every extra
    session) and method: the board's Decision over the scores in time order, its alarm
    starts counted as they happen. A flat line is a quiet method; the slope is its rate."""
    from device.decision import START, Decision

    dec = r.get("decision") or {"k": 3, "n": 5, "off": 0.8, "cooldown": 30}
    spw = float(r.get("seconds_per_window", 1.0))
    sessions = ["normal"] + list(r.get("extras", []))
    order = [k for k in method_order(r["methods"], r["primary"]) if k in series]
    fig = _figure(max(4.2 * len(sessions) + 1.0, 7.5), 3.8)
    axes = fig.subplots(1, len(sessions), squeeze=False)[0]
    lines: list[Any] = []  # matplotlib lines, for the legend
    for ax, s in zip(axes, sessions):
        for j, k in enumerate(order):
            if s not in series[k]:
                continue
            d = Decision.from_settings(dec)
            starts = np.cumsum([d.update(float(v)) == START for v in series[k][s]])
            t = np.arange(1, len(starts) + 1) * spw / 60.0
            line, = ax.step(t, starts, where="post", linewidth=2 if k == r["primary"] else 1, color=f"C{j}")
            if len(lines) < len(order):
                lines.append(line)
        ax.set_title("normal test windows" if s == "normal" else f"unseen session {short_folder(s)}",
                      fontsize=9, y=1.0)
        ax.set_xlabel("minutes of normal data", fontsize=8)
        top = max(2.0, ax.get_ylim()[1] * 1.1)
        ax.set_ylim(bottom=-0.04 * top, top=top)  # 0 false alarms: a line just above the frame
        from matplotlib.ticker import MaxNLocator

        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        ax.tick_params(labelsize=8)
    axes[0].set_ylabel("false alarms so far", fontsize=8)
    fig.suptitle(f"{r['name']}: false alarms over time on normal data "
                 f"(board decision: {dec.get('k')} of {dec.get('n')} windows)", y=0.97, fontsize=10)
    fig.legend(lines, [short_method(k, r["primary"]) for k in order], loc="lower center",
               ncol=min(len(order), 7), fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.3, top=0.82, wspace=0.25)
    _save(fig, path)


def roc_informative(r: dict) -> bool:
    """Does any method separate some anomaly folder imperfectly? (The ROC is drawn either
    way: a perfect separation is a verdict too; its caption says so.)"""
    for m in r["methods"].values():
        if "error" in m:
            continue
        aucs = [m.get("pooled", {}).get("auc")] + [a.get("auc") for a in m.get("anomalies", {}).values()]
        if any(a is not None and not (isinstance(a, float) and math.isnan(a)) and a < 0.999 for a in aucs):
            return True
    return False


def _roc(path: str, r: dict, series: dict[str, dict[str, np.ndarray]]) -> None:
    """One panel per anomaly folder (and pooled), one legend for the figure, the headline
    detector's AUC in each panel's title (every method's AUC is in the report's tables;
    drawing text is most of the time a figure takes)."""
    panels = r["anomalies"] + ["pooled"]
    cols = min(4, len(panels))
    rows = (len(panels) + cols - 1) // cols
    nleg = (len([k for k in r["methods"] if k in series]) + 2) // 3  # legend rows, 3 per row
    h = 3.2 * rows + 0.7 + 0.22 * nleg  # figure height in inches: margins fixed in inches
    fig = _figure(3.3 * cols, h)
    # shared axes: tick labels and axis labels only on the outer panels (fewer texts to draw)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    order = [k for k in method_order(r["methods"], r["primary"]) if k in series]
    ticks = [0.0, 0.5, 1.0]
    axes[0, 0].set_xticks(ticks)
    axes[0, 0].set_yticks(ticks)
    lines: list[Any] = []  # matplotlib lines, for the legend
    for ax, an in zip(axes.flat, panels):
        for k in order:
            s = series[k]
            anom = np.concatenate([s[a] for a in r["anomalies"]]) if an == "pooled" else s[an]
            fpr, tpr = roc_points(s["normal"], anom)
            main = k == r["primary"]  # the headline on top of the others, thick and black
            line, = ax.plot(fpr, tpr, linewidth=2.5 if main else 1, color="k" if main else None,
                            zorder=5 if main else 2, alpha=1.0 if main else 0.8)
            if len(lines) < len(order):
                lines.append(line)
        ax.plot([0, 1], [0, 1], color="0.7", linewidth=0.8)
        ax.tick_params(labelsize=8)
        m = r["methods"][r["primary"]]
        auc = m["pooled"]["auc"] if an == "pooled" else m["anomalies"][an]["auc"]
        ax.set_title(f"{an if an == 'pooled' else short_folder(an)}: AUC {num(auc)}", fontsize=9, y=1.0)
    for i, ax in enumerate(axes.flat):
        if i >= len(panels):
            ax.axis("off")
        if i + cols >= len(panels):  # lowest panel of its column
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("false-alarm rate", fontsize=8)
        if i % cols == 0:
            ax.set_ylabel("detection rate", fontsize=8)
    fig.suptitle(f"{r['name']}: ROC per anomaly folder (normal test vs folder); AUC of "
                 f"{r['methods'][r['primary']]['label']} (black)", y=1 - 0.1 / h, fontsize=10)
    fig.legend(lines, [r["methods"][k]["label"] for k in order], loc="lower center",
               ncol=min(3, len(order)), fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.02))
    fig.subplots_adjust(left=0.08, right=0.97, bottom=(0.75 + 0.22 * nleg) / h, top=1 - 0.6 / h,
                        wspace=0.3, hspace=0.5)
    _save(fig, path)


def _timeline(path: str, r: dict, series: dict[str, dict[str, np.ndarray]]) -> None:
    sets = ["normal"] + r["anomalies"]
    fig = _figure(12, 4)
    ax = fig.add_subplot()
    for k in r["timeline_methods"]:
        if k not in series:
            continue
        v = np.concatenate([np.maximum(series[k][s], LOG_FLOOR) for s in sets])
        ax.plot(np.arange(len(v)), v, ".", markersize=2, alpha=1.0 if k == r["primary"] else 0.4,
                label=r["methods"][k]["label"])
    edge = 0
    s0 = series[r["primary"]]
    for s in sets:
        n = len(s0[s])
        ax.axvline(edge, color="0.6", linewidth=0.8)
        ax.text(edge + n / 2, 1.02, "normal test" if s == "normal" else short_folder(s),
                transform=ax.get_xaxis_transform(), ha="center", fontsize=7)
        edge += n
    ax.axhline(1.0, color="k", linestyle="--", linewidth=1, label="threshold")
    ax.set_yscale("log")
    _log_axis(ax.yaxis)
    ax.set_xlabel("window (time order within each folder)")
    ax.set_ylabel("score / threshold")
    ax.set_title(f"{r['name']}: every window's score in time order, normal test first, then each anomaly "
                 f"folder", fontsize=10, y=1.06)
    ax.legend(fontsize=8, loc="upper left", markerscale=4)
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.12, top=0.86)
    _save(fig, path)


_DRAW = {"roc": _roc, "hist": _hist, "timeline": _timeline, "alarms": _alarms}


def _draw(job: tuple) -> None:
    kind, path, r, data = job
    _DRAW[kind](path, r, data)


def _workers(jobs: int) -> int:
    """Processes to draw figures in: forked copies of this one (Linux only: fork keeps the
    imported matplotlib and the data, and is safe there for this drawing-only work)."""
    if not sys.platform.startswith("linux"):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, jobs, 4))


def write_figures(out_dir: str, results: Sequence[dict],
                  series: dict[str, dict[str, dict[str, np.ndarray]]],
                  workers: int | None = None) -> dict[str, list[str]]:
    """PNGs per scenario: every method's score distributions, false alarms over time,
    the score timeline, and the ROC curves when they say something (roc_informative);
    returns scenario name -> file names (relative). The figures are independent, so they
    are drawn in parallel where there are cores."""
    os.makedirs(out_dir, exist_ok=True)
    out: dict[str, list[str]] = {}
    jobs = []
    for r in results:
        ser = series[r["name"]]
        files = [f"{r['name']}_hist.png", f"{r['name']}_alarms.png", f"{r['name']}_timeline.png"]
        files.insert(1, f"{r['name']}_roc.png")
        jobs.append(("roc", os.path.join(out_dir, f"{r['name']}_roc.png"), r, ser))  # the slow ones first
        jobs.append(("hist", os.path.join(out_dir, files[0]), r, ser))
        jobs.append(("alarms", os.path.join(out_dir, f"{r['name']}_alarms.png"), r, ser))
        jobs.append(("timeline", os.path.join(out_dir, files[-1]), r, ser))
        out[r["name"]] = files
    jobs.sort(key=lambda j: j[0] != "roc")
    n = _workers(len(jobs)) if workers is None else workers
    _figure(1, 1)  # import matplotlib once, before any fork
    if n <= 1:
        for job in jobs:
            _draw(job)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            for _ in pool.map(_draw, jobs):  # re-raises a worker's exception here
                pass
    return out


# ---- documents ----------------------------------------------------------------------

def shown_path(path: str) -> str:
    """A path as a report shows it: relative to the current folder, never absolute (a
    report is read elsewhere, and someone's home folder is not the reader's business)."""
    if not os.path.isabs(path):
        return path
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return os.path.basename(path)
    return rel if rel.count("..") <= 3 else os.path.basename(path)


def _evaluated(meta: dict) -> str:
    """What was evaluated: the folders actually loaded (not the default root)."""
    folders = meta.get("evaluated")
    if not folders:
        return shown_path(str(meta.get("data", "?")))
    roots = sorted({shown_path(os.path.dirname(f)) for f in folders})
    names = ", ".join(os.path.basename(f) for f in folders)
    return f"{len(folders)} folders ({names}) in {', '.join(roots)}"


def poisson_upper(k: int, conf: float = 0.95) -> float:
    """One-sided upper confidence bound on a Poisson mean after observing k events."""
    from scipy.stats import chi2

    return float(chi2.ppf(conf, 2 * k + 2) / 2)


def _per_day(alarms: int, hours: float) -> str:
    if hours <= 0:
        return "no normal data"
    rate = alarms / hours * 24
    up = poisson_upper(alarms) / hours * 24
    txt = f"{alarms} in {_duration(hours)} of normal data = {rate:,.0f} per day"
    if up > 10 * max(rate, 1):
        txt += f" (with so little data it could be up to {up:,.0f} per day; record longer normal runs)"
    return txt


def rate_check(over: int, n: int, stated: float, seconds_each: float, what: str = "windows") -> tuple[bool | None, str]:
    """(held, words): did the stated false-alarm rate hold on n normal test windows (or
    frames), `over` of them over the line? With fewer than device.threshold.windows_needed
    (the count that backs a rate with no alarm seen, as training asks of calibration
    windows: 230 at 1%) the data cannot tell: held is None and the words say how many more
    are needed, unless even those few windows show the rate broken (the 95% lower bound
    of the measured rate is over the stated one)."""
    from device import threshold as threshold_mod
    from scipy.stats import chi2

    rate = over / n if n else float("nan")
    need = threshold_mod.windows_needed(stated)
    measured = f"{pct(rate, 2 if rate < 0.01 else 1)} of {n} normal test {what} over the line (stated {pct(stated, 1)})"
    if n >= need:
        held = rate <= stated
        return held, f"The stated false-alarm rate {'held' if held else 'did NOT hold'}: {measured}."
    lower = float(chi2.ppf(0.05, 2 * over) / 2) / n if over and n else 0.0
    if lower > stated:
        return False, (f"The stated false-alarm rate did NOT hold: {measured}; even so few {what} show it "
                       f"(at least {pct(lower, 1)} with 95% confidence).")
    more = need - n
    return None, (f"Not enough normal data to check the stated false-alarm rate of {pct(stated, 1)}: "
                  f"{n} normal test {what} ({_duration(n * seconds_each / 3600.0)}), {over} over the line; {need} are "
                  f"needed to tell ({more} more, about {_duration(more * seconds_each / 3600.0)} more of normal "
                  f"running).")


def held_text(held: bool | None) -> str:
    return "yes" if held else ("can't tell (too little normal data)" if held is None else "NO")


def verdict(r: dict, meta: dict) -> dict:
    """The headline detector's result in one scenario, in numbers and in words."""
    m = r["methods"][r["primary"]]
    nm = m["normal"]
    stated = float(meta["fa_rate"])
    fa = nm["fa_rate"]
    n_normal = int(nm["windows"])
    held, held_words = rate_check(int(round(fa * n_normal)) if _ok(fa) else 0, n_normal, stated,
                                  float(meta["seconds_per_window"]))
    hits = {an: a for an, a in m["anomalies"].items() if a.get("delay_windows") is not None}
    delays = sorted(float(a["delay_seconds"]) for a in hits.values()
                    if a.get("delay_seconds") is not None and not a.get("alarm_on_at_onset"))
    n_an = len(m["anomalies"])
    words = [f"{r['title']}."]
    if n_an:
        missed = [short_folder(an) for an in m["anomalies"] if an not in hits]
        words.append(f"Detected {len(hits)} of {n_an} anomaly recordings"
                     + (f" (missed: {', '.join(missed)})" if missed else "")
                     + f"; {pct(m['pooled']['detection_rate'], 0)} of their windows over the line.")
        if delays:
            words.append(f"First alarm {delays[len(delays) // 2]:.0f} s after the anomaly began (median; "
                         f"longest {delays[-1]:.0f} s).")
    words.append(f"False alarms: {_per_day(int(nm['alarms']), float(nm['hours']))}.")
    words.append(held_words)
    return {"name": r["name"], "title": r["title"], "detected": f"{len(hits)} of {n_an}",
            "windows": pct(m["pooled"]["detection_rate"], 0),
            "delay": f"{delays[len(delays) // 2]:.0f} s" if delays else ("-" if not hits else "0 s (already on)"),
            "per_day": f"{nm['alarms'] / nm['hours'] * 24:,.0f}" if nm["hours"] else "-",
            "normal": _duration(float(nm["hours"])), "held": held, "fa": pct(fa), "stated": pct(stated, 1),
            "words": " ".join(words), "label": m["label"]}


_CAPTIONS = {
    "hist": ("Where each method puts its alarm line",
             "One panel per method, each on its own axis (their scores spread very differently: "
             "IsolationForest's all lie within a few tenths of its line, the Mahalanobis distance's over "
             "decades; log scale where a panel spans more than a factor of 20). Bars: 5th-95th percentile "
             "of the scores (thick: middle half, dot: median) as a ratio to that method's own threshold "
             "(dashed line at 1). Look, in every panel, for the normal bar below the dashed line and every "
             "anomaly bar above it; a bar that straddles the line means missed anomalies or false alarms."),
    "roc": ("Detection against false alarms, per anomaly recording",
            "Each curve trades detection (up) against false alarms (right) as the threshold moves; the "
            "headline detector is black. A curve hugging the top-left corner (AUC 1) separates the anomaly "
            "from normal completely; the diagonal is guessing."),
    "alarms": ("False alarms accumulating over normal data",
               "Alarms the board's decision would raise, counted as the normal recordings play. A line on "
               "the floor is a quiet method; a staircase is a method that would wake someone up. "
               "Unseen sessions were never used for training or thresholds."),
    "timeline": ("Every window's score in time order",
                 "Score / threshold per window (log scale): normal test windows first, then each anomaly "
                 "folder (grey lines separate them). Points above the dashed line at 1 are over the alarm "
                 "line; the board alarms when k of the last n are."),
}


def blocks(results: Sequence[dict], meta: dict, timing: dict, labels: dict,
           figures: dict[str, list[str]]) -> list[Block]:
    b: list[Block] = [("h1", "Accelerometer evaluation: does it catch anomalies without false alarms?")]
    vs = [verdict(r, meta) for r in results]
    b.append(("p", f"Headline detector: {vs[0]['label'] if vs else '-'}, thresholds for a false-alarm rate of "
                   f"{meta['fa_rate']:g} per window, {meta['seconds_per_window']:g} s per window. "
                   f"Data: {_evaluated(meta)}."))
    b.append(("h2", "Verdict"))
    for v in vs:
        b.append(("verdict", v["name"], v["words"], v["held"]))
    b.append(("table", ["scenario", "anomalies detected", "their windows flagged", "first alarm (median)",
                        "false alarms per day", "normal data", "stated rate held?"],
              [[v["name"], v["detected"], v["windows"], v["delay"], v["per_day"], v["normal"],
                f"{held_text(v['held'])} ({v['fa']} measured, {v['stated']} stated)"] for v in vs]))
    for r in results:
        b.append(("h2", f"Scenario {r['name']}: {r['title']}"))
        for f in figures.get(r["name"], []):
            kind = f.rsplit("_", 1)[-1].split(".")[0]
            title, caption = _CAPTIONS.get(kind, (f, ""))
            if kind == "roc" and not roc_informative(r):
                caption += " Here every method separates every anomaly completely: the curves lie on the axes."
            b.append(("fig", f, f"{r['name']}: {title}", caption))
    b.append(("details", "Details: parameters, every method's numbers per scenario, wall time",
              _detail_blocks(results, meta, timing, labels)))
    return b


def _detail_blocks(results: Sequence[dict], meta: dict, timing: dict, labels: dict) -> list[Block]:
    b: list[Block] = []
    dec = meta["decision"]
    b.append(("p", f"Data: {_evaluated(meta)}. Window {meta['window']} samples at {meta['rate']:g} Hz "
                   f"({meta['seconds_per_window']:g} s per window), {meta['features']} device features, "
                   f"thresholds for a false-alarm rate of {meta['fa_rate']}. "
                   f"Normal folders are split in time order: {meta['split'][0]:.0%} fit, "
                   f"{meta['split'][1]:.0%} threshold, {meta['split'][2]:.0%} test. "
                   f"Every method's threshold is chosen on the same calibration windows "
                   f"(device.commission.threshold_from_scores)."))
    b.append(("p", f"Alarms/h and detection delay run the board's Decision (k={dec['k']} of n={dec['n']}, "
                   f"off {dec['off']}, cooldown {dec['cooldown']} windows) over the scores as ratios to "
                   f"each method's threshold. Delay = anomaly windows fed until anomaly_start, with the "
                   f"normal test windows fed first. Alarms/h rests on few hours of normal data (see the "
                   f"hours column): one alarm moves it a lot. An alarm that never clears counts once; "
                   f"'alarm on (time)' is the share of windows with the alarm on."))
    b.append(("table", ["folder", "windows"], [[k, str(v)] for k, v in meta["folders"].items()]))
    for r in results:
        ms = r["methods"]
        order = method_order(ms, r["primary"])
        b.append(("h3", f"Scenario {r['name']}: {r['title']}"))
        parts = ", ".join(f"{p['label']} ({p['windows']})" for p in r["normal_test"]["parts"])
        b.append(("p", f"Normal modes: {', '.join(r['normal_modes'])}. Fit windows: "
                       f"{', '.join(f'{k} {v}' for k, v in r['fit_windows'].items())}; threshold windows: "
                       f"{', '.join(f'{k} {v}' for k, v in r['threshold_windows'].items())}. "
                       f"Normal test: {parts}."))
        if r.get("commissioning"):
            c = r["commissioning"]
            b.append(("p", f"Commissioning: {c['windows']} windows ({c['fit_windows']} location/scale, "
                           f"{c['threshold_windows']} threshold), modes updated: "
                           f"{', '.join(c['updated']) or 'none'}."))
        for n in r["notes"]:
            b.append(("p", "Note: " + n))
        if r.get("missing_extras"):
            b.append(("p", "Extra normal sessions not found (skipped): " + ", ".join(r["missing_extras"])))
        for k in order:
            if "error" in ms[k]:
                b.append(("p", f"{ms[k]['label']}: failed ({ms[k]['error']})"))
        ok = [k for k in order if "error" not in ms[k]]
        b.append(("h3", "Normal test windows and pooled anomalies"))
        rows = []
        for k in ok:
            m = ms[k]
            thr = m.get("thresholds") or {"": m.get("threshold")}
            thr_s = ", ".join((f"{n}: " if n else "") + num(v, ".4g") for n, v in thr.items())
            nm = m["normal"]
            rows.append([m["label"], thr_s, pct(nm["fa_rate"]), str(nm["alarms"]), f"{nm['hours']:.3f}",
                         num(nm["alarms_per_hour"], ".1f"), pct(nm["alarm_on_share"]),
                         num(m["pooled"]["auc"]), pct(m["pooled"]["detection_rate"])])
        b.append(("table", ["method", "threshold (raw score)", "FA rate (windows)", "alarms", "hours",
                            "alarms/h", "alarm on (time)", "pooled AUC", "pooled detection"], rows))
        b.append(("h3", "Per anomaly folder"))
        rows = []
        for an in r["anomalies"]:
            for k in ok:
                a = ms[k]["anomalies"][an]
                dw, ds = _delay(a)
                rows.append([an, ms[k]["label"], str(a["windows"]), num(a["auc"]),
                             pct(a["detection_rate"]), dw, ds])
        b.append(("table", ["anomaly folder", "method", "windows", "ROC AUC", "detection rate",
                            "delay (windows)", "delay (s)"], rows))
        if r["extras"]:
            b.append(("h3", "Informational: other normal sessions never used in fitting or thresholds"))
            b.append(("p", "'FA rate' here (the console's 'extra FA%') is the share of windows of a normal "
                           "recording session the model has never seen that are over the line: a new "
                           "installation before it is commissioned."))
            rows = []
            for ex in r["extras"]:
                for k in ok:
                    e = ms[k]["extras"][ex]
                    rows.append([ex, ms[k]["label"], str(e["windows"]), pct(e["fa_rate"]), str(e["alarms"]),
                                 num(e["alarms_per_hour"], ".1f"), pct(e["alarm_on_share"])])
            b.append(("table", ["normal session", "method", "windows", "FA rate (windows)", "alarms",
                                "alarms/h", "alarm on (time)"], rows))
            b.append(("p", "Each anomaly folder is also a recording session of its own. ROC AUC of the "
                           "anomaly windows against these unseen normal sessions (instead of the normal "
                           "test windows; the console's 'pooled AUC vs') shows whether an anomaly stands "
                           "out more than a change of session does; near 0.5 or below, the detection above "
                           "says more about the session than about the anomaly."))
            rows = []
            for an in r["anomalies"] + ["pooled"]:
                for k in ok:
                    a = ms[k]["pooled"] if an == "pooled" else ms[k]["anomalies"][an]
                    rows.append([an, ms[k]["label"]] + [num(a["auc_vs_extras"][ex]) for ex in r["extras"]])
            b.append(("table", ["anomaly folder", "method"] + [f"AUC vs {ex}" for ex in r["extras"]], rows))
    b.append(("h3", "Wall time"))
    rows = [[labels.get(k, k), f"{v:.2f}"] for k, v in timing.items() if k != "total"]
    rows.append(["total (so far, at report writing)", f"{timing.get('total', 0.0):.2f}"])
    b.append(("table", ["stage", "seconds"], rows))
    return b


def _verdict_tag(blk: Block) -> str:
    """("verdict", name, words, ok[, tag]): ok True/False/None (None: cannot tell)."""
    if len(blk) > 4:
        return blk[4]
    return "rate held" if blk[3] else ("rate not checked: too little normal data" if blk[3] is None
                                       else "RATE NOT HELD")


def to_markdown(bs: Sequence[Block]) -> str:
    out: list[str] = []
    for blk in bs:
        kind = blk[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + blk[1])
        elif kind == "p":
            out.append(blk[1])
        elif kind == "verdict":
            out.append(f"**{blk[1]}** ({_verdict_tag(blk)}): {blk[2]}")
        elif kind == "table":
            head, rows = blk[1], blk[2]
            cell = lambda s: str(s).replace("|", "\\|")  # noqa: E731
            out.append("| " + " | ".join(cell(h) for h in head) + " |")
            out.append("|" + "|".join("---" for _ in head) + "|")
            out.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
        elif kind == "img":
            out.append(f"![{blk[2]}]({blk[1]})")
        elif kind == "fig":
            out.append(f"**{blk[2]}**\n\n![{blk[2]}]({blk[1]})\n\n*{blk[3]}*")
        elif kind == "details":
            out.append(f"## {blk[1]}")
            out.append(to_markdown(blk[2]))
        out.append("")
    return "\n".join(out)


_CSS = ("body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;line-height:1.4}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:2px 6px;"
        "font-size:13px}th{background:#eee}td{text-align:right}td:first-child,td:nth-child(2)"
        "{text-align:left}img{max-width:100%}figure{margin:1em 0 2em 0}figcaption{color:#333;font-size:14px;"
        "max-width:900px}figcaption b{display:block;font-size:15px;margin-bottom:.2em}"
        ".verdict{padding:.4em .7em;margin:.4em 0;border-left:5px solid #2a2}.verdict.bad{border-color:#c22}"
        ".verdict.unknown{border-color:#d90}"
        "details{margin-top:2em}summary{font-size:1.2em;font-weight:bold;cursor:pointer}")


def to_html(bs: Sequence[Block], title: str = "Evaluation report") -> str:
    out = ["<!doctype html>", f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
           f"<style>{_CSS}</style></head><body>", _html_body(bs), "</body></html>"]
    return "\n".join(out)


def _html_body(bs: Sequence[Block]) -> str:
    e = html.escape
    out = []
    for blk in bs:
        kind = blk[0]
        if kind in ("h1", "h2", "h3", "p"):
            out.append(f"<{kind}>{e(blk[1])}</{kind}>")
        elif kind == "verdict":
            cls = "" if blk[3] else (" unknown" if blk[3] is None else " bad")
            out.append(f"<p class='verdict{cls}'><b>{e(blk[1])}:</b> {e(blk[2])}</p>")
        elif kind == "table":
            out.append("<table><tr>" + "".join(f"<th>{e(str(h))}</th>" for h in blk[1]) + "</tr>")
            out.extend("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in blk[2])
            out.append("</table>")
        elif kind == "img":
            out.append(f"<p><img src='{e(blk[1])}' alt='{e(blk[2])}'></p>")
        elif kind == "fig":
            out.append(f"<figure><img src='{e(blk[1])}' alt='{e(blk[2])}'><figcaption><b>{e(blk[2])}</b>"
                       f"{e(blk[3])}</figcaption></figure>")
        elif kind == "details":
            out.append(f"<details><summary>{e(blk[1])}</summary>{_html_body(blk[2])}</details>")
    return "\n".join(out)


def _clean(v: Any) -> Any:
    """JSON-safe: NaN/inf -> null, NumPy scalars -> Python."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def write_metrics(out_dir: str, results: Sequence[dict], meta: dict, timing: dict,
                  labels: dict) -> str:
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "metrics.json")
    doc = {"meta": meta, "timing_seconds": timing, "timing_labels": labels,
           "scenarios": {r["name"]: r for r in results}}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(_clean(doc), f, indent=1)
    return path


def write_report(out_dir: str, results: Sequence[dict],
                 series: dict[str, dict[str, dict[str, np.ndarray]]], meta: dict,
                 timing: dict, labels: dict, total: Callable[[], float]) -> dict:
    """Figures, then report.md and report.html. `timing` is the stage times so far; the
    report stage itself is added as the time spent here up to writing the documents."""
    import time

    t0 = time.perf_counter()
    figures = write_figures(out_dir, results, series)
    t = dict(timing)
    t["report"] = t.get("report", 0.0) + (time.perf_counter() - t0)
    t["total"] = total()
    bs = blocks(results, meta, t, labels, figures)
    md = os.path.join(out_dir, "report.md")
    ht = os.path.join(out_dir, "report.html")
    with open(md, "w", encoding="utf-8") as f:
        f.write(to_markdown(bs))
    with open(ht, "w", encoding="utf-8") as f:
        f.write(to_html(bs))
    return {"md": md, "html": ht, "figures": [os.path.join(out_dir, x) for v in figures.values() for x in v]}
