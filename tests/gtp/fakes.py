"""Deterministic stand-ins for a search player, for what RandomPlayer cannot show: dead stones,
analysis that goes on until interrupted, the budget a genmove was given."""
from __future__ import annotations

import time

from goengine.players import AnalysisMove, TimeBudget, sensible_moves
from goengine.position import Position


class ScriptedPlayer:
    """Plays `moves` in turn (then passes), calls the stones in `dead` dead, analyses with growing
    visits until told to stop, and sleeps for `think` of its budget on each genmove."""

    name = "scripted"

    def __init__(self, moves=(), dead=(), think: float = 0.0, with_genmove_analyze: bool = False):
        self.moves, self.dead, self.think = list(moves), set(dead), think
        self.budgets: list[TimeBudget | None] = []
        self.reports = 0
        if with_genmove_analyze:
            self.genmove_analyze = self._genmove_analyze

    def genmove(self, position: Position, colour: str, budget: TimeBudget | None = None) -> str:
        self.budgets.append(budget)
        if self.think and budget is not None and budget.seconds is not None:
            time.sleep(budget.seconds * self.think)
        return self.moves.pop(0) if self.moves else "pass"

    def _candidates(self, position: Position, colour: str, visits: int) -> list[AnalysisMove]:
        moves = sensible_moves(position, colour)[:3] or ["pass"]
        return [AnalysisMove(m, visits * (3 - i), 0.6 - 0.1 * i, 0.5 / (i + 1), 0.55 - 0.1 * i, [m, "pass"])
                for i, m in enumerate(moves)]

    def analyze(self, position: Position, colour: str, report, interval_s: float) -> None:
        visits = 0
        while True:
            visits += 1
            self.reports += 1
            if not report(self._candidates(position, colour, visits)):
                return
            time.sleep(interval_s)

    def _genmove_analyze(self, position, colour, budget, report, interval_s) -> str:
        for visits in range(1, 4):
            report(self._candidates(position, colour, visits))
        return self._candidates(position, colour, 1)[0].move

    def dead_stones(self, position: Position) -> list[str]:
        return sorted(v for v in self.dead if position.colour_at(v) is not None)
