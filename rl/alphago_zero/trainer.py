"""AlphaGo Zero's training step and its checkpoints.

Loss (Silver et al. 2017, Nature 550, eq. 1):

    l = (z - v)^2 - pi^T log p + c ||theta||^2

value MSE against the game result z, cross-entropy of the policy p against the search's visit
distribution pi, and L2 regularisation (c = 1e-4 in the paper). A net with KataGo's auxiliary heads
(Wu 2019, sec. 4.1; nets/go/zero_resnet.py) adds, on samples of games played out (not resigned):

    w_o * (1/N²) sum_points BCE((1 + o) / 2, (1 + tanh(o_hat)) / 2)    ownership, KataGo's w_o = 1.5
    w_s * (m / N² - m_hat)^2                                          score margin as a share of the board

each summed over the batch's played-out samples and divided by the batch size, so a resigned game's
sample adds nothing to the loss or its gradient. KataGo predicts the score as a distribution; this
scalar margin with an MSE on the board share (values of order 1, like the value's) is the simple form.

The paper optimises the loss with SGD with momentum 0.9 and a stepped learning rate (Methods
"Optimization"); AdamW (Loshchilov & Hutter 2019) is offered too, and there the L2 term becomes
decoupled weight decay, which is what AdamW is for.

Learning rate schedules, by step s (`lr_at`): linear warm-up over `warmup_steps`, then
    constant   lr
    step       lr * 0.1^(milestones passed), as the paper's drops at fixed steps
    cosine     lr * (0.01 + 0.99 * (1 + cos(pi * s / total_steps)) / 2), Loshchilov & Hutter 2017

A checkpoint is a nets.go.checkpoint file of the net (so `goengine gtp --weights` can play it) whose
`extra` holds everything else needed to carry on exactly: optimizer state, step, the trainer config,
the torch and numpy RNG states, and what the caller adds (replay position, generation).
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from goengine import checks
from nets.go import checkpoint
from rl.alphago_zero.replay import Batch

FEATURE_SET = "zero"


@dataclass(frozen=True)
class TrainerConfig:
    batch_size: int = 256
    optimizer: str = "sgd"
    """"sgd" (with momentum, as the paper) or "adamw"."""
    lr: float = 0.02
    momentum: float = 0.9
    l2: float = 1e-4
    """c in c ||theta||^2 (SGD: a loss term; AdamW: decoupled weight decay 2c, the same gradient)."""
    schedule: str = "constant"
    """"constant", "step" or "cosine"."""
    milestones: tuple[int, ...] = ()
    """Steps at which the "step" schedule divides the rate by 10."""
    total_steps: int = 10_000
    """Horizon of the "cosine" schedule."""
    warmup_steps: int = 0
    value_weight: float = 1.0
    """Weight of the value MSE (1 in the paper; below 1 curbs value overfitting on few games)."""
    ownership_weight: float = 1.5
    """w_o, weight of the ownership loss of nets with auxiliary heads (KataGo's 1.5)."""
    score_weight: float = 1.0
    """w_s, weight of the score-margin loss of nets with auxiliary heads."""

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' or 'adamw', not {self.optimizer!r}")
        if self.schedule not in ("constant", "step", "cosine"):
            raise ValueError(f"schedule must be 'constant', 'step' or 'cosine', not {self.schedule!r}")
        checks.integer("batch_size", self.batch_size, 1)
        checks.number("lr", self.lr, 0, low_open=True)
        checks.number("momentum", self.momentum, 0, 1, high_open=True)
        checks.number("l2", self.l2, 0)
        checks.number("value_weight", self.value_weight, 0)
        checks.number("ownership_weight", self.ownership_weight, 0)
        checks.number("score_weight", self.score_weight, 0)
        checks.integer("total_steps", self.total_steps, 1)
        checks.integer("warmup_steps", self.warmup_steps, 0)
        if not isinstance(self.milestones, tuple):
            raise ValueError(f"milestones must be a tuple of steps, not {self.milestones!r}")
        for step in self.milestones:
            checks.integer("milestones", step, 0)


def lr_at(config: TrainerConfig, step: int) -> float:
    """The learning rate of step `step` (0-based)."""
    scale = 1.0
    if config.warmup_steps > 0 and step < config.warmup_steps:
        scale = (step + 1) / config.warmup_steps
    if config.schedule == "step":
        scale *= 0.1 ** sum(step >= m for m in config.milestones)
    elif config.schedule == "cosine":
        progress = min(step / max(config.total_steps, 1), 1.0)
        scale *= 0.01 + 0.99 * (1 + math.cos(math.pi * progress)) / 2
    return config.lr * scale


def zero_loss(logits_BA: torch.Tensor, v_B: torch.Tensor, policy_BA: torch.Tensor, z_B: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """(policy cross-entropy -pi^T log p, value MSE (z - v)^2), each averaged over the batch."""
    policy_loss = -(policy_BA * F.log_softmax(logits_BA, dim=1)).sum(dim=1).mean()
    value_loss = F.mse_loss(v_B, z_B)
    return policy_loss, value_loss


def aux_loss(ownership_logits_BHW: torch.Tensor, score_B: torch.Tensor, ownership_target_BHW: torch.Tensor,
             score_target_B: torch.Tensor, mask_B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(ownership loss, score loss), each a masked sum over the batch divided by its size. Ownership: the
    mean over points of the binary cross-entropy of (1 + tanh(o_hat)) / 2 = sigmoid(2 o_hat) against
    (1 + o) / 2; score: (m / N² - m_hat)^2 (score_target_B in points, score_B in board shares)."""
    points = ownership_target_BHW.shape[1] * ownership_target_BHW.shape[2]
    ownership_BHW = F.binary_cross_entropy_with_logits(2 * ownership_logits_BHW, (1 + ownership_target_BHW) / 2,
                                                       reduction="none")
    ownership_B = ownership_BHW.mean(dim=(1, 2))  # (B, H, W) -> (B,)
    score_loss_B = (score_target_B / points - score_B) ** 2
    batch = mask_B.shape[0]
    # where(), not a product: a masked sample's loss has no path to the weights at all
    ownership_loss = torch.where(mask_B > 0, ownership_B, torch.zeros_like(ownership_B)).sum() / batch
    score_loss = torch.where(mask_B > 0, score_loss_B, torch.zeros_like(score_loss_B)).sum() / batch
    return ownership_loss, score_loss


def has_aux_heads(model: nn.Module) -> bool:
    """Whether `model` (or the net a DistributedDataParallel wrapper holds) has auxiliary heads."""
    net = getattr(model, "module", model)
    return bool(getattr(getattr(net, "config", None), "aux_heads", False))


def make_optimizer(model: nn.Module, config: TrainerConfig) -> torch.optim.Optimizer:
    """SGD with momentum (the paper), or AdamW with the L2 term as decoupled weight decay."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum)
    return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=2 * config.l2)


def objective(model: nn.Module, batch: Batch, config: TrainerConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss l of one batch (eq. 1; the L2 term only under SGD) and its terms as floats. Trainer's step
    and the distributed backends (selfplay/training) all optimise this one function."""
    planes_BCHW = torch.from_numpy(batch.planes_BCHW)
    aux = has_aux_heads(model)
    if aux:
        logits_BA, v_B, ownership_logits_BHW, score_B = model(planes_BCHW, aux=True)
    else:
        logits_BA, v_B = model(planes_BCHW)
    policy_loss, value_loss = zero_loss(logits_BA, v_B, torch.from_numpy(batch.policy_BA),
                                        torch.from_numpy(batch.value_B))
    l2 = config.l2 * sum((p * p).sum() for p in model.parameters())
    loss = policy_loss + config.value_weight * value_loss
    if config.optimizer == "sgd":
        loss = loss + l2
    terms = {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "l2": l2.item()}
    if aux:
        if batch.aux_mask_B is None:  # a batch from elsewhere without the targets: every sample masked
            b, size = len(batch.value_B), ownership_logits_BHW.shape[1]
            targets = np.zeros((b, size, size), np.float32), np.zeros(b, np.float32), np.zeros(b, np.float32)
        else:
            targets = batch.ownership_BHW, batch.score_B, batch.aux_mask_B
        ownership_loss, score_loss = aux_loss(ownership_logits_BHW, score_B, *map(torch.from_numpy, targets))
        loss = loss + config.ownership_weight * ownership_loss + config.score_weight * score_loss
        terms.update(ownership_loss=ownership_loss.item(), score_loss=score_loss.item(),
                     aux_share=float(targets[2].mean()))
    return loss, terms


class Trainer:
    """Owns the net being trained, its optimizer, the step count and the sampling RNG."""

    def __init__(self, model: nn.Module, config: TrainerConfig = TrainerConfig(), seed: int = 0):
        self.model = model
        self.config = config
        self.step = 0
        self.rng = np.random.default_rng(seed)
        """Draws the replay samples and symmetries; saved in checkpoints."""
        torch.manual_seed(seed)
        self.optimizer = make_optimizer(model, config)

    def l2_term(self) -> torch.Tensor:
        return self.config.l2 * sum((p * p).sum() for p in self.model.parameters())

    def train_step(self, batch: Batch) -> dict[str, float]:
        """One optimisation step on `batch`; returns the loss terms and the learning rate used."""
        lr = lr_at(self.config, self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        loss, terms = objective(self.model, batch, self.config)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        self.model.eval()
        return {"loss": loss.item(), **terms, "lr": lr}

    # --- checkpoints ---
    def state(self) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "trainer_config": {k: list(v) if isinstance(v, tuple) else v
                               for k, v in dataclasses.asdict(self.config).items()},
            "numpy_rng": self.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        }

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        """Write the net and the trainer's state atomically (nets.go.checkpoint), with `extra` beside."""
        checkpoint.save(path, self.model, feature_set=FEATURE_SET, extra={"trainer": self.state(), **(extra or {})})

    @classmethod
    def load(cls, path: str | os.PathLike, board_size: int | None = None) -> tuple["Trainer", dict]:
        """A trainer exactly as saved, and the checkpoint's extra dict. CheckpointError for a file that
        is unreadable, for another board size, or lacks the trainer's state."""
        model, meta = checkpoint.load(path, board_size=board_size, feature_set=FEATURE_SET)
        extra = meta.extra if isinstance(meta.extra, dict) else {}
        state = extra.get("trainer")
        if not isinstance(state, dict):
            raise checkpoint.CheckpointError(f"checkpoint {os.fspath(path)}: holds a net but no trainer state")
        try:
            fields = dict(state["trainer_config"])
            fields["milestones"] = tuple(fields.get("milestones", ()))
            trainer = cls(model, TrainerConfig(**fields))
            if not isinstance(state["optimizer"], dict):
                raise TypeError(f"optimizer state must be a dict, not {type(state['optimizer']).__name__}")
            trainer.optimizer.load_state_dict(state["optimizer"])
            trainer.step = checks.integer("step", state["step"], 0)
            trainer.rng.bit_generator.state = state["numpy_rng"]
            torch_rng = state["torch_rng"]
            if not isinstance(torch_rng, torch.Tensor) or torch_rng.dtype != torch.uint8:
                what = f"a {torch_rng.dtype}" if isinstance(torch_rng, torch.Tensor) else type(torch_rng).__name__
                raise TypeError(f"torch RNG state must be a torch.uint8 tensor, not {what}")
            torch.set_rng_state(torch_rng)  # RuntimeError for bytes that are no generator's state
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise checkpoint.CheckpointError(f"checkpoint {os.fspath(path)}: bad trainer state ({e})") from e
        return trainer, extra
