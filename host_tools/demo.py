"""`make demo`: the main job on the bundled ceiling-fan sample, with the board simulated.

1. train a four-mode Mahalanobis model (fan off/low/med/high, no coin) on data/ceiling-fan;
2. evaluate it with the leave-session-out protocol against the baselines (report + plots);
3. simulate the board: installed on the remounted fan (fan_0_low-deploy), it commissions on
   its first windows, watches normal running, then the coin is taped on at high speed;
4. the thermal camera on a simulated boiler (host_tools/thermal_demo.py).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Sequence

from host_tools.cli import main as cli
from host_tools.fleet import wording
from host_tools.modeling import simulate

MODES = ["fan_0_off_0_weight", "fan_0_low_0_weight", "fan_0_med_0_weight", "fan_0_high_0_weight"]


def main(argv: Sequence[str] | None = None) -> int:
    p = cli.Parser(prog="python -m host_tools.demo", description=__doc__)
    p.add_argument("--data", default="data/ceiling-fan")
    p.add_argument("--out", default="out/demo")
    p.add_argument("--commission", type=int, default=30, help="windows the board commissions on")
    try:
        a = p.parse_args(argv)
        if a.commission < 0:
            raise cli.UsageError(f"--commission {a.commission}: windows to commission on must be at least 0")
    except cli.UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return cli.EXIT_BAD_INPUT
    model = os.path.join(a.out, "model.json")
    report = os.path.join(a.out, "report")

    print("== 1. train (four normal modes, thresholds on a time-ordered hold-out)")
    rc = cli.main(["train", "--normal", *[os.path.join(a.data, m) for m in MODES],
                   "--out", model, "--quiet"])
    if rc:
        return rc

    print("\n== 2. evaluate (design section 8 protocol, with baselines)")
    rc = cli.main(["evaluate", "--data", a.data, "--report", report])  # its summary is the demo's
    if rc:
        return rc

    print("\n== 3. simulate the board: remounted on the fan, commissioning, then a coin at high speed")
    deploy = os.path.join(a.data, "fan_0_low-deploy")
    coin = os.path.join(a.data, "fan_0_high_1_weight")
    app, box, alert = simulate.run(model, [deploy, coin], commission=a.commission,
                                   heartbeat=0, echo=False)
    n_deploy = len(os.listdir(deploy)) - sum(1 for f in os.listdir(deploy) if not f.endswith(".csv"))
    for item in box.items:
        if item.get("type") in ("event", "status"):
            print("  board says:", json.dumps(item))
            if item.get("event") == "anomaly_start":  # as the dashboard and `events` word it
                print("  in words:", wording.explain_words(item))
    starts = [p["window"] for p in box.items if p.get("event") == "anomaly_start"]
    false_alarms = [w for w in starts if w <= n_deploy]
    print(f"  {app.windows} windows: {n_deploy} from the remounted normal session "
          f"({a.commission} used to commission), then the coin at high speed")
    print(f"  false alarms during normal running: {len(false_alarms)}; "
          f"coin detected at window {min([w for w in starts if w > n_deploy], default=None)} "
          f"(coin started at window {n_deploy + 1})")
    print(f"\nmodel: {model}\nreport: {os.path.join(report, 'report.html')}")
    from host_tools import thermal_demo  # the thermal camera part (host_tools/thermal_demo.py)

    return thermal_demo.run(os.path.join(a.out, "thermal"))


if __name__ == "__main__":
    sys.exit(main())
