"""A MicroPython-runnable stand-in for the part of ulab 6.5.3 that device/ uses (tests only).

Written from v923z/micropython-ulab 6.5.3's semantics as shared/ulab-on-circuitpython.md
states them (float32 data, 2-D at most, fft returns a (real, imag) tuple, views share
memory). Arrays keep their data in array('f'), so an array's data takes the same bytes as
on the board; the array header is a Python object here (larger than ulab's C struct).
Used by tests/mp_heap.py to run the real code.py and device/*.mpy under the MicroPython
unix port (which has no ulab); its own heap cost is measured there and subtracted.
"""

__version__ = "6.5.3-2D-standin"
