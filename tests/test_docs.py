"""Docs that run as written: every ```sh block of README.md, docs/tutorial.md and
docs/telemetry.md runs in a bash shell and exits 0, except blocks whose first line says,
visibly, `# not run by tests/test_docs.py: <why>` (the test suite itself, benchmarks).

README.md, docs/telemetry.md and the tutorial's simulated-board section run here, in a
scratch copy of the repository (its `.venv` is the environment running the tests; `make`
is told not to rebuild it: `make -o .venv/.installed`; a port the doc gives, 8080, becomes
a free one, and /tmp/simboard a path of the test's own). The tutorial's other blocks talk
to a board on $PORT and $D: tests/test_tutorial.py runs every one of them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from netparts import free_port

SKIP = "# not run by tests/test_docs.py:"
COPY = ("data", "device", "host_tools", "tests", "docs", "gateway", "Makefile", "pyproject.toml", "code.py",
        "boot.py", "settings.toml.example", "requirements-board.txt", "requirements-board-telemetry.txt", "README.md")


def sh_blocks(path: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", open(path, encoding="utf-8").read(), re.S)


def test_every_block_runs_or_says_why_not():
    """The marker is the block's first line, so a reader sees it; only these blocks skip."""
    skipped = {}
    for doc in ("README.md", "docs/telemetry.md", "docs/tutorial.md"):
        for b in sh_blocks(os.path.join(ROOT, doc)):
            if SKIP in b:
                assert b.startswith(SKIP) and len(b.split(SKIP)[1].split("\n")[0].strip()) > 5, b
                skipped.setdefault(doc, []).append(b.split("\n")[1])
    assert skipped == {"README.md": ["make test   # run the test suite (pytest)",
                                     "make lock              # re-resolve requirements.lock (uv, pinned in the Makefile)"],
                       "docs/telemetry.md": ["python -m host_tools.fleet.telemetry_bench    # ingest rates, dead-link send cost"]}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A copy of the repository (file times kept: make sees nothing to rebuild)."""
    root = tmp_path_factory.mktemp("repo")
    for name in COPY:
        src = os.path.join(ROOT, name)
        if os.path.isdir(src):
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif os.path.exists(src):
            shutil.copy2(src, root / name)
    os.symlink(sys.prefix, root / ".venv")  # the environment running the tests
    return root


def _run_blocks(doc: str, cwd, timeout: float = 600, only: str = "") -> list[str]:
    port = str(free_port())
    env = dict(os.environ, PATH=os.path.join(sys.prefix, "bin") + os.pathsep + os.environ.get("PATH", ""))
    env.pop("PYTHONPATH", None)
    out = []
    for b in sh_blocks(os.path.join(ROOT, doc)):
        if b.startswith(SKIP) or only not in b:
            continue
        script = re.sub(r"^make ", "make -o .venv/.installed ", b, flags=re.M).replace("8080", port)
        script = script.replace("/tmp/simboard", str(cwd / "simboard-port"))
        r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env, capture_output=True,
                           text=True, timeout=timeout)
        out.append(f"$ {b}\n{r.stdout[-8000:]}{r.stderr[-3000:]}[exit {r.returncode}]")  # make demo: ~3.4 KB after its report line
        assert r.returncode == 0, out[-1]
    return out


def test_readme_blocks_run(scratch):
    out = "\n".join(_run_blocks("README.md", scratch))
    assert "report: out/demo/report/report.html" in out  # make demo
    assert (scratch / "model.json").exists() and (scratch / "model-installed.json").exists()
    assert (scratch / "reports" / "latest" / "report.html").exists()


def test_telemetry_blocks_run(scratch):
    out = "\n".join(_run_blocks("docs/telemetry.md", scratch))
    assert "nothing was confirmed" not in out
    assert '"device": "fan-sim"' in out and '"payload": {' in out  # events --json: payload as an object
    assert re.search(r"simulated \d+ windows: [1-9]\d* alarm", out)  # the high speed is an anomaly


def test_tutorial_simulated_board_blocks_run(scratch):
    if shutil.which("socat") is None:
        pytest.skip("socat not installed (apt-get install socat; .ci/run installs it)")
    out = "\n".join(_run_blocks("docs/tutorial.md", scratch, only="host_tools.board.simboard"))
    assert "wrote 60 window(s) to data/sim-fan/low_1" in out and "ANOMALY" in out
    assert (scratch / "sim-scores.png").read_bytes()[:4] == b"\x89PNG"
    assert not any(p.name.startswith("simboard-port") for p in scratch.iterdir())  # stopped, cleaned up


def test_tutorial_blocks_are_the_ones_its_test_runs():
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import test_tutorial

    blocks = [b for b in sh_blocks(os.path.join(ROOT, "docs", "tutorial.md")) if "host_tools.board.simboard" not in b]
    assert blocks == test_tutorial.sh_blocks(test_tutorial.TUTORIAL) and len(blocks) >= 6
    cmds = [c for b in blocks for c in test_tutorial.commands(b)]
    assert all(c.startswith(("cpy-anomaly ", "python -m host_tools")) for c in cmds), cmds
    assert not any(SKIP in b for b in blocks)
