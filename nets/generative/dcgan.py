"""DCGAN: Radford, Metz & Chintala 2016, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks" (arXiv:1511.06434).

The paper's architecture guidelines (section 3), each visible below: no pooling -- the generator upsamples
with fractionally strided (transposed) convolutions and the discriminator downsamples with strided ones;
batch norm in both nets except the generator's output and the discriminator's input; ReLU in the
generator with tanh on the output; LeakyReLU(0.2) in the discriminator; no hidden fully connected layers
(the generator's first layer is a projection reshaped into a small image, the discriminator's last a
single linear read-out). Weights start from N(0, 0.02) as in section 4. Train with `gan.train_step`
(non-saturating loss) and Adam(lr 2e-4, β1 0.5), the paper's settings.

Each transposed conv (kernel 4, stride 2, padding 1) doubles the side; each strided conv halves it, so the
number of stages is log2(image_size / base_size), a value computed from the config, not typed.

Shape letters: N batch, Z latent size, C channels, H = W image side.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from nets.registry import register


@dataclass(frozen=True)
class DCGANConfig:
    """Sizes of the DCGAN pair; the defaults fit scikit-learn's 8x8 digits (64x64 RGB in the paper)."""

    image_size: int = 8
    """Side H = W of the images; image_size / base_size must be a power of two."""
    image_channels: int = 1
    """C of the images: 1 grey, 3 colour."""
    latent_dim: int = 32
    """Z: size of the uniform/normal noise vector."""
    width: int = 64
    """Channels at the full-resolution stage; each halving of the side doubles them (the paper: 128)."""
    base_size: int = 2
    """Side of the projected image the generator starts from and the discriminator ends at (paper: 4)."""


def _stages(config: DCGANConfig) -> int:
    stages = math.log2(config.image_size / config.base_size)
    if stages < 1 or stages != int(stages):
        raise ValueError(f"image_size {config.image_size} is not base_size {config.base_size} times a power of 2")
    return int(stages)


def dcgan_init_(module: nn.Module) -> None:
    """Section 4: conv weights ~ N(0, 0.02); batch-norm scales ~ N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z -> project and reshape to (width·2^stages, base, base) -> [ConvT(4, 2, 1), BN, ReLU]* -> tanh image."""

    def __init__(self, config: DCGANConfig):
        super().__init__()
        self.config = c = config
        stages = _stages(c)
        top = c.width * 2 ** (stages - 1)
        self.top_channels = top
        # A linear projection reshaped to an image is the paper's first layer; BN after it, no bias needed.
        self.project = nn.Linear(c.latent_dim, top * c.base_size ** 2, bias=False)
        self.project_norm = nn.BatchNorm2d(top)
        layers: list[nn.Module] = []
        channels = top
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(channels // 2), nn.ReLU()]
            channels //= 2
        # The output layer gets no batch norm: it would pin the images' per-batch mean and spread.
        layers += [nn.ConvTranspose2d(channels, c.image_channels, 4, 2, 1), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z_NZ: torch.Tensor) -> torch.Tensor:
        b = self.config.base_size
        x_NCbb = self.project(z_NZ).view(-1, self.top_channels, b, b)  # (N, top·b·b) -> (N, top, b, b)
        return self.upsample(torch.relu(self.project_norm(x_NCbb)))  # (N, C, H, W) in [-1, 1]


class DCGANDiscriminator(nn.Module):
    """image -> [Conv(4, 2, 1), (BN), LeakyReLU]* down to (width·2^(stages-1), base, base) -> linear logit."""

    def __init__(self, config: DCGANConfig):
        super().__init__()
        self.config = c = config
        stages = _stages(c)
        layers: list[nn.Module] = []
        channels_in, channels = c.image_channels, c.width
        for stage in range(stages):
            layers.append(nn.Conv2d(channels_in, channels, 4, 2, 1, bias=stage == 0))
            if stage > 0:  # no batch norm on the input layer (section 3)
                layers.append(nn.BatchNorm2d(channels))
            layers.append(nn.LeakyReLU(0.2))
            channels_in, channels = channels, channels * 2
        self.downsample = nn.Sequential(*layers)
        self.read_out = nn.Linear(channels_in * c.base_size ** 2, 1)
        dcgan_init_(self)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        features_NF = self.downsample(x_NCHW).flatten(1)  # (N, C', b, b) -> (N, C'·b·b)
        return self.read_out(features_NF).squeeze(1)  # (N, 1) -> (N,)


@register("dcgan_generator")
def build_dcgan_generator(**config) -> DCGANGenerator:
    """`build("dcgan_generator", image_size=8, image_channels=1, latent_dim=32, width=64, base_size=2)`."""
    return DCGANGenerator(DCGANConfig(**config))


@register("dcgan_discriminator")
def build_dcgan_discriminator(**config) -> DCGANDiscriminator:
    """`build("dcgan_discriminator", ...)`: the same `DCGANConfig` fields as the generator."""
    return DCGANDiscriminator(DCGANConfig(**config))
