"""`MCTSPlayer`: the search as a `Player` (players.py) for GTP, `goengine play` and the referee.

Per move: pass at once when the opponent has passed and passing wins by area score (Tromp-Taylor with
komi); otherwise search from the position (reusing the subtree of the moves since the last search) for
the budget given, then play the most visited move, or resign when its win rate is below the threshold.
Dead stones come from the ownership of playouts from the position.

Time (as Leela Zero and KataGo manage it): the search stops early once the most visited move cannot be
overtaken in the simulations left. When the budget is a mean per move (GTP `--seconds`; a game clock's
share, if one is set, still caps every move), the seconds an easy move leaves unused go to a bank, and each
move may run on into it, up to `bank_max` shares more, for as long as its choice is still open: the
mean time per move stays within the budget, and it goes where the choice is hard.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from goengine import coords
from goengine.board import rng_state
from goengine.mcts._playout import ownership_playouts
from goengine.mcts.evaluators import RolloutEvaluator
from goengine.mcts.patterns import pattern_table
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig
from goengine.players import AnalysisMove, TimeBudget
from goengine.position import Position


@dataclass(frozen=True)
class PlayerConfig:
    playouts: int | None = None
    """Simulations per move when the caller gives no budget."""
    seconds: float | None = 1.0
    """Seconds per move when the caller gives no budget (ignored when playouts is set)."""
    resign_threshold: float = 0.1
    """Resign when the chosen move's win rate is below this (0 never resigns)."""
    resign_min_visits: int = 500
    """...and it has at least this many visits, so a thin search does not resign."""
    dead_playouts: int = 600
    """Playouts from the position that estimate ownership for dead stones."""
    dead_threshold: float = 0.0
    """A stone is dead when its point's mean ownership leans towards the opponent by more than this
    (0: owned by the opponent in more playouts than by its own side)."""
    early_stop: bool = True
    """Stop when the most visited move can no longer be overtaken within the budget."""
    bank_max: float = 2.0
    """With a bankable budget of S seconds: a move may take up to S * (1 + bank_max) from saved time."""
    slice_s: float = 0.05
    """Seconds between early-stop checks."""
    threads: int = 1
    """Search threads: 1 is the single tree (Search); N >= 2 runs N trees on N threads and sums their
    root statistics (ParallelSearch, root parallelism)."""
    dynkomi_moves: int = 0
    """Linear dynamic komi (Pachi's `dynkomi=linear`): in a handicap game of H stones the playouts count
    HANDICAP_VALUE * H points more komi at the first move, falling linearly to the real komi at move
    dynkomi_moves, so that the search sees an even game (neither a hopeless one as White nor a won one as
    Black) and plays for a margin; no resignation while it is on. 0: off."""


HANDICAP_VALUE = 7.0
"""Points of komi a handicap stone is worth to dynamic komi (Pachi's default handicap_value)."""


def handicap_stones(position: Position) -> int:
    """Black stones set up before the first move when White moved first (a handicap game), else 0."""
    first = position
    while first.history and first.previous is not None:  # back to the board as set up, before any move
        first = first.previous
    colours = first.board_array()
    black, white = int((colours == 1).sum()), int((colours == 2).sum())
    return black if black >= 2 and white == 0 and first.to_play == "w" else 0


def dynamic_komi(position: Position, moves: int) -> float:
    """Linear dynamic komi: HANDICAP_VALUE * H * (1 - t / moves) extra points for White at move t of a game
    of H handicap stones, 0 from move `moves` on (and in even games, or when moves is 0)."""
    h = handicap_stones(position) if moves > 0 else 0
    return HANDICAP_VALUE * h * max(0.0, 1.0 - len(position.history) / moves) if h else 0.0


class MCTSPlayer:
    def __init__(self, config: PlayerConfig = PlayerConfig(), search_config: SearchConfig = SearchConfig(),
                 evaluator=None, name: str = "goengine-mcts", root_policy=None):
        """`root_policy`, a callable Position -> move probabilities (N² points then pass) or None: a net's
        priors for the rollout tree (Search's `policy`; `gtp --root-policy`), inside each move's time."""
        self.config = config
        evaluator = evaluator if evaluator is not None else RolloutEvaluator()
        if config.threads == 1:
            self.search = Search(evaluator, search_config, policy=root_policy)
        else:
            from goengine.mcts.parallel import ParallelSearch

            self.search = ParallelSearch(evaluator, search_config, config.threads, policy=root_policy)
        self._ponder_thread: threading.Thread | None = None
        self._ponder_stop = threading.Event()
        self.ponder_sims = 0
        """Simulations of the current or last pondering."""
        self.name = name
        self.rng = rng_state(search_config.seed + 17)
        self.last_search: dict = {}
        self.bank_s = 0.0
        """Seconds saved by earlier moves of this game (bankable budgets only)."""
        self._bank_game: tuple = ()

    @staticmethod
    def _as_mover(position: Position, colour: str) -> Position:
        if position.to_play == colour:
            return position
        return position.with_colours(position.board_array(), to_play=colour)  # a move out of turn

    def _passing_wins(self, position: Position, colour: str) -> bool:
        """After the opponent's pass: does passing win both by the Tromp-Taylor count of the board as it
        stands and after removing the stones that playouts say are dead? (A referee or opponent that
        removes dead stones must not turn the win around.)"""
        if position.last_move != "pass":
            return False
        sign = 1 if colour == "b" else -1
        return position.score() * sign > 0 and self.final_score(position) * sign > 0

    def final_score(self, position: Position) -> float:
        """Area score with komi (positive: Black leads) after removing the stones judged dead."""
        dead = self.dead_stones(position)
        if dead:
            position = position.with_stones(empty=dead)
        return position.score()

    def genmove(self, position: Position, colour: str, budget: TimeBudget | None = None) -> str:
        return self.genmove_analyze(position, colour, budget, None, 0.0)

    def genmove_analyze(self, position: Position, colour: str, budget: TimeBudget | None, report,
                        interval_s: float) -> str:
        """genmove that also calls report(candidates) every interval_s seconds of its search (for GTP's
        lz-genmove_analyze); `report` returning False stops the reports, not the search."""
        self.stop_pondering()
        position = self._as_mover(position, colour)
        if self._passing_wins(position, colour):
            self.last_search = {"move": "pass", "reason": "passing wins by area score"}
            return "pass"
        if len(position.legal_moves()) == 1:
            return "pass"
        playouts = budget.playouts if budget and budget.playouts else None
        seconds = budget.seconds if budget and budget.seconds else None
        if playouts is None and seconds is None:
            playouts, seconds = self.config.playouts, (None if self.config.playouts else self.config.seconds)
        start = time.perf_counter()
        komi_offset = dynamic_komi(position, self.config.dynkomi_moves)
        self.search.komi_offset = komi_offset
        self.search.set_root(position)
        bankable = bool(budget and budget.bankable and seconds is not None and playouts is None)
        if bankable:
            self._sync_bank(position)
        if report is None or interval_s <= 0:
            sims = self._search_with_stops(playouts, seconds, bankable, budget.limit_s if budget else None)
        else:
            sims, reporting = 0, True
            while (playouts is None or sims < playouts) and (
                    seconds is None or time.perf_counter() - start < seconds):
                left = None if seconds is None else max(seconds - (time.perf_counter() - start), 0.001)
                sims += self.search.run(sims=None if playouts is None else playouts - sims,
                                        seconds=min(interval_s, left) if left is not None else interval_s)
                if reporting:
                    reporting = bool(report(self.search.analysis()))
        if bankable:
            self.bank_s = max(0.0, self.bank_s + seconds - (time.perf_counter() - start))
        best = self.search.chosen_child()
        if best is None:
            return "pass"
        move = coords.point_to_gtp(int(self.search.nodes[best]["move"]), position.size)
        winrate = self.search.winrate(best)
        visits = int(self.search.nodes[best]["visits"])
        self.last_search = {"move": move, "winrate": winrate, "visits": visits, "sims": sims,
                            "seconds": time.perf_counter() - start, "komi_offset": komi_offset}
        # resign on the whole search's mean as well as the move's: neither may be a lucky few playouts
        root_winrate = self.search.root_winrate()
        self.last_search["root_winrate"] = root_winrate
        if (self.config.resign_threshold > 0 and komi_offset == 0
                and max(winrate, root_winrate) < self.config.resign_threshold
                and int(self.search.nodes[0]["visits"]) >= self.config.resign_min_visits):
            return "resign"
        return move

    def _sync_bank(self, position: Position) -> None:
        """Empty the bank when `position` is not a continuation of the game the bank was saved in."""
        history = tuple(position.history)
        if history[:len(self._bank_game)] != self._bank_game or not self._bank_game:
            self.bank_s = 0.0
        self._bank_game = history

    def _decided(self, sims_left: float) -> bool:
        """Could no move overtake the most visited one even with all of sims_left more simulations?
        (The strict bound: stopping then never changes the move played. A looser one, assuming the
        runner-up gets half of them, stopped most moves at half their share and lost 4 of 11 games.)"""
        visits = np.sort(self.search.children()["visits"])
        return len(visits) < 2 or visits[-1] - visits[-2] > sims_left

    def _search_with_stops(self, playouts: int | None, seconds: float | None, bankable: bool,
                           hard_limit_s: float | None = None) -> int:
        """Search for the budget, in slices, stopping early when the choice is decided. A bankable
        budget's limit is its share plus what the bank allows, and the choice must be decided against
        that whole limit: with only the share as the horizon, most moves stopped early, the bank was
        rarely spent, and the engine used 0.61 s of a 0.95 s mean. hard_limit_s (a game clock's
        share) caps the limit."""
        if not self.config.early_stop:
            return self.search.run(sims=playouts, seconds=seconds)
        start = time.perf_counter()
        limit = seconds
        if bankable:
            limit = seconds + min(self.bank_s, self.config.bank_max * seconds)
        if hard_limit_s is not None and limit is not None:
            limit = min(limit, hard_limit_s)
        sims = 0
        while True:
            elapsed = time.perf_counter() - start
            if (playouts is not None and sims >= playouts) or (limit is not None and elapsed >= limit):
                return sims
            step_s = self.config.slice_s if limit is None else min(self.config.slice_s, max(limit - elapsed, 0.001))
            sims += self.search.run(sims=None if playouts is None else playouts - sims, seconds=step_s)
            elapsed = time.perf_counter() - start
            rate = sims / max(elapsed, 1e-6)
            left = float("inf")
            if playouts is not None:
                left = playouts - sims
            if limit is not None:
                left = min(left, rate * max(limit - elapsed, 0.0))
            if self._decided(left):
                return sims

    def analyze(self, position: Position, colour: str, report, interval_s: float) -> None:
        self.stop_pondering()
        position = self._as_mover(position, colour)
        self.search.set_root(position)
        while True:
            self.search.run(seconds=max(interval_s, 0.01))
            if not report(self.search.analysis()):
                return

    # --- pondering: searching on the opponent's time ---
    def ponder(self, position: Position) -> None:
        """Search `position` (the opponent to move) on a background thread until stop_pondering(). The
        tree keeps what it finds: when the opponent's move comes, set_root keeps that move's subtree."""
        self.stop_pondering()
        if position.passes >= 2 or not position.legal_moves():
            return
        self._ponder_stop.clear()
        self.ponder_sims = 0
        self._ponder_thread = threading.Thread(target=self._ponder, args=(position,), daemon=True,
                                               name="goengine-ponder")
        self._ponder_thread.start()

    def _ponder(self, position: Position) -> None:
        self.search.set_root(position)
        stop = self._ponder_stop.is_set
        while not stop():  # in slices, so that the statistics (ponder_sims, a merged root) stay current
            self.ponder_sims += self.search.run(seconds=self.config.slice_s, should_stop=stop)

    def pondering(self) -> bool:
        return self._ponder_thread is not None and self._ponder_thread.is_alive()

    def stop_pondering(self) -> None:
        """Stop the background search and wait for it (one kernel call of 64 simulations at most)."""
        thread, self._ponder_thread = self._ponder_thread, None
        if thread is not None:
            self._ponder_stop.set()
            thread.join()

    def close(self) -> None:
        """Stop pondering and the search threads."""
        self.stop_pondering()
        close = getattr(self.search, "close", None)
        if close is not None:
            close()

    def ownership(self, position: Position, playouts: int | None = None) -> np.ndarray:
        """Mean final owner per point, (size, size) in [-1, 1]: +1 Black, -1 White."""
        b = position.board
        g = b.geo
        n = playouts or self.config.dead_playouts
        owner_sum = np.zeros(g.size * g.size, dtype=np.float64)
        ownership_playouts(b.s, b.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board, g.action_of_point, g.width,
                           pattern_table(), self.rng, n, 3 * g.size * g.size, True, owner_sum)
        return (owner_sum / n).reshape(g.size, g.size)

    def dead_stones(self, position: Position) -> list[str]:
        owner = self.ownership(position)
        colours = position.board_array()
        dead = []
        for row, col in zip(*np.nonzero(colours)):
            sign = 1.0 if colours[row, col] == 1 else -1.0
            if owner[row, col] * sign < -self.config.dead_threshold:
                dead.append(coords.row_col_to_gtp(int(row), int(col)))
        return dead


__all__ = ["AnalysisMove", "MCTSPlayer", "PlayerConfig"]
