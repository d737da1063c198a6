"""Atomic writes: a failure part-way leaves the old file whole and no temporary file behind, and a written
file has the permissions a plain open() would give it."""
import os

import pytest

from goengine.atomic import atomic_open, write_bytes


def test_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "state.json"
    write_bytes(path, b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w") as f:
            f.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["state.json"]
    with atomic_open(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["state.json"]


def test_creates_missing_folders(tmp_path):
    write_bytes(tmp_path / "a" / "b" / "c.bin", b"\x00\x01")
    assert (tmp_path / "a" / "b" / "c.bin").read_bytes() == b"\x00\x01"


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_files_get_the_permissions_of_a_plain_open(tmp_path, umask):
    old = os.umask(umask)
    try:
        write_bytes(tmp_path / "atomic.sgf", b"(;)")
        with open(tmp_path / "plain.sgf", "wb") as f:
            f.write(b"(;)")
    finally:
        os.umask(old)
    mode = lambda name: os.stat(tmp_path / name).st_mode & 0o777
    assert mode("atomic.sgf") == mode("plain.sgf") == 0o666 & ~umask
