"""Telemetry payloads: one implementation for the board and the host receiver.

A payload is a dict the app builds (see `event`, `heartbeat`, `status`): device id, sequence
number `seq`, board time `t` (seconds since start), `type` (event, heartbeat, status,
warning), and per type the mode, the score (1.0 = the alarm line), the anomaly flag, the
top contributing features (`top`: [name, contribution] pairs; `values`: for each of them
[value, normal mean, normal spread] in the mode, so a host can say "19x normal") or the
thermal hot or cold spot (`hotspot`: row, col, area, excess in deg C, negative when
cold, z, kind "hot"/"cold"), and counters of sensor faults and dropped messages.

- JSON for HTTP and MQTT: `dumps` here (json.dumps: the board's transports call that
  directly); the checks (`loads`, `validate`) and the LoRa decoder (`Unpacker`) are in
  device/payload_check.py, which the host uses and the board never imports (it saves the
  board their heap).
- Heap: no board transport imports this module. The LoRa layout and its HMAC are in
  device/lorapack.py (what a LoRa board loads), the Home Assistant discovery messages in
  device/hadiscovery.py (an MQTT board with discovery on); both are re-exported here, so
  the host and the tests keep one name for the whole schema. On a board this module is
  imported at setup only (the settings check and the LoRa key), and dropped with the
  setup modules (device/wiring.py).
- A fixed 51-byte binary layout for LoRa (the 51-byte payload of every spreading
  factor): `pack(payload, key)`; it has no room for `values` (a LoRa event is
  explained by its contributions alone) and carries a cold spot as a negative excess;
  Unpacker rejects short, long, tampered and replayed
  packets with a reason (and still reads the 49-byte layout 1, which had no boot id).
- `boot`: a random 16-bit id a board draws at every start (device.app.new_boot_id). A
  receiver keys payloads by (device, boot, seq), so a board whose sequence restarts
  (storage wiped, a replacement with the same id) is stored, not dropped as a repeat.
- The tag is HMAC-SHA256 truncated to 8 bytes; HMAC is written out (device/lorapack.py) because not every
  supported CircuitPython has an hmac module, and SHA-256 comes from device.hashing
  (`hashlib.new("sha256")`, or pure Python on 9.x / 10.0.x, whose hashlib has only sha1).

Board-safe: no typing, no f-strings, imports only json and device.lorapack.
"""

import json

from device.lorapack import (_F_ANOMALY, _F_HOTSPOT, _F_SATURATED, _KINDS, _LAYOUT,  # noqa: F401 (re-exported)
                             _LAYOUT_V1, _NONE, _PADS, BODY_LEN, BODY_LEN_V1, BOOT_MAX, LORA_ID, PACKET_LEN,
                             PACKET_LEN_V1, STATES, TAG_LEN, VERSION, _finite, hmac_sha256, lora_id, pack)

TYPES = ("event", "heartbeat", "status", "warning")
EVENTS = ("anomaly_start", "anomaly_end")
MAX_ID = 64          # device id length (JSON)


class PayloadError(ValueError):
    """A payload or packet that is rejected; the message says why."""


# ---- building (the app calls these so every transport sees the same fields) -----------

def event(ev, score, mode, threshold=1.0, top=None, hotspot=None, window=None, raw=None,
          values=None):
    p = {"type": "event", "event": ev, "score": score, "mode": mode,
         "threshold": threshold, "anomaly": ev == "anomaly_start"}
    if window is not None:
        p["window"] = window
    if raw is not None:
        p["raw"] = raw
    if top is not None:
        p["top"] = top
    if values is not None:
        p["values"] = values
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


def ha_discovery(device, topic="anomaly", prefix="homeassistant"):
    """(topic, JSON text) pairs that make a board appear in Home Assistant (device/hadiscovery.py)."""
    from device.hadiscovery import ha_discovery as make

    return make(device, topic, prefix)
