"""Elo differences from match scores, with 95% intervals, and the run's table of generation ratings.

The Elo model (A. Elo, "The Rating of Chessplayers, Past and Present", 1978, in its logistic form as
used by the AlphaGo Zero paper, Silver et al. 2017, Methods "Evaluation") says a player D points
stronger scores

    s(D) = 1 / (1 + 10^(-D / 400)),   so   D(s) = 400 log10(s / (1 - s)).

Interval: the 95% Wilson score interval of the score s (E. B. Wilson 1927, the one `goengine match`
prints; draws count as half a win) mapped through D(s). D is increasing, so the mapped interval covers
the true Elo difference exactly as often as the Wilson interval covers the true score; unlike a normal
approximation on the Elo scale it stays sensible at extreme scores: at 100% the lower bound is finite
and the upper bound is +inf (0%: -inf below, finite above).

The point estimate at 0% or 100% would be infinite; it is taken at the score a half game away from
the extreme (1/(2n) or 1 - 1/(2n)), the usual continuity correction, so a rating table never holds an
infinite rating and still ranks a 10-0 above a 5-0.

`RatingTable` keeps RUN_DIR/elo.json: generation 0 is the anchor at 0 Elo, and every later generation is
rated by its gating match against the best net of its time (whose rating is known), so ratings chain
through the gating matches. Intervals chain too: the half-widths of the independent matches on the
chain add in quadrature on each side (a normal approximation; an infinite side stays infinite).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from typing import NamedTuple

from goengine.atomic import atomic_open
from goengine.match_stats import wilson_interval

ELO_FILE = "elo.json"
TABLE_VERSION = 1


class EloEstimate(NamedTuple):
    """An Elo difference (the first player minus the second) with its 95% interval."""

    elo: float
    low: float
    high: float


def elo_from_probability(score: float) -> float:
    """D(s) = 400 log10(s / (1 - s)): the Elo difference at which the expected score is s (±inf at 1, 0)."""
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"a score is a fraction in [0, 1], not {score}")
    if score == 1.0:
        return math.inf
    if score == 0.0:
        return -math.inf
    return 400.0 * math.log10(score / (1.0 - score))


def expected_score(elo_diff: float) -> float:
    """s(D) = 1 / (1 + 10^(-D/400)): the expected score of a player elo_diff points stronger."""
    return 1.0 / (1.0 + 10.0 ** (-elo_diff / 400.0))


def elo_from_score(wins: float, games: int, draws: int = 0) -> EloEstimate:
    """Elo difference from `wins` (and `draws`, counted as halves) in `games`, with the Wilson 95% interval.

    `wins` may already include half-points for draws (leave `draws` at 0 then).
    """
    if games <= 0:
        raise ValueError(f"an Elo difference needs at least one game, not {games}")
    points = wins + 0.5 * draws
    if not 0 <= points <= games:
        raise ValueError(f"{wins} wins and {draws} draws do not fit in {games} games")
    lo, hi = wilson_interval(points, games)
    half_game = 0.5 / games
    point = min(max(points / games, half_game), 1.0 - half_game)
    return EloEstimate(elo_from_probability(point), elo_from_probability(lo), elo_from_probability(hi))


@dataclass(frozen=True)
class Rating:
    """One generation's rating relative to generation 0, and the match it was measured by."""

    generation: int
    elo: float
    low: float
    """95% interval of `elo` (±inf where a match was won or lost without exception)."""
    high: float
    opponent: int | None
    """The best net's generation at the time of the gating match (None for the anchor)."""
    wins: float = 0.0
    losses: float = 0.0
    draws: float = 0.0
    promoted: bool = False
    """Whether the match made this generation the best net."""

    @property
    def games(self) -> int:
        return int(round(self.wins + self.losses + self.draws))


def _to_json(x: float) -> float | str:
    return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")  # strict JSON has no Infinity


def _from_json(x) -> float:
    return float(x)


def _chain(base: float, width_a: float, width_b: float) -> float:
    """base + the quadrature sum of two half-widths (either may be inf)."""
    if math.isinf(width_a) or math.isinf(width_b):
        return math.copysign(math.inf, width_a if math.isinf(width_a) else width_b)
    return base + math.copysign(math.hypot(width_a, width_b), width_a + width_b)


class RatingTable:
    """Generation ratings of one run, kept in RUN_DIR/elo.json and rewritten atomically on every change."""

    def __init__(self, run_dir: str | os.PathLike, anchor: int = 0):
        self.path = os.path.join(os.fspath(run_dir), ELO_FILE)
        self.ratings: dict[int, Rating] = {}
        if os.path.exists(self.path):
            self._load()
        else:
            self.ratings[anchor] = Rating(anchor, 0.0, 0.0, 0.0, None, promoted=True)
            self.save()

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            if data.get("version") != TABLE_VERSION:
                raise ValueError(f"version {data.get('version')!r}, this code reads {TABLE_VERSION}")
            for row in data["ratings"]:
                for key in ("elo", "low", "high"):
                    row[key] = _from_json(row[key])
                rating = Rating(**row)
                self.ratings[rating.generation] = rating
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"{self.path}: not a rating table ({e})") from e

    def save(self) -> None:
        rows = []
        for gen in sorted(self.ratings):
            row = asdict(self.ratings[gen])
            for key in ("elo", "low", "high"):
                row[key] = _to_json(row[key])
            rows.append(row)
        with atomic_open(self.path, "w", encoding="utf-8") as f:
            json.dump({"version": TABLE_VERSION, "ratings": rows}, f, indent=1)

    def add_match(self, generation: int, opponent: int, wins: float, losses: float, draws: float = 0.0,
                  promoted: bool = False) -> Rating:
        """Rate `generation` from its match against `opponent` (already rated); record and save it.
        wins/losses/draws are the new generation's."""
        if opponent not in self.ratings:
            raise KeyError(f"generation {opponent} has no rating to chain from")
        if generation in self.ratings:
            raise ValueError(f"generation {generation} is already rated")
        games = wins + losses + draws
        diff = elo_from_score(wins, int(round(games)), draws)
        base = self.ratings[opponent]
        elo = base.elo + diff.elo
        low = _chain(elo, base.low - base.elo, diff.low - diff.elo)
        high = _chain(elo, base.high - base.elo, diff.high - diff.elo)
        rating = Rating(generation, elo, low, high, opponent, float(wins), float(losses), float(draws), promoted)
        self.ratings[generation] = rating
        self.save()
        return rating

    def __getitem__(self, generation: int) -> Rating:
        return self.ratings[generation]

    def __contains__(self, generation: int) -> bool:
        return generation in self.ratings

    def __len__(self) -> int:
        return len(self.ratings)

    def best(self) -> Rating:
        """The most recently promoted generation (the anchor if none was)."""
        return self.ratings[max(g for g, r in self.ratings.items() if r.promoted)]

    def rows(self) -> list[Rating]:
        return [self.ratings[g] for g in sorted(self.ratings)]
