"""The name -> builder table behind `nets.build` and `nets.available`.

Each module registers its builder with `@register("name")` beside the class it builds; `nets/__init__`
imports every subpackage so the table is complete once `import nets` returns.
"""
from __future__ import annotations

from typing import Callable

import torch.nn as nn

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: file `builder` under `name`. Two builders may not share a name."""

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"network name {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return decorate


def build(name: str, **config) -> nn.Module:
    """Build the network registered as `name`, passing `config` to its builder."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown network {name!r}; available: {', '.join(available())}") from None
    return builder(**config)


def available() -> list[str]:
    """Every registered network name, sorted."""
    return sorted(_BUILDERS)
