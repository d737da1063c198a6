"""numba kernels of the vector env: many boards against a random opponent, stepped in one call.

Each board is goengine's state (`s`, `meta`; layout in goengine/_kernels.py), stacked on a leading axis,
and moves go through goengine's own kernels (`is_legal_simple`, `place`, `play_pass`, `is_eye`,
`area_score`). Rules here are simple ko and no suicide (no superko: the move cap ends any cycle), the
rules the playouts use. Observations are AlphaGo Zero's 17 planes from the agent's side (it is always the
side to move when it observes), kept as a ring of the last 8 boards per env.

Action indices: a = row * N + col (row 0 = GTP row 1), N*N = pass (goengine/coords.py).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from goengine import _kernels as K

HISTORY = 8
PLANES = 2 * HISTORY + 1

# agent colour modes
COLOUR_BLACK, COLOUR_WHITE, COLOUR_RANDOM = 0, 1, 2


@njit(cache=True, inline="always")
def _push_history(s, hist, b, on_board):
    """Put board b's current stones at the head of its history ring (hist[b, HISTORY] holds the head's
    index in its first cell; rows 0..HISTORY-1 are the ring)."""
    head = (hist[b, HISTORY, 0] + 1) % HISTORY
    hist[b, HISTORY, 0] = head
    for a in range(on_board.shape[0]):
        hist[b, head, a] = s[K.COLOUR, on_board[a]]


@njit(cache=True)
def random_sensible_move(s, meta, nb, dg, rng):
    """A uniform random legal point (simple ko, no suicide) that does not fill the mover's eye-like point,
    or PASS when there is none: goengine's playout rule (RandomPlayer's too)."""
    colour = meta[K.TO_PLAY]
    k = meta[K.N_EMPTY]
    while k > 0:
        i = K._rand_below(rng, k)
        p = s[K.EMPTIES, i]
        if not K.is_eye(s, nb, dg, p, colour) and K.is_legal_simple(s, meta, nb, p, colour, False) == K.OK:
            return p
        k -= 1  # move the rejected point past the window so it is not drawn again
        last = s[K.EMPTIES, k]
        s[K.EMPTIES, i] = last
        s[K.EPOS, last] = i
        s[K.EMPTIES, k] = p
        s[K.EPOS, p] = k
    return K.PASS


@njit(cache=True, inline="always")
def _play_point(s, meta, nb, zob, p):
    if p == K.PASS:
        K.play_pass(meta)
    else:
        K.place(s, meta, nb, zob, p, meta[K.TO_PLAY])


@njit(cache=True)
def _reset_one(s, meta, hist, agent, ep_moves, b, nb, dg, zob, on_board, empty_colours, rng, colour_mode):
    """A fresh game on board b; when the agent is White the opponent's first move is played."""
    K.init_state(s[b], meta[b], empty_colours, on_board)
    hist[b, :, :] = 0
    ep_moves[b] = 0
    if colour_mode == COLOUR_RANDOM:
        agent[b] = K.BLACK if K._rand_below(rng, 2) == 0 else K.WHITE
    else:
        agent[b] = K.BLACK if colour_mode == COLOUR_BLACK else K.WHITE
    if agent[b] == K.WHITE:
        p = random_sensible_move(s[b], meta[b], nb, dg, rng)
        _play_point(s[b], meta[b], nb, zob, p)
        _push_history(s[b], hist, b, on_board)
        ep_moves[b] = 1


@njit(cache=True, inline="always")
def _legal(s, meta, nb, p, colour):
    """goengine's is_legal_simple(..., suicide_ok=False) == OK for an on-board point, inlined and written
    without data-dependent branches (random boards make them mispredict): the mask asks it N*N times a
    step. A neighbour makes the move legal if it is empty, a friendly chain with a spare liberty, or an
    enemy chain in atari (captured). s[HEAD] of an empty or wall point is some point whose LIBS the
    colour tests below never use."""
    other = 3 - colour
    ok = 0
    for d in range(4):
        r = p + nb[d]
        cr = s[K.COLOUR, r]
        libs = s[K.LIBS, s[K.HEAD, r]]
        ok |= (cr == K.EMPTY) | ((cr == colour) & (libs > 1)) | ((cr == other) & (libs == 1))
    return ok & (s[K.COLOUR, p] == K.EMPTY) & (p != meta[K.KO])


@njit(cache=True)
def _mask_one(s, meta, b, nb, on_board, mask):
    sb = s[b]
    mb = meta[b]
    mover = mb[K.TO_PLAY]
    n = on_board.shape[0]
    for a in range(n):
        mask[b, a] = 1 if _legal(sb, mb, nb, on_board[a], mover) else 0
    mask[b, n] = 1


@njit(cache=True)
def _obs_one(meta, hist, b, size, obs):
    """obs[b]: float32 (17, N*N) (the caller's (B, 17, N, N) buffer seen flat), from the side to move."""
    mover = meta[b, K.TO_PLAY]
    other = 3 - mover
    head = hist[b, HISTORY, 0]
    n = size * size
    for t in range(HISTORY):
        ring = hist[b, (head - t) % HISTORY]  # the board t moves back
        mine = obs[b, 2 * t]
        theirs = obs[b, 2 * t + 1]
        for a in range(n):  # a branch-free loop the compiler vectorises
            mine[a] = np.float32(ring[a] == mover)
            theirs[a] = np.float32(ring[a] == other)
    obs[b, 2 * HISTORY, :] = 1.0 if mover == K.BLACK else 0.0


@njit(cache=True)
def reset_all(s, meta, hist, agent, ep_moves, nb, dg, zob, on_board, empty_colours, rng, colour_mode, size,
              obs, mask):
    for b in range(s.shape[0]):
        _reset_one(s, meta, hist, agent, ep_moves, b, nb, dg, zob, on_board, empty_colours, rng, colour_mode)
        _obs_one(meta, hist, b, size, obs)
        _mask_one(s, meta, b, nb, on_board, mask)


@njit(cache=True)
def first_illegal(s, meta, actions, nb, on_board):
    """The first env whose action is illegal (simple ko, no suicide) or out of range, or -1."""
    n = on_board.shape[0]
    for b in range(s.shape[0]):
        a = actions[b]
        if a < 0 or a > n:
            return b
        if a < n and K.is_legal_simple(s[b], meta[b], nb, on_board[a], meta[b, K.TO_PLAY], False) != K.OK:
            return b
    return -1


@njit(cache=True)
def step_all(s, meta, hist, agent, ep_moves, actions, nb, dg, zob, on_board, empty_colours, rng, colour_mode,
             size, komi, max_moves, illegal_reward, obs, mask, reward, terminated, truncated, final_obs,
             final_score):
    """One agent move on every board, then the random opponent's reply, then an automatic reset of the
    boards whose game ended (gymnasium's same-step autoreset: obs is the new game's, final_obs the last
    position's). An illegal action (possible only when the caller allows it) ends that game with
    `illegal_reward`. final_score[b] is the area score with komi from the agent's side (0 unless ended)."""
    n = on_board.shape[0]
    for b in range(s.shape[0]):
        sb = s[b]
        mb = meta[b]
        reward[b] = 0.0
        terminated[b] = False
        truncated[b] = False
        final_score[b] = 0.0
        a = actions[b]
        p = K.PASS if a >= n else on_board[a]
        if a < 0 or a > n or (p != K.PASS and K.is_legal_simple(sb, mb, nb, p, mb[K.TO_PLAY], False) != K.OK):
            reward[b] = illegal_reward
            terminated[b] = True
        else:
            _play_point(sb, mb, nb, zob, p)
            _push_history(sb, hist, b, on_board)
            ep_moves[b] += 1
            if mb[K.PASSES] < 2 and ep_moves[b] < max_moves:
                q = random_sensible_move(sb, mb, nb, dg, rng)
                _play_point(sb, mb, nb, zob, q)
                _push_history(sb, hist, b, on_board)
                ep_moves[b] += 1
            if mb[K.PASSES] >= 2:
                score = K.area_score(sb, mb, nb, on_board) - komi
                if agent[b] == K.WHITE:
                    score = -score
                final_score[b] = score
                reward[b] = 1.0 if score > 0 else (-1.0 if score < 0 else 0.0)
                terminated[b] = True
            elif ep_moves[b] >= max_moves:
                score = K.area_score(sb, mb, nb, on_board) - komi
                final_score[b] = score if agent[b] == K.BLACK else -score
                truncated[b] = True
        if terminated[b] or truncated[b]:
            _obs_one(meta, hist, b, size, final_obs)
            _reset_one(s, meta, hist, agent, ep_moves, b, nb, dg, zob, on_board, empty_colours, rng, colour_mode)
        _obs_one(meta, hist, b, size, obs)
        _mask_one(s, meta, b, nb, on_board, mask)
