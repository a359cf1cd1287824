"""Days off for the adaptive detector: train's --days-off and --holidays.

device.adaptive keeps a second daily profile for days off when its parameters say
`day_types`; which days are off comes from `off_weekdays` (0 = Monday) and `holidays`
(days since 1970-01-01), and the day of a window from the clock. On the host the clock is
the recording's dated time stamps (the first fit window's start, `set_time`); a board
needs its clock set for the same (device.adaptive.AdaptiveDetector.set_time), and
without one every day is a workday.
"""

from __future__ import annotations

import datetime

from host_tools.data.datasets import DataError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_weekdays(text: str) -> list[int]:
    """'sat,sun' or '5,6' -> [5, 6] (0 = Monday)."""
    out = []
    for part in text.split(","):
        p = part.strip().lower()
        if not p:
            continue
        if p[:3] in WEEKDAYS and (len(p) <= 3 or WEEKDAYS[WEEKDAYS.index(p[:3])].startswith(p[:3])):
            out.append(WEEKDAYS.index(p[:3]))
        elif p.isdigit() and int(p) <= 6:
            out.append(int(p))
        else:
            raise DataError(f"--days-off {text}: {part.strip()!r} is not a weekday (mon..sun, or 0..6 "
                            f"with 0 = Monday)")
    if not out:
        raise DataError(f"--days-off {text!r}: no weekday given")
    return sorted(set(out))


def parse_dates(text: str) -> list[int]:
    """'2025-12-25,2025-12-26' -> days since 1970-01-01."""
    out = []
    for part in text.split(","):
        p = part.strip()
        if not p:
            continue
        try:
            d = datetime.date.fromisoformat(p)
        except ValueError:
            raise DataError(f"--holidays: {p!r} is not a date (YYYY-MM-DD)") from None
        out.append((d - datetime.date(1970, 1, 1)).days)
    return sorted(set(out))


def add_train_arguments(t) -> None:
    t.add_argument("--days-off", metavar="WEEKDAYS", default=None,
                   help="adaptive: weekdays that are days off, with a daily profile of their own "
                        "(e.g. sat,sun); needs dated time stamps. Default: none (one profile for "
                        "every day)")
    t.add_argument("--holidays", metavar="DATES", default=None,
                   help="adaptive, with --days-off: more days off, as YYYY-MM-DD,YYYY-MM-DD,... "
                        "Default: none")


def params(a) -> dict:
    """The adaptive parameters --days-off / --holidays add ({} without them)."""
    days = getattr(a, "days_off", None)
    hol = getattr(a, "holidays", None)
    if hol and not days:
        raise DataError("--holidays marks days off for the days-off profile: give --days-off too "
                        "(e.g. --days-off sat,sun)")
    if not days:
        return {}
    if getattr(a, "detector", None) != "adaptive":
        raise DataError("--days-off is for the adaptive detector (--detector adaptive)")
    if not getattr(a, "cycle", None) or abs(float(a.cycle) - 86400.0) > 1e-6:
        raise DataError("--days-off needs a daily profile: --cycle 24h")
    return {"day_types": 1, "off_weekdays": parse_weekdays(days),
            "holidays": parse_dates(hol) if hol else []}
