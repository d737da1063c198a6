"""A game's result as the referee (goengine/referee.py) records it, and what a match's games say: the first
engine's score with its 95% Wilson score interval (E. B. Wilson, "Probable inference, the law of
succession, and statistical inference", JASA 1927), the same as logistic Elo, and the state of a
sequential test (goengine/sprt.py) over them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Sequence

from goengine import sprt
from goengine.bradley_terry import Z95


@dataclass
class GameResult:
    index: int
    black: str  # engine label
    white: str
    winner: str | None  # "b", "w", or None for jigo
    result: str  # SGF RE: "B+3.5", "W+R", "B+T", "W+F", "0"
    reason: str  # score, move cap, resign, timeout, illegal move, crash, failure
    detail: str
    moves: list[str] = field(default_factory=list)
    seconds: float = 0.0
    sgf: str | None = None
    think_seconds: dict[str, float] = field(default_factory=dict)  # per colour: time spent in genmove
    genmoves: dict[str, int] = field(default_factory=dict)  # per colour: genmove answers


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (successes may count draws as halves)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def first_scores(games: Sequence[GameResult], first: str) -> list[float]:
    """The first engine's points in each game: 1 for a win, 1/2 for a draw, 0 for a loss."""
    return [0.5 if g.winner is None else float(g.winner == ("b" if g.black == first else "w")) for g in games]


def elo_of_score(score: float) -> float:
    """The logistic Elo difference whose expected score is `score` (+-inf at 1 and 0)."""
    if score <= 0.0 or score >= 1.0:
        return math.copysign(math.inf, score - 0.5)
    return -400.0 * math.log10(1.0 / score - 1.0)


def _finite(x: float) -> float | None:
    """x, or None (JSON null) for an infinite Elo: a score of 0 or 1."""
    return x if math.isfinite(x) else None


def sprt_status(test: sprt.SPRT, games: Sequence[GameResult], first: str, pairs: bool) -> dict:
    """The test after `games`: its LLR over completed units (colour-swapped pairs, or games) and its decision.
    A pair is games 2k+1 and 2k+2 (GameResult.index), whatever order they finished in; a pair with one game
    played is not a unit yet."""
    scores = first_scores(games, first)
    if pairs:
        halves: dict[int, list[float]] = {}
        for game, score in zip(games, scores):
            halves.setdefault((game.index - 1) // 2, []).append(score)
        scores = [sum(both) / 2 for _, both in sorted(halves.items()) if len(both) == 2]
    llr = test.llr(scores, unit_games=2 if pairs else 1)
    lower, upper = test.bounds
    return {"elo0": test.elo0, "elo1": test.elo1, "alpha": test.alpha, "beta": test.beta,
            "unit": "pair" if pairs else "game", "units": len(scores), "llr": llr, "bounds": [lower, upper],
            "result": test.decision(llr)}


def summarise(games: list[GameResult], first: str, second: str) -> dict:
    """The first engine's record: wins, losses, draws, score rate and its 95% Wilson interval."""
    wins = losses = draws = 0
    reasons: dict[str, int] = {}
    think = {first: 0.0, second: 0.0}
    answered = {first: 0, second: 0}
    for g in games:
        first_colour = "b" if g.black == first else "w"
        for colour, label in ((first_colour, first), ("w" if first_colour == "b" else "b", second)):
            think[label] += g.think_seconds.get(colour, 0.0)
            answered[label] += g.genmoves.get(colour, 0)
        if g.winner is None:
            draws += 1
        elif g.winner == first_colour:
            wins += 1
        else:
            losses += 1
        reasons[g.reason] = reasons.get(g.reason, 0) + 1
    n = len(games)
    points = wins + 0.5 * draws
    lo, hi = wilson_interval(points, n)
    return {"first": first, "second": second, "games": n, "wins": wins, "losses": losses, "draws": draws,
            "win_rate": points / n if n else 0.0, "ci95": [lo, hi],
            "elo": _finite(elo_of_score(points / n)) if n else None,
            "elo_ci95": [_finite(elo_of_score(lo)), _finite(elo_of_score(hi))] if n else [None, None],
            "reasons": reasons,
            "seconds_per_move": {label: think[label] / answered[label] if answered[label] else None
                                 for label in (first, second)},
            "results": [{k: v for k, v in asdict(g).items() if k != "moves"} | {"moves": len(g.moves)}
                        for g in games]}
