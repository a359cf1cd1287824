"""An MLX90640 on an I2C stand-in, serving Melexis's example EEPROM and frames.

`SimBus` has the busio.I2C methods adafruit_bus_device's I2CDevice calls (try_lock,
unlock, writeto, readfrom_into, writeto_then_readfrom; CircuitPython 9/10
shared-bindings/busio/I2C.c signatures with start/end keywords), so the unmodified
Adafruit driver (adafruit_mlx90640 1.3.9) runs against it, and so does the fast path
(device/mlxframes.py) through the driver's own I2CDevice. Registers: EEPROM 0x2400..,
RAM 0x0400.. (832 words of the current sub-page), status 0x8000 (bit 3: new data,
bit 0: sub-page), control 0x800D. A read of the status register when no data is pending
makes the next sub-page of `frames` ready on the `polls_per_subpage`-th read after the
one that follows a RAM read (a sensor producing sub-pages at its refresh rate); writing
0x0030 to the status register clears the ready bit, as on the chip, and no new sub-page
comes until the RAM was read. Every transaction's bytes are counted (`bytes_moved`, `reads`,
`writes`) so bus time at a given clock can be computed: each byte is 9 clocks (8 bits and
the acknowledge), plus the address byte, start, repeated start and stop.

`cases()` builds the agreement cases: the example frame in chess mode (its own) and in
interleaved mode (control register bit 12 cleared), an EEPROM with a broken and an outlier
pixel, and frames with pixels below 0 deg C and above ct2 / ct3 (the second and third
temperature ranges) made by changing RAM words.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "mlx90640", "melexis-example.json")
ADDRESS = 0x33


def example():
    with open(DATA) as f:
        return json.load(f)


class SimBus:
    def __init__(self, eeprom, frames, control=0x1901, polls_per_subpage=1, address=ADDRESS):
        """frames: a list of (ram_words (832), subpage) played in a loop."""
        self.eeprom = list(eeprom)
        self.frames = [(list(w), sp) for w, sp in frames]
        self.control = control
        self.address = address
        self.polls = int(polls_per_subpage)
        self._i = -1
        self._ready = False
        self._wait = 0
        self._cleared = False
        self._locked = False
        self.bytes_moved = 0
        self.reads = 0
        self.writes = 0
        self.status_polls = 0

    # ---- busio.I2C
    def try_lock(self):
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self):
        self._locked = False

    def _check(self, address):
        if address != self.address:
            raise OSError(19, "No I2C device at 0x%x" % address)

    def writeto(self, address, buffer, *, start=0, end=None):
        self._check(address)
        end = len(buffer) if end is None else end
        n = end - start
        self.bytes_moved += 1 + n
        if n == 0:
            return  # the probe
        self.writes += 1
        if n != 4:
            raise OSError(5, "unexpected write of %d bytes" % n)
        reg = (buffer[start] << 8) | buffer[start + 1]
        val = (buffer[start + 2] << 8) | buffer[start + 3]
        if reg == 0x8000:
            if val & 0x0008 == 0:
                self._ready = False
                self._cleared = True  # no new sub-page until this one's RAM was read
        elif reg == 0x800D:
            self.control = val
        else:
            raise OSError(5, "write to read-only register 0x%04x" % reg)

    def readfrom_into(self, address, buffer, *, start=0, end=None):
        self._check(address)
        end = len(buffer) if end is None else end
        self.bytes_moved += 1 + end - start
        for i in range(start, end):
            buffer[i] = 0

    def writeto_then_readfrom(self, address, out_buffer, in_buffer, *, out_start=0, out_end=None,
                              in_start=0, in_end=None):
        self._check(address)
        out_end = len(out_buffer) if out_end is None else out_end
        in_end = len(in_buffer) if in_end is None else in_end
        self.bytes_moved += 2 + (out_end - out_start) + (in_end - in_start)  # two address bytes
        self.reads += 1
        reg = (out_buffer[out_start] << 8) | out_buffer[out_start + 1]
        nwords = (in_end - in_start) // 2
        for k in range(nwords):
            w = self._word(reg + k)
            in_buffer[in_start + 2 * k] = w >> 8
            in_buffer[in_start + 2 * k + 1] = w & 0xFF

    # ---- the chip
    def _status(self):
        self.status_polls += 1
        if not self._ready and not self._cleared:
            self._wait += 1
            if self._wait > self.polls:  # the read just after the RAM read still sees no data
                self._wait = 0
                self._i = (self._i + 1) % len(self.frames)
                self._ready = True
        return self._status_word()

    def _status_word(self):
        sp = self.frames[self._i][1] if self._i >= 0 else 0
        return (0x0008 if self._ready else 0) | (sp & 1)

    def _word(self, reg):
        if 0x2400 <= reg < 0x2400 + 832:
            return self.eeprom[reg - 0x2400]
        if 0x0400 <= reg < 0x0400 + 832:
            self._cleared = False
            self._wait = 0
            i = self._i if self._i >= 0 else 0
            return self.frames[i][0][reg - 0x0400]
        if reg == 0x8000:
            return self._status()
        if reg == 0x800D:
            return self.control
        return 0

    def bus_seconds(self, hz):
        """Time on the bus for the bytes moved so far at an SCL clock of `hz`: 9 clocks a
        byte, plus start/stop (about 2 clocks) per transaction and a repeated start per read."""
        clocks = 9 * self.bytes_moved + 2 * (self.reads + self.writes) + self.reads
        return clocks / float(hz)

    def reset_counts(self):
        self.bytes_moved = 0
        self.reads = 0
        self.writes = 0
        self.status_polls = 0


class SimChip(SimBus):
    """The same chip as a device of the fake busio (tests/fakes/busio.py: `attach(0x33,
    SimChip(...))`), register-pointer style: write(2 bytes) sets the register, write(4
    bytes) writes a word, read(n) returns n bytes from the register on."""

    def write(self, data):
        if len(data) == 0:
            return
        if len(data) == 2:
            self._reg = (data[0] << 8) | data[1]
            return
        self.writeto(self.address, data)

    def read(self, n):
        buf = bytearray(n)
        self.writeto_then_readfrom(self.address, bytes([self._reg >> 8, self._reg & 0xFF]), buf)
        return bytes(buf)


# ---- agreement cases ------------------------------------------------------------------

def _set_pixel_words(words, pixels, value):
    w = list(words)
    for p in pixels:
        w[p] = value & 0xFFFF
    return w


HOT_PIXELS = (100, 101, 133, 134, 300, 301, 332, 333)  # both sub-pages in both patterns
COLD_PIXELS = (500, 501, 532, 533)
BROKEN = 200  # an EEPROM pixel word of 0: the driver's "broken pixel"
OUTLIER = 455  # EEPROM pixel word with bit 0 set: an "outlier pixel"


def cases():
    """[(name, eeprom words, [(ram words, subpage), (ram words, subpage)], control)]."""
    ex = example()
    ee = ex["eeprom_0x2400"]
    sp0 = ex["ram_0x0400_subpage0"]
    sp1 = ex["ram_0x0400_subpage1"]
    ctl = ex["control_0x800D"]
    frames = [(sp0, 0), (sp1, 1)]
    ee_bad = list(ee)
    ee_bad[64 + BROKEN] = 0
    ee_bad[64 + OUTLIER] = ee_bad[64 + OUTLIER] | 1
    # raw counts: 6000 ~ 350 C (range 2, over ct2 = 300), 20000 ~ 565 C (range 3, over ct3 =
    # 500), 4300 ~ 300 C (at the range boundary), -280 ~ -5..-28 C (range 0, below 0 C)
    hot = [(_set_pixel_words(_set_pixel_words(w, HOT_PIXELS[:4], 6000), HOT_PIXELS[4:], 20000), sp)
           for w, sp in frames]
    cold = [(_set_pixel_words(w, COLD_PIXELS, -280), sp) for w, sp in frames]
    mixed = [(_set_pixel_words(_set_pixel_words(w, HOT_PIXELS, 4300), COLD_PIXELS, -280), sp) for w, sp in frames]
    return [
        ("chess", ee, frames, ctl),
        ("interleaved", ee, frames, ctl & ~0x1000),
        ("broken+outlier pixel", ee_bad, frames, ctl),
        ("hot pixels (ranges 2, 3)", ee, hot, ctl),
        ("cold pixels (range 0)", ee, cold, ctl),
        ("hot+cold, interleaved", ee, mixed, ctl & ~0x1000),
    ]


def fresh_driver(bus):
    """The unmodified Adafruit driver on `bus`. Its class-level lists of broken and outlier
    pixels (1.3.9 appends to class attributes) are emptied first, so one case's pixels do
    not leak into the next, and its per-pixel lists are put back if a fast-path sensor
    released them."""
    import adafruit_mlx90640

    from device.camera import restore_driver_lists

    restore_driver_lists(adafruit_mlx90640)  # a fast-path sensor may have released them
    cls = adafruit_mlx90640.MLX90640
    del cls.brokenPixels[:]
    del cls.outlierPixels[:]
    return cls(bus)


def driver_frame(drv, emissivity=None):
    """One getFrame of the unmodified driver (two sub-pages), or with `emissivity` given
    the driver's _CalculateTo on the next two sub-pages with that emissivity (what
    Melexis's expected values assume), tr = Ta - 8 as getFrame has it."""
    out = [0.0] * 768
    if emissivity is None:
        drv.getFrame(out)
        return out
    fd = [0] * 834
    for _ in range(2):
        drv._GetFrameData(fd)
        tr = drv._GetTa(fd) - 8
        drv._CalculateTo(fd, emissivity, tr, out)
    return out
