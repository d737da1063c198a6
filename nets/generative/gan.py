"""Generative adversarial nets: Goodfellow et al. 2014, "Generative Adversarial Nets" (arXiv:1406.2661).

Read the losses first, then `train_step`, then the MLP pair. The value function is
    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]                                           (eq. 1)
D ascends V; G would descend it, but log(1 - D(G(z))) is flat where D confidently rejects fakes -- early
in training -- so, as the paper suggests, G instead ascends log D(G(z)) (the non-saturating loss).
Everything works on logits so that `binary_cross_entropy_with_logits` keeps the logs stable.

`train_step` is shared with the DCGAN in `dcgan.py`. Shape letters: N batch, Z latent size, X data size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.registry import register


def discriminator_loss(real_logits_N: torch.Tensor, fake_logits_N: torch.Tensor) -> torch.Tensor:
    """-V for D: -(log D(x) + log(1 - D(G(z)))), batch means; D(.) = sigmoid(logit)."""
    return (F.binary_cross_entropy_with_logits(real_logits_N, torch.ones_like(real_logits_N))
            + F.binary_cross_entropy_with_logits(fake_logits_N, torch.zeros_like(fake_logits_N)))


def generator_loss(fake_logits_N: torch.Tensor) -> torch.Tensor:
    """Non-saturating: -log D(G(z)), whose gradient is largest exactly where D rejects the fakes."""
    return F.binary_cross_entropy_with_logits(fake_logits_N, torch.ones_like(fake_logits_N))


def minimax_generator_loss(fake_logits_N: torch.Tensor) -> torch.Tensor:
    """The saturating term of eq. 1 itself, log(1 - D(G(z))): kept to show why it is not used."""
    return -F.binary_cross_entropy_with_logits(fake_logits_N, torch.zeros_like(fake_logits_N))


def train_step(generator: nn.Module, discriminator: nn.Module, g_optimizer: torch.optim.Optimizer,
               d_optimizer: torch.optim.Optimizer, real_NX: torch.Tensor, latent_dim: int,
               noise: torch.Generator | None = None) -> tuple[float, float]:
    """One round of Algorithm 1 with k = 1: a D step on real vs fresh fakes, then a G step.

    Returns (d_loss, g_loss). The fakes for D are detached so D's step leaves G's weights alone.
    """
    n = real_NX.shape[0]
    z_NZ = torch.randn(n, latent_dim, generator=noise, device=real_NX.device)
    fake_NX = generator(z_NZ)
    d_loss = discriminator_loss(discriminator(real_NX), discriminator(fake_NX.detach()))
    d_optimizer.zero_grad()
    d_loss.backward()
    d_optimizer.step()

    g_loss = generator_loss(discriminator(fake_NX))
    g_optimizer.zero_grad()
    g_loss.backward()
    g_optimizer.step()
    return d_loss.item(), g_loss.item()


@dataclass(frozen=True)
class MLPGANConfig:
    """Sizes of the fully connected generator and discriminator (the paper's MLP GAN)."""

    data_dim: int = 2
    """X: size of one sample."""
    latent_dim: int = 2
    """Z: size of the noise fed to G; for 2-D data, 2 spread samples over the modes more evenly than 8 did."""
    hidden_dim: int = 128
    """Width of each hidden layer, in both nets."""
    n_hidden: int = 2
    """Hidden layers per net."""


def _mlp(sizes: list[int], activation: Callable[[], nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))


class MLPGenerator(nn.Module):
    """z_NZ -> x_NX through tanh layers; the output is linear since the data are unbounded reals.

    Smooth tanh units rather than ReLU: on the ring of Gaussians a ReLU generator left a mode starved for
    thousands of steps in some seeds (a flat region of z-space maps there and gets no gradient to grow),
    while tanh generators shared the modes evenly within a thousand steps in every seed we tried.
    """

    def __init__(self, config: MLPGANConfig):
        super().__init__()
        self.config = config
        c = config
        self.net = _mlp([c.latent_dim] + [c.hidden_dim] * c.n_hidden + [c.data_dim], nn.Tanh)

    def forward(self, z_NZ: torch.Tensor) -> torch.Tensor:
        return self.net(z_NZ)


class MLPDiscriminator(nn.Module):
    """x_NX -> logit_N through LeakyReLU layers (leaky so fakes in dead regions still get a gradient)."""

    def __init__(self, config: MLPGANConfig):
        super().__init__()
        self.config = config
        c = config
        self.net = _mlp([c.data_dim] + [c.hidden_dim] * c.n_hidden + [1], lambda: nn.LeakyReLU(0.2))

    def forward(self, x_NX: torch.Tensor) -> torch.Tensor:
        return self.net(x_NX).squeeze(-1)  # (N, 1) -> (N,)


@register("gan_generator")
def build_gan_generator(**config) -> MLPGenerator:
    """`build("gan_generator", data_dim=2, latent_dim=2, hidden_dim=128, n_hidden=2)`."""
    return MLPGenerator(MLPGANConfig(**config))


@register("gan_discriminator")
def build_gan_discriminator(**config) -> MLPDiscriminator:
    """`build("gan_discriminator", ...)`: the same `MLPGANConfig` fields as the generator."""
    return MLPDiscriminator(MLPGANConfig(**config))
