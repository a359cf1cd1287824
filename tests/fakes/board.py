"""Fake `board` for an ESP32-S3 Feather-like board: pins are microcontroller.Pin objects.

Like CircuitPython's board module (shared-bindings/board/__init__.c): I2C(), STEMMA_I2C()
and SPI() return the board's default bus singleton (SPI on SCK/MOSI/MISO)."""

import microcontroller

_NAMES = ("SCL", "SDA", "SCL1", "SDA1", "NEOPIXEL", "NEOPIXEL_POWER", "LED", "BUTTON",
          "D5", "D6", "D9", "D10", "D11", "D12", "D13", "A0", "A1", "A2", "A3", "A4", "A5",
          "TX", "RX", "MOSI", "MISO", "SCK", "I2C_POWER")

for _n in _NAMES:
    globals()[_n] = microcontroller.Pin(_n)

board_id = "fake_esp32s3_feather"
_i2c = None


def I2C():
    global _i2c
    import busio

    if _i2c is None or _i2c.deinited:
        _i2c = busio.I2C(globals()["SCL"], globals()["SDA"])
    return _i2c


def STEMMA_I2C():
    return I2C()


_spi = None


def SPI():
    global _spi
    import busio

    if _spi is None or _spi.deinited:
        _spi = busio.SPI(globals()["SCK"], MOSI=globals()["MOSI"], MISO=globals()["MISO"])
    return _spi
