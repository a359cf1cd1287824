"""Outbox: where the app hands its events and heartbeats, and how they leave the board.

The app calls `outbox.put(payload)` (a dict) and, once per window, `outbox.pump()`.
Payloads wait in a bounded queue until a transport confirms them (`send` returns True);
when the queue is full an event outranks a heartbeat or status, so the oldest heartbeat
is dropped first. `pump` sends at most a few payloads per call, so a slow link never
holds up sensing for long. Transports today: the serial console, one JSON line each.
Network transports (HTTP, MQTT, LoRa) plug in later with the same `send(payload)`.
"""

import json

# Payload types in the order they are dropped when the queue is full.
_DROP_ORDER = ("heartbeat", "status", "warning")


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


class Outbox:
    """Bounded store-and-forward queue in front of one transport."""

    def __init__(self, transport, capacity=16, per_pump=4):
        if capacity < 1:
            raise ValueError("outbox capacity must be >= 1")
        self.transport = transport
        self.capacity = int(capacity)
        self.per_pump = int(per_pump)
        self._q = []
        self.sent = 0
        self.dropped = 0
        self.failed = 0

    def __len__(self):
        return len(self._q)

    def pending(self):
        return len(self._q)

    def _make_room(self):
        for kind in _DROP_ORDER:
            for i in range(len(self._q)):
                if self._q[i].get("type") == kind:
                    self._q.pop(i)
                    self.dropped += 1
                    return True
        return False

    def put(self, payload):
        """Queue one payload and try to send. Returns False if it had to be dropped."""
        if len(self._q) >= self.capacity and not self._make_room():
            if payload.get("type") in _DROP_ORDER:
                self.dropped += 1
                return False
            self._q.pop(0)  # all events: the oldest goes
            self.dropped += 1
        self._q.append(payload)
        self.pump()
        return True

    def pump(self, budget=None):
        """Send up to `budget` (default per_pump) queued payloads; returns how many went."""
        n = 0
        limit = self.per_pump if budget is None else budget
        while self._q and n < limit:
            try:
                ok = self.transport.send(self._q[0])
            except Exception:  # a transport must never take the loop down
                ok = False
            if not ok:
                self.failed += 1
                break
            self._q.pop(0)
            self.sent += 1
            n += 1
        return n
