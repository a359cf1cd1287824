"""Time on the host: sample rates given as periods, time stamps (numbers in s or ms, or
ISO-8601 dates), the natural order of file names, and how times are printed.

Naive ISO dates (no offset) are taken as UTC; dates with an offset are converted to UTC.
A numeric time stamp is in seconds or milliseconds: a column name says which when it can
("time_ms", "timestamp_ms", "ms"; Edge Impulse's "timestamp" with accX/accY/accZ is ms),
otherwise the unit whose median step is nearer the stated sample period is taken.
"""

from __future__ import annotations

import datetime as _dt
import math
import re

import numpy as np

from device.csvfiles import natural_key  # noqa: F401  (one definition, shared with the board)

GAP_PERIODS = 3.0  # a step longer than this many sample periods is a gap
ABSOLUTE_S = 1e8  # numeric time stamps from here on are calendar (Unix epoch) times

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0,
          "hz": None, "khz": None}
_PERIOD = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Zµ]*)\s*$")


def parse_rate(text: str) -> float:
    """A sample rate in Hz from '200', '200Hz', '1kHz', or a period: '5min', '10ms', '2s',
    '1h'. Raises ValueError with the accepted forms."""
    m = _PERIOD.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not a rate (200, 200Hz, 1kHz) or a period (10ms, 2s, 5min, 1h)")
    v = float(m.group(1))
    unit = m.group(2).lower()
    if unit in ("", "hz"):
        rate = v
    elif unit == "khz":
        rate = v * 1000.0
    elif (scale := _UNITS.get(unit)) is not None:  # a period (hz, khz are rates: above)
        rate = 1.0 / (v * scale) if v > 0 else math.inf
    else:
        raise ValueError(f"{text!r}: unknown unit {m.group(2)!r} (Hz, kHz, or a period in us, ms, s, min, h)")
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"{text!r}: the rate must be > 0")
    return rate


def describe_period(seconds: float) -> str:
    """'300 s (5 min)', '10 ms', '2.5 d' -- for messages."""
    s = float(seconds)
    if not math.isfinite(s):
        return str(s)
    a = abs(s)
    if a >= 86400:
        return f"{s / 86400:.3g} d"
    if a >= 3600:
        return f"{s / 3600:.3g} h"
    if a >= 60:
        return f"{s / 60:.3g} min"
    if a >= 1:
        return f"{s:.3g} s"
    return f"{s * 1000:.3g} ms"




def parse_dates(cells: list[str], path: str, lines: np.ndarray) -> np.ndarray:
    """ISO-8601 dates -> float seconds since the Unix epoch (UTC). An unparseable cell
    raises ValueError naming the file and line."""
    clean = [c.strip().strip('"') for c in cells]
    if not any(("+" in c[10:] or c.endswith(("Z", "z")) or "-" in c[10:]) for c in clean):
        try:  # fast path: NumPy parses naive dates ('2013-12-02 21:15:00', '...T...')
            t = np.array(clean, dtype="datetime64[us]")
            return t.astype(np.int64).astype(np.float64) / 1e6
        except ValueError:
            pass
    out = np.empty(len(clean))
    for i, c in enumerate(clean):
        try:
            d = _dt.datetime.fromisoformat(c.replace("z", "Z"))
        except ValueError:
            raise ValueError(f"{path}: line {int(lines[i])} has a time stamp {c!r} that is not an "
                             f"ISO-8601 date (e.g. 2013-12-02 21:15:00)") from None
        if d.tzinfo is None:
            d = d.replace(tzinfo=_dt.timezone.utc)
        out[i] = d.timestamp()
    return out


def numeric_unit(name: str | None, steps: np.ndarray, rate: float, edge_impulse: bool = False) -> float:
    """Seconds per unit of a numeric time column: 1e-3 for ms, 1.0 for s."""
    n = (name or "").strip().lower()
    if n.endswith("ms") or "(ms)" in n or edge_impulse:
        return 1e-3
    if n.endswith("_s") or "(s)" in n or n in ("seconds", "sec", "epoch"):
        return 1.0
    pos = steps[steps > 0]
    if len(pos) == 0:
        return 1.0
    d = float(np.median(pos))
    period = 1.0 / rate
    return 1e-3 if abs(math.log(d * 1e-3 / period)) < abs(math.log(d / period)) else 1.0


def format_time(t: float, absolute: bool) -> str | float:
    """A window start for output: an ISO-8601 UTC date for calendar times, else seconds."""
    if not math.isfinite(t):
        return None  # type: ignore[return-value]
    if absolute:
        d = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
        text = d.isoformat(timespec="milliseconds" if t != int(t) else "seconds")
        return text.replace("+00:00", "Z")
    return round(t, 6)
