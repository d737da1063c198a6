"""The sequential probability ratio test of engine testing: stop a match as soon as it has shown which
of two Elo hypotheses holds (A. Wald, "Sequential tests of statistical hypotheses", Ann. Math. Statist.
1945), as chess engine testing (Fishtest, OpenBench, cutechess-cli) accepts or rejects a change.

    H0: the first engine is elo0 stronger than the second      H1: it is elo1 stronger (elo1 > elo0)

on the logistic Elo scale, where an Elo difference d means an expected score s(d) = 1 / (1 + 10^(-d/400)).
After each unit (a game, or a pair of games on one opening with the colours swapped: pairs cancel most
of the opening's and the colour's luck, as Fishtest's pentanomial model does) the log-likelihood ratio
LLR is compared with Wald's bounds

    lower = log(beta / (1 - alpha))      upper = log((1 - beta) / alpha)

LLR >= upper accepts H1, LLR <= lower accepts H0, else play on. alpha is the chance to accept H1 when H0
holds, beta the chance to accept H0 when H1 holds.

A unit's outcome is one of k scores a_i (3 for a game: 0, 1/2, 1; 5 for a pair: 0, 1/4, ..., 1, the pair's
points over 2). The test is the generalised SPRT: each hypothesis is the multinomial over the a_i that
fits the observed frequencies best (maximum likelihood) among those with mean score s(elo0), or s(elo1):

    p_i(s) = f_i / (1 + lam * (a_i - s)),   lam such that sum_i p_i(s) * (a_i - s) = 0,

and LLR = n * sum_i f_i * log(p_i(s1) / p_i(s0)) for n units with frequencies f_i. With two outcomes (no
draws) p(s) is the Bernoulli(s) and this is Wald's own SPRT for a proportion. An outcome never seen counts
as 1e-3 of a unit (Fishtest does the same), so that a short run of wins has a variance to be judged by.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from goengine import checks

UNSEEN = 1e-3
"""Count given to an outcome not seen yet."""


def expected_score(elo: float) -> float:
    """The logistic expected score of a player `elo` points stronger."""
    return 1.0 / (1.0 + 10.0 ** (-elo / 400.0))


def _constrained_mle(freqs: Sequence[float], values: Sequence[float], s: float) -> list[float]:
    """The distribution over `values` with mean s that maximises sum_i f_i log p_i: f_i / (1 + lam (a_i - s)),
    lam found by bisection (the mean of that distribution falls as lam grows)."""
    d = [a - s for a in values]
    if max(d) <= 0 or min(d) >= 0:
        raise ValueError(f"the score {s} is not inside the outcomes' range {min(values)} to {max(values)}")
    lo, hi = -1.0 / max(d), -1.0 / min(d)  # 1 + lam * d_i > 0 for every i strictly inside
    for _ in range(80):  # halving a bracket 1/s + 1/(1 - s) wide 80 times reaches double precision
        lam = 0.5 * (lo + hi)
        if sum(f * di / (1.0 + lam * di) for f, di in zip(freqs, d)) > 0:
            lo = lam
        else:
            hi = lam
    lam = 0.5 * (lo + hi)
    p = [f / (1.0 + lam * di) for f, di in zip(freqs, d)]
    total = sum(p)
    return [x / total for x in p]


def log_likelihood_ratio(counts: Sequence[float], values: Sequence[float], s0: float, s1: float) -> float:
    """The GSPRT's LLR of mean score s1 against s0, for `counts[i]` units that scored `values[i]`."""
    counts = [c if c > 0 else UNSEEN for c in counts]
    n = sum(counts)
    freqs = [c / n for c in counts]
    p0 = _constrained_mle(freqs, values, s0)
    p1 = _constrained_mle(freqs, values, s1)
    return n * sum(f * math.log(b / a) for f, a, b in zip(freqs, p0, p1))


@dataclass(frozen=True)
class SPRT:
    """A test of H0 (the first engine is elo0 Elo stronger) against H1 (elo1 stronger)."""

    elo0: float
    elo1: float
    alpha: float = 0.05
    beta: float = 0.05

    def __post_init__(self) -> None:
        checks.number("elo0", self.elo0, -2000, 2000)
        checks.number("elo1", self.elo1, -2000, 2000)
        if not self.elo1 > self.elo0:
            raise ValueError(f"elo1 must be larger than elo0 ({self.elo0:g}), not {self.elo1:g}")
        checks.number("alpha", self.alpha, 0, 0.5, low_open=True, high_open=True)
        checks.number("beta", self.beta, 0, 0.5, low_open=True, high_open=True)

    @property
    def bounds(self) -> tuple[float, float]:
        return math.log(self.beta / (1 - self.alpha)), math.log((1 - self.beta) / self.alpha)

    def llr(self, scores: Sequence[float], unit_games: int = 1) -> float:
        """LLR after units scoring `scores` (the first engine's points over the unit's games, each a multiple
        of 1 / (2 * unit_games)): unit_games=1 for games, 2 for colour-swapped pairs."""
        steps = 2 * unit_games
        values = [i / steps for i in range(steps + 1)]
        counts = [0] * (steps + 1)
        for x in scores:
            i = round(x * steps)
            if not (0 <= i <= steps and abs(x * steps - i) < 1e-9):
                raise ValueError(f"a score of {x} is not a multiple of 1/{steps} in [0, 1]")
            counts[i] += 1
        if not scores:
            return 0.0
        return log_likelihood_ratio(counts, values, expected_score(self.elo0), expected_score(self.elo1))

    def decision(self, llr: float) -> str | None:
        """"H1" (accept elo1), "H0" (accept elo0), or None (play on)."""
        lower, upper = self.bounds
        return "H1" if llr >= upper else "H0" if llr <= lower else None


def parse(text: str) -> tuple[float, float]:
    """"ELO0,ELO1" -> (elo0, elo1); ValueError with one line otherwise."""
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        elo0, elo1 = (float(p) for p in parts)
    except ValueError:
        raise ValueError(f"--sprt takes two Elo values ELO0,ELO1 such as 0,10; got {text!r}") from None
    return elo0, elo1
