"""Fake `busio` with an I2C bus that talks to simulated devices.

Devices attach by address (`attach(0x26, MSA301Sim())`) and implement
`write(data)` and `read(n) -> bytes` (register-pointer style). The bus enforces what the
real one does: the lock must be held, pins cannot be claimed twice until deinit(), and
an absent device raises OSError 19. Each transaction spends its bus time on the fake
supervisor clock (9 bit-times per byte at `frequency` plus a fixed overhead).
"""

import supervisor

devices = {}
init_error = None  # set to a message to make I2C() raise like "No pull up found..."
TRANSACTION_OVERHEAD_US = 40
buses = []


def attach(address, device):
    devices[address] = device


def detach_all():
    devices.clear()


def fresh():
    global init_error
    detach_all()
    init_error = None
    for b in buses:
        try:
            b.deinit()
        except Exception:
            pass
    del buses[:]


class I2C:
    def __init__(self, scl, sda, *, frequency=100000, timeout=255):
        if init_error:
            raise RuntimeError(init_error)
        for p in (scl, sda):
            if getattr(p, "in_use", False):
                raise ValueError("%s in use" % p)
        for p in (scl, sda):
            p.in_use = True
        self.scl = scl
        self.sda = sda
        self.frequency = frequency
        self.locked = False
        self.deinited = False
        self.transactions = 0
        buses.append(self)

    # -- lifecycle ------------------------------------------------------------
    def deinit(self):
        if not self.deinited:
            self.scl.in_use = False
            self.sda.in_use = False
            self.deinited = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()
        return False

    def _check(self):
        if self.deinited:
            raise ValueError("Object has been deinitialized and can no longer be used. Create a new object.")
        if not self.locked:
            raise RuntimeError("Function requires lock")

    def try_lock(self):
        if self.locked:
            return False
        self.locked = True
        return True

    def unlock(self):
        self.locked = False

    def scan(self):
        self._check()
        return sorted(devices.keys())

    # -- transfers ------------------------------------------------------------
    def _spend(self, nbytes):
        supervisor.clock.advance_us(TRANSACTION_OVERHEAD_US + (nbytes + 1) * 9 * 1000000 // self.frequency)
        self.transactions += 1

    def _device(self, address):
        d = devices.get(address)
        if d is None:
            self._spend(0)
            raise OSError(19, "No such device at 0x%02x" % address)
        return d

    def writeto(self, address, buffer, *, start=0, end=None):
        self._check()
        if end is None:
            end = len(buffer)
        d = self._device(address)
        data = bytes(buffer[start:end])
        self._spend(len(data))
        d.write(data)

    def readfrom_into(self, address, buffer, *, start=0, end=None):
        self._check()
        if end is None:
            end = len(buffer)
        d = self._device(address)
        self._spend(end - start)
        got = d.read(end - start)
        for i in range(end - start):
            buffer[start + i] = got[i]

    def writeto_then_readfrom(self, address, out_buffer, in_buffer, *, out_start=0, out_end=None,
                              in_start=0, in_end=None):
        self._check()
        if out_end is None:
            out_end = len(out_buffer)
        if in_end is None:
            in_end = len(in_buffer)
        d = self._device(address)
        data = bytes(out_buffer[out_start:out_end])  # copy first: the buffers may overlap
        self._spend(len(data) + in_end - in_start)
        d.write(data)
        got = d.read(in_end - in_start)
        for i in range(in_end - in_start):
            in_buffer[in_start + i] = got[i]


class SPI:
    """An SPI bus with nothing on it (shared-bindings/busio/SPI.c, 10.x: try_lock/unlock,
    configure(baudrate, polarity, phase, bits), write, readinto, write_readinto, deinit).
    With no device, MISO reads 0x00: a driver's chip-id check fails as on a bare bus
    (adafruit_rfm9x: "Failed to find rfm9x with expected version")."""

    def __init__(self, clock, MOSI=None, MISO=None, half_duplex=False):
        for p in (clock, MOSI, MISO):
            if p is not None:
                if getattr(p, "in_use", False):
                    raise ValueError("%s in use" % p)
        self.pins = (clock, MOSI, MISO)
        self.deinited = False
        self._locked = False
        self.frequency = 250000
        self.written = []

    def try_lock(self):
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._locked = False

    def configure(self, *, baudrate=100000, polarity=0, phase=0, bits=8):
        self.frequency = baudrate

    def write(self, buffer, *, start=0, end=None):
        self.written.append(bytes(buffer[start:end]))

    def readinto(self, buffer, *, start=0, end=None, write_value=0):
        end = len(buffer) if end is None else end
        for i in range(start, end):
            buffer[i] = 0

    def write_readinto(self, out_buffer, in_buffer, *, out_start=0, out_end=None, in_start=0, in_end=None):
        self.write(out_buffer, start=out_start, end=out_end)
        self.readinto(in_buffer, start=in_start, end=in_end)

    def deinit(self):
        self.deinited = True

    def __enter__(self):
        return self

    def __exit__(self, a, b, c):
        self.deinit()


class UART:
    """Present so typing-only imports in drivers resolve; not simulated."""

    def __init__(self, tx=None, rx=None, *, baudrate=9600, **kwargs):
        raise RuntimeError("fake busio has no UART devices")
