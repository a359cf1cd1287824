"""What a fresh machine and CI rely on: requirements.lock covers pyproject.toml's ranges
(with hashes), and a test that needs an outside program skips on a developer's machine
but fails, naming the program, where CPA_REQUIRE_TOOLS is set (.ci/run)."""

from __future__ import annotations

import os
import re
import sys

import pytest

import conftest
from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (the lock pins tomli there)
    import tomli as tomllib

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

LOCK = os.path.join(ROOT, "requirements.lock")


def _lock_pins() -> dict[str, list[tuple[Version, str]]]:
    """name -> [(version, marker text)], from requirements.lock."""
    pins: dict[str, list[tuple[Version, str]]] = {}
    with open(LOCK, encoding="utf-8") as f:
        text = f.read()
    for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\\n]+))?", text, re.M):
        pins.setdefault(canonicalize_name(m.group(1)), []).append((Version(m.group(2)), (m.group(3) or "").strip()))
    return pins


def test_lock_pins_every_requirement_of_pyproject_with_hashes():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    pins = _lock_pins()
    stale = []
    for req in reqs:
        name = canonicalize_name(req.name)
        here = [v for v, marker in pins.get(name, []) if not marker or Marker(marker).evaluate()]
        if len(here) != 1 or not req.specifier.contains(here[0], prereleases=True):
            stale.append(f"{req} (lock: {here or 'missing'})")
    assert not stale, "requirements.lock is out of date with pyproject.toml, run `make lock`: " + "; ".join(stale)
    with open(LOCK, encoding="utf-8") as f:
        text = f.read()
    blocks = re.findall(r"^[A-Za-z0-9][^\n]*==[^\n]*\\\n((?:\s+--hash=sha256:[0-9a-f]{64}[^\n]*\n)+)", text, re.M)
    assert len(blocks) == sum(len(v) for v in pins.values()), "every pin carries its hashes"


def test_missing_tool_skips_on_a_developer_machine(monkeypatch):
    monkeypatch.setitem(conftest.TOOLS, "socat", (lambda: None, "apt-get install socat"))
    monkeypatch.delenv(conftest.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="socat not installed"):
        conftest.require_tool("socat")


@pytest.mark.parametrize("name", ["socat", "mosquitto", "postgresql", "chromium", "micropython"])
def test_missing_tool_fails_in_ci_naming_it(monkeypatch, name):
    monkeypatch.setitem(conftest.TOOLS, name, (lambda: None, conftest.TOOLS[name][1]))
    monkeypatch.setenv(conftest.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=f"required program missing: {name} not installed"):
        conftest.require_tool(name)


def test_ci_script_requires_the_tools():
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        script = f.read()
    assert f"export {conftest.REQUIRE_ENV}=1" in script
    assert script.index("export " + conftest.REQUIRE_ENV) < script.rindex("make test")


def test_present_tool_is_found():
    assert conftest.require_tool("mpremote").endswith("mpremote")
