"""numba playout policies: tactical tests shared with tree priors, and the heavy (MoGo-style) playout.

Heavy playout move choice, in order (Gelly et al. 2006; Coulom 2007; Pachi and michi play similarly):
  1. answer the last move tactically: capture an opponent chain next to it that is in atari, or save
     an own chain next to it from atari (extend to two or more liberties, or capture a neighbour); and
     capture an opponent chain in atari next to the move before (our atari the opponent did not
     answer), as michi looks at the last two moves;
  2. a MoGo 3x3 pattern on one of the eight points around the last move;
  3. a uniform random legal move that does not fill an own eye.
Every candidate is rejected if it is a self-atari of a chain of two or more stones.

The playouts do not read ladders; the tree's priors do (_tactics.py says why).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from goengine._kernels import (
    BLACK, COLOUR, CSIZE, EMPTIES, EMPTY, EPOS, HEAD, LAST_MOVE, LIBS, N_EMPTY, NEXT, OK, PASS, PASSES, TO_PLAY,
    WHITE, _rand_below, area_owner, area_score, chain_seen, is_eye, is_legal_simple, place, play_pass,
)

MAX_CANDIDATES = 64


@njit(cache=True, inline="always")
def code_at(s, w, p):
    """16-bit code of the colours of the 8 neighbours of p: N NE E SE S SW W NW, 2 bits each."""
    return (s[COLOUR, p + w] | (s[COLOUR, p + w + 1] << 2) | (s[COLOUR, p + 1] << 4) | (s[COLOUR, p - w + 1] << 6)
            | (s[COLOUR, p - w] << 8) | (s[COLOUR, p - w - 1] << 10) | (s[COLOUR, p - 1] << 12)
            | (s[COLOUR, p + w - 1] << 14))


@njit(cache=True)
def chain_liberty(s, nb, h):
    """One liberty of the chain through h (for chains in atari: the liberty), or PASS if none."""
    q = h
    while True:
        for d in range(4):
            r = q + nb[d]
            if s[COLOUR, r] == EMPTY:
                return r
        q = s[NEXT, q]
        if q == h:
            return PASS


@njit(cache=True)
def liberties_after(s, nb, p, colour):
    """Liberties (capped at 2) of the chain `colour` would have after playing empty p, and its size
    (capped loosely: 1 + sizes of joined chains). Returns (libs, size, captures_something)."""
    other = 3 - colour
    n = 0
    first = -1
    captures = False
    for d in range(4):
        r = p + nb[d]
        c = s[COLOUR, r]
        lib = -1
        if c == EMPTY:
            lib = r
        elif c == other and s[LIBS, s[HEAD, r]] == 1:
            lib = r  # the captured stone next to p becomes a liberty
            captures = True
        if lib >= 0:
            if n == 0:
                first = lib
                n = 1
            elif lib != first:
                n = 2
    size = 1
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == colour:
            h = s[HEAD, r]
            seen = chain_seen(s, nb, p, d, colour, h)
            if seen:
                continue
            size += s[CSIZE, h]
            if n < 2:
                q = h
                while n < 2:
                    for e in range(4):
                        t = q + nb[e]
                        if t != p and s[COLOUR, t] == EMPTY:
                            if n == 0:
                                first = t
                                n = 1
                            elif t != first:
                                n = 2
                    q = s[NEXT, q]
                    if q == h:
                        break
    return n, size, captures


@njit(cache=True, inline="always")
def _acceptable(s, meta, nb, p, colour):
    """Legal, and not a self-atari of a chain of two or more stones."""
    if is_legal_simple(s, meta, nb, p, colour, False) != OK:
        return False
    libs, size, _cap = liberties_after(s, nb, p, colour)
    return not (libs < 2 and size >= 2)


@njit(cache=True, inline="always")
def capture_candidates(s, nb, colour, centre, out, n):
    """Append to out[:n] the liberty of each opponent chain in atari next to `centre` (next to the move
    before last: an atari of ours the opponent did not answer; next to a stone of an own chain in atari:
    a counter-capture); returns the new count."""
    other = 3 - colour
    for d in range(4):
        q = centre + nb[d]
        if s[COLOUR, q] == other and s[LIBS, s[HEAD, q]] == 1 and n < out.shape[0]:
            out[n] = chain_liberty(s, nb, s[HEAD, q])
            n += 1
    return n


@njit(cache=True)
def tactical_candidates(s, meta, nb, colour, last, out):
    """Captures of opponent chains in atari next to `last`, and escapes of own chains in atari next to
    it (extend to 2+ liberties, or capture a neighbour of the threatened chain). Returns the count."""
    other = 3 - colour
    n = 0
    for d in range(5):
        q = last if d == 4 else last + nb[d]
        c = s[COLOUR, q]
        if c != BLACK and c != WHITE:
            continue
        h = s[HEAD, q]
        if s[LIBS, h] != 1:
            continue
        lib = chain_liberty(s, nb, h)
        if c == other:
            if n < out.shape[0]:
                out[n] = lib
                n += 1
        else:
            libs, _size, _cap = liberties_after(s, nb, lib, colour)
            if libs >= 2 and n < out.shape[0]:
                out[n] = lib
                n += 1
            # counter-capture: opponent chains touching the threatened chain that are in atari
            t = h
            while True:
                n = capture_candidates(s, nb, colour, t, out, n)
                t = s[NEXT, t]
                if t == h:
                    break
    return n


@njit(cache=True)
def _pick_acceptable(s, meta, nb, rng, colour, cand, n):
    """A random candidate among cand[:n] that is _acceptable, or PASS."""
    while n > 0:
        i = _rand_below(rng, n)
        p = cand[i]
        if _acceptable(s, meta, nb, p, colour):
            return p
        n -= 1
        cand[i] = cand[n]
    return PASS


@njit(cache=True)
def choose_heavy(s, meta, nb, dg, w, pat, rng, cand, before_last=PASS):
    """The heavy policy's move for the side to move; before_last is the move before the last one.
    3x3 patterns are looked for round the last move only: round both lost 25 of 60 games."""
    colour = meta[TO_PLAY]
    last = meta[LAST_MOVE]
    if last != PASS:
        n = tactical_candidates(s, meta, nb, colour, last, cand)
        if before_last != PASS:
            n = capture_candidates(s, nb, colour, before_last, cand, n)
        p = _pick_acceptable(s, meta, nb, rng, colour, cand, n)
        if p != PASS:
            return p
        n = 0
        for d in range(8):
            p = last + (nb[d] if d < 4 else dg[d - 4])
            if s[COLOUR, p] == EMPTY and pat[code_at(s, w, p)]:
                cand[n] = p
                n += 1
        p = _pick_acceptable(s, meta, nb, rng, colour, cand, n)
        if p != PASS:
            return p
    return pick_random(s, meta, nb, dg, rng, colour, True)


@njit(cache=True)
def choose_light(s, meta, nb, dg, rng):
    """Uniform among legal moves that do not fill an own eye-like point (as _kernels.random_playout)."""
    return pick_random(s, meta, nb, dg, rng, meta[TO_PLAY], False)


@njit(cache=True, inline="always")
def pick_random(s, meta, nb, dg, rng, colour, no_big_self_atari):
    """A uniform draw among the empty points that are legal and not an own eye-like point (and, if asked,
    not a self-atari of two or more stones); PASS when none is. Rejected points are swapped past the end
    of the draw window of the empty list, so each is tried at most once."""
    k = meta[N_EMPTY]
    while k > 0:
        i = _rand_below(rng, k)
        p = s[EMPTIES, i]
        if not is_eye(s, nb, dg, p, colour):
            if no_big_self_atari:
                if _acceptable(s, meta, nb, p, colour):
                    return p
            elif is_legal_simple(s, meta, nb, p, colour, False) == OK:
                return p
        k -= 1
        last_empty = s[EMPTIES, k]
        s[EMPTIES, i] = last_empty
        s[EPOS, last_empty] = i
        s[EMPTIES, k] = p
        s[EPOS, p] = k
    return PASS


@njit(cache=True)
def playout(s, meta, nb, dg, zob, on_board, w, pat, rng, max_moves, heavy, moves_out, start):
    """Finish the game in place with the light or heavy policy. Moves are appended to moves_out from
    index `start`; returns (area score without komi, index after the last move written)."""
    cand = np.empty(MAX_CANDIDATES, dtype=np.int32)
    t = start
    n_moves = 0
    before_last = moves_out[start - 2] if start >= 2 else PASS
    while n_moves < max_moves and meta[PASSES] < 2:
        if heavy:
            p = choose_heavy(s, meta, nb, dg, w, pat, rng, cand, before_last)
        else:
            p = choose_light(s, meta, nb, dg, rng)
        before_last = meta[LAST_MOVE]
        if p == PASS:
            play_pass(meta)
        else:
            place(s, meta, nb, zob, p, meta[TO_PLAY])
        if t < moves_out.shape[0]:
            moves_out[t] = p
            t += 1
        n_moves += 1
    return area_score(s, meta, nb, on_board), t


@njit(cache=True)
def ownership_playouts(s, meta, nb, dg, zob, on_board, action_of_point, w, pat, rng, n, max_moves, heavy, owner_sum):
    """Run n playouts from (s, meta) and add each point's final owner (+1 Black, -1 White, 0 neutral)
    to owner_sum[action]. Used for dead stones and ownership maps."""
    work_s = s.copy()
    work_meta = meta.copy()
    moves = np.empty(max_moves + 1, dtype=np.int32)
    owner = np.empty(on_board.shape[0], dtype=np.int32)
    for _ in range(n):
        work_s[:, :] = s
        work_meta[:] = meta
        playout(work_s, work_meta, nb, dg, zob, on_board, w, pat, rng, max_moves, heavy, moves, 0)
        area_owner(work_s, work_meta, nb, on_board, action_of_point, owner)
        for i in range(on_board.shape[0]):
            if owner[i] == BLACK:
                owner_sum[i] += 1.0
            elif owner[i] == WHITE:
                owner_sum[i] -= 1.0

