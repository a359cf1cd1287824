"""The board workflow commands: collect, push, deploy, doctor, monitor.

`add_commands(sub)` registers them on the host CLI's subparsers (host_tools/cli/main.py).
Bad input raises DataError subclasses, which the CLI prints as one `error:` line (exit 2).
"""

from __future__ import annotations

import argparse
from typing import Any

from host_tools.board import connection as board_mod
from host_tools.board import deploy as deploy_mod
from host_tools.board import doctor as doctor_mod
from host_tools.board import push as push_mod

def _positive(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s} is not a number") from None
    return v


def _where(p: argparse.ArgumentParser, serial_too: bool = True) -> None:
    g = p.add_argument_group("which board")
    g.add_argument("--drive", metavar="DIR", help="the mounted CIRCUITPY drive (default: found automatically)")
    if serial_too:
        g.add_argument("--port", metavar="PORT", help="the board's serial port, when the board owns its "
                       "filesystem (uses mpremote), e.g. /dev/ttyACM0 or COM5")
        g.add_argument("--no-reset", dest="resume", action="store_true",
                       help="do not soft-reset the board around mpremote commands (for REPLs that "
                       "cannot, e.g. the MicroPython unix port)")
        g.add_argument("--timeout", type=_positive, default=60.0, help="seconds per mpremote step (default 60)")


def _open(a: argparse.Namespace) -> board_mod.Drive | board_mod.SerialBoard:
    if a.drive and getattr(a, "port", None):
        raise board_mod.BoardError("give --drive or --port, not both")
    return board_mod.open_board(a.drive, getattr(a, "port", None), getattr(a, "resume", False),
                                timeout=getattr(a, "timeout", 60.0))


def cmd_collect(a: argparse.Namespace) -> int:
    from host_tools.board import collect

    return collect.run(a)


def cmd_push(a: argparse.Namespace) -> int:
    b = _open(a)
    push_mod.push_model(b, a.model, print, a.name)
    b.finish()
    return 0


def cmd_deploy(a: argparse.Namespace) -> int:
    return deploy_mod.deploy(_open(a), a.model, print, a.dry_run, a.mpy_cross, a.circup)


def cmd_doctor(a: argparse.Namespace) -> int:
    if a.listen and not getattr(a, "port", None):
        raise board_mod.BoardError("--listen reads the serial console: give --port too")
    problems = doctor_mod.doctor(_open(a), a.model, print, a.listen or 0.0)
    return 1 if problems else 0


def cmd_monitor(a: argparse.Namespace) -> int:
    from host_tools.board import monitor

    return monitor.run(a)


def _sub(sub: Any, name: str, help: str, example: str) -> argparse.ArgumentParser:
    from host_tools.cli.helptext import add_command

    return add_command(sub, name, help, example)


def add_commands(sub: Any) -> None:
    c = _sub(sub, "collect", "record raw windows from a board in recording mode into a session folder",
             "%(prog)s --port /dev/ttyACM0 --out data/my-fan/low_1 --label low --duration 600\n"
             "%(prog)s --http 0.0.0.0:8765 --token s3cret --out data/my-fan/high_1 --label high --windows 500")
    src = c.add_argument_group("input (one of)")
    src.add_argument("--port", metavar="PORT", help="the board's serial console (settings.toml: RECORD = \"serial\")")
    src.add_argument("--http", metavar="HOST:PORT", help="listen for the board's posts over Wi-Fi (RECORD = \"http\")")
    src.add_argument("--from", dest="source", metavar="FILE", help="a saved console capture (- = stdin)")
    c.add_argument("--out", required=True, metavar="DIR", help="the session folder (new or empty)")
    c.add_argument("--label", required=True, help="what the machine was doing, e.g. low, high, off")
    c.add_argument("--windows", type=int, metavar="N", help="stop after N windows")
    c.add_argument("--duration", type=_positive, metavar="SECONDS", help="stop after this long")
    c.add_argument("--token", help="--http: the shared secret the board sends (RECORD_TOKEN)")
    c.add_argument("--max-bytes", type=int, default=256 * 1024, help="--http: largest post accepted (default 256 KB)")
    c.add_argument("--baud", type=int, default=115200, help="--port: baud rate (USB CDC ignores it)")
    c.add_argument("--device", help="device name for session.json (default: from the board's payloads)")
    c.add_argument("--sensor", help="sensor name for session.json (default: from the board's boot payload)")
    c.add_argument("--quiet", action="store_true", help="no live count")
    c.set_defaults(func=cmd_collect)

    p = _sub(sub, "push", "put a model on the board and prove it arrived (checksum read back / checked on the board)",
             "%(prog)s --model model.json                      # the CIRCUITPY drive, found automatically\n"
             "%(prog)s --model model.json --port /dev/ttyACM0  # board owns its filesystem: over mpremote")
    p.add_argument("--model", required=True, help="the model file (model.json; its .npy sidecar goes with it)")
    p.add_argument("--name", help="name on the board (default: MODEL_PATH from the board's settings.toml, "
                   "else model.json)")
    _where(p)
    p.set_defaults(func=cmd_push)

    d = _sub(sub, "deploy", "install the application, its libraries and a model on the board",
             "%(prog)s --model model.json --dry-run   # list what would change\n"
             "%(prog)s --model model.json --drive /media/$USER/CIRCUITPY")
    d.add_argument("--model", help="also push this model (with the same proof as push)")
    d.add_argument("--dry-run", action="store_true", help="list what would change; write nothing")
    d.add_argument("--mpy-cross", metavar="PATH", help="mpy-cross for the board's firmware "
                   "(CircuitPython's own; default: the one on PATH, used only if it matches)")
    d.add_argument("--circup", metavar="PATH", help="circup to install missing libraries (default: on PATH)")
    _where(d)
    d.set_defaults(func=cmd_deploy)

    o = _sub(sub, "doctor", "read a connected board: firmware, heap, libraries, model, last status",
             "%(prog)s --model model.json\n"
             "%(prog)s --port /dev/ttyACM0 --listen 10 --model model.json")
    o.add_argument("--model", help="say whether the board's model is this one")
    o.add_argument("--listen", type=_positive, metavar="SECONDS",
                   help="--port: read the running app's console this long first (last status)")
    _where(o)
    o.set_defaults(func=cmd_doctor)

    m = _sub(sub, "monitor", "follow the board's console: one line per window, score bar, events",
             "%(prog)s --port /dev/ttyACM0 --plot scores.png   # Ctrl-C to stop, then the plot is written")
    m.add_argument("--port", metavar="PORT", help="the board's serial console")
    m.add_argument("--from", dest="source", metavar="FILE", help="a saved console capture (- = stdin)")
    m.add_argument("--plot", metavar="PNG", help="on exit, draw score over time, alarm line, anomaly spans")
    m.add_argument("--duration", type=_positive, metavar="SECONDS", help="stop after this long")
    m.add_argument("--windows", type=int, metavar="N", help="stop after N scored lines")
    m.add_argument("--baud", type=int, default=115200, help="baud rate (USB CDC ignores it)")
    m.set_defaults(func=cmd_monitor)
