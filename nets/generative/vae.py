"""Variational autoencoder: Kingma & Welling 2014, "Auto-Encoding Variational Bayes" (arXiv:1312.6114).

Read `gaussian_kl` (appendix B), `reparameterize` (section 2.4), then `VAE.negative_elbo` (eq. 10): the
encoder q(z|x) = N(μ(x), diag σ²(x)), the prior p(z) = N(0, I), and a Bernoulli decoder p(x|z) whose
logits come from an MLP, as in the paper's MNIST experiments. Pixel intensities in [0, 1] are used as the
Bernoulli targets directly (the usual relaxation for grey-level images).

Shape letters: N batch, X data dimension, H hidden width, Z latent dimension.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.registry import register


def gaussian_kl(mu_NZ: torch.Tensor, logvar_NZ: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, diag σ²) || N(0, I)) = -½ Σ_j (1 + log σ_j² - μ_j² - σ_j²), per row: shape (N,)."""
    return -0.5 * (1.0 + logvar_NZ - mu_NZ.pow(2) - logvar_NZ.exp()).sum(dim=-1)


def reparameterize(mu_NZ: torch.Tensor, logvar_NZ: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = μ + σ ⊙ ε with ε ~ N(0, I): the sample is a differentiable function of (μ, σ), so the ELBO's
    gradient flows to the encoder through a single Monte Carlo draw."""
    eps_NZ = torch.randn(mu_NZ.shape, generator=generator, dtype=mu_NZ.dtype, device=mu_NZ.device)
    return mu_NZ + torch.exp(0.5 * logvar_NZ) * eps_NZ


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of the MLP VAE; the defaults fit scikit-learn's 8x8 digits."""

    data_dim: int = 64
    """X: flattened input size."""
    hidden_dim: int = 128
    """H: width of the one hidden layer in the encoder and in the decoder (the paper: 500 for MNIST)."""
    latent_dim: int = 8
    """Z: dimension of the latent code."""


class VAE(nn.Module):
    """MLP encoder x -> (μ, log σ²) and MLP decoder z -> Bernoulli logits over the X pixels."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        c = config
        self.config = c
        self.encoder = nn.Sequential(nn.Linear(c.data_dim, c.hidden_dim), nn.ReLU())
        # log σ² rather than σ: unconstrained, and the KL term needs it anyway.
        self.to_mu = nn.Linear(c.hidden_dim, c.latent_dim)
        self.to_logvar = nn.Linear(c.hidden_dim, c.latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(c.latent_dim, c.hidden_dim), nn.ReLU(), nn.Linear(c.hidden_dim, c.data_dim))

    def encode(self, x_NX: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h_NH = self.encoder(x_NX)
        return self.to_mu(h_NH), self.to_logvar(h_NH)

    def decode(self, z_NZ: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits_NX; `torch.sigmoid` of them is the mean image."""
        return self.decoder(z_NZ)

    def forward(self, x_NX: torch.Tensor, generator: torch.Generator | None = None):
        """Returns (logits_NX, mu_NZ, logvar_NZ) for one reparameterised draw of z."""
        mu_NZ, logvar_NZ = self.encode(x_NX)
        return self.decode(reparameterize(mu_NZ, logvar_NZ, generator)), mu_NZ, logvar_NZ

    def negative_elbo(self, x_NX: torch.Tensor, generator: torch.Generator | None = None):
        """-ELBO = -E_q[log p(x|z)] + KL(q(z|x) || p(z)), one sample of z (eq. 10); each term per row (N,).

        Returns (negative_elbo_N, reconstruction_N, kl_N), all in nats.
        """
        logits_NX, mu_NZ, logvar_NZ = self(x_NX, generator)
        reconstruction_N = F.binary_cross_entropy_with_logits(logits_NX, x_NX, reduction="none").sum(dim=-1)
        kl_N = gaussian_kl(mu_NZ, logvar_NZ)
        return reconstruction_N + kl_N, reconstruction_N, kl_N

    @torch.no_grad()
    def reconstruct(self, x_NX: torch.Tensor) -> torch.Tensor:
        """Mean image decoded from the posterior mean: sigmoid(decode(μ(x)))."""
        return torch.sigmoid(self.decode(self.encode(x_NX)[0]))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean images of n draws from the prior, (n, X)."""
        z_NZ = torch.randn(n, self.config.latent_dim, generator=generator)
        return torch.sigmoid(self.decode(z_NZ))


@register("vae")
def build_vae(**config) -> VAE:
    """`build("vae", data_dim=64, hidden_dim=128, latent_dim=8)`."""
    return VAE(VAEConfig(**config))
