"""A simulated LoRa link at the adafruit_rfm9x boundary: `FakeRFM9x` has the attributes
and methods of adafruit_rfm9x.RFM9x that the board transport and the gateway use (send,
send_with_ack, receive with the RadioHead 4-byte header, ACKs, retries, seen_ids), and
`SimLink` carries frames between radios, dropping, duplicating and corrupting them.

Written from adafruit_rfm9x.py 2.2.25 (Adafruit_CircuitPython_RFM9x, the version pip
installs for the tests):
- `frequency_mhz` setter raises RuntimeError outside 240..960 MHz (also from __init__);
- `spreading_factor` setter clamps to 6..12 without complaint (SF6 would need implicit-
  header mode, which the driver never sets: such a radio hears nothing here);
- `low_datarate_optimize` is a register bit the driver leaves at 0; a frame is heard only
  by a radio on the same frequency, spreading factor and low-data-rate setting;
- `send` polls tx_done for `xmit_timeout` seconds and returns False when the frame takes
  longer on air (`airtime`, 0 in most tests);
- `receive` returns None on the first CRC-failed frame (counting crc_error_count) and on a
  frame for another node, instead of listening on.

Corruption is a flipped bit. With CRC on, the receiving radio discards a corrupted frame
(counted in crc_error_count) -- except a fraction `crc_miss`, which models frames whose
damage the 16-bit CRC does not catch (or a sender that computes a valid CRC): those reach
the payload check and must be stopped by the HMAC tag.
"""

from __future__ import annotations

import queue
import random
import threading
import time

BROADCAST = 0xFF
FLAG_ACK = 0x80
FLAG_RETRY = 0x40


class SimLink:
    def __init__(self, drop: float = 0.0, dup: float = 0.0, corrupt: float = 0.0,
                 crc_miss: float = 0.0, seed: int = 1) -> None:
        self.drop, self.dup, self.corrupt, self.crc_miss = drop, dup, corrupt, crc_miss
        self.rng = random.Random(seed)
        self.radios: list["FakeRFM9x"] = []
        self.lock = threading.Lock()
        self.stats = {"sent": 0, "dropped": 0, "duplicated": 0, "corrupted": 0, "crc_missed": 0}

    def attach(self, radio: "FakeRFM9x") -> None:
        self.radios.append(radio)

    def transmit(self, sender: "FakeRFM9x", frame: bytes) -> None:
        with self.lock:
            self.stats["sent"] += 1
            if self.rng.random() < self.drop:
                self.stats["dropped"] += 1
                return
            copies = 2 if self.rng.random() < self.dup else 1
            self.stats["duplicated"] += copies - 1
            out = []
            for _ in range(copies):
                f, crc_ok = bytearray(frame), True
                if self.rng.random() < self.corrupt:
                    self.stats["corrupted"] += 1
                    bit = self.rng.randrange(len(f) * 8)
                    f[bit // 8] ^= 1 << (bit % 8)
                    crc_ok = self.rng.random() < self.crc_miss
                    self.stats["crc_missed"] += crc_ok
                out.append((bytes(f), crc_ok))
        modem = sender._modem()
        for r in self.radios:
            if r is not sender and r.hears(modem):
                for f, ok in out:
                    r._inbox.put((f, ok))


class FakeRFM9x:
    """The parts of adafruit_rfm9x.RFM9x used by device.telemetry and gateway/."""

    def __init__(self, link: SimLink, node: int = BROADCAST, frequency: float = 868.0) -> None:
        self.link = link
        self._inbox: queue.Queue = queue.Queue()
        self.frequency_mhz = frequency
        link.attach(self)
        self.enable_crc = True
        self._sf = 7
        self.low_datarate_optimize = 0
        self.signal_bandwidth = 125000
        self.coding_rate = 5
        self.tx_power = 13
        self.node = node
        self.destination = BROADCAST
        self.identifier = 0
        self.flags = 0
        self.sequence_number = 0
        self.seen_ids = bytearray(256)
        self.ack_wait = 0.5
        self.ack_retries = 5
        self.ack_delay = None
        self.receive_timeout = 0.5
        self.xmit_timeout = 2.0
        self.crc_error_count = 0
        self.last_rssi = -60.0
        self.last_snr = 9.5
        self.airtime = 0.0  # seconds a frame takes (0 in tests; the bench may set it)

    @property
    def frequency_mhz(self) -> float:
        return self._freq

    @frequency_mhz.setter
    def frequency_mhz(self, val: float) -> None:
        if val < 240 or val > 960:
            raise RuntimeError("frequency_mhz must be between 240 and 960")
        self._freq = float(val)

    @property
    def spreading_factor(self) -> int:
        return self._sf

    @spreading_factor.setter
    def spreading_factor(self, val: int) -> None:
        self._sf = min(max(int(val), 6), 12)

    def _modem(self) -> tuple:
        return (self._freq, self._sf, bool(self.low_datarate_optimize))

    def hears(self, modem: tuple) -> bool:
        """True if a frame sent with `modem` settings is decoded by this radio. SF11/12 at
        125 kHz (symbols over 16 ms) are decoded only with low-data-rate optimisation on
        both ends (SX1276 datasheet: mandated there; without it the crystal drift over a
        long frame breaks reception)."""
        if self._sf == 6 or modem != self._modem():
            return False
        return self._sf < 11 or bool(self.low_datarate_optimize)

    def send(self, data, *, keep_listening=False, destination=None, node=None,
             identifier=None, flags=None) -> bool:
        assert 0 < len(data) <= 252
        hdr = bytes([self.destination if destination is None else destination,
                     self.node if node is None else node,
                     self.identifier if identifier is None else identifier,
                     self.flags if flags is None else flags])
        if self.airtime:
            if self.airtime > self.xmit_timeout:  # tx_done never came in time
                time.sleep(self.xmit_timeout)
                return False
            time.sleep(self.airtime)
        self.link.transmit(self, hdr + bytes(data))
        return True

    def send_with_ack(self, data) -> bool:
        retries = self.ack_retries or 1
        got = False
        self.sequence_number = (self.sequence_number + 1) & 0xFF
        while not got and retries:
            self.identifier = self.sequence_number
            self.send(data, keep_listening=True)
            if self.destination == BROADCAST:
                got = True
                break
            ack = self.receive(timeout=self.ack_wait, with_header=True)
            if ack is not None and ack[3] & FLAG_ACK and ack[2] == self.identifier:
                got = True
                break
            retries -= 1
            self.flags |= FLAG_RETRY
        self.flags = 0
        return got

    def receive(self, *, keep_listening=True, with_header=False, with_ack=False, timeout=None):
        timeout = self.receive_timeout if timeout is None else timeout
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                frame, crc_ok = self._inbox.get(timeout=left)
            except queue.Empty:
                return None
            # the driver reads one frame per call: a bad or foreign one ends the call
            if self.enable_crc and not crc_ok:
                self.crc_error_count += 1
                return None
            if len(frame) < 5:
                return None
            if self.node != BROADCAST and frame[0] not in (BROADCAST, self.node):
                return None
            packet = bytearray(frame)
            if with_ack and not packet[3] & FLAG_ACK and packet[0] != BROADCAST:
                if self.ack_delay is not None:
                    time.sleep(self.ack_delay)
                self.send(b"!", destination=packet[1], node=packet[0], identifier=packet[2],
                          flags=packet[3] | FLAG_ACK)
                if self.seen_ids[packet[1]] == packet[2] and packet[3] & FLAG_RETRY:
                    continue  # a retry of a packet already delivered
                self.seen_ids[packet[1]] = packet[2]
            return packet if with_header else packet[4:]
