"""The LoRa packet: a fixed 51-byte binary layout (the 51-byte payload of every spreading
factor) with an HMAC-SHA256 tag truncated to 8 bytes: `pack(payload, key, names, modes)`.

A module of its own (heap): a LoRa board imports only this for its packets
(device/lorasend.py); device/payloads.py re-exports it for the host, and
device/payload_check.py decodes the same layout there (Unpacker). An MQTT or HTTP board
imports neither.

The layout has no room for `values` (a LoRa event is explained by its contributions alone)
and carries a cold spot as a negative excess. HMAC is written out here because not every
supported CircuitPython has an hmac module, and SHA-256 comes from device.hashing
(`hashlib.new("sha256")`, or pure Python on 9.x / 10.0.x, whose hashlib has only sha1).

Board-safe: no typing, no f-strings, imports only struct/device.hashing.
"""

import struct

from device.hashing import sha256 as _sha256

# Status values that travel as a code on LoRa (index in this tuple; 15 = other).
STATES = ("normal", "anomaly", "fault", "commissioning", "no_model", "config", "boot",
          "recovered", "commissioned", "commission_restored", "stopped")

LORA_ID = 12         # device id bytes in a LoRa packet
TAG_LEN = 8
VERSION = 2
# version/kind, seq, time in 0.1 s, device id, flags, state, mode, score x1000,
# faults, dropped, anomalies, 3 x (feature index, value x100), boot id -- then the tag.
_LAYOUT = ">BII12sBBBHHHHBhBhBhH"
BODY_LEN = struct.calcsize(_LAYOUT)
PACKET_LEN = BODY_LEN + TAG_LEN
# layout 1 (boards from before the boot id): the same without the last field
_LAYOUT_V1 = ">BII12sBBBHHHHBhBhBh"
BODY_LEN_V1 = struct.calcsize(_LAYOUT_V1)
PACKET_LEN_V1 = BODY_LEN_V1 + TAG_LEN
BOOT_MAX = 0xFFFF
_KINDS = ("event_start", "event_end", "heartbeat", "status", "warning")
_F_ANOMALY = 1
_F_HOTSPOT = 2
_F_SATURATED = 4
_NONE = 255


def _finite(v):
    return v == v and v not in (float("inf"), float("-inf"))


# ---- HMAC-SHA256 (RFC 2104, written out: not every CircuitPython has hmac) --------------

_PADS = [None, None, None]  # the last key and its inner/outer pads: a board has one key


def hmac_sha256(key, msg):
    if _PADS[0] != key:
        k = _sha256(key).digest() if len(key) > 64 else bytes(key)
        k = k + bytes(64 - len(k))
        _PADS[1] = bytes([b ^ 0x36 for b in k])
        _PADS[2] = bytes([b ^ 0x5C for b in k])
        _PADS[0] = bytes(key)
    inner = _sha256(_PADS[1])
    inner.update(msg)
    outer = _sha256(_PADS[2])
    outer.update(inner.digest())
    return outer.digest()


def lora_id(device):
    """The device id as it travels in a LoRa packet (at most 12 bytes): longer ids keep
    their first 7 characters and a 4-hex-digit hash, so they stay distinct and readable."""
    b = device.encode("utf-8") if isinstance(device, str) else bytes(device)
    if len(b) <= LORA_ID:
        return b.decode("utf-8") if isinstance(device, str) else device
    h = _sha256(b).digest()
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
                       slots[0], slots[1], slots[2], slots[3], slots[4], slots[5],
                       int(p.get("boot") or 0) & BOOT_MAX)
    return body + hmac_sha256(key, body)[:TAG_LEN]


def _u32(v):
    v = int(v)
    return 0 if v < 0 else (0xFFFFFFFF if v > 0xFFFFFFFF else v)
