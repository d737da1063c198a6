"""Self-play with Gumbel AlphaZero's root search (SelfPlayConfig.gumbel, `train zero --gumbel`): exactly
n + 1 evaluations a move, improved-policy targets over the legal moves, batching that does not mix up
games, playout-cap randomisation, the command line end to end with resume, and a net that learns."""
import os

import numpy as np
import pytest

from goengine import coords
from goengine.cli import main
from goengine.position import Position
from rl.records import iter_records
from selfplay.pipelines.zero import ZeroRun
from selfplay.selfplay_config import SelfPlayConfig
from selfplay.worker import SelfPlayWorker
from tests.selfplay.test_worker import NET, SIZE, LeafFnEvaluator, replay_checks, tiny_weights
from tests.selfplay.test_zero_learning import learn as zero_learn

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def config(**kw):
    base = dict(board_size=SIZE, komi=0.5, net=NET, visits=8, parallel_games=4, resign_threshold=0, seed=3,
                gumbel=True)
    base.update(kw)
    return SelfPlayConfig(**base)


def test_every_move_spends_exactly_n_simulations_and_records_the_improved_policy():
    worker = SelfPlayWorker(config(), tiny_weights(), 0)
    worker.evaluator = LeafFnEvaluator()
    records = worker.play_games(4)
    moves = sum(r.num_moves for r in records)
    # a fresh tree each move: the root's evaluation and the 8 simulations of sequential halving
    assert worker.evaluator.leaves == 9 * moves
    for r in records:
        replay_checks(r)
        assert r.full_search.all()
        np.testing.assert_allclose(r.policy_targets.sum(1), 1.0, atol=1e-5)
        # softmax(logits + sigma(completedQ)) is positive on every legal move, not only the 8 visited
        pos = Position(SIZE, r.komi, r.rules)
        for target, action in zip(r.policy_targets, r.moves):
            np.testing.assert_array_equal(target > 0, pos.legal_mask() == 1)
            pos = pos.play(coords.action_to_gtp(int(action), SIZE))
    # the Gumbel sample explores without temperature or noise: the games differ
    assert len({tuple(r.moves[:6]) for r in records}) == len(records)


def test_batched_leaves_and_games_do_not_mix_up():
    """Games played 1 or 3 at a time, with 1 or 3 leaves a round, are the same games: with n = m = 4 the
    schedule visits each considered action once, in the order of g + logits whatever the values seen so
    far (the unvisited share one v_mix), so a round's leaves cannot change the next round's choices."""
    def games(parallel, leaves):
        worker = SelfPlayWorker(config(parallel_games=parallel, leaves_per_game=leaves, visits=4, gumbel_m=4),
                                tiny_weights(), 0)
        worker.evaluator = LeafFnEvaluator()
        return sorted(worker.play_games(4, generation=1), key=lambda r: r.seed), worker.evaluator.leaves

    (one, leaves_one), (three, leaves_three) = games(1, 1), games(3, 1)
    for a, b in zip(one, three):
        np.testing.assert_array_equal(a.moves, b.moves)
        np.testing.assert_allclose(a.policy_targets, b.policy_targets)
    batched, leaves = games(3, 3)
    assert leaves == 5 * sum(r.num_moves for r in batched)  # rounds of 3 and 1 still spend exactly 4
    for a, b in zip(one, batched):
        np.testing.assert_array_equal(a.moves, b.moves)
        np.testing.assert_allclose(a.policy_targets, b.policy_targets, rtol=1e-5, atol=1e-9)  # sums of rows of 1 or 3


def test_playout_cap_randomisation_with_gumbel():
    worker = SelfPlayWorker(config(visits=12, fast_visits=2, full_search_prob=0.4), tiny_weights(), 0)
    worker.evaluator = LeafFnEvaluator()
    records = worker.play_games(6)
    full = np.concatenate([r.full_search for r in records])
    assert 0.2 < full.mean() < 0.6
    for r in records:
        replay_checks(r)
        assert (r.policy_targets[~r.full_search] == 0).all()
        np.testing.assert_allclose(r.policy_targets[r.full_search].sum(1), 1.0, atol=1e-5)
    assert worker.evaluator.leaves == 13 * full.sum() + 3 * (~full).sum()


def test_gumbel_m_is_checked():
    with pytest.raises(ValueError, match="gumbel_m must be"):
        config(gumbel_m=0)


TINY = ["--board-size", "5", "--net", "2x16", "--visits", "8", "--games", "8", "--parallel-games", "4",
        "--steps", "5", "--batch-size", "32", "--gate-games", "2", "--window", "100", "--seed", "3",
        "--workers", "0", "--threads", "1", "--no-progress", "--gumbel", "--gumbel-m", "8"]


def test_train_zero_with_gumbel_runs_and_resumes(tmp_path, capsys, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    assert main(["train", "zero", "--out", run_dir, *TINY, "--generations", "1"]) == 0
    saved = ZeroRun.open(run_dir, board_size=5).config.selfplay  # as the resume will read it
    assert saved.gumbel is True and saved.gumbel_m == 8 and saved.visits == 8
    assert main(["train", "zero", "--out", run_dir, "--resume", "--generations", "2", "--workers", "0",
                 "--no-progress"]) == 0
    assert "2 generations, 16 self-play games" in capsys.readouterr().out
    records = list(iter_records(os.path.join(run_dir, "games")))
    assert [r.generation for r in records] == [1] * 8 + [2] * 8
    for r in records:
        np.testing.assert_allclose(r.policy_targets[r.full_search].sum(1), 1.0, atol=1e-5)
    code = main(["train", "zero", "--out", str(tmp_path / "bad"), *TINY[:-1], "0", "--generations", "1"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and "--gumbel-m must be" in err, err


def learn(run_dir: str, seed: int, generations: int, gumbel: bool = True, visits: int = 8):
    """(match of the final net against generation 0 at 16 visits, CPU seconds of the run): Zero's learning
    run of tests/selfplay/test_zero_learning.py with Gumbel self-play at `visits`."""
    return zero_learn(run_dir, seed, generations, visits=visits, gumbel=gumbel, match_visits=16)


def test_gumbel_self_play_at_8_visits_learns_to_beat_the_initial_net(tmp_path):
    result, cpu = learn(str(tmp_path / "run"), seed=1, generations=4)
    print(f"4 generations of Gumbel self-play at 8 visits, {cpu:.0f} s CPU: "
          f"{result.wins_a}-{result.losses_a}-{result.draws} against the initial net")
    assert result.games == 40 and result.wins_a >= 30, (result.wins_a, result.losses_a)
