"""Host code is typed: `mypy host_tools` with the project's configuration (pyproject.toml's
[tool.mypy]: device/ is followed for its types but not reported, libraries without stubs are
skipped) reports no error. The second test proves the check can fail: with cli/main.py's
`import contextlib` removed (the NameError that killed push/deploy/receive --quiet) mypy
must name it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT

MAIN = os.path.join("host_tools", "cli", "main.py")


@pytest.fixture(scope="module")
def mypy_cache(tmp_path_factory) -> str:
    # one cache for both runs: the second only re-checks the shadowed module and its importers
    return str(tmp_path_factory.mktemp("mypy_cache"))


def run_mypy(cache: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", os.path.join(ROOT, "pyproject.toml"),
                           "--cache-dir", cache, "--no-color-output", "--no-error-summary", *extra, "host_tools"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_reports_no_error_in_host_tools(mypy_cache):
    r = run_mypy(mypy_cache)
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout + r.stderr


def test_mypy_check_fails_on_a_missing_import(mypy_cache, tmp_path):
    src = open(os.path.join(ROOT, MAIN), encoding="utf-8").read()
    assert "\nimport contextlib\n" in src
    broken = tmp_path / "main.py"
    broken.write_text(src.replace("\nimport contextlib\n", "\n", 1), encoding="utf-8")
    r = run_mypy(mypy_cache, "--shadow-file", MAIN, str(broken))
    assert r.returncode == 1, r.stdout + r.stderr
    errors = [ln for ln in r.stdout.splitlines() if ": error:" in ln]
    assert errors and all(ln.startswith(MAIN + ":") for ln in errors), r.stdout
    assert any('Name "contextlib" is not defined  [name-defined]' in ln for ln in errors), r.stdout
