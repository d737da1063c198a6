"""AlphaGo Lee's value stage (rl/alphago_lee/value.py, selfplay/pipelines/lee_value.py): the recipe keeps
position U+1 of each game (SL moves, one random move, RL moves) labelled with the outcome for its player to
move, splits by game, builds the very "lee_value" planes goengine.features computes, and a value net trained
on it predicts held-out outcomes better than the best constant; the command line writes value.pt, the
control and Fig. 2b, and fails in one line."""
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
from rl.alphago_lee.reinforce import GameSetup, play_policy_games
from rl.alphago_lee.value import (ValueDataConfig, ValueTrainConfig, build_value_net, generate, mse, value_planes,
                                  value_plans)
from selfplay.orchestrator import LocalSelfPlay
from selfplay.selfplay_config import SelfPlayConfig

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def small_policy(size: int, seed: int):
    torch.manual_seed(seed)
    return build_lee_policy(board_size=size, filters=8, layers=2)


@pytest.fixture(scope="module")
def recipe_data():
    sl, rl = small_policy(5, 0), small_policy(5, 1)
    config = ValueDataConfig(board_size=5, komi=0.5, games=240, seed=3)
    data, control, stats = generate(LocalSelfPlay(SelfPlayConfig(board_size=5, komi=0.5)), sl, rl, config, chunk=60)
    return sl, rl, config, data, control, stats


def test_recipe_keeps_position_u_plus_1_with_its_outcome(recipe_data):
    sl, rl, config, data, control, stats = recipe_data
    assert stats["games"] == 240
    plans = {k: p for k, p in enumerate(value_plans(config, 0, config.games))}
    games_of = {s: set(data.game[s]) for s in ("train", "val", "test")}
    assert not (games_of["train"] & games_of["test"]) and not (games_of["train"] & games_of["val"])
    assert len(data) == 240 - stats["dropped_games"]  # one position per game that reached U+1
    for s in ("train", "val", "test"):
        assert np.array_equal(data.move[s], [plans[g].random_move + 1 for g in data.game[s]])
        assert np.isin(data.z[s], (-1.0, 1.0)).all()
        assert np.array_equal(data.black_to_play[s], data.move[s] % 2 == 0)
    assert control.count("train") > 10 * data.count("train")  # every position of the same games
    # replay one test game with its plan: the nets' moves, the random move at U, then the label and planes
    g = int(data.game["test"][0])
    setup = GameSetup(board_size=5, komi=0.5, net=dataclasses.asdict(sl.config))
    game = play_policy_games([sl, rl], [plans[g]], setup)[0]
    assert np.array_equal(game.moves, data.test_moves[g])
    pos = Position(5, 0.5)
    for action in game.moves[:plans[g].random_move + 1]:
        pos = pos.play(coords.action_to_gtp(int(action), 5))
    planes = value_planes(data.packed["test"][:1], data.black_to_play["test"][:1], 5)[0]
    assert np.array_equal(planes, extract(pos, "lee_value"))
    final = Position(5, 0.5)
    for action in game.moves:
        final = final.play(coords.action_to_gtp(int(action), 5))
    winner = "b" if final.score() > 0 else "w"
    assert data.z["test"][0] == (1.0 if winner == pos.to_play else -1.0)


def test_value_net_beats_the_constant_guess_on_held_out_games(recipe_data):
    """The best constant (the train mean) against a 16x3 value net trained 300 steps on the positions of
    the train games (the control data: a few hundred games give too few one-per-game positions to learn
    from): on the positions of the held-out games the net's MSE must be at least 10% lower."""
    from rl.alphago_lee.value import train_value

    _, rl, _, _, control, _ = recipe_data
    config = ValueTrainConfig(filters=16, layers=3, batch_size=32, lr=3e-3, seed=0)
    torch.manual_seed(0)
    net = build_value_net(rl.config, config)
    train_value(net, control, config, steps=300, minutes=None)
    held_out = np.concatenate([control.z["val"], control.z["test"]])
    constant = float(np.mean((held_out - control.z["train"].mean()) ** 2))
    n_val, n_test = control.count("val"), control.count("test")
    net_mse = (mse(net, control, "val") * n_val + mse(net, control, "test") * n_test) / (n_val + n_test)
    assert net_mse < 0.9 * constant, (net_mse, constant)


def _args(*argv):
    from selfplay.pipelines import lee_value

    parser = argparse.ArgumentParser()
    lee_value.add_arguments(parser)
    return lee_value, parser.parse_args(list(argv))


def test_cli_writes_value_net_control_and_fig2b(tmp_path, restore_torch_threads):
    import json

    from nets.go.rollout import build_lee_rollout
    from rl.alphago_lee.rollout import FEATURE_SET

    checkpoint.save(tmp_path / "sl.pt", small_policy(5, 0), feature_set="lee_policy")
    checkpoint.save(tmp_path / "rl.pt", small_policy(5, 1), feature_set="lee_policy")
    checkpoint.save(tmp_path / "rollout.pt", build_lee_rollout(board_size=5, response_bits=8, pattern_bits=8),
                    feature_set=FEATURE_SET)
    module, args = _args("--policy", str(tmp_path / "rl.pt"), "--out", str(tmp_path), "--games", "20",
                         "--steps", "10", "--workers", "0", "--komi", "0.5", "--rollouts", "2",
                         "--fig-positions", "12", "--no-progress")
    assert module.run(args) == 0
    model, meta = checkpoint.load(tmp_path / "value.pt", feature_set="lee_value")
    assert meta.net == "lee_value" and meta.extra["step"] == 10 and model.config.in_planes == 49
    report = json.loads((tmp_path / "value" / "report.json").read_text())
    assert set(report) >= {"value_net", "control_net", "fig2b", "games"}
    assert set(report["fig2b"]["overall"]) == {"value_net", "rollouts_p_pi", "rollouts_uniform"}
    assert (tmp_path / "value" / "fig2b.png").stat().st_size > 0
    module, args = _args("--policy", str(tmp_path / "rl.pt"), "--out", str(tmp_path), "--resume", "--steps", "15",
                         "--workers", "0", "--komi", "0.5", "--rollouts", "0", "--no-control", "--no-progress")
    assert module.run(args) == 0  # the same games, 5 more steps
    assert checkpoint.load(tmp_path / "value.pt")[1].extra["step"] == 15


@pytest.mark.parametrize("argv, message", [
    (["--policy", "RL"], "give --steps N or --minutes M"),
    (["--policy", "MISSING", "--steps", "1"], "no such file"),
    (["--policy", "RL", "--steps", "1", "--board-size", "9"], "board size 5, expected 9"),
    (["--policy", "OTHER", "--steps", "1"], "another architecture"),
    (["--policy", "RL", "--steps", "1", "--games", "3"], "--games must be at least 10"),
])
def test_cli_errors_are_one_line(tmp_path, argv, message):
    checkpoint.save(tmp_path / "sl.pt", small_policy(5, 0), feature_set="lee_policy")
    checkpoint.save(tmp_path / "rl.pt", small_policy(5, 1), feature_set="lee_policy")
    checkpoint.save(tmp_path / "other.pt", build_lee_policy(board_size=5, filters=4, layers=2),
                    feature_set="lee_policy")
    names = {"RL": tmp_path / "rl.pt", "MISSING": tmp_path / "none.pt", "OTHER": tmp_path / "other.pt"}
    argv = [str(names.get(a, a)) for a in argv]
    module, args = _args("--out", str(tmp_path), "--workers", "0", *argv)
    with pytest.raises(UserError) as info:
        module.run(args)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "value.pt").exists()
