"""The Go commands of the GTP engine: a stack of `Position`s (for undo), a `Player`, and a `Clock`.

Commands follow GTP 2 (section 6) with KGS's `kgs-time_settings` and `kgs-genmove_cleanup`; Leela Zero's
`lz-analyze`/`lz-genmove_analyze` live in analysis.py. Decisions the spec leaves open:

- `boardsize` clears the board; `komi` changes every position on the undo stack; `clear_board` keeps
  komi and time settings and gives both sides full time again.
- Handicap setup and `loadsgf` start a new undo stack: stones placed by them cannot be undone.
- `play` or `genmove` after two passes continue the game (KGS's clean-up phase, disputes), where
  `Position` alone would answer "game over".
- `resign` from `genmove` leaves the board unchanged, as the spec says.
- Pondering (`--ponder`, playout engine only): after a move the engine chose, its search goes on in
  the background on the opponent's time; any command that needs the player or changes the position
  stops it first (within one kernel call), the read-only ones in READ_ONLY answer while it runs.
- `final_score` and `final_status_list` take the dead stones from the player; `seki` is always empty
  (area scoring counts seki stones as alive, so listing them as alive scores the same).
- Error texts are the canonical ones: the spec's, and GNU Go's "invalid handicap" where the spec says
  "invalid number of stones"; `play` answers "syntax error" for what is not a vertex (I5, resign) and
  "illegal move" for a vertex off the board or a forbidden move.
"""
from __future__ import annotations

import os
import time

import numpy as np

from goengine import coords
from goengine.gtp import engine as gtp
from goengine.gtp.analysis import AnalysisCommands
from goengine.gtp.clock import Clock, TimeControl
from goengine.gtp.engine import GtpError
from goengine.handicap import fixed_handicap_vertices, max_fixed_handicap
from goengine.players import Player, TimeBudget, sensible_moves
from goengine.position import COLOUR_NAMES, IllegalMove, Position, parse_colour, result_string



def expected_moves_left(position: Position) -> int:
    """A rough count of the moves the side to move still has to play, for dividing main time: a third
    of the empty points (each side plays about half of what remains, and games end with some empty
    territory), at least 10 so that the endgame keeps some time."""
    empty = position.size * position.size - position.stone_count()
    return max(10, empty // 3)


def _colour(token: str) -> str:
    try:
        return COLOUR_NAMES[parse_colour(token)]
    except ValueError:
        raise GtpError(gtp.SYNTAX_ERROR) from None


def _with_komi(position: Position, komi: float) -> Position:
    return position.with_komi(komi)


def _resumed(position: Position) -> Position:
    """The position with the game going on after two passes (a play or genmove after the game ended)."""
    return position.resumed() if position.passes >= 2 else position


def chains(position: Position, vertices: set[str] | None = None) -> list[list[str]]:
    """The stones of `position` grouped by chain (only those in `vertices` if given), each sorted."""
    colours = position.board_array()
    size = position.size
    seen = set()
    out = []
    for row in range(size):
        for col in range(size):
            if colours[row, col] == 0 or (row, col) in seen:
                continue
            chain, todo = [], [(row, col)]
            seen.add((row, col))
            while todo:
                r, c = todo.pop()
                chain.append(coords.row_col_to_gtp(r, c))
                for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                    if 0 <= rr < size and 0 <= cc < size and (rr, cc) not in seen \
                            and colours[rr, cc] == colours[row, col]:
                        seen.add((rr, cc))
                        todo.append((rr, cc))
            if vertices is not None:
                chain = [v for v in chain if v in vertices]
            if chain:
                out.append(sorted(chain, key=lambda v: coords.gtp_to_action(v, size)))
    return out


READ_ONLY = frozenset({"showboard", "printsgf", "time_left", "goengine-search_stats"})
"""Go commands that neither change the position nor use the player: they leave pondering running."""


class GoHandlers(AnalysisCommands):
    """The game state behind the Go commands of one GTP session."""

    def __init__(self, player: Player, size: int = 19, komi: float = 7.5, rules: str = "chinese",
                 seconds: float | None = None, playouts: int | None = None, ponder: bool = False):
        self.player = player
        self.ponder = ponder and hasattr(player, "ponder")
        self.rules = rules
        self.komi = float(komi)
        self.seconds, self.playouts = seconds, playouts
        self.clock = Clock()
        self.stack: list[Position] = [Position(size, self.komi, rules)]

    @property
    def position(self) -> Position:
        return self.stack[-1]

    def _live_position(self) -> Position:
        return _resumed(self.position)

    @staticmethod
    def _colour_arg(token: str) -> str:
        return _colour(token)

    def register(self, engine: gtp.GtpEngine) -> None:
        for name, handler in {
            "boardsize": self.boardsize, "clear_board": self.clear_board, "komi": self.set_komi,
            "play": self.play, "genmove": self.genmove, "reg_genmove": self.reg_genmove, "undo": self.undo,
            "showboard": self.showboard, "final_score": self.final_score,
            "final_status_list": self.final_status_list, "fixed_handicap": self.fixed_handicap,
            "place_free_handicap": self.place_free_handicap, "set_free_handicap": self.set_free_handicap,
            "time_settings": self.time_settings, "time_left": self.time_left,
            "kgs-time_settings": self.kgs_time_settings, "kgs-genmove_cleanup": self.genmove_cleanup,
            "loadsgf": self.loadsgf, "printsgf": self.printsgf, "goengine-search_stats": self.search_stats,
        }.items():
            engine.register(name, handler if name in READ_ONLY else self._paused(handler))
        engine.register_stream("lz-analyze", self._paused(self.lz_analyze))
        engine.register_stream("lz-genmove_analyze", self._paused(self.lz_genmove_analyze))
        engine.add_closer(self.close)

    # --- pondering ---
    def _paused(self, handler):
        """`handler`, run with pondering stopped (the player and the position are the handler's)."""
        def run(*args):
            self._stop_pondering()
            return handler(*args)
        return run

    def _stop_pondering(self) -> None:
        stop = getattr(self.player, "stop_pondering", None)
        if stop is not None:
            stop()

    def _start_pondering(self) -> None:
        if self.ponder:
            self.player.ponder(self.position)

    def close(self) -> None:
        """End of the session: stop pondering and the player's threads."""
        close = getattr(self.player, "close", None)
        if close is not None:
            close()

    def search_stats(self, args: list[str]) -> str:
        """`goengine-search_stats`: what the playout engine's tree holds, as `key value` pairs:
        visits (simulations the tree already holds for the current position: what a genmove here would
        keep), best (the most visited move from the current position in the tree: the move expected
        next), root_visits (through the tree's root), thread_visits (each thread's tree's root visits;
        they sum to root_visits), pondering (1 while the background search runs), ponder_sims and
        last_sims (simulations of the last pondering and of the last genmove)."""
        search = getattr(self.player, "search", None)
        if search is None or search.position is None:
            return "visits 0 best pass root_visits 0 thread_visits 0 pondering 0 ponder_sims 0 last_sims 0"
        threads = search.thread_visits() if hasattr(search, "thread_visits") else [int(search.nodes[0]["visits"])]
        pondering = int(self.player.pondering()) if hasattr(self.player, "pondering") else 0
        last = getattr(self.player, "last_search", {}).get("sims", 0)
        position = self._live_position()
        replies = search.replies_at(position)
        best = max(replies, key=replies.get) if replies else "pass"
        return (f"visits {search.visits_at(position)} best {best} root_visits {int(search.nodes[0]['visits'])} "
                f"thread_visits {','.join(map(str, threads))} pondering {pondering} "
                f"ponder_sims {getattr(self.player, 'ponder_sims', 0)} last_sims {last}")

    # --- setup ---
    def _new_game(self, size: int) -> None:
        self.stack = [Position(size, self.komi, self.rules)]
        self.clock.reset()

    def boardsize(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GtpError(gtp.SYNTAX_ERROR)
        size = gtp.number(args[0], int)
        if not coords.MIN_SIZE <= size <= coords.MAX_SIZE:
            raise GtpError(gtp.UNACCEPTABLE_SIZE)
        fixed = getattr(self.player, "board_size", None)  # a network player knows one board size
        if fixed is not None and size != fixed:
            raise GtpError(gtp.UNACCEPTABLE_SIZE)
        self._new_game(size)
        return ""

    def clear_board(self, args: list[str]) -> str:
        self._new_game(self.position.size)
        return ""

    def set_komi(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GtpError(gtp.SYNTAX_ERROR)
        self.komi = gtp.number(args[0])
        self.stack = [_with_komi(p, self.komi) for p in self.stack]
        return ""

    def _empty_board_check(self) -> None:
        if self.position.stone_count() or self.position.history:
            raise GtpError(gtp.BOARD_NOT_EMPTY)

    def _handicap_count(self, args: list[str]) -> int:
        if len(args) != 1:
            raise GtpError(gtp.SYNTAX_ERROR)
        return gtp.number(args[0], int)

    def fixed_handicap(self, args: list[str]) -> str:
        stones = self._handicap_count(args)
        self._empty_board_check()
        try:
            vertices = fixed_handicap_vertices(stones, self.position.size)
        except ValueError:
            raise GtpError(gtp.INVALID_HANDICAP) from None
        self.stack = [self.position.with_handicap(stones, free=vertices)]
        return " ".join(vertices)

    def place_free_handicap(self, args: list[str]) -> str:
        stones = self._handicap_count(args)
        self._empty_board_check()
        size = self.position.size
        if not 2 <= stones <= size * size - 1:
            raise GtpError(gtp.INVALID_HANDICAP)
        vertices = free_handicap_vertices(stones, size)
        self.stack = [self.position.with_handicap(len(vertices), free=vertices)]
        return " ".join(vertices)

    def set_free_handicap(self, args: list[str]) -> str:
        self._empty_board_check()
        size = self.position.size
        try:
            vertices = [coords.row_col_to_gtp(*coords.gtp_to_row_col(v, size)) for v in args]
        except (ValueError, TypeError):  # not a vertex, off the board, or pass (None)
            raise GtpError(gtp.BAD_VERTEX_LIST) from None
        if len(vertices) < 2 or len(set(vertices)) != len(vertices) or len(vertices) >= size * size:
            raise GtpError(gtp.BAD_VERTEX_LIST)
        self.stack = [self.position.with_handicap(len(vertices), free=vertices)]
        return ""

    # --- moves ---
    def play(self, args: list[str]) -> str:
        if len(args) != 2:
            raise GtpError(gtp.SYNTAX_ERROR)
        colour = _colour(args[0])
        try:
            self.stack.append(_resumed(self.position).play(args[1], colour))
        except IllegalMove as e:
            raise GtpError(gtp.SYNTAX_ERROR if e.reason == "not a move" else gtp.ILLEGAL_MOVE) from None
        return ""

    def _budget(self, colour: str, position: Position) -> TimeBudget:
        # --seconds is a mean per move that the player may redistribute (a referee's per-move clock
        # stays a hard limit); without it, the clock's share is the budget
        clock_s = self.clock.budget(colour, expected_moves_left(position))
        if self.seconds is not None:
            seconds = self.seconds if clock_s is None else min(self.seconds, clock_s)
            return TimeBudget(seconds=seconds, playouts=self.playouts, bankable=True, limit_s=clock_s)
        return TimeBudget(seconds=clock_s, playouts=self.playouts, bankable=clock_s is None)

    def _think(self, colour: str) -> tuple[Position, str]:
        """Ask the player for a move of `colour`; charge the clock. Returns (position asked, move)."""
        position = _resumed(self.position)
        started = time.monotonic()
        move = self.player.genmove(position, colour, self._budget(colour, position))
        self.clock.spend(colour, time.monotonic() - started)
        return position, str(move)

    def _commit(self, position: Position, colour: str, move: str) -> str:
        """Play the player's move; "resign" leaves the board as it is. Returns the GTP vertex."""
        if move.lower() == "resign":
            return "resign"
        new = position.play(move, colour)  # an illegal move here is the player's bug: the dispatcher logs it
        self.stack.append(new)
        return new.history[-1][1]

    def genmove(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GtpError(gtp.SYNTAX_ERROR)
        colour = _colour(args[0])
        position, move = self._think(colour)
        vertex = self._commit(position, colour, move)
        if vertex != "resign":
            self._start_pondering()
        return vertex

    def reg_genmove(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GtpError(gtp.SYNTAX_ERROR)
        position, move = self._think(_colour(args[0]))
        return "resign" if move.lower() == "resign" else coords.point_to_gtp(
            coords.gtp_to_point(move, position.size), position.size)

    def genmove_cleanup(self, args: list[str]) -> str:
        """KGS's clean-up phase: like genmove, but never pass while stones of the opponent that the
        player judges dead are still on the board (capture them instead), and never resign: the game
        is being settled, not decided."""
        if len(args) != 1:
            raise GtpError(gtp.SYNTAX_ERROR)
        colour = _colour(args[0])
        position, move = self._think(colour)
        if move.lower() in ("pass", "resign"):
            opponent = "w" if colour == "b" else "b"
            dead = {v for v in self.player.dead_stones(position) if _colour_at(position, v) == opponent}
            move = capture_move(position, colour, dead) if dead else "pass"
        return self._commit(position, colour, move)

    def undo(self, args: list[str]) -> str:
        if len(self.stack) < 2:
            raise GtpError(gtp.CANNOT_UNDO)
        self.stack.pop()
        return ""

    # --- display and scoring ---
    def showboard(self, args: list[str]) -> str:
        p = self.position
        caps = p.captures
        return (f"\n{p}\nto play: {'black' if p.to_play == 'b' else 'white'}, komi {p.komi:g}, "
                f"captures black {caps['b']} white {caps['w']}, moves {len(p.history)}")

    def _dead(self, position: Position) -> set[str]:
        return {coords.row_col_to_gtp(*coords.gtp_to_row_col(v, position.size))
                for v in self.player.dead_stones(position) if _colour_at(position, v) is not None}

    def final_score(self, args: list[str]) -> str:
        position = self.position
        if position.resigned:
            return position.result()
        cleaned = position.with_stones(empty=sorted(self._dead(position)))
        return result_string(cleaned.score())

    def final_status_list(self, args: list[str]) -> str:
        if len(args) != 1 or args[0] not in ("alive", "dead", "seki"):
            raise GtpError(gtp.SYNTAX_ERROR)
        if args[0] == "seki":
            return ""
        position = self.position
        dead = self._dead(position)
        every = {v for chain in chains(position) for v in chain}
        wanted = dead if args[0] == "dead" else every - dead
        return "\n".join(" ".join(chain) for chain in chains(position, wanted))

    # --- time ---
    def time_settings(self, args: list[str]) -> str:
        if len(args) != 3:
            raise GtpError(gtp.SYNTAX_ERROR)
        main_s, byo_s, stones = gtp.number(args[0]), gtp.number(args[1]), gtp.number(args[2], int)
        try:
            self.clock.set_control(TimeControl.from_gtp(main_s, byo_s, stones))
        except ValueError:
            raise GtpError(gtp.SYNTAX_ERROR) from None
        return ""

    def kgs_time_settings(self, args: list[str]) -> str:
        shapes = {"none": (), "absolute": (float,), "byoyomi": (float, float, int), "canadian": (float, float, int)}
        if not args or args[0] not in shapes or len(args) != 1 + len(shapes[args[0]]):
            raise GtpError(gtp.SYNTAX_ERROR)
        kind, values = args[0], [gtp.number(a, t) for a, t in zip(args[1:], shapes[args[0]])]
        try:
            if kind == "byoyomi":
                control = TimeControl(kind, values[0], values[1], periods=values[2])
            elif kind == "canadian":
                control = TimeControl(kind, values[0], values[1], stones=values[2])
            else:
                control = TimeControl(kind, *values)
        except ValueError:
            raise GtpError(gtp.SYNTAX_ERROR) from None
        self.clock.set_control(control)
        return ""

    def time_left(self, args: list[str]) -> str:
        if len(args) != 3:
            raise GtpError(gtp.SYNTAX_ERROR)
        colour, seconds, stones = _colour(args[0]), gtp.number(args[1]), gtp.number(args[2], int)
        if seconds < 0 or stones < 0:
            raise GtpError(gtp.SYNTAX_ERROR)
        self.clock.time_left(colour, seconds, stones)
        return ""

    # --- SGF (goengine.sgf is imported here only: the engine starts without it) ---
    def loadsgf(self, args: list[str]) -> str:
        """GTP 2 section 6.3.3: the game of the file, replayed up to the position before move
        `move_number` (all of it without one), under this engine's rules; komi from the file."""
        if len(args) not in (1, 2):
            raise GtpError(gtp.SYNTAX_ERROR)
        move_number = gtp.number(args[1], int) if len(args) == 2 else None
        from goengine import sgf

        try:
            positions = sgf.replay(sgf.load_game(os.path.expanduser(args[0])), rules=self.rules)
        except (OSError, ValueError):  # sgf.SgfError is a ValueError
            raise GtpError(gtp.CANNOT_LOAD_FILE) from None
        if move_number is not None and move_number >= 1:
            positions = positions[:move_number]
        self.stack = positions
        self.komi = positions[-1].komi
        self.clock.reset()
        return ""

    def printsgf(self, args: list[str]) -> str:
        """The current position as SGF setup stones with the side to move (as GNU Go writes it), as
        the response or into the file named."""
        if len(args) > 1:
            raise GtpError(gtp.SYNTAX_ERROR)
        from goengine import sgf

        data = sgf.position_to_sgf(self.position)
        if args:
            with open(os.path.expanduser(args[0]), "wb") as f:
                f.write(data)
            return ""
        return data.decode("utf-8")

def _colour_at(position: Position, vertex: str) -> str | None:
    try:
        return position.colour_at(vertex)
    except ValueError:
        return None


def capture_move(position: Position, colour: str, dead: set[str]) -> str:
    """A move of `colour` towards capturing the `dead` opponent stones: a legal liberty of the dead
    chain with the fewest liberties (the capturing move when it is in atari); else any sensible move;
    else pass."""
    for chain in sorted(chains(position, dead), key=lambda ch: (position.liberties(ch[0]), ch)):
        for liberty in _liberties(position, chain):
            if position.is_legal(liberty, colour):
                return liberty
    moves = sensible_moves(position, colour)
    return moves[0] if moves else "pass"


def _liberties(position: Position, chain: list[str]) -> list[str]:
    size, colours = position.size, position.board_array()
    found = set()
    for v in chain:
        r, c = coords.gtp_to_row_col(v, size)
        for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= rr < size and 0 <= cc < size and colours[rr, cc] == 0:
                found.add((rr, cc))
    return [coords.row_col_to_gtp(r, c) for r, c in sorted(found)]


def free_handicap_vertices(stones: int, size: int) -> list[str]:
    """The engine's own free placement: the fixed pattern while it reaches, then each further stone on
    the point farthest (Manhattan) from the stones placed and from beyond the edge (farthest-point
    sampling), ties to the centre: this spreads stones evenly on any board."""
    fixed = min(stones, max_fixed_handicap(size))
    vertices = fixed_handicap_vertices(fixed, size) if fixed >= 2 else []
    rows, cols = np.indices((size, size))
    edge = np.minimum(np.minimum(rows, cols), np.minimum(size - 1 - rows, size - 1 - cols)) + 1
    near = np.full((size, size), 2 * size)  # distance to the nearest placed stone
    centre = -(np.abs(rows - size // 2) + np.abs(cols - size // 2))
    for v in vertices:
        r, c = coords.gtp_to_row_col(v, size)
        near = np.minimum(near, np.abs(rows - r) + np.abs(cols - c))
    while len(vertices) < stones:
        key = (np.minimum(near, edge) * 4 * size + near) * 4 * size + centre + 2 * size  # lexicographic
        key[near == 0] = -1
        r, c = np.unravel_index(int(np.argmax(key)), key.shape)
        near = np.minimum(near, np.abs(rows - r) + np.abs(cols - c))
        vertices.append(coords.row_col_to_gtp(int(r), int(c)))
    return vertices
