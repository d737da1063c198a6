"""AlphaGo's fast rollout policy p_π: a linear softmax over hashed local pattern features (Silver et al.
2016, "Mastering the game of Go with deep neural networks and tree search", Methods "Rollout policy" and
Extended Data Table 4). Weights are trained in torch (nets/go/rollout.py); this module only reads them.

Features of a candidate move a by the side to move c, as ids into one flat weight table:

    id                      kind                  active when
    0                       RESPONSE              a lies in the 12-point diamond around the previous move
    1                       SAVE_ATARI            a touches an own chain in atari and leaves it 2+ liberties
    2                       SELF_ATARI            the chain a makes has exactly one liberty
    3 .. 10                 NEIGHBOUR + j         a is 8-connected to the previous move, in direction j
    RESP_BASE + hash        response pattern      a is in the diamond: the 12 points and the previous move
                                                  itself, each coloured with liberties, and a's place in it
    NR_BASE + hash          non-response pattern  always: the 3x3 around a, each neighbour coloured with
                                                  liberties

p_π(a|s) = softmax over candidates of the sum of the active weights. Candidates are the legal moves (simple
ko, no suicide) that do not fill an own eye-like point (`_kernels.is_eye`), as in the other playouts; with
none left the policy passes.

Choices where the paper is not specific:
  - Cell values are relative to the side to move: empty, own stone with 1 / 2 / ≥3 liberties, opponent
    stone with 1 / 2 / ≥3 liberties, off board (8 values, ED Table 4's "colour and liberties").
  - Patterns are not a learned dictionary (the paper kept 69,338 3x3 and 32,207 diamond patterns) but
    Zobrist hashes of the cell values into 2^pattern_bits and 2^response_bits slots; colliding patterns
    share a weight. "Response" (match any response pattern) therefore means "in the diamond".
  - Save atari counts only own chains touching a (not rescues by capturing elsewhere), so it stays local.
  - Self-atari (a tree-policy feature in the paper) is included, as it is cheap and local.
  - Nakade patterns are left out.

Speed comes from AlphaGo's incremental scheme: `ew[c, p]` caches exp(weights of every feature that does
not involve the previous move) for both colours; after a move only the empty points around the new
stone, around captured stones, and around chains whose liberty count (capped at 3) changed are
recomputed, with exact per-row sums for sampling. The response features touch at most 12 points and are
applied at selection time. `choose_rollout_move` and `rollout_probabilities` are the slow, from-scratch
reference the cache is tested against.

Layout: the features, their hashes and the from-scratch reference are in _rollout_features.py, the
incremental cache and the playout in _rollout_cache.py; this module is their public face (everything
is re-exported here) and holds `RolloutPolicy`.
"""
from __future__ import annotations

import numpy as np

from goengine.mcts._rollout_cache import (  # noqa: F401 (re-exported)
    MAX_SPECIAL, WORK_PER_POINT, cache_reset, cached_probabilities, choose_cached, new_cache, play_and_update,
    rollout_playout,
)
from goengine.mcts._rollout_features import (  # noqa: F401 (re-exported)
    FIRST_PATTERN, LAYOUT, MAX_FEATURES, NEIGHBOUR, NR_BASE, NR_KEYS, NR_MASK, NR_SWAPPED, POS_KEYS, RESP_BASE,
    RESP_KEYS, RESP_MASK, RESPONSE, SAVE_ATARI, SELF_ATARI, SPEC_COLS, SPEC_ROWS, V_EMPTY, V_WALL, N_WEIGHTS,
    choose_rollout_move, is_rollout_candidate, n_weights, pattern_spec, position_features, rollout_feature_ids,
    rollout_probabilities,
)


class RolloutPolicy:
    """The Python face: one weight table (numpy, from `nets.go.rollout.LeeRollout.weights_numpy()` or
    zeros for the uniform policy) and its pattern spec, with the kernels bound to a `Board`."""

    def __init__(self, weights: np.ndarray | None = None, response_bits: int = 16, pattern_bits: int = 17):
        self.spec = pattern_spec(response_bits, pattern_bits)
        size = n_weights(self.spec)
        weights = np.zeros(size) if weights is None else np.asarray(weights, dtype=np.float64)
        if weights.shape != (size,):
            raise ValueError(f"expected {size} weights for response_bits={response_bits}, "
                             f"pattern_bits={pattern_bits}; got shape {weights.shape}")
        self.weights = weights
        self.expw = np.exp(weights)

    def features(self, board) -> tuple[np.ndarray, np.ndarray]:
        """(points_C, ids_CK): the candidates of the side to move and their feature ids (-1 padded)."""
        g = board.geo
        points = np.empty(g.size * g.size, dtype=np.int32)
        ids = np.empty((g.size * g.size, MAX_FEATURES), dtype=np.int64)
        n = position_features(board.s, board.meta, g.neighbours, g.diagonals, self.spec, g.on_board, points, ids)
        return points[:n], ids[:n]

    def probabilities(self, board) -> np.ndarray:
        """p_π over action indices (N², no pass), from scratch."""
        g = board.geo
        out = np.empty(g.size * g.size, dtype=np.float64)
        rollout_probabilities(board.s, board.meta, g.neighbours, g.diagonals, self.spec, self.weights, g.on_board, out)
        return out

    def playout(self, board, rng_state: np.ndarray, max_moves: int | None = None) -> int:
        """Finish the game on `board` in place with p_π; return the area score (Black minus White, no komi)."""
        g = board.geo
        max_moves = max_moves if max_moves is not None else 3 * g.size * g.size
        moves = np.empty(max_moves, dtype=np.int32)
        score, _t = rollout_playout(board.s, board.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board, g.width,
                                    self.spec, self.expw, rng_state, max_moves, moves, 0)
        return int(score)
