"""A toy problem for checking the backends: a small MLP regressing a fixed random teacher, no batch norm
(so a data-parallel step is exactly one step on the concatenated batch). Builders are module-level
functions and partials, so the spec pickles to Ray workers."""
from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from selfplay.training.api import ArraySource, TrainSpec


def build_mlp(inputs: int, hidden: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def sgd(model: nn.Module, lr: float, momentum: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)


def mse(model: nn.Module, batch) -> tuple[torch.Tensor, dict[str, float]]:
    x_BI, y_B = batch
    loss = F.mse_loss(model(x_BI).squeeze(1), y_B)  # (B, 1) -> (B,)
    return loss, {}


def constant_lr(lr: float, step: int) -> float:
    return lr


def mlp_spec(inputs: int = 8, hidden: int = 16, lr: float = 0.05, momentum: float = 0.9, batch_size: int = 16,
             seed: int = 0) -> TrainSpec:
    return TrainSpec(functools.partial(build_mlp, inputs, hidden, seed),
                     functools.partial(sgd, lr=lr, momentum=momentum), mse, functools.partial(constant_lr, lr),
                     batch_size)


def teacher_data(n: int, inputs: int = 8, seed: int = 0, noise: float = 0.05) -> ArraySource:
    """n samples x ~ N(0, 1), y = a fixed random teacher MLP(x) + noise."""
    rng = np.random.default_rng(seed)
    x_NI = rng.standard_normal((n, inputs)).astype(np.float32)
    w_I, v_I = rng.standard_normal(inputs), rng.standard_normal(inputs)
    y_N = (np.tanh(x_NI @ w_I / np.sqrt(inputs)) + 0.5 * np.sin(x_NI @ v_I / np.sqrt(inputs))
           + noise * rng.standard_normal(n)).astype(np.float32)
    return ArraySource((x_NI, y_N))
