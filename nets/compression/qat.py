"""Quantization-aware fine-tuning (QAT) of an AlphaGo Zero net before static int8 quantization.

Jacob et al. 2018 (CVPR, sec. 3) train with "simulated quantization": the forward pass rounds weights
and activations as the int8 kernels will, and the backward pass treats the rounding as the identity
inside the representable range (the straight-through estimator, Bengio et al. 2013). The net then learns
weights whose rounded versions work. This module simulates exactly what quantize.py's recipe makes of
the net in ONNX Runtime:

    weights       each Conv with the BN after it folded in (w·γ/σ, as the ONNX export folds it), rounded
                  per output channel, symmetric, 7 bits ([-64, 63]: reduce_range)
    activations   the outputs of every ReLU (the stem's, the blocks' inner ones, the heads') and of every
                  residual block (ReLU(branch + shortcut)), rounded per tensor to 8 unsigned bits over
                  [0, max], max tracked as a moving average of the batch maxima (Jacob et al. sec. 3.1)

The BN statistics are frozen during QAT (the fold uses the running statistics), as Jacob et al. do
after a short while and as is usual when fine-tuning a trained net. The heads' fully connected layers stay
fp32, as they do in int8 (Int8Config.op_types).

The rounding is `torch.fake_quantize_per_channel_affine` / `torch.fake_quantize_per_tensor_affine`,
plain torch operators with the straight-through gradient, not the deprecated torch.ao.quantization
workflow. The result is an ordinary fp32 net of the same class (the fold is undone: the trained conv
weights and the unchanged BN are put back), which quantize.py then quantizes as usual.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.go.zero_resnet import ResidualBlock, ZeroResNet

WEIGHT_RANGE = (-64, 63)
"""7-bit signed weights (reduce_range, quantize.py)."""
ACTIVATION_RANGE = (0, 255)
"""8-bit unsigned activations."""
EMA = 0.9
"""Moving-average factor of the activation maxima."""


class FoldedConvBN(nn.Module):
    """conv -> BN (eval statistics) as one conv whose folded weight is fake-quantized per channel."""

    def __init__(self, conv: nn.Conv2d, bn: nn.BatchNorm2d):
        super().__init__()
        self.conv, self.bn = conv, bn

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        scale_C = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        w = self.conv.weight * scale_C[:, None, None, None]  # (C_out, C_in, k, k) * (C_out, 1, 1, 1)
        step_C = (w.detach().abs().amax(dim=(1, 2, 3)) / WEIGHT_RANGE[1]).clamp_min(1e-8)
        w_q = torch.fake_quantize_per_channel_affine(w, step_C.float(), torch.zeros_like(step_C, dtype=torch.int32),
                                                     0, *WEIGHT_RANGE)
        bias_C = self.bn.bias - self.bn.running_mean * scale_C
        return F.conv2d(x_NCHW, w_q, bias_C, padding=self.conv.padding)


class ActivationFakeQuant:
    """A forward hook that rounds a module's (non-negative) output to 8 bits over [0, tracked max]."""

    def __init__(self):
        self.max = None

    def __call__(self, module, inputs, output: torch.Tensor) -> torch.Tensor:
        batch_max = output.detach().max().clamp_min(1e-6)
        self.max = batch_max if self.max is None else EMA * self.max + (1 - EMA) * batch_max
        step = float(self.max) / ACTIVATION_RANGE[1]
        return torch.fake_quantize_per_tensor_affine(output, step, 0, *ACTIVATION_RANGE)


def _conv_bn_pairs(model: ZeroResNet) -> list[tuple[nn.Sequential, int]]:
    """(sequential, index of the conv) of every Conv followed by a BN."""
    pairs = []
    for seq in [model.stem, *(block.branch for block in model.tower), model.policy_head, model.value_head]:
        for i in range(len(seq) - 1):
            if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                pairs.append((seq, i))
    return pairs


def qat_finetune(model: nn.Module, batches: Callable, steps: int, lr: float = 1e-3, weight_decay: float = 0.0,
                 progress: Callable[[str, int, int], None] | None = None) -> nn.Module:
    """A copy of `model` (a "post" ZeroResNet or zero_resnet_pruned) fine-tuned for `steps` SGD steps on
    `batches()` with weights and activations rounded as int8 will round them; returned in eval mode."""
    from nets.compression.prune import net_loss

    config = getattr(model, "config", None)
    pooled = getattr(config, "global_pool", False) or getattr(config, "pool_heads", False)
    if not isinstance(model, ZeroResNet) or pooled:
        raise ValueError("QAT handles AlphaGo Zero ResNets without global pooling (in the blocks or the heads)")
    work = copy.deepcopy(model).eval()
    pairs = _conv_bn_pairs(work)
    for seq, i in pairs:
        seq[i], seq[i + 1] = FoldedConvBN(seq[i], seq[i + 1]), nn.Identity()
    relus = [m for m in work.modules() if isinstance(m, nn.ReLU)]
    blocks = [m for m in work.modules() if isinstance(m, ResidualBlock)]
    handles = [m.register_forward_hook(ActivationFakeQuant()) for m in relus + blocks]
    optimizer = torch.optim.SGD(work.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    try:
        for step in range(steps):
            loss = net_loss(work, *batches())  # eval mode throughout: BN statistics stay frozen
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if progress is not None:
                progress("QAT", step + 1, steps)
    finally:
        for h in handles:
            h.remove()
        for seq, i in pairs:
            folded = seq[i]
            seq[i], seq[i + 1] = folded.conv, folded.bn
    return work.eval()
