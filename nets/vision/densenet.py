"""DenseNet (Huang, Liu, van der Maaten & Weinberger 2017), the architecture as a data table.

Inside a *dense block* every layer receives the concatenation of the block input and all earlier
layers' outputs, and adds k (the *growth rate*) new feature maps: after l layers a block that began
with c0 channels carries c0 + l·k. A layer is BN-ReLU-Conv3×3, or with the *bottleneck* option (the
"-B" in DenseNet-BC) BN-ReLU-Conv1×1 to bn_size·k maps first. Between blocks a *transition layer*
(BN-ReLU-Conv1×1-AvgPool2×2) halves the resolution and, with *compression* θ ∈ (0, 1] (the "-C"),
keeps floor(θ·c) of its c input channels.

`block_config` lists the layers per block (DenseNet-121 is (6, 12, 24, 16)); the stem is either the
ImageNet one (7×7 stride-2 conv, 3×3 max-pool) or, for small images, a single 3×3 conv (§3, CIFAR).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from nets.registry import register


class DenseLayer(nn.Module):
    """One composite function H_l (§3): produces `growth_rate` new maps from all the maps before it."""

    def __init__(self, in_channels: int, growth_rate: int, bottleneck: bool, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        if bottleneck:
            layers += [
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
                nn.Conv2d(channels, bn_size * growth_rate, 1, bias=False),
            ]
            channels = bn_size * growth_rate
        layers += [
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, growth_rate, 3, padding=1, bias=False),
        ]
        if drop_rate > 0:
            layers.append(nn.Dropout(drop_rate))
        self.h = nn.Sequential(*layers)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        return self.h(x_NCHW)


class DenseBlock(nn.Module):
    """`num_layers` dense layers; layer l sees [x0, x1, …, x_{l-1}] concatenated on channels (eq. 2)."""

    def __init__(
        self, num_layers: int, in_channels: int, growth_rate: int, bottleneck: bool, bn_size: int, drop_rate: float
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            DenseLayer(in_channels + i * growth_rate, growth_rate, bottleneck, bn_size, drop_rate)
            for i in range(num_layers)
        )
        self.out_channels = in_channels + num_layers * growth_rate

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        maps = [x_NCHW]
        for layer in self.layers:
            maps.append(layer(torch.cat(maps, dim=1)))  # (N, c0 + l·k, H, W) in, (N, k, H, W) out
        return torch.cat(maps, dim=1)  # (N, c0 + L·k, H, W)


class Transition(nn.Sequential):
    """BN-ReLU-Conv1×1 to `out_channels`, then 2×2 average pooling (§3, "Pooling layers")."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.AvgPool2d(2, 2),
        )
        self.out_channels = out_channels


@dataclass(frozen=True)
class DenseNetConfig:
    in_channels: int = 3
    """Image channels."""
    num_classes: int = 1000
    """Classifier outputs."""
    growth_rate: int = 32
    """k: maps each dense layer adds."""
    block_config: tuple[int, ...] = (6, 12, 24, 16)
    """Dense layers in each block, in order (DenseNet-121)."""
    init_channels: int = 64
    """c0: channels the stem hands to the first block (2k for DenseNet-BC, 16 for plain CIFAR nets)."""
    bottleneck: bool = True
    """Use BN-ReLU-Conv1×1-BN-ReLU-Conv3×3 layers (DenseNet-B)."""
    bn_size: int = 4
    """The bottleneck 1×1 conv produces bn_size·k maps."""
    compression: float = 0.5
    """θ: a transition keeps floor(θ·c) channels (1.0 means no compression)."""
    drop_rate: float = 0.0
    """Dropout after each dense layer's 3×3 conv."""
    imagenet_stem: bool = True
    """7×7/2 conv + 3×3/2 max-pool (ImageNet) if true, else one 3×3/1 conv (CIFAR and smaller images)."""


class DenseNet(nn.Module):
    """Stem, then dense blocks separated by transitions, then BN-ReLU, global average pool and FC."""

    def __init__(self, config: DenseNetConfig) -> None:
        super().__init__()
        if not 0.0 < config.compression <= 1.0:
            raise ValueError(f"compression θ must lie in (0, 1], got {config.compression}")
        self.config = config
        c = config.init_channels
        if config.imagenet_stem:
            stem: list[nn.Module] = [
                nn.Conv2d(config.in_channels, c, 7, 2, 3, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2, 1),
            ]
        else:
            stem = [nn.Conv2d(config.in_channels, c, 3, 1, 1, bias=False)]
        stages: list[nn.Module] = []
        for i, num_layers in enumerate(config.block_config):
            block = DenseBlock(num_layers, c, config.growth_rate, config.bottleneck, config.bn_size, config.drop_rate)
            stages.append(block)
            c = block.out_channels
            if i != len(config.block_config) - 1:
                transition = Transition(c, math.floor(config.compression * c))
                stages.append(transition)
                c = transition.out_channels
        self.features = nn.Sequential(*stem, *stages, nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, config.num_classes)
        self.out_channels = c
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        features_NC = self.pool(self.features(x_NCHW)).flatten(1)  # (N, C, 1, 1) -> (N, C)
        return self.classifier(features_NC)


@register("densenet")
def densenet(**config) -> DenseNet:
    """DenseNet; keyword arguments are `DenseNetConfig` fields (defaults: DenseNet-121 for ImageNet)."""
    return DenseNet(DenseNetConfig(**config))
