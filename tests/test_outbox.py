"""device.outbox: confirmation, priorities, spill to flash (and across a reset), time
budget and back-off, counters for the heartbeat."""

from __future__ import annotations

from device import outbox as outbox_mod
from device.spill import FileSpill


class Clock:
    def __init__(self):
        self.ms = 0

    def __call__(self):
        return self.ms & ((1 << 29) - 1)


class Link:
    def __init__(self, clock=None, cost_ms=0):
        self.up = True
        self.got = []
        self.calls = 0
        self.clock = clock
        self.cost_ms = cost_ms

    def send(self, p):
        self.calls += 1
        if self.clock is not None:
            self.clock.ms += self.cost_ms
        if self.up:
            self.got.append(p["seq"])
        return self.up


def _p(seq, kind="event"):
    return {"type": kind, "seq": seq, "device": "d", "t": 0.0}


def test_spill_keeps_every_alert_in_order_and_survives_a_reset(tmp_path):
    path = str(tmp_path / "outbox.jsonl")
    link = Link()
    link.up = False
    box = outbox_mod.Outbox(link, capacity=4, spill=FileSpill(path, 1 << 16, sync_every=2))
    for s in range(1, 21):
        box.put(_p(s, "heartbeat" if s % 5 == 0 else "event"))
    assert box.dropped_events == 0 and box.spilled > 0 and len(box._q) == 4
    # the board resets here: a new outbox finds the file (RAM items are gone)
    link.up = True
    box2 = outbox_mod.Outbox(link, capacity=4, spill=FileSpill(path, 1 << 16, sync_every=2))
    box2.pump(3)
    box3 = outbox_mod.Outbox(link, capacity=4, spill=FileSpill(path, 1 << 16, sync_every=2))
    box3.pump(100)  # resumes after the last synced offset: at most sync_every sent twice
    spilled = [s for s in range(1, 21) if s % 5][: box.spilled]
    assert sorted(set(link.got)) == spilled
    assert len(link.got) - len(set(link.got)) <= 2
    assert not (tmp_path / "outbox.jsonl").exists()


def test_spill_full_drops_oldest_event_and_counts_it(tmp_path):
    link = Link()
    link.up = False
    box = outbox_mod.Outbox(link, capacity=2, spill=FileSpill(str(tmp_path / "o"), 200))
    for s in range(1, 11):
        box.put(_p(s))
    assert box.dropped_events == box.dropped > 0
    assert box.counters()["dropped_events"] == box.dropped_events


def test_time_budget_and_backoff_bound_the_loop():
    clock = Clock()
    link = Link(clock, cost_ms=100)
    box = outbox_mod.Outbox(link, capacity=32, per_pump=10, budget_ms=250, ticks_ms=clock,
                            backoff_ms=1000, backoff_max_ms=4000)
    for s in range(1, 11):
        box._q.append(_p(s))
    assert box.pump() == 3 and box.last_ms == 300  # stops once over the 250 ms budget
    link.up = False
    assert box.pump() == 0 and link.calls == 4  # one failed try ...
    for _ in range(50):
        box.pump()  # ... then nothing while backing off
    assert link.calls == 4
    waits = []
    for _ in range(5):
        t = clock.ms
        while link.calls == len(waits) + 4:
            clock.ms += 50
            box.pump()
        waits.append(clock.ms - t)
    assert waits[0] >= 1000 and waits[-1] >= 4000 and waits[-1] < 4300  # doubles, capped
    link.up = True
    clock.ms += 5000
    assert box.pump() > 0 and box._wait == 0


def test_alerts_outrank_heartbeats_when_full():
    link = Link()
    link.up = False
    box = outbox_mod.Outbox(link, capacity=3)
    box.put(_p(1, "heartbeat"))
    box.put(_p(2, "status"))
    box.put(_p(3))
    box.put(_p(4))  # heartbeat goes
    box.put(_p(5))  # status goes
    assert [p["seq"] for p in box._q] == [3, 4, 5]
    assert box.put(_p(6, "heartbeat")) is False
    assert box.counters() == {"dropped": 3, "dropped_events": 0, "queued": 3}
