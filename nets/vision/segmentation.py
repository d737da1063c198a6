"""Semantic segmentation: FCN, unpooling with switches (SegNet), and dilated context aggregation.

    FCN             Long, Shelhamer & Darrell 2015. A classifier turned fully convolutional; class scores
                    at stride 2^S are upsampled by transposed convolutions initialised to bilinear
                    interpolation, fused with 1×1 score maps of shallower stages (skips: FCN-32s/16s/8s).
    max pooling     Zeiler & Fergus 2014, Noh et al. 2015, Badrinarayanan et al. 2017 (SegNet): pooling
    with switches   records where each maximum came from (the *switch*, a flat index into its H·W
                    plane); unpooling writes each value back to that place and zeros elsewhere, and its
                    gradient reads the upstream gradient at the same places.
    SegNet          an encoder of conv-BN-ReLU stages with pooling, a mirrored decoder that unpools with
                    the encoder's switches, then convolves the sparse maps dense again.
    context module  Yu & Koltun 2016, Table 1: 3×3 convolutions dilated 1, 1, 2, 4, 8, 16, 1 grow the
                    receptive field exponentially (to 67×67) without losing resolution; identity
                    initialisation lets it start as a no-op on top of a front end.

`mean_iou` is the benchmark's score: intersection over union per class over the whole set, averaged.
Where the papers fine-tune VGG-16 these small versions train from scratch, so convolutions are
followed by batch norm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.registry import register

VGG16_STAGES: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
"""Rows (channels, convolutions) of VGG-16's five stages, each ending in 2×2 max pooling."""


def conv_bn_relu(in_channels: int, out_channels: int, dilation: int = 1, stride: int = 1) -> nn.Sequential:
    """A 3×3 convolution that keeps the size (for stride 1) at any dilation, then batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def bilinear_kernel(channels: int, kernel_size: int) -> torch.Tensor:
    """Weights (C, C, k, k) for a transposed convolution that upsamples each channel bilinearly on its
    own (FCN §3.3); with stride f, kernel 2f and padding f/2 it equals bilinear interpolation inside."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    taps_k = 1 - (torch.arange(kernel_size, dtype=torch.float32) - center).abs() / factor
    weight_CCkk = torch.zeros(channels, channels, kernel_size, kernel_size)
    weight_CCkk[range(channels), range(channels)] = taps_k[:, None] * taps_k[None, :]
    return weight_CCkk


def upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """A learnable ×`factor` upsampling of `channels` score maps, initialised to bilinear interpolation."""
    up = nn.ConvTranspose2d(channels, channels, 2 * factor, factor, padding=factor // 2, bias=False)
    with torch.no_grad():
        up.weight.copy_(bilinear_kernel(channels, 2 * factor))
    return up


# ---------------------------------------------------------------------------------------------------- FCN


@dataclass(frozen=True)
class FCNConfig:
    in_channels: int = 3
    """Image channels."""
    num_classes: int = 21
    """Classes including background (PASCAL VOC: 20 + 1)."""
    stages: tuple[tuple[int, int], ...] = VGG16_STAGES
    """Encoder rows (channels, 3×3 convs), each stage ending in 2×2 max pooling: output stride 2^S."""
    head_channels: int = 1024
    """Width of the 3×3 conv-BN-ReLU standing for VGG's fc6/fc7 on the coarsest map, before the 1×1 scores."""
    skips: int = 2
    """Shallower pooled stages fused into the scores: 0 = FCN-32s, 1 = FCN-16s, 2 = FCN-8s."""


class FCN(nn.Module):
    """Long et al. 2015, Figure 3: coarse scores upsampled ×2 and summed with 1×1 scores of ever
    shallower pooled maps, then one transposed convolution up to the input size. Inputs must have
    sides divisible by 2^S."""

    def __init__(self, config: FCNConfig) -> None:
        super().__init__()
        if not 0 <= config.skips < len(config.stages):
            raise ValueError(f"skips must lie in [0, {len(config.stages) - 1}], got {config.skips}")
        self.config = config
        self.stages = nn.ModuleList()
        channels = config.in_channels
        for width, convs in config.stages:
            layers = [conv_bn_relu(channels if i == 0 else width, width) for i in range(convs)]
            self.stages.append(nn.Sequential(*layers, nn.MaxPool2d(2, 2)))
            channels = width
        self.head = nn.Sequential(
            conv_bn_relu(channels, config.head_channels), nn.Conv2d(config.head_channels, config.num_classes, 1)
        )
        k = config.num_classes
        # Score maps of the skipped stages, deepest first; zero-initialised so training starts from FCN-32s (§4.2).
        skip_widths = [width for width, _ in config.stages[-1 - config.skips : -1]][::-1]
        self.skip_scores = nn.ModuleList(nn.Conv2d(w, k, 1) for w in skip_widths)
        for score in self.skip_scores:
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.bias)
        self.skip_ups = nn.ModuleList(upsampler(k, 2) for _ in skip_widths)
        self.final_up = upsampler(k, 2 ** (len(config.stages) - config.skips))

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        pooled = []
        for stage in self.stages:
            x_NCHW = stage(x_NCHW)
            pooled.append(x_NCHW)
        scores_NKhw = self.head(x_NCHW)
        for i, (score, up) in enumerate(zip(self.skip_scores, self.skip_ups)):
            scores_NKhw = up(scores_NKhw) + score(pooled[-2 - i])  # stride halves with every fusion
        return self.final_up(scores_NKhw)


# ------------------------------------------------------------------------------- pooling with switches


def max_pool2d_with_switches(
    x_NCHW: torch.Tensor, kernel_size: int, stride: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Max pooling (no padding) returning the maxima and their switches: for every output the flat
    index row·W + col of the winning input in its (H, W) plane, the convention of torch's indices.
    Where a window holds two equal maxima either may be chosen, so switches can then differ from torch's."""
    stride = kernel_size if stride is None else stride
    n, c, h, w = x_NCHW.shape
    out_h, out_w = (h - kernel_size) // stride + 1, (w - kernel_size) // stride + 1
    windows = F.unfold(x_NCHW.reshape(n * c, 1, h, w), kernel_size, stride=stride)  # (N·C, k·k, h'·w')
    values, within = windows.max(dim=1)  # (N·C, h'·w'): the maximum and its place inside its window
    top = torch.arange(out_h, device=x_NCHW.device).repeat_interleave(out_w) * stride  # window corners
    left = torch.arange(out_w, device=x_NCHW.device).repeat(out_h) * stride
    switches = (top + within // kernel_size) * w + left + within % kernel_size
    return values.reshape(n, c, out_h, out_w), switches.reshape(n, c, out_h, out_w)  # (N·C, h'w') -> (N, C, h', w')


class _Unpool(torch.autograd.Function):
    """Scatter by switches forward; gather by the same switches backward."""

    @staticmethod
    def forward(ctx, x_NChw: torch.Tensor, switches_NChw: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
        n, c = x_NChw.shape[:2]
        ctx.save_for_backward(switches_NChw)
        out_NCm = x_NChw.new_zeros(n, c, out_h * out_w)
        out_NCm.scatter_(2, switches_NChw.flatten(2), x_NChw.flatten(2))  # (N, C, h, w) -> (N, C, h·w)
        return out_NCm.view(n, c, out_h, out_w)  # (N, C, H·W) -> (N, C, H, W)

    @staticmethod
    def backward(ctx, grad_NCHW: torch.Tensor):
        (switches_NChw,) = ctx.saved_tensors
        grad_NCm = grad_NCHW.reshape(*grad_NCHW.shape[:2], -1)  # (N, C, H, W) -> (N, C, H·W)
        grad_x = grad_NCm.gather(2, switches_NChw.flatten(2)).view_as(switches_NChw)  # back to (N, C, h, w)
        return grad_x, None, None, None


def max_unpool2d(
    x_NChw: torch.Tensor,
    switches_NChw: torch.Tensor,
    kernel_size: int,
    stride: int | None = None,
    output_size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Place every value of `x_NChw` at its switch in a zero map of `output_size` (by default
    (h − 1)·stride + kernel_size per side, as torch.nn.MaxUnpool2d without padding computes it)."""
    stride = kernel_size if stride is None else stride
    if output_size is None:
        output_size = ((x_NChw.shape[2] - 1) * stride + kernel_size, (x_NChw.shape[3] - 1) * stride + kernel_size)
    out_h, out_w = output_size[-2:]
    return _Unpool.apply(x_NChw, switches_NChw, out_h, out_w)


# ------------------------------------------------------------------------------------------------- SegNet


@dataclass(frozen=True)
class SegNetConfig:
    in_channels: int = 3
    """Image channels."""
    num_classes: int = 12
    """Classes including background (CamVid as in SegNet: 11 + void)."""
    stages: tuple[tuple[int, int], ...] = VGG16_STAGES
    """Encoder rows (channels, 3×3 convs), each followed by 2×2 pooling with switches; the decoder mirrors them."""


class SegNet(nn.Module):
    """Badrinarayanan, Kendall & Cipolla 2017, Figure 2: encoder stages pool and remember their
    switches; decoder stage i unpools with encoder stage i's switches and convolves, its last
    convolution narrowing to the width of the stage before; a 1×1 convolution gives class scores."""

    def __init__(self, config: SegNetConfig) -> None:
        super().__init__()
        self.config = config
        self.encoders = nn.ModuleList()
        channels = config.in_channels
        for width, convs in config.stages:
            layers = [conv_bn_relu(channels if i == 0 else width, width) for i in range(convs)]
            self.encoders.append(nn.Sequential(*layers))
            channels = width
        self.decoders = nn.ModuleList()
        widths = [width for width, _ in config.stages]
        for i in reversed(range(len(config.stages))):
            width, convs = config.stages[i]
            narrow = widths[i - 1] if i > 0 else width
            layers = [conv_bn_relu(width, width) for _ in range(convs - 1)] + [conv_bn_relu(width, narrow)]
            self.decoders.append(nn.Sequential(*layers))
        self.classifier = nn.Conv2d(widths[0], config.num_classes, 1)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        remembered = []
        for encoder in self.encoders:
            x_NCHW = encoder(x_NCHW)
            size = x_NCHW.shape[-2:]
            x_NCHW, switches = max_pool2d_with_switches(x_NCHW, 2)
            remembered.append((switches, size))
        for decoder, (switches, size) in zip(self.decoders, reversed(remembered)):
            x_NCHW = decoder(max_unpool2d(x_NCHW, switches, 2, output_size=size))
        return self.classifier(x_NCHW)


# ---------------------------------------------------------------------------------- dilated convolutions


class ContextModule(nn.Module):
    """Yu & Koltun 2016, Table 1 ("basic"): C channels in and out, 3×3 convolutions at `dilations`
    each followed by ReLU, then a 1×1 convolution with no truncation. Padding equals dilation, so the
    resolution never changes. `identity_init` sets every filter to pass its own channel's centre tap
    (§3, eq. 4), making the module an identity on non-negative input before training."""

    def __init__(
        self, channels: int, dilations: tuple[int, ...] = (1, 1, 2, 4, 8, 16, 1), identity_init: bool = True
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for d in dilations:
            layers += [nn.Conv2d(channels, channels, 3, padding=d, dilation=d), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(channels, channels, 1))
        self.layers = nn.Sequential(*layers)
        if identity_init:
            for m in self.layers:
                if isinstance(m, nn.Conv2d):
                    centre = m.kernel_size[0] // 2
                    with torch.no_grad():
                        m.weight.zero_()
                        m.weight[range(channels), range(channels), centre, centre] = 1.0
                        m.bias.zero_()

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        return self.layers(x_NCHW)


@dataclass(frozen=True)
class DilatedNetConfig:
    in_channels: int = 3
    """Image channels."""
    num_classes: int = 21
    """Classes including background."""
    front_end: tuple[tuple[int, int, int], ...] = (
        (64, 1, 1), (128, 1, 2), (256, 1, 2), (512, 1, 2), (512, 2, 1), (512, 4, 1)
    )
    """Rows (channels, dilation, stride) of 3×3 conv-BN-ReLU layers: strides shrink the map,
    dilations then widen the view at fixed resolution (§4: VGG with its last pools replaced by dilation)."""
    context_dilations: tuple[int, ...] = (1, 1, 2, 4, 8, 16, 1)
    """Dilations of the context module's 3×3 layers."""


class DilatedNet(nn.Module):
    """Front end (strided, then dilated convolutions), the context module, 1×1 class scores, and
    bilinear upsampling by the front end's total stride back to the input size (§4-5).

    The paper trains the front end first and then puts the context module on its 21 class-score maps.
    Trained jointly from scratch, scores start with random signs and the module's ReLUs would silence
    the negative ones, so here the module works on the front end's last feature maps instead: they
    are non-negative (they leave a ReLU), so the identity initialisation is an exact no-op at the start.
    """

    def __init__(self, config: DilatedNetConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        channels = config.in_channels
        for width, dilation, stride in config.front_end:
            layers.append(conv_bn_relu(channels, width, dilation, stride))
            channels = width
        self.front_end = nn.Sequential(*layers)
        self.context = ContextModule(channels, config.context_dilations)
        self.score = nn.Conv2d(channels, config.num_classes, 1)
        self.output_stride = math.prod(stride for _, _, stride in config.front_end)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        scores_NKhw = self.score(self.context(self.front_end(x_NCHW)))
        return F.interpolate(scores_NKhw, size=x_NCHW.shape[-2:], mode="bilinear", align_corners=False)


def mean_iou(predicted_NHW: torch.Tensor, target_NHW: torch.Tensor, num_classes: int) -> float:
    """Mean over classes present in either map of |P ∩ T| / |P ∪ T|, each summed over all images."""
    pairs_P = target_NHW.flatten() * num_classes + predicted_NHW.flatten()  # (N, H, W) -> (N·H·W,)
    counts = torch.bincount(pairs_P, minlength=num_classes**2)
    confusion_KK = counts.reshape(num_classes, num_classes)  # (K²,) -> (K, K): rows truth, columns prediction
    intersection_K = confusion_KK.diagonal()
    union_K = confusion_KK.sum(0) + confusion_KK.sum(1) - intersection_K
    present = union_K > 0
    return (intersection_K[present].double() / union_K[present].double()).mean().item()


@register("fcn")
def fcn(**config) -> FCN:
    """FCN; keyword arguments are `FCNConfig` fields (defaults: FCN-8s on VGG-16 stages)."""
    return FCN(FCNConfig(**config))


@register("segnet")
def segnet(**config) -> SegNet:
    """SegNet; keyword arguments are `SegNetConfig` fields (defaults: the VGG-16 encoder)."""
    return SegNet(SegNetConfig(**config))


@register("dilated_context")
def dilated_context(channels: int, **options) -> ContextModule:
    """The context module alone; options: dilations, identity_init."""
    return ContextModule(channels, **options)


@register("dilated_net")
def dilated_net(**config) -> DilatedNet:
    """Front end + context module segmenter; keyword arguments are `DilatedNetConfig` fields."""
    return DilatedNet(DilatedNetConfig(**config))
