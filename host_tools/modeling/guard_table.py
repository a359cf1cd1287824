"""The commissioning guard's decision for every folder of a dataset, per mode.

Each folder is offered to the board's Commissioner (device.commission, the code the board
runs) as commissioning data for each mode of a model in turn, and once with the mode left
to the nearest-mode rule. A folder that is a mode's own normal session offers its later
part (the last `fraction` of its windows: the later part of the session the model was
fitted on); any other folder offers its first `fraction` (what a board would see right
after installation). Printed by `evaluate` for its four-mode model.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from device import commission as commission_mod
from device import detectors as detectors_mod


def decide(doc: dict, feats: np.ndarray, mode: str | None) -> dict:
    """One commissioning run: accepted or refused (and why), with what the guards measured."""
    det = detectors_mod.from_model(doc)
    idx = None if mode is None else det.mode_names.index(mode)
    n_fit = len(feats) // 2
    com = commission_mod.from_model(det, doc, n_fit, len(feats) - n_fit, mode=idx)
    for x in feats:
        com.update(x)
    i = idx
    if i is None:  # the mode most windows went to
        c = com.counts()
        i = int(np.argmax(c))
    return {"mode": mode, "assigned": det.mode_names[i], "accepted": com.refused is None,
            "why": com.refused, "axis_share": com.axis_share[i], "towards": com.axis_towards[i],
            "spread": com.spread_ratio[i], "windows": int(len(feats)),
            "limit": com.axis_limits[i], "warnings": list(com.warnings)}


def table(doc: dict, folders: Sequence[tuple[str, np.ndarray]], fraction: float = 0.3) -> list[dict]:
    """Rows: folder, the part offered, and one decision per mode (and nearest-mode)."""
    names = [m["name"] for m in doc["modes"]]
    rows = []
    for name, feats in folders:
        k = max(4, int(round(fraction * len(feats))))
        own = name in names
        part = feats[-k:] if own else feats[:k]
        rows.append({"folder": name, "part": f"last {fraction:.0%}" if own else f"first {fraction:.0%}",
                     "decisions": [decide(doc, part, m) for m in names + [None]]})
    return rows


def _short(d: dict) -> str:
    if d["accepted"]:
        tag = "accept"
    elif "not steady" in d["why"]:
        tag = "REFUSE unsteady"
    elif "of the way towards" in d["why"]:
        tag = "REFUSE axis"
    elif "farther than remounting" in d["why"]:
        tag = "REFUSE far"
    elif "changed mode" in d["why"]:
        tag = "REFUSE mode change"
    elif "second half" in d["why"]:
        tag = "REFUSE halves"
    else:
        tag = "REFUSE"
    ax = "" if d["axis_share"] is None else f" {100 * d['axis_share']:.0f}%"
    if ax and d.get("limit") is not None and abs(d["limit"] - commission_mod.AXIS_LIMIT) > 1e-6:
        ax += f"/{100 * d['limit']:.0f}"  # a mode's own (wider) limit
    return tag + ax


def margins(rows: list[dict]) -> list[str]:
    """Per mode, how close its decisions came to the operating-axis limit: the largest share
    it accepted and the smallest it refused by that guard, each over the limit."""
    out: list[str] = []
    if not rows:
        return out
    for k, d0 in enumerate(rows[0]["decisions"]):
        if d0["mode"] is None:
            continue
        acc = [(r["decisions"][k]["axis_share"], r["folder"]) for r in rows
               if r["decisions"][k]["accepted"] and r["decisions"][k]["axis_share"] is not None]
        ref = [(r["decisions"][k]["axis_share"], r["folder"]) for r in rows
               if not r["decisions"][k]["accepted"] and "of the way towards" in (r["decisions"][k]["why"] or "")]
        lim = d0["limit"]
        parts = []
        if acc:
            a, f = max(acc)
            parts.append(f"largest accepted {100 * a:.0f}% ({f}: limit/share {lim / a:.2f}x)" if a > 0
                         else f"largest accepted {100 * a:.0f}% ({f})")
        if ref:
            a, f = min(ref)
            parts.append(f"smallest refused by the axis {100 * a:.0f}% ({f}: share/limit {a / lim:.2f}x)")
        out.append(f"  {d0['mode']}: limit {100 * lim:.0f}%; " + "; ".join(parts))
    return out


def text(rows: list[dict], doc: dict) -> str:
    names = [m["name"] for m in doc["modes"]]
    cols = names + ["nearest mode"]
    w = 22
    lines = ["commissioning guard: each folder offered as commissioning data for each mode "
             "(own normal session: its last part; other folders: their first part); "
             "accept/REFUSE + why (axis: share of the way towards another mode, limit "
             f"{100 * commission_mod.AXIS_LIMIT:.0f}%)",
             f"{'folder':28s} {'part':9s} " + " ".join(f"{c[:w]:>{w}s}" for c in cols)]
    for r in rows:
        lines.append(f"{r['folder'][:28]:28s} {r['part']:9s} " +
                     " ".join(f"{_short(d)[:w]:>{w}s}" for d in r["decisions"]))
    lines.append("margins along the operating axis (each mode's column):")
    lines += margins(rows)
    return "\n".join(lines)
