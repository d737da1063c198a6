"""`BoardGeometry(size)`: the arrays every kernel needs for one board size, built once per size.

The padded board has width W = size + 2 (see coords.py). Zobrist keys come from a generator seeded by the
size alone, so every process (Ray workers included) hashes positions identically.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from goengine import coords
from goengine._kernels import BLACK, EMPTY, WALL, WHITE


@dataclass(frozen=True, eq=False)
class BoardGeometry:
    size: int
    width: int
    n_points: int
    neighbours: np.ndarray  # int32[4]: offsets -W, -1, +1, +W
    diagonals: np.ndarray  # int32[4]: offsets -W-1, -W+1, W-1, W+1
    on_board: np.ndarray  # int32[size*size]: padded point of each action index
    action_of_point: np.ndarray  # int32[n_points]: action index of each padded point, -1 on walls
    empty_colours: np.ndarray  # int32[n_points]: colour row of an empty board (walls set)
    zobrist: np.ndarray  # int64[3, n_points]: key of a stone of colour c (1, 2) at each point


@functools.lru_cache(maxsize=None)
def geometry(size: int) -> BoardGeometry:
    if not coords.MIN_SIZE <= size <= coords.MAX_SIZE:
        raise ValueError(f"board size {size} is out of range ({coords.MIN_SIZE} to {coords.MAX_SIZE})")
    w = coords.padded_width(size)
    n_points = w * w
    on_board = np.array([coords.point(r, c, size) for r in range(size) for c in range(size)], dtype=np.int32)
    action_of_point = np.full(n_points, -1, dtype=np.int32)
    action_of_point[on_board] = np.arange(size * size, dtype=np.int32)
    colours = np.full(n_points, WALL, dtype=np.int32)
    colours[on_board] = EMPTY
    rng = np.random.Generator(np.random.PCG64(0x60E6 + size))
    zobrist = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=(3, n_points), dtype=np.int64)
    zobrist[EMPTY] = 0
    assert BLACK == 1 and WHITE == 2
    return BoardGeometry(
        size=size,
        width=w,
        n_points=n_points,
        neighbours=np.array([-w, -1, 1, w], dtype=np.int32),
        diagonals=np.array([-w - 1, -w + 1, w - 1, w + 1], dtype=np.int32),
        on_board=on_board,
        action_of_point=action_of_point,
        empty_colours=colours,
        zobrist=zobrist,
    )
