"""Elo ratings of many players from their games: the Bradley-Terry model on the Elo scale,

    P(a beats b) = 1 / (1 + 10^((r_b - r_a) / 400)),

fitted by maximum likelihood with Newton's method, as R. Coulom's BayesElo does, with its default prior:
two virtual draws between every two players that met, which keeps a 10-0 finite. Players in `fixed` keep
the rating given (an anchor at 0; or every rung of a ladder, to place one newcomer). The 95% intervals
come from the inverse of the Hessian of the log-likelihood (the observed Fisher information), +-1.96 sigma.
rl/elo.py rates a gate chain from single matches; this fits any graph of games at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% standard normal quantile
ELO_PER_NAT = 400 / math.log(10)
"""Elo points per unit of the logistic's argument: P = 1 / (1 + exp(-d / ELO_PER_NAT))."""


@dataclass(frozen=True)
class Rating:
    elo: float
    low: float
    high: float
    games: int

    def __str__(self) -> str:
        return f"{self.elo:+.0f} ({self.low:+.0f} to {self.high:+.0f})"


def fit(scores: list[tuple[str, str, float]], fixed: dict[str, float], prior_draws: float = 2.0
        ) -> dict[str, Rating]:
    """Maximum-likelihood Elo of every player in `scores` not in `fixed` (name -> Elo held as given), with
    95% intervals. `prior_draws` virtual draws are added between every two players that met (0: none, the
    plain MLE, infinite for a player who won every game). Raises ValueError if a free player's rating is
    not determined (no game connects it to a fixed player)."""
    players = sorted({p for a, b, _ in scores for p in (a, b)} - set(fixed))
    index = {p: i for i, p in enumerate(players)}
    games: dict[str, int] = {}
    rows = []  # (a, b, score of a, weight)
    met = set()
    for a, b, s in scores:
        rows.append((a, b, s, 1.0))
        games[a] = games.get(a, 0) + 1
        games[b] = games.get(b, 0) + 1
        met.add(tuple(sorted((a, b))))
    if prior_draws > 0:
        rows += [(a, b, 0.5, prior_draws) for a, b in sorted(met)]
    if not players:
        return {p: Rating(r, r, r, games.get(p, 0)) for p, r in fixed.items()}
    _check_connected(players, fixed, met)
    r = np.zeros(len(players))
    for _ in range(100):
        grad, hess = _derivatives(r, rows, index, fixed)
        step = np.linalg.solve(hess, -grad)
        # damped, so that a lopsided start cannot overshoot into the flat tail of the logistic
        step = np.clip(step, -400.0, 400.0)
        r += step
        if np.max(np.abs(step)) < 1e-7:
            break
    _, hess = _derivatives(r, rows, index, fixed)
    sigma = np.sqrt(np.diag(np.linalg.inv(-hess)))
    out = {p: Rating(v, v, v, games.get(p, 0)) for p, v in fixed.items()}
    for p, i in index.items():
        out[p] = Rating(float(r[i]), float(r[i] - Z95 * sigma[i]), float(r[i] + Z95 * sigma[i]), games.get(p, 0))
    return out


def _derivatives(r, rows, index, fixed):
    """Gradient and Hessian of the log-likelihood in the free ratings (Elo units)."""
    n = len(index)
    grad, hess = np.zeros(n), np.zeros((n, n))
    for a, b, s, w in rows:
        ra = r[index[a]] if a in index else fixed[a]
        rb = r[index[b]] if b in index else fixed[b]
        p = 1.0 / (1.0 + math.exp(-(ra - rb) / ELO_PER_NAT))
        g = w * (s - p) / ELO_PER_NAT  # d log L / d ra
        h = w * p * (1 - p) / ELO_PER_NAT ** 2  # -d2 log L / d ra2
        for x, sign in ((a, 1.0), (b, -1.0)):
            if x in index:
                grad[index[x]] += sign * g
                hess[index[x], index[x]] -= h
        if a in index and b in index:
            hess[index[a], index[b]] += h
            hess[index[b], index[a]] += h
    return grad, hess


def _check_connected(players, fixed, met) -> None:
    reached = set(fixed)
    grew = True
    while grew:
        grew = False
        for a, b in met:
            if (a in reached) != (b in reached):
                reached.update((a, b))
                grew = True
    loose = [p for p in players if p not in reached]
    if loose:
        raise ValueError(f"no game connects {', '.join(loose)} to the anchor")
