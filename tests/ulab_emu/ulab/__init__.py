"""A CPython stand-in for CircuitPython's built-in `ulab` (6.5.3, float32, 2-D, no complex).

Only for tests: put `tests/ulab_emu` first on PYTHONPATH and `from ulab import numpy as np`
(as device/xp.py does) gets a restricted, NumPy-backed namespace that exposes exactly the
functions the board has (see ulab/numpy/__init__.py) and mimics the board where it differs
from NumPy: float32 only, dtype codes are ints, `fft.fft` returns a (real, imag) tuple,
`argsort` needs axis=0, no `cov`/`var`/`isnan`/`@`/`%`, at most 2 dimensions, and scalars
pass through CircuitPython's 30-bit float objects. Reductions (`mean`, `std`, `sum`, `dot`)
and the FFT accumulate in float32 the way ulab's C code does, so precision tests see
errors of the size a board will show.

Allocation accounting (not part of the board's API, which is why it lives here and not in
ulab.numpy): `ulab.EMU.bytes` is the estimated number of bytes the board's heap would have
allocated since `ulab.EMU.reset()`, split by basis in `EMU.by_basis` (measured / derived /
estimate) and by operation in `EMU.ops`; `EMU.elem_stores` / `EMU.elem_reads` count
element-wise ndarray stores and reads (`a[i] = x`, `a[r, c]`); `EMU.live_bytes()` is what
the emulated arrays alive now would hold. Table and formulas: ulab/_emu.py.

Never put this folder on sys.path of the pytest process itself: device.xp would then pick
the ulab branch for every test. Tests use it in subprocesses (or import it under a guard).
"""

from ._emu import EMU  # noqa: F401
from . import numpy  # noqa: F401
from . import scipy  # noqa: F401
from . import utils  # noqa: F401

__version__ = "6.5.3-2D"
EMULATED = True
