"""Batch, layer, instance and group normalisation written from their formulas.

All four compute  y = γ · (x − μ) / sqrt(σ² + ε) + β  and differ only in which elements share one μ, σ²:

    batch     (Ioffe & Szegedy 2015)   per channel, over the batch and all spatial positions
    layer     (Ba, Kiros & Hinton 2016) per sample, over the trailing `normalized_shape` dimensions
    instance  (Ulyanov et al. 2016)    per sample and channel, over spatial positions
    group     (Wu & He 2018)           per sample and group of C/G channels, over those channels and positions

σ² used for normalising is always the biased variance (divide by n). Batch and instance norm may keep
running statistics for eval mode; like torch they store the *unbiased* variance (divide by n − 1) there,
and blend with factor `momentum` (running ← (1 − momentum)·running + momentum·batch). Parameter and
buffer names match torch.nn so a state_dict moves between these modules and torch's unchanged.
Gradients come from autograd through the formula; the tests compare them with torch's fused kernels.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from nets.registry import register


def _standardize(x: torch.Tensor, mean: torch.Tensor, var: torch.Tensor, eps: float) -> torch.Tensor:
    """(x − μ) / sqrt(σ² + ε), with mean and var already broadcastable against x."""
    return (x - mean) / torch.sqrt(var + eps)


def _channel_view(v_C: torch.Tensor, ndim: int) -> torch.Tensor:
    """A per-channel vector shaped to broadcast over an (N, C, *spatial) tensor of `ndim` dims."""
    return v_C.view(1, -1, *([1] * (ndim - 2)))  # (C,) -> (1, C, 1, ..., 1)


class _RunningStatsNorm(nn.Module):
    """What batch and instance norm share: per-channel γ, β and the optional running mean/var buffers."""

    def __init__(
        self, num_features: int, eps: float, momentum: float | None, affine: bool, track_running_stats: bool
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def _blend_running(self, mean_C: torch.Tensor, unbiased_var_C: torch.Tensor, factor: float) -> None:
        with torch.no_grad():
            self.running_mean.mul_(1.0 - factor).add_(factor * mean_C)
            self.running_var.mul_(1.0 - factor).add_(factor * unbiased_var_C)

    def _scale_shift(self, x_hat: torch.Tensor) -> torch.Tensor:
        if not self.affine:
            return x_hat
        return x_hat * _channel_view(self.weight, x_hat.dim()) + _channel_view(self.bias, x_hat.dim())

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm(_RunningStatsNorm):
    """Batch normalisation (Ioffe & Szegedy 2015, Algorithm 1 and 2) over (N, C, *spatial) inputs.

    Training mode normalises with the mini-batch statistics over N and every spatial position and, when
    tracking, blends them into the running buffers; `momentum=None` gives the cumulative average
    1/num_batches_tracked like torch. Eval mode uses the running buffers, or the batch when there are none.
    Works for 1-d, 2-d and 3-d inputs alike, so it stands in for BatchNorm1d/2d/3d.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)

    def forward(self, x_NC_: torch.Tensor) -> torch.Tensor:
        if x_NC_.dim() < 2 or x_NC_.shape[1] != self.num_features:
            raise ValueError(f"expected (N, {self.num_features}, ...) input, got {tuple(x_NC_.shape)}")
        reduce_dims = [0, *range(2, x_NC_.dim())]
        use_batch_stats = self.training or self.running_mean is None
        if use_batch_stats:
            values_per_channel = x_NC_.numel() // self.num_features
            if self.training and values_per_channel < 2:
                raise ValueError("batch norm in training needs more than one value per channel")
            mean_C = x_NC_.mean(dim=reduce_dims)
            var_C = x_NC_.var(dim=reduce_dims, correction=0)
            if self.training and self.track_running_stats:
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                # Bessel's correction: the running estimate is of the population variance.
                unbiased_C = var_C.detach() * values_per_channel / (values_per_channel - 1)
                self._blend_running(mean_C.detach(), unbiased_C, factor)
        else:
            mean_C, var_C = self.running_mean, self.running_var
        ndim = x_NC_.dim()
        x_hat = _standardize(x_NC_, _channel_view(mean_C, ndim), _channel_view(var_C, ndim), self.eps)
        return self._scale_shift(x_hat)


class InstanceNorm2d(_RunningStatsNorm):
    """Instance normalisation (Ulyanov, Vedaldi & Lempitsky 2016, eq. 2) over (N, C, H, W) inputs.

    Each (sample, channel) plane is standardised by its own mean and variance. With
    `track_running_stats`, the running buffers blend the *average over the batch* of the per-instance
    means and unbiased variances, and eval mode uses them; `momentum=None` means no update, as in torch.
    Like torch, num_batches_tracked exists for state_dict compatibility but is never advanced.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        if x_NCHW.dim() != 4 or x_NCHW.shape[1] != self.num_features:
            raise ValueError(f"expected (N, {self.num_features}, H, W) input, got {tuple(x_NCHW.shape)}")
        use_instance_stats = self.training or not self.track_running_stats
        if use_instance_stats:
            plane_size = x_NCHW.shape[2] * x_NCHW.shape[3]
            if plane_size < 2:
                raise ValueError("instance norm needs more than one spatial element per plane")
            mean_NC11 = x_NCHW.mean(dim=(2, 3), keepdim=True)
            var_NC11 = x_NCHW.var(dim=(2, 3), keepdim=True, correction=0)
            if self.training and self.track_running_stats:
                factor = 0.0 if self.momentum is None else self.momentum
                mean_C = mean_NC11.detach().mean(dim=0).flatten()  # (N, C, 1, 1) -> (C,)
                unbiased_C = (var_NC11.detach() * plane_size / (plane_size - 1)).mean(dim=0).flatten()
                self._blend_running(mean_C, unbiased_C, factor)
        else:
            mean_NC11 = _channel_view(self.running_mean, 4)
            var_NC11 = _channel_view(self.running_var, 4)
        return self._scale_shift(_standardize(x_NCHW, mean_NC11, var_NC11, self.eps))


class LayerNorm(nn.Module):
    """Layer normalisation (Ba, Kiros & Hinton 2016, eq. 4): statistics over the trailing
    `normalized_shape` dimensions of each sample; γ and β have that shape. No running statistics:
    training and eval compute the same thing."""

    def __init__(
        self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5, elementwise_affine: bool = True
    ) -> None:
        super().__init__()
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape))
            self.bias = nn.Parameter(torch.zeros(self.normalized_shape))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = len(self.normalized_shape)
        if tuple(x.shape[-d:]) != self.normalized_shape:
            raise ValueError(f"expected trailing shape {self.normalized_shape}, got {tuple(x.shape)}")
        dims = tuple(range(-d, 0))
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, correction=0)
        x_hat = _standardize(x, mean, var, self.eps)
        if not self.elementwise_affine:
            return x_hat
        return x_hat * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(nn.Module):
    """Group normalisation (Wu & He 2018, eq. 1 and Figure 3's code): the C channels of each sample are
    split into G groups of C/G consecutive channels, each standardised over its channels and positions.
    G = 1 is layer norm over (C, *spatial); G = C is instance norm. γ, β are per channel."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels {num_channels} is not divisible by num_groups {num_groups}")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = nn.Parameter(torch.ones(num_channels))
            self.bias = nn.Parameter(torch.zeros(num_channels))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x_NC_: torch.Tensor) -> torch.Tensor:
        if x_NC_.dim() < 2 or x_NC_.shape[1] != self.num_channels:
            raise ValueError(f"expected (N, {self.num_channels}, ...) input, got {tuple(x_NC_.shape)}")
        n = x_NC_.shape[0]
        x_NGm = x_NC_.reshape(n, self.num_groups, -1)  # (N, C, *S) -> (N, G, C/G · prod(S))
        mean_NG1 = x_NGm.mean(dim=2, keepdim=True)
        var_NG1 = x_NGm.var(dim=2, keepdim=True, correction=0)
        x_hat = _standardize(x_NGm, mean_NG1, var_NG1, self.eps).reshape(x_NC_.shape)  # back to (N, C, *S)
        if not self.affine:
            return x_hat
        return x_hat * _channel_view(self.weight, x_hat.dim()) + _channel_view(self.bias, x_hat.dim())

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


@register("batch_norm")
def batch_norm(num_features: int, **options) -> BatchNorm:
    """Build a `BatchNorm`; options are its keyword arguments (eps, momentum, affine, track_running_stats)."""
    return BatchNorm(num_features, **options)


@register("layer_norm")
def layer_norm(normalized_shape: int | tuple[int, ...], **options) -> LayerNorm:
    """Build a `LayerNorm`; options: eps, elementwise_affine."""
    return LayerNorm(normalized_shape, **options)


@register("instance_norm")
def instance_norm(num_features: int, **options) -> InstanceNorm2d:
    """Build an `InstanceNorm2d`; options: eps, momentum, affine, track_running_stats."""
    return InstanceNorm2d(num_features, **options)


@register("group_norm")
def group_norm(num_groups: int, num_channels: int, **options) -> GroupNorm:
    """Build a `GroupNorm`; options: eps, affine."""
    return GroupNorm(num_groups, num_channels, **options)

