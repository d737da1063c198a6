"""numba kernels of the vector env: many boards against a numba opponent, stepped in one call.

Each board is goengine's state (`s`, `meta`; layout in goengine/_kernels.py), stacked on a leading axis,
and moves go through goengine's own kernels (`is_legal_simple`, `place`, `play_pass`, `is_eye`,
`area_score`, `random_playout`). Rules here are simple ko and no suicide (no superko: the move cap ends
any cycle), the rules the playouts use.

Observations are AlphaGo Zero's 17 planes from the agent's side (it is always the side to move when it
observes), from a ring of the last 8 boards per env (int8 rows written once per move); the legal mask is
computed over the board's list of empty points only.

The opponent is either goengine's random player (playouts = 0) or flat Monte Carlo (playouts = P > 0):
every sensible move (legal, fills no own eye-like point) is tried with P uniform random playouts to the
end of the game, and the move with the most wins is played (ties by the summed score, then at random);
when the agent has just passed and the score already wins, it passes and ends the game.

Action indices: a = row * N + col (row 0 = GTP row 1), N*N = pass (goengine/coords.py).
Geometry travels as one tuple `geo = (nb, dg, zob, on_board, action_of_point, empty_colours)`.
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
def _push_history(sb, hist, b, on_board):
    """Put board b's current stones at the head of its history ring (hist[b, HISTORY] holds the head's
    index in its first cell; rows 0..HISTORY-1 are the ring). int8 rows: the rings of 256 9x9 boards stay
    in the L2 cache, where float32 planes would not (and copying those is slower than converting these)."""
    head = (hist[b, HISTORY, 0] + 1) % HISTORY
    hist[b, HISTORY, 0] = head
    row = hist[b, head]
    for a in range(on_board.shape[0]):
        row[a] = sb[K.COLOUR, on_board[a]]


@njit(cache=True, inline="always")
def _legal(s, meta, nb, p, colour):
    """goengine's is_legal_simple(..., suicide_ok=False) == OK for an on-board point, inlined and written
    without data-dependent branches (random boards make them mispredict). A neighbour makes the move
    legal if it is empty, a friendly chain with a spare liberty, or an enemy chain in atari (captured).
    s[HEAD] of an empty or wall point is some point whose LIBS the colour tests below never use."""
    other = 3 - colour
    ok = 0
    for d in range(4):
        r = p + nb[d]
        cr = s[K.COLOUR, r]
        libs = s[K.LIBS, s[K.HEAD, r]]
        ok |= (cr == K.EMPTY) | ((cr == colour) & (libs > 1)) | ((cr == other) & (libs == 1))
    return ok & (s[K.COLOUR, p] == K.EMPTY) & (p != meta[K.KO])


@njit(cache=True, inline="always")
def random_sensible_move(s, meta, nb, dg, rng):
    """A uniform random legal point (simple ko, no suicide) that does not fill the mover's eye-like point,
    or PASS when there is none: goengine's playout rule (RandomPlayer's too). Legality is `_legal`, inlined
    (goengine's is_legal_simple is a call, and each call pays the reference counts of its arrays)."""
    colour = meta[K.TO_PLAY]
    k = meta[K.N_EMPTY]
    while k > 0:
        i = K._rand_below(rng, k)
        p = s[K.EMPTIES, i]
        if not K.is_eye(s, nb, dg, p, colour) and _legal(s, meta, nb, p, colour):
            return p
        k -= 1  # move the rejected point past the window so it is not drawn again
        last = s[K.EMPTIES, k]
        s[K.EMPTIES, i] = last
        s[K.EPOS, last] = i
        s[K.EMPTIES, k] = p
        s[K.EPOS, p] = k
    return K.PASS


@njit(cache=True, inline="always")
def _wins(score, colour, komi):
    """1 if the area score (Black minus White, no komi) wins for `colour`, else 0."""
    d = score - komi
    return 1 if (d > 0 and colour == K.BLACK) or (d < 0 and colour == K.WHITE) else 0


@njit(cache=True)
def mc_values(s, meta, geo, rng, playouts, komi, max_moves, work_s, work_meta, moves, value_A):
    """Flat Monte Carlo for the side to move. value_A[a] (float64, N*N+1) = wins in `playouts` random
    playouts after action a, plus the summed score for the mover / 1e6 (a tie-break), for every sensible
    point a; -1 for the rest. Pass (index N*N) is valued only when the opponent has just passed and the
    area count already wins for the mover (passing ends the game won: playouts + 1, above every move);
    else -1. Returns how many actions have a value."""
    nb, dg, zob, on_board, action_of_point, _ = geo
    colour = meta[K.TO_PLAY]
    sign = 1.0 if colour == K.BLACK else -1.0
    n = on_board.shape[0]
    for a in range(n + 1):
        value_A[a] = -1.0
    count = 0
    for i in range(meta[K.N_EMPTY]):
        p = s[K.EMPTIES, i]
        if K.is_eye(s, nb, dg, p, colour) or K.is_legal_simple(s, meta, nb, p, colour, False) != K.OK:
            continue
        wins = 0
        total = 0.0
        for _ in range(playouts):
            work_s[:, :] = s
            work_meta[:] = meta
            K.place(work_s, work_meta, nb, zob, p, colour)
            score, _m = K.random_playout(work_s, work_meta, nb, dg, zob, on_board, rng, max_moves, moves)
            wins += _wins(score, colour, komi)
            total += sign * (score - komi)
        value_A[action_of_point[p]] = wins + total / 1e6
        count += 1
    if meta[K.PASSES] == 1 and _wins(K.area_score(s, meta, nb, on_board), colour, komi):
        value_A[n] = playouts + 1.0  # passing ends the game won: above any move
        count += 1
    return count


@njit(cache=True)
def best_action(value_A, rng):
    """The index of the largest value (uniform among ties); the last index (pass) when all are -1."""
    best = -1.0
    choice = value_A.shape[0] - 1
    ties = 0
    for a in range(value_A.shape[0]):
        v = value_A[a]
        if v < 0:
            continue
        if v > best:
            best, choice, ties = v, a, 1
        elif v == best:
            ties += 1
            if K._rand_below(rng, ties) == 0:
                choice = a
    return choice


@njit(cache=True)
def opponent_move(sb, mb, b, geo, rng, opp, work):
    """The opponent's point (or PASS) for the side to move on board b: random (opp[0][b] = 0 playouts) or
    flat Monte Carlo with opp[0][b] playouts per candidate; opp = (playouts_B, komi, playout move cap)."""
    nb, dg, zob, on_board, _, _ = geo
    playouts_B, komi, cap = opp
    playouts = playouts_B[b]
    if playouts == 0:
        return random_sensible_move(sb, mb, nb, dg, rng)
    work_s, work_meta, moves, value_A = work
    mc_values(sb, mb, geo, rng, playouts, komi, cap, work_s, work_meta, moves, value_A)
    a = best_action(value_A, rng)
    return K.PASS if a == on_board.shape[0] else on_board[a]


def scratch(n_points: int, size: int, cap: int):
    """The work arrays opponent_move needs (one set per call of reset_all / step_all)."""
    return (np.empty((K.N_ROWS, n_points), np.int32), np.empty(K.META_LEN, np.int64), np.empty(cap, np.int32),
            np.empty(size * size + 1, np.float64))


@njit(cache=True, inline="always")
def _play_point(s, meta, nb, zob, p):
    if p == K.PASS:
        K.play_pass(meta)
    else:
        K.place(s, meta, nb, zob, p, meta[K.TO_PLAY])


@njit(cache=True)
def _reset_one(s, meta, hist, agent, ep_moves, b, geo, rng, colour_mode, opp, work):
    """A fresh game on board b; when the agent is White the opponent's first move is played."""
    nb, dg, zob, on_board, _, empty_colours = geo
    K.init_state(s[b], meta[b], empty_colours, on_board)
    hist[b, :, :] = 0
    ep_moves[b] = 0
    if colour_mode == COLOUR_RANDOM:
        agent[b] = K.BLACK if K._rand_below(rng, 2) == 0 else K.WHITE
    else:
        agent[b] = K.BLACK if colour_mode == COLOUR_BLACK else K.WHITE
    if agent[b] == K.WHITE:
        p = opponent_move(s[b], meta[b], b, geo, rng, opp, work)
        _play_point(s[b], meta[b], nb, zob, p)
        _push_history(s[b], hist, b, on_board)
        ep_moves[b] = 1


@njit(cache=True, inline="always")
def _mask_one(s, meta, b, nb, action_of_point, mask):
    """mask[b]: the legal actions of the side to move. Only empty points can be legal, so the loop runs
    over the board's list of empty points (half the board or less in mid-game), and a point with an empty
    neighbour (most of them) is legal without looking at chains."""
    sb = s[b]
    mb = meta[b]
    mover = mb[K.TO_PLAY]
    mrow = mask[b]
    n = mrow.shape[0] - 1
    for a in range(n):  # an explicit loop: numba's slice assignment costs more on rows this short
        mrow[a] = 0
    mrow[n] = 1
    n0, n1, n2, n3 = nb[0], nb[1], nb[2], nb[3]
    for i in range(mb[K.N_EMPTY]):
        p = sb[K.EMPTIES, i]
        if (sb[K.COLOUR, p + n0] == K.EMPTY) | (sb[K.COLOUR, p + n1] == K.EMPTY) | \
                (sb[K.COLOUR, p + n2] == K.EMPTY) | (sb[K.COLOUR, p + n3] == K.EMPTY):
            mrow[action_of_point[p]] = p != mb[K.KO]
        else:
            mrow[action_of_point[p]] = _legal(sb, mb, nb, p, mover)


@njit(cache=True, inline="always")
def _obs_one(meta, hist, b, obs):
    """obs[b]: float32 (17, N*N) (the caller's (B, 17, N, N) buffer seen flat), from the side to move."""
    mover = meta[b, K.TO_PLAY]
    other = 3 - mover
    head = hist[b, HISTORY, 0]
    n = obs.shape[2]
    for t in range(HISTORY):
        ring = hist[b, (head - t) % HISTORY]  # the board t moves back
        mine = obs[b, 2 * t]
        theirs = obs[b, 2 * t + 1]
        for a in range(n):  # a branch-free loop the compiler vectorises
            mine[a] = np.float32(ring[a] == mover)
            theirs[a] = np.float32(ring[a] == other)
    colour = np.float32(1.0 if mover == K.BLACK else 0.0)
    last = obs[b, 2 * HISTORY]
    for a in range(n):  # explicit: numba's slice assignment is slower in this loop
        last[a] = colour


@njit(cache=True)
def reset_all(s, meta, hist, agent, ep_moves, geo, rng, colour_mode, opp, work, obs, mask):
    for b in range(s.shape[0]):
        _reset_one(s, meta, hist, agent, ep_moves, b, geo, rng, colour_mode, opp, work)
        _obs_one(meta, hist, b, obs)
        _mask_one(s, meta, b, geo[0], geo[4], mask)


@njit(cache=True)
def first_illegal(actions, mask):
    """The first env whose action is out of range or not in its legal mask, or -1."""
    n_actions = mask.shape[1]
    for b in range(actions.shape[0]):
        a = actions[b]
        if a < 0 or a >= n_actions or mask[b, a] == 0:
            return b
    return -1


@njit(cache=True)
def step_all(s, meta, hist, agent, ep_moves, actions, geo, rng, colour_mode, opp, work, komi, max_moves,
             illegal_reward, obs, mask, reward, terminated, truncated, final_obs, final_score):
    """One agent move on every board, then the opponent's reply, then an automatic reset of the boards
    whose game ended (gymnasium's same-step autoreset: obs is the new game's, final_obs the last
    position's). An illegal action (possible only when the caller allows it) ends that game with
    `illegal_reward`. final_score[b] is the area score with komi from the agent's side (0 unless ended).
    `mask` holds the legal actions of the positions the actions are played in, and is overwritten with
    those of the new positions."""
    nb, dg, zob, on_board, action_of_point, _ = geo
    n = on_board.shape[0]
    for b in range(s.shape[0]):
        sb = s[b]
        mb = meta[b]
        reward[b] = 0.0
        terminated[b] = False
        truncated[b] = False
        final_score[b] = 0.0
        a = actions[b]
        if a < 0 or a > n or mask[b, a] == 0:
            reward[b] = illegal_reward
            terminated[b] = True
        else:
            _play_point(sb, mb, nb, zob, K.PASS if a == n else on_board[a])
            _push_history(sb, hist, b, on_board)
            ep_moves[b] += 1
            if mb[K.PASSES] < 2 and ep_moves[b] < max_moves:
                if opp[0][b] == 0:  # called directly: the tuples opponent_move takes cost refcounts a call
                    q = random_sensible_move(sb, mb, nb, dg, rng)
                else:
                    q = opponent_move(sb, mb, b, geo, rng, opp, work)
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
            _obs_one(meta, hist, b, final_obs)
            _reset_one(s, meta, hist, agent, ep_moves, b, geo, rng, colour_mode, opp, work)
        _obs_one(meta, hist, b, obs)
        _mask_one(s, meta, b, nb, action_of_point, mask)
