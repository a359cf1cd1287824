"""Decision stage: k-of-n debounce, hysteresis, clear after quiet windows, cooldown."""

from __future__ import annotations

import pytest

from device.decision import END, START, Decision

HI, MID, LO = 1.5, 0.9, 0.1  # over `on`, between `off` and `on`, under `off` (on=1, off=0.8)


def feed(d, scores):
    return [d.update(s) for s in scores]


def test_k_minus_one_hits_never_start():
    d = Decision(k=3, n=5, on=1.0, off=0.8)
    # two hits in every window of five, forever: never an alarm
    events = feed(d, [HI, HI, LO, LO, LO] * 10)
    assert START not in events and not d.active


def test_k_hits_within_n_start_once():
    d = Decision(k=3, n=5, on=1.0, off=0.8)
    events = feed(d, [HI, LO, HI, LO, HI])
    assert events == [None, None, None, None, START] and d.active
    assert feed(d, [HI, HI, HI]) == [None, None, None]  # already active: no second start


def test_hits_spread_wider_than_n_do_not_start():
    d = Decision(k=3, n=5, on=1.0, off=0.8)
    events = feed(d, [HI, LO, LO, HI, LO, LO, HI, LO, LO, HI])
    assert START not in events


def test_score_equal_to_on_is_not_a_hit():
    d = Decision(k=1, n=1, on=1.0, off=0.8)
    assert d.update(1.0) is None
    assert d.update(1.0000001) == START


def test_hysteresis_keeps_alarm_between_off_and_on():
    d = Decision(k=2, n=3, on=1.0, off=0.8, clear=2)
    assert feed(d, [HI, HI]) == [None, START]
    events = feed(d, [MID] * 50)  # under `on` but over `off`: still anomalous
    assert END not in events and d.active
    assert feed(d, [0.8, 0.8]) == [None, None] and d.active  # exactly `off` is not quiet
    assert feed(d, [0.79, 0.79]) == [None, END] and not d.active


def test_clear_after_quiet_windows_in_a_row():
    d = Decision(k=1, n=1, on=1.0, off=0.8, clear=3)
    assert d.update(HI) == START
    # quiet runs shorter than `clear` are reset by a non-quiet window
    assert feed(d, [LO, LO, MID, LO, LO, HI, LO, LO]) == [None] * 8 and d.active
    assert d.update(LO) == END


def test_clear_defaults_to_n():
    d = Decision(k=1, n=4, on=1.0, off=0.8)
    assert d.clear == 4
    d.update(HI)
    assert feed(d, [LO] * 4) == [None, None, None, END]


def test_cooldown_suppresses_a_restart():
    d = Decision(k=1, n=1, on=1.0, off=0.8, clear=1, cooldown=3)
    assert feed(d, [HI, LO]) == [START, END]
    # three windows of cooldown: hits there do not start an alarm
    assert feed(d, [HI, HI, HI]) == [None, None, None]
    assert d.update(HI) == START


def test_cooldown_zero_allows_immediate_restart():
    d = Decision(k=1, n=1, on=1.0, off=0.8, clear=1, cooldown=0)
    assert feed(d, [HI, LO, HI]) == [START, END, START]


def test_cooldown_does_not_delay_the_first_alarm():
    d = Decision(k=1, n=1, cooldown=30)
    assert d.update(HI) == START


def test_hits_during_cooldown_still_count_afterwards():
    """The k-of-n history keeps running during cooldown: when it ends, recent hits count."""
    d = Decision(k=2, n=3, on=1.0, off=0.8, clear=1, cooldown=2)
    assert feed(d, [HI, HI, LO]) == [None, START, END]
    assert feed(d, [HI, HI]) == [None, None]  # cooldown
    assert d.update(HI) == START  # the window history holds HI, HI, HI


def test_reset():
    d = Decision(k=1, n=2, clear=1, cooldown=5)
    d.update(HI)
    d.reset()
    assert not d.active
    assert d.update(HI) == START


def test_from_settings_and_validation():
    d = Decision.from_settings({"k": 2, "n": 4, "on": 1.2, "off": 0.6, "cooldown": 7})
    assert (d.k, d.n, d.on, d.off, d.clear, d.cooldown) == (2, 4, 1.2, 0.6, 4, 7)
    d = Decision.from_settings({})
    assert (d.k, d.n, d.on, d.off, d.cooldown) == (3, 5, 1.0, 0.8, 0)
    for bad in ({"k": 0}, {"k": 6, "n": 5}, {"off": 1.2}, {"off": 0.0}, {"cooldown": -1}):
        with pytest.raises(ValueError):
            Decision.from_settings(bad)
