"""`doctor`: a few lines about a connected board (firmware, heap, filesystem, app files, libraries,
model, saved state, last status line) and the number of problems found."""

from __future__ import annotations

import json
import re
from typing import Callable

from host_tools.board.connection import (BoardError, Drive, Log, SerialBoard, board_telemetry, current_hashes,
                                         drive_model_name, model_checksum, short)
from host_tools.board.deploy import ROOT, app_files, board_libraries, check_app_files, libraries_present


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


# The CircuitPython cores the board code supports (docs/board.md): 9.2.x and 10.x.
SUPPORTED = ((9, 2), (10, 99))


def firmware_supported(implementation: str | None, version: str | None) -> tuple[bool, str]:
    """(supported?, a note) for the board's firmware."""
    if implementation != "circuitpython" or not version:
        return True, ""  # MicroPython (tests, a PC) or unknown: nothing to say
    m = re.match(r"(\d+)\.(\d+)", version)
    if not m:
        return True, ""
    v = (int(m.group(1)), int(m.group(2)))
    if v < SUPPORTED[0] or v > SUPPORTED[1]:
        return False, "NOT SUPPORTED: use CircuitPython 9.2.x or 10.x"
    if v < (10, 1):
        return True, "supported; no SHA-256 in its hashlib: the model check at boot runs in Python (seconds)"
    return True, "supported"


def doctor(board: Drive | SerialBoard, model: str | None, log: Log, listen: float = 0.0,
           root: str = ROOT) -> int:
    """A few lines about the board; returns the number of problems found."""
    check_app_files(root)
    problems = 0
    status = listen_status(board.port, listen) if isinstance(board, SerialBoard) else None
    info = board.info()
    impl = "CircuitPython" if info.implementation == "circuitpython" else "MicroPython"
    log(f"board:      {info.board or 'unknown (no boot_out.txt)'}" + (f" [{info.board_id}]" if info.board_id else ""))
    ok, note = firmware_supported(info.implementation, info.version)
    if not ok:
        problems += 1
    log(f"firmware:   {impl} {info.version or '?'}" + (f" ({note})" if note else ""))
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
    cur, dirs = current_hashes(board, names, ["device", "lib"])
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
        if status.get("frame_path"):  # a thermal camera: the frame rate it really achieves
            log(f"frame rate: {status.get('rate', '?')} frames/s achieved ({status['frame_path']} path)")
        if "mem_free" in status:  # heartbeats carry the running app's heap margin
            low = status.get("mem_low", status["mem_free"])
            log(f"heap (app): {status['mem_free']} bytes free, lowest {low} since start"
                + (" -- LOW: under 16 KB, the network stack may fail to allocate" if low < 16384 else ""))
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
