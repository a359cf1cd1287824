"""Writing a model file, the same way for every sensor (accelerometer, scalar, thermal):
atomically through device.modelwrite.save (JSON, and the float32 sidecar for big arrays), the
folders it needed created, and removed again when the write fails; every failure one
DataError naming --out."""

from __future__ import annotations

import contextlib
import os
import tempfile

from device import model as model_mod
from device import modelwrite
from host_tools.data.datasets import DataError


def _remove_folders(folders: list[str]) -> None:
    for f in folders:  # deepest first; a folder something else has filled stays
        with contextlib.suppress(OSError):
            os.rmdir(f)


def write(path: str, doc: dict) -> None:
    """The model file, atomically: a temporary file in the same folder, renamed over
    `path` once complete, removed on any failure (device.modelwrite.save)."""
    save = getattr(modelwrite, "save", None)
    d = os.path.dirname(os.path.abspath(path))
    made = []  # folders this write creates, removed again if it fails
    p = d
    while not os.path.exists(p) and os.path.dirname(p) != p:
        made.append(p)
        p = os.path.dirname(p)
    if save is not None:
        try:
            os.makedirs(d, exist_ok=True)
            save(path, doc)
        except OSError as e:
            _remove_folders(made)
            raise DataError(f"--out {path}: cannot write ({e.strerror or e})") from None
        return
    try:
        os.makedirs(d, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    except OSError as e:
        _remove_folders(made)
        raise DataError(f"--out {path}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model_mod.dumps(doc))
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a model file is not a secret
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        _remove_folders(made)
        if isinstance(e, OSError):
            raise DataError(f"--out {path}: cannot write ({e.strerror or e})") from None
        raise


