"""Allocation accounting of the ulab emulator: the bytes each operation would take from the
board's heap, and counts of element-wise ndarray stores and reads.

Figures come from the measured table in shared/notes/ulab-allocation-costs.md (ulab 6.5.3
built like CircuitPython on an ESP32-S3: float32, 30-bit float objects, 32-bit words,
16-byte GC blocks; `gc.mem_alloc()` deltas with the GC off). Every charge is labelled:

- "measured": the operation (and, where it matters, the size) is a row of the table;
- "derived":  the table has the operation at another size; the size-dependent part is the
  array data rounded up to 16-byte blocks, the fixed part is taken from the measured row;
- "estimate": the table has no such operation; a documented guess (array header + data
  rounded to 16 bytes, or the nearest measured operation).

Formulas (r16(x) = x rounded up to a multiple of 16; n = elements; isz = bytes per item):
  element store  v[i] = x           288 (1-D, measured)   m[r, i] = x     256 (2-D, measured)
  element read   x = v[i]           112 (1-D, measured)   x = m[r, i]      80 (2-D, estimate:
                                    the 1-D read less the 32 bytes the 2-D store saves)
  slice view     v[a:b]             128 (measured)        row view m[r]   112 (estimate:
                                    a view without the slice object, = the 1-D element read)
  slice assign   v[s] = array       192 + r16(isz * n_rhs) (derived from 832 for 128 floats:
                                    832 - 128 for the RHS view, which its own read charges,
                                    - 512 for the copy ulab makes of the RHS); a row index
                                    instead of a slice: 16 less (no slice object, estimate)
  fill           v[s] = scalar      304 (measured)
  in place       v op= scalar       144 (measured)        v op= array      48 (measured)
  new array, one operand (np.log, abs(v), -v, np.dot(M, p), creation functions, ...):
                                    r16(isz * n) + 80 (derived from np.log of 129 -> 608 and
                                    np.dot(32x129, 129) -> 208; creation: estimate)
  new array, two array operands     r16(isz * n) + 112 (derived from v * v, 256 -> 1136);
                                    a scalar operand adds 96 (estimate: the difference of the
                                    measured in-place scalar and array operations)
  scalar results np.mean / dot(v,v) 32 / 96 (measured); other reductions (std, sum, max,
                                    min, norm, ...) 32 (estimate)
  fft / ifft of n points            2 * r16(4 * n) + 176 (derived from 2224 at n = 256:
                                    two result arrays + the tuple + fixed overhead)
  np.frombuffer                     80 (estimate: header only; the memory is shared)
  .shape                            16 (estimate: a new 2-item tuple)
  iterating an ndarray              16 for the iterator (+ a row view per row of a 2-D array)

Live arrays are tracked too: an array owning its data counts 48 (the ndarray header,
sizeof(ndarray_obj_t) = 40 on 32-bit, in 16-byte blocks) + r16(its data); a view or a
frombuffer array counts 48 (the buffer it shares is the caller's Python object).
"""

import weakref

HEADER = 48


def r16(n):
    return (int(n) + 15) // 16 * 16


# measured (table rows)
ELEM_STORE_1D = 288
ELEM_STORE_2D = 256
ELEM_READ_1D = 112
SLICE_VIEW = 128
SLICE_ASSIGN_FIXED = 832 - 128 - 512
FILL = 304
INPLACE_SCALAR = 144
INPLACE_ARRAY = 48
MEAN = 32
DOT_VV = 96
NEW_ONE_OPERAND = 608 - r16(4 * 129)  # = 80, also 208 - r16(4 * 32)
NEW_TWO_OPERANDS = 1136 - r16(4 * 256)  # = 112
FFT_FIXED = 2224 - 2 * r16(4 * 256)  # = 176
# estimates
ELEM_READ_2D = ELEM_READ_1D - (ELEM_STORE_1D - ELEM_STORE_2D)
ROW_VIEW = ELEM_READ_1D
SCALAR_OPERAND = INPLACE_SCALAR - INPLACE_ARRAY
SCALAR_RESULT = 32
FROMBUFFER = NEW_ONE_OPERAND
TUPLE = 16
NO_SLICE_OBJECT = 16


class Accounting:
    """Counters; `ulab.EMU` is the one instance. Read `bytes`, `elem_stores`,
    `elem_reads`, `iter_items`, `by_basis`, `ops`; call `reset()` before a measured block."""

    def __init__(self):
        self._live = {}
        self._inside = 0
        self.reset()

    def reset(self):
        self.bytes = 0
        self.elem_stores = 0
        self.elem_reads = 0
        self.iter_items = 0
        self.by_basis = {"measured": 0, "derived": 0, "estimate": 0}
        self.ops = {}

    def charge(self, op, nbytes, basis):
        """Account `nbytes` for one operation (ignored inside another emulated call)."""
        if self._inside or nbytes <= 0:
            return
        self.bytes += nbytes
        self.by_basis[basis] += nbytes
        c = self.ops.get(op)
        if c is None:
            self.ops[op] = [1, nbytes]
        else:
            c[0] += 1
            c[1] += nbytes

    def elem_store(self, ndim):
        if self._inside:
            return
        self.elem_stores += 1
        self.charge("elem_store", ELEM_STORE_1D if ndim == 1 else ELEM_STORE_2D, "measured")

    def elem_read(self, ndim):
        if self._inside:
            return
        self.elem_reads += 1
        if ndim == 1:
            self.charge("elem_read", ELEM_READ_1D, "measured")
        else:
            self.charge("elem_read", ELEM_READ_2D, "estimate")

    def iterated(self, n):
        """Items handed out by iterating an ndarray (`for v in a`, `a.flat`): no heap on the
        board for a 1-D float array, but a Python-speed loop over elements."""
        if not self._inside:
            self.iter_items += n

    def snapshot(self):
        return {"bytes": self.bytes, "elem_stores": self.elem_stores,
                "elem_reads": self.elem_reads, "iter_items": self.iter_items, "by_basis": dict(self.by_basis),
                "ops": {k: list(v) for k, v in self.ops.items()}}

    # ---- live arrays
    def track(self, arr, nbytes):
        key = id(arr)
        live = self._live

        def gone(_ref, key=key):
            live.pop(key, None)

        try:
            live[key] = (weakref.ref(arr, gone), nbytes)
        except TypeError:
            pass

    def live_bytes(self):
        """Board bytes held by the emulated arrays alive now (headers + owned data)."""
        return sum(n for ref, n in list(self._live.values()) if ref() is not None)

    def live_count(self):
        return sum(1 for ref, _n in list(self._live.values()) if ref() is not None)


EMU = Accounting()
