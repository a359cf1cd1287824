"""A connected board, two ways: its mounted CIRCUITPY drive, or its serial REPL (mpremote).

Both read and write files, say what the board runs (boot_out.txt, or sys.implementation at
the REPL) and report a model's checksum (on the drive with this repository's device/model.py,
over the REPL with the board's own). push.py, deploy.py and doctor.py work through them. Every
failure a user can fix raises BoardError (a DataError: the CLI prints `error: ...` and exits 2)
with one line that says what to do.
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
from host_tools.data.datasets import DataError

Log = Callable[[str], None]
READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)
DRIVE_HINT = "give the mounted board drive with --drive, e.g. --drive /media/$USER/CIRCUITPY"


class BoardError(DataError):
    """The board (or the way to it) cannot do what was asked; the message says what to do."""


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
def mk():
    # CircuitPython's hashlib has only new(), and new("sha256") only from 10.1;
    # MicroPython's has a sha256 class and no new(). Neither: "?" (deploy copies again).
    if hashlib is None:
        return None
    try:
        return hashlib.new("sha256")
    except Exception:
        pass
    try:
        return hashlib.sha256()
    except Exception:
        return None
out = {}
for n in %(names)r:
    try:
        f = open(n, "rb")
    except OSError:
        out[n] = None; continue
    h = mk()
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
        found = mpremote or find_mpremote()
        self.timeout = timeout
        self._info: BoardInfo | None = None
        if found is None:
            raise BoardError("mpremote is not installed: pip install mpremote (it is a dependency of this tool)")
        self.mpremote: str = found
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

    def exec(self, code: str, again: bool = True, literal: bool = False) -> list[str]:
        """Lines the snippet printed that start with the marker (marker removed). A reply
        without the marker line (or, with `literal`, whose last line is not a Python
        literal) is a line garbled on the way: a snippet that may run twice (`again`: all
        but commit/rollback) is run again, with back-off, within `timeout` seconds."""
        import ast

        deadline = time.monotonic() + self.timeout
        pause = 0.25
        while True:
            out = self._run("exec", code)
            lines = [ln[len(MARK):].strip() for ln in out.splitlines() if ln.startswith(MARK)]
            ok = bool(lines)
            if ok and literal:
                try:
                    ast.literal_eval(lines[-1])
                except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                    ok = False
            if ok:
                return lines
            if not again or time.monotonic() + pause >= deadline:
                last = (out.strip().splitlines() or ["no output"])[-1]
                raise BoardError(f"{self.port}: the board did not run the check ({last})")
            time.sleep(pause)
            pause = min(pause * 2, 4.0)

    def info(self) -> BoardInfo:
        if self._info is None:
            import ast

            impl, rel, mach, mpy, mem, w = ast.literal_eval(self.exec(INFO_SNIPPET, literal=True)[-1])
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

        return ast.literal_eval(self.exec(HASH_SNIPPET % {"names": list(names), "dirs": list(dirs or [])}, literal=True)[-1])

    def read_small(self, names: list[str]) -> list[bytes | None]:
        """The first 16 KB of each file (None if missing): settings.toml, state files."""
        import ast

        return list(ast.literal_eval(self.exec(READ_SNIPPET % {"names": names}, literal=True)[-1]))

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

        out = self.exec(COMMIT_SNIPPET % {"names": names, "backup": True}, again=False)
        return list(ast.literal_eval(out[-1]))

    def rollback(self, names: list[str], kept: list[str]) -> None:
        self.exec(ROLLBACK_SNIPPET % {"names": names, "kept": kept}, again=False)

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


# ---- what the board's settings.toml and files say -----------------------------------------

def drive_model_name(board: Drive | SerialBoard) -> str:
    """MODEL_PATH from the board's settings.toml (the app reads the model from there)."""
    data = board.read("settings.toml")
    if data:
        m = re.search(rb'^\s*MODEL_PATH\s*=\s*"([^"]+)"', data, re.M)
        if m:
            return m.group(1).decode()
    return "model.json"


def board_telemetry(board: "Drive | SerialBoard") -> str | None:
    """TELEMETRY from the board's settings.toml (None: not set, console)."""
    data = board.read("settings.toml")
    if data:
        m = re.search(rb'^\s*TELEMETRY\s*=\s*"([^"]+)"', data, re.M)
        if m:
            return m.group(1).decode().strip().lower()
    return None


def current_hashes(board: Drive | SerialBoard, names: list[str], dirs: list[str]) -> tuple[dict, dict]:
    """SHA-256 of each named file and the listing of each folder (None: not there); one REPL round
    trip on a serial board."""
    if isinstance(board, SerialBoard):
        return board.hashes(names, dirs)
    return {n: board.file_hash(n) for n in names}, {d: (board.listdir(d) if board.exists(d) else None) for d in dirs}
