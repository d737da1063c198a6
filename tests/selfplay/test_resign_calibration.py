"""AlphaGo Zero's automatic resignation threshold: the calibration against a brute-force oracle, the
winners' lowest values that resign-disabled games record (checked against the worker's own false-resignation
verdicts), old records without the field, and `train zero --resign-false-positives` from the command line,
with resume (also turning it on in a run created without it)."""
import csv
import json
import math
import os

import numpy as np
import pytest

from goengine.cli import main
from rl.records import read_record, write_record
from selfplay.resign import calibrate, false_share
from selfplay.worker import SelfPlayWorker
from tests.selfplay.test_worker import config, tiny_weights


def _oracle(values, target, cap):
    """The largest t among the candidates (every value, the cap, 0) with share(values < t) <= target."""
    finite = [v for v in values if math.isfinite(v)]
    ok = [t for t in {*finite, cap, 0.0} if t <= cap and false_share(finite, t) <= target + 1e-12]
    return max(ok)


@pytest.mark.parametrize("seed", range(8))
def test_calibrate_is_the_largest_threshold_within_the_target(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 300))
    values = list(np.round(rng.beta(0.7, 1.5, n), int(rng.integers(1, 4))))  # rounded: ties happen
    values += [float("nan")] * int(rng.integers(0, 5))  # jigo: no winner, not counted
    for target in (0.0, 0.01, 0.05, 0.2):
        t = calibrate(values, target, cap=0.5)
        assert t == pytest.approx(_oracle(values, target, 0.5)), (target, sorted(values)[:10])
        assert false_share(values, t) <= target + 1e-12


def test_calibrate_needs_enough_games_and_a_valid_target():
    assert calibrate([0.3] * 19 + [float("nan")] * 5, 0.05) is None
    assert calibrate([0.3] * 20, 0.05) == 0.3
    with pytest.raises(ValueError):
        calibrate([0.3] * 20, 1.0)


def test_resign_disabled_games_record_the_winners_lowest_value(tmp_path):
    """With every game resign-disabled at threshold t, a game the worker counts as a false resignation (the
    first side to fall below t went on to win) has a winner whose lowest value is below t; a winner that
    never fell below t was never the would-be resigner."""
    t = 0.45
    worker = SelfPlayWorker(config(resign_threshold=t, resign_disabled_fraction=1.0, parallel_games=6),
                            tiny_weights(1), 0)
    records = worker.play_games(12)
    assert all(r.resign_disabled and not r.resigned for r in records)
    decisive = [r for r in records if r.result != 0]
    assert decisive and all(0 <= r.winner_min_value <= 1 for r in decisive)
    for r in decisive:
        if r.false_resign:
            assert r.winner_min_value < t
        if r.winner_min_value >= t:
            assert r.false_resign is not True
        back = read_record(write_record(tmp_path, r))
        assert back.winner_min_value == pytest.approx(r.winner_min_value)
    # games that resign normally do not record it
    plain = SelfPlayWorker(config(resign_threshold=t, resign_disabled_fraction=0.0), tiny_weights(1), 0)
    assert all(math.isnan(r.winner_min_value) for r in plain.play_games(4))


def test_a_record_written_before_the_field_reads_as_nan(tmp_path):
    worker = SelfPlayWorker(config(), tiny_weights(2), 0)
    path = write_record(tmp_path, worker.play_games(1)[0])
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files if k != "winner_min_value"}
    np.savez_compressed(path, **arrays)
    assert math.isnan(read_record(path).winner_min_value)


FLAGS = ["train", "zero", "--board-size", "5", "--komi", "0.5", "--net", "2x16", "--visits", "4",
         "--workers", "0", "--games", "12", "--parallel-games", "12", "--steps", "2", "--batch-size", "16",
         "--gate-games", "0", "--threads", "1", "--no-progress"]


def _rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_train_zero_sets_each_generations_threshold_from_the_pool(tmp_path, capsys, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    # threshold 0 at the start: every game is resign-disabled, so the pool fills in two generations
    assert main([*FLAGS, "--out", run_dir, "--generations", "2", "--resign-threshold", "0",
                 "--resign-false-positives", "0.1"]) == 0
    with open(os.path.join(run_dir, "state.json")) as f:
        state = json.load(f)
    pool = state["resign_values"]
    records = [read_record(os.path.join(run_dir, "games", name)) for name in sorted(os.listdir(f"{run_dir}/games"))]
    expected = [r.winner_min_value for r in records if math.isfinite(r.winner_min_value)]
    assert pool == pytest.approx(expected, abs=1e-6) and len(pool) >= 20
    assert state["resign_threshold"] == pytest.approx(calibrate(pool, 0.1))
    assert main(["train", "zero", "--out", run_dir, "--resume", "--generations", "3", "--workers", "0",
                 "--threads", "1", "--no-progress"]) == 0
    rows = _rows(run_dir)
    assert [float(r["resign_threshold"]) for r in rows[:2]] == [0.0, 0.0]
    assert float(rows[2]["resign_threshold"]) == pytest.approx(state["resign_threshold"], abs=1e-6)
    # the games of generation 3 resigned at that threshold (or played out, resign-disabled)
    gen3 = [read_record(os.path.join(run_dir, "games", n)) for n in sorted(os.listdir(f"{run_dir}/games"))
            if n.startswith("gen00003")]
    assert len(gen3) == 12
    if state["resign_threshold"] > 0:
        assert sum(r.resign_disabled for r in gen3) < 12  # only ~10% are disabled now
    capsys.readouterr()
    assert main([*FLAGS, "--out", str(tmp_path / "bad"), "--generations", "1",
                 "--resign-false-positives", "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resign-false-positives" in err[0], err


def test_resume_turns_the_automatic_threshold_on(tmp_path, capsys, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    assert main([*FLAGS, "--out", run_dir, "--generations", "1"]) == 0
    assert "resign_values" not in json.load(open(os.path.join(run_dir, "state.json")))
    assert main(["train", "zero", "--out", run_dir, "--resume", "--generations", "2", "--workers", "0",
                 "--threads", "1", "--no-progress", "--resign-false-positives", "0.05"]) == 0
    with open(os.path.join(run_dir, "config.json")) as f:
        assert json.load(f)["config"]["resign_false_positives"] == 0.05
    state = json.load(open(os.path.join(run_dir, "state.json")))
    assert "resign_values" in state  # generation 2 pooled its resign-disabled games
    assert [float(r["resign_threshold"]) for r in _rows(run_dir)] == [0.05, 0.05]
    capsys.readouterr()
    assert main(["train", "zero", "--out", run_dir, "--resume", "--generations", "3", "--workers", "0",
                 "--no-progress", "--resign-false-positives", "-1"]) == 2
    assert "--resign-false-positives" in capsys.readouterr().err
