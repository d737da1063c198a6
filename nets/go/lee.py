"""AlphaGo Lee's policy and value networks (Silver et al. 2016, "Mastering the game of Go with deep
neural networks and tree search", Nature 529, Methods: "Neural network architecture").

How layers are counted (`layers`, 13 in the paper), the same way for both nets:

    layer 1              5x5 conv, k filters, zero padding 2, ReLU
    layers 2 .. L-1      3x3 conv, k filters, zero padding 1, ReLU     (L-2 of them: 11 when L = 13)
    layer L              1x1 conv to one plane

The policy net ends there: layer L has no shared bias but one bias per board point, and its N² outputs
are the logits (the paper's softmax is left to the caller; `LeePolicy.policy` applies it).

The value net reads 49 planes (the 48 plus "colour to play"). The paper says its "hidden layers 2 to 11
are identical to the policy network, hidden layer 12 is an additional convolution layer, hidden layer 13
convolves 1 filter of kernel size 1x1": layer 12 is another 3x3 k-filter conv, so layers 1 .. L-1 are
the same stack as the policy net's and this module builds them with the same `_trunk`. Layer L (the
1x1 conv to one plane, with an ordinary bias), layer L+1 (fully connected, 256 rectifier units) and
the output layer (one tanh unit) follow. With L = 13 the value net has 15 weight layers: 13
convolutional, 2 fully connected.

The paper names a rectifier for layers 1 to L-1 and for layer L+1 but none for layer L, and this
module puts none there: the lone plane is linear. A ReLU on it would also be fragile, since one plane
that starts negative everywhere (it does, for some seeds, with PyTorch's default initialisation) would
stop every gradient to the trunk.

The policy logits cover the N² points only: AlphaGo Lee's policy has no pass output.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.go._shapes import check_planes
from nets.registry import register

VALUE_HIDDEN = 256
"""Units of the value net's fully connected hidden layer (the paper's layer 14)."""


@dataclass(frozen=True)
class LeeConfig:
    """Architecture of one AlphaGo Lee convolutional net (policy or value)."""

    board_size: int = 19
    """N: planes are N x N and the policy has A = N² logits."""
    in_planes: int = 48
    """Feature planes in: 48 for the policy net, 49 for the value net (adds colour to play)."""
    filters: int = 192
    """k: filters of every hidden convolution (AlphaGo's match version used 192)."""
    layers: int = 13
    """L: convolutional layers counted as in the module docstring: 5x5, L-2 3x3, then the 1x1."""

    def __post_init__(self) -> None:
        if self.layers < 2:
            raise ValueError(f"layers must be at least 2 (the 5x5 and the 1x1), got {self.layers}")
        for field in ("board_size", "in_planes", "filters"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be positive, got {getattr(self, field)}")


def _trunk(config: LeeConfig) -> nn.Sequential:
    """Layers 1 .. L-1: the 5x5 conv then L-2 3x3 convs, k filters each, a ReLU after each."""
    k = config.filters
    layers: list[nn.Module] = [nn.Conv2d(config.in_planes, k, 5, padding=2), nn.ReLU()]
    for _ in range(config.layers - 2):
        layers += [nn.Conv2d(k, k, 3, padding=1), nn.ReLU()]
    return nn.Sequential(*layers)


class LeePolicy(nn.Module):
    """SL/RL policy network p_σ / p_ρ: planes_NCHW -> logits_NA over the A = N² points."""

    net_name: ClassVar[str] = "lee_policy"

    def __init__(self, config: LeeConfig) -> None:
        super().__init__()
        self.config = config
        self.trunk = _trunk(config)
        # Layer L: the paper gives "a different bias for each position", so the conv itself has none.
        self.head = nn.Conv2d(config.filters, 1, 1, bias=False)
        self.position_bias_A = nn.Parameter(torch.zeros(config.board_size**2))

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        """Unnormalised move logits, one per point in row-major order of the planes."""
        check_planes(x_NCHW, self.config.in_planes, self.config.board_size)
        out_N1HW = self.head(self.trunk(x_NCHW))
        return out_N1HW.flatten(1) + self.position_bias_A  # (N, 1, H, W) -> (N, A)

    def policy(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        """Move probabilities p(a|s): the paper's softmax over the logits."""
        return F.softmax(self.forward(x_NCHW), dim=-1)


class LeeValue(nn.Module):
    """Value network v_θ: planes_NCHW -> value_N in [-1, 1], the expected outcome for the player to move."""

    net_name: ClassVar[str] = "lee_value"

    def __init__(self, config: LeeConfig) -> None:
        super().__init__()
        self.config = config
        self.trunk = _trunk(config)  # layers 1 .. L-1; layer L-1 is the paper's "additional" conv
        self.reduce = nn.Conv2d(config.filters, 1, 1)  # layer L
        self.hidden = nn.Linear(config.board_size**2, VALUE_HIDDEN)  # layer L+1
        self.out = nn.Linear(VALUE_HIDDEN, 1)

    def forward(self, x_NCHW: torch.Tensor) -> torch.Tensor:
        check_planes(x_NCHW, self.config.in_planes, self.config.board_size)
        plane_N1HW = self.reduce(self.trunk(x_NCHW))
        hidden_NU = F.relu(self.hidden(plane_N1HW.flatten(1)))  # (N, 1, H, W) -> (N, H*W) -> (N, 256)
        return torch.tanh(self.out(hidden_NU)).squeeze(1)  # (N, 1) -> (N,)


@register("lee_policy")
def build_lee_policy(board_size: int = 19, in_planes: int = 48, filters: int = 192, layers: int = 13) -> LeePolicy:
    """AlphaGo Lee's policy net; the defaults are the paper's match configuration."""
    return LeePolicy(LeeConfig(board_size=board_size, in_planes=in_planes, filters=filters, layers=layers))


@register("lee_value")
def build_lee_value(board_size: int = 19, in_planes: int = 49, filters: int = 192, layers: int = 13) -> LeeValue:
    """AlphaGo Lee's value net; the defaults are the paper's configuration."""
    return LeeValue(LeeConfig(board_size=board_size, in_planes=in_planes, filters=filters, layers=layers))
