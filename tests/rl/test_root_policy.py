"""`goengine gtp --root-policy W`: the rollout engine with a Zero net's policy as its root priors
(rl/net_player.py RootPolicy, Search.add_root_policy). The policy is the mean over the 8 symmetries, so it
must commute with them exactly (the oracle); it is a distribution over the legal moves; it reaches the tree
from the command line and from a match spec."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from goengine import coords, symmetries
from goengine.cli import main
from goengine.player_registry import add_player_arguments, make_player
from goengine.position import Position
from rl.net_player import RootPolicy

SHIPPED = "weights/zero-9x9.pt"
MOVES = ["E5", "D4", "E3", "C6", "F4", "pass", "D3"]

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def played(moves: list[str], k: int = 0, size: int = 9) -> Position:
    position = Position(size, 7.0)
    for move in moves:
        if move == "pass":
            position = position.play("pass")
            continue
        action = symmetries.apply_action(coords.gtp_to_action(move, size), k, size)
        position = position.play(coords.point_to_gtp(coords.action_to_point(action, size), size))
    return position


def test_the_policy_commutes_with_the_board_symmetries_and_covers_only_legal_moves():
    policy = RootPolicy(SHIPPED)
    base = policy(played(MOVES))
    legal = played(MOVES).legal_mask()
    assert base.sum() == pytest.approx(1.0, abs=1e-6) and np.all(base[legal == 0] == 0) and base.min() >= 0
    for k in range(1, 8):
        turned = policy(played(MOVES, k))
        np.testing.assert_allclose(turned, symmetries.apply_policy(base, k, 9), atol=1e-5)


def test_another_board_size_gets_no_priors():
    assert RootPolicy(SHIPPED)(Position(13, 7.0)) is None


def parse(*argv: str):
    parser = argparse.ArgumentParser()
    add_player_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_flag_gives_the_root_the_nets_priors():
    """Pseudo-visits (n - visits) of every root child: the hand-made priors alone without the flag, and
    prior_policy * P(a) more with it."""
    position = played(MOVES)
    priors = RootPolicy(SHIPPED)(position)

    def pseudo_visits(*flags: str) -> dict[int, float]:
        player = make_player(parse("--playouts", "200", *flags))
        player.genmove(position, position.to_play)
        kids = player.search.children()
        return {int(m): float(n - v) for m, n, v in zip(kids["move"], kids["n"], kids["visits"])}

    plain = pseudo_visits()
    with_net = pseudo_visits("--root-policy", SHIPPED, "--search", "prior_policy=80")
    assert plain.keys() == with_net.keys()
    for move in plain:
        action = 81 if move == coords.PASS else coords.point_to_action(move, 9)
        assert with_net[move] - plain[move] == pytest.approx(80 * priors[action], abs=1e-4)


def test_a_match_spec_plays_with_root_priors(capsys):
    spec = f"goengine:playouts=100,root_policy={SHIPPED}"
    assert main(["match", "--black", spec, "--white", "goengine:engine=random", "--games", "2", "--json",
                 "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["first"] == spec and summary["wins"] == 2


def test_the_playouts_can_follow_a_trained_rollout_policy(tmp_path, capsys):
    """`--playout-policy R/rollout.pt` (the table `goengine train lee rollout` writes): the search's playouts
    run p_pi's kernel, and the engine plays a match from a spec."""
    from goengine.mcts import _tree as T
    from goengine.mcts.rollout_policy import RolloutPolicy
    from nets.go import checkpoint
    from nets.go.rollout import build_lee_rollout
    from rl.alphago_lee.rollout import FEATURE_SET

    path = tmp_path / "rollout.pt"
    checkpoint.save(path, build_lee_rollout(board_size=9, response_bits=8, pattern_bits=8), feature_set=FEATURE_SET)
    player = make_player(parse("--playout-policy", str(path), "--playouts", "64"))
    assert isinstance(player.search.evaluator.policy, RolloutPolicy)
    assert player.search._playout_policy()[0] == T.POLICY_LEE
    assert played(MOVES).is_legal(player.genmove(played(MOVES), "w"), "w")
    spec = f"goengine:playouts=64,playout_policy={path}"
    assert main(["match", "--black", spec, "--white", "goengine:engine=random", "--games", "2", "--json",
                 "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["games"] == 2
