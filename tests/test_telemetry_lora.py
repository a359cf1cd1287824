"""LoRa path end to end on one PC: the board's LoraTransport and outbox -> a simulated radio
link that drops, duplicates and corrupts frames (radios replaced at the adafruit_rfm9x
boundary) -> the gateway program -> its serial lines over a pseudo-terminal (pyserial) ->
the receiver. Plus forged and replayed packets injected on the serial line."""

from __future__ import annotations

import inspect
import os
import random
import threading
import time
import tty

import pytest

from device import outbox as outbox_mod
from device import payload_check, payloads, telemetry
from fakes.rfm9x_sim import FakeRFM9x, SimLink
from gateway.gateway import run as gateway_run
from host_tools.fleet import receiver
from host_tools.fleet import store
from host_tools.fleet.hostnet import _S

KEY = bytes.fromhex("8f1c2a3b4d5e6f708192a3b4c5d6e7f8")


def test_fake_radio_matches_the_real_driver_api():
    import adafruit_rfm9x

    real = adafruit_rfm9x.RFM9x
    for name in ("send", "send_with_ack", "receive"):
        a = inspect.signature(getattr(real, name)).parameters
        b = inspect.signature(getattr(FakeRFM9x, name)).parameters
        assert list(a) == list(b), name
    for attr in ("enable_crc", "spreading_factor", "tx_power", "frequency_mhz"):
        assert hasattr(real, attr)


def _opened(path):
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            n += os.readlink("/proc/self/fd/" + fd) == path
        except OSError:
            pass
    return n


def pty_reader(fd):
    """The gateway's read(timeout): one line the host wrote on the serial line, or None."""
    import select

    buf = bytearray()

    def read(timeout):
        end = time.monotonic() + timeout
        while b"\n" not in buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            buf.extend(os.read(fd, 256))
        i = buf.index(b"\n")
        line = bytes(buf[:i]).decode()
        del buf[:i + 1]
        return line

    return read


def _p(seq, kind):
    if kind == "event":
        p = payloads.event("anomaly_start" if seq % 4 == 1 else "anomaly_end", 1.7, "high",
                           top=[["band_3", 0.4]])
    else:
        p = payloads.heartbeat("normal", seq, 0, 0, score=0.2, mode="low", anomaly=False)
    p.update(device="fan-lora", seq=seq, t=seq * 1.28)
    return p


def test_lora_link_with_loss_duplicates_and_corruption(tmp_path):
    # CRC on: the radios discard corrupted frames (crc_miss=0). Phase 2 lets corrupted
    # frames through as if the CRC missed them: the tag must stop every one.
    link = SimLink(drop=0.15, dup=0.15, corrupt=0.15, crc_miss=0.0, seed=4)
    board = FakeRFM9x(link)
    s = _S(TELEMETRY="lora", LORA_KEY=KEY.hex(), LORA_SF=7, LORA_POWER=14, LORA_NODE=1,
           LORA_GATEWAY=2, LORA_RETRIES=3)
    tr = telemetry._setup_radio(board, s)
    assert board.enable_crc and board.spreading_factor == 7 and board.tx_power == 14
    tr.ack_wait = 0.4  # the gateway acknowledges after the host's confirmation (<= 0.25 s)
    gw = FakeRFM9x(link, node=2)
    gw.receive_timeout = 0.05

    master, slave = os.openpty()
    tty.setraw(slave)
    lines_seen = []

    def write(line):
        lines_seen.append(line)
        os.write(master, (line + "\n").encode())

    st = store.open_store(str(tmp_path / "l.db"))
    rx = receiver.Receiver(st, unpacker=payload_check.Unpacker(KEY), log=lambda line: None)
    name = os.ttyname(slave)
    port = receiver.GatewaySerial(name)
    rx.serve_lora(port, port.reply)  # the host confirms each stored packet to the gateway
    # pyserial flushes the input when it opens the port: start the gateway after that
    end = time.monotonic() + 10
    while _opened(name) < 2 and time.monotonic() < end:
        time.sleep(0.02)
    threading.Thread(target=gateway_run, args=(gw, write, pty_reader(master)), daemon=True).start()

    box = outbox_mod.Outbox(tr, capacity=64, per_pump=4, backoff_ms=0)
    sent = {}

    def produce(seqs):
        for seq in seqs:
            p = _p(seq, "event" if seq % 3 else "heartbeat")
            sent[seq] = dict(p)
            box.put(p)
            box.pump()
        end = time.monotonic() + 60
        while len(box) and time.monotonic() < end:
            box.pump()
        assert len(box) == 0 and box.dropped == 0

    def settle(n):
        end = time.monotonic() + 10
        while st.count() < n and time.monotonic() < end:
            time.sleep(0.05)
        time.sleep(0.2)

    produce(range(1, 121))
    settle(120)
    rows = st.events()
    assert sorted(r["seq"] for r in rows) == list(range(1, 121))  # every payload, once
    r0 = next(r for r in rows if r["seq"] == 1)
    assert r0["event"] == "anomaly_start" and r0["score"] == 1.7 and r0["source"] == "lora"
    stats = dict(link.stats)
    assert stats["dropped"] and stats["duplicated"] and stats["corrupted"]
    print("lora sim phase 1: %s, crc errors board %d gateway %d, receiver rejected %s"
          % (stats, board.crc_error_count, gw.crc_error_count, rx.counters()["rejected"]))

    link.corrupt, link.crc_miss = 0.3, 1.0
    produce(range(121, 181))
    settle(180)
    for r in st.events():  # whatever got in is exactly what the board sent
        p = sent[r["seq"]]
        assert (r["device"], r["kind"], r["event"], r["score"]) == (p["device"], p["type"], p.get("event"), p["score"])
    c = rx.counters()
    assert any("bad tag" in k or "device" in k or "version" in k or "kind" in k for k in c["rejected"])
    print("lora sim phase 2 (CRC misses every corruption): %d of 60 stored, 0 bad rows, rejected %s"
          % (st.count() - 120, c["rejected"]))

    # forged and replayed packets on the serial line: none is stored
    rng = random.Random(3)
    good = [ln for ln in lines_seen if ln.startswith("LORA ")]
    n_before = st.count()
    tried = 0
    for i in range(600):
        k = i % 6
        if k == 0:  # replay a captured packet
            line = rng.choice(good)
        elif k == 1:  # random bytes of the right length
            line = "LORA " + os.urandom(payloads.PACKET_LEN).hex()
        elif k == 2:  # a valid-looking packet signed with another key
            line = "LORA " + payloads.pack(_p(1000 + i, "event"), os.urandom(16)).hex()
        elif k == 3:  # a captured packet with bits flipped
            b = bytearray(bytes.fromhex(rng.choice(good).split()[1]))
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            line = "LORA " + b.hex()
        elif k == 4:  # short, long, not hex
            line = rng.choice(["LORA " + os.urandom(rng.randrange(1, 49)).hex(),
                               "LORA " + os.urandom(rng.randrange(50, 250)).hex(), "LORA zz", "LORA"])
        else:  # a forged device id with the real tag of another packet
            b = bytearray(bytes.fromhex(rng.choice(good).split()[1]))
            b[9:21] = b"evil-device\0"
            line = "LORA " + b.hex()
        ok, why = rx.ingest_lora(line)
        # a replayed authentic packet is confirmed (the board's resend after a lost ACK
        # looks the same) but never stored again
        assert not ok or (k == 0 and why == "duplicate"), (line, why)
        tried += 1
    assert st.count() == n_before
    print("lora fuzz: %d forged/replayed/malformed lines tried, 0 stored" % tried)

    # the storage fails (disk full): nothing is confirmed, the sequence is not marked as
    # seen, and the board's resend is stored once storage works again
    pkt = payloads.pack(_p(500, "event"), KEY)
    line = "LORA %s -60 9.5" % pkt.hex()
    real_add = st.add
    st.add = lambda *a, **k: (_ for _ in ()).throw(store.StoreError("disk full"))
    with pytest.raises(store.StoreError):
        rx.ingest_lora(line)
    st.add = real_add
    assert rx.ingest_lora(line) == (True, "stored")
    assert rx.ingest_lora(line) == (True, "duplicate")
    assert [r["seq"] for r in st.events() if r["seq"] == 500] == [500]
    rx.close()  # the serial input ends (and would not reopen a pty number reused later)
    os.close(master)
    os.close(slave)
    st.close()


def test_dead_lora_link_costs_bounded_time():
    link = SimLink(drop=1.0)
    board = FakeRFM9x(link)
    s = _S(TELEMETRY="lora", LORA_KEY=KEY.hex(), LORA_SF=7, LORA_RETRIES=2)
    tr = telemetry._setup_radio(board, s)
    tr.ack_wait = 0.01
    assert tr.send(_p(1, "event")) is False
    # a dead link costs LORA_RETRIES transmissions and ACK waits, no more
    assert link.stats["sent"] == 2


def test_gateway_acknowledges_only_after_the_host_confirms():
    """The radio ACK waits for the host's `ACK <tag>`: none without a host, none for a
    confirmation of another packet, one after the right confirmation."""
    link = SimLink()
    board = FakeRFM9x(link, node=1)
    board.destination = 2
    gw = FakeRFM9x(link, node=2)
    pkt = payloads.pack(dict(_p(1, "event"), boot=5), KEY)
    tag = pkt[-8:].hex()

    def exchange(read):
        lines = []
        t = threading.Thread(target=gateway_run, args=(gw, lines.append, read),
                             kwargs={"host_wait": 0.2, "max_packets": 1})
        t.start()
        board.send(pkt, keep_listening=True, identifier=7, flags=0)
        ack = board.receive(timeout=1.0, with_header=True)
        t.join(5)
        assert lines[-1].startswith("LORA " + pkt.hex())
        return ack

    assert exchange(None) is None  # a gateway without a host acknowledges nothing
    assert exchange(lambda timeout: "ACK " + "00" * 8) is None  # another packet's confirmation
    replies = iter(["ACK " + "11" * 8, "ACK " + tag.upper() + "\r"])
    ack = exchange(lambda timeout: next(replies, None))
    assert ack is not None and ack[2] == 7 and ack[3] & 0x80 and ack[0] == 1
