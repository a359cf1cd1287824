"""push: a model onto a CIRCUITPY drive (temporary name, fsync, rename, read back, backup)
and over mpremote onto a real MicroPython REPL that checks it with its own device/model.py.
Error cases: not a CIRCUITPY folder, read-only (and who owns it), full, a port that is
not a board, a board without device/model.py, a copy that reads back different."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil

import numpy as np
import pytest

from conftest import ROOT
from device import model as model_mod
from flow_peers import make_drive, micropython_board, needs_board, pty_pair, needs_socat, tmpfs
from host_tools.board import connection as board_mod
from host_tools.board import push as push_mod
from host_tools.cli import main as cli


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = cli.main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture()
def model(tmp_path, fan_model_path) -> str:
    d = tmp_path / "local"
    d.mkdir()
    for f in model_mod.files_of(fan_model_path):  # model.json and its model.npy
        shutil.copy(f, d / os.path.basename(f))
    return str(d / "model.json")


def sidecar_model(folder, fan_model_path) -> str:
    """A model.json with its float32 .npy sidecar (what train writes for a 39-feature
    Mahalanobis model), copied into `folder`."""
    files = model_mod.files_of(fan_model_path)
    assert len(files) == 2, "the fan model is expected to have a sidecar"
    for f in files:
        shutil.copy(f, os.path.join(folder, os.path.basename(f)))
    return os.path.join(folder, "model.json")


# ---- onto the drive -------------------------------------------------------------------------

def test_push_to_drive_verifies_and_keeps_backup(tmp_path, capsys, model, small_model):
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    old = tmp_path / "old.json"
    old.write_bytes(model_mod.dumps(small_model))
    rc, out, err = run_cli(capsys, "push", "--model", str(old), "--drive", drive)
    assert rc == 0, err
    rc, out, err = run_cli(capsys, "push", "--model", model, "--drive", drive)
    assert rc == 0, err
    assert open(model, "rb").read() == open(os.path.join(drive, "model.json"), "rb").read()
    assert open(os.path.join(drive, "model.json.bak"), "rb").read() == old.read_bytes()
    want = board_mod.model_checksum(model)
    assert f"checksum {want[:16]}... matches" in out and "read back from the drive" in out
    assert not [n for n in os.listdir(drive) if n.endswith(".tmp")]


def test_push_uses_model_path_from_board_settings(tmp_path, capsys, model):
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    (tmp_path / "CIRCUITPY" / "settings.toml").write_text('SENSOR = "msa301"\nMODEL_PATH = "fan.json"\n')
    rc, out, err = run_cli(capsys, "push", "--model", model, "--drive", drive)
    assert rc == 0, err
    assert os.path.exists(os.path.join(drive, "fan.json")) and not os.path.exists(os.path.join(drive, "model.json"))


def test_push_copies_sidecar_first(tmp_path, fan_model_path):
    local = tmp_path / "local"
    local.mkdir()
    path = sidecar_model(str(local), fan_model_path)
    assert [n for _, n in board_mod.model_files(path)] == ["model.npy", "model.json"]
    drive = board_mod.Drive(make_drive(str(tmp_path / "CIRCUITPY")))
    order = []
    stage = drive.stage
    drive.stage = lambda src, name: (order.append(name), stage(src, name))[1]
    lines: list[str] = []
    push_mod.push_model(drive, path, lines.append)
    assert order == ["model.npy", "model.json"]
    for n in ("model.npy", "model.json"):
        assert open(local / n, "rb").read() == open(tmp_path / "CIRCUITPY" / n, "rb").read()
    os.remove(local / "model.npy")
    with pytest.raises(board_mod.BoardError, match="array file model.npy is missing"):
        board_mod.model_files(path)


def test_push_not_a_circuitpy_folder(tmp_path, capsys, model):
    rc, out, err = run_cli(capsys, "push", "--model", model, "--drive", str(tmp_path))
    assert rc == 2
    assert err.startswith("error: ") and "is not a CIRCUITPY drive (no boot_out.txt there)" in err
    assert "--drive /media/$USER/CIRCUITPY" in err and err.count("\n") == 1
    rc, out, err = run_cli(capsys, "push", "--model", model, "--drive", str(tmp_path / "nope"))
    assert rc == 2 and "no such folder" in err


def test_push_finds_the_only_drive(tmp_path, model):
    drive = make_drive(str(tmp_path / "media" / "CIRCUITPY"))
    assert board_mod.find_drive(None, [drive, str(tmp_path)]) == drive
    with pytest.raises(board_mod.BoardError, match="no CIRCUITPY drive found"):
        board_mod.find_drive(None, [str(tmp_path)])
    other = make_drive(str(tmp_path / "media" / "CIRCUITPY1"))
    with pytest.raises(board_mod.BoardError, match="several CIRCUITPY drives"):
        board_mod.find_drive(None, [drive, other])


def failing_open(code: int, after_bytes: int = 0):
    """An opener whose writes fail like a read-only (EROFS) or full (ENOSPC) filesystem."""

    class F:
        def __init__(self, f):
            self.f = f
            self.n = 0

        def write(self, b):
            self.n += len(b)
            if self.n > after_bytes:
                raise OSError(code, os.strerror(code))
            return self.f.write(b)

        def __getattr__(self, k):
            return getattr(self.f, k)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

    def opener(path, mode="r", *a, **k):
        if "w" in mode and code == errno.EROFS:
            raise OSError(code, os.strerror(code), path)
        return F(open(path, mode, *a, **k))

    return opener


def test_push_read_only_drive_says_board_owns_it(tmp_path, model):
    drive = board_mod.Drive(make_drive(str(tmp_path / "CIRCUITPY")), opener=failing_open(errno.EROFS))
    with pytest.raises(board_mod.BoardError) as e:
        push_mod.push_model(drive, model, print)
    msg = str(e.value)
    assert "read-only to this computer: the board owns its filesystem" in msg and "--port" in msg
    assert not os.path.exists(tmp_path / "CIRCUITPY" / "model.json")


def test_push_full_drive_cleans_up(tmp_path, model, small_model):
    root = make_drive(str(tmp_path / "CIRCUITPY"))
    prev = model_mod.dumps(small_model)
    open(os.path.join(root, "model.json"), "wb").write(prev)
    drive = board_mod.Drive(root, opener=failing_open(errno.ENOSPC, after_bytes=4096))
    with pytest.raises(board_mod.BoardError, match=r"is full writing model\.(json|npy) .* delete old recordings/"):
        push_mod.push_model(drive, model, print)
    assert open(os.path.join(root, "model.json"), "rb").read() == prev  # the old model is untouched
    assert sorted(os.listdir(root)) == ["boot_out.txt", "model.json"]


def test_push_real_full_and_read_only_filesystems(tmp_path, capsys, model):
    with tmpfs(str(tmp_path / "full"), 16) as drive:  # 16 KB: smaller than the 40 KB model
        rc, out, err = run_cli(capsys, "push", "--model", model, "--drive", drive)
        assert rc == 2 and "is full writing model." in err
        assert sorted(os.listdir(drive)) == ["boot_out.txt"]
    with tmpfs(str(tmp_path / "ro"), 256, readonly=True) as drive:
        rc, out, err = run_cli(capsys, "push", "--model", model, "--drive", drive)
        assert rc == 2 and "read-only to this computer: the board owns its filesystem" in err


def test_push_damaged_copy_is_rolled_back(tmp_path, model, small_model):
    root = make_drive(str(tmp_path / "CIRCUITPY"))
    prev = model_mod.dumps(small_model)
    open(os.path.join(root, "model.json"), "wb").write(prev)

    def flipping_open(path, mode="r", *a, **k):  # a bad cable/flash: one byte changes on the way
        f = open(path, mode, *a, **k)
        if "w" in mode:
            w = f.write
            f.write = lambda b: w(b[:-10] + bytes([b[-10] ^ 1]) + b[-9:] if len(b) > 20 else b)  # type: ignore
        return f

    drive = board_mod.Drive(root, opener=flipping_open)
    with pytest.raises(board_mod.BoardError, match="checksum mismatch|expected"):
        push_mod.push_model(drive, model, print)
    assert open(os.path.join(root, "model.json"), "rb").read() == prev


def test_push_bad_local_model(tmp_path, capsys, model):
    bad = tmp_path / "bad.json"
    bad.write_bytes(open(model, "rb").read()[:-100])
    drive = make_drive(str(tmp_path / "CIRCUITPY"))
    rc, out, err = run_cli(capsys, "push", "--model", str(bad), "--drive", drive)
    assert rc == 2 and err.startswith("error: ") and "bad.json" in err
    assert not os.path.exists(os.path.join(drive, "model.json"))


# ---- over mpremote, onto a real MicroPython REPL ---------------------------------------------------

def board_fs_with_model_py(fs) -> str:
    os.makedirs(os.path.join(fs, "device"), exist_ok=True)
    # model.py and what it imports
    for n in ("__init__.py", "model.py", "modelcheck.py", "modelformat.py", "hashing.py", "sha256.py"):
        shutil.copy(os.path.join(ROOT, "device", n), os.path.join(fs, "device", n))
    return fs


@needs_board
def test_push_over_mpremote_checked_by_the_board(tmp_path, capsys, model, small_model):
    fs = board_fs_with_model_py(str(tmp_path / "boardfs"))
    open(os.path.join(fs, "model.json"), "wb").write(model_mod.dumps(small_model))
    with micropython_board(fs, str(tmp_path / "tty")) as tty:
        rc, out, err = run_cli(capsys, "push", "--model", model, "--port", tty, "--no-reset")
    assert rc == 0, err
    assert open(model, "rb").read() == open(os.path.join(fs, "model.json"), "rb").read()
    assert open(os.path.join(fs, "model.json.bak"), "rb").read() == model_mod.dumps(small_model)
    want = board_mod.model_checksum(model)
    assert f"verified by the board's device/model.py: checksum {want[:16]}... matches" in out


@needs_board
def test_push_over_mpremote_sidecar(tmp_path, fan_model_path):
    local = tmp_path / "local"
    local.mkdir()
    path = sidecar_model(str(local), fan_model_path)
    fs = board_fs_with_model_py(str(tmp_path / "boardfs"))
    with micropython_board(fs, str(tmp_path / "tty")) as tty:
        got = push_mod.push_model(board_mod.SerialBoard(tty, resume=True), path, print)
    assert got == board_mod.model_checksum(path)
    for n in ("model.npy", "model.json"):
        assert open(local / n, "rb").read() == open(os.path.join(fs, n), "rb").read()


@needs_board
def test_push_over_mpremote_without_device_code(tmp_path, capsys, model):
    fs = str(tmp_path / "boardfs")
    with micropython_board(fs, str(tmp_path / "tty")) as tty:
        rc, out, err = run_cli(capsys, "push", "--model", model, "--port", tty, "--no-reset")
    assert rc == 2 and "has no device/model.py to check the model with" in err and "run deploy first" in err
    assert not os.path.exists(os.path.join(fs, "model.json"))  # put back: nothing unchecked stays


@needs_board
def test_push_over_mpremote_read_only_board(tmp_path, capsys, model):
    with tmpfs(str(tmp_path / "ro"), 256) as fs:
        board_fs_with_model_py(fs)
        import subprocess

        subprocess.run(["mount", "-o", "remount,ro", fs], check=True)
        with micropython_board(fs, str(tmp_path / "tty")) as tty:
            rc, out, err = run_cli(capsys, "push", "--model", model, "--port", tty, "--no-reset")
    assert rc == 2 and "cannot write its own filesystem (USB owns CIRCUITPY)" in err and "--drive" in err


@needs_socat
def test_push_port_that_is_not_a_board(tmp_path, capsys, model):
    with pty_pair(str(tmp_path / "a"), str(tmp_path / "b")) as (a, _b):  # nobody answers on the other end
        rc, out, err = run_cli(capsys, "push", "--model", model, "--port", a, "--no-reset", "--timeout", "30")
    assert rc == 2 and err.startswith("error: ") and "is not a board's REPL" in err
    assert err.count("\n") == 1
    rc, out, err = run_cli(capsys, "push", "--model", model, "--port", str(tmp_path / "ttyACM9"))
    assert rc == 2 and "no such serial port" in err
