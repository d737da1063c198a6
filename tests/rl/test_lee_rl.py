"""AlphaGo Lee's RL stage (rl/alphago_lee/reinforce.py, selfplay/pipelines/lee_rl.py): the policy games are
legal, reproducible from their seeds and keep the very planes goengine.features computes; REINFORCE from a
small net beats that net on 5x5; the command line runs on Ray workers, resumes, and fails in one line."""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pytest
import torch

from goengine import coords
from goengine.cli import UserError
from goengine.features import extract
from goengine.position import Position
from nets.go import checkpoint
from nets.go.lee import build_lee_policy
from rl.alphago_lee.dataset import unpack_planes
from rl.alphago_lee.reinforce import GamePlan, GameSetup, Reinforce, ReinforceConfig, learner_score, play_policy_games
from selfplay.orchestrator import LocalSelfPlay
from selfplay.selfplay_config import SelfPlayConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def small_policy(size: int, seed: int = 0):
    torch.manual_seed(seed)
    return build_lee_policy(board_size=size, filters=16, layers=3)


def test_policy_games_are_legal_seeded_and_keep_the_feature_planes():
    a, b = small_policy(5, 0), small_policy(5, 1)
    setup = GameSetup(board_size=5, komi=0.5, keep="learner", net=dataclasses.asdict(a.config))
    plans = [GamePlan(black=0, white=1, seed=11), GamePlan(black=1, white=0, seed=12),
             GamePlan(black=0, white=0, seed=13, random_move=3, then=1)]
    together = play_policy_games([a, b], plans, setup)
    alone = [play_policy_games([a, b], [p], setup)[0] for p in plans]
    for g, h in zip(together, alone):  # batching across games changes nothing
        assert np.array_equal(g.moves, h.moves) and g.result == h.result
    assert not np.array_equal(together[0].moves, together[1].moves)
    for g in together:
        pos, seen = Position(5, 0.5), {}
        for t, action in enumerate(g.moves):
            seen[t] = pos
            pos = pos.play(coords.action_to_gtp(int(action), 5))  # raises on an illegal move
        assert pos.is_over or len(g.moves) == setup.move_cap()
        assert g.result == np.sign(pos.score())
        for t, packed, action in zip(g.kept_t, g.kept_planes, g.kept_actions):
            assert g.plan.mover(int(t), seen[int(t)].to_play) == 0  # only the learner's moves
            assert g.moves[t] == action
            assert np.array_equal(unpack_planes(packed[None], 48, 5)[0], extract(seen[int(t)], "lee_policy"))
    assert len(together[0].kept_t) > 0
    assert together[2].moves[3] != 25 and len(together[2].kept_t) == 3  # net 0 only before the random move 3


def test_reinforce_beats_its_start_on_5x5(tmp_path):
    """12 iterations of 16 games from a random 16x3 net: the trained net must win at least 70% of 64 games
    against its start (a net that learned nothing wins about 50%, 3.3 standard errors below)."""
    checkpoint.save(tmp_path / "sl.pt", small_policy(5), feature_set="lee_policy")
    config = ReinforceConfig(board_size=5, komi=0.5, games_per_iteration=16, lr=0.01, optimizer="adam",
                             baseline="mean", snapshot_every=4, eval_every=0, seed=1)
    run = Reinforce.create(str(tmp_path), str(tmp_path / "sl.pt"), config)
    executor = LocalSelfPlay(SelfPlayConfig(board_size=5, komi=0.5))
    rows = [run.step(executor, 16) for _ in range(12)]
    assert run.pool == [0, 4, 8, 12]
    assert {r["opponent"] for r in rows} <= {0, 4, 8}
    score = run.evaluate(executor, 64, games=64)
    assert score >= 0.7, [round(r["score_vs_opponent"], 2) for r in rows]


def _args(*argv):
    from selfplay.pipelines import lee_rl

    parser = argparse.ArgumentParser()
    lee_rl.add_arguments(parser)
    return lee_rl, parser.parse_args(list(argv))


@pytest.mark.parametrize("workers", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_cli_runs_then_resumes(tmp_path, restore_torch_threads, workers):
    """The first iteration on Ray workers (slow: Ray and the workers' imports take minutes on a busy two-core
    machine) or in this process, the second resumed in this process."""
    from rl.metrics_log import read_metrics

    sl = tmp_path / "sl.pt"
    checkpoint.save(sl, small_policy(5), feature_set="lee_policy")
    out = tmp_path / "R"
    flags = ["--games", "4", "--eval-every", "2", "--eval-games", "4", "--komi", "0.5", "--no-progress"]
    module, args = _args("--sl", str(sl), "--out", str(out), "--steps", "1", "--workers", str(workers), *flags)
    assert module.run(args) == 0
    module, args = _args("--out", str(out), "--resume", "--steps", "2", "--workers", "0", *flags)
    assert module.run(args) == 0
    _, meta = checkpoint.load(out / "rl.pt", feature_set="lee_policy")
    assert meta.net == "lee_policy" and meta.extra["iteration"] == 2 and meta.extra["config"]["board_size"] == 5
    rows = read_metrics(out / "rl")
    assert [r["iteration"] for r in rows] == [1.0, 2.0] and "winrate_vs_sl" in rows[1]
    assert (out / "rl" / "rl.png").stat().st_size > 0


@pytest.mark.parametrize("argv, message", [
    (["--steps", "1"], "give --sl"),
    (["--sl", "SL", "--resume", "--steps", "1"], "--sl starts a new run"),
    (["--sl", "SL"], "give --steps N or --minutes M"),
    (["--sl", "SL", "--steps", "0"], "--steps must be at least 1"),
    (["--sl", "VALUE", "--steps", "1"], "feature set 'lee_value', expected 'lee_policy'"),
    (["--sl", "SL", "--steps", "1", "--board-size", "9"], "board size 5, expected 9"),
    (["--sl", "SL", "--steps", "1", "--games", "1"], "--games must be at least 2"),
    (["--resume", "--steps", "1"], "nothing to resume"),
])
def test_cli_errors_are_one_line(tmp_path, argv, message):
    from nets.go.lee import build_lee_value

    checkpoint.save(tmp_path / "sl.pt", small_policy(5), feature_set="lee_policy")
    checkpoint.save(tmp_path / "value.pt", build_lee_value(board_size=5, filters=4, layers=2), feature_set="lee_value")
    argv = [{"SL": str(tmp_path / "sl.pt"), "VALUE": str(tmp_path / "value.pt")}.get(a, a) for a in argv]
    module, args = _args("--out", str(tmp_path / "R"), "--workers", "0", *argv)
    with pytest.raises(UserError) as info:
        module.run(args)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "R" / "rl.pt").exists()


def test_learner_score_counts_colours():
    moves = np.zeros(0, dtype=np.int16)
    empty = np.zeros((0, 1), dtype=np.uint8)

    def game(black, result):
        return play_result(GamePlan(black=black, white=1 - black, seed=0), result, moves, empty)

    assert learner_score([game(0, 1.0), game(1, 1.0), game(1, -1.0), game(0, 0.0)]) == pytest.approx(2.5 / 4)


def play_result(plan, result, moves, empty):
    from rl.alphago_lee.reinforce import PlayedGame

    return PlayedGame(plan, moves, result, np.zeros(0, np.int16), empty, np.zeros(0, np.int16))
