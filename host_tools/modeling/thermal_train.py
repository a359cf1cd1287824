"""`train --sensor thermal`: per-mode pixel baselines, the allowed-hot mask and honest
thresholds from normal MLX90640 recordings (ThermalPlugin: thermal's part of the one
training pipeline, host_tools.modeling.pipeline, which loads, splits, checks, scores the
test part and writes); and the detector loop the evaluation uses.

Steps (every per-frame number comes from the board's own code, device.thermal):
1. operating modes: one per --normal folder (labelled), or k-means on the frames
   (--modes auto, k by silhouette);
2. reference pixels (ambient offset): pixels whose mode means differ by less than
   REF_SPREAD deg C and whose spread is ordinary (no dead pixel: not under a third of the
   median spread); the frames' drift over them is removed before the mean maps are taken;
3. per-pixel scale per mode, from the excess over the blended baseline of the frames
   that fall to that mode (so warm-up and cool-down frames count where the board will
   put them): the larger of its RMS and its largest value / z_hot (no normal training
   frame is hot), floored at the MLX90640's noise (SCALE_FLOOR);
4. allowed-hot mask: pixels whose largest excess is over HEAVY_TAIL times their RMS (they
   flare up now and then: a burner window, a flue), grown by one pixel;
5. frame features of every frame; one detector mode per pixel mode, fitted on the frames
   not held out (every 1/holdout-th 10-minute block of a session is held out, so every
   mode of a cycling boiler is in both parts), with per-feature scale floors (a count
   that is always 0 in training must not turn one noisy pixel into an alarm);
6. thresholds on the held-out blocks, with device.threshold.choose: each mode states
   the false-alarm rate its threshold supports (frames are correlated in time, so the
   stated rate is per frame under that assumption; `evaluate` measures the real one).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from typing import Sequence

import numpy as np

from device import decision as decision_mod
from device import detectors as detectors_mod
from device import model as model_mod
from device import modelwrite
from device import thermal
from host_tools.data import timeaxis
from host_tools.modeling import pipeline, train
from host_tools.data.datasets import DataError

SCALE_FLOOR = 0.15  # deg C: the sensor's own frame-to-frame noise at a 2 Hz refresh
REF_SPREAD = 0.75
HEAVY_TAIL = 8.0  # largest excess / RMS excess over which a pixel is allowed to be hot
FEATURE_FLOORS = {"mean": 0.05, "max": 0.1, "p90": 0.05, "rms_z": 0.05, "max_z": 0.25,
                  "min_z": 0.25, "max_excess": 0.1, "log_hot_pixels": 0.5, "log_blob_area": 0.5}
DEFAULT_DECISION = train.DEFAULT_DECISION


def _cluster(frames: np.ndarray, max_modes: int = 5, seed: int = 0) -> np.ndarray:
    """Mode label per frame: k-means on 4x4-pixel block means, k by silhouette."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = frames.reshape(len(frames), 6, 4, 8, 4).mean(axis=(2, 4)).reshape(len(frames), -1).astype(np.float64)
    best = None
    for k in range(2, max_modes + 1):
        if len(x) < k * train.MIN_WINDOWS:
            break
        labels = KMeans(k, n_init=4, random_state=seed).fit_predict(x)
        if np.bincount(labels).min() < train.MIN_WINDOWS:
            continue
        s = silhouette_score(x, labels, sample_size=min(3000, len(x)), random_state=seed)
        if best is None or s > best[0]:
            best = (s, labels)
    if best is None or best[0] < 0.25:
        return np.zeros(len(frames), dtype=int)
    # order modes by mean temperature: mode0 is the coldest
    labels = best[1]
    order = np.argsort([frames[labels == k].mean() for k in range(labels.max() + 1)])
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[labels]


def _reference(means: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Reference pixels (bool, 24x32) for the ambient offset."""
    spread = means.max(axis=0) - means.min(axis=0)
    sd = frames.std(axis=0)
    med = np.median(sd)
    ref = (spread < REF_SPREAD) & (sd < 2.0 * med) & (sd > med / 3.0)
    if ref.sum() < 20:
        ref = (sd < 2.0 * med) & (sd > med / 3.0)
    return ref


def _grow(mask: np.ndarray) -> np.ndarray:
    g = mask.copy()
    g[1:, :] |= mask[:-1, :]
    g[:-1, :] |= mask[1:, :]
    g[:, 1:] |= mask[:, :-1]
    g[:, :-1] |= mask[:, 1:]
    return g


def features_of(ex: thermal.ThermalFeatures, frames: np.ndarray, maps: bool = False):
    """Feature vectors (n, F) float32, pixel mode per frame, and optionally the excess
    maps (n, 24, 32), all from the device code."""
    n = len(frames)
    out = np.empty((n, ex.size), dtype=np.float32)
    mode = np.empty(n, dtype=int)
    ems = np.empty((n, thermal.ROWS, thermal.COLS), dtype=np.float32) if maps else None
    for i in range(n):
        out[i] = ex.compute(frames[i])
        if not ex.ok:
            raise DataError(f"frame {i}: not a valid thermal frame")
        mode[i] = ex.mode
        if ems is not None:
            ems[i] = ex.excess_map()
    return out, mode, ems


def _fit_features(name: str, feats: np.ndarray, detector: str, shrinkage="auto") -> dict:
    """A detector mode on frame features: training's fit with the per-feature scale floors."""
    return train.fit_mode(name, feats, detector, shrinkage,
                          floors=np.array([FEATURE_FLOORS[k] for k in thermal.NAMES]))


class _TooFewFrames(DataError):
    """A clustered mode got too few frames to fit or to choose its threshold."""


def build(sessions: list[tuple[str, np.ndarray]], auto: bool = False, fa_rate: float = 0.01,
          holdout: float = 0.25, detector: str = "mahalanobis", rate: float = 1.0,
          z_hot: float = 4.0, min_excess: float = 1.5, decision: dict | None = None,
          max_modes: int = 4, mask: np.ndarray | None = None,
          calibrate: list[tuple[str, np.ndarray]] | None = None) -> dict:
    """The thermal model dict (pixel maps as arrays; write it with device.modelwrite.save).
    sessions: (name, frames (n, 24, 32)) in time order; with auto=True the names are
    ignored and modes come from clustering (at most max_modes: each mode's two maps cost
    the board 6 KB; fewer when a clustered mode gets too few frames to be fitted or
    calibrated). The split is training's (host_tools.modeling.pipeline): every
    1/holdout-th block of a session held out, or the `calibrate` recordings."""
    if not 0 < fa_rate < 1:
        raise DataError(f"--fa-rate must be between 0 and 1, got {fa_rate}")
    fit_parts, hold_parts = [], []
    for name, fr in sessions:
        s = pipeline.FrameSet(name, fr)
        if calibrate:
            check_parts(name, len(fr), None, rate, holdout)
            fit_parts.append(fr)
            continue
        f, h = pipeline.holdout_masks(s, holdout, rate)
        check_parts(name, int(f.sum()), int(h.sum()), rate, holdout, len(fr))
        fit_parts.append(fr[f])
        hold_parts.append(fr[h])
    if calibrate:
        hold_parts = [fr for _, fr in calibrate]
    return fit_model([n for n, _ in sessions], fit_parts, hold_parts, auto, fa_rate, detector, rate,
                     source(sessions, holdout, rate, [n for n, _ in calibrate] if calibrate else None),
                     z_hot, min_excess, decision, max_modes, mask)


def least_frames(holdout: float) -> int:
    """The fewest frames a mode's session needs without --calibrate: MIN_WINDOWS to fit
    and MIN_WINDOWS held out."""
    every = max(2, int(round(1 / holdout)))
    return train.MIN_WINDOWS * every


def _more(name: str, have: int, need: int, rate: float) -> str:
    return (f"record at least {timeaxis.describe_period((need - have) / rate)} more of mode {name!r} "
            f"(it has {have} frames, {timeaxis.describe_period(have / rate)} at {rate:g} frames/s; "
            f"a mode needs {need} frames)")


def check_parts(name: str, fit: int, held: int | None, rate: float, holdout: float, n: int | None = None) -> None:
    """Refuse a session whose fit part or held-out part is under MIN_WINDOWS frames (held
    None: --calibrate, every frame fits), saying how much more to record."""
    lo = train.MIN_WINDOWS
    if held is None:
        if fit < lo:
            raise DataError(f"{name}: {_more(name, fit, lo, rate)}")
        return
    if fit < lo or held < lo:
        raise DataError(f"{name}: too few frames to fit and to choose a threshold (need "
                        f"{lo} in each part): {_more(name, n if n is not None else fit + held, least_frames(holdout), rate)}, "
                        f"or give --calibrate")


def source(sessions: list, holdout: float, rate: float, calibrate: list[str] | None) -> str:
    """Where the thresholds come from, as the model states it."""
    if calibrate:
        return f"calibration: {', '.join(calibrate)}, nearest mode"
    every = max(2, int(round(1 / holdout)))
    block_s = min([pipeline.BLOCK_S] + [pipeline.blocks(len(fr), rate, holdout)[1] / rate for _, fr in sessions])
    return f"hold-out: every {every}th {timeaxis.describe_period(block_s)} block of each session, nearest mode"


def fit_model(names: list[str], fit_parts: list[np.ndarray], hold_parts: list[np.ndarray], auto: bool,
              fa_rate: float, detector: str, rate: float, threshold_source: str, z_hot: float = 4.0,
              min_excess: float = 1.5, decision: dict | None = None, max_modes: int = 4,
              mask: np.ndarray | None = None) -> dict:
    """Pixel maps on the fit frames, then frame features (device.thermal), one detector mode
    per pixel mode and thresholds on the held-out (or calibration) frames; with auto, fewer
    clustered modes while one gets too few frames."""
    while True:
        try:
            return _fit(names, fit_parts, hold_parts, auto, fa_rate, detector, rate, threshold_source,
                        z_hot, min_excess, decision, max_modes, mask)
        except _TooFewFrames as e:
            if not auto or e.args[1] <= 1:
                raise DataError(e.args[0]) from None
            max_modes = e.args[1] - 1


def _fit(names, fit_parts, hold_parts, auto, fa_rate, detector, rate, threshold_source, z_hot, min_excess,
         decision, max_modes, mask):
    fit = np.concatenate(fit_parts).astype(np.float64)
    if auto:
        labels = _cluster(fit, max_modes)
        mode_names = [f"mode{k}" for k in range(labels.max() + 1)]
    else:
        labels = np.concatenate([np.full(len(p), i) for i, p in enumerate(fit_parts)])
        mode_names = names
    nm = len(mode_names)
    means = np.stack([fit[labels == k].mean(axis=0) for k in range(nm)])
    ref = _reference(means, fit)
    # drift over the reference pixels, removed before the mean maps are taken
    off = fit[:, ref].mean(axis=1) - fit[:, ref].mean()
    fitc = fit - off[:, None, None]
    means = np.stack([fitc[labels == k].mean(axis=0) for k in range(nm)])
    ref_lines = thermal.grid_lines(ref.ravel())
    fit32 = fit.astype(np.float32)

    def extractor(scales, mask_lines):
        return thermal.ThermalFeatures(means.reshape(nm * 24, 32).astype(np.float32),
                                       scales.reshape(nm * 24, 32).astype(np.float32),
                                       mask=mask_lines, reference=ref_lines, z_hot=z_hot,
                                       min_excess=min_excess, rate=rate)

    ex = extractor(np.ones((nm, 24, 32)), None)
    _, pmode, ems = features_of(ex, fit32, maps=True)
    ems = np.abs(ems.astype(np.float64))
    scales = np.empty((nm, 24, 32))
    heavy = np.zeros((24, 32), dtype=bool)
    overall = np.sqrt((ems ** 2).mean(axis=0)), ems.max(axis=0)
    for k in range(nm):
        sel = ems[pmode == k]
        rms, top = (np.sqrt((sel ** 2).mean(axis=0)), sel.max(axis=0)) if len(sel) >= train.MIN_WINDOWS else overall
        # no normal training frame is over z_hot: the scale covers the largest excess seen
        scales[k] = np.maximum(np.maximum(rms, top / z_hot), SCALE_FLOOR)
        heavy |= (top > HEAVY_TAIL * np.maximum(rms, SCALE_FLOOR)) & (top >= min_excess)
    if mask is None:
        # pixels whose largest excess is far out of line with their usual spread flare up
        # now and then (a burner window): allowed to be hot, with their neighbours
        mask = _grow(heavy)
    mask_lines = thermal.grid_lines(np.asarray(mask).ravel()) if np.asarray(mask).any() else None
    ex = extractor(scales, mask_lines)
    ffit, fmode, _ = features_of(ex, fit32)
    fit_sets = []
    for k in range(nm):
        sel = ffit[fmode == k]
        if len(sel) < train.MIN_WINDOWS:
            raise _TooFewFrames(f"mode {mode_names[k]!r}: only {len(sel)} frames fall to it; "
                                f"need at least {train.MIN_WINDOWS} (record it longer, or fewer modes)", nm)
        fit_sets.append((mode_names[k], sel))
    modes = [_fit_features(nmk, f, detector) for nmk, f in fit_sets]
    hold = np.concatenate(hold_parts).astype(np.float32)
    fhold, _, _ = features_of(ex, hold)
    det = train.make_detector(detector, modes)
    try:
        train.choose_thresholds(det, modes, [(fhold, None)], fa_rate, threshold_source)
    except DataError as e:
        raise _TooFewFrames(str(e), nm) from None
    for k, m in enumerate(modes):
        m["pixel_mean"] = means[k].astype(np.float32)
        m["pixel_scale"] = scales[k].astype(np.float32)
    return {
        "schema": model_mod.SCHEMA,
        "version": model_mod.VERSION,
        "sensor": "thermal",
        "features": ex.recipe(),
        "detector": detector,
        "fa_rate": fa_rate,
        "modes": modes,
        "decision": dict(decision or DEFAULT_DECISION),
        "training": {
            "sessions": list(names), "frames": int(sum(len(f) for f in fit_parts))
            + (0 if threshold_source.startswith("calibration") else int(sum(len(f) for f in hold_parts))),
            "fit_windows": {m["name"]: m["n_fit"] for m in modes},
            "threshold_windows": {m["name"]: m["n_threshold"] for m in modes},
            "reference_pixels": int(ref.sum()), "masked_pixels": int(np.asarray(mask).sum()),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tool": "host_tools.modeling.thermal_train",
        },
    }


def save(path: str, doc: dict) -> dict:
    """Write the model (JSON + pixel sidecar) and load it back as the board would."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    modelwrite.save(path, doc)
    return model_mod.load(path)


class Runner:
    """The board's per-frame path (features -> detector -> decision) over frames."""

    def __init__(self, doc: dict) -> None:
        from device import features as features_mod

        self.features = features_mod.from_recipe(doc["features"], doc)
        self.detector = detectors_mod.from_model(doc)
        self.decision = decision_mod.Decision.from_settings(doc.get("decision", {}))

    def run(self, frames: np.ndarray) -> dict:
        """Per frame: ratio score, alarm state, and the alarm starts with their hot spot."""
        n = len(frames)
        scores = np.empty(n)
        active = np.zeros(n, dtype=bool)
        starts: list[tuple[int, dict | None]] = []
        f, det, dec = self.features, self.detector, self.decision
        for i in range(n):
            x = f.compute(frames[i])
            if not f.ok:
                scores[i] = np.nan
                continue
            s, _ = det.score(x)
            scores[i] = s
            if dec.update(s) == decision_mod.START:
                starts.append((i, f.hotspot()))
            active[i] = dec.active
        return {"scores": scores, "active": active, "starts": starts}


# ---- command line ---------------------------------------------------------------------------

class ThermalPlugin(pipeline.Plugin):
    """Thermal frames in the training pipeline: frames read by data.thermal_data, the
    hold-out in blocks (a boiler cycles through its modes over tens of minutes, so "the
    last quarter" could miss one entirely), pixel maps and frame features by fit_model."""

    unit = "frames"

    def prepare(self, a: argparse.Namespace) -> None:
        if a.rate <= 0:
            raise DataError("--rate must be > 0 (frames per second)")
        for opt in ("session", "installation", "session_gap"):  # accel/scalar: calibration.load_extra
            if getattr(a, opt, None):
                raise DataError(f"--{opt.replace('_', '-')}: not for --sensor thermal yet (a thermal mode "
                                f"is one --normal folder; give more folders with --calibrate)")
        self.given = a.rate != 200.0  # 200 Hz is the accelerometer default: not given for frames
        self.block_rate = a.rate if self.given else 1.0

    def load(self, folder: str, a: argparse.Namespace) -> pipeline.FrameSet:
        from host_tools.data import thermal_data

        data = thermal_data.load_folder(folder, a.rate if self.given else None)
        return pipeline.FrameSet(os.path.basename(os.path.normpath(folder)), data["frames"], data["rate"],
                                 data["notes"])

    def loaded(self, a: argparse.Namespace, sets: list, calib: list) -> None:
        if not a.quiet:  # the --normal folders' notes are printed by the pipeline
            for s in calib:
                for n in s.notes:
                    print(f"note: {n}", file=sys.stderr)
        shown = [s.rate for s in sets + calib if s.rate]
        if self.given:
            rate = a.rate
        elif shown:
            rate = float(np.median(shown))
            if not a.quiet:
                print(f"note: {rate:.3g} frames/s, from the recordings' time stamps (--rate sets it)",
                      file=sys.stderr)
        else:
            rate = 1.0  # the board's default refresh: a whole frame per second
        self.rate = self.block_rate = rate

    def check_parts(self, s, fit: int, held: int | None, a: argparse.Namespace) -> None:
        check_parts(s.name, fit, held, self.rate, a.holdout / (1 - a.test), len(s))

    def build(self, a: argparse.Namespace, sp: pipeline.Split, decision: dict) -> dict:
        h = a.holdout / (1 - a.test)
        fit_parts = [np.concatenate([p.frames for p in parts]) for _, parts in sp.fit]
        hold_parts = [c.frames for c, _ in sp.calib]  # nearest mode, as on the board
        src = source([(s.name, s.frames) for s in sp.sets], h, self.rate, sp.calib_names if a.calibrate else None)
        return fit_model([s.name for s in sp.sets], fit_parts, hold_parts, a.modes == "auto", a.fa_rate,
                         a.detector, self.rate, src, decision=decision)

    def test_summary(self, doc: dict, folder: str, before, after) -> dict:
        out = Runner(doc).run(after.frames)
        over = int(np.sum(out["scores"] > 1.0))
        n = len(after)
        return {"session": os.path.basename(os.path.normpath(folder)), "windows": int(n),
                "span": timeaxis.describe_period(n / self.rate), "over": over,
                "fa_rate": over / n if n else 0.0, "alarms": len(out["starts"])}

    def show_span(self, span: str) -> str:
        return f"({span})"

    def wrote(self, a: argparse.Namespace, doc: dict) -> str:
        return (f"wrote {a.out} (+ pixel maps {os.path.splitext(a.out)[0]}.pixels.npy): thermal {a.detector}, "
                f"{len(doc['modes'])} mode(s), {len(thermal.NAMES)} frame features, fa_rate {a.fa_rate}, "
                f"{doc['training']['masked_pixels']} pixels allowed hot, "
                f"{doc['training']['reference_pixels']} reference pixels")


def cmd_train(a: argparse.Namespace) -> int:
    """`python -m host_tools train --sensor thermal ...` (called by host_tools.cli.main)."""
    return pipeline.run(a, ThermalPlugin())


# ---- editing the allowed-hot mask of a trained model ---------------------------------------

def edit_mask(path: str, out: str, allow: Sequence[tuple[int, int, int, int]] = (), forbid=(),
              clear: bool = False) -> dict:
    """Allow heat in (or forbid it again for) rectangles rows r0..r1-1, cols c0..c1-1 of a
    trained model's mask, and write the model again (checksums renewed). The thresholds
    were chosen with the old mask: a warning says so (train again to re-calibrate)."""
    try:
        doc = model_mod.load(path)
    except model_mod.ModelError as e:
        raise DataError(f"{path}: {e}") from None
    if doc.get("sensor") != "thermal":
        raise DataError(f"{path}: not a thermal model (sensor {doc.get('sensor')!r})")
    rec = doc["features"]
    grid = np.zeros((24, 32), dtype=bool)
    if rec.get("mask") and not clear:
        grid = np.array([[ch == "#" for ch in row] for row in rec["mask"]])
    for rects, value in ((allow, True), (forbid, False)):
        for r0, r1, c0, c1 in rects:
            if not (0 <= r0 < r1 <= 24 and 0 <= c0 < c1 <= 32):
                raise DataError(f"rectangle rows {r0}:{r1}, cols {c0}:{c1} is not inside 24 x 32")
            grid[r0:r1, c0:c1] = value
    if grid.all():
        raise DataError("the mask would allow heat everywhere: nothing left to watch")
    rec["mask"] = thermal.grid_lines(grid.ravel()) if grid.any() else None
    if rec["mask"] is None:
        del rec["mask"]
    body = {k: v for k, v in doc.items() if not k.startswith("_")}
    return save(out, body)


def _rect(s: str) -> tuple[int, int, int, int]:
    try:
        rows, cols = s.split(",")
        r0, r1 = (int(v) for v in rows.split(":"))
        c0, c1 = (int(v) for v in cols.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not ROW0:ROW1,COL0:COL1") from None
    return r0, r1, c0, c1


def main(argv: list[str] | None = None) -> int:
    """`python -m host_tools.modeling.thermal_train --model m.json --allow 12:16,10:15 --out m2.json`"""
    p = argparse.ArgumentParser(prog="python -m host_tools.modeling.thermal_train",
                                description="edit the allowed-hot mask of a thermal model")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--allow", nargs="*", type=_rect, default=[], metavar="R0:R1,C0:C1")
    p.add_argument("--forbid", nargs="*", type=_rect, default=[], metavar="R0:R1,C0:C1")
    p.add_argument("--clear", action="store_true", help="start from an empty mask")
    a = p.parse_args(argv)
    try:
        doc = edit_mask(a.model, a.out, a.allow, a.forbid, a.clear)
    except (DataError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    n = sum(row.count("#") for row in doc["features"].get("mask") or [])
    print(f"wrote {a.out}: {n} pixels allowed hot")
    print("warning: the thresholds were chosen with the previous mask; train again to re-calibrate them",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
