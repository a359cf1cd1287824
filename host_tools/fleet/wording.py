"""Alerts in words: one implementation for the dashboard, the alert routes (webhook and
log) and the command line (`events`, `monitor`).

An anomaly_start event names its `top` features ([name, contribution] pairs) and, from
boards that send it, `values`: per top feature [value, normal mean, normal spread] in the
mode the board was in. With them a feature is said against normal in the form that means
something for it:
- a positive quantity (band energy, RMS, kurtosis: the board keeps their logarithm; the
  envelope, a spread, the thermal RMS z): "19× normal" or "21% of normal";
- a level with a unit (a frequency within a band, a temperature): "about 92.6 Hz where
  normal is 91.4 Hz" / "41.2 °C where normal is 35.0 °C", with how many standard
  deviations that is;
- anything signed or centred on 0 (z values, slopes, unknown features): "4.1 standard
  deviations above normal".
Without `values` (older boards, LoRa packets: no room in 51 bytes) a feature is said by
its share of the deviation, as before. A thermal hot or cold spot is said with its sign.
"""

from __future__ import annotations

import math

# Feature names only a thermal model has (device/thermal.py NAMES): with one of them
# among the top features, `mean`, `max` and `rms_z` are the camera's, not a scalar's or
# the accelerometer's z axis.
THERMAL_ONLY = {"max", "p90", "max_z", "min_z", "max_excess", "log_hot_pixels", "log_blob_area"}

_THERMAL_WORDS = {
    "mean": "the image's mean temperature",
    "max": "the hottest pixel",
    "p90": "the temperature of the warmest tenth of the image",
    "rms_z": "the image's overall difference from its baseline (RMS z)",
    "max_z": "the pixel furthest above its baseline",
    "min_z": "the pixel furthest below its baseline",
    "max_excess": "the largest rise over the baseline",
    "log_hot_pixels": "the number of pixels far above their baseline",
    "log_blob_area": "the size of the largest hot blob",
}
_SCALAR_WORDS = {"value": "the value", "mean": "the mean", "std": "the spread (standard deviation)",
                 "slope": "the slope", "temperature": "temperature"}


def _band(rest: str) -> tuple[float, float] | None:
    """'88-95Hz' -> (88.0, 95.0)."""
    if not rest.endswith("Hz"):
        return None
    lo, _, hi = rest[:-2].partition("-")
    try:
        return float(lo), float(hi)
    except ValueError:
        return None


def is_thermal(p: dict) -> bool:
    names = {str(n) for n, *_ in (p.get("top") or [])}
    return bool(p.get("hotspot")) or bool(names & THERMAL_ONLY)


def feature_words(name: str, thermal: bool = False) -> str:
    """A model feature name in words: energy_88-95Hz -> vibration energy in 88–95 Hz."""
    if thermal and name in _THERMAL_WORDS:
        return _THERMAL_WORDS[name]
    kind, _, rest = name.partition("_")
    band = rest[:-2].replace("-", "–") + " Hz" if rest.endswith("Hz") else rest
    if kind == "energy" and rest:
        return f"vibration energy in {band}"
    if kind == "centroid" and rest:
        return f"frequency of the vibration within {band}"
    if kind == "rms" and rest:
        return f"vibration level on the {rest} axis"
    if kind == "kurtosis" and rest:
        return f"knocks and shocks (kurtosis) on the {rest} axis"
    if name == "envelope":
        return "how much the vibration swells and fades"
    if name in _SCALAR_WORDS:
        return _SCALAR_WORDS[name]
    return name.replace("_", " ")


def times_normal(r: float) -> str:
    """A ratio to normal: '19× normal', '2.4× normal', '21% of normal'."""
    if r >= 9.95:
        return f"{r:,.0f}× normal"
    if r >= 0.995:
        return f"{r:.1f}× normal"
    return f"{max(r, 0.0):.0%} of normal"


def _sds(z: float) -> str:
    return f"{abs(z):.1f} standard deviations {'above' if z >= 0 else 'below'} normal"


def _num(v: float) -> str:
    return f"{v:.1f}" if abs(v) < 1000 else f"{v:,.0f}"


def against_normal(name: str, value: float, normal: float, spread: float | None,
                   thermal: bool = False) -> str:
    """One feature against its normal value, in the form that means something for it
    (module doc): "vibration energy in 88–95 Hz is 19× normal"."""
    thermal = thermal and name in _THERMAL_WORDS  # a camera's feature (others keep their meaning)
    words = feature_words(name, thermal)
    x, m = float(value), float(normal)
    s = float(spread) if spread is not None and spread > 0 and math.isfinite(spread) else None
    z = (x - m) / s if s else None
    kind, _, rest = name.partition("_")
    if not thermal and kind in ("energy", "rms", "kurtosis") and rest:
        # the board keeps log energy, log RMS, log kurtosis: the ratio is exp of the difference
        return f"{words} is {times_normal(math.exp(min(x - m, 700.0)))}"
    positive = (name == "envelope" and not thermal) or (name == "std" and not thermal) or \
        (name == "rms_z" and thermal)
    if positive and x >= 0 and m > 0 and (s is None or m >= s):  # normal clearly above 0
        return f"{words} is {times_normal(x / m)}"
    sd = f" ({_sds(z)})" if z is not None else ""
    band = _band(rest) if kind == "centroid" and not thermal else None
    if band is not None:
        # the centroid is in band widths from the band's centre (-0.5..0.5); the band's
        # edges in the name are rounded to whole Hz, hence "about"
        lo, hi = band
        hz = lambda c: lo + (c + 0.5) * (hi - lo)  # noqa: E731
        head = f"{words} is {_sds(z)}" if z is not None else f"{words} moved"
        return f"{head} (about {hz(x):.1f} Hz where normal is {hz(m):.1f} Hz)"
    if thermal and name in ("mean", "max", "p90", "max_excess"):
        return f"{words} is {x:.1f} °C where normal is {m:.1f} °C{sd}"
    if thermal and name in ("log_hot_pixels", "log_blob_area"):  # stored as log(1 + count)
        n, nm = math.expm1(min(x, 50.0)), math.expm1(min(m, 50.0))
        return f"{words} is {n:.0f} pixels where normal is {nm:.0f}"
    if not thermal and name in ("value", "mean", "temperature"):
        return f"{words} is {_num(x)} where normal is {_num(m)}{sd}"
    if z is not None:
        return f"{words} is {_sds(z)}"
    return f"{words} is {_num(x)} where normal is {_num(m)}"


def feature_phrases(p: dict) -> list[str]:
    """Each top feature of an event in words: against normal where the payload has its
    `values`, else by its share of the deviation (older boards, LoRa)."""
    top = p.get("top") or []
    vals = p.get("values")
    if not isinstance(vals, list) or len(vals) != len(top):
        vals = [None] * len(top)
    thermal = is_thermal(p)
    mags = [abs(float(v)) for _, v in top]
    raw = p.get("raw")
    # Mahalanobis: each contribution is the feature's share of d^2 (raw), they add up to
    # at most raw; z-score: each is |z| of the feature, the largest equal to raw. Without
    # raw (a LoRa packet), shares of what the named features carry.
    zlike = isinstance(raw, (int, float)) and len(mags) > 1 and sum(mags) > 1.01 * float(raw)
    base = float(raw) if isinstance(raw, (int, float)) and raw > 0 and not zlike else (sum(mags) or 1.0)
    out = []
    for (name, _), v, nv in zip(top, mags, vals):
        if isinstance(nv, list) and len(nv) == 3 and nv[0] is not None and nv[1] is not None:
            out.append(against_normal(str(name), nv[0], nv[1], nv[2], thermal))
        elif zlike:
            out.append(f"{feature_words(str(name), thermal)} is {v:.1f} standard deviations from normal")
        else:
            out.append(f"{feature_words(str(name), thermal)} ({min(v / base, 1.0):.0%} of the deviation)")
    return out


def spot_words(hs: dict | None) -> str:
    """A thermal spot with its sign: 'A cold spot at row 7.5, column 26.7 (19 pixels):
    23.8 °C below normal.'"""
    if not hs:
        return ""
    excess = float(hs.get("excess", 0.0))
    kind = hs.get("kind") or ("cold" if excess < 0 else "hot")
    area = f" ({int(hs['area'])} pixels)" if isinstance(hs.get("area"), (int, float)) else ""
    return (f"A {kind} spot at row {float(hs['row']):g}, column {float(hs['col']):g}{area}: "
            f"{abs(excess):.1f} °C {'below' if kind == 'cold' else 'above'} normal.")


def explain_words(p: dict) -> str:
    """An alert in words: the operating mode (the label given at training), how far over
    the alarm line, which measurements moved and how far from normal, a thermal spot."""
    parts = []
    mode = p.get("mode")
    score = p.get("score")
    head = "Out of normal"
    if mode:
        head += f" while running as “{mode}”"
    if isinstance(score, (int, float)):
        head += f": {score:.1f}× the alarm line" if score >= 1.05 else f": score {score:.2f} (alarm line 1.0)"
    parts.append(head + ".")
    said = feature_phrases(p)
    if said:
        parts.append("Changed most: " + "; ".join(said) + ".")
    if p.get("hotspot"):
        parts.append(spot_words(p["hotspot"]))
    if p.get("error"):
        parts.append(str(p["error"]))
    return " ".join(parts)
