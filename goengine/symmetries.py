"""The 8 symmetries of the square board (the dihedral group D4), for feature planes and policies.

AlphaGo Zero augments its training data with them and evaluates each leaf under a random one (Silver
et al. 2017, Methods: "the eight symmetries of the board, the dihedral group"); AlphaGo Lee did the same
(Silver et al. 2016, Methods, "rotations and reflections").

Symmetry k in 0..7 maps an (..., N, N) array in the board's [row][col] layout to
rot90(x, k % 4) when k < 4, and rot90(transpose(x), k % 4) when k >= 4 (rotations over the last two
axes). k = 0 is the identity; 1-3 rotate; 4-7 are the four reflections, each its own inverse.
A policy is a vector of length N*N + 1 in action order (a = row * N + col, pass last): its board part is
transformed as a plane, pass stays pass. Transforming a position's planes and its policy by the same k
is the same as transforming the position (tests/goengine/test_symmetries.py).
"""
from __future__ import annotations

import numpy as np

N_SYMMETRIES = 8


def _check(k: int) -> int:
    if not 0 <= int(k) < N_SYMMETRIES:
        raise ValueError(f"symmetry {k} is not in 0..7")
    return int(k)


def invert(k: int) -> int:
    """The symmetry that undoes k: rotations go back, reflections are their own inverse."""
    k = _check(k)
    return k if k >= 4 else (4 - k) % 4


def apply_planes(planes: np.ndarray, k: int) -> np.ndarray:
    """Symmetry k of planes (..., N, N): (C, N, N), (B, C, N, N) or a single board (N, N). Returns a
    new contiguous array."""
    k = _check(k)
    x = np.swapaxes(planes, -1, -2) if k >= 4 else planes
    return np.ascontiguousarray(np.rot90(x, k % 4, axes=(-2, -1)))


def apply_policy(policy: np.ndarray, k: int, size: int) -> np.ndarray:
    """Symmetry k of policies (..., N*N + 1) in action order; the pass entry is kept in place."""
    policy = np.asarray(policy)
    n_board = size * size
    if policy.shape[-1] != n_board + 1:
        raise ValueError(f"a {size}x{size} policy has {n_board + 1} entries, not {policy.shape[-1]}")
    board = policy[..., :n_board].reshape(policy.shape[:-1] + (size, size))  # (..., N*N) -> (..., N, N)
    moved = apply_planes(board, k).reshape(policy.shape[:-1] + (n_board,))  # (..., N, N) -> (..., N*N)
    return np.concatenate([moved, policy[..., n_board:]], axis=-1)


def apply_action(action: int, k: int, size: int) -> int:
    """Where action index `action` goes under symmetry k (N*N, pass, stays)."""
    if action == size * size:
        return action
    marker = np.zeros(size * size + 1, dtype=np.int8)
    marker[action] = 1
    return int(np.argmax(apply_policy(marker, k, size)))
