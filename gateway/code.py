"""LoRa gateway board entry point (copy gateway/code.py and gateway/gateway.py to the
gateway board's CIRCUITPY, with lib/adafruit_rfm9x.mpy and lib/adafruit_bus_device).

settings.toml on the gateway board: LORA_FREQUENCY ("868.0"), LORA_SF (7), LORA_CS ("D5"),
LORA_RESET ("D6"), LORA_GATEWAY (its own node address, 2) -- the same values as the boards;
LORA_HOST_WAIT ("0.25"): how long a packet waits for the host's confirmation.
The host reads its serial console and answers on it: python -m host_tools receive
--lora-serial /dev/ttyACM0. A packet is acknowledged on the radio only after the host
confirmed it stored it (gateway.py); without a host nothing is acknowledged.
"""

import os

import adafruit_rfm9x
import board
import digitalio
import usb_cdc

from gateway import configure, run, settings


def _get(key, default):
    v = os.getenv(key)
    return default if v is None else v


def _reader(port):
    """read(timeout) -> one line from the host or None (usb_cdc.Serial: timeout, readline)."""
    buf = bytearray()

    def read(timeout):
        port.timeout = timeout
        chunk = port.readline()
        if chunk:
            buf.extend(chunk)
        if buf.endswith(b"\n"):
            line = bytes(buf).decode("ascii", "ignore")
            buf[:] = b""
            return line
        return None

    return read


def main():
    try:
        freq, sf, node = settings(os.getenv)
        host_wait = float(_get("LORA_HOST_WAIT", "0.25"))
    except ValueError as e:
        print("# CONFIG ERROR: settings.toml: %s" % e)
        return
    cs = digitalio.DigitalInOut(getattr(board, _get("LORA_CS", "D5")))
    rst = digitalio.DigitalInOut(getattr(board, _get("LORA_RESET", "D6")))
    spi = board.SPI()  # the board's default SPI (SCK/MOSI/MISO), as the nodes use it
    radio = adafruit_rfm9x.RFM9x(spi, cs, rst, freq, crc=True)
    # the host's confirmations arrive on the console's input (the same USB serial line)
    run(configure(radio, sf, node), read=_reader(usb_cdc.console), host_wait=host_wait)


main()
