"""`python -m host_tools evaluate`: the design §8 protocol on a folder-per-session dataset.

Scenarios (ceiling-fan folder names; see data/ceiling-fan/README.md):

- state:   normal = low speed without coin; every other fan state (off, med, high, and
           the coin folders) is an anomaly.
- remount: the state model, commissioned on the first 30% of a later session with the
           sensor re-taped (fan_0_low-deploy), tested on the rest of that session
           (false alarms) and on the anomaly folders (detection).
- coin:    normal = off/low/med/high without coin as four modes; the coin on a blade at
           low/med/high is the anomaly.

Every normal folder is split in time order (by file): the first 60% fits the model, the
next 20% chooses the threshold, the last 20% is the normal test set. Nothing is shuffled:
neighbouring windows of one session are near-copies, and a shuffled split would test on
windows the model has effectively seen.

Our detectors are built with host_tools.modeling.train.build_model and scored with the board's own
code (device.detectors); baselines (host_tools.modeling.baselines) get their thresholds from the
same calibration windows at the same false-alarm rate. Each folder is read once; its
device features (and, for the MAD baseline, per-window MAD values) are reused by every
scenario and method. host_tools.modeling.report writes the figures, report.md/html and
metrics.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

import numpy as np

from device import detectors as detectors_mod
from device import features as features_mod
from device import threshold as threshold_mod
from device.decision import START, Decision
from host_tools.data.argtypes import fraction as _fraction
from host_tools.data.argtypes import rate as _rate
from host_tools.data.argtypes import shrinkage as _shrinkage
from host_tools.modeling import baselines as baselines_mod
from host_tools.data import datasets, readers
from host_tools.modeling import train
from host_tools.data.datasets import DataError, WindowSet

OFF = "fan_0_off_0_weight"
LOW = "fan_0_low_0_weight"
MED = "fan_0_med_0_weight"
HIGH = "fan_0_high_0_weight"
LOW_COIN = "fan_0_low_1_weight"
MED_COIN = "fan_0_med_1_weight"
HIGH_COIN = "fan_0_high_1_weight"
MOVING = "fan_0_low_0_weight-moving"
DEPLOY = "fan_0_low-deploy"

SPLIT = (0.6, 0.2, 0.2)  # fit / threshold / test, in time order within each normal folder
COMMISSION_SHARE = 0.3  # remount: first 30% of the deployment session commissions
DETECTORS = ("mahalanobis", "zscore")
STAGES = ("load", "fit", "score", "baselines", "report")
STAGE_LABELS = {"load": "CSV parsing + features", "fit": "fitting (+ commissioning)",
                "score": "scoring ours + metrics", "baselines": "baselines (fit + score + metrics)",
                "report": "report writing (figures, md, html, json)"}


@dataclass
class Scenario:
    name: str
    title: str
    normal: list[str]  # one folder (path) per mode
    anomalies: list[str]
    commission: str | None = None  # remount: the later session with the sensor re-taped
    extras: list[str] = field(default_factory=list)  # other normal sessions, informational
    notes: list[str] = field(default_factory=list)
    from_labels: bool = False  # anomalies are the normal folders' windows with other labels


def builtin_scenarios(root: str) -> dict[str, Scenario]:
    j = lambda *names: [os.path.join(root, n) for n in names]  # noqa: E731
    state_anomalies = j(OFF, MED, HIGH, LOW_COIN, MED_COIN, HIGH_COIN)
    return {
        "state": Scenario(
            "state", "State change: normal = low speed, anomaly = any other state",
            j(LOW), state_anomalies, extras=j(MOVING),
            notes=["low speed with a coin (fan_0_low_1_weight) is listed too: same speed, "
                   "so it is the hard case of this scenario."]),
        "remount": Scenario(
            "remount", "Remount: the state model commissioned on a re-taped sensor",
            j(LOW), state_anomalies, commission=os.path.join(root, DEPLOY), extras=j(MOVING),
            notes=[f"ours is commissioned on the first {COMMISSION_SHARE:.0%} of {DEPLOY} "
                   "with the board's Commissioner (host_tools.modeling.train.commission_model); the "
                   "normal test set is the remaining windows of that session.",
                   "the *-uncommissioned rows are the same models before commissioning.",
                   "baselines are applied without commissioning: they have no such step.",
                   "the anomaly folders were recorded with the sensor in its original position, "
                   "so after commissioning on the new position their detection also counts the "
                   "mounting difference: read it as an upper bound. The false alarms on the "
                   "rest of the deployment session are the number this scenario is for."]),
        "coin": Scenario(
            "coin", "Coin on a blade: normal = off/low/med/high as four modes",
            j(OFF, LOW, MED, HIGH), j(LOW_COIN, MED_COIN, HIGH_COIN), extras=j(MOVING, DEPLOY),
            notes=["each anomaly folder is one speed; pooled = all coin windows together.",
                   f"{DEPLOY} (extra row) is a remounted sensor scored without commissioning."]),
    }


# ---- small metric helpers (tested on hand-made sequences) ---------------------------

def detection_rate(ratios: np.ndarray) -> float:
    """Share of windows over the line (ratio > 1.0, as the board flags them)."""
    r = np.asarray(ratios, dtype=np.float64)
    return float(np.mean(r > 1.0)) if len(r) else float("nan")


def roc_auc(normal: np.ndarray, anomaly: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(normal) == 0 or len(anomaly) == 0:
        return float("nan")
    y = np.r_[np.zeros(len(normal)), np.ones(len(anomaly))]
    return float(roc_auc_score(y, np.r_[normal, anomaly]))


def run_decision(ratios: Sequence[float] | np.ndarray, settings: dict) -> tuple[int, int]:
    """The board's Decision over scores in time order: (anomaly_start events, windows
    after which an alarm was on). One alarm that never clears counts once, so the
    second number says how much of the time the buzzer would sound."""
    d = Decision.from_settings(settings)
    starts = on = 0
    for r in ratios:
        if d.update(float(r)) == START:
            starts += 1
        on += d.active
    return starts, on


def count_alarms(ratios: Sequence[float], settings: dict) -> int:
    """anomaly_start events of the board's Decision over scores in time order."""
    return run_decision(ratios, settings)[0]


def alarms_per_hour(ratios: Sequence[float], settings: dict,
                    seconds_per_window: float) -> tuple[int, float, float]:
    """(alarms, hours of data, alarms per hour) over normal windows in time order."""
    n = count_alarms(ratios, settings)
    hours = len(ratios) * seconds_per_window / 3600.0
    return n, hours, (n / hours if hours > 0 else float("nan"))


def alarm_summary(ratios: Sequence[float] | np.ndarray, settings: dict, seconds_per_window: float) -> dict:
    """Window and decision-level false-alarm figures of a normal sequence."""
    starts, on = run_decision(ratios, settings)
    n = len(ratios)
    hours = n * seconds_per_window / 3600.0
    return {"windows": int(n), "fa_rate": detection_rate(np.asarray(ratios)), "alarms": starts,
            "hours": hours, "alarms_per_hour": starts / hours if hours > 0 else float("nan"),
            "alarm_on_share": on / n if n else float("nan")}


def detection_delay(normal: Sequence[float] | np.ndarray, anomaly: Sequence[float] | np.ndarray,
                    settings: dict) -> tuple[int | None, bool]:
    """Windows until the alarm after an anomaly starts, and whether one was already on.

    The Decision sees the normal windows first (so its k-of-n history and cooldown are
    what a running board would have), then the anomaly windows. Returns (delay, active):
    delay = how many anomaly windows were fed up to and including the one that raised
    anomaly_start (1 = the first one); 0 if a false alarm was still on when the anomaly
    began (active=True); None if no alarm started during the anomaly.
    """
    d = Decision.from_settings(settings)
    for r in normal:
        d.update(float(r))
    if d.active:
        return 0, True
    for i, r in enumerate(anomaly, 1):
        if d.update(float(r)) == START:
            return i, False
    return None, False


def normal_parts(ratios: np.ndarray, test_sets: Sequence[tuple[str, WindowSet]], doc: dict,
                 fa_rate: float, part_modes: list[str] | None = None) -> list[dict]:
    """Measured vs stated false-alarm rate of each normal test part (one per mode, in the
    order the parts were concatenated), with what that mode's threshold supports.

    part_modes: the model mode each part belongs to (default: the modes in order)."""
    by_name = {m["name"]: m for m in doc["modes"]}
    names = part_modes or [m["name"] for m in doc["modes"]]
    out, lo = [], 0
    for (label, ws), mode in zip(test_sets, names):
        r = np.asarray(ratios[lo:lo + len(ws)])
        lo += len(ws)
        m = by_name.get(mode, {})
        out.append({"label": label, "mode": mode, "windows": int(len(r)),
                    "over": int(np.sum(r > 1.0)), "fa_rate": detection_rate(r), "stated": fa_rate,
                    "fa_supported": m.get("fa_supported"), "threshold_method": m.get("threshold_method"),
                    "threshold_windows": m.get("n_threshold"),
                    "threshold_source": m.get("threshold_source"),
                    "fa_supported_across": m.get("fa_supported_across"),
                    "sessions": m.get("sessions", 1)})
    return out


def fa_table_text(results: Sequence[dict]) -> str:
    """Console table: per scenario and mode, measured vs stated vs supported false-alarm
    rate of ours, then the detection rate of each anomaly folder."""
    lines = ["", "false alarms per mode (ours; measured on the mode's normal test windows; "
             "supported = 90% upper bound the threshold's calibration windows back)"]
    for r in results:
        for key in (k for k in r["methods"] if r["methods"][k].get("family") == "ours"):
            m = r["methods"][key]
            if "normal_parts" not in m:
                continue
            lines.append(f"== {r['name']} {key}")
            lines.append(f"  {'test part':44s} {'windows':>7s} {'over':>5s} {'measured':>9s} "
                         f"{'stated':>7s} {'supported':>9s}  method (threshold windows)")
            for p in m["normal_parts"]:
                sup = p["fa_supported"]
                lines.append(f"  {p['label'][:44]:44s} {p['windows']:7d} {p['over']:5d} "
                             f"{100 * p['fa_rate']:8.2f}% {100 * p['stated']:6.2f}% "
                             f"{'-' if sup is None else f'{100 * sup:.2f}%':>9s}  "
                             f"{p['threshold_method'] or '-'} ({p['threshold_windows']})")
            across = [p for p in m["normal_parts"] if p.get("fa_supported_across") is not None]
            if across:
                lines.append("  across sessions (leave-one-session-out): " + ", ".join(
                    f"{p['mode']} {100 * p['fa_supported_across']:.2f}% ({p['sessions']} sessions)"
                    for p in across))
            if len(across) < len(m["normal_parts"]):
                lines.append("  supported rates of modes with one session are within-session only "
                             "(no other session says how a new one behaves)")
            dets = ", ".join(f"{a} {100 * v['detection_rate']:.1f}%" for a, v in m["anomalies"].items())
            lines.append(f"  detected: {dets}")
    return "\n".join(lines)


# ---- data ---------------------------------------------------------------------------

class _RawTap:
    """Wraps the device extractor for datasets.load_folder and also keeps the start of
    each raw window (what the MAD baseline reads), so each CSV is parsed once for ours
    and the baseline; the MADs are then computed for the whole folder in one call."""

    def __init__(self, inner: features_mod.AccelFeatures, samples: int) -> None:
        self.inner = inner
        self.kind = inner.kind
        self.window = inner.window
        self.rate = inner.rate
        self.samples = samples
        self.heads: list[np.ndarray] = []

    def compute(self, win: np.ndarray):
        self.heads.append(win[:, :self.samples].copy())
        return self.inner.compute(win)


@dataclass
class Folder:
    ws: WindowSet
    mad: np.ndarray | None  # (windows, axes) MAD features, None without baselines

    @property
    def name(self) -> str:
        return self.ws.name


def load_folders(paths: Sequence[str], extractor: features_mod.AccelFeatures, keep_mad: bool,
                 progress: bool) -> dict[str, Folder]:
    """Every folder once: device features, and the MAD baseline's features if asked."""
    out: dict[str, Folder] = {}
    for p in paths:
        if p in out:
            continue
        if keep_mad:
            tap = _RawTap(extractor, baselines_mod.MAD_SAMPLES)
            ws = datasets.load_folder(p, tap, progress=progress)
            out[p] = Folder(ws, baselines_mod.mad_features(np.stack(tap.heads)))
        else:
            out[p] = Folder(datasets.load_folder(p, extractor, progress=progress), None)
    return out


def resolve(p: str, root: str) -> str:
    """A folder given on the command line: as is, or relative to the dataset root."""
    if os.path.isdir(p):
        return p
    q = os.path.join(root, p)
    if os.path.isdir(q):
        return q
    raise DataError(f"{p}: no such folder (also looked in {root})")


def check_folders(sc: Scenario, root: str) -> None:
    for p in sc.normal + sc.anomalies + ([sc.commission] if sc.commission else []):
        if not os.path.isdir(p):
            raise DataError(f"--data {root}: has no folder {os.path.basename(p)!r}, which the bundled "
                            f"ceiling-fan preset's scenario {sc.name!r} needs; {PRESET_HINT}")


# ---- running a scenario -------------------------------------------------------------

class Stages:
    """Wall time per stage, summed over scenarios."""

    def __init__(self) -> None:
        self.t = {k: 0.0 for k in STAGES}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.t[name] += time.perf_counter() - t0


@dataclass
class Config:
    fa_rate: float
    shrinkage: float | str
    decision: dict
    detector: str
    seconds_per_window: float
    baselines: bool


class Evaluator:
    """Runs scenarios over loaded folders, caching models and scores that scenarios share
    (state and remount use the same trained model)."""

    def __init__(self, folders: dict[str, Folder], extractor: features_mod.AccelFeatures,
                 cfg: Config, stages: Stages) -> None:
        self.folders = folders
        self.extractor = extractor
        self.cfg = cfg
        self.stages = stages
        self._models: dict[tuple, dict] = {}
        self._scores: dict[tuple, np.ndarray] = {}
        self._fitted: dict[tuple, tuple] = {}

    # -- helpers
    def _splits(self, sc: Scenario) -> list[list[WindowSet]]:
        """[fit, threshold, test] parts of every normal folder, in time order."""
        out = []
        for p in sc.normal:
            parts = self.folders[p].ws.split_time(*SPLIT)
            for part, what in zip(parts, ("fit", "threshold", "test")):
                if len(part) == 0:
                    raise DataError(f"{p}: too few files for the 60/20/20 time split "
                                    f"(the {what} part is empty)")
            out.append(parts)
        return out

    def _model(self, sc: Scenario, detector: str, splits: list[list[WindowSet]]) -> dict:
        key = (tuple(sc.normal), detector)
        if key not in self._models:
            fit_sets = [(os.path.basename(p), s[0].features) for p, s in zip(sc.normal, splits)]
            calib: list[tuple[np.ndarray, int | None]] = [(s[1].features, i) for i, s in enumerate(splits)]
            self._models[key] = train.build_model(
                self.extractor, detector, fit_sets, calib, self.cfg.fa_rate, self.cfg.shrinkage,
                self.cfg.decision, sessions=[os.path.basename(p) for p in sc.normal],
                threshold_source="time-ordered hold-out (20% of each folder after the 60% fit part)",
                margin_windows=[np.concatenate([s[0].features, s[1].features]) for s in splits])
        return self._models[key]

    def _cached(self, key: tuple, fn: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._scores:
            self._scores[key] = fn()
        return self._scores[key]

    @staticmethod
    def _ratios(det: detectors_mod._Detector, feats: np.ndarray) -> np.ndarray:
        return np.array([det.score(x)[0] for x in feats], dtype=np.float64)

    # -- the scenario
    def run(self, sc: Scenario) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
        cfg, st = self.cfg, self.stages
        splits = self._splits(sc)
        names = {p: os.path.basename(p) for p in sc.normal + sc.anomalies + sc.extras}
        extras = [p for p in sc.extras if p in self.folders]
        # The normal test set: last 20% of every mode in mode order, or, for remount, the
        # deployment session after the commissioning windows.
        if sc.commission:
            dep = self.folders[sc.commission].ws
            com_part, test_part = dep.split_time(COMMISSION_SHARE, 1 - COMMISSION_SHARE)
            if len(com_part) < 3 or len(test_part) == 0:
                raise DataError(f"{sc.commission}: too few files to commission on "
                                f"{COMMISSION_SHARE:.0%} and test on the rest")
            test_sets = [(f"{os.path.basename(sc.commission)} after {COMMISSION_SHARE:.0%}", test_part)]
            test_key: tuple = ("commission-test", sc.commission)
        else:
            com_part = None
            test_sets = [(f"{names[p]} last 20%", s[2]) for p, s in zip(sc.normal, splits)]
            test_key = ("test", tuple(sc.normal))
        normal_feats = np.concatenate([ws.features for _, ws in test_sets])
        sets: dict[str, np.ndarray] = {"normal": normal_feats}
        for p in sc.anomalies + extras:
            sets[names[p]] = self.folders[p].ws.features
        set_keys = {"normal": test_key, **{names[p]: ("all", p) for p in sc.anomalies + extras}}

        methods: dict[str, dict] = {}
        series: dict[str, dict[str, np.ndarray]] = {}
        commission_info = None
        for det_kind in DETECTORS:
            with st("fit"):
                doc = self._model(sc, det_kind, splits)
            variants = [(det_kind, doc, False)]
            if com_part is not None:  # sc.commission
                with st("fit"):
                    cdoc, _ = train.commission_model(doc, com_part.features)
                if det_kind == cfg.detector:
                    commission_info = dict(cdoc["commissioning"])
                variants = [(det_kind, cdoc, True), (f"{det_kind}-uncommissioned", doc, False)]
            for key, mdoc, commissioned in variants:
                with st("score"):
                    det = detectors_mod.from_model(mdoc)
                    mkey = ("ours", tuple(sc.normal), det_kind, sc.commission if commissioned else None)
                    # _cached calls the lambda at once: f is this item's
                    ratios = {s: self._cached((mkey, set_keys[s]), lambda: self._ratios(det, f))
                              for s, f in sets.items()}
                    label = f"ours: {det_kind}" + (" (commissioned)" if commissioned else "")
                    if sc.commission and not commissioned:
                        label = f"ours: {det_kind} (not commissioned)"
                    if key == cfg.detector:
                        label += " *"
                    methods[key] = self._metrics(ratios, sc, extras, names)
                    methods[key]["normal_parts"] = normal_parts(
                        ratios["normal"], test_sets, mdoc, cfg.fa_rate,
                        [os.path.basename(sc.normal[0])] if sc.commission else None)
                    methods[key].update(
                        label=label, family="ours", commissioned=commissioned,
                        thresholds={m["name"]: m["threshold"] for m in mdoc["modes"]},
                        fit_windows={m["name"]: m["n_fit"] for m in mdoc["modes"]},
                        threshold_windows={m["name"]: m["n_threshold"] for m in mdoc["modes"]})
                    series[key] = ratios

        if cfg.baselines:
            for b in baselines_mod.all_baselines():
                with st("baselines"):
                    res = self._baseline(b, sc, splits, sets, set_keys, extras)
                if res is None:
                    continue
                ratios, thr, err = res
                with st("baselines"):
                    if err:
                        methods[b.name] = {"label": b.label, "family": "baseline", "error": err}
                        continue
                    methods[b.name] = self._metrics(ratios, sc, extras, names)
                    methods[b.name].update(label=b.label, family="baseline", commissioned=False,
                                           threshold=thr)
                    series[b.name] = ratios

        primary = cfg.detector
        doc = self._models[(tuple(sc.normal), cfg.detector)]
        result = {
            "name": sc.name,
            "title": sc.title,
            "notes": list(sc.notes),
            "normal_modes": [names[p] for p in sc.normal],
            "anomalies": [names[p] for p in sc.anomalies],
            "extras": [names[p] for p in extras],
            "missing_extras": [os.path.basename(p) for p in sc.extras if p not in self.folders],
            "normal_test": {"parts": [{"label": lab, "windows": len(ws)} for lab, ws in test_sets],
                            "windows": int(len(normal_feats))},
            "fit_windows": {m["name"]: m["n_fit"] for m in doc["modes"]},
            "threshold_windows": {m["name"]: m["n_threshold"] for m in doc["modes"]},
            "commissioning": commission_info,
            "primary": primary,
            "timeline_methods": [primary] + ([f"{primary}-uncommissioned"] if sc.commission else []),
            "decision": dict(doc["decision"]),
            "seconds_per_window": cfg.seconds_per_window,
            "methods": methods,
        }
        return result, series

    def _baseline(self, b: baselines_mod.Baseline, sc: Scenario, splits: list[list[WindowSet]],
                  sets: dict[str, np.ndarray], set_keys: dict[str, tuple], extras: list[str]
                  ) -> tuple[dict[str, np.ndarray], float, str | None] | None:
        """Fit on all normal fit windows pooled, threshold on the pooled calibration
        windows; returns (ratios per set, threshold, error)."""
        if b.input == "mad":
            if any(self.folders[p].mad is None for p in sc.normal):
                return None
            mad_of = self._mad_of()
            fit = np.concatenate([mad_of[p][self._part_mask(p, 0)] for p in sc.normal])
            cal = np.concatenate([mad_of[p][self._part_mask(p, 1)] for p in sc.normal])
            data = self._mad_sets(sc, extras)
        else:
            fit = np.concatenate([s[0].features for s in splits])
            cal = np.concatenate([s[1].features for s in splits])
            data = sets
        try:
            fkey = (b.name, tuple(sc.normal))
            if fkey in self._fitted:  # state and remount share the same normal data
                b, thr = self._fitted[fkey]
            else:
                b.fit(fit)
                thr = float(threshold_mod.choose(b.score(cal), self.cfg.fa_rate)[0])
                self._fitted[fkey] = (b, thr)
            thr_safe = thr if thr > 0 else 1e-12  # ratios need a positive line
            mkey = ("baseline", b.name, tuple(sc.normal))
            ratios = {s: self._cached((mkey, set_keys[s]), lambda: b.score(x) / thr_safe)  # called at once
                      for s, x in data.items()}
        except (ValueError, np.linalg.LinAlgError) as e:  # e.g. too few windows for the fit
            return {}, float("nan"), f"{type(e).__name__}: {e}"
        return ratios, thr, None

    def _part_mask(self, p: str, part: int) -> np.ndarray:
        """Boolean mask of folder p's windows in split part (0 fit, 1 threshold, 2 test),
        the same windows WindowSet.split_time picks."""
        return self.folders[p].ws.part_masks(*SPLIT)[part]

    def _mad_of(self) -> dict[str, np.ndarray]:
        """Every folder's MAD features (load_folders keeps them for all folders or none)."""
        return {p: fo.mad for p, fo in self.folders.items() if fo.mad is not None}

    def _mad_sets(self, sc: Scenario, extras: list[str]) -> dict[str, np.ndarray]:
        f = self.folders
        mad = self._mad_of()
        if sc.commission:
            order = f[sc.commission].ws.file_order
            n_files = int(order.max()) + 1
            lo = int(round(COMMISSION_SHARE * n_files))
            normal = mad[sc.commission][order >= lo]
        else:
            normal = np.concatenate([mad[p][self._part_mask(p, 2)] for p in sc.normal])
        out = {"normal": normal}
        for p in sc.anomalies + extras:
            out[os.path.basename(p)] = mad[p]
        return out

    def _metrics(self, ratios: dict[str, np.ndarray], sc: Scenario, extras: list[str],
                 names: dict[str, str]) -> dict:
        cfg = self.cfg
        spw = cfg.seconds_per_window
        normal = ratios["normal"]
        out: dict = {"normal": alarm_summary(normal, cfg.decision, spw), "anomalies": {}, "extras": {}}
        for p in sc.anomalies:
            r = ratios[names[p]]
            delay, active = detection_delay(normal, r, cfg.decision)
            out["anomalies"][names[p]] = {
                "windows": int(len(r)), "auc": roc_auc(normal, r), "detection_rate": detection_rate(r),
                "delay_windows": delay, "delay_seconds": None if delay is None else delay * spw,
                "alarm_on_at_onset": active}
        pooled = np.concatenate([ratios[names[p]] for p in sc.anomalies])
        out["pooled"] = {"windows": int(len(pooled)), "auc": roc_auc(normal, pooled),
                         "detection_rate": detection_rate(pooled)}
        for p in extras:
            out["extras"][names[p]] = alarm_summary(ratios[names[p]], cfg.decision, spw)
        # Every anomaly folder is also its own recording session. AUC of the anomaly
        # against a normal session never seen in fitting says whether the anomaly stands
        # out more than a mere change of session does (about 0.5: it does not).
        for p in sc.anomalies:
            out["anomalies"][names[p]]["auc_vs_extras"] = {
                names[e]: roc_auc(ratios[names[e]], ratios[names[p]]) for e in extras}
        out["pooled"]["auc_vs_extras"] = {names[e]: roc_auc(ratios[names[e]], pooled) for e in extras}
        return out


# ---- command line -------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sensor", choices=["accel", "thermal"], default="accel",
                   help="thermal: MLX90640 frame CSVs (--normal and --anomaly folders; "
                        "host_tools.modeling.thermal_report)")
    p.add_argument("--data", default=os.path.join("data", "ceiling-fan"), metavar="DIR",
                   help="dataset root (default: data/ceiling-fan): the bundled ceiling-fan folders "
                        "(the preset scenarios), a folder of labelled one-window-per-row files, or where "
                        "--normal/--anomaly folders are looked for")
    p.add_argument("--scenario", choices=["state", "remount", "coin", "all"], default="all",
                   help="ceiling-fan preset scenario (default: all); not used with --normal/--anomaly")
    p.add_argument("--normal", nargs="+", metavar="DIR",
                   help="any recordings instead of the preset: one folder per normal mode (default: none); "
                        "folders of labelled one-window-per-row files keep their normal rows")
    p.add_argument("--anomaly", nargs="+", metavar="DIR",
                   help="anomaly folders for --normal (default: none; with labelled window rows in "
                        "--normal, each other label is an anomaly set)")
    p.add_argument("--detector", choices=list(DETECTORS), default="mahalanobis",
                   help="which of ours is the headline (both are always in the tables)")
    p.add_argument("--fa-rate", type=_fraction, default=0.01,
                   help="false-alarm rate the thresholds are chosen for")
    p.add_argument("--window", type=int, default=200, help="samples per window")
    p.add_argument("--rate", type=_rate, default=200.0, help="sample rate in Hz, or a period (5ms)")
    p.add_argument("--bands", type=int, default=16, help="spectral bands")
    p.add_argument("--shrinkage", type=_shrinkage, default="auto", help="'auto' (Ledoit-Wolf) or 0..1")
    p.add_argument("--k", type=int, default=train.DEFAULT_DECISION["k"],
                   help="decision: alarm needs k of the last n windows over the line")
    p.add_argument("--n", type=int, default=train.DEFAULT_DECISION["n"],
                   help="decision: windows the k-of-n vote looks at")
    p.add_argument("--off", type=float, default=train.DEFAULT_DECISION["off"],
                   help="decision: alarm clears below this ratio to the threshold")
    p.add_argument("--cooldown", type=int, default=train.DEFAULT_DECISION["cooldown"],
                   help="decision: windows between alarms")
    p.add_argument("--report", default=os.path.join("reports", "latest"), metavar="DIR",
                   help="report folder (default: reports/latest)")
    p.add_argument("--no-baselines", action="store_true", help="skip the baselines (faster)")
    p.add_argument("--quiet", action="store_true", help="print nothing but warnings and errors; the report is still written")


PRESET_HINT = ("for other recordings give --normal DIR... (one folder per normal mode) and --anomaly DIR..., "
               "or --data/--normal with one-window-per-row files that have a label column")


def _labelled(folder: str) -> bool:
    """Does a folder (or file) hold one-window-per-row files with a label column?"""
    try:
        files = datasets.list_csv(folder)
    except DataError:
        return False
    if not readers.is_window_rows(files[0]):
        return False
    with open(files[0], "r", encoding="utf-8-sig", errors="replace") as f:
        header = f.readline().split(",")
    got = readers.window_layout(header)
    return got is not None and got[1] >= 0


def _scenarios(a: argparse.Namespace) -> list[Scenario]:
    root = a.data
    if a.normal or a.anomaly:
        if not a.normal:
            raise DataError("--anomaly needs --normal DIR... too (one folder per normal mode)")
        normal = [resolve(p, root) for p in a.normal]
        if not a.anomaly:
            if not all(_labelled(p) for p in normal):
                raise DataError("--normal without --anomaly: give --anomaly DIR..., or --normal folders of "
                                "one-window-per-row files with a label column (the other labels are the anomalies)")
            return [Scenario("labels", "Labels: windows labelled normal against each other label",
                             normal, [], from_labels=True)]
        return [Scenario("custom", "Custom: the given normal modes against the given anomalies",
                         normal, [resolve(p, root) for p in a.anomaly])]
    if not os.path.exists(root):
        raise DataError(f"--data {root}: no such dataset folder ({PRESET_HINT})")
    if _labelled(root):
        return [Scenario("labels", "Labels: windows labelled normal against each other label",
                         [root], [], from_labels=True)]
    allsc = builtin_scenarios(root)
    chosen = list(allsc.values()) if a.scenario == "all" else [allsc[a.scenario]]
    for sc in chosen:
        check_folders(sc, root)
    return chosen


def expand_labels(scenarios: list[Scenario], folders: dict[str, Folder]) -> None:
    """Normal folders of labelled window rows keep only their normal windows ('DIR#normal');
    a label scenario gets one anomaly set per other label ('DIR#blocked', ...)."""
    for sc in scenarios:
        normal, anomalies = [], list(sc.anomalies)
        for p in sc.normal:
            ws, mad = folders[p].ws, folders[p].mad
            if ws.labels is None:
                if sc.from_labels:
                    raise DataError(f"{p}: has no label column: give --anomaly DIR...")
                normal.append(p)
                continue
            by: dict[str, np.ndarray] = {}
            for lab in dict.fromkeys(ws.labels):
                key = "normal" if datasets.is_normal_label(lab) else lab
                m = np.array([(datasets.is_normal_label(v) if key == "normal" else v == lab) for v in ws.labels])
                by[key] = by.get(key, np.zeros(len(ws), dtype=bool)) | m
            if "normal" not in by:
                raise DataError(f"{p}: no window is labelled normal (labels: {readers.cut_list(sorted(by), 8, ', ')})")
            for key, m in by.items():
                name = f"{p}#{key}"
                folders[name] = Folder(ws.subset(m), mad[m] if mad is not None else None)
                if key == "normal":
                    normal.append(name)
                elif sc.from_labels:
                    anomalies.append(name)
        if not anomalies:
            raise DataError(f"scenario {sc.name!r}: no anomaly windows (every label is normal): give --anomaly DIR...")
        sc.normal, sc.anomalies = normal, anomalies


def main(a: argparse.Namespace) -> int:
    from host_tools.modeling import report as report_mod

    if getattr(a, "sensor", "accel") == "thermal":
        from host_tools.modeling import thermal_report

        return thermal_report.main_eval(a)
    t_start = time.perf_counter()
    if a.window < 8 or a.rate <= 0:
        raise DataError("--window must be >= 8 and --rate > 0")
    scenarios = _scenarios(a)
    decision = {"k": a.k, "n": a.n, "on": 1.0, "off": a.off, "cooldown": a.cooldown}
    try:
        Decision.from_settings(decision)
        axes = readers.axes_of(datasets.list_csv(scenarios[0].normal[0])[0])
        extractor = datasets.make_extractor("accel", a.window, a.rate, a.bands, axes)
    except ValueError as e:
        raise DataError(f"--window {a.window} --bands {a.bands} --k {a.k} --n {a.n} --off {a.off}: {e}") from None
    cfg = Config(a.fa_rate, a.shrinkage, decision, a.detector, a.window / a.rate, not a.no_baselines)
    stages = Stages()

    paths: list[str] = []
    for sc in scenarios:
        for p in sc.normal + sc.anomalies + ([sc.commission] if sc.commission else []) + \
                [e for e in sc.extras if os.path.isdir(e)]:
            if p not in paths:
                paths.append(p)
    if not a.quiet:
        print(f"loading {len(paths)} folders from {a.data}", file=sys.stderr)
    with stages("load"):
        folders = load_folders(paths, extractor, keep_mad=cfg.baselines, progress=not a.quiet)
        expand_labels(scenarios, folders)

    ev = Evaluator(folders, extractor, cfg, stages)
    results: list[dict] = []
    series: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    for sc in scenarios:
        if not a.quiet:
            print(f"scenario {sc.name}", file=sys.stderr)
        res, ser = ev.run(sc)
        results.append(res)
        series[sc.name] = ser

    meta = {
        "data": report_mod.shown_path(a.data),
        "evaluated": [report_mod.shown_path(p) for p in folders],
        "folders": {os.path.basename(p): len(f.ws) for p, f in folders.items()},
        "window": a.window, "rate": a.rate, "bands": a.bands,
        "seconds_per_window": cfg.seconds_per_window, "features": len(extractor.names),
        "fa_rate": a.fa_rate, "shrinkage": a.shrinkage, "detector": a.detector,
        "decision": decision, "split": list(SPLIT), "commission_share": COMMISSION_SHARE,
        "baselines": cfg.baselines,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    with stages("report"):
        paths_out = report_mod.write_report(a.report, results, series, meta,
                                            stages.t, STAGE_LABELS,
                                            total=lambda: time.perf_counter() - t_start)
    timing = dict(stages.t, total=time.perf_counter() - t_start)
    report_mod.write_metrics(a.report, results, meta, timing, STAGE_LABELS)
    if not a.quiet:  # --quiet: the one-line result below
        print(report_mod.summary_text(results, meta))
        print(fa_table_text(results))
    from host_tools.modeling import recommend

    if not a.quiet:
        print(recommend.text(results, a.fa_rate))
    coin = next((r for r in scenarios if r.name == "coin"), None)
    if coin is not None and not getattr(a, "no_guard_table", False) and not a.quiet:
        from host_tools.modeling import guard_table

        doc = ev._models[(tuple(coin.normal), cfg.detector)]
        rows = guard_table.table(doc, [(os.path.basename(p), f.ws.features) for p, f in folders.items()])
        print()
        print(guard_table.text(rows, doc))
    if not a.quiet:
        print(report_mod.timing_text(timing, STAGE_LABELS))
    print(f"report: {paths_out['html']} (also report.md, metrics.json, "
          f"{len(paths_out['figures'])} figures)")
    return 0
