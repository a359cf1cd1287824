"""Checks of telemetry payloads (host side; in device/ so the schema and the LoRa layout
have one implementation next to the code that builds them; the board does not import it).

- `loads(bytes)` / `validate(dict)`: the JSON schema, with a clear reason for the first
  problem, NaN/Infinity refused.
- `Unpacker(keys).unpack(packet)`: the LoRa layout of device.payloads.pack, rejecting
  short, long, tampered and replayed packets with a reason.
"""

import json
import struct

from device.payloads import (_F_ANOMALY, _F_HOTSPOT, _F_SATURATED, _KINDS, _LAYOUT, _LAYOUT_V1,
                             _NONE, BODY_LEN, BODY_LEN_V1, BOOT_MAX, EVENTS, MAX_ID, PACKET_LEN,
                             PACKET_LEN_V1, STATES, TAG_LEN, TYPES, VERSION, PayloadError, _finite,
                             hmac_sha256)

# The board computes in 32-bit floats: a number beyond their range is no measurement, and
# an integer beyond a double's (10**400 is valid JSON) breaks whatever formats it later.
NUM_MAX = 3.4e38
COUNT_MAX = 1 << 53


def _is_num(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v)
            and -NUM_MAX <= v <= NUM_MAX)


def _id_ok(s):
    if not isinstance(s, str) or not 0 < len(s) <= MAX_ID:
        return False
    for c in s:
        if not (c.isalpha() or c.isdigit() or c in "-_.:"):
            return False
    return True


def _reject_constant(name):
    raise PayloadError("not valid JSON: %s is not a number JSON allows" % name)


def loads(data):
    """Bytes or str -> validated payload dict (host side). Raises PayloadError."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeError:
            raise PayloadError("body is not UTF-8")
    try:
        try:
            d = json.loads(data, parse_constant=_reject_constant)
        except TypeError:  # MicroPython's json takes no keywords; validate checks numbers
            d = json.loads(data)
    except PayloadError:
        raise
    except (ValueError, RuntimeError) as e:  # RecursionError is a RuntimeError
        raise PayloadError("not valid JSON: %s" % (e,))
    return validate(d)


def validate(d):
    """Check a payload's schema; returns it. Raises PayloadError naming the first problem."""
    if not isinstance(d, dict):
        raise PayloadError("payload must be a JSON object")
    if not _id_ok(d.get("device")):
        raise PayloadError("device: expected 1..%d characters of letters, digits, - _ . :" % MAX_ID)
    seq = d.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 1 << 53:
        raise PayloadError("seq: expected a whole number >= 0")
    if d.get("type") not in TYPES:
        raise PayloadError("type: expected one of %s" % ", ".join(TYPES))
    if not _is_num(d.get("t")):
        raise PayloadError("t: expected a finite number (board time in seconds)")
    for k in ("score", "threshold", "raw"):
        if k in d and d[k] is not None and not _is_num(d[k]):
            raise PayloadError("%s: expected a finite number" % k)
    boot = d.get("boot", 0)
    if not isinstance(boot, int) or isinstance(boot, bool) or not 0 <= boot <= BOOT_MAX:
        raise PayloadError("boot: expected a whole number 0..%d" % BOOT_MAX)
    for k in ("windows", "faults", "anomalies", "dropped", "errors", "window", "boots"):
        if k in d and (not isinstance(d[k], int) or isinstance(d[k], bool) or not 0 <= d[k] < COUNT_MAX):
            raise PayloadError("%s: expected a whole number >= 0" % k)
    if "anomaly" in d and not isinstance(d["anomaly"], bool):
        raise PayloadError("anomaly: expected true or false")
    if d["type"] == "event":
        if d.get("event") not in EVENTS:
            raise PayloadError("event: expected one of %s" % ", ".join(EVENTS))
        if not _is_num(d.get("score")):
            raise PayloadError("score: an event needs a finite score")
    for k in ("mode", "state", "event", "error", "warning"):
        v = d.get(k)
        if v is not None and (not isinstance(v, str) or len(v) > 200):
            raise PayloadError("%s: expected text of at most 200 characters" % k)
    top = d.get("top")
    if top is not None:
        if not isinstance(top, list) or len(top) > 16:
            raise PayloadError("top: expected a list of at most 16 [name, value] pairs")
        for item in top:
            if (not isinstance(item, list) or len(item) != 2 or not isinstance(item[0], str)
                    or len(item[0]) > 64 or not _is_num(item[1])):
                raise PayloadError("top: expected [name, value] pairs")
    vals = d.get("values")
    if vals is not None:
        # per top feature [value, normal mean, normal spread]; null where the board had no
        # finite number (the host then words that feature by its contribution)
        if not isinstance(vals, list) or len(vals) > 16 or (top is not None and len(vals) != len(top)):
            raise PayloadError("values: expected one [value, normal, spread] per top feature")
        for item in vals:
            if not isinstance(item, list) or len(item) != 3 or \
                    not all(v is None or _is_num(v) for v in item):
                raise PayloadError("values: expected [value, normal, spread] numbers")
    hs = d.get("hotspot")
    if hs is not None:
        if not isinstance(hs, dict) or not all(_is_num(hs.get(k)) for k in ("row", "col", "excess")):
            raise PayloadError("hotspot: expected {row, col, excess} numbers")
        if hs.get("kind") not in (None, "hot", "cold"):
            raise PayloadError("hotspot: kind is hot or cold")
    return d


def _same(a, b):
    """Constant-time comparison of two byte strings of equal length."""
    r = 0
    for i in range(len(a)):
        r |= a[i] ^ b[i]
    return r == 0


class Unpacker:
    """Host side of the LoRa layout: checks length, version, tag and freshness.

    keys: one key (bytes) for every device, or a dict device id -> key.
    Replays: per device and boot id, a sequence number must be new within the last
    `window` numbers and not older than that (sliding window as in IPsec); a receiver's
    storage also recognises a (device, boot, seq) it already holds.
    """

    def __init__(self, keys, names=None, modes=None, window=64):
        self.keys = keys
        self.names = names
        self.modes = modes
        self.window = int(window)
        self._seen = {}  # device -> (highest seq, bitmap of the window below it)

    def _key(self, dev):
        if isinstance(self.keys, dict):
            return self.keys.get(dev)
        return self.keys

    def unpack(self, packet, commit=True, fresh=True):
        """Bytes -> payload dict. Raises PayloadError (short, long, version, unknown
        device, bad tag, replayed). With commit=False the replay window is not updated
        (call `accept` once the payload is stored). With fresh=False the replay window is
        not checked (the receiver asks `received` and lets its storage decide)."""
        n = len(packet)
        if n == PACKET_LEN:
            blen, layout, version = BODY_LEN, _LAYOUT, VERSION
        elif n == PACKET_LEN_V1:
            blen, layout, version = BODY_LEN_V1, _LAYOUT_V1, 1
        elif n < PACKET_LEN:
            raise PayloadError("short packet: %d bytes, expected %d" % (n, PACKET_LEN))
        else:
            raise PayloadError("long packet: %d bytes, expected %d" % (n, PACKET_LEN))
        body, tag = bytes(packet[:blen]), bytes(packet[blen:])
        f = struct.unpack(layout, body)
        if f[0] >> 4 != version:
            raise PayloadError("unknown layout version %d" % (f[0] >> 4))
        kind = f[0] & 15
        if kind >= len(_KINDS):
            raise PayloadError("unknown packet kind %d" % kind)
        try:
            dev = f[3].rstrip(b"\0").decode("utf-8")
        except UnicodeError:
            raise PayloadError("bad tag (device id is not text)")
        key = self._key(dev)
        if key is None:
            raise PayloadError("unknown device %r (no key)" % dev)
        if not _same(hmac_sha256(key, body)[:TAG_LEN], tag):
            raise PayloadError("bad tag: forged or corrupted packet from %r" % dev)
        if not _id_ok(dev):
            raise PayloadError("device id %r is not allowed" % dev)
        seq = f[1]
        boot = f[17] if len(f) > 17 else 0
        why = self._check((dev, boot), seq) if fresh else None
        if why:
            raise PayloadError("replayed packet from %r: %s" % (dev, why))
        if commit:
            self.accept(dev, seq, boot)
        p = self._payload(f[:17], kind, dev, seq)
        if boot:
            p["boot"] = boot
        return p

    def received(self, dev, seq, boot=0):
        """True if (dev, boot, seq) was accepted (stored) within the window."""
        top, bits = self._seen.get((dev, boot), (None, 0))
        return top is not None and 0 <= top - seq < self.window and bool(bits >> (top - seq) & 1)

    def _check(self, dev, seq):
        top, bits = self._seen.get(dev, (None, 0))
        if top is None or seq > top:
            return None
        d = top - seq
        if d >= self.window:
            return "seq %d is older than the window (latest %d)" % (seq, top)
        if bits >> d & 1:
            return "seq %d was already received" % seq
        return None

    def accept(self, dev, seq, boot=0):
        """Mark (dev, boot, seq) as received: call it only once the payload is stored,
        so a packet whose storing failed is taken when the board sends it again."""
        key = (dev, boot)
        top, bits = self._seen.get(key, (None, 0))
        mask = (1 << self.window) - 1
        if top is None:
            self._seen[key] = (seq, 1)
        elif seq > top:
            self._seen[key] = (seq, ((bits << (seq - top)) | 1) & mask)
        else:
            self._seen[key] = (top, bits | (1 << (top - seq)))

    def _name(self, table, i, prefix):
        if i == _NONE:
            return None
        if table is not None and i < len(table):
            return table[i]
        return "%s%d" % (prefix, i)

    def _payload(self, f, kind, dev, seq):
        (_, _, t10, _, flags, code, mi, sc, faults, dropped, anomalies,
         i0, v0, i1, v1, i2, v2) = f
        p = {"device": dev, "seq": seq, "t": t10 / 10.0, "faults": faults,
             "dropped": dropped, "anomalies": anomalies, "anomaly": bool(flags & _F_ANOMALY)}
        if kind < 2:
            p["type"] = "event"
            p["event"] = EVENTS[kind]
            p["threshold"] = 1.0
        else:
            p["type"] = _KINDS[kind]
        if code < len(STATES):
            p["state"] = STATES[code]
        if sc != 65535 or flags & _F_SATURATED:
            p["score"] = sc / 1000.0
        mode = self._name(self.modes, mi, "mode")
        if mode is not None:
            p["mode"] = mode
        if flags & _F_HOTSPOT:
            p["hotspot"] = {"row": i0, "col": i1, "excess": v0 / 10.0}
        else:
            top = []
            for i, v in ((i0, v0), (i1, v1), (i2, v2)):
                if i != _NONE or v != 0:
                    top.append([self._name(self.names, i, "f") or "?", v / 100.0])
            if top:
                p["top"] = top
        return validate(p)
