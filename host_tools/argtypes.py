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
