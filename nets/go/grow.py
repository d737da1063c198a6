"""Growing a `ZeroResNet` mid-run: a deeper net that computes exactly what the smaller one did.

KataGo (Wu 2019, sec. 5) and Leela Zero trained a run's nets from small to large: early data is cheap
and a small net learns it as well as a large one. Leela Zero started each bigger net over again on the
replay window ("bootstrap"); when only the depth grows there is a cheaper start that loses nothing: append
residual blocks whose branch ends in zeros, so each new block is the identity (Net2DeeperNet, Chen et al.
2016; the zero-initialised last norm of Goyal et al. 2017). Then

    deepen(model, bigger)(x) == model(x)      for every x, in eval and train mode alike

and training moves the new blocks away from the identity from the first step (the zeroed weights get a
gradient, since their inputs are not zero). Why each style's new block is the identity:

    post, bottleneck   the branch ends in batch norm: gamma = beta = 0 makes it 0, and the block's
                       ReLU(x + 0) = x because x came out of a ReLU (the stem's or the block before's)
    pre, wide          the branch ends in a convolution: zero weights make it 0, and x + 0 = x

Everything else about the net (filters, heads, block style, board) must be the same; `deepen_refusal`
says why a pair of configs is not a deepening, and the caller then bootstraps a fresh net instead.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn as nn

from nets.go.presets import ZeroConfig
from nets.go.zero_resnet import ZeroResNet, trunk_widths


def deepen_refusal(old: ZeroConfig, new: ZeroConfig) -> str | None:
    """None if `new` is `old` with more residual blocks of the same width; else why not, in a few words."""
    if new.blocks <= old.blocks:
        return f"{new.blocks + 1} blocks are not more than {old.blocks + 1}"
    if dataclasses.replace(new, blocks=old.blocks) != old:
        changed = [f.name for f in dataclasses.fields(ZeroConfig)
                   if f.name != "blocks" and getattr(old, f.name) != getattr(new, f.name)]
        return f"more than the depth changes ({', '.join(changed)})"
    widths = trunk_widths(new)
    if len(set(widths)) != 1:
        return f"the {new.block} style with pyramid_step {new.pyramid_step} widens every block"
    return None


def _zero_branch_end(branch: nn.Sequential) -> None:
    last = branch[-1]
    if isinstance(last, nn.BatchNorm2d):
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
    elif isinstance(last, nn.Conv2d):
        nn.init.zeros_(last.weight)
    else:  # a new block style whose branch ends otherwise: say so rather than grow a wrong net
        raise ValueError(f"cannot make a block whose branch ends in {type(last).__name__} the identity")


@torch.no_grad()
def deepen(model: ZeroResNet, config: ZeroConfig, seed: int = 0) -> ZeroResNet:
    """`model` with residual blocks appended to its tower up to `config.blocks`, each the identity, so
    the result computes exactly what `model` does. ValueError if `config` is not a deepening of the
    model's config (deepen_refusal). The new blocks' other weights are drawn from torch seeded by `seed`."""
    reason = deepen_refusal(model.config, config)
    if reason is not None:
        raise ValueError(f"cannot deepen a {model.config.blocks + 1}x{model.config.filters} net to "
                         f"{config.blocks + 1}x{config.filters}: {reason}")
    torch.manual_seed(seed)
    grown = ZeroResNet(config)
    old = len(model.tower)
    state = model.state_dict()
    # the blocks past the old tower keep their fresh weights; every other tensor is the old one
    fresh = {k: v for k, v in grown.state_dict().items()
             if k.startswith("tower.") and int(k.split(".")[1]) >= old}
    grown.load_state_dict({**state, **fresh})
    for block in grown.tower[old:]:
        _zero_branch_end(block.branch)
    return grown
