"""LoRa gateway board entry point (copy gateway/code.py and gateway/gateway.py to the
gateway board's CIRCUITPY, with lib/adafruit_rfm9x.mpy and lib/adafruit_bus_device).

settings.toml on the gateway board: LORA_FREQUENCY ("868.0"), LORA_SF (7), LORA_CS ("D5"),
LORA_RESET ("D6"), LORA_GATEWAY (its own node address, 2) -- the same values as the boards.
The host reads its serial console: python -m host_tools receive --lora-serial /dev/ttyACM0.
"""

import os

import adafruit_rfm9x
import board
import digitalio

from gateway import configure, run, settings


def _get(key, default):
    v = os.getenv(key)
    return default if v is None else v


def main():
    try:
        freq, sf, node = settings(os.getenv)
    except ValueError as e:
        print("# CONFIG ERROR: settings.toml: %s" % e)
        return
    cs = digitalio.DigitalInOut(getattr(board, _get("LORA_CS", "D5")))
    rst = digitalio.DigitalInOut(getattr(board, _get("LORA_RESET", "D6")))
    spi = board.SPI()  # the board's default SPI (SCK/MOSI/MISO), as the nodes use it
    radio = adafruit_rfm9x.RFM9x(spi, cs, rst, freq, crc=True)
    run(configure(radio, sf, node))


main()
