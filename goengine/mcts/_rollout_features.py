"""Features of AlphaGo's rollout policy p_π (rollout_policy.py describes them), their pattern hashes,
and p_π computed from scratch: the reference the incremental cache (_rollout_cache.py) is tested against."""
from __future__ import annotations

import functools

import numpy as np
from numba import njit

from goengine._kernels import COLOUR, EMPTY, HEAD, KO, LAST_MOVE, LIBS, PASS, TO_PLAY, WALL, is_eye
from goengine.mcts._playout import liberties_after

# Handcrafted feature ids.
RESPONSE, SAVE_ATARI, SELF_ATARI, NEIGHBOUR = 0, 1, 2, 3
FIRST_PATTERN = NEIGHBOUR + 8
MAX_FEATURES = 6  # non-response pattern, response, response pattern, neighbour, save or self atari

# Rows of the spec array (int64 [SPEC_ROWS, SPEC_COLS]) made by `pattern_spec`.
NR_KEYS = 0  # rows 0..7: key of value v in 3x3 cell d at [NR_KEYS + d, v]
RESP_KEYS = 8  # rows 8..20: key of value v in diamond cell i (0 = the previous move, 1..12 around it)
POS_KEYS = 21  # [POS_KEYS, j]: key of the candidate sitting on diamond cell j (0..11)
LAYOUT = 22  # [LAYOUT, k]: RESP_BASE, RESP_MASK, NR_BASE, NR_MASK, N_WEIGHTS
NR_SWAPPED = 23  # rows 23..30: the 3x3 keys with own and opponent values swapped, to hash both colours
SPEC_ROWS, SPEC_COLS = 31, 13
RESP_BASE, RESP_MASK, NR_BASE, NR_MASK, N_WEIGHTS = range(5)

# Cell values, relative to the colour c whose move is scored.
V_EMPTY, V_WALL = 0, 7  # own stones 1..3 (by liberties, capped), opponent stones 4..6


@functools.lru_cache(maxsize=None)
def pattern_spec(response_bits: int = 16, pattern_bits: int = 17) -> np.ndarray:
    """The int64 spec array: Zobrist keys of the pattern cells and the weight table layout.

    Keys come from a generator seeded by the table sizes alone, so features (and trained weights) mean
    the same in every process."""
    for name, bits in (("response_bits", response_bits), ("pattern_bits", pattern_bits)):
        if not 4 <= bits <= 24:
            raise ValueError(f"{name} must be in 4..24, got {bits}")
    rng = np.random.Generator(np.random.PCG64(0xA1FA + 131 * response_bits + pattern_bits))
    spec = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=(SPEC_ROWS, SPEC_COLS), dtype=np.int64)
    resp_base = FIRST_PATTERN
    nr_base = resp_base + (1 << response_bits)
    spec[LAYOUT, :] = 0
    spec[LAYOUT, RESP_BASE] = resp_base
    spec[LAYOUT, RESP_MASK] = (1 << response_bits) - 1
    spec[LAYOUT, NR_BASE] = nr_base
    spec[LAYOUT, NR_MASK] = (1 << pattern_bits) - 1
    spec[LAYOUT, N_WEIGHTS] = nr_base + (1 << pattern_bits)
    swap = [V_EMPTY, 4, 5, 6, 1, 2, 3, V_WALL]
    spec[NR_SWAPPED:NR_SWAPPED + 8, :8] = spec[NR_KEYS:NR_KEYS + 8, swap]
    spec.setflags(write=False)
    return spec


def n_weights(spec: np.ndarray) -> int:
    return int(spec[LAYOUT, N_WEIGHTS])


@njit(cache=True, inline="always")
def _ring(nb, dg, j):
    """Offset of the j-th of the 8 neighbours (0..3 orthogonal as nb, 4..7 diagonal as dg)."""
    return nb[j] if j < 4 else dg[j - 4]


@njit(cache=True, inline="always")
def _diamond(nb, dg, j):
    """Offset of diamond cell j: the 8 neighbours, then the four points two steps away in a line."""
    return _ring(nb, dg, j) if j < 8 else 2 * nb[j - 8]


@njit(cache=True, inline="always")
def _cell_value(s, q, colour):
    if q < 0 or q >= s.shape[1]:
        return V_WALL  # two steps beyond the top or bottom row: past the padded array
    c = s[COLOUR, q]
    if c == EMPTY:
        return V_EMPTY
    if c == WALL:
        return V_WALL
    libs = s[LIBS, s[HEAD, q]]
    k = libs if libs < 3 else 3
    return k if c == colour else k + 3


@njit(cache=True, inline="always")
def _pattern_hash(s, nb, dg, spec, p, colour):
    h = np.int64(0)
    for d in range(8):
        h ^= spec[NR_KEYS + d, _cell_value(s, p + _ring(nb, dg, d), colour)]
    return h


@njit(cache=True, inline="always")
def _response_hash(s, nb, dg, spec, m, colour):
    h = spec[RESP_KEYS, _cell_value(s, m, colour)]
    for j in range(12):
        h ^= spec[RESP_KEYS + 1 + j, _cell_value(s, m + _diamond(nb, dg, j), colour)]
    return h


@njit(cache=True, inline="always")
def _diamond_index(nb, dg, m, p):
    """Which diamond cell around m the point p is, or -1."""
    delta = p - m
    for j in range(12):
        if _diamond(nb, dg, j) == delta:
            return j
    return -1


@njit(cache=True, inline="always")
def _touches_own_atari(s, nb, p, colour):
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == colour and s[LIBS, s[HEAD, r]] == 1:
            return True
    return False


@njit(cache=True)
def is_rollout_candidate(s, meta, nb, dg, p):
    """Empty, not the ko point, not a suicide, and not an eye-like point of the side to move."""
    colour = meta[TO_PLAY]
    if s[COLOUR, p] != EMPTY or p == meta[KO] or is_eye(s, nb, dg, p, colour):
        return False
    libs, _size, _cap = liberties_after(s, nb, p, colour)
    return libs >= 1


@njit(cache=True)
def rollout_feature_ids(s, meta, nb, dg, spec, p, out):
    """Write the ids of the features active for the side to move playing empty point p into out (at least
    MAX_FEATURES long); return how many. The from-scratch reference of what the cache keeps."""
    colour = meta[TO_PLAY]
    n = 0
    out[n] = spec[LAYOUT, NR_BASE] + (_pattern_hash(s, nb, dg, spec, p, colour) & spec[LAYOUT, NR_MASK])
    n += 1
    libs, _size, _cap = liberties_after(s, nb, p, colour)
    if libs == 1:
        out[n] = SELF_ATARI
        n += 1
    elif libs >= 2 and _touches_own_atari(s, nb, p, colour):
        out[n] = SAVE_ATARI
        n += 1
    m = meta[LAST_MOVE]
    if m != PASS:
        j = _diamond_index(nb, dg, m, p)
        if j >= 0:
            out[n] = RESPONSE
            h = _response_hash(s, nb, dg, spec, m, colour) ^ spec[POS_KEYS, j]
            out[n + 1] = spec[LAYOUT, RESP_BASE] + (h & spec[LAYOUT, RESP_MASK])
            n += 2
            if j < 8:
                out[n] = NEIGHBOUR + j
                n += 1
    return n


@njit(cache=True)
def position_features(s, meta, nb, dg, spec, on_board, points_out, ids_out):
    """Every candidate of the side to move: points_out[i] its padded point, ids_out[i, :] its feature ids
    padded with -1 (ids_out is [>= N², MAX_FEATURES]). Returns the number of candidates."""
    n = 0
    for i in range(on_board.shape[0]):
        p = on_board[i]
        if is_rollout_candidate(s, meta, nb, dg, p):
            points_out[n] = p
            k = rollout_feature_ids(s, meta, nb, dg, spec, p, ids_out[n])
            for f in range(k, ids_out.shape[1]):
                ids_out[n, f] = -1
            n += 1
    return n


@njit(cache=True)
def rollout_probabilities(s, meta, nb, dg, spec, weights, on_board, out):
    """out[action] = p_π(a|s) for each on-board point (0 for non-candidates), computed from scratch with a
    max-shifted softmax. Returns the number of candidates (0: the policy would pass)."""
    ids = np.empty(MAX_FEATURES, dtype=np.int64)
    best = -np.inf
    for i in range(on_board.shape[0]):
        out[i] = -np.inf
        p = on_board[i]
        if is_rollout_candidate(s, meta, nb, dg, p):
            k = rollout_feature_ids(s, meta, nb, dg, spec, p, ids)
            logit = 0.0
            for f in range(k):
                logit += weights[ids[f]]
            out[i] = logit
            best = max(best, logit)
    if best == -np.inf:
        out[:] = 0.0
        return 0
    total = 0.0
    n = 0
    for i in range(on_board.shape[0]):
        if out[i] == -np.inf:
            out[i] = 0.0
        else:
            out[i] = np.exp(out[i] - best)
            total += out[i]
            n += 1
    for i in range(on_board.shape[0]):
        out[i] /= total
    return n


@njit(cache=True, inline="always")
def _uniform(rng):
    """xorshift64* step on rng[0] (as _kernels._rand_below); a uniform float in [0, 1)."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    r = (x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(11)
    return np.float64(r) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def choose_rollout_move(s, meta, nb, dg, spec, weights, on_board, rng):
    """Sample a move from p_π computed from scratch (slow reference; rollouts use `choose_cached`)."""
    probs = np.empty(on_board.shape[0], dtype=np.float64)
    if rollout_probabilities(s, meta, nb, dg, spec, weights, on_board, probs) == 0:
        return PASS
    u = _uniform(rng)
    acc = 0.0
    last = PASS
    for i in range(on_board.shape[0]):
        if probs[i] > 0.0:
            acc += probs[i]
            last = on_board[i]
            if u < acc:
                return on_board[i]
    return last
