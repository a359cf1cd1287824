"""Telemetry payloads: one implementation for the board and the host receiver.

A payload is a dict the app builds (see `event`, `heartbeat`, `status`): device id, sequence
number `seq`, board time `t` (seconds since start), `type` (event, heartbeat, status,
warning), and per type the mode, the score (1.0 = the alarm line), the anomaly flag, the
top contributing features or the thermal hot spot, and counters of sensor faults and
dropped messages.

- JSON for HTTP and MQTT: `dumps` (board), `loads` + `validate` (host: schema check with a
  clear reason, no NaN/Infinity).
- A fixed 49-byte binary layout for LoRa (fits the 51-byte payload of every spreading
  factor): `pack(payload, key)` on the board, `Unpacker(keys).unpack(packet)` on the host,
  which rejects short, long, tampered and replayed packets with a reason. The tag is
  HMAC-SHA256 truncated to 8 bytes; HMAC is written out here because CircuitPython has
  hashlib.sha256 but no hmac module.

Board-safe: no typing, no f-strings, imports only json/struct/hashlib.
"""

import json
import struct

try:
    import hashlib
except ImportError:  # a build without hashlib cannot use LoRa, everything else works
    hashlib = None

TYPES = ("event", "heartbeat", "status", "warning")
EVENTS = ("anomaly_start", "anomaly_end")
# Status values that travel as a code on LoRa (index in this tuple; 15 = other).
STATES = ("normal", "anomaly", "fault", "commissioning", "no_model", "config", "boot",
          "recovered", "commissioned", "commission_restored", "stopped")

MAX_ID = 64          # device id length (JSON)
LORA_ID = 12         # device id bytes in a LoRa packet
TAG_LEN = 8
VERSION = 1
# version/kind, seq, time in 0.1 s, device id, flags, state, mode, score x1000,
# faults, dropped, anomalies, 3 x (feature index, value x100) -- then the tag.
_LAYOUT = ">BII12sBBBHHHHBhBhBh"
BODY_LEN = struct.calcsize(_LAYOUT)
PACKET_LEN = BODY_LEN + TAG_LEN
_KINDS = ("event_start", "event_end", "heartbeat", "status", "warning")
_F_ANOMALY = 1
_F_HOTSPOT = 2
_F_SATURATED = 4
_NONE = 255


class PayloadError(ValueError):
    """A payload or packet that is rejected; the message says why."""


# ---- building (the app calls these so every transport sees the same fields) -----------

def event(ev, score, mode, threshold=1.0, top=None, hotspot=None, window=None, raw=None):
    p = {"type": "event", "event": ev, "score": score, "mode": mode,
         "threshold": threshold, "anomaly": ev == "anomaly_start"}
    if window is not None:
        p["window"] = window
    if raw is not None:
        p["raw"] = raw
    if top is not None:
        p["top"] = top
    if hotspot is not None:
        p["hotspot"] = hotspot
    return p


def heartbeat(state, windows, faults, anomalies, dropped=0, score=None, mode=None,
              anomaly=None):
    p = {"type": "heartbeat", "state": state, "windows": windows, "faults": faults,
         "anomalies": anomalies, "dropped": dropped}
    if score is not None:
        p["score"] = score
        p["mode"] = mode
        p["anomaly"] = bool(anomaly)
    return p


def status(state, error=None, **extra):
    p = {"type": "status", "state": state}
    if error is not None:
        p["error"] = error
    for k in extra:
        p[k] = extra[k]
    return p


# ---- JSON ------------------------------------------------------------------------------

def dumps(payload):
    """One line of JSON (no newline)."""
    return json.dumps(payload)


def _finite(v):
    return v == v and v not in (float("inf"), float("-inf"))


def _is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v)


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
    for k in ("windows", "faults", "anomalies", "dropped", "errors", "window"):
        if k in d and (not isinstance(d[k], int) or isinstance(d[k], bool) or d[k] < 0):
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
    hs = d.get("hotspot")
    if hs is not None:
        if not isinstance(hs, dict) or not all(_is_num(hs.get(k)) for k in ("row", "col", "excess")):
            raise PayloadError("hotspot: expected {row, col, excess} numbers")
    return d


# ---- HMAC-SHA256 (CircuitPython has no hmac module) -----------------------------------

_PADS = [None, None, None]  # the last key and its inner/outer pads: a board has one key


def hmac_sha256(key, msg):
    if hashlib is None:
        raise PayloadError("this build has no hashlib: LoRa packets cannot be signed")
    if _PADS[0] != key:
        k = hashlib.sha256(key).digest() if len(key) > 64 else bytes(key)
        k = k + bytes(64 - len(k))
        _PADS[1] = bytes([b ^ 0x36 for b in k])
        _PADS[2] = bytes([b ^ 0x5C for b in k])
        _PADS[0] = bytes(key)
    inner = hashlib.sha256(_PADS[1])
    inner.update(msg)
    outer = hashlib.sha256(_PADS[2])
    outer.update(inner.digest())
    return outer.digest()


def parse_key(text):
    """A LoRa key from settings: hex text of 16..64 bytes. Raises PayloadError."""
    s = str(text).strip()
    try:
        k = bytes.fromhex(s)
    except ValueError:
        k = None
    if k is None or not 16 <= len(k) <= 64:
        raise PayloadError("LoRa key: expected 32..128 hex digits (16..64 bytes)")
    return k


def lora_id(device):
    """The device id as it travels in a LoRa packet (at most 12 bytes): longer ids keep
    their first 7 characters and a 4-hex-digit hash, so they stay distinct and readable."""
    b = device.encode("utf-8") if isinstance(device, str) else bytes(device)
    if len(b) <= LORA_ID:
        return b.decode("utf-8") if isinstance(device, str) else device
    h = hashlib.sha256(b).digest()
    return b[:7].decode("utf-8", "ignore") + ".%02x%02x" % (h[0], h[1])


# ---- LoRa binary layout ----------------------------------------------------------------

def _u16(v):
    v = int(v)
    return 0 if v < 0 else (65535 if v > 65535 else v)


def _i16(v):
    v = int(round(v))
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


def _kind_of(p):
    t = p.get("type")
    if t == "event":
        return 0 if p.get("event") == "anomaly_start" else 1
    if t == "heartbeat":
        return 2
    if t == "status":
        return 3
    return 4


def pack(p, key, names=None, modes=None):
    """A payload dict -> PACKET_LEN bytes. `names`: the model's feature names (top
    features travel as indexes); `modes`: its mode names (same)."""
    kind = _kind_of(p)
    flags = 0
    if p.get("anomaly"):
        flags |= _F_ANOMALY
    state = p.get("state")
    if state is None and kind < 2:
        state = "anomaly" if kind == 0 else "normal"
    code = STATES.index(state) if state in STATES else 15
    mode = p.get("mode")
    mi = _NONE
    if mode is not None and modes is not None and mode in modes:
        mi = modes.index(mode)
    score = p.get("score")
    sc = 65535
    if score is not None and _finite(score):
        sc = _u16(score * 1000.0 + 0.5)
        if sc == 65535:
            flags |= _F_SATURATED
    slots = [_NONE, 0, _NONE, 0, _NONE, 0]
    hs = p.get("hotspot")
    if hs is not None:
        flags |= _F_HOTSPOT
        slots = [_u16(hs.get("row", 0)) & 255, _i16(hs.get("excess", 0) * 10.0),
                 _u16(hs.get("col", 0)) & 255, 0, _NONE, 0]
    else:
        top = p.get("top") or ()
        for i in range(min(3, len(top))):
            name, val = top[i][0], top[i][1]
            idx = _NONE
            if names is not None and name in names:
                idx = names.index(name)
                if idx > 254:
                    idx = _NONE
            slots[2 * i] = idx
            slots[2 * i + 1] = _i16(val * 100.0)
    dev = lora_id(p["device"]).encode("utf-8")
    t = p.get("t") or 0.0
    body = struct.pack(_LAYOUT, (VERSION << 4) | kind, int(p["seq"]) & 0xFFFFFFFF,
                       _u32(t * 10.0), dev, flags, code, mi, sc,
                       _u16(p.get("faults", 0)), _u16(p.get("dropped", 0)),
                       _u16(p.get("anomalies", 0)),
                       slots[0], slots[1], slots[2], slots[3], slots[4], slots[5])
    return body + hmac_sha256(key, body)[:TAG_LEN]


def _u32(v):
    v = int(v)
    return 0 if v < 0 else (0xFFFFFFFF if v > 0xFFFFFFFF else v)


def _same(a, b):
    """Constant-time comparison of two byte strings of equal length."""
    r = 0
    for i in range(len(a)):
        r |= a[i] ^ b[i]
    return r == 0


class Unpacker:
    """Host side of the LoRa layout: checks length, version, tag and freshness.

    keys: one key (bytes) for every device, or a dict device id -> key.
    Replays: per device, a sequence number must be new within the last `window` numbers
    and not older than that (sliding window as in IPsec); a receiver's storage also
    rejects a (device, seq) it already holds.
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

    def unpack(self, packet, commit=True):
        """Bytes -> payload dict. Raises PayloadError (short, long, version, unknown
        device, bad tag, replayed). With commit=False the replay window is not updated
        (call `accept` once the payload is stored)."""
        n = len(packet)
        if n < PACKET_LEN:
            raise PayloadError("short packet: %d bytes, expected %d" % (n, PACKET_LEN))
        if n > PACKET_LEN:
            raise PayloadError("long packet: %d bytes, expected %d" % (n, PACKET_LEN))
        body, tag = bytes(packet[:BODY_LEN]), bytes(packet[BODY_LEN:])
        f = struct.unpack(_LAYOUT, body)
        if f[0] >> 4 != VERSION:
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
        why = self._check(dev, seq)
        if why:
            raise PayloadError("replayed packet from %r: %s" % (dev, why))
        if commit:
            self.accept(dev, seq)
        return self._payload(f, kind, dev, seq)

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

    def accept(self, dev, seq):
        top, bits = self._seen.get(dev, (None, 0))
        mask = (1 << self.window) - 1
        if top is None:
            self._seen[dev] = (seq, 1)
        elif seq > top:
            self._seen[dev] = (seq, ((bits << (seq - top)) | 1) & mask)
        else:
            self._seen[dev] = (top, bits | (1 << (top - seq)))

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


# ---- Home Assistant MQTT discovery -------------------------------------------------------

def ha_discovery(device, topic="anomaly", prefix="homeassistant"):
    """(topic, JSON text) pairs that make a board appear in Home Assistant by itself: an
    anomaly binary sensor (from its events), a score and a status sensor (from its
    heartbeats). Publish them retained."""
    base = "%s/%s" % (topic, device)
    dev = {"identifiers": ["anomaly_" + device], "name": "Anomaly detector " + device,
           "manufacturer": "circuitpython-anomaly"}
    out = []
    for comp, key, name, state, tmpl, extra in (
            ("binary_sensor", "anomaly", "Anomaly", base + "/event",
             "{{ 'ON' if value_json.anomaly else 'OFF' }}", {"device_class": "problem"}),
            ("sensor", "score", "Score", base + "/heartbeat",
             "{{ value_json.score | default(0) }}", {"state_class": "measurement"}),
            ("sensor", "status", "Status", base + "/heartbeat",
             "{{ value_json.state }}", {})):
        cfg = {"name": name, "unique_id": "%s_%s" % (device, key), "state_topic": state,
               "value_template": tmpl, "device": dev}
        for k in extra:
            cfg[k] = extra[k]
        out.append(("%s/%s/%s_%s/config" % (prefix, comp, device, key), dumps(cfg)))
    return out
