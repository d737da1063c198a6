"""`Board`: the mutable fast path for search: in-place play on scratch arrays, cheap copies, playouts.

A Board is two numpy arrays (`s`, `meta`; layout in _kernels.py) and a size; it pickles as those, so Ray
can ship it. Moves are padded points (coords.py). It knows simple ko only; superko and game records
belong to `Position`, the immutable face for users.
"""
from __future__ import annotations

import numpy as np

from goengine import _kernels as K
from goengine import coords
from goengine.geometry import BoardGeometry, geometry

BLACK, WHITE, EMPTY = K.BLACK, K.WHITE, K.EMPTY


class Board:
    __slots__ = ("geo", "s", "meta")

    def __init__(self, size: int = 9):
        self.geo: BoardGeometry = geometry(size)
        self.s = np.zeros((K.N_ROWS, self.geo.n_points), dtype=np.int32)
        self.meta = np.zeros(K.META_LEN, dtype=np.int64)
        K.init_state(self.s, self.meta, self.geo.empty_colours, self.geo.on_board)

    # --- pickling: arrays and size only (geometry is rebuilt from the per-size cache) ---
    def __getstate__(self):
        return {"size": self.geo.size, "s": self.s, "meta": self.meta}

    def __setstate__(self, state):
        self.geo = geometry(state["size"])
        self.s = state["s"]
        self.meta = state["meta"]

    @property
    def size(self) -> int:
        return self.geo.size

    @property
    def to_play(self) -> int:
        return int(self.meta[K.TO_PLAY])

    @property
    def ko_point(self) -> int:
        return int(self.meta[K.KO])

    @property
    def hash(self) -> int:
        return int(self.meta[K.HASH])

    @property
    def passes(self) -> int:
        return int(self.meta[K.PASSES])

    @property
    def last_move(self) -> int:
        return int(self.meta[K.LAST_MOVE])

    def copy(self) -> "Board":
        new = Board.__new__(Board)
        new.geo = self.geo
        new.s = self.s.copy()
        new.meta = self.meta.copy()
        return new

    def copy_from(self, other: "Board") -> None:
        """Overwrite this board with `other` without allocating (same size)."""
        self.s[:, :] = other.s
        self.meta[:] = other.meta

    def play(self, p: int, suicide_ok: bool = False) -> int:
        """Play padded point p (or coords.PASS) for the side to move, simple ko only, in place.
        Returns a status code from _kernels (K.OK == 0); the board is unchanged unless OK."""
        g = self.geo
        return K.play(self.s, self.meta, g.neighbours, g.zobrist, p, suicide_ok)

    def colours(self) -> np.ndarray:
        """int8 (size, size) array: 0 empty, 1 black, 2 white, [row][col] with row 0 at the bottom."""
        g = self.geo
        return self.s[K.COLOUR, g.on_board].astype(np.int8).reshape(g.size, g.size)

    def area_score(self) -> int:
        """Tromp-Taylor area, Black minus White, no komi."""
        g = self.geo
        return int(K.area_score(self.s, self.meta, g.neighbours, g.on_board))

    def liberties(self, p: int) -> int:
        """Liberties of the chain at padded point p (0 for an empty point)."""
        if self.s[K.COLOUR, p] not in (BLACK, WHITE):
            return 0
        return int(self.s[K.LIBS, self.s[K.HEAD, p]])

    def random_playout(self, rng_state: np.ndarray, max_moves: int | None = None) -> int:
        """Finish the game in place with uniform random non-eye-filling moves; return the area score
        (Black minus White, no komi). rng_state is a uint64[1] array advanced in place."""
        g = self.geo
        max_moves = max_moves if max_moves is not None else 3 * g.size * g.size
        moves = np.empty(max_moves, dtype=np.int32)
        score, _n = K.random_playout(self.s, self.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board,
                                     rng_state, max_moves, moves)
        return int(score)

    def __str__(self) -> str:
        from goengine.diagram import render
        return render(self.colours(), last_move=None)


def rng_state(seed: int) -> np.ndarray:
    """A uint64[1] xorshift state for the playout kernels (never zero)."""
    x = (seed * 0x9E3779B97F4A7C15 + 0x2545F4914F6CDD1D) % (1 << 64)
    return np.array([x or 1], dtype=np.uint64)


def vertex(p: int, size: int) -> str:
    return coords.point_to_gtp(p, size)
