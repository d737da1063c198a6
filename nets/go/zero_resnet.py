"""The AlphaGo Zero residual network (Silver et al. 2017, "Mastering the game of Go without human
knowledge", Nature 550, Methods: "Neural network architecture"), with residual block variants from the
ResNet literature and KataGo's global pooling as options.

    stem          3x3 conv (no bias) -> BN -> ReLU
    tower         `blocks` residual blocks of the chosen style (BLOCK_STYLES below)
    tip           BN -> ReLU, only for styles whose blocks leave the sum un-activated
    policy head   1x1 conv to 2 planes -> BN -> ReLU -> FC to N² + 1 logits (index N² is pass)
    value head    1x1 conv to 1 plane -> BN -> ReLU -> FC 256 -> ReLU -> FC 1 -> tanh

Auxiliary heads (`aux_heads`; Wu 2019, sec. 4.1), training targets only, computed by `forward(x, aux=True)`:

    ownership     1x1 conv to 1 plane (with bias): o per point, tanh(o) in [-1, 1] is the predicted final
                  owner from the view of the player to move (+1 the mover's, -1 the opponent's)
    score         FC 1 on the value head's 256 hidden units: the final area margin (komi included) from the
                  mover's view, as a share of the board (points / N²)

With `pool_heads` (KataGo's heads, Wu 2019, sec. 3.2 and Appendix A), both heads read the board through
global pooling instead of a fully connected layer over every point:

    policy head   1x1 conv to P = C_h planes and, in parallel, to G = C_h planes -> BN -> ReLU; G is mean-
                  and max-pooled over the board; FC(pooled G) adds one bias per P channel; P -> BN -> ReLU
                  -> 1x1 conv to one logit per point; the pass logit is FC(pooled G)
    value head    1x1 conv to C_h planes -> BN -> ReLU -> mean-pooled -> FC 256 -> ReLU -> FC 1 -> tanh

C_h = min(32, trunk channels), KataGo's head width on its small nets. The heads then have no weight tied
to a board point, so their size no longer grows with N² and the policy's board logits come from a
convolution, as the trunk's features do.

The value head pools by the mean only, as KataGo's does (its value pooling is three means, two of them
scaled by the board size, which on the one board size a net here plays are the same feature). With the max
as well, the hidden layer got a large, nearly constant input (the largest of each channel's N² activations)
that acts as a bias with a large learning rate: in 7x7 self-play at lr 0.03 one run in four drove tanh's
input to +15 in its first generation and the value never learned again (value loss 1.8-2.0 for 20
generations; docs/global-pool.md).

The score head shares the value head's hidden layer, as KataGo's value head outputs the value and the score
from one hidden layer, so the score's gradient shapes the features the value reads.

Every convolution feeds a batch norm, so none has a bias: the norm's β is that bias.

Block styles are rows of a table, read by the one `ResidualBlock` class. A row's recipe spells the
residual branch with C = conv, B = batch norm, R = ReLU; the block returns branch(x) + shortcut(x),
then a ReLU where `relu_after_add`:

    post        CBRCB + ReLU   He et al. 2016a, "Deep residual learning", Fig. 2 (AlphaGo Zero's block)
    pre         BRCBRC         He et al. 2016b, "Identity mappings in deep residual networks", Fig. 1b
    bottleneck  CBRCBRCB + ReLU  1x1 reduce to filters/4, 3x3, 1x1 expand: He et al. 2016a, Fig. 5
    wide        BRCBRC         Zagoruyko & Komodakis 2016, "Wide residual networks": pre-activation
                               blocks with `widen` x filters channels (their dropout is left out)
    pyramid     BCBRCB         Han et al. 2017, "Deep pyramidal residual networks", Fig. 6d: block i
                               has filters + floor(i * pyramid_step) channels; the shortcut pads the
                               new channels with zeros (or projects, `shortcut="project"`)

Global pooling (Wu 2019, "Accelerating self-play learning in Go", KataGo, sec. 3.2): with
`global_pool`, each block's first convolution gets a parallel convolution to C/4 channels whose BN-ReLU
output is mean- and max-pooled over the board; a linear layer turns those pooled values into one bias
per channel of the first convolution, so a block can react to the whole board at once (ko fights, who
is ahead). KataGo also scales a third pooled copy by board size; that is left out here, in the blocks and
in the heads (a net here plays the one board size it was trained on).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.go._shapes import check_planes
from nets.go.presets import ZeroConfig, zero_config
from nets.registry import register

VALUE_HIDDEN = 256
"""Units of the value head's hidden fully connected layer (the paper's 256)."""

HEAD_CHANNELS = 32
"""Channels of the pooled heads' 1x1 convolutions (`pool_heads`; the trunk's width if that is narrower)."""


@dataclass(frozen=True)
class BlockStyle:
    """One row of BLOCK_STYLES: the layout of a residual block."""

    recipe: str
    """Branch ops in order: C = conv, B = batch norm, R = ReLU."""
    kernels: tuple[int, ...]
    """Kernel size of each C, in order."""
    squeeze: int
    """Every C but the last outputs (block channels) // squeeze channels: the bottleneck's reduction."""
    relu_after_add: bool
    """ReLU on branch + shortcut (post-activation); styles without it need the tower's BN-ReLU tip."""


BLOCK_STYLES: dict[str, BlockStyle] = {
    "post": BlockStyle("CBRCB", (3, 3), 1, True),
    "pre": BlockStyle("BRCBRC", (3, 3), 1, False),
    "bottleneck": BlockStyle("CBRCBRCB", (1, 3, 1), 4, True),
    "wide": BlockStyle("BRCBRC", (3, 3), 1, False),
    "pyramid": BlockStyle("BCBRCB", (3, 3), 1, False),
}


def trunk_widths(config: ZeroConfig) -> list[int]:
    """Channels out of the stem (index 0) and out of residual block i (index i).

    The config allows widen != 1 only for "wide" and pyramid_step != 0 only for "pyramid", so one
    formula serves every style.
    """
    base = config.filters * config.widen
    return [base + math.floor(i * config.pyramid_step) for i in range(config.blocks + 1)]


class GlobalPool(nn.Module):
    """(N, C, H, W) -> (N, 2C): each channel's mean over the board, then each channel's max."""

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        return torch.cat([x_NCHW.mean(dim=(2, 3)), x_NCHW.amax(dim=(2, 3))], dim=1)  # (N, C) x2 -> (N, 2C)


class MeanPool(nn.Module):
    """(N, C, H, W) -> (N, C): each channel's mean over the board (the pooled value head's only pooling)."""

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        return x_NCHW.mean(dim=(2, 3))


class GlobalPoolConv(nn.Module):
    """A convolution plus KataGo's global pooling bias: conv(x) + FC([mean(g), max(g)]) per channel."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int) -> None:
        super().__init__()
        pooled = max(1, out_channels // 4)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False)
        self.pool_conv = nn.Conv2d(in_channels, pooled, kernel, padding=kernel // 2, bias=False)
        self.pool_norm = nn.BatchNorm2d(pooled)
        self.pool = GlobalPool()
        # A BN follows this layer in every style, so a constant bias here would be cancelled.
        self.to_bias = nn.Linear(2 * pooled, out_channels, bias=False)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        pooled_N2G = self.pool(F.relu(self.pool_norm(self.pool_conv(x_NCHW))))
        bias_NC = self.to_bias(pooled_N2G)
        return self.conv(x_NCHW) + bias_NC[:, :, None, None]  # (N, C) -> (N, C, 1, 1)


class PooledPolicyHead(nn.Module):
    """KataGo's policy head: trunk (N, C, H, W) -> logits (N, H * W + 1), the last one pass."""

    def __init__(self, trunk: int, channels: int) -> None:
        super().__init__()
        self.p_conv = nn.Conv2d(trunk, channels, 1, bias=False)
        self.g_conv = nn.Conv2d(trunk, channels, 1, bias=False)
        self.g_norm = nn.BatchNorm2d(channels)
        self.pool = GlobalPool()
        self.to_bias = nn.Linear(2 * channels, channels, bias=False)  # p_norm follows: a bias would cancel
        self.p_norm = nn.BatchNorm2d(channels)
        self.to_logit = nn.Conv2d(channels, 1, 1, bias=False)  # softmax ignores a bias shared by all points
        self.to_pass = nn.Linear(2 * channels, 1)  # ... but not one between the points and pass

    def forward(self, h_NCHW: torch.Tensor) -> torch.Tensor:
        pooled_N2G = self.pool(F.relu(self.g_norm(self.g_conv(h_NCHW))))
        p_NPHW = self.p_conv(h_NCHW) + self.to_bias(pooled_N2G)[:, :, None, None]  # (N, P) -> (N, P, 1, 1)
        board_NA = self.to_logit(F.relu(self.p_norm(p_NPHW))).flatten(1)  # (N, 1, H, W) -> (N, H * W)
        return torch.cat([board_NA, self.to_pass(pooled_N2G)], dim=1)


class ZeroPadShortcut(nn.Module):
    """PyramidNet's shortcut: the identity with the block's new channels filled with zeros."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.extra = out_channels - in_channels

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        return F.pad(x_NCHW, (0, 0, 0, 0, 0, self.extra))  # (N, C, H, W) -> (N, C + extra, H, W)


class ResidualBlock(nn.Module):
    """branch(x) + shortcut(x), the branch spelled out by a BlockStyle row."""

    def __init__(
        self, style: BlockStyle, in_channels: int, out_channels: int, *, global_pool: bool, shortcut: str
    ) -> None:
        super().__init__()
        self.relu_after_add = style.relu_after_add
        n_convs = style.recipe.count("C")
        widths = [out_channels // style.squeeze] * (n_convs - 1) + [out_channels]
        ops: list[nn.Module] = []
        channels, conv_index = in_channels, 0
        for op in style.recipe:
            if op == "C":
                kernel, width = style.kernels[conv_index], widths[conv_index]
                if global_pool and conv_index == 0:
                    ops.append(GlobalPoolConv(channels, width, kernel))
                else:
                    ops.append(nn.Conv2d(channels, width, kernel, padding=kernel // 2, bias=False))
                channels, conv_index = width, conv_index + 1
            elif op == "B":
                ops.append(nn.BatchNorm2d(channels))
            elif op == "R":
                ops.append(nn.ReLU())
            else:
                raise ValueError(f"unknown op {op!r} in block recipe {style.recipe!r}")
        self.branch = nn.Sequential(*ops)
        if in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        elif shortcut == "zero":
            self.shortcut = ZeroPadShortcut(in_channels, out_channels)
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        out_NCHW = self.branch(x_NCHW) + self.shortcut(x_NCHW)
        return F.relu(out_NCHW) if self.relu_after_add else out_NCHW


class ZeroResNet(nn.Module):
    """planes_NCHW -> (policy_logits_NA with A = N² + 1, index N² = pass; value_N in [-1, 1])."""

    net_name: ClassVar[str] = "zero_resnet"

    def __init__(self, config: ZeroConfig) -> None:
        super().__init__()
        if config.block not in BLOCK_STYLES:
            raise ValueError(f"unknown block style {config.block!r}; available: {', '.join(BLOCK_STYLES)}")
        self.config = config
        style = BLOCK_STYLES[config.block]
        widths = trunk_widths(config)
        self.stem = nn.Sequential(
            nn.Conv2d(config.in_planes, widths[0], 3, padding=1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
        )
        self.tower = nn.Sequential(
            *(
                ResidualBlock(style, c_in, c_out, global_pool=config.global_pool, shortcut=config.shortcut)
                for c_in, c_out in zip(widths[:-1], widths[1:])
            )
        )
        trunk = widths[-1]
        self.tip = nn.Identity() if style.relu_after_add else nn.Sequential(nn.BatchNorm2d(trunk), nn.ReLU())
        points = config.board_size**2
        if config.pool_heads:
            head = min(HEAD_CHANNELS, trunk)
            self.policy_head: nn.Module = PooledPolicyHead(trunk, head)
            self.value_head = nn.Sequential(
                nn.Conv2d(trunk, head, 1, bias=False), nn.BatchNorm2d(head), nn.ReLU(),
                MeanPool(),  # (N, C_h, H, W) -> (N, C_h)
                nn.Linear(head, VALUE_HIDDEN), nn.ReLU(),
                nn.Linear(VALUE_HIDDEN, 1), nn.Tanh(),
            )
        else:
            self.policy_head = nn.Sequential(
                nn.Conv2d(trunk, 2, 1, bias=False), nn.BatchNorm2d(2), nn.ReLU(),
                nn.Flatten(),  # (N, 2, H, W) -> (N, 2 * H * W)
                nn.Linear(2 * points, points + 1),
            )
            self.value_head = nn.Sequential(
                nn.Conv2d(trunk, 1, 1, bias=False), nn.BatchNorm2d(1), nn.ReLU(),
                nn.Flatten(),  # (N, 1, H, W) -> (N, H * W)
                nn.Linear(points, VALUE_HIDDEN), nn.ReLU(),
                nn.Linear(VALUE_HIDDEN, 1), nn.Tanh(),
            )
        if config.aux_heads:  # new modules only: a net without them keeps its parameter names
            self.ownership_head = nn.Conv2d(trunk, 1, 1)
            self.score_head = nn.Linear(VALUE_HIDDEN, 1)

    def forward(self, x_NCHW: torch.Tensor, aux: bool = False):
        """(policy_logits_NA, value_N); with aux=True (nets with `aux_heads` only) also
        ownership_logits_NHW (tanh of it: the final owner of each point, +1 the mover's) and score_N (the
        final margin from the mover's view, points / N²). A flag rather than another method, so that a
        DistributedDataParallel wrapper, which hooks only forward, carries the auxiliary outputs too."""
        check_planes(x_NCHW, self.config.in_planes, self.config.board_size)
        h_NCHW = self.tip(self.tower(self.stem(x_NCHW)))
        policy_logits_NA = self.policy_head(h_NCHW)
        if not aux:
            value_N = self.value_head(h_NCHW).squeeze(1)  # (N, 1) -> (N,)
            return policy_logits_NA, value_N
        if not self.config.aux_heads:
            raise ValueError("this net has no auxiliary heads (build it with aux_heads=True)")
        hidden_NV = self.value_head[:-2](h_NCHW)  # the value head up to its hidden ReLU: (N, VALUE_HIDDEN)
        value_N = self.value_head[-2:](hidden_NV).squeeze(1)  # (N, 1) -> (N,)
        ownership_logits_NHW = self.ownership_head(h_NCHW).squeeze(1)  # (N, 1, H, W) -> (N, H, W)
        score_N = self.score_head(hidden_NV).squeeze(1)  # (N, 1) -> (N,)
        return policy_logits_NA, value_N, ownership_logits_NHW, score_N


@register("zero_resnet")
def build_zero_resnet(preset: str | None = None, **fields) -> ZeroResNet:
    """AlphaGo Zero's net from `ZeroConfig` fields, or from a preset name (see presets.py) with overrides.

    Without arguments this is the paper's 20-block network (19 residual blocks of 256 filters, 19x19).
    """
    config = zero_config(preset, **fields) if preset is not None else ZeroConfig(**fields)
    return ZeroResNet(config)
