"""Distillation: a student taught by the teacher's soft policy and value follows the teacher on held-out
positions more closely than the same student trained on the hard targets the teacher generated (the
control: same data, steps and seeds); the loss terms are the formulas they claim to be."""
import pytest
import torch
import torch.nn.functional as F

import nets
from nets.compression.distill import DistillConfig, agreement, distill, distill_loss, student_config

SIZE = 5


@pytest.fixture(autouse=True)
def one_thread(restore_torch_threads):  # tests/conftest.py puts the count back
    """Small nets on one thread: two threads on a shared 2-core machine ran these tests 10x slower."""
    torch.set_num_threads(1)
A = SIZE * SIZE + 1


def planes(n, g):
    return (torch.rand(n, 17, SIZE, SIZE, generator=g) < 0.3).float()


def teach(seed: int, alpha: float, teacher, x, hard_BA, z_B, held, steps=100):
    torch.manual_seed(100 + seed)  # both students start from the same weights
    student = nets.build("zero_resnet", board_size=SIZE, blocks=1, filters=8)
    rng = torch.Generator().manual_seed(seed)  # and see the same batches

    def batches():
        i = torch.randint(0, len(x), (32,), generator=rng)
        return x[i], hard_BA[i], z_B[i]

    distill(student, teacher, batches, DistillConfig(alpha=alpha, steps=steps, lr=3e-3))
    return agreement(student, teacher, held)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_distilled_student_beats_its_hard_target_control(seed):
    """The teacher's data: 128 positions whose hard targets are a move sampled from the teacher's policy
    and a result drawn with its win probability (as self-play records are noisy samples of what the
    search believed). Held out: 512 other positions, scored by KL(teacher ‖ student) and value MSE to the
    teacher. Measured over seeds 0-2: KL 0.33-0.35 distilled against 0.67-0.84 control, value MSE
    0.13-0.14 against 0.62-0.69; required: at most 0.7x and 0.5x the control's."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    teacher = nets.build("zero_resnet", board_size=SIZE, blocks=1, filters=16).eval()
    with torch.no_grad():
        teacher.policy_head[-1].weight.mul_(4)  # a peaked policy, as a trained net's
    x, held = planes(128, g), planes(512, g)
    with torch.no_grad():
        logits_BA, v_B = teacher(x)
    hard_BA = F.one_hot(torch.multinomial(torch.softmax(logits_BA, 1), 1, generator=g)[:, 0], A).float()
    z_B = torch.where(torch.rand(len(x), generator=g) < (v_B + 1) / 2, 1.0, -1.0)
    control = teach(seed, 0.0, teacher, x, hard_BA, z_B, held)
    distilled = teach(seed, 0.5, teacher, x, hard_BA, z_B, held)
    assert distilled["policy_kl"] < 0.7 * control["policy_kl"], (distilled, control)
    assert distilled["value_mse"] < 0.5 * control["value_mse"], (distilled, control)


def test_loss_terms_are_the_formulas():
    torch.manual_seed(0)
    s, t = torch.randn(4, A), torch.randn(4, A)
    sv, tv, z = torch.rand(4) * 2 - 1, torch.rand(4) * 2 - 1, torch.sign(torch.randn(4))
    pi = torch.softmax(torch.randn(4, A), 1)
    T = 3.0
    loss, terms = distill_loss(s, sv, t, tv, pi, z, T, alpha=0.25)
    p_t, p_s = torch.softmax(t / T, 1), torch.softmax(s / T, 1)
    kl = (p_t * (p_t.log() - p_s.log())).sum(1).mean() * T * T
    hard = -(pi * torch.log_softmax(s, 1)).sum(1).mean() + ((sv - z) ** 2).mean()
    expected = 0.25 * (kl + ((sv - tv) ** 2).mean()) + 0.75 * hard
    assert abs(terms["soft_policy"] - kl.item()) < 1e-5
    torch.testing.assert_close(loss, expected)
    zero, _ = distill_loss(t, tv, t, tv, pi, z, T, alpha=1.0)  # a student equal to its teacher: nothing to learn
    assert abs(zero.item()) < 1e-6


def test_student_sizes_and_bad_settings():
    config = student_config("6x32", 9)
    assert (config.blocks, config.filters, config.board_size) == (5, 32, 9)
    for bad in ("6", "0x32", "6x", "big"):
        with pytest.raises(ValueError, match="BLOCKSxFILTERS"):
            student_config(bad, 9)
    with pytest.raises(ValueError, match="alpha"):
        DistillConfig(alpha=1.5)
    with pytest.raises(ValueError, match="temperature"):
        DistillConfig(temperature=0)
