"""Outbox: store-and-forward between the app and one transport.

The app calls `outbox.put(payload)` (a dict) and, once per window, `outbox.pump()`.
- A payload leaves only when the transport confirms it (`send` returns True).
- The RAM queue is bounded. When it is full, heartbeats go first (the newest heartbeat
  carries current counters), then warnings and status, and events (alerts)
  last. With a `FileSpill` (the board owns its filesystem) events that do not fit in RAM
  are appended to a file on flash instead of dropped, and are sent first (they are older).
- A dead link costs the loop little: one pump spends at most `budget_ms` (checked between
  sends, so the worst case is the budget plus one transport timeout), and after a failure
  nothing is tried again for a back-off time (`backoff_ms`, doubling up to
  `backoff_max_ms`; 0 = retry at every pump, as the console needs).
- `dropped` / `dropped_events` count what was lost; `counters()` returns them for the next
  heartbeat.

Transports: `send(payload) -> True/False` (device.telemetry builds HTTP, MQTT and LoRa);
here only the serial console and the null transport. The file spill is device/spill.py,
imported only by a board that uses it (heap: this module is resident in every
configuration).
"""

import json

# Payload types in the order they are dropped when the queue is full; events last.
_DROP_ORDER = ("heartbeat", "warning", "status")
_MASK = (1 << 29) - 1  # supervisor.ticks_ms wraps at 2**29


def dumps(payload):
    """A payload as one line of JSON (no newline)."""
    return json.dumps(payload)


class ConsoleTransport:
    """Prints each payload as one JSON line (`write` defaults to print)."""

    name = "console"

    def __init__(self, write=None):
        self._write = write if write is not None else print

    def send(self, payload):
        self._write(dumps(payload))
        return True


class NullTransport:
    """Accepts and discards (TELEMETRY = "none")."""

    name = "none"

    def send(self, payload):
        return True


def _default_ticks():
    import time

    if hasattr(time, "ticks_ms"):
        return time.ticks_ms
    return lambda: int(time.monotonic() * 1000) & _MASK


class Outbox:
    """Bounded store-and-forward queue in front of one transport."""

    def __init__(self, transport, capacity=16, per_pump=4, budget_ms=250, ticks_ms=None,
                 spill=None, backoff_ms=0, backoff_max_ms=30000):
        if capacity < 1:
            raise ValueError("outbox capacity must be >= 1")
        self.transport = transport
        self.capacity = int(capacity)
        self.per_pump = int(per_pump)
        self.budget_ms = int(budget_ms)
        self.spill = spill
        self.backoff_ms = int(backoff_ms)
        self.backoff_max_ms = int(backoff_max_ms)
        self._ticks = ticks_ms if ticks_ms is not None else _default_ticks()
        self._q = []
        self._wait = 0          # current back-off (0: link believed up)
        self._since = 0         # ticks of the last failure
        self.sent = 0
        self.dropped = 0        # every payload lost (events included)
        self.dropped_events = 0
        self.failed = 0         # failed send attempts
        self.spilled = 0
        self.last_ms = 0        # time the last pump spent

    def __len__(self):
        return len(self._q) + (len(self.spill) if self.spill is not None else 0)

    def counters(self):
        """For the next heartbeat: what was lost, what waits."""
        return {"dropped": self.dropped, "dropped_events": self.dropped_events,
                "queued": len(self._q)}

    def _drop(self, p):
        self.dropped += 1
        if p.get("type") not in _DROP_ORDER:
            self.dropped_events += 1

    def _make_room(self):
        for kind in _DROP_ORDER:
            for i in range(len(self._q)):
                if self._q[i].get("type") == kind:
                    self._drop(self._q.pop(i))
                    return True
        return False

    def put(self, payload):
        """Queue one payload and try to send. Returns False if it had to be dropped."""
        kind = payload.get("type")
        if len(self._q) >= self.capacity and not self._make_room():
            if kind in _DROP_ORDER:
                self._drop(payload)
                return False
            oldest = self._q.pop(0)  # all events: the oldest goes to flash, or is lost
            if self.spill is not None and self.spill.append(oldest):
                self.spilled += 1
            else:
                self._drop(oldest)
        self._q.append(payload)
        self.pump()
        return True

    def _due(self, now):
        return self._wait == 0 or ((now - self._since) & _MASK) >= self._wait

    def pump(self, budget=None):
        """Send up to `budget` (default per_pump) payloads within budget_ms; returns how
        many went. Skips at once while backing off after a failure."""
        t0 = self._ticks()
        self.last_ms = 0
        if not self._due(t0):
            return 0
        n = 0
        limit = self.per_pump if budget is None else budget
        while n < limit:
            from_spill = False
            p = None
            if self.spill is not None:
                p = self.spill.peek()
                from_spill = p is not None
            if p is None:
                if not self._q:
                    break
                p = self._q[0]
            try:
                ok = self.transport.send(p)
            except Exception:  # a transport must never take the loop down
                ok = False
            now = self._ticks()
            self.last_ms = (now - t0) & _MASK
            if not ok:
                self.failed += 1
                self._since = now
                w = self._wait * 2 if self._wait else self.backoff_ms
                self._wait = w if w < self.backoff_max_ms else self.backoff_max_ms
                break
            self._wait = 0
            if from_spill:
                self.spill.pop()
            else:
                self._q.pop(0)
            self.sent += 1
            n += 1
            if self.last_ms >= self.budget_ms:
                break
        return n

    def flush(self, timeout_ms=10000, sleep=None):
        """Pump until empty or timeout (host tools; the board never blocks like this)."""
        t0 = self._ticks()
        while len(self) and ((self._ticks() - t0) & _MASK) < timeout_ms:
            self._wait = 0 if self._wait and sleep is None else self._wait
            if self.pump() == 0 and sleep is not None:
                sleep(0.05)
        return len(self) == 0
