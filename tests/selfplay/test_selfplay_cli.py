"""`goengine selfplay`: a tiny local run writes readable records and SGF and resumes by skipping the games
on disk; bad inputs (missing or mismatched checkpoint, bad counts, unreachable Ray) are one line and a
non-zero exit; a slow test runs two Ray workers."""
import os

import pytest

from goengine.cli import main
from rl.records import iter_records, read_record

SIZE = 5  # the board of the zero_checkpoint fixture (tests/conftest.py)

pytestmark = pytest.mark.usefixtures("restore_torch_threads")  # tests/conftest.py


def one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1, err
    return err


def test_local_run_writes_records_and_resumes(tmp_path, zero_checkpoint, capsys):
    out = str(tmp_path / "games")
    argv = ["selfplay", "--weights", zero_checkpoint, "--games", "3", "--workers", "1", "--out", out, "--visits", "8",
            "--parallel-games", "2", "--sgf-every", "2", "--komi", "0.5"]
    assert main(argv) == 0
    records = list(iter_records(out))
    assert len(records) == 3
    for r in records:
        assert r.board_size == SIZE and r.komi == 0.5 and r.weights_version == 3 and r.generation == 0
        assert r.policy_targets.shape == (r.num_moves, SIZE * SIZE + 1)
        full = r.policy_targets[r.full_search]
        assert full.sum(axis=1) == pytest.approx(1.0)
    assert sorted(os.listdir(os.path.join(out, "sgf"))) == ["game000000.sgf", "game000002.sgf"]
    assert "3 games" in capsys.readouterr().err
    before = sorted(os.listdir(out))
    lost = read_record(os.path.join(out, before[0]))
    os.remove(os.path.join(out, before[0]))  # one game lost: the rerun plays only that one, identically
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "2 of 3 games already in" in err and "1 games" in err
    assert sorted(os.listdir(out)) == before
    again = read_record(os.path.join(out, before[0]))
    assert again.moves.tolist() == lost.moves.tolist() and again.result == lost.result


def test_missing_weights(tmp_path, capsys):
    err = one_line_error(capsys, ["selfplay", "--weights", str(tmp_path / "nope.pt"), "--games", "1",
                                  "--out", str(tmp_path / "o")])
    assert err.startswith("goengine selfplay: checkpoint") and "no such file" in err


def test_mismatched_board_size(tmp_path, zero_checkpoint, capsys):
    err = one_line_error(capsys, ["selfplay", "--weights", zero_checkpoint, "--games", "1", "--board-size", "9",
                                  "--out", str(tmp_path / "o")])
    assert "board size 5, expected 9" in err


def test_corrupt_weights(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    err = one_line_error(capsys, ["selfplay", "--weights", str(bad), "--games", "1", "--out", str(tmp_path / "o")])
    assert "cannot be read" in err


@pytest.mark.parametrize("flag,value", [("--games", "0"), ("--workers", "0"), ("--visits", "-1")])
def test_bad_counts(tmp_path, zero_checkpoint, capsys, flag, value):
    argv = ["selfplay", "--weights", zero_checkpoint, "--games", "2", "--out", str(tmp_path / "o")]
    argv += [flag, value]
    err = one_line_error(capsys, argv)
    assert f"{flag} must be at least 1" in err


def test_unreachable_ray_address(tmp_path, zero_checkpoint, capsys):
    err = one_line_error(capsys, ["selfplay", "--weights", zero_checkpoint, "--games", "1", "--workers", "2",
                                  "--address", "127.0.0.1:1", "--out", str(tmp_path / "o")])
    assert "cannot reach a Ray cluster at 127.0.0.1:1" in err


@pytest.mark.slow
def test_two_ray_workers(tmp_path, zero_checkpoint, capsys):
    import ray

    out = str(tmp_path / "games")
    try:
        assert main(["selfplay", "--weights", zero_checkpoint, "--games", "4", "--workers", "2", "--out", out,
                     "--visits", "8", "--parallel-games", "2", "--komi", "0.5"]) == 0
    finally:
        ray.shutdown()
    assert len(list(iter_records(out))) == 4
    assert not ray.is_initialized()
