"""Tactical reading for the tree's priors: ladders (expand_with_knowledge in _tree.py uses these).

An escape from atari that runs into a ladder, or an atari that starts a working one, looks like any
other extension or atari to 3x3 patterns and liberty counts; michi and Pachi read the ladder to tell
them apart. Here the reading is goengine.features._ladder's (the AlphaGo Lee feature), on a stack of
board copies, so the caller's board is never touched, and most questions are answered by cheap
liberty counts before any copy.

Measured at 0.3 s a move on 9x9 against the same engine without ladder knowledge: priors that read
ladders won 28 of 40 games. Reading every escape in the playouts as well halved the simulations per
second and won 19 of 40, so the playouts (_playout.py) do not read ladders.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from goengine._kernels import COLOUR, EMPTY, HEAD, LIBS, META_LEN, N_ROWS, NEXT, PASS, chain_seen, place
from goengine.features._ladder import read_ladder

LADDER_NODES = 100
"""Positions one ladder reading may visit; an unread ladder counts as an escape."""


@njit(cache=True)
def ladder_stack(s, w):
    """Scratch plies for ladder readings on a board of width w: a ladder crosses the board in about
    twice its size in plies."""
    plies = 2 * (w - 2) + 2
    return (np.empty((plies + 1, N_ROWS, s.shape[1]), dtype=np.int32),
            np.empty((plies + 1, META_LEN), dtype=np.int64))


@njit(cache=True, inline="always")
def free_neighbours(s, nb, p, skip, skip2=-1):
    """Empty neighbours of p other than skip and skip2."""
    n = 0
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == EMPTY and r != skip and r != skip2:
            n += 1
    return n


@njit(cache=True)
def _extension_liberties(s, nb, p, colour, out):
    """Liberties (up to 3, written to out) of the chain `colour` would have after playing empty p,
    counting only empty points: captures are not looked at. Returns how many."""
    n = 0
    for d in range(5):
        q = p if d == 4 else p + nb[d]
        if d < 4 and (s[COLOUR, q] != colour or chain_seen(s, nb, p, d, colour, s[HEAD, q])):
            continue
        h = q if d == 4 else s[HEAD, q]
        t = h
        while True:
            for e in range(4):
                r = t + nb[e]
                if r != p and s[COLOUR, r] == EMPTY:
                    new = True
                    for i in range(n):
                        if out[i] == r:
                            new = False
                    if new:
                        out[n] = r
                        n += 1
                        if n == 3:
                            return n
            if d == 4:
                break
            t = s[NEXT, t]
            if t == h:
                break
    return n


@njit(cache=True)
def _play_on_stack(s, meta, nb, zob, p, colour, lad_s, lad_meta):
    """Copy the position to the first ply of the reading stack and play `colour` at p there; returns
    that ply's board (the reader starts from it)."""
    lad_s[0, :, :] = s
    lad_meta[0, :] = meta
    place(lad_s[0], lad_meta[0], nb, zob, p, colour)
    return lad_s[0]


@njit(cache=True)
def escape_holds(s, meta, nb, zob, p, colour, lad_s, lad_meta):
    """After `colour` plays the legal point p: does the chain through p have three or more liberties,
    or two from which the opponent cannot capture it in a ladder?

    Most answers need no reading: three liberties hold; with two, when each of them has three free
    neighbours besides the other, an atari on either is answered by extending to three liberties."""
    libs = np.empty(3, dtype=np.int32)
    captures = False
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == 3 - colour and s[LIBS, s[HEAD, r]] == 1:
            captures = True
    if not captures:
        n = _extension_liberties(s, nb, p, colour, libs)
        if n >= 3:
            return True
        if n <= 1:
            return False
        if (free_neighbours(s, nb, libs[0], libs[1], p) >= 3
                and free_neighbours(s, nb, libs[1], libs[0], p) >= 3):
            return True
    ls = _play_on_stack(s, meta, nb, zob, p, colour, lad_s, lad_meta)
    n_libs = ls[LIBS, ls[HEAD, p]]
    if n_libs >= 3:
        return True
    if n_libs <= 1:
        return False
    return not read_ladder(lad_s, lad_meta, nb, zob, p, 3 - colour, LADDER_NODES)


@njit(cache=True)
def ladder_atari(s, meta, nb, zob, p, h, colour, lad_s, lad_meta):
    """Is `colour` playing p (a liberty of the opponent chain through h, which has two) an atari that
    captures that chain in a ladder? p must be legal; the cheap refutations are tried first."""
    # the other liberty: where the chain runs to
    o = PASS
    q = h
    while o == PASS:
        for d in range(4):
            r = q + nb[d]
            if s[COLOUR, r] == EMPTY and r != p:
                o = r
        q = s[NEXT, q]
        if q == h:
            break
    if o == PASS or free_neighbours(s, nb, o, p) >= 3:
        return False
    ls = _play_on_stack(s, meta, nb, zob, p, colour, lad_s, lad_meta)
    if ls[COLOUR, h] != 3 - colour or ls[LIBS, ls[HEAD, h]] != 1 or ls[LIBS, ls[HEAD, p]] < 2:
        return False  # not an atari, or one that puts the attacking stone in atari itself
    return read_ladder(lad_s, lad_meta, nb, zob, h, colour, LADDER_NODES)
