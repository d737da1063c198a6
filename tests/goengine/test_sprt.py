"""The sequential test of goengine/sprt.py: Wald's SPRT for a proportion as the oracle where there are only
wins and losses, the normal approximation of the GSPRT (Van den Bergh; Fishtest's formula) for large samples,
and the error rates it promises, measured on simulated matches."""
from __future__ import annotations

import math

import numpy as np
import pytest

from goengine import sprt
from goengine.sprt import SPRT, expected_score, log_likelihood_ratio


def test_expected_score_is_the_logistic_elo_curve():
    assert expected_score(0) == 0.5
    assert expected_score(400) == pytest.approx(10 / 11)
    assert expected_score(-200) + expected_score(200) == pytest.approx(1.0)


@pytest.mark.parametrize("wins, losses", [(7, 3), (3, 9), (50, 50), (1, 0), (0, 4)])
def test_without_draws_it_is_walds_sprt_for_a_proportion(wins, losses):
    s0, s1 = expected_score(0), expected_score(35)
    wald = wins * math.log(s1 / s0) + losses * math.log((1 - s1) / (1 - s0))
    if wins and losses:  # every outcome seen: nothing regularised, the two must agree exactly
        assert log_likelihood_ratio([losses, wins], [0.0, 1.0], s0, s1) == pytest.approx(wald, abs=1e-9)
    else:  # an unseen outcome counts as 1e-3 of a game: the LLR moves by about that much
        assert log_likelihood_ratio([losses, wins], [0.0, 1.0], s0, s1) == pytest.approx(wald, abs=1e-2)


def test_large_samples_agree_with_the_normal_approximation():
    """Van den Bergh's approximation LLR ~ n (s1 - s0) (2 m - s0 - s1) / (2 var), good when s0 and s1 are close
    and n is large (Fishtest used it for years)."""
    values = np.array([0, 0.25, 0.5, 0.75, 1.0])
    counts = np.array([300, 1900, 4600, 2400, 800])
    n = counts.sum()
    m = (counts * values).sum() / n
    var = (counts * (values - m) ** 2).sum() / n
    for elo0, elo1 in [(0, 5), (-3, 2), (10, 15)]:
        s0, s1 = expected_score(elo0), expected_score(elo1)
        approx = n * (s1 - s0) * (2 * m - s0 - s1) / (2 * var)
        exact = log_likelihood_ratio(counts.tolist(), values.tolist(), s0, s1)
        assert exact == pytest.approx(approx, rel=0.03, abs=0.05)


def test_the_constrained_fit_has_the_mean_asked_for_and_the_best_likelihood_among_such():
    values, freqs = [0, 0.25, 0.5, 0.75, 1.0], [0.1, 0.2, 0.4, 0.2, 0.1]
    for s in (0.3, 0.5, 0.62):
        p = sprt._constrained_mle(freqs, values, s)
        assert sum(p) == pytest.approx(1) and sum(a * b for a, b in zip(p, values)) == pytest.approx(s, abs=1e-12)
        best = sum(f * math.log(x) for f, x in zip(freqs, p))
        for direction in ([1, -2, 1, 0, 0], [0, 1, -2, 1, 0], [1, 0, -2, 0, 1]):  # keep sum and mean
            q = [x + 1e-3 * d for x, d in zip(p, direction)]
            assert sum(f * math.log(x) for f, x in zip(freqs, q)) < best


def simulate(test: SPRT, elo: float, runs: int, seed: int, max_pairs: int = 2000, every: int = 4) -> dict:
    """Decisions of `runs` matches of colour-swapped pairs between engines `elo` apart (no draws), judged
    every `every` pairs."""
    rng = np.random.default_rng(seed)
    decisions = {"H0": 0, "H1": 0, None: 0}
    for _ in range(runs):
        wins = rng.random((max_pairs, 2)) < expected_score(elo)
        pairs = wins.mean(axis=1)
        decision = None
        for k in range(every, max_pairs + 1, every):
            decision = test.decision(test.llr(pairs[:k].tolist(), unit_games=2))
            if decision:
                break
        decisions[decision] += 1
    return decisions


def test_error_rates_are_about_alpha_and_beta():
    test = SPRT(0, 100, alpha=0.05, beta=0.05)
    at_h0 = simulate(test, 0, runs=200, seed=1)
    at_h1 = simulate(test, 100, runs=200, seed=2)
    far = simulate(test, 250, runs=50, seed=3)
    assert at_h0[None] == at_h1[None] == far[None] == 0
    assert at_h0["H1"] <= 0.10 * 200, at_h0  # alpha 0.05, 3 standard errors of slack
    assert at_h1["H0"] <= 0.10 * 200, at_h1  # beta 0.05
    assert far["H1"] == 50


def test_bounds_and_bad_settings():
    lower, upper = SPRT(0, 10).bounds
    assert (lower, upper) == pytest.approx((-2.944, 2.944), abs=1e-3)  # Wald: log(0.05 / 0.95), log(0.95 / 0.05)
    assert SPRT(0, 10, alpha=0.1, beta=0.2).bounds == pytest.approx((math.log(0.2 / 0.9), math.log(0.8 / 0.1)))
    for args, message in [((10, 0), "elo1 must be larger"), ((0, 10, 0.0), "alpha must be"),
                          ((0, 10, 0.05, 0.5), "beta must be"), ((0, math.nan), "elo1 must be")]:
        with pytest.raises(ValueError, match=message):
            SPRT(*args)
    with pytest.raises(ValueError, match="not a multiple of 1/4"):
        SPRT(0, 10).llr([0.3], unit_games=2)
    assert sprt.parse("0,10") == (0.0, 10.0) and sprt.parse("-5.5,4") == (-5.5, 4.0)
    for text in ("10", "a,b", "1,2,3", ""):
        with pytest.raises(ValueError, match="--sprt takes two Elo values"):
            sprt.parse(text)
