"""AlphaGo Lee's SL stage (rl/alphago_lee/sl.py, `goengine train lee sl`): on GNU Go games of the fixture
corpus a small policy learns to predict held-out moves far better than a uniform choice among sensible
moves and than its untrained self; a resumed run equals an uninterrupted one bit for bit; the 8 symmetries
move planes and moves together; wrong and mismatched checkpoints end as one line."""
from __future__ import annotations

import glob
import os
import re

import numpy as np
import pytest
import torch

from goengine.cli import main
from nets.go import checkpoint
from rl.alphago_lee import sl
from rl.alphago_lee.convert import ConvertConfig, convert
from rl.alphago_lee.dataset import LeeDataset

CORPUS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "fixtures", "corpus", "*.sgf")))

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("lee_sl")
    out = str(root / "d")
    convert(CORPUS[:70], out, ConvertConfig(board_size=9, val_fraction=0.1, test_fraction=0.2))
    return out


def train_cli(*argv: str) -> int:
    return main(["train", "lee", "sl", *argv, "--no-progress", "--no-tensorboard"])


def fails(capsys, message: str, *argv: str) -> None:
    """The command ends with exit status 2 and one line on stderr holding `message` (a regex)."""
    capsys.readouterr()
    assert train_cli(*argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("goengine train: ") and re.search(message, err), err


def test_learns_held_out_moves_by_a_margin(data, tmp_path, capsys):
    run = tmp_path / "run"
    test = LeeDataset.open(data).split("test")
    untrained = sl.evaluate(sl.build_model(sl.SLConfig(filters=16, layers=4)), test)["top1"]
    uniform = sl.legal_uniform_top1(test)
    assert train_cli("--data", data, "--out", str(run), "--filters", "16", "--layers", "4", "--steps", "160") == 0
    _model, meta = checkpoint.load(run / "sl.pt", board_size=9, feature_set="lee_policy")
    top1, top5 = meta.extra["test_top1"], meta.extra["test_top5"]
    print(f"held-out top-1 {top1:.3f} top-5 {top5:.3f}; uniform over sensible moves {uniform:.3f}, "
          f"untrained {untrained:.3f}; {test.n_positions} positions")
    assert top1 > uniform + 0.08 and top1 > untrained + 0.08
    assert top5 > top1 + 0.1
    out = capsys.readouterr().out
    assert f"test top-1 {top1:.3f}" in out
    rows = (run / "sl" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,epoch,minutes,lr,train_loss,train_accuracy,val_loss,val_top1,val_top5")
    assert len(rows) >= 4  # an epoch is ~28 steps here: a row per epoch, the end, the test
    assert (run / "sl" / "sl.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert meta.config == {"board_size": 9, "in_planes": 48, "filters": 16, "layers": 4}


def test_resume_equals_an_uninterrupted_run(data, tmp_path):
    flags = ["--data", data, "--filters", "8", "--layers", "3", "--batch-size", "16", "--lr-halve-steps", "7"]
    assert train_cli(*flags, "--out", str(tmp_path / "a"), "--steps", "12") == 0
    assert train_cli(*flags, "--out", str(tmp_path / "a"), "--steps", "25", "--resume") == 0
    assert train_cli(*flags, "--out", str(tmp_path / "b"), "--steps", "25") == 0
    (a, meta_a), (b, meta_b) = (checkpoint.load(tmp_path / r / "sl.pt") for r in "ab")
    assert meta_a.extra["step"] == meta_b.extra["step"] == 25
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name
    assert sl.lr_at(25, sl.SLConfig(lr=0.01, lr_halve_steps=7)) == 0.01 / 8


def test_symmetries_move_planes_and_moves_together(data):
    split = LeeDataset.open(data).split("val")
    table = sl.symmetry_tables(9)
    rows = np.arange(min(40, split.n_positions))
    plain = sl.make_batch(split, rows, np.zeros(len(rows), np.int64), table)
    for k in range(8):
        moved = sl.make_batch(split, rows, np.full(len(rows), k), table)
        assert sorted(moved.action_B.tolist()) != [] and moved.planes_BCHW.shape == plain.planes_BCHW.shape
        for j in range(len(rows)):
            r, c = divmod(int(plain.action_B[j]), 9)
            r2, c2 = divmod(int(moved.action_B[j]), 9)
            # every plane at the move played reads the same before and after the symmetry
            np.testing.assert_array_equal(moved.planes_BCHW[j, :, r2, c2], plain.planes_BCHW[j, :, r, c])
            assert moved.planes_BCHW[j, 46, r2, c2] == 1  # the move played was sensible
        np.testing.assert_array_equal(moved.planes_BCHW.sum(axis=(2, 3)), plain.planes_BCHW.sum(axis=(2, 3)))


def test_loss_fn_is_the_cross_entropy_of_the_move_played(data):
    split = LeeDataset.open(data).split("val")
    model = sl.build_model(sl.SLConfig(filters=8, layers=3))
    batch = sl.SLBatchSource(split).shard(1, 2).sample(32, np.random.default_rng(0))
    loss, metrics = sl.loss_fn(model, batch)
    with torch.no_grad():
        log_p = torch.log_softmax(model(torch.from_numpy(batch.planes_BCHW)), dim=1)
    expected = -log_p[torch.arange(32), torch.from_numpy(batch.action_B)].mean()
    assert abs(loss.item() - expected.item()) < 1e-5 and 0 <= metrics["accuracy"] <= 1


def test_bad_checkpoints_and_flags_are_one_line(data, tmp_path, capsys):
    small = ["--data", data, "--filters", "8", "--layers", "3", "--steps", "2"]
    fails(capsys, "give --steps N or --minutes M", "--data", data, "--out", str(tmp_path / "x"))
    fails(capsys, "--resume: .* does not exist", *small, "--out", str(tmp_path / "x"), "--resume")
    fails(capsys, "--filters must be positive, got 0", *small[:2], "--filters", "0", "--steps", "2",
          "--out", str(tmp_path / "x"))
    fails(capsys, "holds 9x9 games, not 19x19", *small, "--out", str(tmp_path / "x"), "--board-size", "19")
    assert train_cli(*small, "--out", str(tmp_path / "ok")) == 0
    fails(capsys, "exists: pass --resume", *small, "--out", str(tmp_path / "ok"))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "sl.pt").write_bytes(b"not a checkpoint")
    fails(capsys, "cannot be read", *small, "--out", str(tmp_path / "junk"), "--resume")
    (tmp_path / "other").mkdir()
    model = sl.build_model(sl.SLConfig(filters=8, layers=3))
    checkpoint.save(tmp_path / "other" / "sl.pt", model, feature_set="lee_policy")  # a bare net, not a run
    fails(capsys, "not an SL policy checkpoint", *small, "--out", str(tmp_path / "other"), "--resume")
    checkpoint.save(tmp_path / "other" / "sl.pt", sl.build_model(sl.SLConfig(board_size=7, filters=8, layers=3)),
                    feature_set="lee_policy")
    fails(capsys, "board size 7, expected 9", *small, "--out", str(tmp_path / "other"), "--resume",
          "--board-size", "9")


def test_a_training_backend_takes_the_same_step(data):
    """selfplay/training's Learner, built from spec_parts in a pickled round trip, takes the step SLTrainer
    takes on the same batch from the same seed."""
    import pickle

    from selfplay.training.api import Learner, TrainSpec

    config = sl.SLConfig(filters=8, layers=3, seed=3)
    spec = pickle.loads(pickle.dumps(TrainSpec(**sl.spec_parts(config))))
    learner, trainer = Learner(spec, seed=3), sl.SLTrainer(config)
    batch = sl.SLBatchSource(LeeDataset.open(data).split("train")).shard(0, 1).sample(16, np.random.default_rng(1))
    for _ in range(2):
        m_learner, m_trainer = learner.train_step(batch), trainer.train_step(batch)
    assert m_learner["policy_loss"] == m_trainer["policy_loss"] and m_learner["lr"] == m_trainer["lr"]
    for x, y in zip(learner.model.state_dict().values(), trainer.model.state_dict().values()):
        assert torch.equal(x, y)
