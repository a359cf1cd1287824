"""LoRa gateway loop: receive RFM9x packets, acknowledge them, print one line each.

Runs on a second CircuitPython board with an RFM95/96 (see gateway/code.py) and writes
`LORA <hex> <rssi> <snr>` lines on its serial console, which `python -m host_tools receive
--lora-serial PORT` reads. The gateway does not check the packets' tags (the key stays on
the host); it only acknowledges them over the air (RadioHead reliable datagram, which is
what the board's `send_with_ack` waits for) and forwards them.
"""


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


def run(radio, write=print, max_packets=None, idle=None):
    """Forward packets until `max_packets` were seen (None = forever). `idle` is called
    between receive attempts (feed a watchdog)."""
    n = 0
    write("# gateway: node %d listening" % radio.node)
    while max_packets is None or n < max_packets:
        pkt = radio.receive(with_ack=True, with_header=False, timeout=1.0)
        if idle is not None:
            idle()
        if pkt is None:
            continue
        n += 1
        write("LORA %s %d %.1f" % (bytes(pkt).hex(), int(radio.last_rssi), float(radio.last_snr)))
    return n
