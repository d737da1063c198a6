"""The `Player` protocol that the GTP engine, `goengine play` and the match referee drive, and the
simplest player: uniform random among sensible moves.

A player is asked for a move given a `Position`; it may keep state between moves (tree reuse) but must
be correct when given any position (after undo, loadsgf, setup). Search players (mcts/) implement the
same protocol with analysis and dead-stone estimates. The flags that choose a player, and the
registry that finds net players in upper packages, are goengine/player_registry.py.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable, Protocol

from goengine import _kernels as K
from goengine import coords
from goengine.position import Position, parse_colour


@dataclass
class AnalysisMove:
    """One candidate of an analysis, in the terms of Leela Zero's lz-analyze `info` lines."""

    move: str
    visits: int
    winrate: float  # for the side to move, 0..1
    prior: float
    lcb: float
    pv: list[str] = field(default_factory=list)


@dataclass
class TimeBudget:
    """How long the next move may take: fixed seconds, or derived from the game clock."""

    seconds: float | None = None
    playouts: int | None = None
    bankable: bool = False
    """`seconds` is a mean per move, not a hard limit: a player may keep what an easy move leaves
    unused and spend it on a hard one."""
    limit_s: float | None = None
    """A hard limit on this move whatever the bank holds (what the game clock allows), or None."""


class Player(Protocol):
    name: str

    def genmove(self, position: Position, colour: str, budget: TimeBudget | None = None) -> str:
        """A GTP vertex, "pass" or "resign" for `colour` in `position`."""
        ...

    def analyze(self, position: Position, colour: str, report: Callable[[list[AnalysisMove]], bool],
                interval_s: float) -> None:
        """Search and call report(candidates) every interval_s seconds until it returns False."""
        ...

    def dead_stones(self, position: Position) -> list[str]:
        """Vertices of the stones this player judges dead."""
        ...


def sensible_moves(position: Position, colour: str | None = None) -> list[str]:
    """Legal board moves that do not fill the mover's own eye-like points."""
    c = position._board.to_play if colour is None else parse_colour(colour)
    board, g = position._board, position._board.geo
    mask = position.legal_mask(None if colour is None else colour)
    out = []
    for a in range(g.size * g.size):
        if mask[a]:
            p = int(g.on_board[a])
            if not K.is_eye(board.s, g.neighbours, g.diagonals, p, c):
                out.append(coords.point_to_gtp(p, g.size))
    return out


class RandomPlayer:
    """Uniform random among sensible moves; passes when none is left. Never resigns."""

    name = "random"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

    def genmove(self, position: Position, colour: str, budget: TimeBudget | None = None) -> str:
        moves = sensible_moves(position, colour)
        return self.rng.choice(moves) if moves else "pass"

    def analyze(self, position: Position, colour: str, report, interval_s: float) -> None:
        moves = sensible_moves(position, colour) or ["pass"]
        share = 1.0 / len(moves)
        report([AnalysisMove(m, 1, 0.5, share, 0.0, [m]) for m in moves[:10]])

    def dead_stones(self, position: Position) -> list[str]:
        return []
