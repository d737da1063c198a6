"""`goengine data generate` with real engines: GNU Go at level 1 (fast tests), KataGo at 1 visit (slow).

The records must replay legally under our rules, mark their random opening moves, differ from each other,
and be a function of (seed, game index): a rerun writes nothing, and a deleted game comes back byte for
byte, also when another process plays it (a Ray worker). GNU Go is given its --seed: without one, about
one run in two here plays a different game from the same moves.
"""
import contextlib
import io
import os
import shutil
import time

import pytest

from goengine import sgf
from goengine.cli import main
from selfplay.generate import RANDOM_MOVE_COMMENT, game_path
from selfplay.reaper import process_tree
from tests.gnugo import gnugo_available, skip_reason



def needs_gnugo(test):
    return pytest.mark.gnugo(pytest.mark.skipif(not gnugo_available(), reason=skip_reason())(test))


GNUGO_ARGS = ["data", "generate", "--engine", "gnugo:level=1,seed=1", "--size", "9", "--random-moves", "2",
              "--no-progress"]


def _generate(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _records(folder) -> list[sgf.GameRecord]:
    return [sgf.load_game(os.path.join(folder, name)) for name in sorted(os.listdir(folder))]


def _nodes_comments(path) -> list[str | None]:
    from sgfmill import sgf as sgfmill_sgf

    with open(path, "rb") as f:
        game = sgfmill_sgf.Sgf_game.from_bytes(f.read())
    return [node.get("C") if node.has_property("C") else None for node in game.get_main_sequence()]


@pytest.fixture(scope="module")
def three_games(tmp_path_factory):
    folder = tmp_path_factory.mktemp("generate") / "games"
    code, out, err = _generate(GNUGO_ARGS + ["--games", "3", "--workers", "1", "--out", str(folder)])
    assert code == 0, err
    return folder, out


@needs_gnugo
def test_records_replay_legally_and_mark_their_random_opening(three_games):
    folder, out = three_games
    assert sorted(os.listdir(folder)) == ["game-000001.sgf", "game-000002.sgf", "game-000003.sgf"]
    for index, record in enumerate(_records(folder)):
        positions = sgf.replay(record)  # SgfError on any illegal move
        assert len(positions) == len(record.moves) + 1 > 3
        assert record.komi == 7.0 and record.result and record.result[0] in "BW0"
        assert record.black_name == record.white_name == "gnugo:level=1,seed=1"
        assert record.comment.startswith("goengine data generate: black gnugo:level=1,seed=1, "
                                         "white gnugo:level=1,seed=1, "
                                         f"size 9, komi 7, seed 0, random moves 2; game {index + 1}, game seed ")
        comments = _nodes_comments(game_path(str(folder), index))
        assert comments[1:3] == [RANDOM_MOVE_COMMENT] * 2 and RANDOM_MOVE_COMMENT not in comments[3:]
    assert len({record.moves for record in _records(folder)}) == 3  # the games differ
    assert len({record.moves[:2] for record in _records(folder)}) == 3  # from their random openings on
    assert "wrote 3 games" in out and "games/hour" in out and "mean" in out and "Black won" in out
    assert str(folder) in out


@needs_gnugo
def test_a_rerun_plays_only_missing_games_and_replays_them_identically(three_games, tmp_path):
    folder = tmp_path / "games"
    shutil.copytree(three_games[0], folder)
    before = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    stamps = {name: os.stat(folder / name).st_mtime_ns for name in before}
    code, out, _ = _generate(GNUGO_ARGS + ["--games", "3", "--out", str(folder)])
    assert code == 0 and out.startswith("nothing to play")
    assert {name: os.stat(folder / name).st_mtime_ns for name in before} == stamps
    (folder / "game-000002.sgf").unlink()
    code, out, _ = _generate(GNUGO_ARGS + ["--games", "3", "--out", str(folder)])
    assert code == 0 and out.startswith("wrote 1 games")
    assert {name: (folder / name).read_bytes() for name in os.listdir(folder)} == before
    assert {name: os.stat(folder / name).st_mtime_ns for name in before if name != "game-000002.sgf"} == {
        name: stamp for name, stamp in stamps.items() if name != "game-000002.sgf"}


@needs_gnugo
def test_two_workers_on_ray_write_the_same_games_and_leave_no_process(three_games, tmp_path):
    folder = tmp_path / "games"
    code, out, err = _generate(GNUGO_ARGS + ["--games", "2", "--workers", "2", "--out", str(folder)])
    assert code == 0, err
    assert out.startswith("wrote 2 games")
    for name in ("game-000001.sgf", "game-000002.sgf"):  # whichever process played them
        assert (folder / name).read_text() == (three_games[0] / name).read_text()
    deadline = time.monotonic() + 15
    while (left := set(process_tree({os.getpid()})) - {os.getpid()}) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes left after the run: {left}"


@pytest.mark.parametrize("flags, message", [
    (["--games", "0"], "--games must be at least 1, not 0"),
    (["--engine", "katgo:visits=1"], "--engine 'katgo:visits=1': unknown kind 'katgo'"),
    (["--white", "gnugo:level=x"], "--white 'gnugo:level=x': level must be an integer"),
    (["--size", "30"], "board size 30 is out of range"),
    (["--workers", "0"], "--workers must be at least 1, not 0"),
    (["--random-moves", "-1"], "--random-moves must be in [0, 80], not -1"),
    (["--engine", "katago:visits=1,home=/nonexistent/katago"], "KataGo is not installed in /nonexistent/katago"),
])
def test_bad_flags_are_one_line_before_any_engine_starts(tmp_path, flags, message):
    code, out, err = _generate(["data", "generate", "--engine", "gnugo:level=1", "--no-progress",
                                "--out", str(tmp_path / "games")] + flags)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "games").exists()


@needs_gnugo
def test_out_as_a_file_and_a_folder_of_other_settings_are_one_line(tmp_path, three_games):
    (tmp_path / "file").write_text("")
    code, _, err = _generate(GNUGO_ARGS + ["--out", str(tmp_path / "file")])
    assert code == 2 and "is a file, not a folder" in err and len(err.strip().splitlines()) == 1
    folder = tmp_path / "games"
    shutil.copytree(three_games[0], folder)
    code, _, err = _generate(GNUGO_ARGS + ["--games", "4", "--seed", "1", "--out", str(folder)])
    assert code == 2 and "holds games of other settings" in err and len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(folder)) == sorted(os.listdir(three_games[0]))


@pytest.mark.slow
@pytest.mark.katago
def test_katago_at_one_visit_writes_legal_records(tmp_path):
    from goengine.katago import KataGo, KataGoMissing

    try:
        KataGo.find()
    except KataGoMissing as e:
        pytest.skip(str(e))
    folder = tmp_path / "games"
    started = time.monotonic()
    code, out, err = _generate(["data", "generate", "--engine", "katago:visits=1", "--size", "9", "--games", "2",
                                "--workers", "1", "--no-progress", "--out", str(folder)])
    print(f"2 games of katago:visits=1 on 9x9 in {time.monotonic() - started:.1f}s: {out.strip()}")
    assert code == 0, err
    records = _records(folder)
    assert len(records) == 2 and records[0].moves != records[1].moves
    for index, record in enumerate(records):
        sgf.replay(record)
        assert record.result and record.black_name == "katago:visits=1"
        assert _nodes_comments(game_path(str(folder), index))[1:5] == [RANDOM_MOVE_COMMENT] * 4
