"""MoGo's 3x3 patterns (Gelly, Wang, Munos, Teytaud 2006, "Modification of UCT with Patterns in
Monte-Carlo Go", figure of hane, cut and edge patterns), compiled into a lookup table over the colours
of the eight neighbours of a point.

Notation of the diagrams (the candidate move is the centre, which is empty):
    X  a stone of one colour          O  a stone of the other colour
    x  not O (X or empty)             o  not X (O or empty)
    .  empty                          ?  anything (walls included)
    #  off the board (the edge)
The table is symmetric under the eight board symmetries and under swapping the colours, as in MoGo,
so it answers for either side to move.

Neighbour code: the eight neighbours N, NE, E, SE, S, SW, W, NW (north = the row above) contribute
2 bits each (0 empty, 1 black, 2 white, 3 wall), N in the lowest bits; see `code_at` in _playout.py.
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

PATTERNS = [
    # hane: enclosing, non-cutting, magari, thin
    ("XOX", "...", "???"),
    ("XO.", "...", "?.?"),
    ("XO?", "X..", "x.?"),
    ("XOO", "...", "?.?"),
    # diagonal attachment (katatsuke)
    (".O.", "X..", "..."),
    # cut 1: unprotected and peeped
    ("XO?", "O.o", "?o?"),
    ("XO?", "O.X", "???"),
    # cut 2
    ("?X?", "O.O", "ooo"),
    # keima cut
    ("OX?", "o.O", "???"),
    # edge: chase, block a side cut, block a side connection, sagari, cut
    ("X.?", "O.?", "###"),
    ("OX?", "X.O", "###"),
    ("?X?", "x.O", "###"),
    ("?XO", "x.x", "###"),
    ("?OX", "X.O", "###"),
]

# (row offset, col offset) of N, NE, E, SE, S, SW, W, NW, with row 0 = the top row of a diagram
_CELLS = [(0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0)]
_EMPTY, _BLACK, _WHITE, _WALL = 0, 1, 2, 3


def _allowed(symbol: str, me: int, other: int) -> tuple[int, ...]:
    """The neighbour values a diagram symbol admits, for `me` = the colour written X."""
    return {
        "X": (me,),
        "O": (other,),
        "x": (me, _EMPTY),
        "o": (other, _EMPTY),
        ".": (_EMPTY,),
        "?": (_EMPTY, _BLACK, _WHITE, _WALL),
        "#": (_WALL,),
    }[symbol]


def _symmetries(rows: tuple[str, str, str]) -> set[tuple[str, str, str]]:
    grid = [list(r) for r in rows]
    out = set()
    for _ in range(4):
        grid = [list(r) for r in zip(*grid[::-1])]  # rotate 90 degrees
        out.add(tuple("".join(r) for r in grid))
        out.add(tuple("".join(r[::-1]) for r in grid))  # and its mirror
    return out


@functools.lru_cache(maxsize=None)
def pattern_table() -> np.ndarray:
    """uint8[65536]: 1 where the neighbour code matches a pattern for either colour."""
    table = np.zeros(1 << 16, dtype=np.uint8)
    variants = set()
    for rows in PATTERNS:
        variants |= _symmetries(rows)
    for rows in variants:
        symbols = [rows[r][c] for r, c in _CELLS]
        for me, other in ((_BLACK, _WHITE), (_WHITE, _BLACK)):
            for values in itertools.product(*(_allowed(s, me, other) for s in symbols)):
                table[sum(v << (2 * i) for i, v in enumerate(values))] = 1
    return table
