"""The thermal part of `make demo`: a boiler watched by an MLX90640, simulated.

1. record: 3 h of the simulated boiler cycling cold/warm/hot (host_tools.data.scene, seed 1)
   written as frame CSVs, the board's recording format (one frame per row);
2. train: `train --sensor thermal --modes auto` (modes, allowed-hot mask, thresholds at a
   stated 0.1% of frames);
3. evaluate: `evaluate --sensor thermal` on the last part of the recording and on three
   anomaly recordings (a 2x2 hot spot of +5 C, a spot growing 0.5 C per minute, the flow
   pipe staying cold) with heatmap PNGs;
4. simulate the board on the hot-spot recording: the event carries the hot spot.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

import numpy as np

from host_tools.cli import main as cli
from host_tools.data import scene
from host_tools.fleet import wording
from host_tools.modeling import simulate
from host_tools.data import thermal_data


def record(out: str) -> tuple[str, str]:
    normal = os.path.join(out, "normal")
    anomaly = os.path.join(out, "anomaly")
    d = scene.normal(1, 3 * 3600)
    step = 1800
    for k in range(0, len(d["frames"]), step):
        sl = slice(k, k + step)
        thermal_data.write_frames(os.path.join(normal, "%04d.csv" % (k // step)), d["frames"][sl],
                                  {"t_ms": d["t"][sl] * 1000, "ambient": d["ta"][sl]})
    cases = {
        "hot_spot_5C": scene.Anomaly("spot", 300, 600, row=4, col=26, size=2, excess=5.0),
        "growing_spot": scene.Anomaly("growing", 300, row=20, col=24, rate=0.5, excess=15.0),
        "cold_flow_pipe": scene.Anomaly("cold_pipe", 300, 1200),
    }
    for i, (name, a) in enumerate(cases.items()):
        sc = scene.Scene(seed=50 + i, anomalies=[a]).frames(1200)
        thermal_data.write_frames(os.path.join(anomaly, name + ".csv"), sc["frames"],
                                  {"t_ms": sc["t"] * 1000, "ambient": sc["ta"], "label": sc["label"].astype(int)})
    return normal, anomaly


def run(out: str) -> int:
    print("\n== thermal 1. record 3 h of a simulated boiler (MLX90640, 1 frame/s) as frame CSVs")
    normal, anomaly = record(out)
    print(f"  {normal}: 6 files of 30 min; {anomaly}: hot spot +5 C, growing spot, cold flow pipe")
    model = os.path.join(out, "model.json")
    print("\n== thermal 2. train --sensor thermal --modes auto --fa-rate 0.001")
    rc = cli.main(["train", "--sensor", "thermal", "--modes", "auto", "--normal", normal,
                   "--fa-rate", "0.001", "--out", model])
    if rc:
        return rc
    print("\n== thermal 3. evaluate --sensor thermal (model trained on the first 70% of the recording)")
    rc = cli.main(["evaluate", "--sensor", "thermal", "--normal", normal, "--anomaly", anomaly,
                   "--fa-rate", "0.001", "--report", os.path.join(out, "report")])
    if rc:
        return rc
    print("\n== thermal 4. the board app on the hot-spot recording")
    app, box, _ = simulate.run(model, [os.path.join(anomaly, "hot_spot_5C.csv")], heartbeat=0, echo=False)
    for p in box.items:
        if p.get("type") == "event":
            print("  board says:", json.dumps(p))
            if p.get("event") == "anomaly_start":  # as the dashboard and `events` word it
                print("  in words:", wording.explain_words(p))
    print(f"  {app.windows} frames, {app.anomalies} alarm(s); the spot showed from frame 301")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m host_tools.thermal_demo", description=__doc__)
    p.add_argument("--out", default=os.path.join("out", "demo", "thermal"))
    a = p.parse_args(argv)
    np.seterr(all="ignore")
    return run(a.out)


if __name__ == "__main__":
    sys.exit(main())
