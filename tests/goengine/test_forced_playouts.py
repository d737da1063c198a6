"""KataGo's forced playouts and policy target pruning (SearchConfig.forced_playouts, goengine/mcts/forced.py;
Wu 2019, sec. 3.2): every root child gets its sqrt(k P N) visits, a search without them leaves some short,
and the pruning matches a brute-force reading of its rule on the same tree."""
import math

import numpy as np
import pytest

from goengine import Position
from goengine.mcts import _tree as T
from goengine.mcts.forced import pruned_visit_counts
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig
from tests.goengine.test_gumbel import TableEvaluator

SIZE = 7


def searched(k: float, sims: int = 400, leaves: int = 1, seed: int = 0, noise: bool = True) -> Search:
    """A PUCT search of `sims` simulations from a 7x7 opening position, with forced playouts k, in batches of
    `leaves`; Dirichlet noise at the root as in self-play (seeded)."""
    s = Search(TableEvaluator(SIZE, seed=seed, sharpness=3.0), SearchConfig(tree_nodes=100_000, seed=1,
                                                                             forced_playouts=k, fpu_reduction=0.0))
    pos = Position(SIZE, 7.0)
    for move in ("D4", "C3"):
        pos = pos.play(move)
    s.set_root(pos)
    s.run(sims=1)
    if noise:
        s.add_dirichlet_noise(0.3, 0.25, np.random.default_rng(seed))
    while int(s.nodes[0]["visits"]) < sims:
        pending = s.collect(leaves)
        priors, values = s.evaluator.evaluate(pending.batch)
        s.apply(pending, priors, values)
    return s


def shortfalls(s: Search, k: float) -> np.ndarray:
    """sqrt(k P(c) N) - N(c) for each root child, N the children's total visits."""
    children = s.children()
    total = float(children["visits"].sum())
    return np.sqrt(k * children["prior"].astype(np.float64) * total) - children["visits"]


@pytest.mark.parametrize("leaves", [1, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_root_child_gets_its_forced_playouts(seed, leaves):
    s = searched(2.0, leaves=leaves, seed=seed)
    # a child is forced while it is below sqrt(2 P N); the last simulations can leave it one short
    assert shortfalls(s, 2.0).max() < 1.5 + leaves
    plain = searched(0.0, leaves=leaves, seed=seed)
    assert shortfalls(plain, 2.0).max() > 3  # PUCT alone leaves some noised move well short
    assert int(s.nodes[0]["visits"]) == int(plain.nodes[0]["visits"])


def brute_force_pruned(s: Search, k: float) -> np.ndarray:
    """The rule read literally: for each child but the most visited, the largest cut d <= sqrt(k P N), one
    visit at a time, with PUCT(c) at N(c) - d still below PUCT(c*); a child cut to one visit or none is
    dropped. Visits per child, in children() order."""
    children = s.children()
    n = children["visits"].astype(np.float64)
    total = n.sum()
    q = np.where(n > 0, children["wins"] / np.maximum(n, 1), 0.0)
    prior = children["prior"].astype(np.float64)
    c_puct = s.config.c_puct
    puct = lambda c, visits: q[c] + c_puct * prior[c] * math.sqrt(total) / (1 + visits)  # noqa: E731
    best = s.best_child() - int(s.nodes[0]["first_child"])
    out = n.copy()
    for c in range(len(n)):
        if c == best or n[c] == 0:
            continue
        d = 0
        while d + 1 <= math.sqrt(k * prior[c] * total) and n[c] - d - 1 >= 0 \
                and puct(c, n[c] - d - 1) < puct(best, n[best]):
            d += 1
        if d > 0:
            out[c] = 0 if n[c] - d <= 1 else n[c] - d
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pruned_counts_match_the_rule_read_literally(seed):
    s = searched(2.0, seed=seed)
    pruned = pruned_visit_counts(s)
    plain = s.visit_counts()
    expected = np.zeros_like(plain)
    per_child = brute_force_pruned(s, 2.0)
    actions = s.child_actions()
    expected[actions[per_child > 0]] = per_child[per_child > 0]
    np.testing.assert_array_equal(pruned, expected)
    assert pruned.sum() < plain.sum()  # forced visits were given back
    assert (pruned <= plain).all() and pruned.max() == plain.max()  # the best child keeps all its visits
    # dropped children: moves searched only because they were forced
    assert ((plain > 0) & (pruned == 0)).sum() > 0


def test_without_forced_playouts_the_counts_are_plain():
    s = searched(0.0)
    np.testing.assert_array_equal(pruned_visit_counts(s), s.visit_counts())
    s.set_forced_playouts(0.0)
    forced = searched(2.0)
    forced.set_forced_playouts(0.0)  # pruning reads the k the search ran with
    np.testing.assert_array_equal(pruned_visit_counts(forced), forced.visit_counts())


def test_the_parameter_reaches_the_kernels_and_is_checked():
    assert SearchConfig(forced_playouts=2.0).params(T.MODE_PUCT)[T.FORCED_K] == 2.0
    assert SearchConfig().overridden("forced_playouts=2").forced_playouts == 2.0
    with pytest.raises(ValueError, match="forced_playouts"):
        SearchConfig().overridden("forced_playouts=-1")
