"""goengine.sgf: reading, replaying and writing SGF, with sgfmill's own reader and board as the oracle.

Round trips go through files and are read back both by us and by sgfmill directly, so a writer and a
reader that share a mistake cannot agree by accident. The GNU Go corpus (scripts/make_corpus.py) is
replayed move by move against sgfmill's board, and our Tromp-Taylor count of each finished game is
checked against GNU Go's own `final_score`.
"""
import glob
import os
import random
import re

import numpy as np
import pytest
from sgfmill import boards, sgf, sgf_moves

from goengine import Position
from goengine.players import RandomPlayer
from goengine.sgf import (GameRecord, SgfError, load_game, position_to_sgf, record_from_positions, replay,
                          save_game)

CORPUS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "fixtures", "corpus", "*.sgf")))
LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


def random_game(size: int, seed: int, moves: int, start: Position | None = None) -> list[Position]:
    """A seeded game of sensible random moves with a pass now and then."""
    rng = random.Random(seed)
    player = RandomPlayer(seed)
    positions = [start or Position(size=size, komi=6.5)]
    while len(positions) <= moves and not positions[-1].is_over:
        pos = positions[-1]
        move = "pass" if rng.random() < 0.03 else player.genmove(pos, pos.to_play)
        positions.append(pos.play(move))
    return positions


def sgfmill_colours(board: boards.Board) -> np.ndarray:
    out = np.zeros((board.side, board.side), dtype=np.int8)
    for colour, (row, col) in board.list_occupied_points():
        out[row, col] = 1 if colour == "b" else 2
    return out


def sgfmill_replay(data: bytes) -> tuple[sgf.Sgf_game, boards.Board, list]:
    """sgfmill's own reading of a file: the final board after its setup and moves."""
    game = sgf.Sgf_game.from_bytes(data)
    board, plays = sgf_moves.get_setup_and_moves(game)
    for colour, move in plays:
        if move is not None:
            board.play(move[0], move[1], colour)
    return game, board, plays


# --- round trips ---

@pytest.mark.parametrize("size,seed", [(9, 0), (9, 1), (13, 2), (19, 3), (5, 4)])
def test_round_trip_through_file_and_sgfmill(tmp_path, size, seed):
    positions = random_game(size, seed, moves=3 * size * size)
    path = tmp_path / "game.sgf"
    save_game(path, positions, result="W+R", black_name="Black bot", white_name="White bot")
    record = load_game(path)
    final = positions[-1]
    assert record.size == size and record.komi == 6.5 and record.rules == "Chinese"
    assert record.result == "W+R" and (record.black_name, record.white_name) == ("Black bot", "White bot")
    assert record.moves == final.history and record.handicap == 0 and record.date
    again = replay(record)
    assert len(again) == len(positions)
    for ours, theirs in zip(again, positions):
        assert np.array_equal(ours.board_array(), theirs.board_array())
    assert again[-1].captures == final.captures and again[-1].is_over == final.is_over
    # sgfmill reads the same file to the same board and the same properties
    game, board, plays = sgfmill_replay(path.read_bytes())
    assert np.array_equal(sgfmill_colours(board), final.board_array())
    assert [(c, "pass" if m is None else f"{LETTERS[m[1]]}{m[0] + 1}") for c, m in plays] == list(final.history)
    assert game.get_komi() == 6.5 and game.get_player_name("b") == "Black bot"
    assert game.get_root().get("RU") == "Chinese" and game.get_root().get("RE") == "W+R"


def test_saving_a_record_again_changes_nothing(tmp_path):
    record = load_game(save_and_read(tmp_path, random_game(9, 7, 80)))
    save_game(tmp_path / "again.sgf", record, date=record.date)
    assert load_game(tmp_path / "again.sgf") == record


def save_and_read(tmp_path, positions, **kwargs):
    path = tmp_path / "g.sgf"
    save_game(path, positions, **kwargs)
    return path


def test_save_from_a_list_of_moves_and_from_one_position(tmp_path):
    moves = [("b", "C3"), ("w", "pass"), ("b", "D4")]
    save_game(tmp_path / "m.sgf", moves, size=7, komi=0.5, rules="Japanese", date=False)
    record = load_game(tmp_path / "m.sgf")
    assert record.moves == tuple(moves) and record.komi == 0.5 and record.rules == "Japanese"
    assert record.date is None and replay(record)[-1].colour_at("D4") == "b"
    with pytest.raises(ValueError, match="board size"):
        save_game(tmp_path / "m.sgf", moves)
    final = random_game(9, 3, 40)[-1]  # a Position alone: its history from an empty board
    assert record_from_positions(final).moves == final.history
    handicapped = Position(9).with_handicap(2).play("E5")  # ... which cannot hold handicap stones
    with pytest.raises(ValueError, match="list of positions"):
        record_from_positions(handicapped)


# --- setup and handicap ---

SETUP_GAME = b"""(;GM[1]FF[4]SZ[9]KM[0]PL[W]
AB[aa][ba][cc][dd]AW[ab][bb][ee]
;W[ca];B[ff]
;AE[dd][ee]AB[ab]
;W[ed];B[ee])"""


def test_root_and_later_setup_match_sgfmill():
    record = load_game(SETUP_GAME, name="setup.sgf")
    assert record.setup_black == ("A9", "B9", "C7", "D6") and record.setup_white == ("A8", "B8", "E5")
    assert record.to_play == "w" and len(record.later_setup) == 1
    edit = record.later_setup[0]
    assert (edit.before_move, edit.empty, edit.black) == (2, ("D6", "E5"), ("A8",))
    positions = replay(record)
    assert positions[0].to_play == "w" and positions[0].colour_at("E5") == "w"
    # W C9 captures A9 B9 (their last liberty); the later AE/AB edit the board before W E4
    assert positions[1].colour_at("A9") is None and positions[1].captures["w"] == 2
    final = positions[-1]
    assert final.colour_at("D6") is None and final.colour_at("A8") == "b" and final.colour_at("E5") == "b"
    # sgfmill: its board, with the same setup applied by hand (its get_setup_and_moves refuses later setup)
    board = boards.Board(9)
    game = sgf.Sgf_game.from_bytes(SETUP_GAME)
    for node in game.get_main_sequence():
        board.apply_setup(*node.get_setup_stones())
        colour, move = node.get_move()
        if colour is not None:
            board.play(move[0], move[1], colour)
    assert np.array_equal(sgfmill_colours(board), final.board_array())


def test_setup_without_liberties_is_an_error():
    with pytest.raises(SgfError, match="bad-setup.sgf: setup.*without liberties"):
        replay(load_game(b"(;SZ[5]AB[aa]AW[ab][ba])", name="bad-setup.sgf"))


def test_handicap_game_white_moves_first_and_round_trips(tmp_path):
    data = b"(;GM[1]FF[4]SZ[19]HA[4]KM[0.5]RU[Japanese]AB[dd][pd][dp][pp];W[qf];B[nc])"
    record = load_game(data)
    assert record.handicap == 4 and record.rules == "Japanese" and record.komi == 0.5
    positions = replay(record)
    assert positions[0].to_play == "w" and positions[0].stone_count() == 4
    assert positions[0].rules.name == "japanese"
    assert np.array_equal(positions[0].board_array(), Position(19).with_handicap(4).board_array())
    # written back: HA and AB in the root, and no PL since White first is what HA implies
    save_game(tmp_path / "h.sgf", positions)
    root = sgf.Sgf_game.from_bytes((tmp_path / "h.sgf").read_bytes()).get_root()
    assert root.get("HA") == 4 and root.get("AB") == {(15, 3), (15, 15), (3, 3), (3, 15)}
    assert not root.has_property("PL") and root.get("RU") == "Japanese"
    assert load_game(tmp_path / "h.sgf").moves == record.moves


def test_handicap_without_stones_gets_the_fixed_placement():
    positions = replay(load_game(b"(;SZ[9]HA[3];W[ee])"))
    assert {v for v in ("C3", "G7", "C7", "G3") if positions[0].colour_at(v) == "b"} == {"C3", "G7", "C7"}
    assert positions[0].stone_count() == 3 and positions[-1].colour_at("E5") == "w"


def test_handicap_stones_given_as_black_moves_are_not_placed_twice():
    final = replay(load_game(b"(;SZ[9]HA[2];B[cc];B[gg];W[ee])"))[-1]
    assert final.stone_count() == 3 and final.colour_at("C7") == "b" and final.colour_at("G3") == "b"


def test_passes_as_empty_and_as_tt():
    record = load_game(b"(;SZ[19];B[tt];W[];B[dd])")  # "tt" is the FF[3] pass up to 19x19
    assert record.moves == (("b", "pass"), ("w", "pass"), ("b", "D16"))
    assert load_game(b"(;SZ[21];B[tt])").moves == (("b", "U2"),)  # a point on bigger boards (no I)


def test_moves_after_two_passes_replay():
    # records (and GTP controllers in a clean-up phase) go on after two passes: replay resumes play
    final = replay(load_game(b"(;SZ[9];B[ee];W[];B[];W[cc])"))[-1]
    assert final.colour_at("C7") == "w"


def test_side_to_move_without_pl_follows_the_first_move():
    assert replay(load_game(b"(;SZ[9];W[ee];B[cc])"))[0].to_play == "w"
    assert replay(load_game(b"(;SZ[9])"))[0].to_play == "b"


# --- bad input ---

def _truncated(tmp_path) -> bytes:
    save_game(tmp_path / "full.sgf", random_game(9, 11, 60))
    data = (tmp_path / "full.sgf").read_bytes()
    return data[: len(data) // 2]


BAD = {
    "garbage": lambda tmp: bytes(random.Random(5).randrange(256) for _ in range(300)),
    "empty": lambda tmp: b"",
    "not sgf": lambda tmp: b"hello world",
    "size 30": lambda tmp: b"(;GM[1]FF[4]SZ[30];B[aa])",
    "size 26": lambda tmp: b"(;GM[1]FF[4]SZ[26])",
    "size 1": lambda tmp: b"(;GM[1]FF[4]SZ[1])",
    "rectangular": lambda tmp: b"(;GM[1]FF[4]SZ[9:13])",
    "bad komi": lambda tmp: b"(;SZ[9]KM[seven])",
    "bad handicap": lambda tmp: b"(;SZ[9]HA[many])",
    "off-board move": lambda tmp: b"(;SZ[9];B[ee];W[zz])",
    "not go": lambda tmp: b"(;GM[3]SZ[9])",
    "unknown charset": lambda tmp: b"(;SZ[9]CA[no-such-charset]PB[x])",
}


@pytest.mark.parametrize("kind", sorted(BAD) + ["truncated"])
def test_malformed_input_is_an_sgf_error_naming_the_file(tmp_path, kind):
    data = _truncated(tmp_path) if kind == "truncated" else BAD[kind](tmp_path)
    path = tmp_path / "broken.sgf"
    path.write_bytes(data)
    with pytest.raises(SgfError, match=re.escape(str(path))) as info:
        replay(load_game(path))
    assert "\n" not in str(info.value)
    if kind.startswith("size") or kind == "rectangular":
        assert "unsupported board size" in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SgfError, match="nope.sgf: cannot read: No such file"):
        load_game(tmp_path / "nope.sgf")
    with pytest.raises(SgfError, match="cannot read"):
        load_game(tmp_path)


@pytest.mark.parametrize("moves,message", [
    (";B[ee];W[ce];B[ee]", "move 3 (B E5) is illegal: occupied"),
    # a corner suicide under the default (Chinese) rules
    (";B[ba];W[pass];B[ab];W[aa]", "move 4 (W A9) is illegal: suicide"),
    # a ko: W E5 takes the black stone at F5 and Black retakes at once
    (";B[ed];W[fd];B[de];W[ge];B[ef];W[ff];B[fe];W[ee];B[fe]", "move 9 (B F5) is illegal: ko"),
])
def test_illegal_move_names_the_move_number_and_move(moves, message):
    data = f"(;GM[1]FF[4]SZ[9]{moves})".replace("[pass]", "[]").encode()
    with pytest.raises(SgfError, match=re.escape(f"game.sgf: {message}")):
        replay(load_game(data, name="game.sgf"))


# --- text ---

@pytest.mark.parametrize("black,white", [("李昌镐", "Öhman"), ("Ζεύς [10k]", "C:\\path\\with]brackets")])
def test_non_ascii_and_escaped_names_round_trip(tmp_path, black, white):
    path = save_and_read(tmp_path, random_game(9, 2, 20), black_name=black, white_name=white, result="B+0.5")
    record = load_game(path)
    assert (record.black_name, record.white_name, record.result) == (black, white, "B+0.5")
    game = sgf.Sgf_game.from_bytes(path.read_bytes())
    assert (game.get_player_name("b"), game.get_player_name("w")) == (black, white)


def test_latin1_file_without_ca_is_decoded_as_the_sgf_default():
    data = "(;GM[1]FF[4]SZ[9]PB[Jürgen]PW[Åsa];B[ee])".encode("latin-1")
    assert (load_game(data).black_name, load_game(data).white_name) == ("Jürgen", "Åsa")
    data = "(;GM[1]FF[4]CA[GB2312]SZ[9]PB[聂卫平];B[ee])".encode("gb2312")
    assert load_game(data).black_name == "聂卫平"


# --- atomic writes ---

def test_save_replaces_the_file_atomically_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "game.sgf"
    save_game(path, random_game(9, 1, 10))
    before = path.read_bytes()
    save_game(path, random_game(9, 2, 30))
    assert path.read_bytes() != before and os.listdir(tmp_path) == ["game.sgf"]
    before = path.read_bytes()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_game(path, random_game(9, 3, 30))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["game.sgf"]


# --- printsgf ---

@pytest.mark.parametrize("seed", range(3))
def test_position_to_sgf_is_the_position_as_setup(seed):
    pos = random_game(9 + 2 * seed, seed, 60)[-1]
    data = position_to_sgf(pos)
    game = sgf.Sgf_game.from_bytes(data)
    board, plays = sgf_moves.get_setup_and_moves(game)
    assert plays == [] and np.array_equal(sgfmill_colours(board), pos.board_array())
    assert game.get_root().get("PL") == pos.to_play and game.get_komi() == pos.komi
    again = replay(load_game(data))
    assert len(again) == 1 and again[0].to_play == pos.to_play
    assert np.array_equal(again[0].board_array(), pos.board_array())


# --- the GNU Go corpus ---

def test_corpus_is_there_and_small():
    assert len(CORPUS) >= 100, "run scripts/make_corpus.py"
    assert sum(os.path.getsize(f) for f in CORPUS) < 400_000


def _gnugo_notes(record: GameRecord) -> tuple[str, list[str]]:
    ended = re.search(r"^ended: (.*)$", record.comment, re.M).group(1)
    dead = re.search(r"^final_status_list dead:(.*)$", record.comment, re.M).group(1).split()
    return ended, dead


def _score(result: str) -> float:
    return 0.0 if result == "0" else float(result[2:]) * (1 if result[0] == "B" else -1)


def test_corpus_replays_and_scores_agree_with_sgfmill_and_gnugo():
    """Every game replays without an illegal move to the board sgfmill reaches. Our area count equals
    sgfmill's area_score on every final board. Where a game ended by two passes, our Tromp-Taylor score
    of the board without GNU Go's dead stones equals GNU Go's final_score; where GNU Go saw no dead
    stones (most games use --capture-all-dead) that is the board as it stands."""
    compared_as_is = compared_after_removal = 0
    for path in CORPUS:
        record = load_game(path)
        final = replay(record)[-1]
        _game, board, _plays = sgfmill_replay(open(path, "rb").read())
        assert np.array_equal(sgfmill_colours(board), final.board_array()), path
        assert final.area() == board.area_score(), path
        ended, dead = _gnugo_notes(record)
        if ended != "two passes":
            continue
        assert final.is_over, path
        cleaned = final.with_stones(empty=dead) if dead else final
        assert cleaned.score() == _score(record.result), (path, cleaned.score(), record.result, dead)
        if dead:
            compared_after_removal += 1
        else:
            compared_as_is += 1
    assert compared_as_is >= 40 and compared_after_removal >= 5, (compared_as_is, compared_after_removal)
