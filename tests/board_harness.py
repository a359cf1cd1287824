"""Helpers for running board code on CPython with the fake hardware in tests/fakes.

Imported explicitly by the board tests (not a conftest): `with fake_hardware() as hw:`
puts fresh fake board/busio/digitalio/pwmio/neopixel/microcontroller/supervisor/storage/
watchdog modules in sys.modules (shadowing Blinka's real ones), and restores whatever was
there afterwards. `run_code_py(root, hw, ...)` runs the repository's code.py as the board
would: cwd = a temporary CIRCUITPY root, os.getenv reading its settings.toml, time.sleep on
the fakes' virtual clock; it returns the module globals (code.py leaves `app` there), the
JSON payloads printed and the other console lines.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import runpy
import sys
import time
import types
from typing import Iterator

HERE = os.path.dirname(os.path.abspath(__file__))
FAKES = os.path.join(HERE, "fakes")
REPO = os.path.dirname(HERE)
CODE_PY = os.path.join(REPO, "code.py")
BOOT_PY = os.path.join(REPO, "boot.py")
FAKE_NAMES = ("supervisor", "watchdog", "microcontroller", "board", "busio", "digitalio",
              "pwmio", "neopixel", "storage", "alarm", "msa301_sim", "mlx_fake", "settings_toml")
DATA = os.path.join(REPO, "data", "ceiling-fan")


@contextlib.contextmanager
def fake_hardware(circuitpython: str | None = "10.1.0") -> Iterator[types.SimpleNamespace]:
    """`circuitpython`: the core version whose built-in hashlib the board code sees
    (tests/fakes/cp_hashlib.py; None keeps CPython's)."""
    saved = {n: sys.modules.get(n) for n in FAKE_NAMES + ("hashlib",)}
    for n in FAKE_NAMES:
        sys.modules.pop(n, None)
    sys.path.insert(0, FAKES)
    try:
        mods = {n: importlib.import_module(n) for n in FAKE_NAMES}
        cp_hashlib = importlib.import_module("cp_hashlib")
    finally:
        sys.path.remove(FAKES)
    if circuitpython is not None:
        sys.modules["hashlib"] = cp_hashlib.module(circuitpython)
    mods["supervisor"].reset_clock()
    mods["microcontroller"].fresh()
    mods["storage"].fresh()
    try:
        yield types.SimpleNamespace(**mods)
    finally:
        mods["busio"].fresh()
        for n, m in saved.items():  # hashlib too
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def write_settings(root: str, **keys) -> None:
    """settings.toml in `root`: strings quoted, ints bare (as CircuitPython stores them)."""
    lines = []
    for k, v in keys.items():
        if isinstance(v, bool):
            v = int(v)
        if isinstance(v, int):
            lines.append(f"{k} = {v}")
        else:
            lines.append(f'{k} = "{v}"')
    with open(os.path.join(root, "settings.toml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def copy_replay(root: str, folders, files_per_folder: int = 5, sub: str = "replay") -> str:
    """Copy the first N CSV files of each bundled recording folder into root/sub."""
    dest = os.path.join(root, sub)
    os.makedirs(dest, exist_ok=True)
    k = 0
    for folder in folders:
        src = os.path.join(DATA, folder)
        for name in sorted(os.listdir(src))[:files_per_folder]:
            with open(os.path.join(src, name)) as fi, open(os.path.join(dest, "%04d.csv" % k), "w") as fo:
                fo.write(fi.read())
            k += 1
    return dest


class Run(types.SimpleNamespace):
    @property
    def app(self):
        return self.globals.get("app")

    def of_type(self, t: str) -> list[dict]:
        return [p for p in self.payloads if p.get("type") == t]

    def states(self) -> list[str]:
        return [p.get("state") for p in self.payloads if p.get("type") == "status"]


def parse_console(text: str) -> tuple[list[dict], list[str]]:
    payloads, other = [], []
    for line in text.splitlines():
        if line.startswith("{"):
            payloads.append(json.loads(line))
        elif line.strip():
            other.append(line)
    return payloads, other


def run_code_py(root: str, hw: types.SimpleNamespace, path: str = CODE_PY) -> Run:
    """Run code.py (or boot.py) with cwd=root and settings from root/settings.toml."""
    import pytest

    getenv = hw.settings_toml.getenv_from(os.path.join(root, "settings.toml"))
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setattr(os, "getenv", getenv)
        mp.setattr(time, "sleep", hw.supervisor.sleep)
        with contextlib.redirect_stdout(out):
            g = runpy.run_path(path, run_name="__main__")
    payloads, other = parse_console(out.getvalue())
    return Run(globals=g, payloads=payloads, lines=other, text=out.getvalue())
