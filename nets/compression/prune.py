"""Structured channel pruning of the Go nets with torch-pruning, and unstructured magnitude pruning as the
baseline it is measured against.

Structured pruning (Li et al. 2017, "Pruning filters for efficient ConvNets", ICLR; torch-pruning's
dependency graph: Fang et al. 2023, "DepGraph: towards any structural pruning", CVPR) removes whole output
channels of a convolution, and with them the matching BN entries and input channels of every layer that
reads them. In a ResNet the residual sums tie channels together: the stem's output and every block's
second convolution are added channel by channel, so they lose the same channels or the sum is wrong.
torch-pruning finds those groups by tracing the graph; this module then rebuilds the result as a
`zero_resnet_pruned` / `lee_policy_pruned` net (nets/compression/pruned_nets.py) and copies the weights
in, so what is saved is a real smaller net whose config names its widths.

Importance of a channel group (PruneConfig.importance):

    l1, l2    the group's weight magnitude, Σ|w| or Σw² (Li et al. 2017)
    bn        |γ| of the group's batch norms (Liu et al. 2017, "Network slimming", ICCV)
    taylor    |w · ∂L/∂w|, the first-order estimate of the loss change when the group is removed
              (Molchanov et al. 2019, "Importance estimation for neural network pruning", CVPR),
              gradients taken on one batch of the fine-tuning data before each pruning step

Schedules: one-shot (steps=1) removes `ratio` of each group's channels at once; iterative (steps=k)
removes them in k equal steps with `finetune_steps` of training after each (Han et al. 2015, "Learning
both weights and connections", NeurIPS: prune, retrain, repeat). The heads keep their size (the paper's 2
and 1 planes and fully connected layers, or the pooled heads' planes and the layers reading their pooled
features); only their input channels follow the trunk. torch-pruning traces the pooled policy head's
concatenation of mean and max correctly (pruning a pooled channel drops both of its columns in the linear
layers), so keeping the pooled heads whole is a choice, as it is for the paper's heads: on a trained net's
trunk they are a small share of the weights and compute, and they hold every output.

Unstructured magnitude pruning (`magnitude_prune`, Han et al. 2015) zeroes the smallest weights one by
one: the tensors keep their shape, so a dense convolution kernel does the same work on the zeros
(bench/compress.py measures that it is no faster).

Fine-tuning data comes from the caller as a `batches()` function returning (planes_BCHW, policy_BA,
value_B) tensors, so this module reads no replay records itself (rl/compression/ does).
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.compression.pruned_nets import PrunedLeePolicy, PrunedZeroResNet, build_lee_policy_pruned, \
    build_zero_resnet_pruned
from nets.go.lee import LeePolicy
from nets.go.zero_resnet import ZeroResNet

IMPORTANCES = ("l1", "l2", "bn", "taylor")

Batches = Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]
"""Returns one training batch: planes_BCHW float32, policy_BA (target distributions), value_B (z)."""
Progress = Callable[[str, int, int], None]
"""progress(phase, done, total): called as pruning and fine-tuning advance."""


@dataclass(frozen=True)
class PruneConfig:
    ratio: float = 0.5
    """Fraction of each channel group's channels removed (0 < ratio < 1)."""
    importance: str = "l2"
    """How channels are ranked: l1, l2, bn or taylor (module docstring)."""
    steps: int = 1
    """Pruning steps: 1 is one-shot; k removes ratio/k of the original channels per step."""
    finetune_steps: int = 0
    """Optimiser steps on the fine-tuning batches after each pruning step."""
    lr: float = 0.01
    """SGD (momentum 0.9) learning rate of fine-tuning."""
    weight_decay: float = 1e-4
    global_pruning: bool = False
    """Rank channels across all groups at once (widths then differ per block) rather than per group."""

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio < 1.0:
            raise ValueError(f"ratio must be between 0 and 1 (exclusive), not {self.ratio}")
        if self.importance not in IMPORTANCES:
            raise ValueError(f"importance must be one of {', '.join(IMPORTANCES)}, not {self.importance!r}")
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, not {self.steps}")
        if self.finetune_steps < 0:
            raise ValueError(f"finetune_steps must be non-negative, not {self.finetune_steps}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, not {self.lr}")


def _importance(name: str):
    import torch_pruning as tp

    return {
        "l1": lambda: tp.importance.MagnitudeImportance(p=1),
        "l2": lambda: tp.importance.MagnitudeImportance(p=2),
        "bn": lambda: tp.importance.BNScaleImportance(),
        "taylor": lambda: tp.importance.TaylorImportance(),
    }[name]()


def _check_prunable(model: nn.Module) -> None:
    if isinstance(model, ZeroResNet):
        config = model.config
        if getattr(config, "block", "post") != "post" or getattr(config, "global_pool", False):
            raise ValueError("structured pruning handles AlphaGo Zero's 'post' blocks without global pooling in "
                             f"the blocks, not block={config.block!r}, global_pool={config.global_pool}")
        if getattr(config, "aux_heads", False):
            raise ValueError("structured pruning does not handle the ownership and score heads (aux_heads): "
                             "distill the net into a smaller one instead (goengine compress distill)")
    elif not isinstance(model, LeePolicy):
        raise ValueError(f"structured pruning handles zero_resnet and lee_policy nets, not {type(model).__name__}")


def _ignored(model: nn.Module) -> list[nn.Module]:
    """Layers whose output channels stay: the heads (their inputs still follow the trunk). With pooled heads
    that must be every layer of them, the linear ones too: otherwise the value head's hidden layer is a
    prunable group of its own and loses `ratio` of its VALUE_HIDDEN units."""
    if isinstance(model, ZeroResNet):
        heads = [*model.policy_head.modules(), *model.value_head.modules()]
        return [m for m in heads if isinstance(m, (nn.Conv2d, nn.Linear))]
    return [model.head]


def rebuild(model: nn.Module) -> nn.Module:
    """The registered pruned net with `model`'s current widths, holding `model`'s weights (eval mode).
    `model` is a ZeroResNet or LeePolicy whose layers torch-pruning has narrowed in place."""
    if isinstance(model, ZeroResNet):
        pooled = model.config.pool_heads
        small: nn.Module = build_zero_resnet_pruned(
            board_size=model.config.board_size, in_planes=model.config.in_planes,
            trunk=model.stem[0].out_channels, mids=[block.branch[0].out_channels for block in model.tower],
            pool_heads=pooled, head_channels=model.policy_head.p_conv.out_channels if pooled else None)
    else:
        convs = [m for m in model.trunk if isinstance(m, nn.Conv2d)]
        small = build_lee_policy_pruned(board_size=model.config.board_size, in_planes=model.config.in_planes,
                                        widths=[c.out_channels for c in convs])
    small.load_state_dict(model.state_dict())
    return small.eval()


def net_loss(model: nn.Module, planes_BCHW: torch.Tensor, policy_BA: torch.Tensor, value_B: torch.Tensor
             ) -> torch.Tensor:
    """AlphaGo Zero's loss without the L2 term: -π·log p + (z - v)². The Lee policy (no pass, no value)
    gets the cross-entropy to the targets over the board points, renormalised."""
    if isinstance(model, LeePolicy):
        points = model.config.board_size ** 2
        target_BA = policy_BA[:, :points]
        target_BA = target_BA / target_BA.sum(dim=1, keepdim=True).clamp_min(1e-8)
        return -(target_BA * F.log_softmax(model(planes_BCHW), dim=1)).sum(dim=1).mean()
    logits_BA, v_B = model(planes_BCHW)
    return -(policy_BA * F.log_softmax(logits_BA, dim=1)).sum(dim=1).mean() + F.mse_loss(v_B, value_B)


def finetune(model: nn.Module, batches: Batches, steps: int, lr: float = 0.01, weight_decay: float = 1e-4,
             progress: Progress | None = None, phase: str = "fine-tune") -> list[float]:
    """`steps` of SGD with momentum on `batches()`; returns the loss of each step. Leaves eval mode."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    losses = []
    model.train()
    for step in range(steps):
        loss = net_loss(model, *batches())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if progress is not None:
            progress(phase, step + 1, steps)
    model.eval()
    return losses


def _pruner(tp, work: nn.Module, example_NCHW: torch.Tensor, config: PruneConfig):
    return tp.pruner.MetaPruner(
        work, example_NCHW, importance=_importance(config.importance), pruning_ratio=config.ratio,
        iterative_steps=config.steps, ignored_layers=_ignored(work), global_pruning=config.global_pruning,
        output_transform=(lambda out: out[0].sum() + out[1].sum()) if isinstance(work, ZeroResNet) else None,
    )


def prune(model: nn.Module, config: PruneConfig = PruneConfig(), batches: Batches | None = None,
          progress: Progress | None = None) -> nn.Module:
    """A new, smaller net: `model` (zero_resnet "post" without global_pool, zero_resnet_pruned, lee_policy or
    lee_policy_pruned) with `config.ratio` of every channel group removed, fine-tuned on `batches` after
    each step. `model` itself is left as it was."""
    import torch_pruning as tp

    _check_prunable(model)
    if batches is None and (config.finetune_steps > 0 or config.importance == "taylor"):
        raise ValueError("fine-tuning and Taylor importance need training batches")
    work = copy.deepcopy(model).eval()
    size, planes = work.config.board_size, work.config.in_planes
    example_NCHW = torch.zeros(1, planes, size, size)
    with warnings.catch_warnings():
        # the Lee policy's per-point bias is a bare parameter; it sits after the head, whose channels stay
        warnings.filterwarnings("ignore", message="Unwrapped parameters detected")
        pruner = _pruner(tp, work, example_NCHW, config)
    for step in range(config.steps):
        if config.importance == "taylor":
            work.zero_grad(set_to_none=True)
            work.eval()  # gradients at the net as it plays (BN running statistics)
            net_loss(work, *batches()).backward()
        pruner.step()
        work.zero_grad(set_to_none=True)
        if progress is not None:
            progress("prune", step + 1, config.steps)
        if config.finetune_steps:
            finetune(work, batches, config.finetune_steps, config.lr, config.weight_decay, progress,
                     phase=f"fine-tune {step + 1}/{config.steps}")
    return rebuild(work)


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def magnitude_prune(model: nn.Module, sparsity: float) -> nn.Module:
    """A copy of `model` with the fraction `sparsity` of its conv and linear weights of smallest |w| set to
    zero, ranked across all those layers at once (Han et al. 2015). Shapes are unchanged."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must be in [0, 1), not {sparsity}")
    sparse = copy.deepcopy(model).eval()
    weights = [m.weight for m in sparse.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if sparsity == 0 or not weights:
        return sparse
    magnitudes = torch.cat([w.detach().abs().flatten() for w in weights])
    k = int(sparsity * magnitudes.numel())
    threshold = magnitudes.kthvalue(k).values if k > 0 else magnitudes.min() - 1
    with torch.no_grad():
        for w in weights:
            w.mul_((w.abs() > threshold).to(w.dtype))
    return sparse


def sparsity(model: nn.Module) -> float:
    """Fraction of conv and linear weights that are exactly zero."""
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    total = sum(w.numel() for w in weights)
    return sum(int((w == 0).sum()) for w in weights) / max(total, 1)


__all__ = ["IMPORTANCES", "PruneConfig", "PrunedLeePolicy", "PrunedZeroResNet", "finetune", "magnitude_prune",
           "net_loss", "param_count", "prune", "rebuild", "sparsity"]
