"""Command line: `python -m host_tools {train,commission,score,evaluate,simulate,bench}`.

Every bad input ends in one line `error: <what, which file>` on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

import numpy as np

from device import model as model_mod
from host_tools import datasets, train
from host_tools.datasets import DataError

EXIT_BAD_INPUT = 2


def _fraction(s: str) -> float:
    v = float(s)
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"{s} is not between 0 and 1")
    return v


def cmd_train(a: argparse.Namespace) -> int:
    ex = datasets.make_extractor(a.sensor, a.window, a.rate, a.bands)
    sets = [datasets.load_folder(d, ex, progress=not a.quiet) for d in a.normal]
    calib: list[tuple[np.ndarray, int | None]] = []
    margin_windows = None
    if a.modes == "auto":
        # Clusters have no folder labels: calibration windows go to their nearest mode.
        if a.calibrate:
            fit_sets = train.cluster_modes([s.features for s in sets])
            calib = [(datasets.load_folder(d, ex, not a.quiet).features, None) for d in a.calibrate]
            source = "calibration"
        else:
            parts = [s.split_time(1 - a.holdout, a.holdout) for s in sets]
            fit_sets = train.cluster_modes([fit.features for fit, _ in parts])
            calib = [(hold.features, None) for _, hold in parts]
            source = f"time-ordered hold-out ({a.holdout:.0%} of each folder), nearest mode"
    else:
        fit_sets = []
        for i, s in enumerate(sets):
            if a.calibrate:
                fit_sets.append((s.name, s.features))
            else:
                fit, hold = s.split_time(1 - a.holdout, a.holdout)
                fit_sets.append((s.name, fit.features))
                calib.append((hold.features, i))
        if a.calibrate:
            calib = [(datasets.load_folder(d, ex, not a.quiet).features, None) for d in a.calibrate]
            source = "calibration"
        else:
            source = f"time-ordered hold-out ({a.holdout:.0%} of each folder)"
        margin_windows = [s.features for s in sets]
    decision = {"k": a.k, "n": a.n, "on": 1.0, "off": a.off, "cooldown": a.cooldown}
    doc = train.build_model(ex, a.detector, fit_sets, calib, a.fa_rate, a.shrinkage, decision,
                            sessions=[os.path.basename(os.path.normpath(d)) for d in a.normal + (a.calibrate or [])],
                            threshold_source=source, margin_windows=margin_windows)
    _write(a.out, doc)
    print(f"wrote {a.out}: {a.detector}, {len(doc['modes'])} mode(s), {len(ex.names)} features, "
          f"fa_rate {a.fa_rate}")
    for m in doc["modes"]:
        print(f"  mode {m['name']}: {m['n_fit']} fit windows, threshold {m['threshold']:.4g} "
              f"from {m['n_threshold']} windows")
    return 0


def _write(path: str, doc: dict) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model_mod.dumps(doc))
    os.replace(tmp, path)


def _load_model(path: str) -> dict:
    try:
        return model_mod.load(path)
    except model_mod.ModelError as e:
        raise DataError(f"{path}: {e}") from None


def cmd_commission(a: argparse.Namespace) -> int:
    doc = _load_model(a.model)
    from device import features as features_mod

    ex = features_mod.from_recipe(doc["features"])
    ws = datasets.load_folder(a.data, ex, progress=not a.quiet)
    if a.fraction is not None:
        ws = ws.split_time(a.fraction)[0]
    if a.windows is not None:
        ws = ws.subset(np.arange(len(ws)) < a.windows)
    new, com = train.commission_model(doc, ws.features, a.fit_share, a.mode)
    _write(a.out, new)
    print(f"wrote {a.out}: commissioned on {len(ws)} windows of {a.data}")
    for m_old, m_new in zip(doc["modes"], new["modes"]):
        tag = "updated" if m_new["name"] in com.updated else "kept (too few windows)"
        print(f"  mode {m_new['name']}: threshold {m_old['threshold']:.4g} -> {m_new['threshold']:.4g} {tag}")
    return 0


def cmd_score(a: argparse.Namespace) -> int:
    doc = _load_model(a.model)
    from device import detectors as detectors_mod
    from device import features as features_mod

    ex = features_mod.from_recipe(doc["features"])
    det = detectors_mod.from_model(doc)
    n = flagged = 0
    for path in a.paths:
        for f in datasets.list_csv(path):
            rec = datasets.read_recording(f, ex.kind)
            for wi, w in enumerate(datasets.cut_windows(rec, ex.window, f)):
                x = ex.compute(w)
                score, mode = det.score(x)
                anomaly = score > 1.0
                top = det.explain(x, mode, ex.names, a.top)
                n += 1
                flagged += anomaly
                if a.json:
                    print(json.dumps({"file": f, "window": wi, "score": round(score, 5),
                                      "mode": det.mode_names[mode], "anomaly": bool(anomaly),
                                      "raw": round(det.last_raw, 5),
                                      "top": [[k, round(v, 4)] for k, v in top]}))
                else:
                    tops = " ".join(f"{k}={v:.2f}" for k, v in top)
                    print(f"{f}\t{wi}\t{score:.4f}\t{det.mode_names[mode]}\t"
                          f"{'ANOMALY' if anomaly else 'ok'}\t{tops}")
    print(f"{flagged}/{n} windows over threshold", file=sys.stderr)
    return 0


def cmd_simulate(a: argparse.Namespace) -> int:
    from host_tools import simulate

    return simulate.main(a)


def cmd_evaluate(a: argparse.Namespace) -> int:
    from host_tools import evaluate

    return evaluate.main(a)


def cmd_bench(a: argparse.Namespace) -> int:
    from host_tools import bench

    return bench.main(a)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m host_tools", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="fit a model on normal recordings")
    t.add_argument("--sensor", choices=["accel", "scalar"], default="accel")
    t.add_argument("--detector", choices=["zscore", "mahalanobis"], default="mahalanobis")
    t.add_argument("--normal", nargs="+", required=True, metavar="DIR",
                   help="one folder per operating mode (or all normal data with --modes auto)")
    t.add_argument("--calibrate", nargs="+", metavar="DIR",
                   help="other recordings of normal operation to choose thresholds on")
    t.add_argument("--modes", choices=["folders", "auto"], default="folders")
    t.add_argument("--fa-rate", type=_fraction, default=0.01)
    t.add_argument("--holdout", type=_fraction, default=0.25,
                   help="without --calibrate: last fraction of each folder (time order) for thresholds")
    t.add_argument("--window", type=int, default=200, help="samples per window")
    t.add_argument("--rate", type=float, default=200.0, help="sample rate in Hz")
    t.add_argument("--bands", type=int, default=16, help="spectral bands (accel)")
    t.add_argument("--shrinkage", default="auto", help="'auto' (Ledoit-Wolf) or a fixed 0..1")
    t.add_argument("--k", type=int, default=3, help="decision: alarms need k of the last n windows")
    t.add_argument("--n", type=int, default=5)
    t.add_argument("--off", type=float, default=0.8, help="decision: alarm clears below this ratio")
    t.add_argument("--cooldown", type=int, default=30, help="decision: windows between alarms")
    t.add_argument("--out", required=True)
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    c = sub.add_parser("commission", help="re-learn location/scale/thresholds on an installed sensor")
    c.add_argument("--model", required=True)
    c.add_argument("--data", required=True, metavar="DIR")
    c.add_argument("--out", required=True)
    c.add_argument("--fraction", type=_fraction, help="use only the first fraction of the files")
    c.add_argument("--windows", type=int, help="use only the first N windows")
    c.add_argument("--fit-share", type=_fraction, default=0.5,
                   help="share of the windows for location/scale; the rest choose thresholds")
    c.add_argument("--mode", help="commission this mode only (default: nearest mode per window)")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=cmd_commission)

    s = sub.add_parser("score", help="score recordings with a model, one line per window")
    s.add_argument("--model", required=True)
    s.add_argument("paths", nargs="+", metavar="PATH")
    s.add_argument("--json", action="store_true")
    s.add_argument("--top", type=int, default=3)
    s.set_defaults(func=cmd_score)

    e = sub.add_parser("evaluate", help="leave-session-out evaluation with baselines and a report")
    from host_tools import evaluate

    evaluate.add_arguments(e)
    e.set_defaults(func=cmd_evaluate)

    m = sub.add_parser("simulate", help="run the board application over recordings")
    from host_tools import simulate

    simulate.add_arguments(m)
    m.set_defaults(func=cmd_simulate)

    b = sub.add_parser("bench", help="host speed of the device code path")
    from host_tools import bench

    bench.add_arguments(b)
    b.set_defaults(func=cmd_bench)
    __import__("host_tools.workflow_cli").workflow_cli.add_commands(sub)  # collect push deploy doctor monitor
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = build_parser()
    a = p.parse_args(argv)
    try:
        return int(a.func(a) or 0)
    except (DataError, model_mod.ModelError) as e:
        datasets.end_progress_line()
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `score ... | head`
        sys.stderr.close()
        return 0
