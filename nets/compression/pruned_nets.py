"""The Go nets after structured pruning: the same layers with fewer channels, described by their widths.

A pruned net is a real smaller net, not the original with masked weights: its checkpoint holds narrower
tensors and its config names every width, so `nets.build(net, **config)` rebuilds it and
`nets/go/checkpoint.py` loads it like any other net.

    zero_resnet_pruned   AlphaGo Zero's ResNet with "post" blocks (nets/go/zero_resnet.py), no global
                         pooling in the blocks; the paper's heads or KataGo's pooled ones (`pool_heads`).
                         Channel groups that pruning must keep aligned:
                           trunk   the stem's output, every block's second conv (the residual sum adds
                                   them channel by channel) and the heads' input: one width, `trunk`
                           mids    each block's first conv and its BN: one width per block, `mids[i]`
                         The heads keep their size: the paper's 2 and 1 planes and FC layers, or the
                         pooled heads' `head_channels` planes (their 1x1 convs, the pooled features
                         and the FC layers reading them). That width is stored, not derived: the
                         unpruned net's min(32, trunk) no longer holds once the trunk is narrower.
    lee_policy_pruned    AlphaGo Lee's policy (nets/go/lee.py): one width per hidden conv, `widths`.

Both keep the parameter and buffer names of the unpruned class, so a state dict moves between them when
the widths agree, ONNX export (nets/compression/onnx_export.py) works unchanged, and the search's
evaluators (which read only `config.board_size` and `config.in_planes`) take them as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch.nn as nn

from nets.go.lee import LeeConfig, LeePolicy
from nets.go.presets import ZeroConfig
from nets.go.zero_resnet import HEAD_CHANNELS, VALUE_HIDDEN, PooledPolicyHead, ZeroResNet
from nets.registry import register


@dataclass(frozen=True)
class PrunedZeroConfig:
    """Widths of a channel-pruned AlphaGo Zero ResNet ("post" blocks, no global pooling in the blocks)."""

    board_size: int = 9
    """N: planes are N x N and the policy has N² + 1 logits."""
    in_planes: int = 17
    """Feature planes in."""
    trunk: int = 64
    """Channels of the residual stream: stem output, every block's output, the heads' input."""
    mids: tuple[int, ...] = (64,) * 5
    """Channels between each block's two convolutions, one entry per residual block."""
    pool_heads: bool = False
    """KataGo's pooled policy and value heads (ZeroConfig.pool_heads). False in checkpoints written before
    pooled heads could be pruned, which had the paper's heads."""
    head_channels: int | None = None
    """Planes of the pooled heads (`pool_heads` only); None is the unpruned net's min(HEAD_CHANNELS, trunk).
    Pruning keeps the heads' width, so a pruned net whose trunk fell below it names it here."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "mids", tuple(int(m) for m in self.mids))
        for field in ("board_size", "in_planes", "trunk"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be positive, got {getattr(self, field)}")
        if any(m < 1 for m in self.mids):
            raise ValueError(f"every block needs at least one channel, got mids={self.mids}")
        if self.head_channels is not None:
            if not self.pool_heads:
                raise ValueError("head_channels only applies to pooled heads (pool_heads=True)")
            if self.head_channels < 1:
                raise ValueError(f"head_channels must be positive, got {self.head_channels}")


class PrunedZeroResNet(ZeroResNet):
    """ZeroResNet whose blocks' inner widths are `mids`, whose residual stream is `trunk` wide and whose pooled
    heads (with `pool_heads`) are `head_channels` wide."""

    net_name: ClassVar[str] = "zero_resnet_pruned"

    def __init__(self, config: PrunedZeroConfig) -> None:
        super().__init__(ZeroConfig(board_size=config.board_size, in_planes=config.in_planes,
                                    blocks=len(config.mids), filters=config.trunk, pool_heads=config.pool_heads))
        self.config = config  # forward reads board_size and in_planes only
        for block, mid in zip(self.tower, config.mids):
            # the "post" recipe CBRCB: branch[0] conv, [1] BN, [2] ReLU, [3] conv, [4] BN
            block.branch[0] = nn.Conv2d(config.trunk, mid, 3, padding=1, bias=False)
            block.branch[1] = nn.BatchNorm2d(mid)
            block.branch[3] = nn.Conv2d(mid, config.trunk, 3, padding=1, bias=False)
        if config.pool_heads:
            head = config.head_channels if config.head_channels is not None else min(HEAD_CHANNELS, config.trunk)
            self.policy_head = PooledPolicyHead(config.trunk, head)
            # the pooled value head: [0] conv, [1] BN, [2] ReLU, [3] MeanPool, [4] FC, [5] ReLU, [6] FC, [7] tanh
            self.value_head[0] = nn.Conv2d(config.trunk, head, 1, bias=False)
            self.value_head[1] = nn.BatchNorm2d(head)
            self.value_head[4] = nn.Linear(head, VALUE_HIDDEN)


@register("zero_resnet_pruned")
def build_zero_resnet_pruned(board_size: int = 9, in_planes: int = 17, trunk: int = 64,
                             mids: tuple[int, ...] | list[int] = (64,) * 5, pool_heads: bool = False,
                             head_channels: int | None = None) -> PrunedZeroResNet:
    """A channel-pruned AlphaGo Zero ResNet from its widths (a checkpoint's config)."""
    return PrunedZeroResNet(PrunedZeroConfig(board_size, in_planes, trunk, tuple(mids), pool_heads, head_channels))


@dataclass(frozen=True)
class PrunedLeeConfig:
    """Widths of a channel-pruned AlphaGo Lee policy net."""

    board_size: int = 19
    in_planes: int = 48
    widths: tuple[int, ...] = (192,) * 12
    """Output channels of layers 1 .. L-1 (the 5x5 conv, then the 3x3 convs); L = len(widths) + 1."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not self.widths or any(w < 1 for w in self.widths):
            raise ValueError(f"widths must be a non-empty list of positive channels, got {self.widths}")
        for field in ("board_size", "in_planes"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be positive, got {getattr(self, field)}")


class PrunedLeePolicy(LeePolicy):
    """LeePolicy with one width per hidden convolution."""

    net_name: ClassVar[str] = "lee_policy_pruned"

    def __init__(self, config: PrunedLeeConfig) -> None:
        super().__init__(LeeConfig(board_size=config.board_size, in_planes=config.in_planes,
                                   filters=config.widths[0], layers=len(config.widths) + 1))
        self.config = config
        channels = config.in_planes
        for i, width in enumerate(config.widths):
            kernel = 5 if i == 0 else 3
            self.trunk[2 * i] = nn.Conv2d(channels, width, kernel, padding=kernel // 2)  # trunk is conv, ReLU, ...
            channels = width
        self.head = nn.Conv2d(channels, 1, 1, bias=False)


@register("lee_policy_pruned")
def build_lee_policy_pruned(board_size: int = 19, in_planes: int = 48,
                            widths: tuple[int, ...] | list[int] = (192,) * 12) -> PrunedLeePolicy:
    """A channel-pruned AlphaGo Lee policy from its widths (a checkpoint's config)."""
    return PrunedLeePolicy(PrunedLeeConfig(board_size, in_planes, tuple(widths)))
