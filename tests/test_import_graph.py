"""No module of device/ or host_tools/ imports another that imports it back (tests/import_cycles.py).

The two cycles there were when this check came in (datasets <-> thermal_data, model <->
modelwrite) are gone, so there is no list of known ones: any cycle fails."""

from __future__ import annotations

import subprocess
import sys


import import_cycles
from conftest import ROOT


def test_no_import_cycles():
    edges = import_cycles.graph(ROOT)
    assert "host_tools.cli.main" in edges and "device.app" in edges and len(edges) > 40
    found = import_cycles.cycles(edges)
    assert not found, "import cycles:\n" + "\n".join(import_cycles.describe(g, edges) for g in found)


def _tree(tmp_path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return str(tmp_path)


def test_checker_finds_lazy_relative_and_from_package_cycles(tmp_path):
    root = _tree(tmp_path, {
        "device/__init__.py": "",
        "device/a.py": "def f():\n    from device import b  # lazy\n",
        "device/b.py": "from . import a\n",
        "host_tools/__init__.py": "",
        "host_tools/x/__init__.py": "",
        "host_tools/x/p.py": "from host_tools.x.q import thing\n",
        "host_tools/x/q.py": "import importlib\nm = importlib.import_module('host_tools.y.r')\nthing = 1\n",
        "host_tools/y/__init__.py": "",
        "host_tools/y/r.py": "from ..x import p\n",
        "host_tools/z.py": "import os, numpy\nfrom host_tools.x import p\n",  # imports into a cycle: not one
    })
    edges = import_cycles.graph(root)
    assert import_cycles.cycles(edges) == [
        ["device.a", "device.b"],
        ["host_tools.x.p", "host_tools.x.q", "host_tools.y.r"],
    ]
    assert "device/a.py:2 imports device.b" in import_cycles.describe(["device.a", "device.b"], edges, root)


def test_checker_passes_a_tree_without_cycles(tmp_path):
    root = _tree(tmp_path, {
        "device/__init__.py": "",
        "device/a.py": "from device import b\n",
        "device/b.py": "import math\n",
        "host_tools/__init__.py": "",
        "host_tools/m.py": "from device import a, b\n",
    })
    assert import_cycles.cycles(import_cycles.graph(root)) == []
    r = subprocess.run([sys.executable, import_cycles.__file__, root], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "0 cycle(s)" in r.stdout, r.stdout + r.stderr
