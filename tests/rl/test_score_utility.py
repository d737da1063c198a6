"""KataGo's score utility (`--search score_utility=W`, `train zero --score-utility W`;
rl/alphago_zero/evaluator.py): the utility is zero-sum between the two sides, as the tree's negamax backup
needs, grows with the win rate and the margin, and is the win rate at W = 0; the evaluator hands the
search exactly that utility of the net's heads; on a position where the value cannot tell moves apart the
score makes the search capture; nets without the score head and backends that do not run it are refused
in one line; self-play with it runs and resumes from the command line."""
import argparse

import numpy as np
import pytest
import torch

from goengine import coords
from goengine.cli import main
from goengine.player_registry import make_player
from goengine.position import Position
from nets.go.checkpoint import save
from nets.go.presets import zero_config
from nets.go.zero_resnet import ZeroResNet
from rl.alphago_zero.evaluator import NetEvaluator, priors_and_values, score_utility_values
from rl.net_player import make_net_player
from selfplay.pipelines.zero import ZeroRun
from selfplay.selfplay_config import SelfPlayConfig
from tests.selfplay.test_arena import material_net

SIZE = 5

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def test_utility_is_zero_sum_monotone_and_the_win_rate_at_weight_zero():
    rng = np.random.default_rng(0)
    p_B = rng.random(1000).astype(np.float32)
    share_B = rng.normal(0.0, 0.3, 1000).astype(np.float32)  # margins of up to about 20 points on 9x9
    for weight in (0.1, 0.3, 1.0):
        u_B = score_utility_values(p_B, share_B, 9, weight)
        # the opponent's utility of the same leaf is 1 - u: the tree backs up 1 - u at every ply
        np.testing.assert_allclose(u_B + score_utility_values(1 - p_B, -share_B, 9, weight), 1.0, atol=1e-6)
        assert (u_B > 0).all() and (u_B < 1).all()
        assert (score_utility_values(p_B, share_B + 0.01, 9, weight) > u_B).all()  # more margin, more utility
        assert (score_utility_values(np.minimum(p_B + 0.01, 1), share_B, 9, weight) >= u_B).all()
        # a sure win (by any margin) is worth more than a sure loss (by any margin) for every weight
        assert score_utility_values(np.float32([1.0]), np.float32([-1.0]), 9, weight)[0] > \
            score_utility_values(np.float32([0.0]), np.float32([1.0]), 9, weight)[0]
    np.testing.assert_allclose(score_utility_values(p_B, share_B, 9, 0.0), p_B, atol=1e-7)


def test_the_evaluator_hands_the_search_the_utility_of_the_heads():
    torch.manual_seed(0)
    model = ZeroResNet(zero_config("2x16", board_size=SIZE, aux_heads=True, pool_heads=True)).eval()
    planes_BCHW = (np.random.default_rng(1).random((6, 17, SIZE, SIZE)) < 0.3).astype(np.float32)
    legal_BA = np.ones((6, SIZE * SIZE + 1), dtype=np.int8)
    plain_priors, plain_values = NetEvaluator(model, SIZE).evaluate_planes(planes_BCHW, legal_BA)
    priors, values = NetEvaluator(model, SIZE, score_utility=0.3).evaluate_planes(planes_BCHW, legal_BA)
    with torch.no_grad():
        logits_BA, v_B, _, score_B = model(torch.from_numpy(planes_BCHW), aux=True)
    expected_priors, p_win_B = priors_and_values(logits_BA, v_B, legal_BA)
    np.testing.assert_allclose(priors, plain_priors, atol=1e-6)  # the policy is untouched
    np.testing.assert_allclose(plain_values, p_win_B, atol=1e-6)
    np.testing.assert_allclose(values, score_utility_values(p_win_B, score_B.numpy(), SIZE, 0.3), atol=1e-6)
    assert np.abs(values - plain_values).max() > 1e-3  # the score moved the values


def capture_position() -> Position:
    """Black to move; White's C3 has one liberty left, C4 (the position of test_net_player)."""
    position = Position(SIZE, 0.5)
    for move in ("D3", "C3", "C2", "A5", "B3", "E5"):
        position = position.play(move)
    assert position.liberties("C3") == 1 and position.to_play == "b"
    return position


def test_the_score_steers_the_search_where_the_win_rate_cannot(tmp_path):
    # value 0 everywhere (a win rate of 0.5 for every move), score = 2 points a stone ahead
    path = tmp_path / "margin.pt"
    save(path, material_net(k=0.0, score=2.0), feature_set="zero")
    capture = coords.gtp_to_action("C4", SIZE)
    for weight in (0.0, 0.5):
        player = make_net_player(path, playouts=200, seed=0, search=f"score_utility={weight}")
        move = player.genmove(capture_position(), "b")
        counts = player.search.visit_counts()
        others = np.delete(counts, capture).max()
        if weight == 0:  # uniform priors, equal values: the capture is one move among many
            assert counts[capture] <= others, counts
        else:
            assert move == "C4" and counts[capture] >= 1.4 * others, counts


def test_nets_and_backends_without_the_score_head_are_refused_in_one_line(tmp_path):
    plain = tmp_path / "plain.pt"
    save(plain, material_net(), feature_set="zero")
    with pytest.raises(ValueError, match="needs a net with the score head"):
        make_net_player(plain, playouts=4, search="score_utility=0.3")
    aux = tmp_path / "aux.pt"
    save(aux, material_net(score=1.0), feature_set="zero")
    with pytest.raises(ValueError, match="--inference ort does not run"):
        make_net_player(aux, playouts=4, inference="ort", search="score_utility=0.3")
    with pytest.raises(ValueError, match="at least 0"):
        make_net_player(aux, playouts=4, search="score_utility=-1")
    args = argparse.Namespace(search="score_utility=0.3", playouts=4)
    with pytest.raises(ValueError, match="is for a Zero net with the score head"):
        make_player(args)  # the playout engine
    net = zero_config("2x16", board_size=SIZE)
    with pytest.raises(ValueError, match="score head"):
        SelfPlayConfig(board_size=SIZE, net=net, score_utility=0.3)
    with pytest.raises(ValueError, match="only torch inference"):
        SelfPlayConfig(board_size=SIZE, net=zero_config("2x16", board_size=SIZE, aux_heads=True),
                       score_utility=0.3, inference="ort")


TINY = ["--board-size", "5", "--net", "2x16", "--visits", "12", "--games", "6", "--parallel-games", "3",
        "--steps", "4", "--batch-size", "32", "--gate-games", "0", "--window", "100", "--seed", "5",
        "--workers", "0", "--threads", "1", "--no-progress"]


def test_train_zero_with_score_utility_runs_and_resumes(tmp_path, capsys, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    assert main(["train", "zero", "--out", run_dir, *TINY, "--aux-heads", "--score-utility", "0.3",
                 "--generations", "1"]) == 0
    assert ZeroRun.open(run_dir, board_size=5).config.selfplay.score_utility == 0.3  # as resume reads it
    assert main(["train", "zero", "--out", run_dir, "--resume", "--generations", "2", "--workers", "0",
                 "--no-progress"]) == 0
    assert "2 generations, 12 self-play games" in capsys.readouterr().out
    best = f"{run_dir}/best.pt"
    player = make_net_player(best, playouts=8, search="score_utility=0.3")
    assert player.genmove(Position(SIZE, 0.5), "b") != "resign"
    for flags, message in ((["--score-utility", "0.3"], "--score-utility needs a net with the score head"),
                           (["--aux-heads", "--score-utility", "-1"], "--score-utility must be")):
        code = main(["train", "zero", "--out", str(tmp_path / "bad"), *TINY, *flags, "--generations", "1"])
        err = capsys.readouterr().err.strip()
        assert code != 0 and len(err.splitlines()) == 1 and message in err, err
