"""LoRa airtime arithmetic shared by the settings check and the LoRa transport (a module of
its own so the transport does not pull the settings table back into the heap)."""


def lora_airtime(sf, length, bw=125000.0):
    """Seconds a LoRa frame of `length` bytes (RadioHead header included) takes on air:
    Semtech SX1276 datasheet 4.1.1.7, CR 4/5, explicit header, CRC on, preamble 8,
    low-data-rate optimisation for SF11/12 at 125 kHz (as device.telemetry sets it)."""
    t_sym = (1 << sf) / bw
    de = 1 if sf >= 11 else 0
    num = 8 * length - 4 * sf + 28 + 16
    den = 4 * (sf - 2 * de)
    n = 8 + max(-(-num // den), 0) * 5
    return (n + 12.25) * t_sym


LORA_FRAME = 55  # bytes on air: the 51-byte packet (device.payloads) + RadioHead's 4-byte header
HOST_CONFIRM_S = 0.3  # the gateway ACKs once the host stored the packet (it waits <= 0.25 s)


def lora_ack_wait(sf):
    """How long a node waits for the gateway's ACK (a 5-byte frame): its airtime twice over,
    the gateway's turn-around, and the host's confirmation that it stored the packet
    (serial round trip and a database commit; gateway/gateway.py)."""
    return 0.15 + 2.0 * lora_airtime(sf, 5) + HOST_CONFIRM_S
