"""Command line: `python -m host_tools {train,commission,score,evaluate,simulate,bench,
export,drift-bench,moved-bench}`.

Every bad input ends in one line `error: <what, which file or option>` on stderr and exit
code 2, before any long work where it can be known early (options, output paths, model
files); nothing is left behind (a model is written to a temporary file in the same folder
and renamed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
from typing import Any, NoReturn, Sequence

import numpy as np

from device import model as model_mod
from host_tools.data import datasets, readers, timeaxis
from host_tools.modeling import calibration, train, weeks
from host_tools.modeling.modelfile import write as _write  # one writer for every sensor's model
from host_tools.data.argtypes import fraction as _fraction
from host_tools.data.argtypes import period as _period
from host_tools.data.argtypes import rate as _rate
from host_tools.data.argtypes import shrinkage as _shrinkage
from host_tools.data.datasets import DataError
from host_tools.cli.helptext import QUIET_HELP, HelpFormatter, add_command, prog_name  # noqa: F401 (re-exported)

EXIT_BAD_INPUT = 2


class UsageError(DataError):
    """A command line argparse refused (unknown option, bad type, missing argument)."""


class Parser(argparse.ArgumentParser):
    """argparse, but its errors are one `error:` line (no usage block): main prints it;
    help shows every option's default (HelpFormatter)."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        kw.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kw)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


# ---- option checks, by option name, for every command ---------------------------------

# dest -> (lowest allowed, what it is). Applied to every command that has the option, after
# argparse has converted the types; a list option (bench --windows) is checked per value.
_AT_LEAST = {
    "window": (1, "samples per window"), "windows": (1, "windows"), "bands": (1, "spectral bands"),
    "k": (1, "windows over the line"), "n": (1, "windows in the decision"),
    "cooldown": (0, "windows between alarms"), "commission": (0, "windows to commission on"),
    "heartbeat": (0, "windows between heartbeats (0 = none)"), "top": (0, "features to explain"),
    "count": (1, "windows per timed loop"), "repeats": (1, "repeats"),
}


def _opt(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def check_options(a: argparse.Namespace) -> None:
    """Range checks argparse's types cannot express; raises DataError naming the option."""
    bands = getattr(a, "bands", None)
    if bands is not None and getattr(a, "sensor", "accel") == "accel":  # evaluate, bench: accel
        many = isinstance(getattr(a, "windows", None), list)  # bench: several window lengths
        for w in (a.windows if many else [getattr(a, "window", None)]):
            if w is None:
                continue
            opt = "--windows" if many else "--window"
            if w < 8:
                raise DataError(f"{opt} {w}: accelerometer features need at least 8 samples per window")
            bins = datasets.spectrum_bins(w)
            if bands > bins:
                raise DataError(f"--bands {bands}: a {w}-sample window has only {bins} frequency "
                                f"bins to split into bands")
    v: Any
    for dest, (lo, what) in _AT_LEAST.items():
        v = getattr(a, dest, None)
        for x in (v if isinstance(v, list) else [v]):
            if isinstance(x, int) and x < lo:
                raise DataError(f"{_opt(dest)} {x}: {what} must be at least {lo}")
    if isinstance(getattr(a, "modes", None), int) and a.modes < 1:  # bench: modes in the model
        raise DataError(f"--modes {a.modes}: must be at least 1")
    rate = getattr(a, "rate", None)
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise DataError(f"--rate {rate}: the sample rate must be > 0 (Hz, or a period such as 5min)")
    off = getattr(a, "off", None)
    if off is not None and not 0 < off <= 1:
        raise DataError(f"--off {off}: an alarm clears below this ratio to the threshold, "
                        f"which must be > 0 and <= 1")
    k, n = getattr(a, "k", None), getattr(a, "n", None)
    if k is not None and n is not None and k > n:
        raise DataError(f"--k {k} --n {n}: an alarm needs k of the last n windows, so k <= n")


def _nearest_existing(path: str) -> str:
    p = os.path.abspath(path)
    while not os.path.exists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    return p


def _check_can_create_in(folder: str, option: str, path: str) -> None:
    """`folder` exists; can a file be created there? (A real probe: permissions, a
    read-only file system and root all answer the same way.)"""
    if not os.path.isdir(folder):
        raise DataError(f"{option} {path}: {folder} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise DataError(f"{option} {path}: cannot write in {folder} ({e.strerror or e})") from None


def check_out_file(path: str, option: str = "--out") -> None:
    """Fail now, not after the work, if `path` cannot become a file."""
    if not path or not path.strip():
        raise DataError(f"{option} is empty: give a file name such as model.json")
    if "\0" in path:
        raise DataError(f"{option} {path!r}: a path cannot contain a NUL character")
    if os.path.isdir(path):
        raise DataError(f"{option} {path}: is a folder; give a file name such as "
                        f"{os.path.join(path, 'model.json')}")
    if path.endswith(("/", os.sep)):
        raise DataError(f"{option} {path}: ends with a path separator; give a file name")
    _check_can_create_in(_nearest_existing(os.path.dirname(os.path.abspath(path))), option, path)


def check_out_dir(path: str, option: str) -> None:
    """Fail now, not after the work, if `path` cannot be (or become) a folder we write in."""
    if not path or not path.strip():
        raise DataError(f"{option} is empty: give a folder name")
    if "\0" in path:
        raise DataError(f"{option} {path!r}: a path cannot contain a NUL character")
    if os.path.exists(path) and not os.path.isdir(path):
        raise DataError(f"{option} {path}: is a file, expected a folder")
    _check_can_create_in(_nearest_existing(path), option, path)


def _read_opts(a: argparse.Namespace) -> datasets.ReadOptions:
    """--columns / --units of a command that reads recordings."""
    cols = getattr(a, "columns", None)
    columns = [c.strip() for c in cols.split(",")] if cols else None
    if columns is not None and not all(columns):
        raise DataError(f"--columns {cols}: an empty column name; give names or positions, e.g. accX,accY,accZ or 2,3,4")
    sep = getattr(a, "separator", None)
    sep = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t"}.get(sep, sep) if sep else None
    dec = getattr(a, "decimal", None)
    dec = {"point": ".", "comma": ","}.get(dec, dec) if dec else None
    if sep == "," and dec == ",":
        raise DataError("--separator , --decimal ,: a decimal comma needs another separator (e.g. --separator ';')")
    return datasets.ReadOptions(columns, getattr(a, "units", "g") or "g", separator=sep, decimal=dec)


def cmd_train(a: argparse.Namespace) -> int:
    """Every sensor through one training pipeline (host_tools.modeling.pipeline): this picks
    the sensor's plug-in."""
    from host_tools.modeling import pipeline

    check_out_file(a.out)
    check_labels(a)
    if a.detector is None:  # scalar means z-score (README); accel the Mahalanobis detector
        a.detector = "zscore" if a.sensor == "scalar" else "mahalanobis"
    if a.detector == "adaptive" and a.sensor != "scalar":
        raise DataError("--detector adaptive follows a drifting scalar stream: use it with --sensor scalar")
    if a.sensor == "thermal":
        from host_tools.modeling import thermal_train

        return thermal_train.cmd_train(a)
    return pipeline.run(a, pipeline.AccelPlugin(lambda: _read_opts(a)))


def check_labels(a: argparse.Namespace) -> None:
    """train --label: one readable, distinct name per --normal folder."""
    labels = getattr(a, "label", None)
    if not labels:
        return
    if a.sensor == "thermal" or a.modes == "auto":
        raise DataError("--label names the modes of --normal folders; with --modes auto or --sensor thermal "
                        "the modes are found by clustering and keep their numbers")
    if len(labels) != len(a.normal):
        raise DataError(f"--label: {len(labels)} name(s) for {len(a.normal)} --normal folder(s); give one per "
                        f"folder, in the same order")
    for x in labels:
        if not x.strip() or len(x) > 40 or not x.isprintable():
            raise DataError(f"--label {x!r}: a mode name is 1-40 printable characters")
    if len(set(labels)) != len(labels):
        raise DataError(f"--label {' '.join(labels)}: two modes with one name")


def cmd_commission(a: argparse.Namespace) -> int:
    doc, ex = datasets.load_model(a.model)
    names = [m["name"] for m in doc["modes"]]
    if a.mode is not None and a.mode not in names:
        raise DataError(f"--mode {a.mode}: not a mode of {a.model} (modes: {', '.join(names)})")
    check_out_file(a.out)
    ws = datasets.load_folder(a.data, ex, not a.quiet, datasets.model_expect(a.model, ex), _read_opts(a))
    if a.fraction is not None:
        ws = ws.split_time(a.fraction)[0]
    if a.windows is not None:
        ws = ws.subset(np.arange(len(ws)) < a.windows)
    new, com = train.commission_model(doc, ws.features, a.fit_share, a.mode)
    _write(a.out, new)
    print(f"wrote {a.out}: commissioned on {len(ws)} windows of {a.data}")
    for m_old, m_new in zip(doc["modes"], new["modes"]):  # the result: kept under --quiet
        tag = "updated" if m_new["name"] in com.updated else "kept (too few windows)"
        sup = f", supports fa {m_new['fa_supported']:.2%}" if "fa_supported" in m_new else ""
        print(f"  mode {m_new['name']}: threshold {m_old['threshold']:.4g} -> {m_new['threshold']:.4g} {tag}{sup}")
    for w in com.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def cmd_score(a: argparse.Namespace) -> int:
    """One line per window (--json: one object, with the window's start time and first
    line), the raw per-window verdict: score > 1.0, without the model's decision stage.
    --events runs the board's App (debounce, hysteresis, cooldown) over the same windows
    and prints only its events, as the board would send them."""
    doc, ex = datasets.load_model(a.model)
    from device import detectors as detectors_mod

    expect = datasets.model_expect(a.model, ex)
    wins, notes = datasets.located_windows(a.paths, ex, expect, _read_opts(a))
    if not getattr(a, "quiet", False):
        for line in notes:
            print(f"note: {line}", file=sys.stderr)
    if a.events:
        return _score_events(a, doc, ex, wins)
    det = detectors_mod.from_model(doc)
    n = flagged = 0
    starts = np.array([r.t for r, _ in wins])
    skips = train.gap_skips(starts, len(wins), ex.window / ex.rate)
    train._set_clock(det, starts, ex.window / ex.rate)  # a days-off profile: the first window's date
    for (ref, w), k in zip(wins, skips):
        if k and hasattr(det, "skip"):  # a gap: the adaptive detector's cycle moves on
            det.skip(int(k))
        x = ex.compute(w)
        score, mode = det.score(x)
        anomaly = score > 1.0
        top = det.explain(x, mode, ex.names, a.top)
        n += 1
        flagged += anomaly
        if a.json:
            rec = {"file": ref.file, "window": ref.index, "line": ref.line}
            if ref.start is not None:
                rec["start"] = ref.start
            rec.update({"score": round(score, 5), "mode": det.mode_names[mode], "anomaly": bool(anomaly),
                        "raw": round(det.last_raw, 5), "top": [[k, round(v, 4)] for k, v in top]})
            if getattr(det, "learning", False):
                rec["learning"] = True
            print(json.dumps(rec))
        else:
            tops = " ".join(f"{k}={v:.2f}" for k, v in top)
            when = f"\t{ref.start}" if ref.start is not None else ""
            print(f"{ref.file}\t{ref.index}{when}\t{score:.4f}\t{det.mode_names[mode]}\t"
                  f"{'ANOMALY' if anomaly else 'ok'}\t{tops}")
    print(f"{flagged}/{n} windows over threshold (per window, no debounce; --events applies the "
          f"model's decision)", file=sys.stderr)
    return 0


def _score_events(a: argparse.Namespace, doc: dict, ex, wins: list) -> int:
    """The board's App over the windows; its event payloads, with where each window is."""
    from device import app as app_mod
    from device.appconfig import AppConfig
    from device.sensors import ReplaySensor

    events: list[dict] = []

    class Box:
        def put(self, p: dict) -> bool:
            if p.get("type") == "event":
                events.append(dict(p))
            return True

    starts = np.array([r.t for r, _ in wins])
    skips = train.gap_skips(starts, len(wins), ex.window / ex.rate)
    holder: list = []

    class GapAwareReplay(ReplaySensor):
        """The windows in order; at a gap in the recording the adaptive detector's cycle
        moves on by the missing windows, as a board with a clock would do."""

        def read(self):  # type: ignore[override]
            i = self._i
            w = ReplaySensor.read(self)
            if w is not None and holder and i is not None and i < len(skips) and skips[i] \
                    and hasattr(holder[0].detector, "skip"):
                holder[0].detector.skip(int(skips[i]))
            return w

    app = app_mod.App(GapAwareReplay([w for _, w in wins]), doc, AppConfig(device_id="score", heartbeat_every=0),
                      outbox=Box(), features=ex)
    holder.append(app)
    train._set_clock(app.detector, starts, ex.window / ex.rate)  # as a board with its clock set
    app.run()
    for p in events:
        ref = wins[p["window"] - 1][0]  # the app counts windows from 1
        p.pop("seq", None)
        p.pop("t", None)
        p.pop("device", None)
        out = {"event": p.pop("event"), "file": ref.file, "window": ref.index, "line": ref.line}
        if ref.start is not None:
            out["start"] = ref.start
        p.pop("type", None)
        p.pop("window", None)
        out.update(p)
        if a.json:
            print(json.dumps(out))
        else:
            when = f" {ref.start}" if ref.start is not None else ""
            print(f"{out['event']}\t{ref.file}\t{ref.index}{when}\tscore {out['score']}\tmode {out['mode']}")
    n_starts = sum(1 for p in events if p.get("event") == "anomaly_start" or p.get("anomaly"))
    print(f"{n_starts} alarm(s) in {len(wins)} windows (decision k={app.decision.k} of n={app.decision.n}, "
          f"off {app.decision.off}, cooldown {app.decision.cooldown})", file=sys.stderr)
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    """Recordings -> Edge Impulse data-acquisition files, one per input file."""
    from host_tools.data import readers

    check_out_dir(a.out, "--out")
    opts = _read_opts(a)
    files = [f for p in a.paths for f in datasets.list_csv(p)]  # every path checked first
    tables = [datasets.read_table(f, a.sensor, a.rate, None, opts) for f in files]
    written = readers.export(tables, a.sensor, a.rate, a.to, a.out)
    print(f"wrote {len(written)} {a.to} file(s) to {a.out}")
    return 0


def cmd_drift_bench(a: argparse.Namespace) -> int:
    from host_tools.modeling import driftbench

    return driftbench.main(a)


def cmd_moved_bench(a: argparse.Namespace) -> int:
    from host_tools.modeling import moved_sensor

    return moved_sensor.main(a)


def cmd_simulate(a: argparse.Namespace) -> int:
    from host_tools.modeling import simulate

    return simulate.main(a)


def cmd_evaluate(a: argparse.Namespace) -> int:
    from host_tools.modeling import evaluate

    check_out_dir(a.report, "--report")  # before the minutes of work, not after
    return evaluate.main(a)


def cmd_bench(a: argparse.Namespace) -> int:
    from host_tools.modeling import bench

    return bench.main(a)


def _fraction_or_zero(s: str) -> float:
    return 0.0 if s.strip() in ("0", "0.0") else _fraction(s)


def _period_or_none(s: str) -> float:
    return 0.0 if s.strip().lower() in ("none", "0", "off") else _period(s)


def _reading_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--columns", metavar="A,B,C",
                   help="value columns by header name or position from 1 (e.g. accX,accY,accZ or 2,3,4)")
    p.add_argument("--units", choices=["g", "m/s2"], default="g", help="unit of accelerometer values (default: g)")
    p.add_argument("--separator", choices=[",", ";", "tab", "comma", "semicolon"], default=None, metavar="SEP",
                   help="cell separator of CSV files: , ; tab comma semicolon (default: detected; "
                        "comma unless every line holds the same number of ; or tabs)")
    p.add_argument("--decimal", choices=[".", ",", "point", "comma"], default=None, metavar="MARK",
                   help="decimal mark of CSV numbers: . , point comma (default: detected; a comma between digits in a "
                        "file separated by ; or tabs)")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    p = Parser(prog=prog or prog_name(), description=__doc__.split("\n\n")[0].replace(
        "`python -m host_tools", "`%(prog)s"))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = add_command(sub, "train", "fit a model on normal recordings (one folder per operating mode)",
                    "%(prog)s --normal data/ceiling-fan/fan_0_low_0_weight data/ceiling-fan/fan_0_med_0_weight "
                    "--label low medium --out model.json\n"
                    "%(prog)s --sensor scalar --detector adaptive --rate 5min --normal data/boiler --out boiler.json")
    t.description = ("Fit a model on normal recordings (accelerometer, scalar or thermal: the same "
                     "--calibrate, --holdout, --test, --modes, --fa-rate and --rate). The least "
                     "recording per mode: 10 windows (thermal: frames) to fit and 10 to choose its "
                     "threshold, so without --calibrate and with --holdout 0.25 at least 40 windows "
                     "(40 s at --window 200 --rate 200; 40 frames, 5 s, at 8 frames/s); with "
                     "--calibrate 10 per mode in the normal folders and 10 per mode in the calibration "
                     "folders. More gives thresholds that hold: about 120 calibration windows per "
                     "mode back a 1%% false-alarm rate without extrapolating.")
    t.add_argument("--sensor", choices=["accel", "scalar", "thermal"], default="accel",
                   help="what the recordings hold: accel x,y,z windows, one scalar value per row, "
                        "or thermal camera frames")
    t.add_argument("--detector", choices=["zscore", "mahalanobis", "adaptive"], default=None,
                   help="default: mahalanobis for accel and thermal, zscore for scalar; adaptive: a "
                        "baseline that follows drift (scalar)")
    t.add_argument("--normal", nargs="+", required=True, metavar="DIR",
                   help="one folder per operating mode (or all normal data with --modes auto)")
    t.add_argument("--label", nargs="+", metavar="NAME",
                   help="a name for each --normal folder's operating mode, in the same order (e.g. "
                        "\"low speed\" \"high speed\"); alerts and the dashboard use it (default: the folder names)")
    t.add_argument("--calibrate", nargs="+", metavar="DIR",
                   help="other recordings of normal operation to choose thresholds on, each window "
                        "for its nearest mode; every window of --normal then fits (default: none, "
                        "thresholds on --holdout)")
    t.add_argument("--modes", choices=["folders", "auto"], default="folders",
                   help="folders: each --normal folder is a mode; auto: find the modes by clustering")
    t.add_argument("--fa-rate", type=_fraction, default=0.01,
                   help="false-alarm rate per window the thresholds are chosen for")
    t.add_argument("--holdout", type=_fraction, default=0.25,
                   help="without --calibrate: fraction of each folder for thresholds (default 0.25): "
                        "its last part in time (thermal: every 4th block, blocks of up to 10 minutes "
                        "scaled so a short session still has 3)")
    t.add_argument("--test", type=_fraction_or_zero, default=0.0,
                   help="last fraction of each folder (time order) kept out as a test, scored at the end")
    t.add_argument("--window", type=int, default=200, help="samples per window")
    t.add_argument("--rate", type=_rate, default=200.0,
                   help="sample rate in Hz, or a period (5min, 10ms); checked against the recordings' "
                        "time stamps (default: 200; thermal: the frames/s the time stamps show, else 1)")
    t.add_argument("--tau", type=_period, default=6 * 3600.0,
                   help="adaptive: time constant of the baseline in seconds or a period (e.g. 6h)")
    t.add_argument("--cycle", type=_period_or_none, default=86400.0,
                   help="adaptive: period of the cycle profile in seconds or a period (24h), or none")
    t.add_argument("--slots", type=int, default=48, help="adaptive: parts of the cycle profile")
    t.add_argument("--axes", type=int, choices=[1, 2, 3], default=None,
                   help="accelerometer axes per sample: 1 (a magnitude channel), 2 or 3 (default: "
                        "the recordings' value columns, else 3)")
    t.add_argument("--bands", type=int, default=16, help="spectral bands (accel)")
    t.add_argument("--shrinkage", type=_shrinkage, default="auto", help="'auto' (Ledoit-Wolf) or a fixed 0..1")
    t.add_argument("--k", type=int, default=3, help="decision: alarms need k of the last n windows")
    t.add_argument("--n", type=int, default=5, help="decision: windows the k-of-n vote looks at")
    t.add_argument("--off", type=float, default=0.8, help="decision: alarm clears below this ratio")
    t.add_argument("--cooldown", type=int, default=30, help="decision: windows between alarms")
    t.add_argument("--out", required=True, metavar="FILE", help="the model file to write (model.json)")
    t.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    calibration.add_train_arguments(t)
    weeks.add_train_arguments(t)
    _reading_options(t)
    t.set_defaults(func=cmd_train)

    c = add_command(sub, "commission", "re-learn location/scale/thresholds on an installed sensor",
                    "%(prog)s --model model.json --data data/ceiling-fan/fan_0_low-deploy --fraction 0.3 "
                    "--out model-installed.json")
    c.add_argument("--model", required=True, metavar="FILE", help="the trained model (model.json)")
    c.add_argument("--data", required=True, metavar="DIR",
                   help="recordings of normal operation at the new installation")
    c.add_argument("--out", required=True, metavar="FILE", help="the commissioned model file to write")
    c.add_argument("--fraction", type=_fraction, help="use only the first fraction of the files")
    c.add_argument("--windows", type=int, help="use only the first N windows")
    c.add_argument("--fit-share", type=_fraction, default=0.5,
                   help="share of the windows for location/scale; the rest choose thresholds")
    c.add_argument("--mode", help="commission this mode only (default: nearest mode per window)")
    c.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    _reading_options(c)
    c.set_defaults(func=cmd_commission)

    s = add_command(sub, "score", "score recordings with a model, one line per window",
                    "%(prog)s --model model.json data/ceiling-fan/fan_0_high_1_weight --json\n"
                    "%(prog)s --model model.json data/ceiling-fan/fan_0_high_1_weight --events")
    s.add_argument("--model", required=True, metavar="FILE", help="the model file (model.json)")
    s.add_argument("paths", nargs="+", metavar="PATH", help="recording files or folders, scored in order")
    s.add_argument("--json", action="store_true", help="one JSON object per window (or event), "
                   "with the start time when the recording has time stamps")
    s.add_argument("--events", action="store_true",
                   help="apply the model's decision (debounce) and print only the events, as the board does")
    s.add_argument("--top", type=int, default=3, help="features named per window as its explanation")
    s.add_argument("--quiet", action="store_true", help="no notes on file order and gaps, no summary line")
    _reading_options(s)
    s.set_defaults(func=cmd_score)

    e = add_command(sub, "evaluate", "leave-session-out evaluation with baselines and a report",
                    "%(prog)s --data data/ceiling-fan --report out/report\n"
                    "%(prog)s --data data/my-fan --normal low_1 med_1 --anomaly high_1 --report out/report "
                    "--no-baselines")
    from host_tools.modeling import evaluate

    evaluate.add_arguments(e)
    e.set_defaults(func=cmd_evaluate)

    m = add_command(sub, "simulate", "run the board application over recordings",
                    "%(prog)s --model model.json --data data/ceiling-fan/fan_0_low-deploy "
                    "data/ceiling-fan/fan_0_high_1_weight --commission 30 --quiet\n"
                    "%(prog)s --model model.json --data data/ceiling-fan/fan_0_high_1_weight "
                    "--send http://127.0.0.1:8080/ingest --token T --device sim-2")
    from host_tools.modeling import simulate

    simulate.add_arguments(m)
    m.set_defaults(func=cmd_simulate)

    x = add_command(sub, "export", "write recordings as Edge Impulse data-acquisition files",
                    "%(prog)s data/ceiling-fan/fan_0_low_0_weight --to ei-json --out out/ei")
    x.add_argument("paths", nargs="+", metavar="PATH", help="recording files or folders to export")
    x.add_argument("--to", choices=["ei-json", "ei-csv"], default="ei-json",
                   help="Edge Impulse JSON (data-acquisition format) or CSV")
    x.add_argument("--sensor", choices=["accel", "scalar"], default="accel",
                   help="what the recordings hold: accel x,y,z or one scalar value per row")
    x.add_argument("--rate", type=_rate, default=200.0, help="sample rate in Hz, or a period (5min, 10ms)")
    x.add_argument("--out", required=True, metavar="DIR", help="folder for the exported files")
    x.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    _reading_options(x)
    x.set_defaults(func=cmd_export)

    d = add_command(sub, "drift-bench", "fixed vs adaptive baseline on synthetic drifting streams",
                    "%(prog)s --seeds 1 2 3 --days 120")
    from host_tools.modeling import driftbench

    driftbench.add_arguments(d)
    d.set_defaults(func=cmd_drift_bench)

    mb = add_command(sub, "moved-bench", "a model trained at some sensor positions, used at another "
                                         "(simulated on the ceiling fan and synthetic machines), "
                                         "before and after commissioning",
                     "%(prog)s --seeds 1 2 --commission 120")
    from host_tools.modeling import moved_sensor

    moved_sensor.add_arguments(mb)
    mb.set_defaults(func=cmd_moved_bench)

    b = add_command(sub, "bench", "host speed of the device code path",
                    "%(prog)s --windows 200 256 --count 200")
    from host_tools.modeling import bench

    bench.add_arguments(b)
    b.set_defaults(func=cmd_bench)
    from host_tools.cli import telemetry, workflow

    telemetry.add_commands(sub)  # receive events
    workflow.add_commands(sub)  # collect push deploy doctor monitor
    for sp in sub.choices.values():  # --quiet means quiet in every command
        if not any("--quiet" in act.option_strings for act in sp._actions):
            sp.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    return p


# --quiet everywhere means: no progress, notes or tables; the one-line result, warnings and
# errors stay (and the data a command exists to print: score lines, events, a diagnosis).
# Most commands do that themselves; these print progress lines of which only the last (the
# result) is kept.
LAST_LINE_ONLY = {"push", "deploy", "receive"}


class _LastLine:
    """stdout for LAST_LINE_ONLY commands under --quiet: keeps only the last line written."""

    def __init__(self) -> None:
        self.last = ""
        self._part = ""

    def write(self, s: str) -> int:
        self._part += s
        *done, self._part = self._part.split("\n")
        for line in done:
            if line.strip():
                self.last = line
        return len(s)

    def flush(self) -> None:
        pass


def _fail(message: str) -> int:
    datasets.end_progress_line()
    print("error: " + " ".join(message.split()), file=sys.stderr)  # always one line
    return EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    try:
        a = build_parser(prog).parse_args(argv)
        check_options(a)
        if getattr(a, "quiet", False) and a.command in LAST_LINE_ONLY:
            keep = _LastLine()
            try:
                with contextlib.redirect_stdout(keep):
                    return int(a.func(a) or 0)
            finally:
                last = (keep.last + " " + keep._part).strip()
                if last:
                    print(last)
        return int(a.func(a) or 0)
    except (DataError, model_mod.ModelError) as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `score ... | head`
        sys.stderr.close()
        return 0
    except OSError as e:  # a file that changed under us, a full disk: still one line
        where = e.filename if e.filename is not None else "file system"
        return _fail(f"{where}: {e.strerror or e}")
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
