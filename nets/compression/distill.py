"""Knowledge distillation of an AlphaGo Zero net into a smaller one (Hinton, Vinyals & Dean 2015,
"Distilling the knowledge in a neural network").

The student learns on replay positions from two sources, mixed by a weight α (DistillConfig.alpha):

    soft   T² · KL(softmax(t/T) ‖ softmax(s/T))   the teacher's policy logits t at temperature T against
                                                  the student's s (T² keeps the gradient's size the same
                                                  as T changes, Hinton et al. sec. 2)
           + (v_s - v_t)²                         the teacher's value
    hard   -π · log softmax(s) + (v_s - z)²       the recorded visit distribution π and game result z,
                                                  AlphaGo Zero's own loss (Silver et al. 2017)

    loss = α · soft + (1 - α) · hard

α = 0 is the control: the same student, data, steps and seeds, trained on the hard targets alone.
Fine-tuning data come from the caller as a `batches()` function (as in prune.py); rl/compression/ reads
them from a run's replay records.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.go.presets import ZeroConfig
from nets.go.zero_resnet import ZeroResNet

Batches = Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DistillConfig:
    temperature: float = 2.0
    """T: softens both policies before they are compared."""
    alpha: float = 0.5
    """Weight of the teacher's (soft) targets; 0 trains on the hard targets alone (the control)."""
    steps: int = 1000
    lr: float = 1e-3
    """AdamW learning rate."""
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, not {self.temperature}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], not {self.alpha}")
        if self.steps < 0:
            raise ValueError(f"steps must be non-negative, not {self.steps}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, not {self.lr}")


def student_config(spec: str, board_size: int, in_planes: int = 17) -> ZeroConfig:
    """The ZeroConfig of a student named like a preset: "6x32" is 6 blocks counting the stem (5
    residual blocks) of 32 filters (nets/go/presets.py)."""
    match = re.fullmatch(r"(\d+)x(\d+)", spec.strip())
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise ValueError(f"student must be BLOCKSxFILTERS such as 6x32, not {spec!r}")
    return ZeroConfig(board_size=board_size, in_planes=in_planes, blocks=int(match.group(1)) - 1,
                      filters=int(match.group(2)))


def distill_loss(student_logits_BA: torch.Tensor, student_v_B: torch.Tensor, teacher_logits_BA: torch.Tensor,
                 teacher_v_B: torch.Tensor, policy_BA: torch.Tensor, z_B: torch.Tensor, temperature: float,
                 alpha: float) -> tuple[torch.Tensor, dict[str, float]]:
    """(loss, its terms) of the module docstring, averaged over the batch."""
    T = temperature
    soft_policy = F.kl_div(F.log_softmax(student_logits_BA / T, dim=1), F.log_softmax(teacher_logits_BA / T, dim=1),
                           reduction="batchmean", log_target=True) * T * T
    soft_value = F.mse_loss(student_v_B, teacher_v_B)
    hard_policy = -(policy_BA * F.log_softmax(student_logits_BA, dim=1)).sum(dim=1).mean()
    hard_value = F.mse_loss(student_v_B, z_B)
    loss = alpha * (soft_policy + soft_value) + (1 - alpha) * (hard_policy + hard_value)
    return loss, {"loss": loss.item(), "soft_policy": soft_policy.item(), "soft_value": soft_value.item(),
                  "hard_policy": hard_policy.item(), "hard_value": hard_value.item()}


def distill(student: nn.Module, teacher: nn.Module, batches: Batches, config: DistillConfig = DistillConfig(),
            progress: Progress | None = None) -> list[dict[str, float]]:
    """Train `student` in place for `config.steps` on `batches()` against `teacher` (frozen, eval mode);
    returns each step's loss terms. The student is left in eval mode."""
    if isinstance(student, ZeroResNet) and isinstance(teacher, ZeroResNet):
        for field in ("board_size", "in_planes"):
            if getattr(student.config, field) != getattr(teacher.config, field):
                raise ValueError(f"student and teacher differ in {field}: "
                                 f"{getattr(student.config, field)} against {getattr(teacher.config, field)}")
    optimizer = torch.optim.AdamW(student.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    teacher.eval()
    history = []
    for step in range(config.steps):
        planes_BCHW, policy_BA, z_B = batches()
        with torch.no_grad():
            teacher_logits_BA, teacher_v_B = teacher(planes_BCHW)
        student.train()
        logits_BA, v_B = student(planes_BCHW)
        loss, terms = distill_loss(logits_BA, v_B, teacher_logits_BA, teacher_v_B, policy_BA, z_B,
                                   config.temperature, config.alpha)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append(terms)
        if progress is not None:
            progress("distill", step + 1, config.steps)
    student.eval()
    return history


@torch.no_grad()
def agreement(model: nn.Module, reference: nn.Module, planes_BCHW: torch.Tensor, batch: int = 256
              ) -> dict[str, float]:
    """How closely `model` follows `reference` on the given planes: top-1 policy agreement, mean KL of
    the policies (reference ‖ model), value MSE."""
    model.eval()
    reference.eval()
    same = kl = mse = 0.0
    for lo in range(0, len(planes_BCHW), batch):
        x = planes_BCHW[lo:lo + batch]
        logits, v = model(x)
        ref_logits, ref_v = reference(x)
        same += float((logits.argmax(1) == ref_logits.argmax(1)).sum())
        kl += float(F.kl_div(F.log_softmax(logits.float(), 1), F.log_softmax(ref_logits.float(), 1),
                             reduction="sum", log_target=True))
        mse += float(((v.float() - ref_v.float()) ** 2).sum())
    n = max(len(planes_BCHW), 1)
    return {"top1_agreement": same / n, "policy_kl": kl / n, "value_mse": mse / n}
