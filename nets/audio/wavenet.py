"""WaveNet: van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio" (arXiv:1609.03499).

Read in this order: μ-law companding and quantisation (section 2.2), the causal dilated convolution
(section 2.1), the gated residual block with its skip output (sections 2.3-2.4), then `WaveNet` itself, its
receptive field and its sample-by-sample generation.

The net models p(x_t | x_1..x_{t-1}) as a softmax over the quantised amplitudes: output column t is the
distribution of sample t + 1, computed from samples 0..t only.

Shape letters: N batch, T time, C channels (Q = quantisation classes, R residual, G gate, K skip).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.registry import register


def mu_law_compand(x: torch.Tensor, mu: int = 255) -> torch.Tensor:
    """f(x) = sign(x) ln(1 + μ|x|) / ln(1 + μ) for x in [-1, 1] (eq. in section 2.2)."""
    return torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)


def mu_law_expand(y: torch.Tensor, mu: int = 255) -> torch.Tensor:
    """The inverse of `mu_law_compand`: x = sign(y) ((1 + μ)^|y| - 1) / μ."""
    return torch.sign(y) * (torch.pow(1.0 + mu, y.abs()) - 1.0) / mu


def mu_law_encode(x: torch.Tensor, mu: int = 255) -> torch.Tensor:
    """Amplitudes in [-1, 1] -> class ids 0..μ: compand, then round onto μ + 1 evenly spaced levels.

    Companding spends the levels where speech amplitudes are dense (near zero), which is why 256 levels
    after μ-law sound far better than 256 linear ones.
    """
    y = mu_law_compand(x.clamp(-1.0, 1.0), mu)
    return torch.round((y + 1.0) / 2.0 * mu).long()


def mu_law_decode(q: torch.Tensor, mu: int = 255) -> torch.Tensor:
    """Class ids 0..μ -> amplitudes: the level's companded value, expanded."""
    return mu_law_expand(2.0 * q.double() / mu - 1.0, mu).float()


class CausalConv1d(nn.Conv1d):
    """A Conv1d whose output at t sees inputs t - (k-1)d .. t only: pad (k-1)d zeros on the left."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation)
        self.left_pad = (kernel_size - 1) * dilation

    def forward(self, x_NCT: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x_NCT, (self.left_pad, 0)))  # (N, C, T + pad) -> (N, C', T)


class ResidualBlock(nn.Module):
    """z = tanh(W_f * x) ⊙ σ(W_g * x) (eq. 2); a 1x1 conv of z joins the residual stream and another the skips."""

    def __init__(self, residual_channels: int, gate_channels: int, skip_channels: int, kernel_size: int,
                 dilation: int):
        super().__init__()
        # One conv yields both the filter and the gate halves: the same arithmetic as two, one kernel call.
        self.dilated = CausalConv1d(residual_channels, 2 * gate_channels, kernel_size, dilation)
        self.residual = nn.Conv1d(gate_channels, residual_channels, 1)
        self.skip = nn.Conv1d(gate_channels, skip_channels, 1)

    def forward(self, x_NRT: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        filter_NGT, gate_NGT = self.dilated(x_NRT).chunk(2, dim=1)
        z_NGT = torch.tanh(filter_NGT) * torch.sigmoid(gate_NGT)
        return x_NRT + self.residual(z_NGT), self.skip(z_NGT)


@dataclass(frozen=True)
class WaveNetConfig:
    """Sizes of a WaveNet; the defaults are a small version of the paper's 1, 2, ..., 512 stacks."""

    n_classes: int = 256
    """Quantisation levels Q = μ + 1 (the paper: 256)."""
    residual_channels: int = 32
    """Width R of the residual stream."""
    gate_channels: int = 32
    """Width G of the gated activation z."""
    skip_channels: int = 64
    """Width K of each skip output and of the output head."""
    kernel_size: int = 2
    """Taps of every dilated convolution."""
    dilations: tuple[int, ...] = tuple(2 ** i for i in range(10)) * 2
    """One entry per residual block; doubling then repeating (section 2.1)."""
    input_kernel_size: int = 2
    """Taps of the initial causal convolution that lifts one-hot inputs to R channels."""


class WaveNet(nn.Module):
    """Causal conv -> gated residual blocks -> ReLU, 1x1, ReLU, 1x1 over the summed skips -> softmax logits."""

    def __init__(self, config: WaveNetConfig):
        super().__init__()
        c = config
        self.config = c
        self.input_conv = CausalConv1d(c.n_classes, c.residual_channels, c.input_kernel_size)
        self.blocks = nn.ModuleList(
            ResidualBlock(c.residual_channels, c.gate_channels, c.skip_channels, c.kernel_size, d)
            for d in c.dilations)
        self.head = nn.Sequential(
            nn.ReLU(), nn.Conv1d(c.skip_channels, c.skip_channels, 1),
            nn.ReLU(), nn.Conv1d(c.skip_channels, c.n_classes, 1))

    @property
    def receptive_field(self) -> int:
        """Samples that output t depends on: 1 + (k_in - 1) + Σ_blocks (k - 1) d."""
        c = self.config
        return 1 + (c.input_kernel_size - 1) + sum((c.kernel_size - 1) * d for d in c.dilations)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """`inputs`: class ids (N, T) or one-hot floats (N, Q, T). Returns logits_NQT; column t predicts t + 1."""
        if inputs.dtype == torch.long:
            inputs = F.one_hot(inputs, self.config.n_classes).transpose(1, 2).float()  # (N, T, Q) -> (N, Q, T)
        x_NRT = self.input_conv(inputs)
        skips_NKT = 0
        for block in self.blocks:
            x_NRT, skip_NKT = block(x_NRT)
            skips_NKT = skips_NKT + skip_NKT
        return self.head(skips_NKT)

    def loss(self, classes_NT: torch.Tensor) -> torch.Tensor:
        """Mean next-sample cross-entropy (nats) over every position that has a successor."""
        logits_NQT = self(classes_NT[:, :-1])
        return F.cross_entropy(logits_NQT, classes_NT[:, 1:])

    @torch.no_grad()
    def generate(self, prime_NT: torch.Tensor, n_samples: int, temperature: float = 0.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Extend class ids one sample at a time; temperature 0 takes the argmax, else samples p^(1/τ).

        Each step re-runs the net on the last `receptive_field` samples only, since nothing older can
        reach the newest output. Returns the n_samples new ids, (N, n_samples).
        """
        window = self.receptive_field
        history_NT = prime_NT
        for _ in range(n_samples):
            logits_NQ = self(history_NT[:, -window:])[:, :, -1]
            if temperature == 0.0:
                next_N = logits_NQ.argmax(dim=1)
            else:
                probs_NQ = F.softmax(logits_NQ / temperature, dim=1)
                next_N = torch.multinomial(probs_NQ, 1, generator=generator).squeeze(1)
            history_NT = torch.cat([history_NT, next_N[:, None]], dim=1)  # (N, T + 1)
        return history_NT[:, prime_NT.shape[1]:]


@register("wavenet")
def build_wavenet(**config) -> WaveNet:
    """`build("wavenet", n_classes=..., dilations=(1, 2, 4, ...), ...)`: any `WaveNetConfig` field."""
    if "dilations" in config:
        config["dilations"] = tuple(config["dilations"])
    return WaveNet(WaveNetConfig(**config))
