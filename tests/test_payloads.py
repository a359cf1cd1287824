"""device.payloads: JSON schema checks, HMAC, the LoRa layout and its rejections."""

import hashlib
import hmac
import json
import os
import struct

import pytest

from device import payload_check as pc
from device import payloads as pl

KEY = bytes(range(16))


def _event(seq=7, **kw):
    p = pl.event("anomaly_start", 2.345, "high", top=[["band_3", 0.61], ["rms", 0.2]])
    p.update(device="fan-1", seq=seq, t=123.4, faults=2, dropped=1, anomalies=3)
    p.update(kw)
    return p


@pytest.mark.parametrize("n", [0, 1, 16, 63, 64, 65, 200])
def test_hmac_matches_stdlib(n):
    key = os.urandom(n)
    msg = os.urandom(n * 3 + 1)
    assert pl.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


def test_packet_fits_51_bytes_and_round_trips():
    assert pl.PACKET_LEN <= 51
    names = ["rms", "kurtosis", "band_3"]
    pkt = pl.pack(_event(), KEY, names=names, modes=["off", "low", "high"])
    assert len(pkt) == pl.PACKET_LEN
    p = pc.Unpacker(KEY, names=names, modes=["off", "low", "high"]).unpack(pkt)
    assert p["device"] == "fan-1" and p["seq"] == 7 and p["t"] == 123.4
    assert p["type"] == "event" and p["event"] == "anomaly_start" and p["anomaly"] is True
    assert p["score"] == 2.345 and p["mode"] == "high"
    assert p["top"] == [["band_3", 0.61], ["rms", 0.2]]
    assert (p["faults"], p["dropped"], p["anomalies"]) == (2, 1, 3)


def test_heartbeat_and_hotspot_and_long_id():
    hb = pl.heartbeat("normal", 600, 0, 1, dropped=4, score=0.31, mode="low", anomaly=False)
    hb.update(device="a-very-long-device-name", seq=9, t=5.0)
    p = pc.Unpacker(KEY).unpack(pl.pack(hb, KEY))
    assert p["type"] == "heartbeat" and p["state"] == "normal" and p["score"] == 0.31
    assert p["device"] == pl.lora_id("a-very-long-device-name") and len(p["device"]) == 12
    ev = _event(top=None, hotspot={"row": 5, "col": 30, "excess": 12.5})
    p = pc.Unpacker(KEY).unpack(pl.pack(ev, KEY))
    assert p["hotspot"] == {"row": 5, "col": 30, "excess": 12.5}
    big = _event(score=1e9)
    assert pc.Unpacker(KEY).unpack(pl.pack(big, KEY))["score"] == 65.535  # saturates


def test_rejections_have_reasons():
    pkt = pl.pack(_event(), KEY)
    u = pc.Unpacker(KEY)
    with pytest.raises(pl.PayloadError, match="short packet"):
        u.unpack(pkt[:-1])
    with pytest.raises(pl.PayloadError, match="long packet"):
        u.unpack(pkt + b"\0")
    for i in range(len(pkt)):  # every single-byte change is caught
        bad = bytearray(pkt)
        bad[i] ^= 0x10
        with pytest.raises(pl.PayloadError):
            u.unpack(bytes(bad))
    with pytest.raises(pl.PayloadError, match="bad tag"):
        u.unpack(pl.pack(_event(), b"x" * 16))  # forged with another key
    assert u.unpack(pkt)["seq"] == 7
    with pytest.raises(pl.PayloadError, match="replayed.*already received"):
        u.unpack(pkt)
    u.unpack(pl.pack(_event(seq=200), KEY))
    with pytest.raises(pl.PayloadError, match="older than the window"):
        u.unpack(pl.pack(_event(seq=100), KEY))
    assert u.unpack(pl.pack(_event(seq=150), KEY))["seq"] == 150  # late but new: fine
    with pytest.raises(pl.PayloadError, match="unknown device"):
        pc.Unpacker({"other": KEY}).unpack(pkt)


def test_json_validation():
    good = _event()
    assert pc.loads(pl.dumps(good)) == json.loads(json.dumps(good))
    cases = [
        (b"\xff\xfe", "UTF-8"), (b"{", "not valid JSON"), (b"[]", "JSON object"),
        (json.dumps({**good, "device": ""}), "device"),
        (json.dumps({**good, "device": "a/b"}), "device"),
        (json.dumps({**good, "seq": -1}), "seq"), (json.dumps({**good, "seq": True}), "seq"),
        (json.dumps({**good, "type": "x"}), "type"),
        (json.dumps({**good, "event": "x"}), "event"),
        (json.dumps({**good, "score": "1"}), "score"),
        (pl.dumps(good).replace("2.345", "NaN"), "NaN"),
        (pl.dumps(good).replace("2.345", "Infinity"), "Infinity"),
        (json.dumps({**good, "top": [["a"]]}), "top"),
        (json.dumps({**good, "anomaly": 1}), "anomaly"),
        (json.dumps({**good, "t": None}), "t:"),
        ("[" * 100000 + "]" * 100000, "not valid JSON|JSON object"),
    ]
    for body, why in cases:
        with pytest.raises(pl.PayloadError, match=why):
            pc.loads(body)


def test_parse_key():
    assert pl.parse_key("00" * 16) == bytes(16)
    for bad in ("", "zz" * 16, "00" * 8, "00" * 65):
        with pytest.raises(pl.PayloadError):
            pl.parse_key(bad)


def test_ha_discovery_messages():
    msgs = dict(pl.ha_discovery("fan-1", "anomaly", "homeassistant"))
    cfg = json.loads(msgs["homeassistant/binary_sensor/fan-1_anomaly/config"])
    assert cfg["state_topic"] == "anomaly/fan-1/event" and cfg["device_class"] == "problem"
    assert json.loads(msgs["homeassistant/sensor/fan-1_score/config"])["state_topic"] == "anomaly/fan-1/heartbeat"
    assert "homeassistant/sensor/fan-1_status/config" in msgs


def test_layout_is_fixed():
    # layout 2 carries the boot id and uses the whole 51-byte budget; layout 1 (49 bytes,
    # boards from before the boot id) is still read
    assert struct.calcsize(pl._LAYOUT) + pl.TAG_LEN == 51 == pl.PACKET_LEN
    assert struct.calcsize(pl._LAYOUT_V1) + pl.TAG_LEN == 49 == pl.PACKET_LEN_V1


def test_boot_id_travels_and_keys_the_replay_window():
    u = pc.Unpacker(KEY)
    a = u.unpack(pl.pack(_event(seq=5, boot=4321), KEY))
    assert a["boot"] == 4321 and a["seq"] == 5
    # the board restarted with its sequence at 1 (storage wiped): a new boot id, accepted
    assert u.unpack(pl.pack(_event(seq=1, boot=77), KEY))["boot"] == 77
    with pytest.raises(pl.PayloadError, match="already received"):
        u.unpack(pl.pack(_event(seq=1, boot=77), KEY))
    # a 49-byte layout-1 packet (no boot id) from an older board
    p = _event(seq=9)
    body = struct.pack(pl._LAYOUT_V1, (1 << 4) | 0, 9, 1234, b"fan-1", 1, 1, 255, 2345, 2, 1, 3,
                       255, 61, 255, 20, 255, 0)
    old = u.unpack(body + pl.hmac_sha256(KEY, body)[:pl.TAG_LEN])
    assert old["seq"] == 9 and "boot" not in old and old["device"] == p["device"]


def test_numbers_outside_the_float_range_are_refused():
    good = _event()
    for bad in ({**good, "top": [["rms", 10 ** 400]]}, {**good, "score": 10 ** 40}, {**good, "t": -1e39},
                {**good, "hotspot": {"row": 1, "col": 2, "excess": 10 ** 39}}, {**good, "faults": 1 << 60},
                {**good, "boot": 70000}, {**good, "boot": -1}, {**good, "boot": "x"}):
        with pytest.raises(pl.PayloadError):
            pc.validate(json.loads(json.dumps(bad)))
    with pytest.raises(pl.PayloadError):  # 10**400 as the JSON text a sender posts
        pc.loads(pl.dumps(good).replace("0.61", "1" + "0" * 400))
    assert pc.validate({**good, "score": 3.3e38, "boot": 65535})["boot"] == 65535


def test_values_against_normal_json_and_lora():
    """`values` ([value, normal, spread] per top feature) is checked in JSON; a LoRa
    packet has no room for it (the same 51 bytes, explained by contributions) and carries
    a cold spot as a negative excess."""
    ev = _event(values=[[-2.1, -5.05, 0.4], [0.3, None, None]])
    assert pc.loads(pl.dumps(ev))["values"] == [[-2.1, -5.05, 0.4], [0.3, None, None]]
    for bad in ([[1.0, 2.0]], [[1.0, 2.0, 3.0]], [[1.0, 2.0, "x"], [1, 2, 3]], "x",
                [[1.0, 2.0, 1e39], [1, 2, 3]]):
        with pytest.raises(pl.PayloadError, match="values"):
            pc.validate(dict(ev, values=bad))
    assert pc.validate(_event()) is not None  # a board from before `values`
    with pytest.raises(pl.PayloadError, match="kind"):
        pc.validate(_event(hotspot={"row": 1, "col": 2, "excess": 3, "kind": "warm"}))
    pkt = pl.pack(ev, KEY, names=["rms", "band_3"])
    assert len(pkt) == pl.PACKET_LEN == 51
    p = pc.Unpacker(KEY, names=["rms", "band_3"]).unpack(pkt)
    assert "values" not in p and p["top"] == [["band_3", 0.61], ["rms", 0.2]]
    cold = _event(top=None, hotspot={"row": 7.47, "col": 26.74, "area": 19, "excess": -23.8, "z": -32.3,
                                     "kind": "cold"})
    assert pc.validate(cold) is cold
    assert pc.Unpacker(KEY).unpack(pl.pack(cold, KEY))["hotspot"]["excess"] == -23.8
