"""Conformance check: the board code type-checked against CircuitPython's published API.

    .venv/bin/python tests/cp_conformance.py      # prints the count of uses checked, then
                                                  # every finding; exit 1 on a finding

mypy checks `code.py`, `boot.py`, `device/` and `gateway/` with --check-untyped-defs
against:
- `circuitpython-stubs` (PyPI; CircuitPython's own stubs, ulab included) for board,
  busio, digitalio, microcontroller, watchdog, wifi, socketpool, alarm, ulab, ...;
- `hashlib` from those stubs too (copied onto MYPYPATH, which mypy puts before its own
  CPython stdlib stubs: a plain run would check `hashlib.sha256` against CPython's);
- `os`, `time` and `gc` as CircuitPython has them (tests/cp_stubs/*.pyi: the stubs
  package has none for them; written from shared-bindings/os/__init__.c, shared-bindings/
  time/__init__.c and MicroPython's py/modgc.c, CircuitPython 10.x);
- the Adafruit libraries' own annotations (adafruit_minimqtt, adafruit_requests,
  adafruit_rfm9x, adafruit_msa3xx, adafruit_mlx90640 as pip installs them).
Reported: what the board does not have -- a missing attribute or module function
(attr-defined), an unknown keyword or argument count (call-arg), an unknown name
(name-defined). Type-precision findings of untyped code (Optional, unions) are not this
check's business. ALLOWED lists the findings that are gaps of the stubs, each with why.
"""

import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGETS = ["code.py", "boot.py", "device", "gateway/gateway.py", "gateway/code.py"]
CODES = ("attr-defined", "call-arg", "name-defined")

# (file regex, message regex, why it is not a finding)
ALLOWED = (
    (r"device/(xp|detectors|model|thermal|features)\.py",
     r'Module has no attribute "(fft|linalg|frombuffer|load|asarray)"',
     "ulab-stubs 10.3.1 lack numpy.fft/linalg and frombuffer/load/asarray; ulab 6.5.3 on the "
     "board has them (shared/ulab-on-circuitpython.md, checked on a build like the board's)"),
    (r"device/(thermal|features|detectors)\.py", r'"ndarray" has no attribute "(reshape|transpose|flatten)"',
     "ulab-stubs lack these ndarray methods; the board's ulab 6.5.3 has them (same sheet)"),
    (r"device/thermal\.py", r'"float" has no attribute "reshape"',
     "ulab-stubs type ndarray + float as float; the board's ulab returns an ndarray"),
    (r"device/xp\.py", r'Module has no attribute "float32"',
     "the NumPy branch of device/xp.py (host only): mypy binds np to ulab, the first import"),
    (r"device/xp\.py", r'Module has no attribute "from_int16_buffer"',
     "ulab-stubs are generated from ulab's //| doc comments and code/utils/utils.c documents only "
     "spectrogram; from_int16_buffer (out=, byteswap=) is on the board (shared/ulab-on-circuitpython.md)"),
    (r"device/ticks\.py", r'"_Paced" has no attribute "_ticks"',
     "mixin attribute: every class using _Paced sets _ticks in its constructor"),
)


def stubs_dir():
    """A folder for MYPYPATH: CircuitPython's hashlib stub + our os/time stubs."""
    d = tempfile.mkdtemp(prefix="cp_stubs_")
    import importlib.util

    spec = importlib.util.find_spec("ulab")  # noqa: F841 - ulab comes from the stubs package
    site = None
    for p in sys.path:
        if os.path.isdir(os.path.join(p, "hashlib-stubs")):
            site = p
            break
    if site is None:
        raise SystemExit("circuitpython-stubs is not installed (pip install -e '.[dev]')")
    shutil.copy(os.path.join(site, "hashlib-stubs", "__init__.pyi"), os.path.join(d, "hashlib.pyi"))
    for name in ("os", "time", "gc"):
        shutil.copy(os.path.join(HERE, "cp_stubs", name + ".pyi"), os.path.join(d, name + ".pyi"))
    return d


def _files():
    out = []
    for t in TARGETS:
        p = os.path.join(ROOT, t)
        if os.path.isdir(p):
            out += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".py"))
        else:
            out.append(p)
    return out


def count_uses(files):
    """(attribute uses of imported non-device modules, calls) in the board code: what the
    check compares with the stubs."""
    attrs = calls = 0
    for path in files:
        with open(path) as f:
            tree = ast.parse(f.read())
        mods = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if not a.name.startswith("device"):
                        mods.add((a.asname or a.name).split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module and not node.module.startswith(("device", "gateway")):
                for a in node.names:
                    mods.add(a.asname or a.name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in mods:
                attrs += 1
            elif isinstance(node, ast.Call):
                calls += 1
    return attrs, calls


def _mypy(cwd, targets, d):
    env = dict(os.environ, MYPYPATH=d)
    cmd = [sys.executable, "-m", "mypy", "--python-version", "3.11", "--check-untyped-defs",
           "--ignore-missing-imports", "--no-error-summary", "--no-incremental",
           "--cache-dir", os.path.join(d, ".cache"), "--show-error-codes",
           "--disable-error-code", "import-untyped"] + targets
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def run():
    """(uses, calls, findings, allowed) -- findings are mypy lines not in ALLOWED. The
    gateway is its own board program (gateway.py is a top-level module there): checked
    from its folder."""
    d = stubs_dir()
    findings, allowed = [], []
    try:
        for cwd, targets, prefix in ((ROOT, ["code.py", "boot.py", "device"], ""),
                                     (os.path.join(ROOT, "gateway"), ["code.py", "gateway.py"], "gateway/")):
            r = _mypy(cwd, targets, d)
            for line in r.stdout.splitlines():
                m = re.match(r"([^:]+):\d+: error: (.*)\[([a-z-]+)\]$", line)
                if not m or m.group(3) not in CODES:
                    continue
                f = prefix + m.group(1)
                why = next((w for fr, msg, w in ALLOWED if re.search(fr, f) and re.search(msg, m.group(2))), None)
                (allowed if why else findings).append(prefix + line)
            if r.returncode not in (0, 1) or (r.returncode == 1 and not r.stdout.strip()):
                findings.append("mypy failed in %s: %s" % (cwd, (r.stderr or r.stdout)[-2000:]))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    attrs, calls = count_uses(_files())
    return attrs, calls, findings, allowed


def main():
    attrs, calls, findings, allowed = run()
    print("conformance: %d board-code uses of CircuitPython/library modules and %d calls checked against "
          "circuitpython-stubs (+ Adafruit annotations); %d finding(s), %d known stub gap(s) allowed"
          % (attrs, calls, len(findings), len(allowed)))
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
