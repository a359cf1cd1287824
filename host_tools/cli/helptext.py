"""What every subcommand's help shows: the program's name as it was called, every option's
default, a one-line description and an example (used by cli.main, cli.workflow and
cli.telemetry alike)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples kept as written; every option's help ends with its
    default when it has one worth showing (not None, not a flag's False) and the help
    does not already name it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        h = action.help or ""
        d = action.default
        if (not action.option_strings or d is None or d is False or d is argparse.SUPPRESS
                or "default" in h.lower() or isinstance(action, argparse._HelpAction)):
            return h
        shown = " ".join(str(x) for x in d) if isinstance(d, (list, tuple)) else str(d)
        return f"{h} (default: {shown.replace('%', '%%')})"


QUIET_HELP = "only the one-line result, warnings and errors (no progress, notes or tables)"


def prog_name(argv0: str | None = None) -> str:
    """The program's name as the user called it: `python -m host_tools` when run as a
    module, otherwise the console script's name (`cpy-anomaly`)."""
    a0 = os.path.basename(sys.argv[0] if argv0 is None else argv0)
    if a0 in ("__main__.py", "-m", "-c", ""):
        return "python -m host_tools"
    return a0 if a0.startswith("cpy-anomaly") else "cpy-anomaly"


def add_command(sub: Any, name: str, help: str, example: str) -> argparse.ArgumentParser:
    """A subcommand with its one-line description and an example (`%(prog)s` becomes the
    program's name as called, e.g. `cpy-anomaly train`)."""
    return sub.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                          epilog="example:\n  " + example.replace("\n", "\n  "))
