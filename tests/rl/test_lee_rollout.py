"""AlphaGo Lee's rollout stage (rl/alphago_lee/rollout.py, `goengine train lee rollout`): the pattern table
learns GNU Go's held-out moves far better than a uniform choice among the candidates; the checkpoint loads
into the numba RolloutPolicy with the same probabilities as the torch table; playouts are timed; a
resumed run equals an uninterrupted one; wrong checkpoints are refused in one line."""
from __future__ import annotations

import glob
import os
import re

import numpy as np
import pytest
import torch

from goengine.cli import main
from goengine.mcts.rollout_policy import RolloutPolicy
from nets.go import checkpoint
from nets.go.rollout import uniform_accuracy
from rl.alphago_lee import rollout, sl
from rl.alphago_lee.convert import ConvertConfig, convert
from rl.alphago_lee.dataset import LeeDataset

CORPUS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "fixtures", "corpus", "*.sgf")))

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("lee_rollout") / "d")
    # moves only: the rollout stage never reads the 48 planes
    convert(CORPUS[40:100], out, ConvertConfig(board_size=9, val_fraction=0.1, test_fraction=0.2, planes="load"))
    return out


def train_cli(*argv: str) -> int:
    return main(["train", "lee", "rollout", *argv, "--no-progress", "--no-tensorboard"])


def fails(capsys, message: str, *argv: str) -> None:
    """The command ends with exit status 2 and one line on stderr holding `message` (a regex)."""
    capsys.readouterr()
    assert train_cli(*argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("goengine train: ") and re.search(message, err), err


def test_learns_held_out_moves_and_loads_into_the_playouts(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert train_cli("--data", data, "--out", str(run), "--response-bits", "12", "--pattern-bits", "13",
                     "--steps", "60") == 0
    out = capsys.readouterr().out
    policy = rollout.load_rollout_policy(run / "rollout.pt", board_size=9)
    assert isinstance(policy, RolloutPolicy) and policy.spec is not None
    test = LeeDataset.open(data).split("test")
    examples, skipped = rollout.encode_split(test, policy)
    model, meta = checkpoint.load(run / "rollout.pt")
    trained, uniform = rollout.accuracy(model, examples), uniform_accuracy(examples)
    print(f"held-out top-1 {trained:.3f}, uniform over candidates {uniform:.3f}; {len(examples)} positions, "
          f"{skipped} skipped; {meta.extra['us_per_move']:.1f} µs per move")
    assert abs(trained - meta.extra["test_top1"]) < 1e-9
    assert trained > uniform + 0.12
    assert f"test top-1 {trained:.3f}" in out and "µs per move" in out
    assert 0 < meta.extra["us_per_move"] < 1000

    # the numba policy the playouts run gives the torch table's probabilities
    pairs = rollout.split_pairs(test, 30)
    for board, _move in pairs[::6]:
        numba_A = policy.probabilities(board)
        points_C, ids_CK = policy.features(board)
        with torch.no_grad():
            logits = model(torch.from_numpy(ids_CK)[None], torch.ones(1, len(points_C), dtype=torch.bool))[0]
        torch_C = torch.softmax(logits, 0).numpy()
        np.testing.assert_allclose(numba_A[board.geo.action_of_point[points_C]], torch_C, atol=1e-6)


def test_resume_equals_an_uninterrupted_run(data, tmp_path):
    flags = ["--data", data, "--response-bits", "10", "--pattern-bits", "11", "--batch-size", "64",
             "--max-positions", "600"]
    assert train_cli(*flags, "--out", str(tmp_path / "a"), "--steps", "7") == 0
    assert train_cli(*flags, "--out", str(tmp_path / "a"), "--steps", "15", "--resume") == 0
    assert train_cli(*flags, "--out", str(tmp_path / "b"), "--steps", "15") == 0
    (a, ma), (b, mb) = (checkpoint.load(tmp_path / r / "rollout.pt") for r in "ab")
    assert ma.extra["step"] == mb.extra["step"] == 15
    assert torch.equal(a.weight_F, b.weight_F)


def test_wrong_checkpoints_are_one_line(data, tmp_path, capsys):
    (tmp_path / "r").mkdir()
    sl_net = sl.build_model(sl.SLConfig(filters=8, layers=3))
    checkpoint.save(tmp_path / "r" / "rollout.pt", sl_net, feature_set="lee_policy")
    with pytest.raises(checkpoint.CheckpointError, match="feature set 'lee_policy', expected 'rollout_patterns'"):
        rollout.load_rollout_policy(tmp_path / "r" / "rollout.pt")
    fails(capsys, "feature set 'lee_policy', expected 'rollout_patterns'", "--data", data,
          "--out", str(tmp_path / "r"), "--steps", "2", "--resume")
    with pytest.raises(checkpoint.CheckpointError, match="no such file"):
        rollout.load_rollout_policy(tmp_path / "missing.pt")
    fails(capsys, "--pattern-bits must be in 4..24, got 40", "--data", data, "--out", str(tmp_path / "s"),
          "--steps", "2", "--pattern-bits", "40")
