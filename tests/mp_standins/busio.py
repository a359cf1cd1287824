"""busio stand-in (tests/mp_heap.py): an SPI bus with an SX1276 register file behind it
(version 0x12 at 0x42; IRQ flags read TxDone), enough for adafruit_rfm9x to start and send."""


class SPI:
    def __init__(self, clock, MOSI=None, MISO=None):
        self._r = bytearray(128)
        self._r[0x42] = 0x12
        self._a = 0

    def try_lock(self):
        return True

    def unlock(self):
        pass

    def configure(self, baudrate=100000, polarity=0, phase=0, bits=8):
        pass

    def write(self, buf, start=0, end=None):
        end = len(buf) if end is None else end
        a = buf[start] & 0x7F
        if buf[start] & 0x80:
            for i in range(start + 1, end):
                self._r[a] = buf[i]
                if a:
                    a = (a + 1) & 0x7F
        self._a = a

    def readinto(self, buf, start=0, end=None, write_value=0):
        end = len(buf) if end is None else end
        for i in range(start, end):
            buf[i] = 0x08 if self._a == 0x12 else self._r[self._a]
