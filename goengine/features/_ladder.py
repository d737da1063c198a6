"""Ladder reading (shicho) in numba, for AlphaGo Lee's "ladder capture" and "ladder escape" planes
(Silver et al. 2016, Extended Data Table 2: "one simple tactical feature that computes the outcome of a
ladder search").

A ladder is read as a two-player AND-OR search over the chain of the defender:

  - defender to move (the chain has one liberty): extend on that liberty, or capture an attacking chain
    that touches the chain and is itself in atari (the usual ways out). The chain escapes when some move
    leaves it three or more liberties, or two liberties from which the attacker cannot capture it.
  - attacker to move (the chain has two liberties): play either liberty (atari from either side). The
    chain is captured when some atari leaves it in atari with no escape. An atari that gives the chain
    two or more liberties (it captured something of the defender's) fails.

The search plays real moves with `_kernels.place` (captures, ko bans and all) on a stack of scratch
copies of the board state, one per ply, so the caller's state is never touched. Superko is ignored.
It stops at the depth of the stack (`ladder_work(n_points, max_plies)`, 100 plies by default: a ladder
crosses a 19x19 board in about 40) or after `max_nodes` positions; both count as "not captured", so the
planes only claim ladders that were read to the end. numba cannot cache recursive functions (the cached
code crashes when reloaded), so the search keeps its own stack of candidate moves instead of recursing.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from goengine._kernels import BLACK, COLOUR, EMPTY, HEAD, KO, LIBS, META_LEN, N_ROWS, NEXT, OK, TO_PLAY, WHITE
from goengine._kernels import is_legal_simple, place

MAX_PLIES = 100
MAX_NODES = 2000  # positions per reading; a real ladder needs about two per ply
CAND_MAX = 16  # defender candidates per node: its liberty and the capturing moves around it


def ladder_work(n_points: int, max_plies: int = MAX_PLIES) -> tuple[np.ndarray, np.ndarray]:
    """Scratch stack for `ladder_captured`: one board state per ply, plus the starting one."""
    return (np.empty((max_plies + 1, N_ROWS, n_points), dtype=np.int32),
            np.empty((max_plies + 1, META_LEN), dtype=np.int64))


@njit(cache=True)
def chain_liberties(s, nb, h, out):
    """Write up to len(out) distinct liberties of the chain through h into out; return how many."""
    n = 0
    q = h
    while True:
        for d in range(4):
            r = q + nb[d]
            if s[COLOUR, r] == EMPTY:
                seen = False
                for i in range(n):
                    if out[i] == r:
                        seen = True
                if not seen:
                    out[n] = r
                    n += 1
                    if n == out.shape[0]:
                        return n
        q = s[NEXT, q]
        if q == h:
            break
    return n


@njit(cache=True)
def _defender_moves(s, nb, chain_point, cand, row):
    """Candidates of the defender whose chain (through chain_point) is in atari: its last liberty,
    then the last liberty of every attacking chain in atari that touches it. Returns the count."""
    defender = s[COLOUR, chain_point]
    attacker = 3 - defender
    h = s[HEAD, chain_point]
    one = np.empty(1, dtype=np.int32)
    n = 0
    if chain_liberties(s, nb, h, one) == 1:
        cand[row, 0] = one[0]
        n = 1
    q = h
    while True:
        for d in range(4):
            r = q + nb[d]
            if s[COLOUR, r] == attacker and s[LIBS, s[HEAD, r]] == 1 and n < cand.shape[1]:
                chain_liberties(s, nb, s[HEAD, r], one)
                seen = False
                for i in range(n):
                    if cand[row, i] == one[0]:
                        seen = True
                if not seen:
                    cand[row, n] = one[0]
                    n += 1
        q = s[NEXT, q]
        if q == h:
            break
    return n


@njit(cache=True)
def _attacker_moves(s, nb, chain_point, cand, row):
    two = np.empty(2, dtype=np.int32)
    n = chain_liberties(s, nb, s[HEAD, chain_point], two)
    for i in range(n):
        cand[row, i] = two[i]
    return n


@njit(cache=True, inline="always")
def _free_neighbours(s, nb, p, skip):
    """Empty neighbours of p other than `skip`: liberties a stone on p keeps whatever else happens."""
    n = 0
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == EMPTY and r != skip:
            n += 1
    return n


@njit(cache=True)
def ladder_captured(s, meta, nb, zob, chain_point, attacker, work_s, work_meta, max_nodes):
    """True when the chain through `chain_point` (a stone of 3 - attacker) is captured in a ladder.

    One liberty: the defender moves first. Two liberties: the attacker moves first. Any other count, or
    no defender stone at chain_point: False. (s, meta) are not modified; work_s/work_meta (from
    `ladder_work`) hold the plies, and their length caps the depth."""
    work_s[0, :, :] = s
    work_meta[0, :] = meta
    return read_ladder(work_s, work_meta, nb, zob, chain_point, attacker, max_nodes)


@njit(cache=True)
def read_ladder(work_s, work_meta, nb, zob, chain_point, attacker, max_nodes):
    """`ladder_captured` for a position already in work_s[0], work_meta[0] (saves a copy when the
    caller has just played a move there). Overwrites the other plies of the work stack."""
    defender = 3 - attacker
    root_s = work_s[0]
    if (attacker != BLACK and attacker != WHITE) or root_s[COLOUR, chain_point] != defender:
        return False
    libs0 = root_s[LIBS, root_s[HEAD, chain_point]]
    if libs0 != 1 and libs0 != 2:
        return False
    root_attacks = libs0 == 2
    max_depth = work_s.shape[0] - 1
    first = attacker if root_attacks else defender
    if work_meta[0, TO_PLAY] != first:  # the ko ban belongs to the side that was to move
        work_meta[0, TO_PLAY] = first
        work_meta[0, KO] = 0
    cand = np.empty((max_depth + 1, CAND_MAX), dtype=np.int32)
    n_cand = np.zeros(max_depth + 1, dtype=np.int32)
    idx = np.zeros(max_depth + 1, dtype=np.int32)
    if root_attacks:
        n_cand[0] = _attacker_moves(root_s, nb, chain_point, cand, 0)
    else:
        n_cand[0] = _defender_moves(root_s, nb, chain_point, cand, 0)
    nodes = 1
    depth = 0
    pending = -1  # the result of the child just finished: 1 captured, 0 not, -1 none
    while True:
        attacking = (depth % 2 == 0) == root_attacks
        if pending >= 0:
            # the attacker's node is decided by a capturing child; the defender's by an escaping one
            if (attacking and pending == 1) or (not attacking and pending == 0):
                if depth == 0:
                    return pending == 1
                depth -= 1
                continue
            pending = -1
        if idx[depth] >= n_cand[depth]:
            result = 0 if attacking else 1  # no atari worked / no escape worked
            if depth == 0:
                return result == 1
            depth -= 1
            pending = result
            continue
        i = idx[depth]
        p = cand[depth, i]
        idx[depth] += 1
        mover = attacker if attacking else defender
        cur_s = work_s[depth]
        cur_meta = work_meta[depth]
        if is_legal_simple(cur_s, cur_meta, nb, p, mover, False) != OK:
            continue
        # cheap outcomes first, without copying the board: an atari whose other side has three free
        # points fails; so does an extension (candidate 0) onto a point with three free neighbours
        if attacking:
            if n_cand[depth] == 2 and _free_neighbours(cur_s, nb, cand[depth, 1 - i], p) >= 3:
                continue
        elif i == 0 and _free_neighbours(cur_s, nb, p, 0) >= 3:
            pending = 0
            continue
        nxt_s = work_s[depth + 1]
        nxt_meta = work_meta[depth + 1]
        nxt_s[:, :] = cur_s
        nxt_meta[:] = cur_meta
        place(nxt_s, nxt_meta, nb, zob, p, mover)
        libs = nxt_s[LIBS, nxt_s[HEAD, chain_point]]
        if attacking:
            if libs != 1:
                continue  # not an atari after all: this try fails
        else:
            if libs >= 3:
                pending = 0
                continue
            if libs <= 1:
                continue  # still in atari: this try fails
        if depth + 1 >= max_depth or nodes >= max_nodes:
            pending = 0  # unread: not a ladder we can vouch for
            continue
        nodes += 1
        depth += 1
        if attacking:
            n_cand[depth] = _defender_moves(nxt_s, nb, chain_point, cand, depth)
        else:
            n_cand[depth] = _attacker_moves(nxt_s, nb, chain_point, cand, depth)
        idx[depth] = 0
