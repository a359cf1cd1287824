"""One training path for every sensor: `train` runs `run(a, plugin)`.

The steps are the same for the accelerometer, a scalar stream and the thermal camera:
load the --normal (and --calibrate) recordings, refuse a mode too short for its parts
(in the user's units), keep the last --test part of each recording aside, split the rest
into a fit part and a calibration part (`holdout_masks`: time-ordered by default, blocks
for a sensor whose modes cycle), fit the modes and choose their thresholds (the plug-in,
both through host_tools.modeling.train: fit, device.threshold.choose), score the test
part with the board's own code, write the model (modelfile.write) and say what was built.

What differs per sensor is a plug-in (a `Plugin`): how a folder is read, its unit
(windows or frames), how the modes are fitted from the fit parts (accelerometer and
scalar: train.build_model on their feature vectors; thermal: the pixel maps on the fit
frames, then frame features through device.thermal: modeling.thermal_train.fit_model)
and how a test part is scored. The plug-ins live beside their sensors' code:
`AccelPlugin` here (accelerometer and scalar share datasets' extractors) and
thermal_train.ThermalPlugin.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any, Callable, Sequence

import numpy as np

from device import decision as decision_mod
from host_tools.data import datasets, readers, timeaxis
from host_tools.data.datasets import DataError
from host_tools.modeling import calibration, modelfile, train, weeks

BLOCK_S = 600.0  # hold-out blocks of a sensor that splits by blocks, seconds of recording
MIN_HELD_BLOCKS = 3


# ---- the split: one implementation for --test, --holdout and --calibrate ----------------

def blocks(n: int, rate: float, holdout: float) -> tuple[np.ndarray, int, int]:
    """Which of n samples are held out: every `every`-th block. A block is BLOCK_S seconds,
    shorter for a short session so that it still has MIN_HELD_BLOCKS held-out blocks
    (a few minutes at 8 frames/s are enough). Returns (held mask, block length, every)."""
    every = max(2, int(round(1 / holdout)))
    block = max(1, min(int(BLOCK_S * rate), n // (every * MIN_HELD_BLOCKS)))
    return (np.arange(n) // block) % every == every - 1, block, every


def holdout_masks(s: Any, holdout: float, block_rate: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(fit mask, calibration mask) of a recording `s` (a WindowSet or a FrameSet).
    Default: time-ordered, the last `holdout` of it (by file where there are enough files:
    WindowSet.part_masks). With block_rate (samples/s): every 1/holdout-th block held out,
    so that every mode of a machine cycling through them is in both parts."""
    if block_rate is not None:
        held = blocks(len(s), block_rate, holdout)[0]
        return ~held, held
    fit, held = s.part_masks(1 - holdout, holdout)
    return fit, held


def test_split(sets: list, test: float) -> tuple[list, list]:
    """(what is left to train on, (before, after) per recording): --test keeps the last
    `test` of every recording aside, scored after training."""
    if not test:
        return sets, []
    parts = [s.split_time(1 - test, test) for s in sets]
    return [p[0] for p in parts], [(p[0], p[1]) for p in parts]


def least_recording(name: str, n: int, holdout: float, test: float, seconds: float) -> None:
    """Refuse a mode whose windows cannot give MIN_WINDOWS to fit and MIN_WINDOWS to choose
    its threshold, saying how much more to record in the user's units (`seconds` per window)."""
    lo = train.MIN_WINDOWS
    h = holdout / (1 - test) if test < 1 else 1.0
    keep = n * (1 - test)
    fit, cal = int(keep * (1 - h)), int(keep * h)
    if fit >= lo and cal >= lo:
        return
    need = math.ceil(lo / min(h, 1 - h) / (1 - test))
    what = (f"only {fit} windows to fit, need at least {lo}" if fit < lo else
            f"only {cal} calibration windows, need at least {lo} to choose a threshold")
    raise DataError(f"mode {name!r}: {what} (with --holdout {holdout:g}"
                    + (f" and --test {test:g}" if test else "")
                    + f" a mode needs {need} windows of {timeaxis.describe_period(seconds)}): record at "
                    f"least {timeaxis.describe_period((need - n) * seconds)} more of mode {name!r}, "
                    f"or give --calibrate")


class FrameSet:
    """A folder's thermal frames in time order, with the split interface of a WindowSet."""

    def __init__(self, name: str, frames: np.ndarray, rate: float | None = None,
                 notes: Sequence[str] = ()) -> None:
        self.name = name
        self.frames = frames
        self.rate = rate  # frames/s the time stamps show (None: no time stamps)
        self.notes = list(notes)

    def __len__(self) -> int:
        return len(self.frames)

    def part_masks(self, *fractions: float) -> list[np.ndarray]:
        edges = np.cumsum([0.0, *fractions])
        pos, n = np.arange(len(self)), len(self)
        return [(pos >= int(round(a * n))) & (pos < int(round(b * n))) for a, b in zip(edges[:-1], edges[1:])]

    def subset(self, mask: np.ndarray) -> "FrameSet":
        return FrameSet(self.name, self.frames[np.asarray(mask, dtype=bool)], self.rate, self.notes)

    def split_time(self, *fractions: float) -> list["FrameSet"]:
        return [self.subset(m) for m in self.part_masks(*fractions)]

    def span(self) -> str:
        return ""


class Plugin:
    """A sensor's part of training (see the module doc). `unit`: what one sample is
    called in messages; `block_rate`: samples/s when the hold-out is taken in blocks
    (None: time-ordered)."""

    unit = "windows"
    block_rate: float | None = None
    sessions = False  # takes --session / --session-gap / --installation
    rates_text = False  # prints the within/across-session rates of each mode

    def prepare(self, a: argparse.Namespace) -> None:
        """Sensor-specific option checks, before anything is read."""

    def load(self, folder: str, a: argparse.Namespace) -> Any:
        raise NotImplementedError

    def loaded(self, a: argparse.Namespace, sets: list, calib: list) -> None:
        """Everything is read: settle what the recordings tell (a frame rate)."""

    def least(self, s: Any, a: argparse.Namespace) -> None:
        """Refuse, before splitting, a mode too short for its parts."""

    def check_parts(self, s: Any, fit: int, held: int | None, a: argparse.Namespace) -> None:
        """Refuse, after splitting, a mode whose parts are too small (held None: --calibrate)."""

    def source(self, a: argparse.Namespace, auto: bool) -> str:
        raise NotImplementedError

    def build(self, a: argparse.Namespace, split: "Split", decision: dict) -> dict:
        raise NotImplementedError

    def test_summary(self, doc: dict, folder: str, before: Any, after: Any) -> dict:
        raise NotImplementedError

    def wrote(self, a: argparse.Namespace, doc: dict) -> str:
        raise NotImplementedError

    def show_span(self, span: str) -> str:
        """A test part's span as the test line shows it."""
        return span


class Split:
    """The recordings split for training: per mode its fit part(s) and calibration part(s)
    (or the --calibrate recordings), the --test parts, sessions and installations."""

    def __init__(self) -> None:
        self.sets: list = []  # per --normal folder, without its test part
        self.fit: list[tuple[str, list]] = []  # per mode: (name, its sessions' fit parts)
        self.calib: list[tuple[Any, int | None]] = []  # calibration parts and their mode (None: nearest)
        self.calib_names: list[str] = []
        self.tests: list[tuple[str, Any, Any]] = []  # (folder, before, after)
        self.per_mode: list[list] = []  # per mode: its sessions
        self.installations: list = []
        self.parts: tuple = ()  # (fit, held) of the last mode's last session (the adaptive detector)


def _notes(sets: list, quiet: bool) -> None:
    if not quiet:
        for s in sets:
            for line in s.notes:
                print(f"note: {line}", file=sys.stderr)


def split(a: argparse.Namespace, plugin: Plugin, sets: list, calib_sets: list) -> Split:
    """--test, then --calibrate or the hold-out, for every sensor the same way."""
    out = Split()
    if a.modes != "auto" and not a.calibrate:
        for s in sets:
            plugin.least(s, a)
    sets, before_after = test_split(sets, a.test)
    out.tests = [(d, b, t) for d, (b, t) in zip(a.normal, before_after)]
    out.sets = sets
    auto = a.modes == "auto"
    if plugin.sessions and not auto:
        out.per_mode, out.installations = calibration.load_extra(a, sets, lambda d: plugin.load(d, a))
    else:
        out.per_mode = [[s] for s in sets]
    h = a.holdout / (1 - a.test)  # of what the test part leaves
    for i, (s, group) in enumerate(zip(sets, out.per_mode)):
        if a.calibrate:
            plugin.check_parts(s, len(s), None, a)
            out.fit.append((s.name, [s]))
            continue
        masks = [holdout_masks(w, h, plugin.block_rate) for w in group]
        parts = [(w.subset(f), w.subset(c)) for w, (f, c) in zip(group, masks)]
        plugin.check_parts(s, sum(len(p[0]) for p in parts), sum(len(p[1]) for p in parts), a)
        out.fit.append((s.name, [p[0] for p in parts]))
        out.calib += [(p[1], None if auto else i) for p in parts]
        out.parts = parts[-1]
        if not a.quiet and not auto:
            if len(parts) > 1:
                print(f"{s.name}: {len(parts)} sessions, fit {sum(len(p[0]) for p in parts)} {plugin.unit}, "
                      f"calibration {sum(len(p[1]) for p in parts)} {plugin.unit} (and every session against "
                      f"the others)", file=sys.stderr)
            else:
                fit, hold = parts[0]
                print(f"{s.name}: fit {len(fit)} {plugin.unit} {fit.span()}".rstrip(), file=sys.stderr)
                print(f"{s.name}: calibration {len(hold)} {plugin.unit} {hold.span()}".rstrip(), file=sys.stderr)
    if a.calibrate:
        out.calib = [(c, None) for c in calib_sets]
        out.calib_names = [c.name for c in calib_sets]
    return out


def decision_of(a: argparse.Namespace) -> dict:
    """The decision settings the options give, checked by the board's own Decision."""
    decision = {"k": a.k, "n": a.n, "on": 1.0, "off": a.off, "cooldown": a.cooldown}
    try:
        decision_mod.Decision.from_settings(decision)
    except ValueError as e:
        raise DataError(f"decision settings: {e}") from None
    return decision


def label_modes(sp: Split, labels: list[str]) -> None:
    """train --label: the modes named as the user labelled them, one per --normal folder in
    order (alerts and the dashboard say these names), instead of their folder names."""
    rename = {name: label.strip() for (name, _), label in zip(sp.fit, labels)}
    sp.fit = [(rename[name], parts) for name, parts in sp.fit]
    sp.installations = [(rename.get(name, name), ws) for name, ws in sp.installations]


def run(a: argparse.Namespace, plugin: Plugin) -> int:
    """`train` for any sensor: the steps of the module doc; returns the exit code."""
    if a.holdout + a.test >= 1:
        raise DataError(f"--holdout {a.holdout} --test {a.test}: together they leave nothing to fit on")
    plugin.prepare(a)
    sets = [plugin.load(d, a) for d in a.normal]
    _notes(sets, a.quiet)
    calib_sets = [plugin.load(d, a) for d in a.calibrate or []]
    plugin.loaded(a, sets, calib_sets)
    decision = decision_of(a)
    sp = split(a, plugin, sets, calib_sets)
    if getattr(a, "label", None):
        label_modes(sp, a.label)
    doc = plugin.build(a, sp, decision)
    if sp.tests:
        doc["training"]["test"] = [plugin.test_summary(doc, d, b, t) for d, b, t in sp.tests]
    modelfile.write(a.out, doc)
    print(plugin.wrote(a, doc))
    u = plugin.unit
    for m in [] if a.quiet else doc["modes"]:  # --quiet: the one-line result above
        print(f"  mode {m['name']}: {m['n_fit']} fit {u}, threshold {m['threshold']:.4g} "
              f"from {m['n_threshold']} {u}, supports fa {m['fa_supported']:.2%} ({m['threshold_method']})")
    if plugin.rates_text and not a.quiet:
        for line in calibration.rates_text(doc):
            print(line)
    for name, ws in sp.installations:
        r = calibration.installation_test(doc, ws.features, train.commission_model, a.installation_share, name)
        doc["training"].setdefault("installations", []).append(dict(r, session=ws.name, mode=name))
        print(calibration.installation_line(ws.name, name, r))
    if sp.installations:
        modelfile.write(a.out, doc)
    for t in [] if a.quiet else doc["training"].get("test", []):
        span = plugin.show_span(t["span"])
        print(f"  test {t['session']}: {t['windows']} {u} {span}: {t['over']} over the line "
              f"({t['fa_rate']:.2%}), {t['alarms']} alarm(s) after the decision".replace("  :", ":"))
    share = None if a.calibrate or plugin.block_rate is not None else a.holdout
    for w in train.threshold_warnings(doc, share):
        print(f"warning: {w}", file=sys.stderr)
    return 0


# ---- accelerometer and scalar: windows -> device.features ---------------------------------

class AccelPlugin(Plugin):
    """Accelerometer windows (device.features) or a scalar stream: datasets' extractors,
    train.build_model (with sessions, installations, drift margins, the adaptive detector)."""

    sessions = True
    rates_text = True

    def __init__(self, read_opts: Callable[[], datasets.ReadOptions]) -> None:
        self.read_opts = read_opts  # the command's --columns/--units/..., read once prepare runs
        self.opts = datasets.ReadOptions(None, "g")
        self.ex: Any = None
        self.expect = ""

    def prepare(self, a: argparse.Namespace) -> None:
        self.opts = self.read_opts()
        axes = 3
        if a.sensor == "accel":
            axes = getattr(a, "axes", None) or readers.axes_of(datasets.list_csv(a.normal[0])[0], self.opts)
            if axes != 3 and not a.quiet:
                print(f"note: {axes} acceleration ax{'is' if axes == 1 else 'es'} per sample"
                      + ("" if getattr(a, "axes", None) else " (from the recordings' columns; --axes sets it)")
                      + (": on a board with a 3-axis sensor the model gets each sample's vector magnitude"
                         if axes == 1 else ": on a board with a 3-axis sensor the model gets x and y"),
                      file=sys.stderr)
        try:
            self.ex = datasets.make_extractor(a.sensor, a.window, a.rate, a.bands, axes)
        except ValueError as e:
            raise DataError(f"--sensor {a.sensor} --window {a.window} --bands {a.bands}: {e}") from None
        self.opts = datasets.opts_for(self.ex, self.opts)
        self.adaptive = None
        if a.detector == "adaptive":
            self.adaptive = train.adaptive_params(a.window / a.rate, a.tau, a.cycle or None, a.slots)
            self.adaptive.update(weeks.params(a))
        elif getattr(a, "days_off", None) or getattr(a, "holidays", None):
            weeks.params(a)  # says which option is missing or misplaced
        self.expect = f"--sensor {a.sensor} was given" + (" (the default)" if a.sensor == "accel" else "")

    def load(self, folder: str, a: argparse.Namespace) -> datasets.WindowSet:
        ws = datasets.load_folder(folder, self.ex, not a.quiet, self.expect, self.opts)
        return ws

    def loaded(self, a: argparse.Namespace, sets: list, calib: list) -> None:
        if self.adaptive and self.adaptive.get("day_types") and not (sets and sets[0].absolute):
            raise DataError(f"--days-off: {a.normal[0]} has no dated time stamps (ISO-8601), so its "
                            f"weekdays are unknown")
        for i, s in enumerate(sets):  # one-window-per-row files with labels: train on the normal rows
            sets[i], note = datasets.normal_only(s)
            if note and not a.quiet:
                print(f"note: {note}", file=sys.stderr)

    def least(self, s: Any, a: argparse.Namespace) -> None:
        least_recording(s.name, len(s), a.holdout, a.test, a.window / a.rate)

    def source(self, a: argparse.Namespace, auto: bool) -> str:
        if a.calibrate:
            return "calibration"
        return f"time-ordered hold-out ({a.holdout:.0%} of each folder)" + (", nearest mode" if auto else "")

    def build(self, a: argparse.Namespace, sp: Split, decision: dict) -> dict:

        auto = a.modes == "auto"
        feats = [(name, np.concatenate([p.features for p in parts])) for name, parts in sp.fit]
        fit_sets = train.cluster_modes([f for _, f in feats]) if auto else feats
        calib = [(c.features, i) for c, i in sp.calib]
        session_windows = margin_windows = starts = fit_groups = None
        if not auto:
            if any(len(g) > 1 for g in sp.per_mode) and not a.calibrate:
                session_windows = [[w.features for w in g] for g in sp.per_mode]
                fit_groups = [[p.features for p in parts] if len(parts) > 1 else None for _, parts in sp.fit]
            margin_windows = [s.features for s in sp.sets]
            if a.detector == "adaptive" and len(fit_sets) == 1 and not a.calibrate:
                starts = [sp.parts[0].starts, sp.parts[1].starts]
        adaptive = self.adaptive
        return train.build_model(
            self.ex, a.detector, fit_sets, calib, a.fa_rate, a.shrinkage, decision,
            sessions=[os.path.basename(os.path.normpath(d)) for d in a.normal + (a.calibrate or [])],
            threshold_source=self.source(a, auto), margin_windows=margin_windows, adaptive=adaptive,
            starts=starts, session_windows=session_windows, fit_groups=fit_groups)

    def test_summary(self, doc: dict, folder: str, before: Any, after: Any) -> dict:
        return train.test_summary(doc, folder, before, after)

    def wrote(self, a: argparse.Namespace, doc: dict) -> str:
        out = (f"wrote {a.out}: {a.detector}, {len(doc['modes'])} mode(s), {len(self.ex.names)} features, "
               f"fa_rate {a.fa_rate}")
        ad = doc.get("adaptive") or {}
        if a.detector == "adaptive" and "spread" in (ad.get("seconds") or {}):
            out += (f"; spread over {ad['seconds']['spread'] / 3600:.3g} h, not {4 * a.tau / 3600:.3g} h: the "
                    f"residuals are correlated {ad.get('residual_rho', 0):.2f} window to window, so a "
                    f"shorter spread would swing with them")
        return out
