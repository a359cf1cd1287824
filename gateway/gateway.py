"""LoRa gateway loop: receive RFM9x packets, acknowledge them, print one line each.

Runs on a second CircuitPython board with an RFM95/96 (see gateway/code.py) and writes
`LORA <hex> <rssi> <snr>` lines on its serial console, which `python -m host_tools receive
--lora-serial PORT` reads. The gateway does not check the packets' tags (the key stays on
the host); it only acknowledges them over the air (RadioHead reliable datagram, which is
what the board's `send_with_ack` waits for) and forwards them.
"""


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
