"""The outbox's file spill: events that overflow the RAM queue, kept on flash (FileSpill).

A module of its own (heap): device/outbox.py is resident in every configuration, the spill
only on a network board that owns its filesystem (device.telemetry.make_outbox imports it
then; OUTBOX_SPILL_BYTES = 0 or a USB-owned drive never loads it).
"""

import json


class FileSpill:
    """Events that overflow the RAM queue, one JSON line each in a file on flash.

    Lines are appended; a read offset marks what was confirmed. The offset is written to
    `path + ".off"` every `sync_every` confirmations and the file is removed once empty,
    so after a reset at most `sync_every` spilled events are sent again (the receiver
    drops them by (device, seq)). `max_bytes` bounds the file."""

    def __init__(self, path, max_bytes=65536, sync_every=8):
        self.path = path
        self.max_bytes = int(max_bytes)
        self.sync_every = int(sync_every)
        self._size = 0
        self._off = 0
        self._unsynced = 0
        self._next = None  # (payload, line length) read ahead
        try:
            import os

            self._size = os.stat(path)[6]
        except OSError:
            self._size = 0
        if self._size:
            try:
                with open(path + ".off") as f:
                    self._off = int(f.read().strip() or 0)
            except (OSError, ValueError):
                self._off = 0
            if self._off > self._size:
                self._off = 0

    def __len__(self):
        return 1 if self._size > self._off else 0

    def bytes_pending(self):
        return self._size - self._off

    def append(self, payload):
        line = json.dumps(payload) + "\n"
        if self._size + len(line) > self.max_bytes:
            return False
        try:
            with open(self.path, "a") as f:
                f.write(line)
        except OSError:
            return False
        self._size += len(line)
        return True

    def peek(self):
        """The oldest spilled payload (or None)."""
        if self._next is not None:
            return self._next[0]
        while self._off < self._size:
            try:
                with open(self.path) as f:
                    f.seek(self._off)
                    line = f.readline()
            except OSError:
                return None
            if not line:
                self._size = self._off
                break
            try:
                p = json.loads(line)
            except ValueError:  # a line cut by a reset: skip it
                self._off += len(line)
                continue
            self._next = (p, len(line))
            return p
        self._clear()
        return None

    def pop(self):
        if self._next is None:
            return
        self._off += self._next[1]
        self._next = None
        self._unsynced += 1
        if self._off >= self._size:
            self._clear()
        elif self._unsynced >= self.sync_every:
            self._sync()

    def _sync(self):
        self._unsynced = 0
        try:
            with open(self.path + ".off", "w") as f:
                f.write("%d" % self._off)
        except OSError:
            pass

    def _clear(self):
        import os

        for p in (self.path, self.path + ".off"):
            try:
                os.remove(p)
            except OSError:
                pass
        self._size = self._off = self._unsynced = 0
        self._next = None
