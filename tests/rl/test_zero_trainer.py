"""The AlphaGo Zero trainer: the loss against torch's own losses, L2 against SGD's weight decay, schedules
against torch's schedulers, loss falling on a fixed batch, and checkpoints that resume exactly."""
import copy

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.go import checkpoint
from nets.go.presets import zero_config
from nets.go.zero_resnet import ZeroResNet
from rl.alphago_zero.replay import Batch, ReplayWindow
from rl.alphago_zero.trainer import Trainer, TrainerConfig, lr_at, zero_loss
from tests.rl.test_zero_replay import SIZE, make_games

NET = zero_config("2x16", board_size=SIZE)


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def window(tmp_path_factory):
    directory = tmp_path_factory.mktemp("games")
    make_games(directory, n=8)
    w = ReplayWindow(SIZE, 100)
    w.refresh(directory)
    return w


def net(seed=0):
    torch.manual_seed(seed)
    return ZeroResNet(NET)


def test_loss_matches_torch_losses():
    torch.manual_seed(1)
    logits = torch.randn(6, 26)
    v = torch.tanh(torch.randn(6))
    pi = torch.softmax(torch.randn(6, 26), dim=1)
    z = torch.tensor([1.0, -1, 1, 0, -1, 1])
    policy_loss, value_loss = zero_loss(logits, v, pi, z)
    torch.testing.assert_close(policy_loss, F.cross_entropy(logits, pi))  # soft-target cross-entropy
    torch.testing.assert_close(value_loss, nn.MSELoss()(v, z))


def test_l2_term_is_sgd_weight_decay(window):
    """c ||theta||^2 in the loss moves the weights as torch's SGD weight_decay = 2c does."""
    batch = window.sample(16, np.random.default_rng(0))
    ours = Trainer(net(), TrainerConfig(l2=1e-3, lr=0.1, momentum=0.9))
    reference = net()
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9, weight_decay=2e-3)
    for _ in range(3):
        ours.train_step(batch)
        reference.train()
        logits, v = reference(torch.from_numpy(batch.planes_BCHW))
        p, vl = zero_loss(logits, v, torch.from_numpy(batch.policy_BA), torch.from_numpy(batch.value_B))
        optimizer.zero_grad()
        (p + vl).backward()
        optimizer.step()
    for a, b in zip(ours.model.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_schedules_match_torch_schedulers():
    param = [nn.Parameter(torch.zeros(1))]
    for config, scheduler in [
        (TrainerConfig(lr=0.1, schedule="step", milestones=(3, 7)),
         lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [3, 7], gamma=0.1)),
        (TrainerConfig(lr=0.1, schedule="cosine", total_steps=10),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    ]:
        optimizer = torch.optim.SGD(param, lr=config.lr)
        sched = scheduler(optimizer)
        for step in range(10):
            assert lr_at(config, step) == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-9)
            optimizer.step()
            sched.step()
    warm = TrainerConfig(lr=0.2, warmup_steps=4)
    assert [lr_at(warm, s) for s in range(5)] == pytest.approx([0.05, 0.1, 0.15, 0.2, 0.2])
    with pytest.raises(ValueError, match="optimizer"):
        TrainerConfig(optimizer="adam")


@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.05), ("adamw", 3e-3)])
def test_loss_falls_on_a_fixed_batch(window, optimizer, lr):
    batch = window.sample(64, np.random.default_rng(1))
    trainer = Trainer(net(), TrainerConfig(optimizer=optimizer, lr=lr))
    first = trainer.train_step(batch)
    for _ in range(60):
        last = trainer.train_step(batch)
    assert last["policy_loss"] < 0.6 * first["policy_loss"]
    assert last["value_loss"] < 0.3 * first["value_loss"]
    assert trainer.step == 61


def test_first_step_reports_the_losses_of_the_batch(window):
    """The reported terms against eq. 1 recomputed here in float64 from the net's own outputs on the
    same batch before the step (train mode, as the step runs it: batch-norm on batch statistics)."""
    batch = window.sample(32, np.random.default_rng(2))
    model = net(3)
    before = copy.deepcopy(model).train()
    with torch.no_grad():
        logits_BA, v_B = before(torch.from_numpy(batch.planes_BCHW))
    logits_BA, v_B = logits_BA.double().numpy(), v_B.double().numpy()
    shifted_BA = logits_BA - logits_BA.max(1, keepdims=True)
    log_p_BA = shifted_BA - np.log(np.exp(shifted_BA).sum(1, keepdims=True))
    policy_loss = -(batch.policy_BA * log_p_BA).sum(1).mean()
    value_loss = ((batch.value_B - v_B) ** 2).mean()
    l2 = 1e-4 * sum((p.double() ** 2).sum().item() for p in model.parameters())
    m = Trainer(model, TrainerConfig(lr=0.01, l2=1e-4)).train_step(batch)
    assert m["policy_loss"] == pytest.approx(policy_loss, rel=1e-5)
    assert m["value_loss"] == pytest.approx(value_loss, rel=1e-5)
    assert m["l2"] == pytest.approx(l2, rel=1e-5) and m["lr"] == 0.01
    assert m["loss"] == pytest.approx(m["policy_loss"] + m["value_loss"] + m["l2"], rel=1e-6)
    # the policy loss of a fresh net sits near log(26), the value loss near E[z^2] = 1
    assert abs(m["policy_loss"] - np.log(26)) < 0.3 and 0.5 < m["value_loss"] < 1.6


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_checkpoint_resumes_exactly(window, tmp_path, optimizer):
    config = TrainerConfig(batch_size=16, optimizer=optimizer, lr=0.01 if optimizer == "sgd" else 1e-3,
                           schedule="cosine", total_steps=20)
    trainer = Trainer(net(), config, seed=5)
    for _ in range(4):
        trainer.train_step(window.sample(16, trainer.rng))
    path = tmp_path / "t.pt"
    trainer.save(path, extra={"generation": 3})
    for _ in range(5):
        trainer.train_step(window.sample(16, trainer.rng))
    resumed, extra = Trainer.load(path, board_size=SIZE)
    assert extra["generation"] == 3 and resumed.step == 4 and resumed.config == config
    for _ in range(5):
        resumed.train_step(window.sample(16, resumed.rng))
    for a, b in zip(trainer.model.state_dict().values(), resumed.model.state_dict().values()):
        assert torch.equal(a, b)
    assert trainer.rng.integers(1 << 30) == resumed.rng.integers(1 << 30)
    # the file is also a plain net checkpoint that players can load
    model, meta = checkpoint.load(path, board_size=SIZE, feature_set="zero")
    assert isinstance(model, ZeroResNet)


def test_bad_checkpoints(tmp_path):
    plain = tmp_path / "plain.pt"
    checkpoint.save(plain, net(), feature_set="zero")
    with pytest.raises(checkpoint.CheckpointError, match="no trainer state"):
        Trainer.load(plain)
    with pytest.raises(checkpoint.CheckpointError, match="board size"):
        Trainer.load(plain, board_size=9)
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(checkpoint.CheckpointError, match="junk.pt"):
        Trainer.load(tmp_path / "junk.pt")


def test_batch_type_is_what_the_trainer_reads(window):
    batch = window.sample(4, np.random.default_rng(0))
    assert isinstance(batch, Batch)
    assert batch.policy_BA.shape == (4, SIZE * SIZE + 1) and batch.value_B.shape == (4,)
