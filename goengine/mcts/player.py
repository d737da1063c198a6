"""`MCTSPlayer`: the search as a `Player` (players.py) for GTP, `goengine play` and the referee.

Per move: pass at once when the opponent has passed and passing wins by area score (Tromp-Taylor with
komi); otherwise search from the position (reusing the subtree of the moves since the last search) for
the budget given, then play the most visited move, or resign when its win rate is below the threshold.
Dead stones come from the ownership of playouts from the position.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from goengine import coords
from goengine.board import rng_state
from goengine.mcts._playout import ownership_playouts
from goengine.mcts.evaluators import RolloutEvaluator
from goengine.mcts.patterns import pattern_table
from goengine.mcts.search import Search, SearchConfig
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


class MCTSPlayer:
    def __init__(self, config: PlayerConfig = PlayerConfig(), search_config: SearchConfig = SearchConfig(),
                 evaluator=None, name: str = "goengine-mcts"):
        self.config = config
        self.search = Search(evaluator if evaluator is not None else RolloutEvaluator(), search_config)
        self.name = name
        self.rng = rng_state(search_config.seed + 17)
        self.last_search: dict = {}

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
        self.search.set_root(position)
        if report is None or interval_s <= 0:
            sims = self.search.run(sims=playouts, seconds=seconds)
        else:
            sims, reporting = 0, True
            while (playouts is None or sims < playouts) and (
                    seconds is None or time.perf_counter() - start < seconds):
                left = None if seconds is None else max(seconds - (time.perf_counter() - start), 0.001)
                sims += self.search.run(sims=None if playouts is None else playouts - sims,
                                        seconds=min(interval_s, left) if left is not None else interval_s)
                if reporting:
                    reporting = bool(report(self.search.analysis()))
        best = self.search.best_child()
        if best is None:
            return "pass"
        move = coords.point_to_gtp(int(self.search.nodes[best]["move"]), position.size)
        winrate = self.search.winrate(best)
        visits = int(self.search.nodes[best]["visits"])
        self.last_search = {"move": move, "winrate": winrate, "visits": visits, "sims": sims,
                            "seconds": time.perf_counter() - start}
        # resign on the whole search's mean as well as the move's: neither may be a lucky few playouts
        root_winrate = self.search.root_winrate()
        self.last_search["root_winrate"] = root_winrate
        if (self.config.resign_threshold > 0 and max(winrate, root_winrate) < self.config.resign_threshold
                and int(self.search.nodes[0]["visits"]) >= self.config.resign_min_visits):
            return "resign"
        return move

    def analyze(self, position: Position, colour: str, report, interval_s: float) -> None:
        position = self._as_mover(position, colour)
        self.search.set_root(position)
        while True:
            self.search.run(seconds=max(interval_s, 0.01))
            if not report(self.search.analysis()):
                return

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
