"""numba kernels for AlphaGo Lee's feature planes (Silver et al. 2016, Extended Data Table 2).

`lee_quantities` reads one board state and writes, per on-board point (action index), the integers the
planes one-hot encode; features/__init__.py turns them into planes. Everything is relative to the side
to move ("the mover"). The per-move quantities are computed without playing the move: a move's chain is
the new stone plus the mover's neighbouring chains, its liberties are the union of their liberty lists
(listed once per board) with the move's empty neighbours, plus the captured stones that touch it. Only
the ladder planes play moves, on scratch copies.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from goengine._kernels import COLOUR, CSIZE, EMPTY, HEAD, LIBS, NEXT, TO_PLAY, is_eye, place
from goengine.features._ladder import chain_liberties, read_ladder

# Rows of the quantities array q[row, action].
Q_COLOUR = 0  # 0 empty, 1 the mover's stone, 2 the opponent's
Q_LIBERTIES = 1  # liberties of the chain on the point; 0 on empty points
Q_CAPTURE = 2  # opponent stones a move here captures; -1 where the move is illegal
Q_SELF_ATARI = 3  # stones of the mover's chain after a move here when it has at most one liberty; else 0
Q_LIBS_AFTER = 4  # liberties of the mover's chain after a move here; 0 where illegal
Q_LADDER_CAPTURE = 5  # 1 where a move puts an opponent chain in a ladder that works
Q_LADDER_ESCAPE = 6  # 1 where a move saves a chain of the mover's in atari from being laddered
Q_SENSIBLE = 7  # 1 where a move is legal and does not fill one of the mover's eyes
N_QUANTITIES = 8


@njit(cache=True)
def _move_shape(s, nb, p, mover, lib_start, lib_n, lib_flat, mark, stamp, friends, captured):
    """Liberties, chain size and captured stones if `mover` plays empty p (assumed legal). Chains'
    liberties come from the lists (lib_start, lib_n, lib_flat) built once per board. `friends` and
    `captured` (int32[4]) receive the heads of the neighbouring chains that join or die."""
    other = 3 - mover
    n_f = 0
    n_c = 0
    for d in range(4):
        r = p + nb[d]
        c = s[COLOUR, r]
        if c == mover or (c == other and s[LIBS, s[HEAD, r]] == 1):
            h = s[HEAD, r]
            seen = False
            for i in range(n_f):
                if friends[i] == h:
                    seen = True
            for i in range(n_c):
                if captured[i] == h:
                    seen = True
            if not seen:
                if c == mover:
                    friends[n_f] = h
                    n_f += 1
                else:
                    captured[n_c] = h
                    n_c += 1
    mark[p] = stamp  # the move's own point is never its liberty
    libs = 0
    size = 1
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == EMPTY and mark[r] != stamp:
            mark[r] = stamp
            libs += 1
    for i in range(n_f):
        h = friends[i]
        size += s[CSIZE, h]
        for j in range(lib_start[h], lib_start[h] + lib_n[h]):
            r = lib_flat[j]
            if mark[r] != stamp:
                mark[r] = stamp
                libs += 1
    n_captured = 0
    for i in range(n_c):
        h = captured[i]
        n_captured += s[CSIZE, h]
        q = h
        while True:
            # a captured stone becomes a liberty when it touches the new stone or a joined chain
            touches = False
            for d in range(4):
                r = q + nb[d]
                if r == p:
                    touches = True
                elif s[COLOUR, r] == mover:
                    hr = s[HEAD, r]
                    for j in range(n_f):
                        if friends[j] == hr:
                            touches = True
            if touches:
                libs += 1
            q = s[NEXT, q]
            if q == h:
                break
    return libs, size, n_captured


@njit(cache=True)
def _liberty_lists(s, nb, on_board, mark, lib_start, lib_n, lib_flat):
    """The liberties of every chain, listed once: lib_flat[lib_start[h]:][:lib_n[h]] for head h."""
    stamp = 0
    k = 0
    for a in range(on_board.shape[0]):
        h = on_board[a]
        if s[COLOUR, h] == EMPTY or s[HEAD, h] != h:
            continue
        stamp += 1
        lib_start[h] = k
        q = h
        while True:
            for d in range(4):
                r = q + nb[d]
                if s[COLOUR, r] == EMPTY and mark[r] != stamp:
                    mark[r] = stamp
                    lib_flat[k] = r
                    k += 1
            q = s[NEXT, q]
            if q == h:
                break
        lib_n[h] = k - lib_start[h]
    return stamp


@njit(cache=True)
def lee_quantities(s, meta, nb, dg, zob, on_board, legal, work_s, work_meta, max_nodes, q):
    """Fill q (int32 [N_QUANTITIES, n_actions]) for the side to move of (s, meta). legal[action] (int8)
    says which moves count as legal (the caller's rules: superko, suicide). Reads (s, meta) only."""
    mover = meta[TO_PLAY]
    other = 3 - mover
    n = on_board.shape[0]
    n_points = s.shape[1]
    mark = np.zeros(n_points, dtype=np.int32)
    lib_start = np.zeros(n_points, dtype=np.int32)
    lib_n = np.zeros(n_points, dtype=np.int32)
    lib_flat = np.empty(4 * n, dtype=np.int32)  # an empty point is a liberty of at most 4 chains
    stamp = _liberty_lists(s, nb, on_board, mark, lib_start, lib_n, lib_flat)
    friends = np.empty(4, dtype=np.int32)
    captured = np.empty(4, dtype=np.int32)
    action = np.full(n_points, -1, dtype=np.int32)
    for a in range(n):
        action[on_board[a]] = a
        for row in range(N_QUANTITIES):
            q[row, a] = 0
        q[Q_CAPTURE, a] = -1
    for a in range(n):
        p = on_board[a]
        c = s[COLOUR, p]
        if c != EMPTY:
            q[Q_COLOUR, a] = 1 if c == mover else 2
            q[Q_LIBERTIES, a] = s[LIBS, s[HEAD, p]]
        elif legal[a]:
            stamp += 1
            libs, size, n_cap = _move_shape(s, nb, p, mover, lib_start, lib_n, lib_flat, mark, stamp,
                                               friends, captured)
            q[Q_CAPTURE, a] = n_cap
            q[Q_LIBS_AFTER, a] = libs
            if libs <= 1:  # libs == 0 only for a suicide the rules allow: those stones die at once
                q[Q_SELF_ATARI, a] = size
            q[Q_SENSIBLE, a] = 0 if is_eye(s, nb, dg, p, mover) else 1

    # ladder reads start from work_s[0] with the first move played there: one board copy per question
    ws0 = work_s[0]
    wm0 = work_meta[0]
    libs2 = np.empty(2, dtype=np.int32)
    one = np.empty(1, dtype=np.int32)
    cand = np.empty(1 + 4 * n, dtype=np.int32)
    for a in range(n):
        h = on_board[a]
        if s[COLOUR, h] == EMPTY or s[HEAD, h] != h:
            continue  # one visit per chain, at its head
        if s[COLOUR, h] == other and s[LIBS, h] == 2:
            # ladder capture: atari from either side, then read the defender's way out
            chain_liberties(s, nb, h, libs2)
            for i in range(2):
                b = action[libs2[i]]
                if not legal[b] or q[Q_LADDER_CAPTURE, b] == 1:
                    continue
                # the defender's extension keeps the empty neighbours of its last liberty: three of them
                # (not counting this atari) and it is out, whatever else happens
                x = libs2[1 - i]
                free = 0
                for d in range(4):
                    if s[COLOUR, x + nb[d]] == EMPTY and x + nb[d] != libs2[i]:
                        free += 1
                if free >= 3:
                    continue
                ws0[:, :] = s
                wm0[:] = meta
                place(ws0, wm0, nb, zob, libs2[i], mover)
                if ws0[LIBS, ws0[HEAD, h]] == 1 and read_ladder(work_s, work_meta, nb, zob, h, mover, max_nodes):
                    q[Q_LADDER_CAPTURE, b] = 1
        elif s[COLOUR, h] == mover and s[LIBS, h] == 1:
            # ladder escape: extend, or capture an attacking chain in atari that touches this one
            chain_liberties(s, nb, h, one)
            cand[0] = one[0]
            n_cand = 1
            x = h
            while True:
                for d in range(4):
                    r = x + nb[d]
                    if s[COLOUR, r] == other and s[LIBS, s[HEAD, r]] == 1:
                        chain_liberties(s, nb, s[HEAD, r], one)
                        cand[n_cand] = one[0]
                        n_cand += 1
                x = s[NEXT, x]
                if x == h:
                    break
            for i in range(n_cand):
                b = action[cand[i]]
                if not legal[b] or q[Q_LADDER_ESCAPE, b] == 1:
                    continue
                ws0[:, :] = s
                wm0[:] = meta
                place(ws0, wm0, nb, zob, cand[i], mover)
                libs = ws0[LIBS, ws0[HEAD, h]]
                if libs >= 3 or (libs == 2 and not read_ladder(work_s, work_meta, nb, zob, h, other, max_nodes)):
                    q[Q_LADDER_ESCAPE, b] = 1


@njit(cache=True)
def one_hot_into(values, first, out):
    """out[k] (zero on entry) marks values == first + k; the last plane also takes larger values."""
    count = out.shape[0]
    for r in range(values.shape[0]):
        for c in range(values.shape[1]):
            v = values[r, c]
            if v >= first:
                out[min(v - first, count - 1), r, c] = 1.0


@njit(cache=True)
def ages_from_steps(boards, moved, cap, ages):
    """Turns since the stone on each point was played, from boards[0] (now) and boards[1:] (one step
    back each; moved[k] says whether step k+1 back was a move or a setup): the moves back to the most
    recent change of the point, `cap` if that change was a setup or there is none; 0 on empty points."""
    for a in range(boards.shape[1]):
        c = boards[0, a]
        if c == 0:
            ages[a] = 0
            continue
        age = cap
        moves = 0
        for k in range(1, boards.shape[0]):
            moves += moved[k - 1]
            if boards[k, a] != c:
                age = min(moves, cap) if moved[k - 1] else cap
                break
        ages[a] = age


@njit(cache=True)
def ages_from_history(history, on_board, ages):
    """Turns since the stone on each point was played, from colour rows newest first (H, n_points):
    the first k with history[k] != history[0] there; H for stones older than the rows; 0 on empty points.
    Exact when every step between rows is one move (a pass included)."""
    n_hist = history.shape[0]
    for a in range(on_board.shape[0]):
        p = on_board[a]
        c = history[0, p]
        if c == EMPTY:
            ages[a] = 0
            continue
        age = n_hist
        for k in range(1, n_hist):
            if history[k, p] != c:
                age = k
                break
        ages[a] = age
