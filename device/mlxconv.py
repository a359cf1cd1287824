"""MLX90640 sub-page -> deg C with whole-array ulab operations (board and host).

The Adafruit driver (adafruit_mlx90640 1.3.9, `MLX90640._CalculateTo`) converts a sub-page
pixel by pixel in Python. This module applies the same formulas to the 384 pixels of a
sub-page at once, on preallocated arrays, with tables built once from the parameters the
driver extracted from the EEPROM (`alpha`, `offset`, `kta`, `kv`, ... of the driver
object), for the read mode in use (chess or interleaved, from the control register).

Layout: a sub-page's pixels are two strided blocks of 12 x 16 (rows r0, r0+2, ...; columns
c0, c0+2, ...): chess sub-page s = (even rows, columns s::2) + (odd rows, columns
(1-s)::2); interleaved sub-page s = (rows s::2, even columns) + (rows s::2, odd columns).
Within a block the driver's `kv` (it depends on row and column parity only) and the
interleave pattern are constant, so they are scalars per block; every per-pixel table is
kept in that compact order (one 384-float array per sub-page).

The driver's formulas, rewritten without changing them (ac: alpha compensated):
    ir  = (raw * gain - offset (1 + kta dTa)(1 + kv dV) [+ IL] - tgc cp[subpage]) / emissivity
    r   = ir / ac                         (ac = alpha' (1 + KsTa dTa): ac cancels below)
    Sx  = ksTo1 ac (r + TaTr)^(1/4)       => To0 = (r / (1 - 273.15 ksTo1 + ksTo1 q) + TaTr)^(1/4)
                                             with q = (r + TaTr)^(1/4), in kelvin
    To  = (r / D(To0) + TaTr)^(1/4) - 273.15,  D = alphaCorrR[k] (1 + ksTo[k] (To0 - ct[k]))
D is continuous and piecewise linear in To0 (the ranges' constants are built that way),
so the range lookup is D = 1 + ksTo1 To0 + a hinge per range boundary a frame reaches:
quiet frames (all pixels in 0 .. ct2 deg C) pay two reductions for the check only.
Bad and outlier pixels (the driver's lists) read -273.15, as the driver writes them.

Every per-frame step is an in-place operation with an array operand (scalars go through
one-element arrays: 48 bytes per operation on the board instead of 144), so a sub-page
allocates about 2 KB of ulab headers and nothing else. The fourth roots are in-place
powers (`**= 0.25`, the C library's powf: np.sqrt would allocate a new array each time);
a sub-page takes three of them per pixel (the driver takes four square roots).
"""

from device import xp

ROWS = 24
COLS = 32
N = ROWS * COLS
HALF = N // 2
BLOCK = 192  # 12 x 16 pixels
KELVIN = 273.15
SCALEALPHA = 0.000001
OPENAIR_TA_SHIFT = 8.0  # the driver's reflected temperature: Ta - 8 deg C
BAD = -273.15  # what the driver writes for bad and outlier pixels
CHESS = 0x80  # the driver's `mode` value for the chess pattern (control bit 12 >> 5)

# scalar slots (one-element arrays)
(_ZERO, _GAIN, _DTA, _U0, _U1, _NEGK, _SCALE, _TATR, _QUART, _MINUS1, _KSTO1, _C1, _KELV, _HC, _HK, _NEG1,
 _SQRT) = range(17)
SLOTS = 17


def blocks(mode, subpage):
    """((row0, col0), (row0, col0)): the two 12 x 16 strided blocks of a sub-page."""
    s = subpage & 1
    if mode == CHESS:
        return ((0, s), (1, 1 - s))
    return ((s, 0), (s, 1))


def mode_of(control):
    """The driver's `mode` from the control register (0x800D): 0x80 chess, 0 interleaved."""
    return (control & 0x1000) >> 5


def word(buf, i):
    """Signed 16-bit word i of a big-endian buffer (no allocation)."""
    v = (buf[2 * i] << 8) | buf[2 * i + 1]
    return v - 65536 if v > 32767 else v


class Tables:
    """Per-pixel tables of one read mode, both sub-pages, from a driver object's
    extracted parameters. Holds 4 (chess/interleaved with the EEPROM's own mode: 3)
    arrays of 768 floats."""

    def __init__(self, drv, mode):
        if drv.offset is None:  # released by the sensor after the first tables
            raise RuntimeError("MLX90640 read mode changed: the sensor has to start again")
        self.mode = mode
        self.il_corr = mode != drv.calibrationModeEE
        kta_scale = 2.0 ** drv.ktaScale
        kv_scale = 2.0 ** drv.kvScale
        alpha_scale = SCALEALPHA * 2.0 ** drv.alphaScale
        c0, c1, c2 = drv.ilChessC[0], drv.ilChessC[1], drv.ilChessC[2]
        q = xp.fbuf(N)  # offset
        p = xp.fbuf(N)  # offset * kta
        ia = xp.fbuf(N)  # 1 / alpha' (alpha' = SCALEALPHA 2^alphaScale / alpha)
        il = xp.fbuf(N) if self.il_corr else None
        self.kv = [[0.0, 0.0], [0.0, 0.0]]  # [subpage][block]
        self.il_pattern = [[0, 0], [0, 0]]
        for s in (0, 1):
            for b in (0, 1):
                r0, col0 = blocks(mode, s)[b]
                base = s * HALF + b * BLOCK
                kv = None
                for i in range(12):
                    row = r0 + 2 * i
                    for j in range(16):
                        pix = row * COLS + col0 + 2 * j
                        k = base + i * 16 + j
                        off = float(drv.offset[pix])
                        q[k] = off
                        p[k] = off * (drv.kta[pix] / kta_scale)
                        ia[k] = drv.alpha[pix] / alpha_scale
                        v = drv.kv[pix] / kv_scale
                        if kv is None:
                            kv = v
                        elif v != kv:
                            raise ValueError("MLX90640 kv differs inside a block (driver changed?)")
                        if il is not None:
                            ilp = (pix // 32) - (pix // 64) * 2
                            conv = ((pix + 2) // 4 - (pix + 3) // 4 + (pix + 1) // 4 - pix // 4) * (1 - 2 * ilp)
                            il[k] = c2 * (2 * ilp - 1) - c1 * conv
                self.kv[s][b] = kv
        self.offset = xp.view(q)
        self.offset_kta = xp.view(p)
        self.inv_alpha = xp.view(ia)
        self.il = xp.view(il) if il is not None else None
        self.c0 = c0
        self.size_bytes = 4 * N * (4 if il is not None else 3)
        # per sub-page views (no copies)
        self.sub = []
        for s in (0, 1):
            self.sub.append((self.offset[s * HALF:(s + 1) * HALF], self.offset_kta[s * HALF:(s + 1) * HALF],
                             self.inv_alpha[s * HALF:(s + 1) * HALF],
                             self.il[s * HALF:(s + 1) * HALF] if self.il is not None else None))


class Converter:
    """Raw sub-pages (832 big-endian RAM words in a bytearray) -> deg C into a frame.

    drv: the driver object after its constructor ran (parameters extracted); frame: a flat
    array('f') of 768 (the frame the sensor hands out; each sub-page updates its half);
    emissivity and the reflected temperature (Ta - tr_shift) as the driver's getFrame has
    them. Tables are built for the read mode of the first sub-page and rebuilt if the
    control register changes mode.
    """

    def __init__(self, drv, frame, emissivity=0.95, tr_shift=OPENAIR_TA_SHIFT):
        xp.require()
        np = xp.np
        self.drv = drv
        self.emissivity = float(emissivity)
        self.tr_shift = float(tr_shift)
        self.frame = frame
        self._fv = xp.view(frame).reshape((ROWS, COLS))
        self.tables = None
        self.mode = None
        # work: x | t | q | h, 384 floats each; the raw sub-page (768) is converted into t|q
        self._wb = xp.fbuf(4 * HALF)
        w = xp.view(self._wb)
        self._x = w[0:HALF]
        self._t = w[HALF:2 * HALF]
        self._q = w[2 * HALF:3 * HALF]
        self._h = w[3 * HALF:4 * HALF]
        self._raw = w[HALF:3 * HALF]
        raw2d = self._raw.reshape((ROWS, COLS))
        x2 = self._x.reshape((ROWS, 16))
        t2 = self._t.reshape((ROWS, 16))
        self._xb = (x2[0:12], x2[12:24])
        self._tb = (t2[0:12], t2[12:24])
        h2 = self._h.reshape((ROWS, 16))
        self._hb = (h2[0:12], h2[12:24])
        self._raw2d = raw2d
        self._kb = xp.fbuf(SLOTS)
        self._k = [xp.view(self._kb, 1, i) for i in range(SLOTS)]
        self._kb[_QUART] = 0.25
        self._kb[_SQRT] = 0.5
        self._kb[_MINUS1] = -1.0
        self._kb[_NEG1] = -1.0
        self._src = None
        self._dst = None
        self.bad = list(getattr(drv, "brokenPixels", [])) + list(getattr(drv, "outlierPixels", []))
        self.ta = None
        self.vdd = None
        self.ranges_hit = 0  # sub-pages that needed the range hinges
        self._np = np

    def _build(self, mode):
        self.tables = None  # the old tables go first: the heap may hold only one set
        self.tables = Tables(self.drv, mode)
        self.mode = mode
        self._src = []
        self._dst = []
        for s in (0, 1):
            src = []
            dst = []
            for r0, c0 in blocks(mode, s):
                src.append(self._raw2d[r0::2, c0::2])
                dst.append(self._fv[r0::2, c0::2])
            self._src.append(src)
            self._dst.append(dst)

    def table_bytes(self):
        """Heap the tables and work arrays hold (array data, without headers)."""
        t = self.tables.size_bytes if self.tables is not None else 0
        return t + 4 * len(self._wb) + 4 * len(self._kb)

    def _raw_floats(self, ram):
        """The 768 pixel words (signed, big-endian) as floats into t|q."""
        xp.int16_be(ram, self._raw, N)

    def scalars(self, ram, control, subpage):
        """The driver's per-sub-page scalars (Vdd, Ta, gain, compensation pixel) from the
        auxiliary RAM words; returns (vdd, ta, gain, cp) as Python floats."""
        d = self.drv
        v = word(ram, 810)
        res_ram = (control & 0x0C00) >> 10
        corr = 2.0 ** d.resolutionEE / 2.0 ** res_ram
        vdd = (corr * v - d.vdd25) / d.kVdd + 3.3
        ptat = word(ram, 800)
        ptat_art = word(ram, 768)
        ptat_art = (ptat / (ptat * d.alphaPTAT + ptat_art)) * 262144.0
        ta = (ptat_art / (1 + d.KvPTAT * (vdd - 3.3)) - d.vPTAT25) / d.KtPTAT + 25
        g = word(ram, 778)
        gain = d.gainEE / g
        mode = mode_of(control)
        cpf = (1 + d.cpKta * (ta - 25)) * (1 + d.cpKv * (vdd - 3.3))
        if subpage & 1:
            cp = word(ram, 808) * gain
            if mode == d.calibrationModeEE:
                cp -= d.cpOffset[1] * cpf
            else:
                cp -= (d.cpOffset[1] + d.ilChessC[0]) * cpf
        else:
            cp = word(ram, 776) * gain - d.cpOffset[0] * cpf
        return vdd, ta, gain, cp

    def convert(self, ram, control, subpage):
        """Convert one sub-page (ram: bytearray of 832 big-endian words read at 0x0400;
        control: the control register; subpage: status bit 0) into its half of the frame."""
        mode = mode_of(control)
        if mode != self.mode:
            self._build(mode)
        s = subpage & 1
        d = self.drv
        vdd, ta, gain, cp = self.scalars(ram, control, s)
        self.ta = ta
        self.vdd = vdd
        tr = ta - self.tr_shift
        ta4 = (ta + KELVIN) ** 2
        ta4 *= ta4
        tr4 = (tr + KELVIN) ** 2
        tr4 *= tr4
        tatr = tr4 - (tr4 - ta4) / self.emissivity
        dta = ta - 25.0
        dv = vdd - 3.3
        kb = self._kb
        k = self._k
        tab = self.tables
        off, offk, inva, il = tab.sub[s]
        kb[_GAIN] = gain
        kb[_DTA] = dta
        kb[_U0] = 1.0 + tab.kv[s][0] * dv
        kb[_U1] = 1.0 + tab.kv[s][1] * dv
        kb[_NEGK] = d.tgc * cp
        kb[_SCALE] = 1.0 / (self.emissivity * (1.0 + d.KsTa * dta))
        kb[_TATR] = tatr
        ksto1 = d.ksTo[1]
        kb[_KSTO1] = ksto1
        kb[_C1] = 1.0 - KELVIN * ksto1
        kb[_KELV] = KELVIN
        zero = k[_ZERO]
        x, t, q = self._x, self._t, self._q
        self._raw_floats(ram)
        xb = self._xb
        src = self._src[s]
        for b in (0, 1):  # gather the sub-page's pixels, compact
            v = xb[b]
            v *= zero
            v += src[b]
        x *= k[_GAIN]
        t *= zero  # t: offset (1 + kta dTa), then times (1 + kv dV) per block
        t += offk
        t *= k[_DTA]
        t += off
        v = self._tb[0]
        v *= k[_U0]
        v = self._tb[1]
        v *= k[_U1]
        x -= t
        if il is not None:
            x += il
        x -= k[_NEGK]
        x *= k[_SCALE]
        x *= inva  # x = r = ir / ac
        h = self._h
        q *= zero  # q = (r + TaTr)^(1/4), then the first pass's denominator
        q += x
        q += k[_TATR]
        q **= k[_QUART]
        q *= k[_KSTO1]
        q += k[_C1]
        h *= zero  # h = To0 (kelvin) = (r / denominator + TaTr)^(1/4)
        h += x
        h /= q
        h += k[_TATR]
        h **= k[_QUART]
        np = self._np
        ct = d.ct
        lo = float(np.min(h)) - KELVIN
        hi = float(np.max(h)) - KELVIN
        q *= zero  # q = D(To0) = 1 + ksTo1 To0 (+ the hinges of the ranges reached)
        q += h
        q *= k[_KSTO1]
        q += k[_C1]
        if lo < ct[1] or hi >= ct[2]:
            self._hinges(lo, hi)
        h *= zero  # h = To = (r / D + TaTr)^(1/4) - 273.15
        h += x
        h /= q
        h += k[_TATR]
        h **= k[_QUART]
        h -= k[_KELV]
        hb = self._hb
        dst = self._dst[s]
        for b in (0, 1):  # scatter into the frame
            v = dst[b]
            v *= zero
            v += hb[b]
        fr = self.frame
        for p in self.bad:
            fr[p] = BAD
        return ta

    def _hinges(self, lo, hi):
        """Adds D(To0) - (1 + ksTo1 To0) to q for the range boundaries this sub-page
        reaches (To0 in h, kelvin; t is free here)."""
        d = self.drv
        ct = d.ct
        ks = d.ksTo
        a2 = 1.0 + ks[1] * ct[2]
        a3 = a2 * (1.0 + ks[2] * (ct[3] - ct[2]))
        a0 = 1.0 / (1.0 + ks[0] * 40.0)
        s0 = a0 * ks[0]
        s2 = a2 * ks[2]
        s3 = a3 * ks[3]
        self.ranges_hit += 1
        if lo < ct[1]:  # (s0 - ksTo1) min(To0 - ct1, 0)
            self._hinge(ct[1], s0 - ks[1], True)
        if hi >= ct[2]:  # (s2 - ksTo1) max(To0 - ct2, 0)
            self._hinge(ct[2], s2 - ks[1], False)
        if hi >= ct[3]:  # (s3 - s2) max(To0 - ct3, 0)
            self._hinge(ct[3], s3 - s2, False)

    def _hinge(self, c, coef, below):
        t, q, h = self._t, self._q, self._h
        k = self._k
        kb = self._kb
        kb[_HC] = c + KELVIN
        kb[_HK] = 0.5 * coef
        t *= k[_ZERO]
        t += h
        t -= k[_HC]  # z = To0 - c
        t *= t
        t **= k[_SQRT]  # |z| = (z^2)^(1/2)
        if below:
            t *= k[_NEG1]  # z - |z| = 2 min(z, 0)
        t += h
        t -= k[_HC]
        t *= k[_HK]
        q += t


def driver_frame_data(ram, control, subpage):
    """The driver's frameData list (832 RAM words + control + sub-page) from a raw
    sub-page, for MLX90640._CalculateTo (the boot-time agreement check; allocates)."""
    fd = [0] * 834
    for i in range(832):
        fd[i] = (ram[2 * i] << 8) | ram[2 * i + 1]
    fd[832] = control
    fd[833] = subpage & 1
    return fd


def driver_convert(drv, ram, control, subpage, out, emissivity=0.95, tr_shift=OPENAIR_TA_SHIFT):
    """The unmodified driver's conversion of one raw sub-page into `out` (as getFrame
    does it: tr = Ta - 8, emissivity 0.95)."""
    fd = driver_frame_data(ram, control, subpage)
    tr = drv._GetTa(fd) - tr_shift
    drv._CalculateTo(fd, emissivity, tr, out)
