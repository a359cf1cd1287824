"""Which of our detectors to use on this data, and a sentence of why (`evaluate`).

Per scenario, the detectors are compared on the user's own held-out windows: the measured
false-alarm rate on normal test windows against the stated one, and the detection rate
and AUC over every anomaly window pooled. A detector whose measured rate is over twice the
stated one is not recommended while another keeps it; among the rest the higher detection
wins, then the higher AUC (within one point of detection the two are equal), then the
simpler (z-score: fewer numbers on the board).
"""

from __future__ import annotations

from typing import Sequence

SIMPLER = ("zscore", "mahalanobis")  # preferred order when equal


def recommend(result: dict, stated: float) -> tuple[str, str] | None:
    """(detector key, sentence) for one evaluate scenario result, or None."""
    cands = []
    for key, m in result["methods"].items():
        if m.get("family") != "ours" or "uncommissioned" in key or "error" in m:
            continue
        fa = m["normal"]["fa_rate"]
        det = m["pooled"]["detection_rate"]
        auc = m["pooled"]["auc"]
        cands.append((key, fa, det, auc))
    if not cands:
        return None
    ok = [c for c in cands if c[1] <= 2 * stated]
    pool = ok or [min(cands, key=lambda c: c[1])]

    def rank(c):
        simple = SIMPLER.index(c[0]) if c[0] in SIMPLER else len(SIMPLER)
        return (-round(100 * c[2]), -round(c[3], 3), simple)

    best = min(pool, key=rank)
    others = [c for c in cands if c is not best]

    def says(c):
        return (f"{c[0]} detects {100 * c[2]:.0f}% of the anomaly windows (AUC {c[3]:.3f}) at "
                f"{100 * c[1]:.1f}% false alarms on the normal test windows")

    why = f"{says(best)} (stated {100 * stated:g}%)"
    if others:
        why += "; " + "; ".join(says(c) for c in others)
        rivals = [c for c in pool if c is not best]
        if rivals:
            r = rivals[0]
            if round(100 * best[2]) > round(100 * r[2]):
                why += f". {best[0]} detects more"
            elif round(best[3], 3) > round(r[3], 3):
                why += f". Same detection, {best[0]} ranks anomalies better (AUC)"
            else:
                why += (f". They do equally well here: {best[0]} is the simpler one (fewer numbers "
                        f"on the board)" if best[0] == "zscore" else
                        f". They do equally well here")
    if not ok:
        why += (f". No detector kept the false alarms within twice the stated rate: the one with the "
                f"fewest is recommended; give it more calibration windows (or sessions)")
    elif len(ok) < len(cands):
        bad = [c[0] for c in cands if c not in ok]
        why += f". {', '.join(bad)} raised more than twice the stated false-alarm rate"
    return best[0], why


def text(results: Sequence[dict], stated: float) -> str:
    lines = ["", "recommended detector (on this data: held-out normal windows and every anomaly window)"]
    for r in results:
        rec = recommend(r, stated)
        if rec:
            lines.append(f"  {r['name']}: {rec[0]}: {rec[1]}.")
    return "\n".join(lines)
