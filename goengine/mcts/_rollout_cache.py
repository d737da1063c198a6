"""AlphaGo's incremental p_π (rollout_policy.py describes the scheme): cached weights of every empty point
for both colours, brought up to date after each move, with exact row sums for sampling; and the playout
that uses them."""
from __future__ import annotations

import numpy as np
from numba import njit

from goengine._kernels import (
    BLACK, COLOUR, EMPTIES, EMPTY, HEAD, KO, LAST_MOVE, LIBS, MARK, N_EMPTY, NEXT, PASS, PASSES, TO_PLAY, WHITE,
    _next_stamp, area_score, is_eye, place, play_pass,
)
from goengine.mcts._playout import liberties_after
from goengine.mcts._rollout_features import (
    LAYOUT, NEIGHBOUR, NR_BASE, NR_KEYS, NR_MASK, NR_SWAPPED, POS_KEYS, RESP_BASE, RESP_MASK, RESPONSE, SAVE_ATARI,
    SELF_ATARI, V_EMPTY, _cell_value, _diamond, _response_hash, _ring, _touches_own_atari, _uniform,
)

MAX_SPECIAL = 16  # points re-weighted at selection time: 12 diamond points and the ko point
WORK_PER_POINT = 5  # int32 scratch per padded point of a cache, plus 2 W + MAX_SPECIAL (see `new_cache`)

# Arrays:
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
        _row_sums(ew, n_points, w, r)
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
