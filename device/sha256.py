"""Pure-Python SHA-256 (FIPS 180-4) for CircuitPython cores without it (9.x, 10.0.x).

Used by device.hashing only when `hashlib.new("sha256")` is refused. Buffers are made once
per object (a 64-byte block, a 64-word schedule); on a board the 32-bit words are long
integers, so hashing allocates short-lived numbers: it is for the model checksum at boot
and LoRa packet tags (4 blocks a packet), not for bulk data.
"""

_M = 0xFFFFFFFF
_K = (
    0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
    0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
    0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
    0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
    0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
    0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
    0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
    0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
)
_H0 = (0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19)


class Sha256:
    digest_size = 32
    block_size = 64

    def __init__(self, data=None):
        self._h = list(_H0)
        self._buf = bytearray(64)
        self._n = 0
        self._len = 0
        self._w = [0] * 64
        if data:
            self.update(data)

    def update(self, data):
        if isinstance(data, str):
            raise TypeError("hash strings after encoding them")
        mv = memoryview(data)
        n = len(mv)
        self._len += n
        i = 0
        buf = self._buf
        while i < n:
            take = 64 - self._n
            if take > n - i:
                take = n - i
            buf[self._n:self._n + take] = mv[i:i + take]
            self._n += take
            i += take
            if self._n == 64:
                self._block(buf)
                self._n = 0

    def _block(self, b):
        w = self._w
        for t in range(16):
            j = 4 * t
            w[t] = (b[j] << 24) | (b[j + 1] << 16) | (b[j + 2] << 8) | b[j + 3]
        for t in range(16, 64):
            x = w[t - 15]
            s0 = ((x >> 7) | (x << 25)) ^ ((x >> 18) | (x << 14)) ^ (x >> 3)
            x = w[t - 2]
            s1 = ((x >> 17) | (x << 15)) ^ ((x >> 19) | (x << 13)) ^ (x >> 10)
            w[t] = (w[t - 16] + (s0 & _M) + w[t - 7] + (s1 & _M)) & _M
        h = self._h
        a, b_, c, d, e, f, g, hh = h
        for t in range(64):
            s1 = (((e >> 6) | (e << 26)) ^ ((e >> 11) | (e << 21)) ^ ((e >> 25) | (e << 7))) & _M
            ch = (e & f) ^ ((e ^ _M) & g)
            t1 = hh + s1 + ch + _K[t] + w[t]
            s0 = (((a >> 2) | (a << 30)) ^ ((a >> 13) | (a << 19)) ^ ((a >> 22) | (a << 10))) & _M
            maj = (a & b_) ^ (a & c) ^ (b_ & c)
            hh = g
            g = f
            f = e
            e = (d + t1) & _M
            d = c
            c = b_
            b_ = a
            a = (t1 + s0 + maj) & _M
        h[0] = (h[0] + a) & _M
        h[1] = (h[1] + b_) & _M
        h[2] = (h[2] + c) & _M
        h[3] = (h[3] + d) & _M
        h[4] = (h[4] + e) & _M
        h[5] = (h[5] + f) & _M
        h[6] = (h[6] + g) & _M
        h[7] = (h[7] + hh) & _M

    def copy(self):
        o = Sha256()
        o._h = list(self._h)
        o._buf[:] = self._buf
        o._n = self._n
        o._len = self._len
        return o

    def digest(self):
        o = self.copy()
        bits = self._len * 8
        pad = bytearray((55 - self._n) % 64 + 9)
        pad[0] = 0x80
        for i in range(8):
            pad[-1 - i] = (bits >> (8 * i)) & 0xFF
        o.update(pad)
        out = bytearray(32)
        for i in range(8):
            v = o._h[i]
            out[4 * i] = v >> 24
            out[4 * i + 1] = (v >> 16) & 0xFF
            out[4 * i + 2] = (v >> 8) & 0xFF
            out[4 * i + 3] = v & 0xFF
        return bytes(out)

    def hexdigest(self):
        return "".join("%02x" % b for b in self.digest())
