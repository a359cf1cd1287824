"""Reading the saved state back (device/persist.py's records): the newest valid record of all
the places a Store keeps (Store.load), its header check and the payload's decoding.

A module of its own for the board's heap: this runs once, at start, while the loop only
ever saves; Store.load imports it and forgets it again, so its code is not in the heap the
loop needs. Only functions live here. The record format's constants are device.persist's,
passed in as `fmt` (the persist module: importing it back from here would be a cycle).
"""

import struct


def decode(data, fmt):
    """Inverse of persist.encode (fmt: the persist module); raises ValueError on a
    malformed payload."""
    if len(data) < fmt._FIXED:
        raise ValueError("state payload too short")
    mid, key = struct.unpack_from("<16sI", data, 0)
    mid = bytes(mid)
    z = mid.find(b"\0")
    if z >= 0:
        mid = mid[:z]
    off = 20
    counters = {}
    for name in fmt.COUNTERS:
        counters[name] = struct.unpack_from("<I", data, off)[0]
        off += 4
    n_modes, _flags, nf = struct.unpack_from("<BBH", data, off)
    off += 4
    if len(data) < fmt.payload_size(n_modes, nf):
        raise ValueError("state payload truncated")
    modes = []
    for _ in range(n_modes):
        updated, _a, _b, _c, thr = struct.unpack_from("<BBBBf", data, off)
        off += 8
        mean = [struct.unpack_from("<f", data, off + 4 * j)[0] for j in range(nf)]
        off += 4 * nf
        scale = [struct.unpack_from("<f", data, off + 4 * j)[0] for j in range(nf)]
        off += 4 * nf
        modes.append((bool(updated), thr, mean, scale))
    return {"model": mid.decode(), "key": key, "counters": counters, "modes": modes}


def unframe(rec, fmt):
    """(seq, payload) of a valid record (persist.frame), or None."""
    h = fmt.HEADER
    if rec is None or len(rec) < h:
        return None
    magic, ver, _r, n, seq, crc = struct.unpack_from(fmt._HFMT, rec, 0)
    if bytes(magic) != fmt.MAGIC or ver != fmt.VERSION or h + n > len(rec):
        return None
    if fmt.crc32(rec, 0, 12) ^ fmt.crc32(rec, h, h + n) != crc:
        return None
    return seq, bytes(rec[h:h + n])


def _newer(a, b):
    """True if sequence number a is after b (wrapping u32)."""
    return ((a - b) & 0xFFFFFFFF) < 0x80000000 and a != b


def load(store, fmt):
    """Store.load: the decoded state of the newest valid record of all the store's places,
    or None; sets which slot of each place the next save writes."""
    best = None
    for dev in store._all():
        dev_best = None
        dev_slot = -1
        for slot in (0, 1):
            try:
                r = unframe(dev.read(slot), fmt)
            except (OSError, ValueError, MemoryError):
                r = None
            if r is None:
                continue
            if dev_best is None or _newer(r[0], dev_best[0]):
                dev_best = r
                dev_slot = slot
        store._set_next(dev, 0 if dev_best is None else 1 - dev_slot)
        if dev_best is not None and (best is None or _newer(dev_best[0], best[0])):
            best = dev_best
            store.source = getattr(dev, "name", "?")
    if best is None:
        return None
    store.seq = best[0]
    try:
        return decode(best[1], fmt)
    except (ValueError, IndexError):
        return None
