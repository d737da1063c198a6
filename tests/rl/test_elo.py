"""Elo from match scores: the logistic curve against its definition, the Wilson interval against
scipy's, interval properties, and the rating table's chaining and persistence."""
import json
import math
import os

import pytest
from scipy.stats import binomtest

from rl.elo import RatingTable, elo_from_probability, elo_from_score, expected_score


def test_logistic_curve_matches_definition_and_inverts():
    # 400 Elo = 10:1 odds, 0 Elo = even
    assert expected_score(400.0) == pytest.approx(10 / 11)
    assert expected_score(0.0) == 0.5
    for d in (-800.0, -123.4, 0.0, 55.5, 700.0):
        assert elo_from_probability(expected_score(d)) == pytest.approx(d, abs=1e-9)
    assert elo_from_probability(0.76) == pytest.approx(400 * math.log10(0.76 / 0.24))


@pytest.mark.parametrize("wins,games", [(5, 10), (7, 10), (33, 40), (1, 3), (90, 100)])
def test_interval_is_wilson_of_scipy_mapped_through_elo(wins, games):
    ci = binomtest(wins, games).proportion_ci(confidence_level=0.95, method="wilson")
    est = elo_from_score(wins, games)
    assert est.low == pytest.approx(elo_from_probability(ci.low), abs=1e-6)
    assert est.high == pytest.approx(elo_from_probability(ci.high), abs=1e-6)
    assert est.elo == pytest.approx(elo_from_probability(wins / games))
    assert est.low < est.elo < est.high


def test_even_score_is_zero_inside_a_symmetric_interval():
    est = elo_from_score(20, 40)
    assert est.elo == 0.0
    assert est.low < 0 < est.high
    assert est.low == pytest.approx(-est.high)


def test_draws_count_half():
    assert elo_from_score(3, 10, draws=4) == elo_from_score(5, 10)


def test_more_games_narrow_the_interval():
    widths = [elo_from_score(0.6 * n, n).high - elo_from_score(0.6 * n, n).low for n in (10, 40, 160, 640)]
    assert all(a > b for a, b in zip(widths, widths[1:]))
    assert 0.2 < widths[-1] / widths[1] < 0.3  # 16x the games: about a quarter of the width (1/sqrt(n))


def test_perfect_and_null_scores_have_one_finite_bound():
    win = elo_from_score(40, 40)
    assert math.isfinite(win.elo) and math.isfinite(win.low) and win.high == math.inf
    assert win.low > 0  # 40-0 is clearly stronger
    assert win.elo > elo_from_score(39, 40).elo  # still ranked above a 39-1
    assert elo_from_score(10, 10).elo < win.elo  # and a 10-0 below a 40-0
    loss = elo_from_score(0, 40)
    assert loss.low == -math.inf and math.isfinite(loss.high) and loss.elo == pytest.approx(-win.elo)


@pytest.mark.parametrize("wins,games", [(-1, 10), (11, 10), (1, 0)])
def test_bad_scores_are_refused(wins, games):
    with pytest.raises(ValueError):
        elo_from_score(wins, games)


def test_ratings_chain_through_gating_matches(tmp_path):
    table = RatingTable(tmp_path)
    assert table[0].elo == 0.0 and table.best().generation == 0
    r1 = table.add_match(1, 0, wins=30, losses=10, promoted=True)
    d1 = elo_from_score(30, 40)
    assert (r1.elo, r1.low, r1.high) == pytest.approx(tuple(d1))  # the anchor has no uncertainty
    r2 = table.add_match(2, 1, wins=12, losses=8, promoted=False)
    d2 = elo_from_score(12, 20)
    assert r2.elo == pytest.approx(d1.elo + d2.elo)
    assert r2.high - r2.elo == pytest.approx(math.hypot(d1.high - d1.elo, d2.high - d2.elo))
    assert r2.elo - r2.low == pytest.approx(math.hypot(d1.elo - d1.low, d2.elo - d2.low))
    assert table.best().generation == 1
    r3 = table.add_match(3, 1, wins=20, losses=0, promoted=True)
    assert r3.high == math.inf and math.isfinite(r3.low) and r3.games == 20
    with pytest.raises(KeyError):
        table.add_match(5, 4, wins=1, losses=1)
    with pytest.raises(ValueError):
        table.add_match(3, 1, wins=1, losses=1)


def test_table_persists_as_strict_json_and_reloads(tmp_path):
    table = RatingTable(tmp_path)
    table.add_match(1, 0, wins=20, losses=0, promoted=True)
    table.add_match(2, 1, wins=9, losses=9, draws=2)
    path = os.path.join(tmp_path, "elo.json")
    with open(path) as f:
        data = json.load(f, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert [row["generation"] for row in data["ratings"]] == [0, 1, 2]
    again = RatingTable(tmp_path)
    assert again.rows() == table.rows()
    assert again[1].high == math.inf and again.best().generation == 1
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]  # no temporary left behind


def test_corrupt_table_is_one_clear_error(tmp_path):
    (tmp_path / "elo.json").write_text("{not json")
    with pytest.raises(ValueError, match="elo.json: not a rating table"):
        RatingTable(tmp_path)
