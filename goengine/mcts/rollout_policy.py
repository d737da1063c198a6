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
"""
from __future__ import annotations

import functools

import numpy as np
from numba import njit

from goengine._kernels import (
    BLACK, COLOUR, EMPTIES, EMPTY, HEAD, KO, LAST_MOVE, LIBS, MARK, N_EMPTY, NEXT, PASS, PASSES, TO_PLAY, WALL, WHITE,
    _next_stamp,
    area_score, is_eye, place, play_pass,
)
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

MAX_SPECIAL = 16  # points re-weighted at selection time: 12 diamond points and the ko point
WORK_PER_POINT = 5  # int32 scratch per padded point of a cache, plus 2 W + MAX_SPECIAL (see `new_cache`)


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


# --- the incremental cache -------------------------------------------------------------------------------
#
# ew: float64 [3, n_points + W + 1 + MAX_SPECIAL]. For colour c (1, 2): ew[c, p] the cached weight of p,
# ew[c, n_points + r] the exact sum of row r, ew[c, n_points + W] the sum of the rows. ew[0, :MAX_SPECIAL]
# is scratch for the re-weighted points of one selection.
# work: int32 [5 n_points + 2 W + MAX_SPECIAL]: watched chains (stone, old liberties) in [0, 2n), centres of
# 3x3s to recompute in [2n, 4n), dirty points in [4n, 5n), row flags and the list of dirty rows in
# [5n, 5n + 2W), and the special points of one selection in the last MAX_SPECIAL.


def new_cache(n_points: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Zeroed (ew, work) arrays for a board of `n_points` padded points and padded width `width`."""
    return (np.zeros((3, n_points + width + 1 + MAX_SPECIAL), dtype=np.float64),
            np.zeros(WORK_PER_POINT * n_points + 2 * width + MAX_SPECIAL, dtype=np.int32))


@njit(cache=True, inline="always")
def _point_weight(s, nb, dg, spec, expw, p, colour, h):
    """exp of the summed weights of the features of `colour` at empty p that ignore the previous move;
    0 for a non-candidate (eye-like point or suicide). h is p's 3x3 hash for `colour`."""
    if is_eye(s, nb, dg, p, colour):
        return 0.0
    libs, _size, _cap = liberties_after(s, nb, p, colour)
    if libs == 0:
        return 0.0
    e = expw[spec[LAYOUT, NR_BASE] + (h & spec[LAYOUT, NR_MASK])]
    if libs == 1:
        e *= expw[SELF_ATARI]
    elif _touches_own_atari(s, nb, p, colour):
        e *= expw[SAVE_ATARI]
    return e


@njit(cache=True)
def _refresh_points(s, nb, dg, spec, expw, ew, points, start, count):
    """Recompute ew[BLACK, p] and ew[WHITE, p] for the empty points points[start:start + count].

    One pass over the 3x3 hashes both colours (White's hash reads Black's cell values through the
    swapped keys). The loop body is written out rather than calling a helper per point, which measured
    about three times slower (42 against 15 ns a point), whether numba inlined the helper or not."""
    base, mask = spec[LAYOUT, NR_BASE], spec[LAYOUT, NR_MASK]
    for i in range(start, start + count):
        p = points[i]
        hb = np.int64(0)
        hw = np.int64(0)
        n_empty = 0
        atari_b = 0  # ints and plain branches: bool flags and `n += v == 0` compile several times slower
        atari_w = 0
        for d in range(8):
            v = _cell_value(s, p + _ring(nb, dg, d), BLACK)
            hb ^= spec[NR_KEYS + d, v]
            hw ^= spec[NR_SWAPPED + d, v]
            if d < 4:
                if v == V_EMPTY:
                    n_empty += 1
                elif v == 1:
                    atari_b = 1
                elif v == 4:
                    atari_w = 1
        if n_empty >= 2:
            # two empty neighbours: legal, no eye and no self-atari for either colour, so the 3x3
            # values answer everything (the common case, without walking chains)
            eb = expw[base + (hb & mask)]
            if atari_b:
                eb *= expw[SAVE_ATARI]
            e_w = expw[base + (hw & mask)]
            if atari_w:
                e_w *= expw[SAVE_ATARI]
            ew[BLACK, p] = eb
            ew[WHITE, p] = e_w
        else:
            ew[BLACK, p] = _point_weight(s, nb, dg, spec, expw, p, BLACK, hb)
            ew[WHITE, p] = _point_weight(s, nb, dg, spec, expw, p, WHITE, hw)


@njit(cache=True, inline="always")
def _row_sums(ew, n_points, w, r):
    tb = 0.0
    tw = 0.0
    for q in range(r * w, r * w + w):
        tb += ew[BLACK, q]
        tw += ew[WHITE, q]
    ew[BLACK, n_points + r] = tb
    ew[WHITE, n_points + r] = tw


@njit(cache=True, inline="always")
def _totals(ew, n_points, w):
    tb = 0.0
    tw = 0.0
    for r in range(w):
        tb += ew[BLACK, n_points + r]
        tw += ew[WHITE, n_points + r]
    ew[BLACK, n_points + w] = tb
    ew[WHITE, n_points + w] = tw


@njit(cache=True)
def cache_reset(s, meta, nb, dg, w, spec, expw, ew):
    """Fill the cache from scratch for the current stones (both colours)."""
    n_points = s.shape[1]
    ew[:, :] = 0.0
    _refresh_points(s, nb, dg, spec, expw, ew, s[EMPTIES], 0, meta[N_EMPTY])
    for r in range(w):
        _row_sums(ew, n_points, w, r)
    _totals(ew, n_points, w)


@njit(cache=True)
def play_and_update(s, meta, nb, dg, zob, w, spec, expw, ew, work, p):
    """Play p (legal, or PASS) for the side to move and bring the cache up to date.

    The cached weight of an empty point depends on its 3x3 colours, the liberty counts (capped at 3) of
    the stones there, and the liberties of the chains it touches (through `liberties_after`). So the
    points to recompute are the 3x3s around p and around captured stones, and around every stone of a
    chain whose capped liberty count changed or which is left with 2 or fewer liberties (its liberty set
    may have moved): chains next to p and own chains next to captured stones, watched before the move.
    Returns the number of points recomputed. Loops are written out for the reason in `_refresh_points`."""
    if p == PASS:
        play_pass(meta)
        return 0
    n_points = s.shape[1]
    colour = meta[TO_PLAY]
    other = 3 - colour
    centres, dirty, rowflag = 2 * n_points, 4 * n_points, 5 * n_points
    rowlist = rowflag + w

    # before the move: the chains next to p, and the stones (and the own chains around them) it captures
    stamp = _next_stamp(s, meta)
    nw = 0
    nc = 0
    for d in range(4):
        r = p + nb[d]
        c = s[COLOUR, r]
        if c != BLACK and c != WHITE:
            continue
        h = s[HEAD, r]
        if s[MARK, h] == stamp:
            continue
        s[MARK, h] = stamp
        work[2 * nw] = h
        work[2 * nw + 1] = s[LIBS, h]
        nw += 1
        if c == other and s[LIBS, h] == 1:
            q = h
            while True:
                work[centres + nc] = q
                nc += 1
                for e in range(4):
                    t = q + nb[e]
                    if s[COLOUR, t] == colour:
                        ht = s[HEAD, t]
                        if s[MARK, ht] != stamp:
                            s[MARK, ht] = stamp
                            work[2 * nw] = ht
                            work[2 * nw + 1] = s[LIBS, ht]
                            nw += 1
                q = s[NEXT, q]
                if q == h:
                    break
    place(s, meta, nb, zob, p, colour)

    # centres whose 3x3 must be recomputed: p, the captured points, stones of chains whose liberties moved
    stamp = _next_stamp(s, meta)
    work[centres + nc] = p
    nc += 1
    for i in range(nw):
        stone = work[2 * i]
        if s[COLOUR, stone] != BLACK and s[COLOUR, stone] != WHITE:
            continue  # captured: its points are centres already
        h = s[HEAD, stone]
        old = work[2 * i + 1]
        new = s[LIBS, h]
        if (min(old, 3) == min(new, 3) and new > 2) or s[MARK, h] == stamp:
            continue
        s[MARK, h] = stamp  # heads are stones, never dirty points: safe to stamp as "walked"
        q = h
        while True:
            if q != p:
                work[centres + nc] = q
                nc += 1
            q = s[NEXT, q]
            if q == h:
                break
    nd = 0
    for i in range(nc):
        q = work[centres + i]
        for d in range(9):
            t = q if d == 8 else q + _ring(nb, dg, d)
            if s[COLOUR, t] == EMPTY and s[MARK, t] != stamp:
                s[MARK, t] = stamp
                work[dirty + nd] = t
                nd += 1

    _refresh_points(s, nb, dg, spec, expw, ew, work, dirty, nd)
    ew[BLACK, p] = 0.0
    ew[WHITE, p] = 0.0
    work[rowflag + p // w] = 1
    work[rowlist] = p // w
    nr = 1
    for i in range(nd):
        r = work[dirty + i] // w
        if work[rowflag + r] == 0:
            work[rowflag + r] = 1
            work[rowlist + nr] = r
            nr += 1
    for i in range(nr):
        r = work[rowlist + i]
        work[rowflag + r] = 0
        tb = 0.0
        tw = 0.0
        for q in range(r * w, r * w + w):
            tb += ew[BLACK, q]
            tw += ew[WHITE, q]
        ew[BLACK, n_points + r] = tb
        ew[WHITE, n_points + r] = tw
    _totals(ew, n_points, w)
    return nd


@njit(cache=True, inline="always")
def _specials(s, meta, nb, dg, spec, expw, ew, work):
    """Re-weight the points the previous move and the ko rule touch, for the side to move: their new
    weights go to ew[0, i], their points to the selection scratch of work. Returns (count, cached weight
    of those points, new weight of those points)."""
    n_points = s.shape[1]
    sp = work.shape[0] - MAX_SPECIAL
    c = meta[TO_PLAY]
    m = meta[LAST_MOVE]
    ko = meta[KO]
    n = 0
    d_old = 0.0
    d_new = 0.0
    ko_seen = ko == PASS
    if m != PASS:
        hr = _response_hash(s, nb, dg, spec, m, c)
        for j in range(12):
            q = m + _diamond(nb, dg, j)
            if q < 0 or q >= n_points:
                continue
            base = ew[c, q]
            if base <= 0.0:
                continue
            f = expw[RESPONSE] * expw[spec[LAYOUT, RESP_BASE] + ((hr ^ spec[POS_KEYS, j]) & spec[LAYOUT, RESP_MASK])]
            if j < 8:
                f *= expw[NEIGHBOUR + j]
            if q == ko:
                f = 0.0
                ko_seen = True
            work[sp + n] = q
            ew[0, n] = base * f
            d_old += base
            d_new += base * f
            n += 1
    if not ko_seen and ew[c, ko] > 0.0:
        work[sp + n] = ko
        ew[0, n] = 0.0
        d_old += ew[c, ko]
        n += 1
    return n, d_old, d_new


@njit(cache=True)
def cached_probabilities(s, meta, nb, dg, w, spec, expw, ew, work, on_board, out):
    """out[action] = p_π(a|s) as `choose_cached` samples it, from the cache (for tests)."""
    n_points = s.shape[1]
    c = meta[TO_PLAY]
    n_sp, d_old, d_new = _specials(s, meta, nb, dg, spec, expw, ew, work)
    sp = work.shape[0] - MAX_SPECIAL
    z = max(ew[c, n_points + w] - d_old, 0.0) + d_new
    for i in range(on_board.shape[0]):
        out[i] = ew[c, on_board[i]] / z if z > 0 else 0.0
    for k in range(n_sp):
        q = work[sp + k]
        for i in range(on_board.shape[0]):
            if on_board[i] == q:
                out[i] = ew[0, k] / z if z > 0 else 0.0


@njit(cache=True, inline="always")
def _sample_rows(ew, c, n_points, w, u):
    """The point at cumulative weight u of colour c's cache: a row by the row sums, then a point in it."""
    acc = 0.0
    row = -1
    for r in range(w):
        t = ew[c, n_points + r]
        if t > 0.0:
            row = r
            if u < acc + t:
                break
            acc += t
    if row < 0:
        return PASS
    last = PASS
    for q in range(row * w, row * w + w):
        e = ew[c, q]
        if e > 0.0:
            last = q
            acc += e
            if u < acc:
                return q
    return last


@njit(cache=True)
def choose_cached(s, meta, nb, dg, w, spec, expw, ew, work, rng):
    """Sample a move from p_π using the cache (kept current by `play_and_update`); PASS if no candidate.

    The special points (diamond around the previous move, ko) are drawn with their re-weighted mass; the
    rest by rejection from the cache's row sums, which costs O(rows + width) per draw."""
    n_points = s.shape[1]
    c = meta[TO_PLAY]
    n_sp, d_old, d_new = _specials(s, meta, nb, dg, spec, expw, ew, work)
    sp = work.shape[0] - MAX_SPECIAL
    total = ew[c, n_points + w]
    rest = total - d_old
    if rest < 1e-12 * total:
        rest = 0.0  # everything cached lies on special points (the difference is rounding)
    z = rest + d_new
    if z <= 0.0:
        return PASS
    u = _uniform(rng) * z
    if u < d_new:
        last = PASS
        for k in range(n_sp):
            e = ew[0, k]
            if e > 0.0:
                last = work[sp + k]
                if u < e:
                    return last
                u -= e
        return last
    for _try in range(64):
        q = _sample_rows(ew, c, n_points, w, _uniform(rng) * total)
        special = False
        for k in range(n_sp):
            if work[sp + k] == q:
                special = True
        if not special:
            return q
    # the non-special mass is a sliver of the total: walk it once instead
    u = _uniform(rng) * rest
    last = PASS
    for q in range(n_points):
        e = ew[c, q]
        if e <= 0.0:
            continue
        special = False
        for k in range(n_sp):
            if work[sp + k] == q:
                special = True
        if special:
            continue
        last = q
        if u < e:
            return q
        u -= e
    return last


@njit(cache=True)
def rollout_playout(s, meta, nb, dg, zob, on_board, w, spec, expw, rng, max_moves, moves_out, start):
    """Finish the game in place with p_π (as `_playout.playout` does with its policies): moves are
    appended to moves_out from index `start`; returns (area score without komi, index after the last
    move written). expw = exp(weights), float64."""
    n_points = s.shape[1]
    ew = np.empty((3, n_points + w + 1 + MAX_SPECIAL), dtype=np.float64)
    work = np.zeros(WORK_PER_POINT * n_points + 2 * w + MAX_SPECIAL, dtype=np.int32)
    cache_reset(s, meta, nb, dg, w, spec, expw, ew)
    t = start
    n_moves = 0
    while n_moves < max_moves and meta[PASSES] < 2:
        p = choose_cached(s, meta, nb, dg, w, spec, expw, ew, work, rng)
        play_and_update(s, meta, nb, dg, zob, w, spec, expw, ew, work, p)
        if t < moves_out.shape[0]:
            moves_out[t] = p
            t += 1
        n_moves += 1
    return area_score(s, meta, nb, on_board), t


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
