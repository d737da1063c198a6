"""MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018), architectures as data tables.

v1 replaces each standard D_K×D_K convolution (M input, N output channels) by a *depthwise separable*
one: a depthwise D_K×D_K convolution (one filter per input channel) then a pointwise 1×1 convolution.
On a D_F×D_F map this costs D_K²·M·D_F² + M·N·D_F² multiply-adds instead of D_K²·M·N·D_F², a ratio of
1/N + 1/D_K² (paper eq. 5, the paper's symbols). The width multiplier α thins every layer uniformly.

v2 stacks *inverted residual* blocks: a 1×1 expansion by factor t, a 3×3 depthwise convolution, and a
1×1 projection with no activation (the *linear bottleneck*: ReLU on the narrow representation would
destroy information, paper §3.2); a residual joins the narrow ends when shapes allow.

Tables follow torchvision's `mobilenet_v2`: one row per stage, (t, c, n, s) = expansion, output
channels, repeats, stride of the first repeat. v1 rows are (c, n, s). Channel counts are α·c rounded
to a multiple of `round_nearest` with `make_divisible`. `count_multiply_adds` measures a model's
mult-adds with forward hooks, so the paper's figures can be checked against the built network.
Start reading at `DepthwiseSeparableConv` and `InvertedResidual`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from nets.registry import register

# Howard et al. 2017, Table 1 (its last depthwise row's "s2" is a typo: the map stays 7×7).
V1_IMAGENET: tuple[tuple[int, int, int], ...] = (
    (64, 1, 1),
    (128, 2, 2),
    (256, 2, 2),
    (512, 6, 2),
    (1024, 2, 2),
)

# Sandler et al. 2018, Table 2.
V2_IMAGENET: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """Round `value` to the nearest multiple of `divisor` (at least `min_value`, default `divisor`),
    never dropping more than 10% below `value` (torchvision's `_make_divisible`)."""
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBNAct(nn.Sequential):
    """Convolution (no bias: BN supplies the shift), batch norm, then an optional activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        activation: type[nn.Module] | None = nn.ReLU,
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False
            ),
            nn.BatchNorm2d(out_channels),
        ]
        if activation is not None:
            layers.append(activation(inplace=True))
        super().__init__(*layers)


class DepthwiseSeparableConv(nn.Sequential):
    """Howard et al. 2017, Figure 3: depthwise D_K×D_K conv-BN-ReLU, then pointwise 1×1 conv-BN-ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        kernel_size: int = 3,
        activation: type[nn.Module] = nn.ReLU,
    ) -> None:
        super().__init__(
            ConvBNAct(in_channels, in_channels, kernel_size, stride, groups=in_channels, activation=activation),
            ConvBNAct(in_channels, out_channels, 1, activation=activation),
        )


class InvertedResidual(nn.Module):
    """Sandler et al. 2018, Table 1 / Figure 4: expand 1×1 (×t) + ReLU6, depthwise 3×3 + ReLU6,
    linear 1×1 projection; identity shortcut when stride is 1 and channels match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = int(round(in_channels * expand_ratio))
        self.use_residual = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNAct(in_channels, hidden, 1, activation=nn.ReLU6))
        layers += [
            ConvBNAct(hidden, hidden, 3, stride, groups=hidden, activation=nn.ReLU6),
            ConvBNAct(hidden, out_channels, 1, activation=None),  # the linear bottleneck
        ]
        self.block = nn.Sequential(*layers)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        out = self.block(x_NCHW)
        return x_NCHW + out if self.use_residual else out


def _init_weights(model: nn.Module) -> None:
    # torchvision's MobileNet initialisation: He (fan-out) for convs, small normal for the classifier.
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


@dataclass(frozen=True)
class MobileNetV1Config:
    in_channels: int = 3
    """Image channels."""
    num_classes: int = 1000
    """Classifier outputs."""
    width_mult: float = 1.0
    """α: every layer's channel count is scaled by it (paper §4.2)."""
    stem_channels: int = 32
    """Output channels of the first, standard 3×3 convolution (before α)."""
    stem_stride: int = 2
    """Stride of that first convolution; 1 suits tiny images such as 8×8 digits."""
    table: tuple[tuple[int, int, int], ...] = V1_IMAGENET
    """Rows (c, n, s): n depthwise separable layers with c output channels, the first with stride s."""
    round_nearest: int = 8
    """Channel counts after α are rounded to multiples of this."""
    dropout: float = 0.0
    """Dropout before the classifier (the paper uses none)."""


class MobileNetV1(nn.Module):
    """Howard et al. 2017, Table 1: a standard 3×3 stem, depthwise separable layers, average pool, FC."""

    def __init__(self, config: MobileNetV1Config) -> None:
        super().__init__()
        self.config = config
        channels = make_divisible(config.stem_channels * config.width_mult, config.round_nearest)
        layers: list[nn.Module] = [ConvBNAct(config.in_channels, channels, 3, config.stem_stride)]
        for c, n, s in config.table:
            out_channels = make_divisible(c * config.width_mult, config.round_nearest)
            for i in range(n):
                layers.append(DepthwiseSeparableConv(channels, out_channels, s if i == 0 else 1))
                channels = out_channels
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(channels, config.num_classes))
        _init_weights(self)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        features_NC = self.pool(self.features(x_NCHW)).flatten(1)  # (N, C, 1, 1) -> (N, C)
        return self.classifier(features_NC)


@dataclass(frozen=True)
class MobileNetV2Config:
    in_channels: int = 3
    """Image channels."""
    num_classes: int = 1000
    """Classifier outputs."""
    width_mult: float = 1.0
    """Width multiplier: scales every layer except that the last 1×1 conv never shrinks below its width."""
    stem_channels: int = 32
    """Output channels of the first, standard 3×3 convolution (before the multiplier)."""
    stem_stride: int = 2
    """Stride of that first convolution; 1 suits tiny images."""
    table: tuple[tuple[int, int, int, int], ...] = V2_IMAGENET
    """Rows (t, c, n, s): n inverted residual blocks, expansion t, c output channels, first stride s."""
    last_channels: int = 1280
    """Channels of the final 1×1 convolution before pooling."""
    round_nearest: int = 8
    """Channel counts after the multiplier are rounded to multiples of this."""
    dropout: float = 0.2
    """Dropout before the classifier."""


class MobileNetV2(nn.Module):
    """Sandler et al. 2018, Table 2: 3×3 stem, inverted residual stages from the table, 1×1 conv to
    `last_channels`, average pool, dropout, FC."""

    def __init__(self, config: MobileNetV2Config) -> None:
        super().__init__()
        self.config = config
        channels = make_divisible(config.stem_channels * config.width_mult, config.round_nearest)
        last = make_divisible(config.last_channels * max(1.0, config.width_mult), config.round_nearest)
        stem = ConvBNAct(config.in_channels, channels, 3, config.stem_stride, activation=nn.ReLU6)
        layers: list[nn.Module] = [stem]
        for t, c, n, s in config.table:
            out_channels = make_divisible(c * config.width_mult, config.round_nearest)
            for i in range(n):
                layers.append(InvertedResidual(channels, out_channels, s if i == 0 else 1, t))
                channels = out_channels
        layers.append(ConvBNAct(channels, last, 1, activation=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(last, config.num_classes))
        _init_weights(self)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        features_NC = self.pool(self.features(x_NCHW)).flatten(1)  # (N, C, 1, 1) -> (N, C)
        return self.classifier(features_NC)


def count_multiply_adds(model: nn.Module, x_NCHW: torch.Tensor) -> dict[str, int]:
    """Multiply-adds per sample of every Conv2d and Linear in `model` on input `x_NCHW`, by module name.

    Measured with forward hooks from what each layer actually produced: every output element of a
    convolution costs (in_channels / groups) · k_h · k_w multiply-adds, of a linear layer in_features.
    Batch norm, activations, pooling and additions are not counted, as in the papers' tables.
    """
    counts: dict[str, int] = {}

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            per_output = module.weight[0].numel()  # conv: (C_in/groups)·k_h·k_w; linear: in_features
            counts[name] = counts.get(name, 0) + output[0].numel() * per_output

        return hook

    handles = [
        m.register_forward_hook(hook_for(name))
        for name, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    was_training = model.training
    model.eval()  # a training-mode pass would move batch-norm running statistics
    try:
        with torch.no_grad():
            model(x_NCHW[:1])
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return counts


@register("mobilenet_v1")
def mobilenet_v1(**config) -> MobileNetV1:
    """MobileNet v1; keyword arguments are `MobileNetV1Config` fields (defaults: the ImageNet model)."""
    return MobileNetV1(MobileNetV1Config(**config))


@register("mobilenet_v2")
def mobilenet_v2(**config) -> MobileNetV2:
    """MobileNet v2; keyword arguments are `MobileNetV2Config` fields (defaults: the ImageNet model)."""
    return MobileNetV2(MobileNetV2Config(**config))
