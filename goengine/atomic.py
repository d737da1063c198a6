"""Atomic file writes: readers see the old file or the new one, never a torn one, and a killed process
leaves no half-written file under the real name.

The temporary file sits beside the target, so `os.replace` is a rename within one file system.
"""
from __future__ import annotations

import contextlib
import os
import secrets
from typing import IO, Iterator


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; on a clean exit it is flushed, synced and
    renamed onto `path`; on an exception it is removed and `path` is left as it was."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = _create_beside(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _create_beside(directory: str, name: str) -> tuple[int, str]:
    """A new temporary file in `directory`, opened for writing, with the permissions a plain open() would
    give it (0666 less the umask; tempfile.mkstemp's 0600 left every game, SGF and checkpoint unreadable
    to other users, a GUI or a cluster's other nodes among them)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)
