"""argparse value types shared by the commands: one wording for one kind of mistake."""

from __future__ import annotations

import argparse


def fraction(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {s!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"{s} is not between 0 and 1 (exclusive)")
    return v


def shrinkage(s: str) -> float | str:
    if s == "auto":
        return s
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is neither 'auto' nor a number") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"{s} is not between 0 and 1 (the weight of the "
                                         f"diagonal target; 'auto' chooses it from the data)")
    return v


def rate(s: str) -> float:
    """A sample rate in Hz ('200', '1kHz') or a sample period with a unit ('5min', '10ms')."""
    from host_tools.data import timeaxis

    try:
        return float(s)  # a plain number: check_options says what is wrong with it, by option
    except ValueError:
        pass
    try:
        return timeaxis.parse_rate(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def period(s: str) -> float:
    """A duration in seconds with a unit: '6h', '30min', '1d', '90s'."""
    from host_tools.data import timeaxis

    t = s.strip().lower()
    if t.endswith("d") and not t.endswith("ms"):
        try:
            v = float(t[:-1]) * 86400.0
        except ValueError:
            v = float("nan")
    else:
        try:
            v = 1.0 / timeaxis.parse_rate(t) if not t.endswith(("hz", "khz")) and not t.replace(".", "").isdigit() else float("nan")
        except ValueError:
            v = float("nan")
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"{s!r} is not a duration such as 90s, 30min, 6h or 1d")
    return v
