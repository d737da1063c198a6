"""Gumbel AlphaZero's root search: sequential halving over Gumbel-sampled moves, and the completed-Q
policy target (Danihelka, Guez, Schrittwieser & Silver 2022, "Policy improvement by planning with
Gumbel", ICLR; sections 3-4 and appendix D).

Symbols are the paper's: g(a) ~ Gumbel(0), logits(a) = log P(a) (the root's priors), N(a) visits,
q̂(a) in [0, 1] the mean value of child a for the side to move at the root (our tree's win rate), and

    sigma(q̂(a)) = (c_visit + max_b N(b)) c_scale q̂(a).

A move's search, with a simulation budget n:
  1. the m = min(m, n, legal moves) actions with the largest g(a) + logits(a) are considered (sampling
     m moves without replacement from the prior, the Gumbel-top-k trick);
  2. sequential halving spends the n simulations over them: each phase visits every remaining action
     equally, then keeps the better half by g(a) + logits(a) + sigma(q̂(a)), until 2 remain, which share
     what is left (considered_visits is the whole schedule, simulation by simulation);
  3. the move played is the remaining action with the largest g(a) + logits(a) + sigma(q̂(a));
  4. the policy target is pi' = softmax(logits + sigma(completedQ)), completedQ(a) = q̂(a) for visited
     actions and v_mix for the others, the paper's mixed value (eq. 33): the root's own value v̂_pi
     averaged with the visited actions' q̂ weighted by their priors.

Below the root the walk is the tree's usual PUCT (search.py); only the root's choice is this module's,
handed to `Search.collect(root_children=...)`. The tree must be fresh for each move (no subtree reuse):
the schedule counts this search's visits and v̂_pi is the root's first evaluation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from goengine import checks


@dataclass(frozen=True)
class GumbelConfig:
    m: int = 16
    """Actions sampled at the root (the paper's m; fewer when n or the legal moves are fewer)."""
    c_visit: float = 50.0
    """sigma's visit offset (the paper's c_visit)."""
    c_scale: float = 1.0
    """sigma's scale (the paper's c_scale), for q̂ in [0, 1]."""

    def __post_init__(self) -> None:
        checks.integer("m", self.m, 1)
        checks.number("c_visit", self.c_visit, 0)
        checks.number("c_scale", self.c_scale, 0)


def considered_visits(m: int, n: int) -> np.ndarray:
    """Sequential halving's schedule for m actions and n simulations: entry k is the visit count an
    action must have to get simulation k (k = 0 .. n-1), the best such action by score taking it.

    Phases: with r actions remaining, each gets max(1, floor(n / (ceil(log2 m) r))) visits, then r
    halves (to no fewer than 2); when m = 1 the one action takes every simulation."""
    checks.integer("m", m, 1)
    checks.integer("n", n, 0)
    if m == 1:
        return np.arange(n, dtype=np.int64)
    phases = math.ceil(math.log2(m))
    out: list[int] = []
    remaining = m
    level = 0  # the visits every remaining action has at the start of a round
    while len(out) < n:
        rounds = max(1, n // (phases * remaining))
        for _ in range(rounds):
            out.extend([level] * remaining)
            level += 1
        remaining = max(2, remaining // 2)
    return np.array(out[:n], dtype=np.int64)


def sigma(q: np.ndarray, max_visits: float, config: GumbelConfig) -> np.ndarray:
    """The paper's monotone transform of q̂ in [0, 1]: (c_visit + max_b N(b)) c_scale q̂."""
    return (config.c_visit + max_visits) * config.c_scale * np.asarray(q, dtype=np.float64)


def mixed_value(raw_value: float, q: np.ndarray, visits: np.ndarray, prior: np.ndarray) -> float:
    """v_mix = (v̂_pi + (sum_b N(b)) sum_{a: N(a)>0} pi(a) q̂(a) / sum_{a: N(a)>0} pi(a)) / (1 + sum_b N(b))."""
    visited = visits > 0
    total = float(visits[visited].sum())
    if total == 0:
        return float(raw_value)
    weights = prior[visited].astype(np.float64)
    weight_sum = weights.sum()
    mean_q = float((weights * q[visited]).sum() / weight_sum) if weight_sum > 0 else float(q[visited].mean())
    return (float(raw_value) + total * mean_q) / (1.0 + total)


def completed_q(raw_value: float, q: np.ndarray, visits: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """q̂(a) for visited actions, v_mix for the others."""
    return np.where(visits > 0, q, mixed_value(raw_value, q, visits, prior))


def improved_policy(logits: np.ndarray, q_completed: np.ndarray, visits: np.ndarray,
                    config: GumbelConfig) -> np.ndarray:
    """pi' = softmax(logits + sigma(completedQ)) (entries of -inf logits, illegal moves, get 0)."""
    z = logits + sigma(q_completed, float(visits.max(initial=0)), config)
    z = z - z[np.isfinite(z)].max()
    p = np.where(np.isfinite(z), np.exp(z), 0.0)
    return p / p.sum()


class GumbelRoot:
    """One move's Gumbel root search over the expanded root of `search` (a Search or RootView whose tree
    is fresh: the root evaluated once, no child visited yet). Ask `next_children(k)` for the root
    children of the next k simulations and hand them to `search.collect(root_children=...)`, apply the
    evaluations, repeat until `remaining` is 0; then `chosen_child()` is the move and `policy_target()`
    the training target. `raw_value` is v̂_pi, the root's own evaluation (the side to move's win
    probability), which `search.root_winrate()` gives after the root's first evaluation."""

    def __init__(self, search, budget: int, rng: np.random.Generator, config: GumbelConfig = GumbelConfig(),
                 raw_value: float | None = None):
        checks.integer("budget", budget, 1)
        kids = search.children()
        if len(kids) == 0:
            raise ValueError("the root is not expanded: evaluate it once first")
        self.search, self.budget, self.config = search, budget, config
        self.first = int(search.nodes[0]["first_child"])
        self.raw_value = float(search.root_winrate() if raw_value is None else raw_value)
        self.legal = kids["visits"] >= 0  # superko-illegal children are marked with -1 (search.py)
        prior = kids["prior"].astype(np.float64)
        with np.errstate(divide="ignore"):
            self.logits = np.where(self.legal, np.log(prior), -np.inf)
        self.logits = np.where(self.legal & ~np.isfinite(self.logits), -1e9, self.logits)  # a zero prior
        self.prior = np.where(self.legal, prior, 0.0)
        self.gumbel = rng.gumbel(size=len(kids))
        m = min(config.m, budget, int(self.legal.sum()))
        order = np.argsort(-(self.gumbel + self.logits), kind="stable")
        self.considered = np.sort(order[:m])  # indices into children()
        self.schedule = considered_visits(m, budget)
        self.sims = np.zeros(len(kids), dtype=np.int64)  # simulations this search sent through each child
        self.done = 0

    @property
    def remaining(self) -> int:
        return self.budget - self.done

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        """(q̂, N) of the root children from the tree: q̂ the win rate for the side to move at the root."""
        kids = self.search.children()
        visits = np.maximum(kids["visits"], 0)
        q = np.where(visits > 0, kids["wins"] / np.maximum(visits, 1), 0.0)
        return q, visits

    def completed_q(self) -> np.ndarray:
        q, visits = self.stats()
        return completed_q(self.raw_value, q, visits, self.prior)

    def scores(self) -> np.ndarray:
        """g(a) + logits(a) + sigma(completedQ(a)) of every root child."""
        q, visits = self.stats()
        completed = completed_q(self.raw_value, q, visits, self.prior)
        return self.gumbel + self.logits + sigma(completed, float(visits.max(initial=0)), self.config)

    def next_children(self, k: int) -> np.ndarray:
        """Node ids of the root children for the next k simulations (k <= remaining), in the order of the
        schedule; simulations not yet applied count as made, their values as not yet known."""
        checks.integer("k", k, 1, self.remaining)
        scores = self.scores()
        out = np.empty(k, dtype=np.int32)
        for j in range(k):
            wanted = self.schedule[self.done]
            candidates = self.considered[self.sims[self.considered] == wanted]
            if len(candidates) == 0:  # cannot happen with the schedule's own choices; the least visited then
                candidates = self.considered[self.sims[self.considered] == self.sims[self.considered].min()]
            pick = int(candidates[np.argmax(scores[candidates])])
            self.sims[pick] += 1
            self.done += 1
            out[j] = self.first + pick
        return out

    def chosen_child(self) -> int:
        """Node id of the action sequential halving ends with: the most visited of the considered, by
        score."""
        most = self.considered[self.sims[self.considered] == self.sims[self.considered].max()]
        return self.first + int(most[np.argmax(self.scores()[most])])

    def policy_target(self) -> np.ndarray:
        """pi' over action indices (N*N + 1, pass last): softmax(logits + sigma(completedQ))."""
        _, visits = self.stats()
        pi = improved_policy(self.logits, self.completed_q(), visits, self.config)
        size = self.search.position.size
        out = np.zeros(size * size + 1, dtype=np.float32)
        out[self.search.child_actions()] = pi
        return out
