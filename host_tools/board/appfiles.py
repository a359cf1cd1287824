"""Where the board's own files are, for deploy, doctor and push: code.py, boot.py,
settings.toml.example, device/, gateway/ and the board library lists (requirements-board*.txt).

In a source checkout (or an editable install) they are the repository's own files. A
wheel (`pip install .`) carries a copy in host_tools/board/app/, put there by setup.py's
build step, so the installed `cpy-anomaly` finds them from any working folder.
"""

from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED = os.path.join(HERE, "app")  # only in an installed wheel
REPO = os.path.dirname(os.path.dirname(HERE))

# What setup.py copies into the wheel (relative to the repository root).
FILES = ("code.py", "boot.py", "settings.toml.example", "requirements-board.txt",
         "requirements-board-telemetry.txt")
DIRS = ("device", "gateway")
NEEDED = ("code.py", "boot.py", "settings.toml.example", "requirements-board.txt", "device")


def missing(root: str) -> list[str]:
    return [n for n in NEEDED if not os.path.exists(os.path.join(root, n))]


def find_app_root(candidates: tuple[str, ...] = (SHIPPED, REPO)) -> str:
    """The first candidate that holds the board's files (the repository's path when none
    does, so that the error names the files a broken install lacks)."""
    for root in candidates:
        if not missing(root):
            return root
    return candidates[-1]


ROOT = find_app_root()
