"""Differential test: our Position against sgfmill's `boards.Board`, a second board nobody here wrote.

sgfmill's Board.play places a stone, removes what it captures (and a suicided chain), and returns the
simple-ko point, but forbids nothing itself. So the games come from our legal moves under "simple-ko"
rules, and after every move we compare the stones, the ko point sgfmill reports with `Position.ko`,
prisoners (counted on sgfmill's side from the stones that left the board) and the area count. Finished
games of sensible random moves (goengine.players.sensible_moves), where territories form, check
`Position.area()` against `Board.area_score()`.
"""
import random

import numpy as np
import pytest
from sgfmill import boards

from goengine import Position
from goengine.players import RandomPlayer

LETTERS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


def vertex(row: int, col: int) -> str:
    return f"{LETTERS[col]}{row + 1}"


def colours(board: boards.Board) -> np.ndarray:
    out = np.zeros((board.side, board.side), dtype=np.int8)
    for colour, (row, col) in board.list_occupied_points():
        out[row, col] = 1 if colour == "b" else 2
    return out


def biased_move(pos: Position, rng: random.Random) -> str:
    """A legal move, next to the last one half the time so that fights (captures, ko) happen."""
    moves = pos.legal_moves()
    if rng.random() < 0.02 or len(moves) == 1:
        return "pass"
    last = pos.last_move
    if last not in (None, "pass") and rng.random() < 0.5:
        col, row = LETTERS.index(last[0]), int(last[1:]) - 1
        near = {vertex(r, c) for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1))
                if 0 <= r < pos.size and 0 <= c < pos.size}
        near_moves = [m for m in moves if m in near]
        if near_moves:
            return rng.choice(near_moves)
    return rng.choice(moves[:-1])


def play_both(size: int, seed: int, max_moves: int, choose) -> dict:
    """Play one game on both boards, comparing after every move; return what was exercised."""
    pos = Position(size=size, komi=7.0, rules="simple-ko")
    board = boards.Board(size)
    captured = {"b": 0, "w": 0}
    seen = {"moves": 0, "captures": 0, "ko": 0}
    while seen["moves"] < max_moves and not pos.is_over:
        colour, other = pos.to_play, "w" if pos.to_play == "b" else "b"
        move = choose(pos)
        pos = pos.play(move)
        sgfmill_ko = None
        if move != "pass":
            before = colours(board)
            col, row = LETTERS.index(move[0]), int(move[1:]) - 1
            ko = board.play(row, col, colour)
            sgfmill_ko = None if ko is None else vertex(*ko)
            after = colours(board)
            opponent_value = 1 if other == "b" else 2
            lost = int((before == opponent_value).sum() - (after == opponent_value).sum())
            captured[colour] += lost
            seen["captures"] += lost > 0
        where = f"{size}x{size} seed {seed} move {seen['moves'] + 1} ({colour} {move})"
        assert np.array_equal(pos.board_array(), colours(board)), where
        assert pos.ko == sgfmill_ko, where
        assert pos.captures == captured, where
        assert pos.area() == board.area_score(), where
        seen["moves"] += 1
        seen["ko"] += sgfmill_ko is not None
    seen["area"] = pos.area()
    seen["over"] = pos.is_over
    return seen


@pytest.mark.parametrize("size,games", [(9, 40), (13, 5), (19, 2), (5, 20)])
def test_random_games_match_sgfmill(size, games):
    totals = {"moves": 0, "captures": 0, "ko": 0}
    for seed in range(games):
        rng = random.Random(seed)
        seen = play_both(size, seed, 2 * size * size, lambda pos: biased_move(pos, rng))
        for k in totals:
            totals[k] += seen[k]
    print(f"\nsgfmill {size}x{size}: {games} games, {totals['moves']} moves, {totals['captures']} capturing "
          f"moves, {totals['ko']} ko captures, 0 mismatches")
    assert totals["captures"] > 0 and (size > 9 or totals["ko"] > 0), totals


@pytest.mark.parametrize("size,games", [(9, 40), (13, 4), (19, 2)])
def test_finished_games_area_matches_sgfmill(size, games):
    scores = []
    for seed in range(games):
        player = RandomPlayer(1000 + seed)
        seen = play_both(size, 1000 + seed, 4 * size * size, lambda pos: player.genmove(pos, pos.to_play))
        assert seen["over"], f"seed {1000 + seed} did not finish"
        scores.append(seen["area"])
    print(f"\nsgfmill area {size}x{size}: {games} finished games, areas {sorted(scores)}")
    assert len(set(scores)) > 1  # territories of different sizes, not one degenerate count


@pytest.mark.slow
@pytest.mark.parametrize("size", [7, 9, 11, 13, 19])
def test_many_games_match_sgfmill(size):
    for seed in range(100 if size <= 11 else 15):
        rng = random.Random(10_000 + seed)
        play_both(size, 10_000 + seed, 3 * size * size, lambda pos: biased_move(pos, rng))
        player = RandomPlayer(20_000 + seed)
        play_both(size, 20_000 + seed, 4 * size * size, lambda pos: player.genmove(pos, pos.to_play))
