"""`Position`: the immutable face of the board for users and other packages.

    pos = Position(size=9, komi=7.0, rules="chinese")
    pos = pos.play("D4").play("pass")          # each play returns a new Position
    pos.is_legal("E5"), pos.legal_moves(), pos.score(), pos.result()

Moves are GTP vertices ("D4", "pass"; case-insensitive, no letter I). Illegal moves raise `IllegalMove`
(a ValueError) naming the move, the colour and the reason. Superko needs the hashes of every earlier
position, so a Position carries them; search uses `Board` (make/unmake on scratch arrays) instead.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from goengine import _kernels as K
from goengine import coords, diagram
from goengine.board import Board
from goengine.handicap import fixed_handicap_vertices
from goengine.rules import Rules, rules_from

COLOUR_NAMES = {K.BLACK: "b", K.WHITE: "w"}
_REASONS = {
    K.OCCUPIED: "occupied",
    K.SUICIDE: "suicide",
    K.KO_BANNED: "ko",
    K.OFF_BOARD: "off the board",
    K.SUPERKO: "superko",
}


class IllegalMove(ValueError):
    """A move that the rules forbid, or that is not a move at all. `.reason` is one of: occupied,
    suicide, ko, superko, off the board, game over, not a move."""

    def __init__(self, move: str, colour: str, reason: str):
        self.move, self.colour, self.reason = move, colour, reason
        name = {"b": "black", "w": "white"}.get(colour, colour)
        super().__init__(f"illegal move {move} by {name}: {reason}")


def parse_colour(colour: str | int) -> int:
    """"b", "black", "w", "white" (any case) or 1/2 -> K.BLACK / K.WHITE."""
    if colour in (K.BLACK, K.WHITE):
        return int(colour)
    c = str(colour).strip().lower()
    if c in ("b", "black"):
        return K.BLACK
    if c in ("w", "white"):
        return K.WHITE
    raise ValueError(f"{colour!r} is not a colour (expected b, black, w or white)")


def _check_size(size) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        try:
            size = int(str(size).strip())
        except ValueError:
            raise ValueError(f"board size {size!r} is not an integer") from None
    if not coords.MIN_SIZE <= size <= coords.MAX_SIZE:
        raise ValueError(f"board size {size} is out of range ({coords.MIN_SIZE} to {coords.MAX_SIZE})")
    return int(size)


def _check_komi(komi) -> float:
    try:
        value = float(komi)
    except (TypeError, ValueError):
        raise ValueError(f"komi {komi!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"komi {komi!r} is not a finite number")
    return value


class Position:
    """An immutable Go position with its game record. See the module docstring."""

    __slots__ = ("_board", "komi", "rules", "history", "_hashes", "_hash_to_play", "_result", "_previous")

    def __init__(self, size: int = 9, komi: float = 7.0, rules: str | Rules = "chinese"):
        self._board = Board(_check_size(size))
        self.komi = _check_komi(komi)
        self.rules = rules_from(rules)
        self.history: tuple[tuple[str, str], ...] = ()  # (colour "b"/"w", GTP vertex) per move
        self._hashes = np.array([self._board.hash], dtype=np.int64)  # every position's stones hash
        self._hash_to_play = np.array([K.BLACK], dtype=np.int8)  # side to move in each of them
        self._result: str | None = None  # set by resign()
        self._previous: Position | None = None  # the position before the last move or setup

    # --- construction helpers ---
    def _derive(self, board: Board) -> "Position":
        new = Position.__new__(Position)
        new._board = board
        new.komi, new.rules, new.history = self.komi, self.rules, self.history
        new._hashes, new._hash_to_play, new._result = self._hashes, self._hash_to_play, self._result
        new._previous = self
        return new

    @classmethod
    def from_ascii(cls, text: str, komi: float = 7.0, rules: str | Rules = "chinese",
                   to_play: str = "b") -> "Position":
        """A position from a diagram (top row first; X black, O white, . empty). See diagram.py."""
        colours = diagram.parse(text)
        pos = cls(size=colours.shape[0], komi=komi, rules=rules)
        return pos.with_colours(colours, to_play=to_play)

    def with_colours(self, colours: np.ndarray, to_play: str | None = None) -> "Position":
        """This position with its stones replaced by colours[row][col] (0/1/2), as SGF setup does.
        ValueError if a chain would have no liberties."""
        g = self._board.geo
        colours = np.asarray(colours, dtype=np.int32).reshape(-1)
        if colours.shape[0] != g.size * g.size or colours.min() < 0 or colours.max() > 2:
            raise ValueError(f"setup must be {g.size}x{g.size} values of 0, 1 or 2")
        board = self._board.copy()
        dead = K.rebuild(board.s, board.meta, g.neighbours, g.zobrist, g.on_board, colours)
        if dead:
            raise ValueError(f"setup leaves {dead} chain(s) without liberties")
        if to_play is not None:
            board.meta[K.TO_PLAY] = parse_colour(to_play)
        new = self._derive(board)
        new._hashes = np.append(self._hashes, board.hash)
        new._hash_to_play = np.append(self._hash_to_play, np.int8(board.to_play))
        return new

    def with_stones(self, black: Iterable[str] = (), white: Iterable[str] = (), empty: Iterable[str] = (),
                    to_play: str | None = None) -> "Position":
        """Setup: add black and white stones and clear points, given as GTP vertices."""
        colours = self.board_array().astype(np.int32)
        for value, vertices in ((K.BLACK, black), (K.WHITE, white), (K.EMPTY, empty)):
            for v in vertices:
                rc = coords.gtp_to_row_col(v, self.size)
                if rc is None:
                    raise ValueError("pass is not a point")
                colours[rc] = value
        return self.with_colours(colours, to_play=to_play)

    def with_handicap(self, stones: int, free: Iterable[str] | None = None) -> "Position":
        """GTP fixed handicap (or the given free placement) on an empty board; White plays next."""
        if self.stone_count() or self.history:
            raise ValueError("handicap stones go on an empty board")
        vertices = list(free) if free is not None else fixed_handicap_vertices(stones, self.size)
        if free is not None and (len(set(v.upper() for v in vertices)) != len(vertices) or len(vertices) < 2):
            raise ValueError("free handicap needs at least two distinct vertices")
        return self.with_stones(black=vertices, to_play="w")

    def with_komi(self, komi: float) -> "Position":
        """This position with another komi (the record and superko history are kept)."""
        new = self._derive(self._board)
        new._previous = self._previous
        new.komi = _check_komi(komi)
        return new

    def resumed(self) -> "Position":
        """After two passes, the same position with play resumed (the pass count cleared), as KGS's
        clean-up phase and GTP controllers that keep sending moves expect. A resigned game stays over."""
        if self._result is not None:
            return self
        board = self._board.copy()
        board.meta[K.PASSES] = 0
        new = self._derive(board)
        new._previous = self._previous
        return new

    # --- pickling ---
    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        for k, v in state.items():
            object.__setattr__(self, k, v)

    # --- queries ---
    @property
    def size(self) -> int:
        return self._board.size

    @property
    def board(self) -> Board:
        """A copy of the underlying fast board, for search."""
        return self._board.copy()

    @property
    def to_play(self) -> str:
        return COLOUR_NAMES[self._board.to_play]

    @property
    def captures(self) -> dict[str, int]:
        """Prisoners: stones captured by each colour."""
        m = self._board.meta
        return {"b": int(m[K.PRISONERS_B]), "w": int(m[K.PRISONERS_W])}

    @property
    def ko(self) -> str | None:
        """The point the side to move may not play by simple ko, or None."""
        p = self._board.ko_point
        return None if p == coords.PASS else coords.point_to_gtp(p, self.size)

    @property
    def hash(self) -> int:
        return self._board.hash

    @property
    def last_move(self) -> str | None:
        return self.history[-1][1] if self.history else None

    @property
    def passes(self) -> int:
        """Consecutive passes at the end of the record."""
        return self._board.passes

    @property
    def is_over(self) -> bool:
        return self._result is not None or self._board.passes >= 2

    @property
    def resigned(self) -> bool:
        return self._result is not None

    @property
    def previous(self) -> "Position | None":
        """The position before the last move (or setup), or None at the start."""
        return self._previous

    def recent_boards(self, n: int) -> list[np.ndarray]:
        """The last n board arrays, newest (this position) first; empty boards before the start."""
        out, pos = [], self
        while len(out) < n:
            out.append(pos.board_array() if pos is not None else np.zeros((self.size, self.size), np.int8))
            pos = pos._previous if pos is not None else None
        return out

    def board_array(self) -> np.ndarray:
        """int8 (size, size): 0 empty, 1 black, 2 white; [row][col], row 0 = GTP row 1, col 0 = A."""
        return self._board.colours()

    def stone_count(self) -> int:
        return int(np.count_nonzero(self.board_array()))

    def colour_at(self, vertex: str) -> str | None:
        """"b", "w" or None for the stone at a vertex."""
        row, col = coords.gtp_to_row_col(vertex, self.size)
        return {0: None, 1: "b", 2: "w"}[int(self.board_array()[row, col])]

    def liberties(self, vertex: str) -> int:
        """Liberties of the chain at `vertex` (0 if empty)."""
        return self._board.liberties(coords.gtp_to_point(vertex, self.size))

    def is_eye_like(self, vertex: str, colour: str | None = None) -> bool:
        """Is the empty `vertex` an eye-like point of `colour` (default: the side to move): every
        neighbour its stone or the edge, and too few diagonals the opponent's to make it false?"""
        b, g = self._board, self._board.geo
        c = b.to_play if colour is None else parse_colour(colour)
        p = coords.gtp_to_point(vertex, self.size)
        return b.s[K.COLOUR, p] == K.EMPTY and bool(K.is_eye(b.s, g.neighbours, g.diagonals, p, c))

    def _status(self, p: int, colour: int) -> int:
        b, g = self._board, self._board.geo
        if colour != b.to_play:
            # a move out of turn: the ko ban belongs to the side to move, not to this colour
            b = b.copy()
            b.meta[K.TO_PLAY] = colour
            b.meta[K.KO] = coords.PASS
        return K.move_status(b.s, b.meta, g.neighbours, g.zobrist, p, colour, self.rules.suicide,
                             self.rules.superko_code, self._hashes, self._hash_to_play)

    def _parse_move(self, move: str, colour: int) -> int:
        try:
            return coords.gtp_to_point(str(move), self.size)
        except ValueError as e:
            reason = "off the board" if "off the" in str(e) else "not a move"
            raise IllegalMove(str(move), COLOUR_NAMES[colour], reason) from None

    def is_legal(self, move: str, colour: str | None = None) -> bool:
        c = self._board.to_play if colour is None else parse_colour(colour)
        if self.is_over:
            return False
        try:
            p = self._parse_move(move, c)
        except IllegalMove:
            return False
        return self._status(p, c) == K.OK

    def legal_moves(self, colour: str | None = None) -> list[str]:
        """Every legal move of `colour` (default: the side to move) as GTP vertices, "pass" last."""
        if self.is_over:
            return []
        mask = self.legal_mask(colour)
        return [coords.point_to_gtp(int(p), self.size) for p in self._board.geo.on_board[mask[:-1] == 1]] + ["pass"]

    def legal_mask(self, colour: str | None = None) -> np.ndarray:
        """int8 mask over action indices (N*N points, then pass): 1 where legal."""
        g = self._board.geo
        out = np.zeros(g.size * g.size + 1, dtype=np.int8)
        if self.is_over:
            return out
        c = self._board.to_play if colour is None else parse_colour(colour)
        b = self._board
        if c != b.to_play:
            b = b.copy()
            b.meta[K.TO_PLAY] = c
            b.meta[K.KO] = coords.PASS
        K.legal_mask(b.s, b.meta, g.neighbours, g.zobrist, g.on_board, c, self.rules.suicide,
                     self.rules.superko_code, self._hashes, self._hash_to_play, out[:-1])
        out[-1] = 1
        return out

    # --- moves ---
    def play(self, move: str, colour: str | None = None) -> "Position":
        """A new Position after `move` ("D4", "pass") by `colour` (default: the side to move)."""
        c = self._board.to_play if colour is None else parse_colour(colour)
        cname = COLOUR_NAMES[c]
        if self.is_over:
            raise IllegalMove(str(move), cname, "game over")
        p = self._parse_move(move, c)
        status = self._status(p, c)
        if status != K.OK:
            raise IllegalMove(coords.point_to_gtp(p, self.size), cname, _REASONS[status])
        board = self._board.copy()
        if c != board.to_play:
            board.meta[K.TO_PLAY] = c
            board.meta[K.KO] = coords.PASS
        g = board.geo
        if p == coords.PASS:
            K.play_pass(board.meta)
        else:
            K.place(board.s, board.meta, g.neighbours, g.zobrist, p, c)
        new = self._derive(board)
        new.history = self.history + ((cname, coords.point_to_gtp(p, self.size)),)
        new._hashes = np.append(self._hashes, board.hash)
        new._hash_to_play = np.append(self._hash_to_play, np.int8(board.to_play))
        return new

    def resign(self, colour: str | None = None) -> "Position":
        """The game ended by `colour` (default: the side to move) resigning."""
        c = self._board.to_play if colour is None else parse_colour(colour)
        new = self._derive(self._board.copy())
        new._result = ("W" if c == K.BLACK else "B") + "+R"
        return new

    # --- scoring ---
    def area(self) -> int:
        """Tromp-Taylor area, Black minus White, before komi."""
        return self._board.area_score()

    def score(self) -> float:
        """Tromp-Taylor area score with komi: positive means Black leads."""
        return self.area() - self.komi

    def result(self) -> str:
        """"B+R"/"W+R" after a resignation, else the area result: "B+3.5", "W+0.5", or "0" for jigo."""
        if self._result is not None:
            return self._result
        return result_string(self.score())

    def __str__(self) -> str:
        last = self.last_move
        rc = coords.gtp_to_row_col(last, self.size) if last and last != "pass" else None
        return diagram.render(self.board_array(), last_move=rc)

    def __repr__(self) -> str:
        return (f"Position(size={self.size}, komi={self.komi}, rules={self.rules.name!r}, "
                f"moves={len(self.history)}, to_play={self.to_play!r})")


def result_string(score: float) -> str:
    """Score (positive: Black leads) -> "B+3.5", "W+2", or "0" for jigo."""
    if score == 0:
        return "0"
    return f"{'B' if score > 0 else 'W'}+{abs(score):g}"
