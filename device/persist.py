"""State that survives a reset: counters and the commissioned mode values.

Two slots, written alternately, each a self-checking record:

    magic b"CPAD" | version u8 | reserved u8 | payload length u16 | sequence u32 | crc32 u32
    payload (see encode here, decode in device/persistload.py)

A write always goes to the slot that does not hold the newest valid record, so a reset
in the middle of a write can only spoil the record being written: the other slot still
holds the previous one, and the CRC tells the reader which is intact. The same records
live either in `microcontroller.nvm` (two halves of a region; always writable by code)
or in two small files (only when boot.py gave the board the filesystem: device/fileslots.py,
imported only then). FAT cannot rename over an existing file, so two files beat
write-temp-then-rename here.

What the ESP32 NVM really does (ports/espressif/common-hal/nvm/ByteArray.c, CircuitPython
9.2-10.x): every slice write reads the whole 8 KiB blob into a new heap buffer (without
collecting first), ERASES ALL of it (nvs_erase_all), writes the blob back and commits. A
reset between the erase and the write empties the NVM, both slots at once. So the Store
writes MIRRORS first, then the NVM, and reads the newest valid record of all of them:
- `alarm.sleep_memory` (RTC memory: kept over watchdog, software and panic resets, lost
  at power-on and brown-out; espressif common-hal/alarm/SleepMemory.c), on every board;
- the two state files, when the board owns the filesystem (kept over power loss too).
A MemoryError (the 8 KiB buffer) or OSError while saving costs that save, not the loop;
the heap is collected before each NVM write.

Payload (little endian): model id (16 ASCII bytes, from the model checksum), commissioning
key (crc32 u32), counters (boots, windows, anomalies, faults, errors, seq: 6 x u32),
n_modes u8, flags u8, n_features u16, then per mode: updated u8, 3 pad bytes,
threshold f32, mean f32 x n, scale f32 x n.
"""

import struct

try:
    from binascii import crc32 as _crc32
except ImportError:  # pragma: no cover - every supported board has it
    _crc32 = None

MAGIC = b"CPAD"
VERSION = 1
HEADER = 16
_HFMT = "<4sBBHII"
COUNTERS = ("boots", "windows", "anomalies", "faults", "errors", "seq")
_FIXED = 16 + 4 + 4 * len(COUNTERS) + 4
U32 = 0xFFFFFFFF


def crc32(data, start=0, end=None):
    if end is None:
        end = len(data)
    mv = memoryview(data)[start:end]
    if _crc32 is not None:
        return _crc32(mv) & U32
    c = U32
    for b in mv:  # plain CRC-32 (IEEE), slow but only used on save/load
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0xEDB88320 & -(c & 1))
    return c ^ U32


def key_of(text):
    return crc32(str(text).encode())


def payload_size(n_modes, n_features):
    return _FIXED + n_modes * (8 + 8 * n_features)


def encode(state, buf=None):
    """state: dict with model (str), key (int), counters (dict), modes (list of
    (updated, threshold, mean list, scale list)) -> bytes-like payload."""
    modes = state.get("modes") or []
    nf = len(modes[0][2]) if modes else 0
    size = payload_size(len(modes), nf)
    if buf is None or len(buf) < size:
        buf = bytearray(size)
    mid = (state.get("model") or "").encode()[:16]
    struct.pack_into("<16sI", buf, 0, mid + b"\0" * (16 - len(mid)), state.get("key", 0) & U32)
    c = state.get("counters") or {}
    off = 20
    for name in COUNTERS:
        struct.pack_into("<I", buf, off, int(c.get(name, 0)) & U32)
        off += 4
    struct.pack_into("<BBH", buf, off, len(modes), 0, nf)
    off += 4
    for updated, thr, mean, scale in modes:
        if len(mean) != nf or len(scale) != nf:
            raise ValueError("all modes must have the same number of features")
        struct.pack_into("<BBBBf", buf, off, 1 if updated else 0, 0, 0, 0, thr)
        off += 8
        for v in mean:
            struct.pack_into("<f", buf, off, v)
            off += 4
        for v in scale:
            struct.pack_into("<f", buf, off, v)
            off += 4
    return memoryview(buf)[:size]


def frame(payload, seq):
    """Header + payload as one bytearray record."""
    rec = bytearray(HEADER + len(payload))
    rec[HEADER:] = payload
    struct.pack_into(_HFMT, rec, 0, MAGIC, VERSION, 0, len(payload), seq & U32, 0)
    struct.pack_into("<I", rec, 12, crc32(rec, 0, 12) ^ crc32(rec, HEADER))
    return rec


class NvmSlots:
    """Two slots in a byte region (microcontroller.nvm): [offset, offset + 2*slot_size)."""

    name = "nvm"

    def __init__(self, nvm, offset=0, slot_size=None, name=None):
        if name is not None:
            self.name = name
        if slot_size is None:
            slot_size = (len(nvm) - offset) // 2
        if slot_size < HEADER + _FIXED or offset + 2 * slot_size > len(nvm):
            raise ValueError("nvm region too small for the state record")
        self.nvm = nvm
        self.offset = offset
        self.slot_size = slot_size

    def capacity(self):
        return self.slot_size

    def read(self, slot):
        # one slice read per slot: on ESP32 every access copies the whole 8 KiB blob
        a = self.offset + slot * self.slot_size
        rec = bytes(self.nvm[a:a + self.slot_size])
        if rec[:4] != MAGIC:
            return None
        n = struct.unpack_from("<H", rec, 6)[0]
        if HEADER + n > self.slot_size:
            return None
        return rec[:HEADER + n]

    def write(self, slot, rec):
        if len(rec) > self.slot_size:
            raise ValueError("state record (%d bytes) does not fit an nvm slot (%d)" % (len(rec), self.slot_size))
        a = self.offset + slot * self.slot_size
        _collect()  # the ESP32 write allocates an 8 KiB copy of the blob without collecting
        self.nvm[a:a + len(rec)] = rec  # same length: nvm slices cannot change size


def _collect():
    """gc.collect() on a board (where the NVM write's 8 KiB buffer needs it); not on
    CPython, whose collections of a big host process cost far more and buy nothing."""
    try:
        import gc
    except ImportError:
        return
    if hasattr(gc, "mem_free"):
        gc.collect()


class Store:
    """The newest valid record across the slots of `slots` and of each mirror; every
    save writes the mirrors first (each to its older slot), then `slots`."""

    def __init__(self, slots, mirrors=()):
        self.slots = slots
        self.mirrors = [m for m in mirrors if m is not None]
        self.seq = 0
        self._next = 0  # the slot the next save writes in `slots`
        self._mnext = {}  # the same per mirror
        self.saves = 0
        self.failed = 0
        self.last_error = None
        self.source = None  # where the state loaded at start came from

    def _set_next(self, dev, slot):
        if dev is self.slots:
            self._next = slot
        else:
            self._mnext[id(dev)] = slot

    def _all(self):
        return self.mirrors + [self.slots]

    def load(self):
        """Decoded state of the newest valid record, or None (device.persistload: read
        once at start, then forgotten)."""
        import sys

        from device import forget, persistload

        try:
            return persistload.load(self, sys.modules[__name__])
        finally:
            forget("device.persistload")

    def save(self, state):
        """Write state to the older slot of every place. Returns True, or False (the
        error in last_error; the next save tries again)."""
        ok = 0
        try:
            rec = frame(encode(state), (self.seq + 1) & U32)
        except (MemoryError, ValueError) as e:
            self.last_error = "%s: %s" % (type(e).__name__, e)
            rec = None
        for dev in (self._all() if rec is not None else ()):
            slot = self._next if dev is self.slots else self._mnext.get(id(dev), 0)
            try:
                dev.write(slot, rec)
            except (OSError, ValueError, MemoryError) as e:
                self.last_error = "%s %s: %s" % (getattr(dev, "name", "?"), type(e).__name__, e)
                continue
            self._set_next(dev, 1 - slot)
            ok += 1
        rec = None
        if not ok:
            self.failed += 1
            return False
        self.seq = (self.seq + 1) & U32
        self.saves += 1
        return True
