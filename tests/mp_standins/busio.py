"""busio stand-in (tests/mp_heap.py): an SPI bus with an SX1276 register file behind it
(version 0x12 at 0x42; IRQ flags read TxDone), enough for adafruit_rfm9x to start and send;
and an I2C bus with an MSA301 behind it, serving recorded samples.

The MSA301 side is written from adafruit_msa3xx 1.3.13 (MSA301.__init__ checks _part_id,
register 0x01, reads 0x13; MSA3XX.__init__ and the sensor's set-up write, read-modify-write,
the bits of 0x11 power mode/bandwidth, 0x10 data rate and axis disables, 0x0F range and
resolution; `_xyz_raw` and device/sensors.py's raw read take 6 bytes from 0x02) through
adafruit_register 1.13.0 (RWBits/UnaryStruct: writeto_then_readfrom of [reg] into the same
buffer, then writeto of [reg, value]) and adafruit_bus_device 5.2.17 (I2CDevice probes with
writeto(addr, b"") and calls writeto_then_readfrom with out_/in_ start/end keywords).
Only address 0x26 answers (OSError ENODEV otherwise, as busio on a NACK). Register writes
auto-increment the address, as the chip does.

Samples: the data registers 0x02..0x07 hold X, Y, Z as 14-bit counts left-aligned in 16-bit
little-endian words (the chip's layout at 14-bit resolution). Each read that starts at 0x02
takes the next 6 bytes of the recording, a binary file of such samples (tests/mp_heap.py
converts the fan recordings to counts at the configured range; the file's name comes from
the environment's MPHEAP_MSA301, default msa301.bin), with readinto into a preallocated
memoryview of the register file: the stand-in allocates nothing per sample (no *args, no
tuples, no slices), so what a run allocates is the loop's own. When the recording is used
up the read raises OSError EIO, as busio does when the chip stops acknowledging: the app
counts a sensor error, then a fault, as for a sensor that is gone.
"""

import os

_ADDR = 0x26


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


class I2C:
    def __init__(self, scl, sda, frequency=100000, timeout=255):
        self._r = bytearray(64)  # the MSA301's register file
        self._r[0x01] = 0x13  # part id
        self._data = memoryview(self._r)[2:8]  # X_L .. Z_H, refilled from the recording
        self._a = 0
        self._f = open(os.getenv("MPHEAP_MSA301") or "msa301.bin", "rb")
        self.samples = 0

    def try_lock(self):
        return True

    def unlock(self):
        pass

    def deinit(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    def scan(self):
        return [_ADDR]

    def writeto(self, address, buffer, start=0, end=None):
        if address != _ADDR:
            raise OSError(19)
        if end is None:
            end = len(buffer)
        if end > start:
            a = buffer[start] & 0x3F
            self._a = a
            for i in range(start + 1, end):
                self._r[a] = buffer[i]
                a = (a + 1) & 0x3F

    def readfrom_into(self, address, buffer, start=0, end=None):
        if address != _ADDR:
            raise OSError(19)
        if end is None:
            end = len(buffer)
        self._read(self._a, buffer, start, end)

    def writeto_then_readfrom(self, address, out_buffer, in_buffer, out_start=0, out_end=None, in_start=0,
                              in_end=None):
        if address != _ADDR:
            raise OSError(19)
        if in_end is None:
            in_end = len(in_buffer)
        a = out_buffer[out_start] & 0x3F
        self._a = a
        self._read(a, in_buffer, in_start, in_end)

    def _read(self, a, buf, start, end):
        if a == 0x02:  # a burst from the data registers: the next recorded sample
            if self._f is None or self._f.readinto(self._data) != 6:
                raise OSError(5)  # EIO: the recording is over
            self.samples += 1
        r = self._r
        for i in range(start, end):
            buf[i] = r[a]
            a = (a + 1) & 0x3F
