"""Differential test: the numba board against the pure-Python reference board on seeded random games.

After every move: stones, prisoners, area score, the full set of legal moves (so ko and superko bans
and suicides) and the incremental hash (against one recomputed from the stones) must agree.
"""
import random

import numpy as np
import pytest

from goengine import Position
from goengine.geometry import geometry
from tests.reference_board import RefBoard, random_move, vertex

RULES = [("simple-ko", "simple", False), ("chinese", "positional", False),
         ("tromp-taylor", "positional", True), ("new-zealand", "situational", True),
         ("aga", "situational", False)]


def recomputed_hash(pos: Position) -> int:
    g = geometry(pos.size)
    h = 0
    for a, c in enumerate(pos.board_array().reshape(-1)):
        if c:
            h ^= int(g.zobrist[c, g.on_board[a]])
    return int(np.int64(np.uint64(h % (1 << 64))))


def ref_colours(ref: RefBoard) -> np.ndarray:
    out = np.zeros((ref.size, ref.size), dtype=np.int8)
    for (r, c), col in ref.stones.items():
        out[r, c] = 1 if col == "b" else 2
    return out


def play_and_compare(size, seed, rules, ko, suicide, moves, pass_prob=0.03):
    rng = random.Random(seed)
    ref = RefBoard(size, ko, suicide)
    pos = Position(size=size, komi=0, rules=rules)
    for n in range(moves):
        where = f"{rules} {size}x{size} seed {seed} move {n}"
        assert set(pos.legal_moves()) == {vertex(p) for p in ref.legal_points()} | {"pass"}, where
        pt = random_move(ref, rng, pass_prob)
        pos = pos.play(vertex(pt))
        ref.play(pt)
        assert np.array_equal(pos.board_array(), ref_colours(ref)), where
        assert pos.captures == ref.captures, where
        assert pos.area() == ref.area(), where
        assert pos.hash == recomputed_hash(pos), where
        if pos.is_over:
            break
    return pos


@pytest.mark.parametrize("rules,ko,suicide", RULES)
@pytest.mark.parametrize("seed", range(4))
def test_random_games_9x9(rules, ko, suicide, seed):
    play_and_compare(9, seed, rules, ko, suicide, moves=160)


@pytest.mark.parametrize("size", [2, 3, 4, 5])
@pytest.mark.parametrize("rules,ko,suicide", RULES)
def test_random_games_tiny_boards(size, rules, ko, suicide):
    # tiny boards repeat positions all the time: the strongest test of the superko bookkeeping
    for seed in range(4):
        play_and_compare(size, 100 + seed, rules, ko, suicide, moves=60, pass_prob=0.1)


@pytest.mark.slow
@pytest.mark.parametrize("size", [9, 13, 19])
def test_random_games_many(size):
    for seed in range(40):
        for rules, ko, suicide in RULES:
            play_and_compare(size, 1000 + seed, rules, ko, suicide, moves=3 * size * size)
