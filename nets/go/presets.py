"""Configurations of the AlphaGo Zero residual net: the `ZeroConfig` dataclass and named presets.

The net itself is in `zero_resnet.py`; the config lives here, free of torch, so that presets can be
`ZeroConfig` values and trainers can name a size without building anything.

Preset names follow the AlphaGo Zero paper (Silver et al. 2017, Nature 550, Methods "Neural network
architecture"): "the residual tower consists of a single convolutional block followed by either 19 or 39
residual blocks", and the paper calls these the 20-block and 40-block networks. So a name "BxF" counts
the stem convolution as a block: `blocks` (residual blocks) is B - 1.

    name      board   residual blocks   filters   use
    20x256    19      19                256       the paper's first-run network
    40x256    19      39                256       the paper's final network
    10x128    9       9                 128       9x9 training on a few CPU cores
    6x64      9       5                 64        9x9 experiments on a laptop
    2x16      9       1                 16        tests
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class ZeroConfig:
    """Architecture of a `ZeroResNet`. Only plain types, so a checkpoint can store it as a dict."""

    board_size: int = 19
    """N: planes are N x N and the policy has A = N² + 1 logits (index N² is pass)."""
    in_planes: int = 17
    """Feature planes in: 17 in AlphaGo Zero (8 history planes per colour and colour to play)."""
    blocks: int = 19
    """Residual blocks after the stem convolution (19 in the paper's "20 block" net)."""
    filters: int = 256
    """Trunk channels (before `widen`; the first block's for "pyramid")."""
    block: str = "post"
    """Residual block style, a row of `zero_resnet.BLOCK_STYLES`: post, pre, bottleneck, wide, pyramid."""
    widen: int = 1
    """Width multiplier k of the "wide" style (trunk channels are k * filters); must be 1 otherwise."""
    pyramid_step: float = 0.0
    """Channels added per block by the "pyramid" style: block i has filters + floor(i * step) channels."""
    shortcut: str = "zero"
    """Shortcut where a block changes width ("pyramid"): "zero" pads channels, "project" is 1x1 conv + BN."""
    global_pool: bool = False
    """Give every residual block KataGo's global pooling bias (Wu 2019) on its first convolution."""
    pool_heads: bool = False
    """KataGo's policy and value heads (Wu 2019): global pooling in place of the fully connected layers over
    every point; the pass logit comes from the pooled features."""
    aux_heads: bool = False
    """KataGo's auxiliary training heads (Wu 2019, sec. 4.1): per-point final ownership and the final score
    margin. Only `forward(x, aux=True)` computes them; `forward(x)` and play are as without them."""

    def __post_init__(self) -> None:
        for field in ("board_size", "in_planes", "filters", "widen"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be positive, got {getattr(self, field)}")
        if self.blocks < 0:
            raise ValueError(f"blocks must be non-negative, got {self.blocks}")
        if self.widen != 1 and self.block != "wide":
            raise ValueError(f"widen={self.widen} only applies to block='wide', not {self.block!r}")
        if self.pyramid_step != 0 and self.block != "pyramid":
            raise ValueError(f"pyramid_step={self.pyramid_step} only applies to block='pyramid', not {self.block!r}")
        if self.pyramid_step < 0:
            raise ValueError(f"pyramid_step must be non-negative, got {self.pyramid_step}")
        if self.shortcut not in ("zero", "project"):
            raise ValueError(f"shortcut must be 'zero' or 'project', got {self.shortcut!r}")


PRESETS: dict[str, ZeroConfig] = {
    "20x256": ZeroConfig(board_size=19, blocks=19, filters=256),
    "40x256": ZeroConfig(board_size=19, blocks=39, filters=256),
    "10x128": ZeroConfig(board_size=9, blocks=9, filters=128),
    "6x64": ZeroConfig(board_size=9, blocks=5, filters=64),
    "2x16": ZeroConfig(board_size=9, blocks=1, filters=16),
}


def zero_config(preset: str, board_size: int | None = None, **overrides) -> ZeroConfig:
    """The config named `preset` (a row of PRESETS, or any "BxF": B blocks counting the stem, F filters, as
    Leela Zero and KataGo name their nets), on `board_size` if given, with any other fields replaced by
    `overrides`."""
    config = PRESETS.get(preset)
    if config is None:
        config = _sized(preset)
    if board_size is not None:
        overrides["board_size"] = board_size
    return dataclasses.replace(config, **overrides)


def _sized(name: str) -> ZeroConfig:
    """A 9x9 net of the "BxF" size `name` names."""
    blocks, x, filters = str(name).partition("x")
    if not (x and blocks.isdigit() and filters.isdigit()):
        raise ValueError(f"unknown preset {name!r}: give one of {', '.join(PRESETS)}, or BLOCKSxFILTERS such as 4x32")
    if int(blocks) < 1 or int(filters) < 1:
        raise ValueError(f"net {name!r}: blocks (the stem counts as one) and filters must be at least 1")
    return ZeroConfig(board_size=9, blocks=int(blocks) - 1, filters=int(filters))
