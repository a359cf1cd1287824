"""Thermal evaluation: detection and false alarms on recordings or simulated scenes, and
heatmaps (frame, baseline, z-map with the hot spot outlined) as PNG.

`python -m host_tools evaluate --sensor thermal --normal DIR... --anomaly DIR...`:
the normal sessions are split in time (the first TRAIN_SHARE of each trains a model with
host_tools.modeling.thermal_train, thresholds included; the rest measures false alarms per hour);
each anomaly file is run through the board's per-frame path: detected when an alarm
starts in it (after its first labelled frame when it has a `label` column), with the
delay in frames and seconds.

`scene_figures()` gives the figures the test suite keeps for the simulated boiler:
detection of 2x2 hot spots at +5 and +10 C, false alarms per hour of normal cycling,
the delay for a slowly growing spot and for a flow pipe that stays cold.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import numpy as np

from host_tools.modeling import thermal_train
from host_tools.data.datasets import DataError

TRAIN_SHARE = 0.7


def anomaly_regions(z: np.ndarray, ex: np.ndarray, allow: np.ndarray, z_hot: float,
                    min_excess: float) -> list[dict]:
    """What fired in a frame, hot and cold apart: the pixels far from their baseline (|z|
    over z_hot and at least min_excess deg C away) on each side, strongest first (mean |z|:
    a small pipe 12 C too cold beats a large body 4 C warm). Each: kind, pixel mask,
    excess-weighted centre, area, peak excess (negative when cold), mean |z|."""
    ok = allow > 0.5
    out: list[dict[str, Any]] = []
    for kind, mask in (("hot", (z > z_hot) & (ex >= min_excess) & ok),
                       ("cold", (z < -z_hot) & (ex <= -min_excess) & ok)):
        if not mask.any():
            continue
        wts = np.abs(ex) * mask
        rr, cc = np.indices(mask.shape)
        tot = float(np.sum(wts)) or 1.0
        peak = float(np.min(ex[mask])) if kind == "cold" else float(np.max(ex[mask]))
        out.append({"kind": kind, "mask": mask, "row": round(float(np.sum(rr * wts)) / tot, 1),
                    "col": round(float(np.sum(cc * wts)) / tot, 1), "area": int(mask.sum()),
                    "excess": round(peak, 2), "strength": float(np.mean(np.abs(z[mask])))})
    out.sort(key=lambda r: -r["strength"])
    return out


def region_words(regs: list[dict]) -> str:
    if not regs:
        return "no pixel far from its baseline in this frame (the alarm came from the frame as a whole)"
    words = []
    for reg in regs:
        side = "below" if reg["kind"] == "cold" else "above"
        words.append(f"{reg['kind']} {'region' if reg['kind'] == 'cold' else 'spot'} at row {reg['row']:g}, "
                     f"column {reg['col']:g} ({reg['area']} pixels, up to {abs(reg['excess']):.1f} °C {side} "
                     f"normal)")
    return words[0] + ("; also a weaker " + words[1] if len(words) > 1 else "")


def _regions_of(f) -> list[dict]:
    return anomaly_regions(np.asarray(f.z_map()), np.asarray(f.excess_map()), np.asarray(f.allow_map()),
                           f.z_hot, f.min_excess)


def heatmaps(runner: thermal_train.Runner, frame: np.ndarray, path: str, title: str = "") -> str:
    """PNG of one frame: the frame, its baseline, and the z-map with the pixels that
    fired outlined, hot (lime) or cold (cyan) as they are, and their centre marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f = runner.features
    f.compute(frame)
    base = f.baseline_map()
    z = f.z_map()
    ex = f.excess_map()
    allow = f.allow_map()
    regs = _regions_of(f)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.1))
    lo, hi = float(np.min(frame)), float(np.max(frame))
    for ax, img, name, kw in ((axes[0], np.asarray(frame).reshape(24, 32), "frame (C)", dict(vmin=lo, vmax=hi)),
                              (axes[1], base, "baseline (C)", dict(vmin=lo, vmax=hi)),
                              (axes[2], z, "z-map (masked pixels 0)", dict(vmin=-8, vmax=8, cmap="coolwarm"))):
        im = ax.imshow(img, cmap=kw.pop("cmap", "inferno"), interpolation="nearest", **kw)
        ax.set_title(name)
        fig.colorbar(im, ax=ax, fraction=0.035)
    for k, reg in enumerate(regs):  # the strongest with a thick outline and its centre marked
        colour = "cyan" if reg["kind"] == "cold" else "lime"
        axes[2].contour(reg["mask"].astype(float), levels=[0.5], colors=colour, linewidths=2.0 if k == 0 else 1.0,
                        linestyles="solid" if k == 0 else "dotted")
        if k == 0:
            for ax in axes:
                ax.plot([reg["col"]], [reg["row"]], "+", color=colour, markersize=14, mew=2)
    if (allow < 0.5).any():
        axes[2].contour(allow, levels=[0.5], colors="grey", linewidths=0.8, linestyles="dashed")
    for ax in axes:
        ax.set_xlabel("column", fontsize=8)
        ax.set_ylabel("row", fontsize=8)
    title += ":\n" + region_words(regs)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


# ---- simulated scenes (the figures the tests keep) -----------------------------------------

def _places(runner: thermal_train.Runner, n: int, rs: np.random.RandomState, size: int = 2) -> list[tuple[int, int]]:
    allow = runner.features.allow_map()
    out: list[tuple[int, int]] = []
    while len(out) < n:
        r, c = rs.randint(0, 24 - size + 1), rs.randint(0, 32 - size + 1)
        if allow[r:r + size, c:c + size].min() > 0:
            out.append((r, c))
    return out


def spot_detection(runner: thermal_train.Runner, excess: float, n: int = 30, seed: int = 3,
                   on_s: float = 60.0, gap_s: float = 240.0, size: int = 2, room: int = 0) -> dict:
    """2x2 (size x size) spots at random places outside the mask, one at a time, `on_s`
    seconds each, during normal cycling: detected when an alarm starts while it shows."""
    from host_tools.data import scene

    rs = np.random.RandomState(seed)
    places = _places(runner, n, rs, size)
    lead = 300.0
    anoms = [scene.Anomaly("spot", start=lead + i * (on_s + gap_s), end=lead + i * (on_s + gap_s) + on_s,
                           row=r, col=c, size=size, excess=excess) for i, (r, c) in enumerate(places)]
    sc = scene.Scene(seed=seed, room=room, anomalies=anoms).frames(lead + n * (on_s + gap_s))
    out = runner.run(sc["frames"])
    fps = scene.FPS
    hits, delays = [], []
    for a in anoms:
        s = [i for i, _ in out["starts"] if a.start * fps <= i < a.end * fps + 5]
        hits.append(bool(s))
        if s:
            delays.append(s[0] / fps - a.start)
    return {"excess": excess, "size": size, "spots": n, "detected": int(sum(hits)),
            "rate": sum(hits) / n, "median_delay_s": float(np.median(delays)) if delays else None,
            "missed_at": [p for p, h in zip(places, hits) if not h]}


def false_alarms(runner: thermal_train.Runner, hours: float = 6.0, seed: int = 2, room: int = 0) -> dict:
    from host_tools.data import scene

    sc = scene.normal(seed, hours * 3600, room=room)
    out = runner.run(sc["frames"])
    n = len(sc["frames"])
    return {"hours": hours, "fps": scene.FPS, "frames": n, "alarms": len(out["starts"]),
            "per_hour": len(out["starts"]) / hours, "frames_over": float(np.mean(out["scores"] > 1.0)),
            "states": {s: int(np.sum(sc["state"] == s)) for s in np.unique(sc["state"])}}


def growing_delay(runner: thermal_train.Runner, rate_c_per_min: float = 0.5, seed: int = 4,
                  row: int = 2, col: int = 26, room: int = 0) -> dict:
    """A spot growing by `rate` C per minute (1x1, 2x2 over 3 C, 3x3 over 6 C) from t=600 s."""
    from host_tools.data import scene

    start = 600.0
    a = scene.Anomaly("growing", start=start, row=row, col=col, rate=rate_c_per_min, excess=15.0)
    sc = scene.Scene(seed=seed, room=room, anomalies=[a]).frames(start + 40 * 60)
    out = runner.run(sc["frames"])
    after = [(i, hs) for i, hs in out["starts"] if i >= start * scene.FPS]
    before = [i for i, _ in out["starts"] if i < start * scene.FPS]
    if not after:
        return {"rate_c_per_min": rate_c_per_min, "detected": False, "alarms_before": len(before)}
    i, hs = after[0]
    delay = i / scene.FPS - start
    return {"rate_c_per_min": rate_c_per_min, "detected": True, "delay_s": delay,
            "excess_at_alarm": round(delay / 60.0 * rate_c_per_min, 2), "hotspot": hs,
            "alarms_before": len(before)}


def cold_pipe(runner: thermal_train.Runner, seed: int = 6, room: int = 0) -> dict:
    """The flow pipe stays at ambient from t=600 s for an hour: detected while it should be hot?"""
    from host_tools.data import scene

    start = 600.0
    a = scene.Anomaly("cold_pipe", start=start, end=start + 3600)
    sc = scene.Scene(seed=seed, room=room, anomalies=[a]).frames(start + 3600)
    out = runner.run(sc["frames"])
    lab = np.flatnonzero(sc["label"])
    if not len(lab):
        return {"labelled_frames": 0}
    first = lab[0]
    hits = [i for i, _ in out["starts"] if i >= first]
    return {"labelled_frames": int(len(lab)), "detected": bool(hits),
            "delay_s": (hits[0] - first) / scene.FPS if hits else None,
            "alarms_before": sum(1 for i, _ in out["starts"] if i < first)}


def scene_model(path: str, hours: float = 6.0, seed: int = 1, fa_rate: float = 0.001, room: int = 0) -> dict:
    """Train a thermal model on `hours` of simulated normal cycling, write it, load it."""
    from host_tools.data import scene

    d = scene.normal(seed, hours * 3600, room=room)
    doc = thermal_train.build([("boiler", d["frames"])], auto=True, fa_rate=fa_rate, rate=scene.FPS)
    return thermal_train.save(path, doc)


def scene_figures(model: dict, spots: int = 30) -> dict:
    r = thermal_train.Runner(model)
    return {"spot_5C": spot_detection(r, 5.0, spots), "spot_10C": spot_detection(r, 10.0, spots),
            "false_alarms": false_alarms(r), "growing": growing_delay(r), "cold_pipe": cold_pipe(r)}


# ---- recordings (evaluate --sensor thermal) ---------------------------------------------------

def main_eval(a: argparse.Namespace) -> int:
    from host_tools.data import thermal_data

    if not a.normal or not a.anomaly:
        raise DataError("evaluate --sensor thermal needs --normal and --anomaly folders of frame CSVs")
    train_sets, test_sets, shown = [], [], []
    given = a.rate != 200.0  # 200 Hz is the accelerometer default: not given for frames
    for d in a.normal:
        data = thermal_data.load_folder(d, a.rate if given else None)
        fr = data["frames"]
        if data["rate"]:
            shown.append(data["rate"])
        k = int(len(fr) * TRAIN_SHARE)
        train_sets.append((os.path.basename(os.path.normpath(d)), fr[:k]))
        test_sets.append((d, fr[k:]))
    fps = a.rate if given else (float(np.median(shown)) if shown else 1.0)
    doc = thermal_train.build(train_sets, auto=len(a.normal) == 1, fa_rate=a.fa_rate, rate=fps,
                              detector=a.detector)
    os.makedirs(a.report, exist_ok=True)
    model = thermal_train.save(os.path.join(a.report, "thermal_model.json"), doc)
    runner = thermal_train.Runner(model)
    summary: dict = {"fps": fps, "fa_rate": a.fa_rate, "modes": [
        {"name": m["name"], "threshold": m["threshold"], "fa_supported": m["fa_supported"],
         "method": m["threshold_method"]} for m in model["modes"]], "normal": [], "anomaly": []}
    for d, fr in test_sets:
        runner = thermal_train.Runner(model)
        out = runner.run(fr)
        hours = len(fr) / fps / 3600
        summary["normal"].append({"folder": _shown(d), "frames": len(fr), "hours": round(hours, 3),
                                  "alarms": len(out["starts"]),
                                  "per_hour": round(len(out["starts"]) / hours, 3) if hours else None,
                                  "frames_over": float(np.mean(out["scores"] > 1.0))})
    pngs = []
    for d in a.anomaly:
        for f in thermal_data.list_csv(d):
            got = thermal_data.read(f, fps)
            fr = got.frames
            lab = thermal_data.column(got.extra, thermal_data.LABEL_NAMES)
            lab = thermal_data.is_anomaly(lab) if lab is not None else None
            first = int(np.flatnonzero(lab)[0]) if lab is not None and lab.any() else 0
            runner = thermal_train.Runner(model)
            out = runner.run(fr)
            hits = [(i, hs) for i, hs in out["starts"] if i >= first]
            row = {"file": _shown(f), "frames": len(fr), "first_anomalous_frame": first, "detected": bool(hits)}
            if hits:
                i, hs = hits[0]
                row.update(delay_frames=i - first, delay_s=round((i - first) / fps, 2), hotspot=hs)
                png = os.path.join(a.report, "thermal_" + os.path.splitext(os.path.basename(f))[0] + ".png")
                rr = thermal_train.Runner(model)
                heatmaps(rr, fr[i], png, f"{os.path.basename(f)}, frame {i} (first alarm)")
                row["fired"] = region_words(_regions_of(rr.features))
                row["heatmap"] = os.path.basename(png)
                pngs.append(os.path.basename(png))
            summary["anomaly"].append(row)
    summary["heatmaps"] = pngs
    with open(os.path.join(a.report, "thermal_summary.json"), "w", encoding="utf-8") as fh:
        json.dump(summary, fh, indent=1, default=str)
    print(f"thermal model: {len(model['modes'])} mode(s), fa_rate {a.fa_rate} per frame at {fps:g} frames/s")
    for m in summary["modes"]:
        print(f"  mode {m['name']}: threshold {m['threshold']:.4g}, supports {m['fa_supported']:.3%} ({m['method']})")
    for r in summary["normal"]:
        print(f"normal {r['folder']}: {r['alarms']} false alarm(s) in {r['hours']:.2f} h "
              f"({r['per_hour']} per hour), {r['frames_over']:.3%} of frames over the line")
    det = sum(r["detected"] for r in summary["anomaly"])
    print(f"anomalies: {det}/{len(summary['anomaly'])} files detected")
    for r in summary["anomaly"]:
        extra = f" after {r['delay_s']} s: {r['fired']}" if r["detected"] else ""
        print(f"  {r['file']}: {'detected' if r['detected'] else 'MISSED'}{extra}")
    html_path = write_html(a.report, summary)
    print(f"report: {html_path} (also thermal_summary.json and {len(pngs)} heatmap PNG(s))")
    return 0


def _shown(path: str) -> str:
    from host_tools.modeling.report import shown_path

    return shown_path(path)


def write_html(out_dir: str, summary: dict) -> str:
    """report.html: the verdict per anomaly recording first (detected, delay, false alarms
    per day, whether the stated rate held), then the heatmaps, then the tables folded away."""
    from host_tools.modeling import report as rep

    fps = float(summary["fps"])
    stated = float(summary["fa_rate"])
    hours = sum(float(r["hours"]) for r in summary["normal"])
    alarms = sum(int(r["alarms"]) for r in summary["normal"])
    frames = sum(int(r["frames"]) for r in summary["normal"])
    n_over = int(round(sum(float(r["frames_over"]) * int(r["frames"]) for r in summary["normal"])))
    over = n_over / frames if frames else 0.0
    held, held_words = rep.rate_check(n_over, frames, stated, 1.0 / fps, "frames")
    fa_words = f"False alarms: {rep._per_day(alarms, hours)}. {held_words}"
    b: list = [("h1", "Thermal camera evaluation: does it catch anomalies without false alarms?"),
               ("p", f"{len(summary['modes'])} operating mode(s) learned from the first {TRAIN_SHARE:.0%} of "
                     f"each normal recording; the rest is the normal test. {fps:g} frames per second. Normal: "
                     f"{', '.join(r['folder'] for r in summary['normal'])}."),
               ("h2", "Verdict"), ("verdict", "normal operation", fa_words, held)]
    rows = []
    for r in summary["anomaly"]:
        name = os.path.splitext(os.path.basename(r["file"]))[0]
        if r["detected"]:
            words = (f"Detected {r['delay_s']:g} s after the anomaly began (frame {r['first_anomalous_frame']} "
                     f"+ {r['delay_frames']}); what fired: {r['fired']}.")
        else:
            words = f"MISSED: no alarm started in {r['frames']} frames after frame {r['first_anomalous_frame']}."
        b.append(("verdict", name, words, bool(r["detected"])))
        rows.append([name, "yes" if r["detected"] else "NO", f"{r['delay_s']:g} s" if r["detected"] else "-",
                     r.get("fired", "-")])
    b.append(("table", ["anomaly recording", "detected", "first alarm after", "what fired"], rows))
    b.append(("table", ["normal data", "false alarms", "per day", "frames over the line", "stated rate held?"],
              [[rep._duration(hours), str(alarms), f"{alarms / hours * 24:,.1f}" if hours else "-",
                f"{over:.3%}", f"{rep.held_text(held)} (stated {stated:.3%})"]]))
    b.append(("h2", "Heatmaps: the frame of the first alarm"))
    for r in summary["anomaly"]:
        if r.get("heatmap"):
            name = os.path.splitext(os.path.basename(r["file"]))[0]
            b.append(("fig", r["heatmap"], f"{name}: {r['fired']}",
                      "Left: the frame (°C); middle: the baseline the model expected for it; right: how far "
                      "each pixel is from its baseline in standard deviations (red hotter, blue colder). The "
                      "pixels that fired are outlined (lime when hot, cyan when cold; the strongest solid, with "
                      "its centre marked +, a weaker one dotted); dashed grey: parts allowed to be hot (the boiler body, masked)."))
    details = [("h3", "Modes"),
               ("table", ["mode", "threshold", "false-alarm rate it supports", "threshold method"],
                [[m["name"], f"{m['threshold']:.4g}", f"{m['fa_supported']:.3%}", m["method"]]
                 for m in summary["modes"]]),
               ("h3", "Normal test recordings"),
               ("table", ["folder", "frames", "hours", "alarms", "alarms per hour", "frames over the line"],
                [[r["folder"], str(r["frames"]), f"{r['hours']:.3f}", str(r["alarms"]), str(r["per_hour"]),
                  f"{r['frames_over']:.3%}"] for r in summary["normal"]]),
               ("h3", "Anomaly recordings"),
               ("table", ["file", "frames", "first anomalous frame", "detected", "delay (frames)", "delay (s)",
                          "board's hot-spot report"],
                [[r["file"], str(r["frames"]), str(r["first_anomalous_frame"]), str(r["detected"]),
                  str(r.get("delay_frames", "-")), str(r.get("delay_s", "-")), str(r.get("hotspot", "-"))]
                 for r in summary["anomaly"]])]
    b.append(("details", "Details: modes, every recording's numbers", details))
    path = os.path.join(out_dir, "report.html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(rep.to_html(b, "Thermal evaluation report"))
    with open(os.path.join(out_dir, "report.md"), "w", encoding="utf-8") as fh:
        fh.write(rep.to_markdown(b))
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m host_tools.modeling.thermal_report [--out DIR]`: the simulated-scene figures."""
    p = argparse.ArgumentParser(prog="python -m host_tools.modeling.thermal_report", description=__doc__)
    p.add_argument("--out", default=os.path.join("out", "thermal"))
    p.add_argument("--spots", type=int, default=30)
    a = p.parse_args(argv)
    model = scene_model(os.path.join(a.out, "model.json"))
    figs = scene_figures(model, a.spots)
    print(json.dumps(figs, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
