"""Search.add_root_policy: a policy's priors as pseudo-wins of the rollout tree's root children (the rollout
engine's side of `goengine gtp --root-policy W`; the net's side is tests/rl/test_root_policy.py)."""
from __future__ import annotations

import numpy as np
import pytest

from goengine import coords
from goengine.mcts.evaluators import RolloutEvaluator
from goengine.mcts.parallel import ParallelSearch
from goengine.mcts.search import Search, SearchConfig
from goengine.position import Position

CONFIG = SearchConfig(tree_nodes=50_000, seed=3)


def one_hot(position: Position, vertex: str) -> np.ndarray:
    priors = np.zeros(position.size * position.size + 1)
    priors[coords.gtp_to_action(vertex, position.size) if vertex != "pass" else -1] = 1.0
    return priors


def child(search, vertex: str):
    size = search.position.size
    kids = search.children()
    return kids[kids["move"] == (coords.PASS if vertex == "pass" else coords.gtp_to_point(vertex, size))][0]


def test_the_prior_becomes_pseudo_wins_of_that_child_once_per_root():
    position = Position(9, 7.0)
    search = Search(RolloutEvaluator(), CONFIG)
    search.set_root(position)
    search.run(sims=1)  # expanded, with the hand-made priors
    before = {v: (float(child(search, v)["n"]), float(child(search, v)["w"])) for v in ("A1", "E5", "pass")}
    priors = 0.75 * one_hot(position, "A1") + 0.25 * one_hot(position, "pass")
    assert search.add_root_policy(priors)
    for vertex, p in (("A1", 0.75), ("pass", 0.25), ("E5", 0.0)):
        n, w = float(child(search, vertex)["n"]), float(child(search, vertex)["w"])
        assert (n, w) == pytest.approx((before[vertex][0] + 50 * p, before[vertex][1] + 50 * p))
    assert not search.add_root_policy(priors)  # the same root: nothing added twice
    assert float(child(search, "A1")["n"]) == pytest.approx(before["A1"][0] + 37.5)
    search.set_root(position.play("E5"))  # a new root (the subtree kept) takes its own priors
    assert search.add_root_policy(one_hot(search.position, "A1"))


def test_a_strong_prior_draws_the_search_to_its_move():
    """A1 is a poor first move the tree would hardly visit; 500 pseudo-wins make the search look at it."""
    position = Position(9, 7.0)
    plain = Search(RolloutEvaluator(), CONFIG)
    plain.set_root(position)
    plain.run(sims=2000)
    pushed = Search(RolloutEvaluator(), SearchConfig(tree_nodes=50_000, seed=3, prior_policy=500.0))
    pushed.set_root(position)
    pushed.add_root_policy(one_hot(position, "A1"))  # expands the root first
    pushed.run(sims=2000)
    assert int(child(plain, "A1")["visits"]) < 100 and int(child(pushed, "A1")["visits"]) > 1000


def test_root_parallel_trees_all_take_the_priors():
    position = Position(9, 7.0)
    search = ParallelSearch(RolloutEvaluator(), CONFIG, threads=2)
    try:
        search.set_root(position)
        assert search.add_root_policy(one_hot(position, "C3"))
        for tree in search.trees:
            kids = tree.children()
            c3 = kids[kids["move"] == coords.gtp_to_point("C3", 9)][0]
            assert float(c3["n"]) - float(c3["visits"]) >= 50
    finally:
        search.close()


def test_a_net_search_refuses_root_policy_priors():
    class Batch:
        kind = "batch"

    search = Search(Batch(), CONFIG)
    search.set_root(Position(9, 7.0))
    with pytest.raises(ValueError, match="for the rollout search"):
        search.add_root_policy(one_hot(search.position, "C3"))
