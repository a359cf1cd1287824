"""The package carries the board: a wheel built from this tree (not an editable install)
holds code.py, boot.py, settings.toml.example, device/, gateway/ and the board library
lists, and the installed `cpy-anomaly` deploys, checks (doctor) and pushes from any
working folder, against a CIRCUITPY-like folder.

The fresh virtual environment gets the wheel with `pip install --no-deps --no-index`; its
dependencies (NumPy, SciPy, ...) come from this interpreter's site-packages through a
path file, which makes the test take seconds instead of a full install. The test checks
that the project itself is imported from the fresh environment, not from this checkout.
"""

from __future__ import annotations

import glob
import os
import shutil
import site
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT
from flow_peers import make_drive
from host_tools.board import appfiles

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "requirements.lock") + appfiles.FILES
TIMEOUT = 600  # a wheel build and a venv on a loaded 2-core machine


def _run(cmd: list[str], cwd: str, log: list[str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT,
                       stdin=subprocess.DEVNULL)
    log.append(f"$ {' '.join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))}   (in {cwd})")
    log.append((r.stdout + r.stderr).rstrip() + f"\n[exit {r.returncode}]")
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, wheel path, transcript) of the wheel installed into a fresh venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    log: list[str] = []
    src = tmp / "src"  # a copy of what the build needs: the checkout stays clean
    src.mkdir()
    for name in SOURCES:
        shutil.copy2(os.path.join(ROOT, name), src / name)
    for name in appfiles.DIRS + ("host_tools",):
        shutil.copytree(os.path.join(ROOT, name), src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp / "dist"
    try:
        import setuptools  # noqa: F401  (build with it, offline)
        isolation = ["--no-build-isolation"]
    except ImportError:
        isolation = []  # pip fetches setuptools for the build
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(out), str(src)],
             str(tmp), log)
    assert r.returncode == 0, "\n".join(log)
    wheel = glob.glob(str(out / "circuitpython_anomaly-*.whl"))
    assert len(wheel) == 1, "\n".join(log)
    venv = tmp / "venv"
    r = _run([sys.executable, "-m", "venv", str(venv)], str(tmp), log)
    assert r.returncode == 0, "\n".join(log)
    bindir = venv / "bin"
    r = _run([str(bindir / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel[0]], str(tmp), log)
    assert r.returncode == 0, "\n".join(log)
    r = _run([str(bindir / "python"), "-c", "import site; print(site.getsitepackages()[0])"], str(tmp), log)
    with open(os.path.join(r.stdout.strip(), "borrowed-dependencies.pth"), "w") as f:
        f.write("\n".join(site.getsitepackages()) + "\n")  # path lines only: no .pth inside is run
    return str(bindir), wheel[0], log


def test_wheel_holds_the_board_files(installed):
    _, wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    app = "host_tools/board/app/"
    for name in appfiles.FILES:
        assert app + name in names
    device = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "device", "*.py")))
    assert sorted(n[len(app + "device/"):] for n in names if n.startswith(app + "device/")) == device
    gateway = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "gateway", "*.py")))
    assert sorted(n[len(app + "gateway/"):] for n in names if n.startswith(app + "gateway/")) == gateway
    assert "device/features.py" in names and "host_tools/cli/main.py" in names  # importable packages too
    assert not [n for n in names if "__pycache__" in n]


def test_installed_tool_uses_its_own_files(installed, tmp_path):
    bindir, _, log = installed
    code = "import host_tools, device; from host_tools.board import appfiles; print(host_tools.__file__); print(device.__file__); print(appfiles.ROOT)"
    r = _run([os.path.join(bindir, "python"), "-c", code], str(tmp_path), log)
    venv = os.path.dirname(bindir)
    lines = r.stdout.split()
    assert r.returncode == 0 and len(lines) == 3, "\n".join(log)
    for p in lines:
        assert p.startswith(venv) and not p.startswith(ROOT + os.sep + "host_tools"), lines
    assert lines[2].endswith(os.path.join("host_tools", "board", "app"))


def test_installed_deploy_dry_run_doctor_and_push(installed, tmp_path, fan_model_path):
    bindir, _, log = installed
    elsewhere = tmp_path / "somewhere-else"  # not the repository, not the venv
    elsewhere.mkdir()
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    tool = os.path.join(bindir, "cpy-anomaly")
    r = _run([tool, "deploy", "--dry-run", "--drive", drive], str(elsewhere), log)
    out = r.stdout
    assert r.returncode == 0, "\n".join(log)
    device = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "device", "*.py")))
    listed = [ln.split()[1] for ln in out.splitlines() if ln.startswith("  new ")]
    assert listed == ["device/" + n for n in device] + ["boot.py", "code.py", "settings.toml"], out
    assert "settings.toml (from settings.toml.example" in out
    assert f"dry run: {len(device) + 3} file(s) would change; nothing written" in out
    assert sorted(os.listdir(drive)) == ["boot_out.txt"]

    r = _run([tool, "deploy", "--drive", drive], str(elsewhere), log)
    assert r.returncode in (0, 1) and "error" not in r.stderr.lower(), "\n".join(log)  # 1: libraries missing
    with open(os.path.join(drive, "code.py"), "rb") as a, open(os.path.join(ROOT, "code.py"), "rb") as b:
        assert a.read() == b.read()
    r = _run([tool, "push", "--model", fan_model_path, "--drive", drive], str(elsewhere), log)
    assert r.returncode == 0, "\n".join(log)
    r = _run([tool, "doctor", "--drive", drive, "--model", fan_model_path], str(elsewhere), log)
    assert "MISSING adafruit_msa3xx" in r.stdout and f"matches {fan_model_path}" in r.stdout, "\n".join(log)
    assert "Traceback" not in r.stderr and "No such file" not in r.stdout + r.stderr, "\n".join(log)
    print("\n".join(log))  # the transcript (pytest -s shows it)


def test_setup_py_copies_what_appfiles_expects():
    ns: dict = {}
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        src = f.read()
    code = src[src.index("FILES = "):src.index("\n\n\nclass")]
    exec(compile(code, "setup.py", "exec"), ns)
    assert tuple(ns["FILES"]) == appfiles.FILES and tuple(ns["DIRS"]) == appfiles.DIRS
    assert set(appfiles.NEEDED) <= set(appfiles.FILES) | set(appfiles.DIRS)


def test_a_broken_install_says_which_board_files_are_missing(tmp_path):
    from host_tools.board import connection, deploy, doctor

    drive = connection.Drive(make_drive(str(tmp_path / "CIRCUITPY")))
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "code.py").write_text("")
    for run in (lambda: deploy.deploy(drive, None, print, dry_run=True, root=str(tmp_path / "app")),
                lambda: doctor.doctor(drive, None, print, root=str(tmp_path / "app"))):
        with pytest.raises(connection.BoardError, match=r"board's files are missing \(boot.py, settings.toml.example, "
                                                        r"requirements-board.txt, device\): reinstall"):
            run()
    assert appfiles.find_app_root((str(tmp_path / "app"), ROOT)) == ROOT
