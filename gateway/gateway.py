"""LoRa gateway loop: receive RFM9x packets, print one line each, acknowledge a packet on
the radio only once the host confirms it stored it.

Runs on a second CircuitPython board with an RFM95/96 (see gateway/code.py) and writes
`LORA <hex> <rssi> <snr>` lines on its serial console, which `python -m host_tools receive
--lora-serial PORT` reads. The gateway does not check the packets' tags (the key stays on
the host). The host answers `ACK <tag hex>` (the packet's last 8 bytes) on the same serial
line once the packet is stored (or was already); only then does the gateway send the
RadioHead ACK the board's transport waits for. No confirmation within `host_wait`
seconds (no host attached, the receiver down, its database failing): no ACK, and the
board keeps the payload in its outbox and sends it again after its back-off. A gateway
without a host therefore acknowledges nothing; it still prints what it hears.
"""

FLAG_ACK = 0x80
BROADCAST = 0xFF


def wait_confirm(read, tag, host_wait, clock):
    """True once the host wrote `ACK <tag>` within host_wait seconds. `read(timeout)`
    returns one line (str) or None; lines about other packets are skipped."""
    end = clock() + host_wait
    want = "ack " + tag.lower()
    while True:
        left = end - clock()
        if left <= 0:
            return False
        line = read(left)
        if line is not None and line.strip().lower() == want:
            return True


def settings(getenv):
    """(frequency MHz, spreading factor, node) from settings.toml, checked against what
    adafruit_rfm9x 2.2.x can do (frequency 240..960 MHz; SF 7..12: SF6 needs
    implicit-header mode, which the driver lacks). getenv returns str on CircuitPython
    10.2+ and int for bare numbers before: both are taken. Raises ValueError."""
    def get(key, default):
        v = getenv(key)
        return default if v is None else v

    freq = float(get("LORA_FREQUENCY", "868.0"))
    sf = int(get("LORA_SF", 7))
    node = int(get("LORA_GATEWAY", 2))
    if not 240.0 <= freq <= 960.0:
        raise ValueError("LORA_FREQUENCY: got %s, expected 240..960 (MHz)" % freq)
    if not 7 <= sf <= 12:
        raise ValueError("LORA_SF: got %d, expected 7..12" % sf)
    if not 1 <= node <= 254:
        raise ValueError("LORA_GATEWAY: got %d, expected 1..254" % node)
    return freq, sf, node


def configure(radio, sf, node):
    """The same modem settings as the boards (device.telemetry._setup_radio): CRC on, the
    spreading factor, and low-data-rate optimisation for SF11/12 at 125 kHz, which both
    ends must agree on."""
    radio.enable_crc = True
    radio.spreading_factor = sf
    radio.low_datarate_optimize = 1 if sf >= 11 else 0
    radio.node = node
    radio.ack_delay = 0.05
    return radio


def run(radio, write=print, read=None, host_wait=0.25, max_packets=None, idle=None, clock=None):
    """Forward packets until `max_packets` were seen (None = forever). `read(timeout)`:
    a line from the host or None (None = no host link: nothing is acknowledged). `idle`
    is called between receive attempts (feed a watchdog). Returns packets seen."""
    if clock is None:
        import time

        clock = time.monotonic
    n = 0
    write("# gateway: node %d listening, ACK after the host stores" % radio.node)
    while max_packets is None or n < max_packets:
        pkt = radio.receive(with_ack=False, with_header=True, timeout=1.0)
        if idle is not None:
            idle()
        if pkt is None or len(pkt) < 5:
            continue
        if pkt[3] & FLAG_ACK:  # another node's ACK
            continue
        n += 1
        body = bytes(pkt[4:])
        write("LORA %s %d %.1f" % (body.hex(), int(radio.last_rssi), float(radio.last_snr)))
        if read is None or pkt[0] == BROADCAST:
            continue
        if wait_confirm(read, body[-8:].hex(), host_wait, clock):
            radio.send(b"!", destination=pkt[1], node=pkt[0], identifier=pkt[2], flags=pkt[3] | FLAG_ACK)
    return n
