"""numba kernel for AlphaGo Zero's 17 input planes over a batch of leaves (Silver et al. 2017, Methods,
"Neural network architecture"): the batch path of search and self-play. features/__init__.py has the
numpy path from a Position (`extract(position, "zero")`); the tests hold the two equal.
"""
from __future__ import annotations

from numba import njit

from goengine._kernels import BLACK

HISTORY = 8  # positions of history, T in the paper
ZERO_PLANES = 2 * HISTORY + 1


@njit(cache=True)
def zero_planes_kernel(history, to_play, on_board, size, out):
    """out[b] (17, N, N), zero on entry: planes 2t and 2t+1 hold the stones of the side to move at leaf b
    and of its opponent in history[b, t] (padded colours, newest first); plane 16 is 1 if Black moves."""
    for b in range(history.shape[0]):
        mover = to_play[b]
        other = 3 - mover
        for t in range(HISTORY):
            for a in range(on_board.shape[0]):
                c = history[b, t, on_board[a]]
                row = a // size
                col = a - row * size
                if c == mover:
                    out[b, 2 * t, row, col] = 1.0
                elif c == other:
                    out[b, 2 * t + 1, row, col] = 1.0
        if mover == BLACK:
            for row in range(size):
                for col in range(size):
                    out[b, 2 * HISTORY, row, col] = 1.0
