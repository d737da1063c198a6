"""numba kernels over the search tree: select, expand, backup, and whole rollout simulations.

The tree is one preallocated structured array `nodes` (fields in NODE below); children of a node are
contiguous, [first_child, first_child + n_children). `tree_meta` holds the used count. Node values are
win probabilities for the player who made the node's move: a parent picks the child with the best
value from its own side's point of view.

Selection rules (params indices below):
  rollout mode, UCT-RAVE (Gelly & Silver 2007), with michi's beta: the urgency of a child is
      (1 - beta) Q + beta Q_amaf + c_uct sqrt(ln N_parent / N),   beta = n_amaf / (n_amaf + N + N n_amaf / equiv)
      where N and W start from prior pseudo-visits given at expansion by simple Go knowledge;
  PUCT mode (AlphaGo Zero): Q + c_puct P sqrt(N_parent) / (1 + N), with Q of unvisited children set to the
      parent's Q minus an FPU reduction (Leela Zero).
Virtual loss: nodes on the path of a pending leaf count `vloss` extra lost visits.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from goengine._kernels import (
    BLACK, COLOUR, EMPTY, HEAD, LAST_MOVE, LIBS, OK, PASS, PASSES, TO_PLAY, area_score, is_eye, is_legal_simple, place,
    play_pass,
)
from goengine.mcts._playout import code_at, liberties_after, playout
from goengine.mcts._tactics import escape_holds, ladder_atari, ladder_stack
from goengine.mcts._rollout_cache import rollout_playout

# playout policies of rollout_search and leaf_rollouts
POLICY_LIGHT, POLICY_HEAVY, POLICY_LEE = 0, 1, 2


@njit(cache=True)
def run_playout(s, meta, nb, dg, zob, on_board, w, pat, rng, max_moves, policy, spec, expw, moves, start):
    """A playout with the chosen policy: uniform (light), MoGo-style (heavy), or AlphaGo's trained
    rollout policy p_pi (spec and expw from goengine.mcts.rollout_policy.RolloutPolicy)."""
    if policy == POLICY_LEE:
        return rollout_playout(s, meta, nb, dg, zob, on_board, w, spec, expw, rng, max_moves, moves, start)
    return playout(s, meta, nb, dg, zob, on_board, w, pat, rng, max_moves, policy == POLICY_HEAVY, moves, start)

NODE = np.dtype([
    ("parent", np.int32),
    ("first_child", np.int32),  # -1 until expanded
    ("n_children", np.int32),
    ("move", np.int32),  # padded point; PASS for pass
    ("visits", np.int32),  # real simulations through this node
    ("wins", np.float64),  # real value sum (no priors): Q reported to users = wins / visits
    ("vloss", np.int32),
    ("n", np.float64),  # visits including prior pseudo-visits
    ("w", np.float64),  # value sum including prior pseudo-wins
    ("prior", np.float32),  # policy prior P (PUCT mode)
    ("amaf_n", np.float64),
    ("amaf_w", np.float64),
])

# indices of the float64 params array
RAVE_EQUIV, C_UCT, EXPAND_VISITS, PRIOR_EVEN, PRIOR_CAPTURE, PRIOR_SELF_ATARI, PRIOR_PATTERN, PRIOR_NEAR, \
    PRIOR_EMPTY_AREA, C_PUCT, FPU_REDUCTION, MODE, PRIOR_PASS, FORCED_K = range(14)
N_PARAMS = 14
MODE_RAVE, MODE_PUCT = 0, 1

USED = 0  # tree_meta slot: nodes in use


@njit(cache=True)
def reset_node(nodes, i, parent, move):
    nodes[i].parent = parent
    nodes[i].first_child = -1
    nodes[i].n_children = 0
    nodes[i].move = move
    nodes[i].visits = 0
    nodes[i].wins = 0.0
    nodes[i].vloss = 0
    nodes[i].n = 0.0
    nodes[i].w = 0.0
    nodes[i].prior = 0.0
    nodes[i].amaf_n = 0.0
    nodes[i].amaf_w = 0.0


@njit(cache=True)
def forced_child(nodes, node, k):
    """KataGo's forced playouts (Wu 2019, sec. 3.2): the child c of `node` furthest below
    n_forced(c) = sqrt(k P(c) sum_c' N(c')), as a fraction of it, or -1 when every child has its share.
    Counts include virtual losses, so the walks of one batch do not all force the same child."""
    first = nodes[node].first_child
    count = nodes[node].n_children
    total = 0.0
    for c in range(first, first + count):
        total += nodes[c].n + nodes[c].vloss
    best = -1
    best_ratio = 1.0
    for c in range(first, first + count):
        forced = np.sqrt(k * nodes[c].prior * total)
        if forced > 0:
            ratio = (nodes[c].n + nodes[c].vloss) / forced
            if ratio < best_ratio:
                best_ratio = ratio
                best = c
    return best


@njit(cache=True)
def select_child(nodes, node, params):
    first = nodes[node].first_child
    count = nodes[node].n_children
    best = first
    best_value = -1e300
    if params[MODE] == MODE_PUCT:
        parent_n = 0.0
        parent_q = 0.0
        for c in range(first, first + count):
            parent_n += nodes[c].n + nodes[c].vloss
        # the parent's own Q, from the point of view of the side choosing among the children
        if nodes[node].n > 0:
            parent_q = 1.0 - nodes[node].w / nodes[node].n
        else:
            parent_q = 0.5
        sqrt_n = np.sqrt(max(parent_n, 1.0))
        fpu = parent_q - params[FPU_REDUCTION]
        for c in range(first, first + count):
            n = nodes[c].n + nodes[c].vloss
            q = nodes[c].w / n if n > 0 else fpu
            value = q + params[C_PUCT] * nodes[c].prior * sqrt_n / (1.0 + n)
            if value > best_value:
                best_value = value
                best = c
        return best
    log_n = np.log(max(nodes[node].n, 1.0))
    equiv = params[RAVE_EQUIV]
    for c in range(first, first + count):
        n = nodes[c].n + nodes[c].vloss
        w = nodes[c].w
        q = w / n if n > 0 else 1.0
        an = nodes[c].amaf_n
        if an > 0:
            beta = an / (an + n + n * an / equiv)
            q = (1.0 - beta) * q + beta * nodes[c].amaf_w / an
        if params[C_UCT] > 0:
            q += params[C_UCT] * np.sqrt(log_n / max(n, 1.0))
        if q > best_value:
            best_value = q
            best = c
    return best


@njit(cache=True)
def _is_empty_area(s, w, p):
    """True when no stone lies within Manhattan distance 3 of p (an opening-like empty area)."""
    size = w - 2
    row = p // w - 1
    col = p % w - 1
    for dr in range(-3, 4):
        for dc in range(-3, 4):
            if abs(dr) + abs(dc) > 3:
                continue
            r, c = row + dr, col + dc
            if 0 <= r < size and 0 <= c < size:
                if s[COLOUR, (r + 1) * w + c + 1] != EMPTY:
                    return False
    return True


@njit(cache=True)
def expand_with_knowledge(nodes, tree_meta, node, s, meta, nb, dg, zob, w, pat, params, legal_filter, lad_s, lad_meta):
    """Create the children of `node` for every legal move of the side to move that does not fill its
    own eye, plus pass, with prior pseudo-visits from simple Go knowledge (michi-style). `legal_filter`
    (int8 per padded point, or an empty array) further restricts moves (superko at the root).
    Tactical moves get PRIOR_CAPTURE pseudo-wins: captures, escapes from atari that hold (read with
    the ladder reader: goengine.mcts._tactics.escape_holds), and ataris that capture a two-liberty chain
    in a ladder. lad_s/lad_meta are the reader's scratch (ladder_stack). Returns False when the node
    array is full."""
    colour = meta[TO_PLAY]
    count = 0
    n_points = s.shape[1]
    # count first so that the block is contiguous
    for p in range(n_points):
        if s[COLOUR, p] == EMPTY and (legal_filter.shape[0] == 0 or legal_filter[p]):
            if not is_eye(s, nb, dg, p, colour) and is_legal_simple(s, meta, nb, p, colour, False) == OK:
                count += 1
    count += 1  # pass
    first = tree_meta[USED]
    if first + count > nodes.shape[0]:
        return False
    tree_meta[USED] = first + count
    size = w - 2
    last = meta[LAST_MOVE]
    last_row = last // w - 1
    last_col = last % w - 1
    even = params[PRIOR_EVEN]
    i = first
    for p in range(n_points):
        if s[COLOUR, p] != EMPTY or not (legal_filter.shape[0] == 0 or legal_filter[p]):
            continue
        if is_eye(s, nb, dg, p, colour) or is_legal_simple(s, meta, nb, p, colour, False) != OK:
            continue
        reset_node(nodes, i, node, p)
        n = even
        wins = even / 2
        libs, _size, captures = liberties_after(s, nb, p, colour)
        tactical = captures
        if not tactical:
            for d in range(4):
                r = p + nb[d]
                c = s[COLOUR, r]
                if c == colour and s[LIBS, s[HEAD, r]] == 1 and libs >= 2:
                    # the last liberty of an own chain: extending there saves it if the chain then holds
                    tactical = escape_holds(s, meta, nb, zob, p, colour, lad_s, lad_meta)
                    break
                if c == 3 - colour and s[LIBS, s[HEAD, r]] == 2 and libs >= 2:
                    if ladder_atari(s, meta, nb, zob, p, s[HEAD, r], colour, lad_s, lad_meta):
                        tactical = True
                        break
        if tactical:
            n += params[PRIOR_CAPTURE]
            wins += params[PRIOR_CAPTURE]
        if libs == 1:
            n += params[PRIOR_SELF_ATARI]  # pseudo-losses
        if pat[code_at(s, w, p)]:
            n += params[PRIOR_PATTERN]
            wins += params[PRIOR_PATTERN]
        row = p // w - 1
        col = p % w - 1
        if last != PASS:
            dist = abs(row - last_row) + abs(col - last_col)
            if dist <= 2:
                n += params[PRIOR_NEAR]
                wins += params[PRIOR_NEAR]
        line = min(min(row, col), min(size - 1 - row, size - 1 - col))
        if size >= 9 and line <= 2 and _is_empty_area(s, w, p):
            if line <= 1:
                n += params[PRIOR_EMPTY_AREA]  # first and second line in an empty area: pseudo-losses
            elif line == 2:
                n += params[PRIOR_EMPTY_AREA]
                wins += params[PRIOR_EMPTY_AREA]
        nodes[i].n = n
        nodes[i].w = wins
        nodes[i].prior = 1.0 / count
        i += 1
    reset_node(nodes, i, node, PASS)
    nodes[i].n = params[PRIOR_PASS]
    nodes[i].w = params[PRIOR_PASS] * 0.1
    nodes[i].prior = 1.0 / count
    nodes[node].first_child = first
    nodes[node].n_children = count
    return True


@njit(cache=True)
def playout_result(score, komi):
    """Black's share of a finished simulation with area score `score`: 1 for a win, 0 for a loss, and 0.5
    for a draw (integer komi), so that a draw is worth less than a win to either side."""
    margin = score - komi
    return 1.0 if margin > 0 else 0.0 if margin < 0 else 0.5


@njit(cache=True)
def amaf_backup(nodes, path, path_len, moves, n_moves, first_colour, root_colour, black_result):
    """Backup of one simulation: N, W for every node of the path, AMAF statistics for the siblings.

    path[0] is the root, path[k] the node reached after k tree moves; moves[0:n_moves] are every move of
    the simulation from the root (tree moves first, then the playout); first_colour is scratch int8 per
    point. The player to move at path[k] has colour root_colour if k is even. black_result is Black's
    share of the result (playout_result): 1, 0, or 0.5 for a draw."""
    for p in range(first_colour.shape[0]):
        first_colour[p] = 0
    t = n_moves - 1
    for k in range(path_len - 1, -1, -1):
        node = path[k]
        # make first_colour cover moves k .. n_moves-1 (the moves after path[k])
        while t >= k:
            m = moves[t]
            if m != PASS:
                first_colour[m] = root_colour if t % 2 == 0 else 3 - root_colour
            t -= 1
        to_move = root_colour if k % 2 == 0 else 3 - root_colour
        mover_result = black_result if to_move == BLACK else 1.0 - black_result  # the children's movers
        first = nodes[node].first_child
        if first >= 0:
            for c in range(first, first + nodes[node].n_children):
                m = nodes[c].move
                if m != PASS and first_colour[m] == to_move:
                    nodes[c].amaf_n += 1.0
                    nodes[c].amaf_w += mover_result
        # the node itself: its move was made by the opponent of `to_move`
        nodes[node].visits += 1
        nodes[node].n += 1.0
        nodes[node].w += 1.0 - mover_result
        nodes[node].wins += 1.0 - mover_result


@njit(cache=True, nogil=True)  # releases the GIL: ParallelSearch (parallel.py) runs trees on threads
def rollout_search(nodes, tree_meta, root, root_s, root_meta, nb, dg, zob, on_board, w, pat, rng, n_sims,
                   max_moves, komi, params, policy, spec, expw, root_filter):
    """n_sims UCT-RAVE simulations with playouts from the leaves. Returns simulations done."""
    s = root_s.copy()
    meta = root_meta.copy()
    max_path = 4 * s.shape[1]
    path = np.empty(max_path, dtype=np.int32)
    moves = np.empty(max_path + max_moves + 2, dtype=np.int32)
    first_colour = np.zeros(s.shape[1], dtype=np.int8)
    no_filter = np.zeros(0, dtype=np.int8)
    lad_s, lad_meta = ladder_stack(s, w)
    root_colour = root_meta[TO_PLAY]
    expand_visits = params[EXPAND_VISITS]
    for sim in range(n_sims):
        s[:, :] = root_s
        meta[:] = root_meta
        node = root
        path[0] = root
        path_len = 1
        n_moves = 0
        while True:
            if nodes[node].first_child < 0:
                if meta[PASSES] >= 2:
                    break
                if nodes[node].visits < expand_visits and node != root:
                    break
                flt = root_filter if node == root else no_filter
                if not expand_with_knowledge(nodes, tree_meta, node, s, meta, nb, dg, zob, w, pat, params, flt, lad_s,
                                             lad_meta):
                    break
            if meta[PASSES] >= 2 or path_len >= max_path - 1:
                break
            child = select_child(nodes, node, params)
            m = nodes[child].move
            if m == PASS:
                play_pass(meta)
            else:
                place(s, meta, nb, zob, m, meta[TO_PLAY])
            moves[n_moves] = m
            n_moves += 1
            path[path_len] = child
            path_len += 1
            node = child
        if meta[PASSES] >= 2:
            score = area_score(s, meta, nb, on_board)
        else:
            score, n_moves = run_playout(s, meta, nb, dg, zob, on_board, w, pat, rng, max_moves, policy, spec, expw,
                                         moves, n_moves)
        amaf_backup(nodes, path, path_len, moves, n_moves, first_colour, root_colour, playout_result(score, komi))
    return n_sims


@njit(cache=True)
def compact(nodes, tree_meta, new_root, out):
    """Copy the subtree under new_root into `out` (breadth first, children kept contiguous); the new
    root is out[0] with parent -1. Returns the number of nodes copied, or -1 if `out` is too small."""
    reset_node(out, 0, -1, nodes[new_root].move)
    out[0] = nodes[new_root]
    out[0].parent = -1
    queue_src = np.empty(nodes.shape[0], dtype=np.int32)
    queue_dst = np.empty(nodes.shape[0], dtype=np.int32)
    queue_src[0] = new_root
    queue_dst[0] = 0
    head = 0
    tail = 1
    used = 1
    while head < tail:
        src = queue_src[head]
        dst = queue_dst[head]
        head += 1
        first = nodes[src].first_child
        count = nodes[src].n_children
        if first < 0:
            out[dst].first_child = -1
            out[dst].n_children = 0
            continue
        if used + count > out.shape[0]:
            return -1
        out[dst].first_child = used
        for k in range(count):
            out[used + k] = nodes[first + k]
            out[used + k].parent = dst
            queue_src[tail] = first + k
            queue_dst[tail] = used + k
            tail += 1
        used += count
    tree_meta[USED] = used
    return used



# --- batched evaluation (PUCT with a network, and AlphaGo Lee's mix) ---

@njit(cache=True)
def collect_leaves(nodes, root, root_s, root_meta, root_history, nb, zob, on_board, batch, vloss, params,
                   leaf_s, leaf_meta, leaf_history, leaf_legal, leaf_nodes, paths, path_lens, terminal_scores,
                   root_children):
    """Walk from the root `batch` times, adding `vloss` virtual losses along each path, and stop at
    unexpanded nodes (or finished games). For each leaf b: its board in leaf_s[b], leaf_meta[b]; the
    colour rows of its last H positions in leaf_history[b] (newest first; root_history seeds them);
    its legal moves in leaf_legal[b] (legal_actions); the path in paths[b, :path_lens[b]];
    terminal_scores[b] is the area score for finished games and NaN otherwise. `root_children` (int32,
    empty for none) forces walk b's first step into the root child root_children[b] (a node id), which a
    root search of its own chose (Gumbel's sequential halving: gumbel.py); below it, PUCT as everywhere.
    Otherwise, with params[FORCED_K] > 0, the first step goes to a root child that is short of its forced
    playouts (forced_child) when there is one.
    Returns the number of leaves (fewer when a walk cannot go further)."""
    h = root_history.shape[0]
    n_leaves = 0
    max_path = paths.shape[1]
    for b in range(batch):
        s = leaf_s[b]
        meta = leaf_meta[b]
        s[:, :] = root_s
        meta[:] = root_meta
        hist = leaf_history[b]
        hist[:, :] = root_history
        node = root
        paths[b, 0] = root
        length = 1
        while nodes[node].first_child >= 0 and meta[PASSES] < 2 and length < max_path:
            child = -1
            if length == 1 and root_children.shape[0] > 0:
                child = root_children[b]
            elif length == 1 and params[FORCED_K] > 0:
                child = forced_child(nodes, node, params[FORCED_K])
            if child < 0:
                child = select_child(nodes, node, params)
            m = nodes[child].move
            if m == PASS:
                play_pass(meta)
            else:
                place(s, meta, nb, zob, m, meta[TO_PLAY])
            for k in range(h - 1, 0, -1):
                hist[k, :] = hist[k - 1, :]
            for p in range(s.shape[1]):
                hist[0, p] = s[COLOUR, p]
            paths[b, length] = child
            length += 1
            node = child
        path_lens[b] = length
        leaf_nodes[b] = node
        for k in range(length):
            nodes[paths[b, k]].vloss += vloss
        terminal_scores[b] = area_score(s, meta, nb, on_board) if meta[PASSES] >= 2 else np.nan
        n_leaves += 1
    legal_actions(leaf_s, leaf_meta, nb, on_board, leaf_legal)
    return n_leaves


@njit(cache=True)
def expand_with_priors(nodes, tree_meta, node, legal, on_board, priors, legal_filter):
    """Children for every legal move (`legal` per action, as legal_actions gives it; `legal_filter` per
    padded point if given) plus pass, with P = priors[action] renormalised over them. False if the node
    array is full; a node that is already expanded is left alone (two leaves of one batch may coincide)."""
    if nodes[node].first_child >= 0:
        return True
    count = 1
    total = priors[on_board.shape[0]]
    for a in range(on_board.shape[0]):
        if legal[a] and (legal_filter.shape[0] == 0 or legal_filter[on_board[a]]):
            count += 1
            total += priors[a]
    first = tree_meta[USED]
    if first + count > nodes.shape[0]:
        return False
    tree_meta[USED] = first + count
    scale = 1.0 / total if total > 0 else 0.0
    i = first
    for a in range(on_board.shape[0]):
        if legal[a] and (legal_filter.shape[0] == 0 or legal_filter[on_board[a]]):
            reset_node(nodes, i, node, on_board[a])
            nodes[i].prior = priors[a] * scale if total > 0 else 1.0 / count
            i += 1
    reset_node(nodes, i, node, PASS)
    nodes[i].prior = priors[on_board.shape[0]] * scale if total > 0 else 1.0 / count
    nodes[node].first_child = first
    nodes[node].n_children = count
    return True


@njit(cache=True)
def backup_value(nodes, path, path_len, value, vloss):
    """Back up `value`, the win probability of the player to move at the leaf path[path_len-1], and
    remove the virtual losses of this path."""
    v = 1.0 - value  # for the player who made the leaf's move
    for k in range(path_len - 1, -1, -1):
        node = path[k]
        nodes[node].vloss -= vloss
        nodes[node].visits += 1
        nodes[node].n += 1.0
        nodes[node].w += v
        nodes[node].wins += v
        v = 1.0 - v


@njit(cache=True)
def legal_actions(leaf_s, leaf_meta, nb, on_board, out):
    """out[b, action] = 1 for the legal moves of the side to move at leaf b (simple ko, no suicide); pass
    is last and always legal."""
    for b in range(out.shape[0]):
        colour = leaf_meta[b, TO_PLAY]
        for a in range(on_board.shape[0]):
            out[b, a] = 1 if is_legal_simple(leaf_s[b], leaf_meta[b], nb, on_board[a], colour, False) == OK else 0
        out[b, on_board.shape[0]] = 1


@njit(cache=True)
def apply_leaves(nodes, tree_meta, leaf_nodes, leaf_meta, legal, on_board, priors, values, terminal_scores, komi,
                 paths, path_lens, vloss, root_filter):
    """Expand each collected leaf with its priors (root_filter applies at the root only) and back up its
    value, the win probability of the side to move there; a finished game's leaf backs up its area score
    instead: 1 or 0, and 0.5 for a draw, as the net's value target counts one."""
    no_filter = root_filter[:0]
    for b in range(leaf_nodes.shape[0]):
        leaf = leaf_nodes[b]
        if np.isnan(terminal_scores[b]):
            value = values[b]
            expand_with_priors(nodes, tree_meta, leaf, legal[b], on_board, priors[b],
                               root_filter if leaf == 0 else no_filter)
        else:
            black_result = playout_result(terminal_scores[b], komi)
            value = black_result if leaf_meta[b, TO_PLAY] == BLACK else 1.0 - black_result
        backup_value(nodes, paths[b], path_lens[b], value, vloss)


@njit(cache=True)
def leaf_rollouts(leaf_s, leaf_meta, nb, dg, zob, on_board, w, pat, rng, max_moves, policy, spec, expw, komi):
    """One playout from each leaf: 1.0 if the side to move at the leaf wins, else 0.0."""
    n = leaf_s.shape[0]
    out = np.empty(n, dtype=np.float64)
    moves = np.empty(max_moves + 1, dtype=np.int32)
    for b in range(n):
        s = leaf_s[b].copy()
        meta = leaf_meta[b].copy()
        colour = meta[TO_PLAY]
        score, _t = run_playout(s, meta, nb, dg, zob, on_board, w, pat, rng, max_moves, policy, spec, expw, moves, 0)
        black_result = playout_result(score, komi)
        out[b] = black_result if colour == BLACK else 1.0 - black_result
    return out
