"""Checks of values that come from outside (flags, config files, checkpoints): one rule and one wording.

Config dataclasses call these in `__post_init__` with their field names, the command line with its flag
names; either way a bad value is a ValueError whose message starts with that name, e.g.

    full_search_prob must be in [0, 1], not 1.5
    --threads must be at least 1, not 0

NaN and the infinities fail every check of a float (the bounds are finite, or there are none).
"""
from __future__ import annotations

import math
import numbers
import os

SEED_LIMIT = 2**63
"""Seeds are below this: numpy, torch and the records' 64-bit fields all take them."""


def _interval(low, high, low_open: bool, high_open: bool) -> str:
    def show(x) -> str:
        return str(x) if isinstance(x, int) else f"{x:g}"

    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{show(low)}, {show(high)}{')' if high_open else ']'}"
    if low is not None:
        return f"{'more than' if low_open else 'at least'} {show(low)}"
    if high is not None:
        return f"{'less than' if high_open else 'at most'} {show(high)}"
    return "finite"


def number(name: str, value, low: float | None = None, high: float | None = None, *,
           low_open: bool = False, high_open: bool = False) -> float:
    """`value` as a float; ValueError unless it is a finite real number within the interval from `low` to
    `high` (each bound included unless `low_open` / `high_open`; None: unbounded on that side)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, not {value!r}")
    x = float(value)
    ok = math.isfinite(x)
    if ok and low is not None:
        ok = x > low if low_open else x >= low
    if ok and high is not None:
        ok = x < high if high_open else x <= high
    if not ok:
        raise ValueError(f"{name} must be {_interval(low, high, low_open, high_open)}, not {value}")
    return x


def integer(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """`value` unless it is not an integer (a bool or a float is not) in [low, high]; then ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, not {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be {_interval(low, high, False, False)}, not {value}")
    return int(value)


def seed(name: str, value) -> int:
    """A seed: an integer in [0, 2^63)."""
    return integer(name, value, 0, SEED_LIMIT - 1)


def output_folder(name: str, path: str | os.PathLike) -> None:
    """ValueError unless `path` is a folder, or could be created as one, that this process can write in:
    checked before any work, so that the work's results have somewhere to go."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{name} {path} is a file, not a folder")
    existing = path
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{name} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {path}: cannot write in {existing}")


def renamed(error: ValueError, names: dict[str, str]) -> str:
    """The message of `error` with its first word, a field name, replaced by what `names` maps it to (the
    command line's flag for that field), so a config's error reads in the terms the user typed."""
    first, _, rest = str(error).partition(" ")
    return f"{names.get(first, first)} {rest}" if rest else str(error)
