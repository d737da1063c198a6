"""numba kernels of the board: pure functions over plain arrays that return status codes.

State layout (KataGo's padded 1-D board; chains as circular linked lists):

    s: int32[N_ROWS, n_points]      per padded point
        s[COLOUR, p]   EMPTY, BLACK, WHITE or WALL
        s[HEAD, p]     the chain representative of the stone at p
        s[NEXT, p]     the next stone of p's chain (circular list)
        s[LIBS, h]     exact liberty count of the chain whose head is h
        s[CSIZE, h]    number of stones of the chain whose head is h
        s[EMPTIES, i]  the list of empty on-board points, s[META... N_EMPTY] long, in no order
        s[EPOS, p]     index of empty point p in that list
        s[MARK, p]     scratch stamps for liberty counting and flood fills
    meta: int64[META_LEN]           scalars (ko point, side to move, passes, hash, prisoners, ...)

`s` and `meta` are the whole state: a copy of the board is two `ndarray.copy()` calls. Geometry arrays
(neighbour offsets, Zobrist keys) come from `BoardGeometry` and are passed in.

Nothing here knows superko or game records: the Python classes (board.py, position.py) keep history.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Point colours. The opponent of c is 3 - c.
EMPTY, BLACK, WHITE, WALL = 0, 1, 2, 3

# Rows of the state array s.
COLOUR, HEAD, NEXT, LIBS, CSIZE, EMPTIES, EPOS, MARK = range(8)
N_ROWS = 8

# Slots of meta.
KO = 0  # the point the side to move may not play by simple ko, or 0 (= PASS, never a move) for none
TO_PLAY = 1
PASSES = 2  # consecutive passes
HASH = 3  # Zobrist hash of the stones only (positional)
PRISONERS_B = 4  # stones captured by Black
PRISONERS_W = 5  # stones captured by White
N_EMPTY = 6
STAMP = 7
MOVES = 8
LAST_MOVE = 9
META_LEN = 10

PASS = 0

# Status codes returned by play kernels.
OK, OCCUPIED, SUICIDE, KO_BANNED, OFF_BOARD, SUPERKO = 0, 1, 2, 3, 4, 5


@njit(cache=True)
def init_state(s, meta, empty_colours, on_board):
    """Reset (s, meta) to an empty board, Black to play."""
    n = s.shape[1]
    for p in range(n):
        s[COLOUR, p] = empty_colours[p]
        s[HEAD, p] = 0
        s[NEXT, p] = 0
        s[LIBS, p] = 0
        s[CSIZE, p] = 0
        s[MARK, p] = 0
        s[EPOS, p] = -1
        s[EMPTIES, p] = 0
    for i in range(on_board.shape[0]):
        p = on_board[i]
        s[EMPTIES, i] = p
        s[EPOS, p] = i
    for i in range(META_LEN):
        meta[i] = 0
    meta[TO_PLAY] = BLACK
    meta[N_EMPTY] = on_board.shape[0]


@njit(cache=True, inline="always")
def _remove_empty(s, meta, p):
    i = s[EPOS, p]
    n = meta[N_EMPTY] - 1
    last = s[EMPTIES, n]
    s[EMPTIES, i] = last
    s[EPOS, last] = i
    s[EPOS, p] = -1
    meta[N_EMPTY] = n


@njit(cache=True, inline="always")
def _add_empty(s, meta, p):
    n = meta[N_EMPTY]
    s[EMPTIES, n] = p
    s[EPOS, p] = n
    meta[N_EMPTY] = n + 1


@njit(cache=True, inline="always")
def chain_seen(s, nb, p, d, colour, h):
    """True when a neighbour of p in a direction before d is a stone of chain h (of `colour`): loops over
    the four neighbours use it to handle a chain that touches p on several sides once."""
    for e in range(d):
        r2 = p + nb[e]
        if s[COLOUR, r2] == colour and s[HEAD, r2] == h:
            return True
    return False


@njit(cache=True)
def _next_stamp(s, meta):
    stamp = meta[STAMP] + 1
    if stamp >= 1 << 30:  # keep stamps in int32 range: clear and restart
        for p in range(s.shape[1]):
            s[MARK, p] = 0
        stamp = 1
    meta[STAMP] = stamp
    return stamp


@njit(cache=True)
def count_liberties(s, meta, nb, h):
    """Exact liberties of the chain through h, counted by walking its stones."""
    stamp = _next_stamp(s, meta)
    n = 0
    q = h
    while True:
        for d in range(4):
            r = q + nb[d]
            if s[COLOUR, r] == EMPTY and s[MARK, r] != stamp:
                s[MARK, r] = stamp
                n += 1
        q = s[NEXT, q]
        if q == h:
            break
    return n


@njit(cache=True)
def _remove_chain(s, meta, nb, zob, h):
    """Take the chain through h off the board; its neighbours gain the freed liberties."""
    colour = s[COLOUR, h]
    other = 3 - colour
    removed = 0
    q = h
    while True:
        nxt = s[NEXT, q]
        s[COLOUR, q] = EMPTY
        meta[HASH] ^= zob[colour, q]
        _add_empty(s, meta, q)
        removed += 1
        # each distinct neighbouring chain of the other colour gains q as a liberty
        for d in range(4):
            r = q + nb[d]
            if s[COLOUR, r] == other:
                hr = s[HEAD, r]
                seen = chain_seen(s, nb, q, d, other, hr)
                if not seen:
                    s[LIBS, hr] += 1
        q = nxt
        if q == h:
            break
    return removed


@njit(cache=True)
def _merge(s, big, small):
    """Join chain `small` into chain `big` (both heads); relabel the stones of `small`."""
    q = small
    while True:
        s[HEAD, q] = big
        q = s[NEXT, q]
        if q == small:
            break
    # splice the two circular lists
    t = s[NEXT, big]
    s[NEXT, big] = s[NEXT, small]
    s[NEXT, small] = t
    s[CSIZE, big] += s[CSIZE, small]


@njit(cache=True)
def is_legal_simple(s, meta, nb, p, colour, suicide_ok):
    """Status of `colour` playing p under simple ko only (no superko): OK or a reason code."""
    if p == PASS:
        return OK
    c = s[COLOUR, p]
    if c == WALL:
        return OFF_BOARD
    if c != EMPTY:
        return OCCUPIED
    if p == meta[KO] and colour == meta[TO_PLAY]:
        return KO_BANNED
    if suicide_ok:
        return OK
    other = 3 - colour
    for d in range(4):
        r = p + nb[d]
        cr = s[COLOUR, r]
        if cr == EMPTY:
            return OK
        if cr == colour:
            if s[LIBS, s[HEAD, r]] > 1:
                return OK
        elif cr == other:
            if s[LIBS, s[HEAD, r]] == 1:
                return OK
    return SUICIDE


@njit(cache=True)
def place(s, meta, nb, zob, p, colour):
    """Put a stone of `colour` on empty point p and resolve captures (and suicide, if it is one).

    The caller has checked legality. Returns the number of stones captured (suicided stones count as
    captured by the opponent). Updates ko, hash, prisoners, passes, move count; the side to move becomes
    the opponent of `colour`.
    """
    other = 3 - colour
    _remove_empty(s, meta, p)
    s[COLOUR, p] = colour
    s[HEAD, p] = p
    s[NEXT, p] = p
    s[CSIZE, p] = 1
    meta[HASH] ^= zob[colour, p]
    libs = 0
    for d in range(4):
        if s[COLOUR, p + nb[d]] == EMPTY:
            libs += 1
    s[LIBS, p] = libs

    captured = 0
    captured_point = 0
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == other:
            h = s[HEAD, r]
            seen = chain_seen(s, nb, p, d, other, h)
            if not seen:
                s[LIBS, h] -= 1
                if s[LIBS, h] == 0:
                    captured += _remove_chain(s, meta, nb, zob, h)
                    captured_point = r

    # join friendly neighbours. Their liberty counts still include p (only enemy counts were
    # decremented), and already include points freed by the captures above.
    n_merged = 0
    friend = 0
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == colour:
            hr = s[HEAD, r]
            hp = s[HEAD, p]
            if hr != hp:
                if n_merged == 0:
                    friend = hr
                if s[CSIZE, hr] >= s[CSIZE, hp]:
                    _merge(s, hr, hp)
                else:
                    _merge(s, hp, hr)
                n_merged += 1
    h = s[HEAD, p]
    if n_merged == 1:
        # one chain joined: its liberties minus p, plus p's empty neighbours it did not touch
        libs = s[LIBS, friend] - 1
        for d in range(4):
            q = p + nb[d]
            if s[COLOUR, q] == EMPTY:
                touches = False
                for e in range(4):
                    t = q + nb[e]
                    if t != p and s[COLOUR, t] == colour and s[HEAD, t] == h:
                        touches = True
                if not touches:
                    libs += 1
        s[LIBS, h] = libs
    elif n_merged > 1:
        s[LIBS, h] = count_liberties(s, meta, nb, h)

    meta[KO] = 0
    if s[LIBS, h] == 0:  # suicide (the caller allowed it)
        lost = _remove_chain(s, meta, nb, zob, h)
        if colour == BLACK:
            meta[PRISONERS_W] += lost
        else:
            meta[PRISONERS_B] += lost
    else:
        if colour == BLACK:
            meta[PRISONERS_B] += captured
        else:
            meta[PRISONERS_W] += captured
        if captured == 1 and s[CSIZE, h] == 1 and s[LIBS, h] == 1:
            meta[KO] = captured_point
    meta[TO_PLAY] = other
    meta[PASSES] = 0
    meta[MOVES] += 1
    meta[LAST_MOVE] = p
    return captured


@njit(cache=True)
def play_pass(meta):
    meta[KO] = 0
    meta[TO_PLAY] = 3 - meta[TO_PLAY]
    meta[PASSES] += 1
    meta[MOVES] += 1
    meta[LAST_MOVE] = PASS


@njit(cache=True)
def play(s, meta, nb, zob, p, suicide_ok):
    """Play p (or PASS) for the side to move, simple ko only. Returns a status code; on failure
    the state is unchanged."""
    if p == PASS:
        play_pass(meta)
        return OK
    status = is_legal_simple(s, meta, nb, p, meta[TO_PLAY], suicide_ok)
    if status != OK:
        return status
    place(s, meta, nb, zob, p, meta[TO_PLAY])
    return OK


@njit(cache=True)
def hash_after(s, meta, nb, zob, p, colour):
    """Zobrist hash of the stones after `colour` plays p (assumed legal under simple ko), computed
    without changing the state: used for superko checks of every candidate move."""
    h = meta[HASH]
    if p == PASS:
        return h
    other = 3 - colour
    h ^= zob[colour, p]
    stamp = _next_stamp(s, meta)
    any_capture = False
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == other and s[LIBS, s[HEAD, r]] == 1:
            head = s[HEAD, r]
            if s[MARK, head] != stamp:
                s[MARK, head] = stamp
                any_capture = True
                q = head
                while True:
                    h ^= zob[other, q]
                    q = s[NEXT, q]
                    if q == head:
                        break
    if any_capture:
        return h
    # no capture: is it a suicide? Then the new stone and its friendly neighbours (their last liberty
    # was p) leave the board.
    for d in range(4):
        r = p + nb[d]
        cr = s[COLOUR, r]
        if cr == EMPTY:
            return h
        if cr == colour and s[LIBS, s[HEAD, r]] > 1:
            return h
    h ^= zob[colour, p]
    stamp = _next_stamp(s, meta)
    for d in range(4):
        r = p + nb[d]
        if s[COLOUR, r] == colour:
            head = s[HEAD, r]
            if s[MARK, head] != stamp:
                s[MARK, head] = stamp
                q = head
                while True:
                    h ^= zob[colour, q]
                    q = s[NEXT, q]
                    if q == head:
                        break
    return h


@njit(cache=True, inline="always")
def _flood_empty(s, nb, p, stamp, region):
    """Mark the empty region containing p with `stamp`, writing its points into `region`. Returns
    (number of points, reach) where reach has bit BLACK / bit WHITE set for the colours it touches."""
    s[MARK, p] = stamp
    region[0] = p
    n = 1
    k = 0
    reach = 0
    while k < n:  # the region array doubles as the work queue
        q = region[k]
        k += 1
        for d in range(4):
            r = q + nb[d]
            cr = s[COLOUR, r]
            if cr == EMPTY:
                if s[MARK, r] != stamp:
                    s[MARK, r] = stamp
                    region[n] = r
                    n += 1
            elif cr == BLACK or cr == WHITE:
                reach |= cr
    return n, reach


@njit(cache=True)
def area_score(s, meta, nb, on_board):
    """Tromp-Taylor area: Black's stones and empty regions reaching only Black, minus White's.
    Returns Black minus White, without komi."""
    stamp = _next_stamp(s, meta)
    region = np.empty(on_board.shape[0], dtype=np.int32)
    score = 0
    for i in range(on_board.shape[0]):
        p = on_board[i]
        c = s[COLOUR, p]
        if c == BLACK:
            score += 1
        elif c == WHITE:
            score -= 1
        elif s[MARK, p] != stamp:
            n, reach = _flood_empty(s, nb, p, stamp, region)
            if reach == BLACK:
                score += n
            elif reach == WHITE:
                score -= n
    return score


@njit(cache=True)
def area_owner(s, meta, nb, on_board, action_of_point, owner):
    """Fill owner[action] with the Tromp-Taylor owner of every point: BLACK, WHITE or EMPTY (neutral)."""
    stamp = _next_stamp(s, meta)
    region = np.empty(on_board.shape[0], dtype=np.int32)
    for i in range(on_board.shape[0]):
        p = on_board[i]
        c = s[COLOUR, p]
        if c != EMPTY:
            owner[i] = c
        elif s[MARK, p] != stamp:
            n, reach = _flood_empty(s, nb, p, stamp, region)
            value = reach if reach == BLACK or reach == WHITE else EMPTY
            for j in range(n):
                owner[action_of_point[region[j]]] = value


@njit(cache=True, inline="always")
def _rand_below(rng, n):
    """xorshift64* step on rng[0]; a uniform int in [0, n)."""
    x = rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    rng[0] = x
    r = (x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(32)  # 32 good bits
    return np.int64((r * np.uint64(n)) >> np.uint64(32))  # Lemire's multiply-shift instead of a modulo


@njit(cache=True, inline="always")
def is_eye(s, nb, dg, p, colour):
    """True when empty p is an eye-like point of `colour`: every neighbour is `colour` or wall, and the
    diagonals hold at most one opponent stone (none on the edge). Such points are never filled in
    playouts; false eyes (two opposing diagonals) still are."""
    for d in range(4):
        c = s[COLOUR, p + nb[d]]
        if c != colour and c != WALL:
            return False
    other = 3 - colour
    bad = 0
    edge = 0
    for d in range(4):
        c = s[COLOUR, p + dg[d]]
        if c == other:
            bad += 1
        elif c == WALL:
            edge = 1
    return bad + edge < 2


@njit(cache=True)
def random_playout(s, meta, nb, dg, zob, on_board, rng, max_moves, moves_out):
    """Play uniformly random legal moves that do not fill the mover's eye-like points, under simple ko
    and no suicide, until two consecutive passes or `max_moves`. Mutates (s, meta).

    Writes the points played (PASS for passes) into moves_out and returns (area score without komi,
    number of moves)."""
    n_moves = 0
    while n_moves < max_moves and meta[PASSES] < 2:
        colour = meta[TO_PLAY]
        k = meta[N_EMPTY]
        chosen = PASS
        while k > 0:
            i = _rand_below(rng, k)
            p = s[EMPTIES, i]
            if not is_eye(s, nb, dg, p, colour) and is_legal_simple(s, meta, nb, p, colour, False) == OK:
                chosen = p
                break
            # move the rejected point past the window so it is not drawn again this turn
            k -= 1
            last = s[EMPTIES, k]
            s[EMPTIES, i] = last
            s[EPOS, last] = i
            s[EMPTIES, k] = p
            s[EPOS, p] = k
        if chosen == PASS:
            play_pass(meta)
        else:
            place(s, meta, nb, zob, chosen, colour)
        if n_moves < moves_out.shape[0]:
            moves_out[n_moves] = chosen
        n_moves += 1
    return area_score(s, meta, nb, on_board), n_moves


@njit(cache=True)
def playouts(s, meta, nb, dg, zob, on_board, rng, n, max_moves):
    """Run n random playouts from (s, meta), each on a fresh copy; return the mean area score."""
    work_s = s.copy()
    work_meta = meta.copy()
    moves = np.empty(max_moves, dtype=np.int32)
    total = 0.0
    for _ in range(n):
        work_s[:, :] = s
        work_meta[:] = meta
        score, _m = random_playout(work_s, work_meta, nb, dg, zob, on_board, rng, max_moves, moves)
        total += score
    return total / n


@njit(cache=True)
def repeats(h, next_to_play, hist_hash, hist_to_play, situational):
    """True when stones-hash h (with `next_to_play` to move) occurred in the history. Positional
    superko compares stones only; situational also compares the side to move."""
    for i in range(hist_hash.shape[0]):
        if hist_hash[i] == h and (not situational or hist_to_play[i] == next_to_play):
            return True
    return False


@njit(cache=True)
def move_status(s, meta, nb, zob, p, colour, suicide_ok, superko, hist_hash, hist_to_play):
    """Full legality of `colour` playing p: simple ko, suicide, then superko (0 none, 1 positional,
    2 situational) against the history arrays. Returns OK or a reason code (SUPERKO for repeats)."""
    status = is_legal_simple(s, meta, nb, p, colour, suicide_ok)
    if status != OK or superko == 0 or p == PASS:
        return status
    h = hash_after(s, meta, nb, zob, p, colour)
    if repeats(h, 3 - colour, hist_hash, hist_to_play, superko == 2):
        return SUPERKO
    return OK


@njit(cache=True)
def legal_mask(s, meta, nb, zob, on_board, colour, suicide_ok, superko, hist_hash, hist_to_play, out):
    """out[action] = 1 where `colour` may play that on-board point, else 0."""
    for i in range(on_board.shape[0]):
        status = move_status(s, meta, nb, zob, on_board[i], colour, suicide_ok, superko, hist_hash, hist_to_play)
        out[i] = 1 if status == OK else 0


@njit(cache=True)
def rebuild(s, meta, nb, zob, on_board, colours):
    """Set the stones from colours[action] (EMPTY/BLACK/WHITE) and rebuild chains, liberties, the empty
    list and the hash. Keeps side to move, prisoners and move count; clears ko. Returns the number of
    chains left without liberties (a valid position has none)."""
    n = on_board.shape[0]
    meta[N_EMPTY] = 0
    meta[HASH] = 0
    meta[KO] = 0
    for i in range(n):
        p = on_board[i]
        c = colours[i]
        s[COLOUR, p] = c
        s[EPOS, p] = -1
        if c == EMPTY:
            _add_empty(s, meta, p)
        else:
            meta[HASH] ^= zob[c, p]
            s[HEAD, p] = p
            s[NEXT, p] = p
            s[CSIZE, p] = 1
    for i in range(n):  # merge neighbours of the same colour
        p = on_board[i]
        c = s[COLOUR, p]
        if c == EMPTY:
            continue
        for d in range(4):
            r = p + nb[d]
            if s[COLOUR, r] == c:
                hp = s[HEAD, p]
                hr = s[HEAD, r]
                if hp != hr:
                    if s[CSIZE, hr] >= s[CSIZE, hp]:
                        _merge(s, hr, hp)
                    else:
                        _merge(s, hp, hr)
    dead = 0
    for i in range(n):
        p = on_board[i]
        if s[COLOUR, p] != EMPTY and s[HEAD, p] == p:
            s[LIBS, p] = count_liberties(s, meta, nb, p)
            if s[LIBS, p] == 0:
                dead += 1
    return dead
