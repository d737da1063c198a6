"""Gumbel AlphaZero's root search (goengine/mcts/gumbel.py): the sequential-halving schedule, the
completed-Q policy target against a hand computation from the tree, the move against g + logits +
sigma(q) with known q, and the forced root children of Search.collect."""
import numpy as np
import pytest

from goengine import Position, coords
from goengine.mcts.gumbel import GumbelConfig, GumbelRoot, considered_visits
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig

CONFIG = SearchConfig(tree_nodes=20_000, seed=1)


class TableEvaluator:
    """Priors and values from fixed random tables over (colour, point): varied, deterministic, and a
    function of the leaf's stones only. Records every value it returns."""

    kind = "batch"
    history_length = 1

    def __init__(self, size: int, seed: int = 0, sharpness: float = 1.0):
        n_points = (size + 2) ** 2
        rng = np.random.default_rng(seed)
        self.value_table = rng.normal(0, sharpness, (2, n_points))
        self.policy_table = rng.normal(0, 1.0, (2, n_points, size * size + 1))
        self.values: list[float] = []

    def evaluate(self, batch):
        now = batch.history[:, 0]  # (B, n_points): colours of each leaf (1 Black, 2 White; walls vary)
        onehot = np.stack([now == c for c in (1, 2)], axis=1).astype(np.float64)  # (B, 2, n_points)
        sign = np.where(batch.to_play == 1, 1.0, -1.0)
        values = 1 / (1 + np.exp(-sign * np.einsum("bcp,cp->b", onehot, self.value_table) / 4))
        logits = np.einsum("bcp,cpa->ba", onehot, self.policy_table) / 4
        priors = batch.legal * np.exp(logits - logits.max(1, keepdims=True))
        priors /= priors.sum(1, keepdims=True)
        self.values.extend(values.tolist())
        return priors.astype(np.float32), values.astype(np.float32)


def value_of(position, evaluator) -> float:
    """The evaluator's value of `position` for its side to move, through a search's own leaf batch."""
    s = Search(evaluator, CONFIG)
    s.set_root(position)
    return float(evaluator.evaluate(s.collect(1).batch)[1][0])


def gumbel_search(position, evaluator, budget, rng, config=GumbelConfig(), leaves=1):
    """A fresh tree, the root evaluated once, then `budget` simulations chosen by GumbelRoot."""
    s = Search(evaluator, CONFIG)
    s.set_root(position)
    before = len(evaluator.values)
    s.run(sims=1)
    raw_value = evaluator.values[before]
    root = GumbelRoot(s, budget, rng, config, raw_value=raw_value)
    while root.remaining:
        pending = s.collect(min(leaves, root.remaining), root_children=root.next_children(min(leaves, root.remaining)))
        priors, values = evaluator.evaluate(pending.batch)
        s.apply(pending, priors, values)
    return s, root, raw_value


def test_schedule_follows_the_papers_phases():
    # m actions, n simulations: ceil(log2 m) phases, each giving every remaining action
    # max(1, floor(n / (ceil(log2 m) r))) visits, halving r down to 2, which share the rest
    assert considered_visits(4, 8).tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    assert considered_visits(8, 24).tolist() == [0] * 8 + [1] * 4 + [2] * 4 + [3, 3, 4, 4, 5, 5, 6, 6]
    assert considered_visits(16, 32).tolist() == [0] * 16 + [1] * 8 + [2] * 4 + [3] * 4
    assert considered_visits(16, 64).tolist() == ([0] * 16 + [1] * 8 + [2] * 8 + [3] * 4 + [4] * 4 + [5] * 4 + [6] * 4
                                                  + [7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14])
    assert considered_visits(3, 4).tolist() == [0, 0, 0, 1]
    assert considered_visits(1, 3).tolist() == [0, 1, 2]
    assert considered_visits(2, 1).tolist() == [0]


@pytest.mark.parametrize("m, n", [(1, 5), (2, 2), (2, 7), (3, 8), (4, 8), (5, 16), (8, 8), (16, 8), (16, 32),
                                  (16, 200), (10, 10)])
def test_schedule_spends_n_and_halves(m, n):
    """Played out with a fixed ranking (action i beats action j when i < j), the schedule gives every
    simulation to an action that has exactly the visits it names, spends exactly n, and visits
    better-ranked actions at least as often."""
    schedule = considered_visits(m, n)
    assert len(schedule) == n
    visits = np.zeros(m, dtype=int)
    for wanted in schedule:
        candidates = np.flatnonzero(visits == wanted)
        assert len(candidates) > 0
        visits[candidates[0]] += 1
    assert visits.sum() == n
    assert (np.diff(visits) <= 0).all()
    if n >= m:
        assert (visits >= 1).all()  # the first phase tries every considered action


def test_policy_target_is_softmax_of_logits_and_sigma_of_completed_q():
    """The target against a numpy computation from the tree's own statistics: logits = log P, q̂ = W/N of
    visited children, v_mix (eq. 33) for the others, sigma = (50 + max N) q."""
    evaluator = TableEvaluator(5, seed=4)
    position = Position(5, 0.5).play("C3").play("B2")
    s, root, raw_value = gumbel_search(position, evaluator, budget=8, rng=np.random.default_rng(7),
                                       config=GumbelConfig(m=4))
    kids = s.children()
    visits = kids["visits"].astype(float)
    assert visits.sum() == 8 and s.nodes[0]["visits"] == 9
    assert sorted(visits[visits > 0].tolist()) == [1, 1, 3, 3]  # 4 considered: 1 each, then the best 2 twice more
    assert raw_value == pytest.approx(value_of(position, evaluator))
    prior = kids["prior"].astype(float)
    q = np.where(visits > 0, kids["wins"] / np.maximum(visits, 1), 0)
    seen = visits > 0
    v_mix = (raw_value + visits.sum() * (prior[seen] * q[seen]).sum() / prior[seen].sum()) / (1 + visits.sum())
    completed = np.where(seen, q, v_mix)
    z = np.log(prior) + (50 + visits.max()) * completed
    expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    target = root.policy_target()
    actions = [coords.point_to_action(int(m), 5) for m in kids["move"]]
    np.testing.assert_allclose(target[actions], expected, rtol=1e-5, atol=1e-7)
    assert target.sum() == pytest.approx(1.0, abs=1e-5)
    illegal = np.ones(26, bool)
    illegal[actions] = False
    assert (target[illegal] == 0).all() and illegal[coords.point_to_action(coords.gtp_to_point("C3", 5), 5)]
    # the move played is among the most visited, the best of them by g + logits + sigma(completedQ)
    chosen = root.chosen_child() - root.first
    assert visits[chosen] == 3
    scores = root.gumbel + np.log(prior) + (50 + visits.max()) * completed
    assert scores[chosen] == max(scores[visits == 3])


def test_with_every_move_tried_once_the_move_is_the_argmax_of_g_logits_sigma_q():
    """n = m = the legal moves on 3x3: each is visited once, so q̂(a) is one minus the value of the
    position after a (computed here on its own); the move must be argmax g + logits + sigma(q). Over the
    seeds, q changes the choice, and the Gumbel sample makes it other than the best q, several times."""
    position = Position(3, 0.5).play("B2")
    evaluator = TableEvaluator(3, seed=2, sharpness=4.0)
    legal = ["A1", "A2", "A3", "B1", "B3", "C1", "C2", "C3", "pass"]
    q = {v: 1 - value_of(position.play(v), evaluator) for v in legal}
    changed = not_greedy = 0
    for seed in range(12):
        s, root, _ = gumbel_search(position, evaluator, budget=len(legal), rng=np.random.default_rng(seed))
        kids = s.children()
        assert len(kids) == len(legal) and (kids["visits"] == 1).all()
        moves = [coords.point_to_gtp(int(m), 3) for m in kids["move"]]
        logits = np.log(kids["prior"].astype(float))
        q_known = np.array([q[v] for v in moves])
        np.testing.assert_allclose(kids["wins"], q_known, atol=1e-6)
        expected = int(np.argmax(root.gumbel + logits + (50 + 1) * q_known))
        assert root.chosen_child() == root.first + expected
        changed += expected != int(np.argmax(root.gumbel + logits))
        not_greedy += expected != int(np.argmax(q_known))
    assert changed >= 3 and not_greedy >= 3


def test_small_budgets_and_batches_spend_exactly_n():
    evaluator = TableEvaluator(5, seed=1)
    for budget, m, leaves in [(1, 16, 1), (2, 16, 2), (5, 3, 2), (8, 16, 3), (32, 16, 4)]:
        s, root, _ = gumbel_search(Position(5, 0.5), evaluator, budget, np.random.default_rng(budget),
                                   GumbelConfig(m=m), leaves=leaves)
        visits = s.children()["visits"]
        assert visits.sum() == budget and (visits > 0).sum() == min(m, budget)
        assert visits[root.chosen_child() - root.first] == visits.max()


def test_forced_root_children_take_the_walks_and_bad_ones_are_refused():
    s = Search(TableEvaluator(5), CONFIG)
    s.set_root(Position(5, 0.5))
    with pytest.raises(ValueError, match="expanded root"):
        s.collect(1, root_children=np.array([1]))
    s.run(sims=1)
    first = int(s.nodes[0]["first_child"])
    pick = np.array([first + 5, first + 5, first + 2], dtype=np.int32)
    pending = s.collect(3, root_children=pick)
    assert pending.paths[:, 1].tolist() == pick.tolist() and pending.path_lens.tolist() == [2, 2, 2]
    with pytest.raises(ValueError, match="children"):
        s.collect(1, root_children=np.array([first - 1]))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="m must be"):
        GumbelConfig(m=0)
    with pytest.raises(ValueError, match="n must be"):
        considered_visits(4, -1)
    s = Search(TableEvaluator(5), CONFIG)
    s.set_root(Position(5, 0.5))
    with pytest.raises(ValueError, match="not expanded"):
        GumbelRoot(s, 4, np.random.default_rng(0))
