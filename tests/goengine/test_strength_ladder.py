"""The strength ladder (goengine/strength_ladder.py; not the Go ladders of test_ladder.py): the Elo fit against closed forms and simulated players of known strength, the
ladder file's errors, and `goengine ladder rate / place / show` end to end with real engines."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from goengine import strength_ladder as ladder
from goengine.bradley_terry import ELO_PER_NAT, Z95, fit
from goengine.strength_ladder import LadderError


def _games(a: str, b: str, wins: int, losses: int) -> list[tuple[str, str, float]]:
    return [(a, b, 1.0)] * wins + [(a, b, 0.0)] * losses


def test_two_players_without_prior_is_the_closed_form():
    # MLE of the logistic model with one free player: p = wins / n, so D = 400 log10(w / l), and the
    # observed information n p (1-p) / ELO_PER_NAT^2 gives the interval
    rated = fit(_games("a", "b", 7, 3), {"b": 100.0}, prior_draws=0)
    assert rated["a"].elo == pytest.approx(100 + 400 * math.log10(7 / 3), abs=1e-6)
    half = Z95 * ELO_PER_NAT / math.sqrt(10 * 0.7 * 0.3)
    assert rated["a"].high - rated["a"].elo == pytest.approx(half, rel=1e-6)
    assert rated["a"].elo - rated["a"].low == pytest.approx(half, rel=1e-6)
    assert rated["b"].elo == 100.0 and rated["a"].games == 10


def test_colours_do_not_matter_only_who_won():
    swapped = [(b, a, 1.0 - s) for a, b, s in _games("a", "b", 6, 2)]
    assert fit(swapped, {"b": 0.0}, prior_draws=0)["a"].elo == pytest.approx(
        fit(_games("a", "b", 6, 2), {"b": 0.0}, prior_draws=0)["a"].elo, abs=1e-6)


def test_simulated_players_of_known_strength_are_recovered():
    # five players 0..800 Elo apart, each pair 300 games drawn from the model: every fitted rating within
    # its own interval widened to 3 sigma of the truth, and the order right
    truth = {"p0": 0.0, "p1": 150.0, "p2": 300.0, "p3": 550.0, "p4": 800.0}
    names = list(truth)
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        scores = []
        for i, a in enumerate(names):
            for b in names[i + 1:i + 3]:
                p = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400))
                wins = int(rng.binomial(300, p))
                scores += _games(a, b, wins, 300 - wins)
        rated = fit(scores, {"p0": 0.0}, prior_draws=0)
        for name, r in rated.items():
            sigma = (r.high - r.elo) / Z95
            assert abs(r.elo - truth[name]) < 3 * sigma + 1e-9, (seed, name, r, truth[name])
        assert sorted(names, key=lambda n: rated[n].elo) == names


def test_the_prior_keeps_a_clean_sweep_finite_and_ranked():
    ten = fit(_games("a", "b", 10, 0), {"b": 0.0})["a"]
    five = fit(_games("a", "b", 5, 0), {"b": 0.0})["a"]
    assert math.isfinite(ten.elo) and ten.elo > five.elo > 0
    # BayesElo's default prior, two virtual draws, with the 10 real wins: p = 11 / 12
    assert ten.elo == pytest.approx(400 * math.log10(11 / 1), abs=1e-6)


def test_a_player_no_game_connects_to_the_anchor_is_refused():
    with pytest.raises(ValueError, match="no game connects c, d to the anchor"):
        fit(_games("a", "b", 3, 1) + _games("c", "d", 2, 2), {"a": 0.0})


def test_new_ladder_checks_its_rungs():
    with pytest.raises(ValueError, match="anchor gnugo:level=3 is not one of the rungs"):
        ladder.new_ladder(9, 7.0, ["gnugo:level=1", "gnugo"], "gnugo:level=3")
    with pytest.raises(ValueError, match="repeat"):
        ladder.new_ladder(9, 7.0, ["gnugo:level=10", "gnugo"], "gnugo")  # the same player, canonically
    with pytest.raises(ValueError, match="visits"):
        ladder.new_ladder(9, 7.0, ["katago", "gnugo"], "gnugo")
    data = ladder.new_ladder(9, 7.0, list(ladder.DEFAULT_RUNGS), ladder.DEFAULT_ANCHOR)
    assert data["random_moves"] == 4 and data["anchor"] == "gnugo"


@pytest.mark.parametrize("content, message", [
    (None, "no ladder file"),
    ("{", "cannot be read"),
    ('{"format": "other"}', "is not a goengine ladder file"),
    ('{"format": "goengine-ladder", "version": 9}', "format version 9"),
    ('{"format": "goengine-ladder", "version": 1, "size": 9}', "is damaged"),
    ('{"format": "goengine-ladder", "version": 1, "size": 99, "komi": 7, "random_moves": 4, "anchor": "gnugo", '
     '"rungs": ["gnugo"], "games": [], "placements": {}}', "is damaged: board size 99"),
    ('{"format": "goengine-ladder", "version": 1, "size": 9, "komi": 7, "random_moves": 4, "anchor": "gnugo", '
     '"rungs": ["gnugo"], "games": [{"black": "gnugo"}], "placements": {}}', "a game without black"),
])
def test_a_bad_ladder_file_is_one_error_naming_it(tmp_path, content, message):
    path = tmp_path / "ladder.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LadderError, match=message) as e:
        ladder.load_ladder(str(path))
    assert str(path) in str(e.value)


def _goengine(*argv, cwd):
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.run([sys.executable, "-m", "goengine.cli", *argv], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=900)


def test_rate_place_show_end_to_end_and_resume(tmp_path):
    # three rungs on 5x5 that cannot be confused: random moves, and the playout search at 4 and 60 playouts
    path = str(tmp_path / "l.json")
    rungs = "goengine:engine=random goengine:playouts=4 goengine:playouts=40"
    done = _goengine("ladder", "rate", "--ladder", path, "--size", "5", "--komi", "0.5", "--rungs", rungs,
                     "--anchor", "goengine:engine=random", "--games-per-pair", "2", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table = json.loads(done.stdout)
    data = json.load(open(path))
    assert len(data["games"]) == 6  # 3 pairs (reach 2) x 2 games
    for a, b in ladder.rung_pairs(data["rungs"]):
        played = [g for g in data["games"] if {g["black"], g["white"]} == {a, b}]
        assert [g["black"] for g in played] == [a, b]  # colours alternate within a pair
    assert table["rungs"]["goengine:engine=random"]["elo"] == 0.0
    assert (table["rungs"]["goengine:playouts=40"]["elo"] > table["rungs"]["goengine:engine=random"]["elo"])
    # a rerun plays nothing more
    again = _goengine("ladder", "rate", "--ladder", path, "--games-per-pair", "2", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(json.load(open(path))["games"]) == 6 and "vs" not in again.stderr
    placed = _goengine("ladder", "place", "goengine:playouts=30", "--ladder", path, "--games", "2", cwd=tmp_path)
    assert placed.returncode == 0, placed.stderr
    assert placed.stdout.startswith("goengine:playouts=30: ") and "Elo over 2 games" in placed.stdout
    data = json.load(open(path))
    assert len(data["placements"]["goengine:playouts=30"]) == 2
    shown = _goengine("ladder", "show", "--ladder", path, "--json", cwd=tmp_path)
    assert json.loads(shown.stdout)["players"]["goengine:playouts=30"]["games"] == 2
    # a weaker rung added below: only its two new pairs are played, the old games and placements stay
    before = json.load(open(path))
    added = _goengine("ladder", "rate", "--ladder", path, "--games-per-pair", "2", "--add-below",
                      "goengine:engine=random,seed=9", "--json", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    data = json.load(open(path))
    assert data["rungs"] == ["goengine:engine=random,seed=9", *before["rungs"]]
    assert data["games"][:6] == before["games"] and len(data["games"]) == 10
    assert {frozenset((g["black"], g["white"])) for g in data["games"][6:]} == {
        frozenset(("goengine:engine=random,seed=9", r)) for r in before["rungs"][:2]}
    assert data["placements"] == before["placements"]
    assert "goengine:engine=random,seed=9" in json.loads(added.stdout)["rungs"]
    again = _goengine("ladder", "rate", "--ladder", path, "--add-below", "goengine:playouts=4", cwd=tmp_path)
    assert again.returncode == 2 and "already rungs" in again.stderr and json.load(open(path)) == data


@pytest.mark.parametrize("argv, message", [
    (["show", "--ladder", "{d}/none.json"], "no ladder file {d}/none.json"),
    (["rate", "--ladder", "{d}/l.json", "--games-per-pair", "0"], "--games-per-pair must be at least 1, not 0"),
    (["rate", "--ladder", "{d}/l.json", "--rungs", "gnugo katago"], "katago needs visits"),
    (["rate", "--ladder", "{d}/l.json", "--size", "40"], "board size 40"),
    (["place", "gnugo", "--ladder", "{d}/none.json"], "no ladder file"),
    (["place", "{d}/missing.pt", "--ladder", "{d}/none.json"], "no ladder file"),
    (["follow", "{d}", "--ladder", "{d}/none.json"], "no ladder file"),
    (["rate", "--ladder", "{d}/l.json", "--add-below", "gnugo"], "--add-below is for an existing ladder"),
    (["follow", "{d}", "--ladder", "{d}/none.json", "--every", "0"], "--every must be at least 1, not 0"),
])
def test_bad_ladder_flags_are_one_line(tmp_path, argv, message):
    done = _goengine("ladder", *[a.format(d=tmp_path) for a in argv], cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message.format(d=tmp_path) in lines[0], done.stderr
    assert not os.path.exists(tmp_path / "l.json")


def test_follow_places_every_kth_generation_of_a_run(tmp_path):
    # a run folder as `goengine train zero` leaves it: generation checkpoints and metrics.csv; the nets are
    # untrained, the point is the bookkeeping: which generations are placed, core-hours summed, CSV and PNG
    torch = pytest.importorskip("torch")
    import nets
    from nets.go import checkpoint
    from nets.go.presets import zero_config

    run = tmp_path / "run"
    (run / "nets").mkdir(parents=True)
    torch.manual_seed(0)
    config = zero_config("2x16", board_size=5)
    for g in (0, 1, 2, 3):
        model = nets.build("zero_resnet", **{k: v for k, v in vars(config).items()})
        checkpoint.save(str(run / "nets" / f"gen{g:05d}.pt"), model, feature_set="zero")
    (run / "metrics.csv").write_text("generation,selfplay_core_seconds\n1,3600\n2,1800\n3,900\n")
    path = str(tmp_path / "l.json")
    data = ladder.new_ladder(5, 0.5, ["goengine:engine=random", "goengine:playouts=30"], "goengine:engine=random")
    data["games"] = [{"black": "goengine:engine=random", "white": "goengine:playouts=30", "result": "W+5"},
                     {"black": "goengine:playouts=30", "white": "goengine:engine=random", "result": "B+9"}]
    ladder.save_ladder(path, data)
    done = _goengine("ladder", "follow", str(run), "--ladder", path, "--every", "2", "--games", "1",
                     "--playouts", "4", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["generation"] for r in rows] == [0, 2, 3]  # every 2nd, and the latest
    assert [r["selfplay_core_hours"] for r in rows[1:]] == [1.5, 1.75]
    assert rows[0]["selfplay_core_hours"] == 0.0  # the initial net: the curve starts at no self-play
    assert (run / "ladder.png").stat().st_size > 1000
    lines = (run / "ladder.csv").read_text().splitlines()
    assert lines[0].startswith("generation,selfplay_core_hours,elo") and len(lines) == 4
    again = _goengine("ladder", "follow", str(run), "--ladder", path, "--every", "2", "--games", "1",
                      "--playouts", "4", cwd=tmp_path)
    assert again.returncode == 0 and " vs " not in again.stderr  # placed already: no game replayed
