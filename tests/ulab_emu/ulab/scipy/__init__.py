"""Emulated `ulab.scipy` (only the parts the project might touch: linalg, special)."""

from . import linalg  # noqa: F401
from . import special  # noqa: F401


def __getattr__(name):
    raise AttributeError("module 'ulab.scipy' has no attribute '%s' (not emulated)" % name)
