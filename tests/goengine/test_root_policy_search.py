"""A policy's priors in the rollout tree (Search's `policy`, the rollout engine's side of `goengine gtp
--root-policy W`; the net's side is tests/rl/test_root_policy.py): pseudo-wins of prior_policy * P(a) for
the root's children, and for the children of every node that earns prior_policy_visits visits, each
position once, tree reuse included."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from goengine import coords
from goengine.mcts.evaluators import RolloutEvaluator
from goengine.mcts.parallel import ParallelSearch
from goengine.mcts import search as search_module
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig
from goengine.position import Position

CONFIG = SearchConfig(tree_nodes=100_000, seed=3)


class Corner:
    """A policy that puts `share` on A1 (when legal) and the rest on pass, and counts its calls."""

    def __init__(self, share: float = 1.0):
        self.share = share
        self.calls: Counter = Counter()

    def __call__(self, position: Position) -> np.ndarray:
        self.calls[tuple(position.history)] += 1
        priors = np.zeros(position.size * position.size + 1)
        if position.is_legal("A1"):
            priors[coords.gtp_to_action("A1", position.size)] = self.share
        priors[-1] += 1.0 - priors.sum()
        return priors


def child(search: Search, node: int, vertex: str):
    first, count = int(search.nodes[node]["first_child"]), int(search.nodes[node]["n_children"])
    kids = search.nodes[first:first + count]
    point = coords.PASS if vertex == "pass" else coords.gtp_to_point(vertex, search.position.size)
    return kids[kids["move"] == point][0]


def test_the_root_gets_the_priors_as_pseudo_wins_once():
    position = Position(9, 7.0)
    plain = Search(RolloutEvaluator(), CONFIG)
    plain.set_root(position)
    plain.run(sims=1)
    policy = Corner(0.75)
    search = Search(RolloutEvaluator(), CONFIG, policy=policy)
    search.set_root(position)  # expands the root with one simulation, then adds the priors
    for vertex, p in (("A1", 0.75), ("pass", 0.25), ("E5", 0.0)):
        got, hand_made = child(search, 0, vertex), child(plain, 0, vertex)
        assert float(got["n"]) == pytest.approx(float(hand_made["n"]) + CONFIG.prior_policy * p)
        assert float(got["w"]) == pytest.approx(float(hand_made["w"]) + CONFIG.prior_policy * p)
    search.set_root(position)  # the same root again: nothing added twice
    a1 = float(child(plain, 0, "A1")["n"]) + CONFIG.prior_policy * 0.75
    assert float(child(search, 0, "A1")["n"]) == pytest.approx(a1)
    assert policy.calls == Counter({(): 1})


def test_a_strong_prior_draws_the_search_to_its_move():
    """A1 is a poor first move the tree hardly visits; 500 pseudo-wins make the search look at it."""
    position = Position(9, 7.0)
    plain = Search(RolloutEvaluator(), CONFIG)
    plain.set_root(position)
    plain.run(sims=2000)
    pushed = Search(RolloutEvaluator(), SearchConfig(tree_nodes=100_000, seed=3, prior_policy=500.0), policy=Corner())
    pushed.set_root(position)
    pushed.run(sims=2000)
    assert int(child(plain, 0, "A1")["visits"]) < 100 and int(child(pushed, 0, "A1")["visits"]) > 1000


def test_busy_nodes_get_the_priors_once_each_and_tree_reuse_does_not_repeat_them(monkeypatch):
    monkeypatch.setattr(search_module, "POLICY_SCAN_S", 0.0)  # scan after every kernel call: none missed
    policy = Corner()
    config = SearchConfig(tree_nodes=100_000, seed=3, prior_policy_visits=300)
    search = Search(RolloutEvaluator(), config, policy=policy)
    position = Position(9, 7.0)
    search.set_root(position)
    search.run(sims=6000)
    nodes = search.nodes[:int(search.tree_meta[0])]
    busy = [int(n) for n in np.flatnonzero((nodes["visits"] >= 300) & (nodes["first_child"] >= 0))]
    assert len(busy) >= 3 and len(policy.calls) == len(busy) and max(policy.calls.values()) == 1
    a1 = coords.gtp_to_point("A1", 9)
    for node in busy:  # A1, where it is a child (the policy's move), has its 50 pseudo-wins
        first, count = int(search.nodes[node]["first_child"]), int(search.nodes[node]["n_children"])
        kids = search.nodes[first:first + count]
        if (kids["move"] == a1).any():
            corner = kids[kids["move"] == a1][0]
            assert float(corner["n"]) - int(corner["visits"]) >= config.prior_policy
    best = search.chosen_child()
    asked = len(policy.calls)
    search.set_root(position.play(coords.point_to_gtp(int(search.nodes[best]["move"]), 9)))
    assert len(policy.calls) == asked and max(policy.calls.values()) == 1  # a busy child: its priors kept


def test_root_parallel_trees_all_take_the_priors():
    search = ParallelSearch(RolloutEvaluator(), CONFIG, threads=2, policy=Corner())
    try:
        search.set_root(Position(9, 7.0))
        for tree in search.trees:
            a1 = child(tree, 0, "A1")
            assert float(a1["n"]) - float(a1["visits"]) >= 50
    finally:
        search.close()


def test_a_net_search_refuses_policy_priors():
    class Batch:
        kind = "batch"

    search = Search(Batch(), CONFIG, policy=Corner())
    with pytest.raises(ValueError, match="for the rollout search"):
        search.set_root(Position(9, 7.0))


def test_a_scan_of_busy_nodes_stops_at_the_deadline_busiest_first(monkeypatch):
    """Each net call takes time, so a scan that finds many busy nodes gives the priors to the busiest first
    and leaves the rest for the next scan once the move's time is up (a Lee player at 0.2 s a move with
    prior_policy_visits=40 ran 25% over its time before)."""
    clock = [100.0]
    monkeypatch.setattr(search_module.time, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(search_module, "POLICY_SCAN_S", float("inf"))  # no scans while the tree grows

    class Slow(Corner):
        def __call__(self, position):
            clock[0] += 0.1  # one net call: 0.1 s on the search's clock
            return super().__call__(position)

    policy = Slow()
    search = Search(RolloutEvaluator(), SearchConfig(tree_nodes=100_000, seed=3, prior_policy_visits=100),
                    policy=policy)
    search.set_root(Position(9, 7.0))
    search.run(sims=4000)
    nodes = search.nodes[:int(search.tree_meta[0])]
    busy = np.flatnonzero((nodes["visits"] >= 100) & (nodes["first_child"] >= 0))
    busy = [int(n) for n in busy if n != 0]  # the root had its priors at set_root
    assert len(busy) >= 5
    given = len(policy.calls)
    search._give_policy_to_busy_nodes(deadline=clock[0] + 0.25)
    assert len(policy.calls) - given == 3  # calls at +0, +0.1, +0.2; none at +0.3
    visits = sorted((int(nodes["visits"][n]) for n in busy), reverse=True)
    assert sorted((int(nodes["visits"][n]) for n in search._policy_nodes_seen - {0}), reverse=True) == visits[:3]
    search._give_policy_to_busy_nodes()
    assert len(policy.calls) - given == len(busy) and max(policy.calls.values()) == 1
