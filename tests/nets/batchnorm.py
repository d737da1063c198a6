"""A test helper for the functional-reference tests: batch norms away from their initial (0, 1), so that
eval-mode batch norm really transforms and a reference that skips or misplaces it fails."""
import torch
from torch import nn


def randomise_batch_norms(model: nn.Module, seed: int) -> torch.Generator:
    """Running mean and variance, weight and bias of every BatchNorm2d drawn from a generator seeded with
    `seed`; returns the generator, for callers that disturb more of the model with it."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.3 * torch.randn(m.num_features, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=generator))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=generator))
                m.bias.copy_(0.3 * torch.randn(m.num_features, generator=generator))
    return generator
