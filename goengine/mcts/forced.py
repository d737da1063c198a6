"""KataGo's policy target pruning (Wu 2019, "Accelerating self-play learning in Go", sec. 3.2): the visits
of a search with forced playouts (SearchConfig.forced_playouts; `forced_child` in _tree.py forces them) less
the forced ones, so that self-play learns the moves the search chose and not the ones the root noise forced.
"""
from __future__ import annotations

import numpy as np

from goengine.mcts import _tree as T
from goengine.mcts.search import Search


def pruned_visit_counts(search: Search) -> np.ndarray:
    """search.visit_counts() less the forced playouts: every root child c but the one played, c*
    (best_child()), loses up to n_forced(c) = sqrt(k P(c) N) visits, as many as keep its PUCT value below
    c*'s at the total N; a child cut to one visit is dropped. With k = 0 (the search's forced_playouts),
    the plain counts."""
    counts = search.visit_counts()
    k = float(search.params[T.FORCED_K])
    children = search.children()
    if k <= 0 or len(children) < 2:
        return counts
    n = children["visits"].astype(np.float64)
    total = n.sum()
    if total <= 0:
        return counts
    prior = children["prior"].astype(np.float64)
    q = np.divide(children["wins"], n, out=np.zeros_like(n), where=n > 0)
    c_puct, sqrt_total = float(search.params[T.C_PUCT]), np.sqrt(total)
    best = search.best_child() - int(search.nodes[0]["first_child"])  # the move played: ties go by value
    best_puct = q[best] + c_puct * prior[best] * sqrt_total / (1.0 + n[best])
    pruned = n.copy()
    for c in np.flatnonzero(n > 0):
        if c == best or q[c] >= best_puct:
            continue
        # the fewest visits m with q + c_puct P sqrt(N) / (1 + m) still below best_puct
        least = c_puct * prior[c] * sqrt_total / (best_puct - q[c]) - 1.0
        cut = min(np.sqrt(k * prior[c] * total), n[c] - max(np.floor(least) + 1.0, 0.0))
        if cut >= 1.0:
            pruned[c] = n[c] - np.floor(cut)
            if pruned[c] <= 1.0:
                pruned[c] = 0.0
    out = np.zeros_like(counts)
    actions = search.child_actions()
    out[actions[pruned > 0]] = pruned[pruned > 0]
    return out
