"""`push`: a model onto the board, proved there (the checksum the board-side check reports must
equal the local file's; on a mismatch the previous model is put back)."""

from __future__ import annotations

import os

from host_tools.board.connection import (BoardError, Drive, Log, SerialBoard, drive_model_name, model_checksum,
                                         model_files, short)


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
