"""board stand-in for the MicroPython unix port (tests/mp_heap.py): an ESP32-S3 Feather's pin
names (CircuitPython shared-bindings/board: pins are microcontroller.Pin objects) and SPI()."""

import microcontroller

for _n in ("SCL", "SDA", "NEOPIXEL", "NEOPIXEL_POWER", "LED", "D5", "D6", "SCK", "MOSI", "MISO"):
    globals()[_n] = microcontroller.Pin(_n)
_spi = None


def SPI():
    global _spi
    if _spi is None:
        import busio

        _spi = busio.SPI(SCK, MOSI, MISO)
    return _spi
