"""`SearchConfig`: the parameters of a search (search.py), in one frozen dataclass, and `--search
KEY=VALUE,...` overrides of them (`SearchConfig.overridden`, as KataGo's -override-config). `params` packs
them into the float64 array the numba kernels read (_tree.py names the slots).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from goengine import checks
from goengine.mcts import _tree as T

POLICY_SCAN_S = 0.05
"""Seconds between scans for nodes that have earned the policy's priors (prior_policy_visits)."""
OVERRIDE_EXCLUDED = ("seed",)
"""SearchConfig fields `--search` does not set (the player's --seed does)."""
OVERRIDE_RANGE = {"tree_nodes": (10_000, 20_000_000), "expand_visits": (1, None), "batch_size": (1, 4096)}
"""(least, most) values `--search` accepts; (0, None) for the rest, each a non-negative weight or count. A
tree needs room for a root's children; 20M nodes are 1.3 GB."""


@dataclass(frozen=True)
class SearchConfig:
    tree_nodes: int = 400_000
    """Capacity of the node array (64 bytes a node); when full, leaves stop expanding."""
    rave_equiv: float = 3500.0
    """RAVE: visits at which the AMAF and the real value weigh equally (michi's RAVE_EQUIV)."""
    c_uct: float = 0.0
    """UCT exploration constant added to the RAVE urgency (0: priors and RAVE explore, as in michi)."""
    expand_visits: int = 2
    """A leaf is expanded on its expand_visits-th simulation (rollout mode)."""
    prior_even: float = 10.0
    """Pseudo-visits at 50% that every child starts with (rollout mode)."""
    prior_capture: float = 15.0
    """Pseudo-wins for moves that capture, or that save an own chain from atari."""
    prior_self_atari: float = 10.0
    """Pseudo-losses for self-ataris."""
    prior_pattern: float = 10.0
    """Pseudo-wins for moves matching a MoGo 3x3 pattern."""
    prior_near: float = 10.0
    """Pseudo-wins for moves within Manhattan distance 2 of the last move."""
    prior_empty_area: float = 10.0
    """In empty areas: pseudo-losses on lines 1-2, pseudo-wins on line 3."""
    prior_pass: float = 10.0
    """Pseudo-visits of the pass child, at a 10% win rate."""
    prior_policy: float = 150.0
    """Pseudo-wins weight * P(a) for each root child when a policy (a net's, `gtp --root-policy W`) gives
    the root priors P (rollout mode; Pachi's DCNN prior does the same with its net). 150 beat 50 at 0.5 s a
    move over 648 games, +34 Elo (SPRT accepted; README, Strength)."""
    prior_policy_visits: int = 0
    """With a policy: also give the children of every node with this many real visits its priors (one net
    call each, checked every POLICY_SCAN_S); 0: the root only."""
    c_puct: float = 1.5
    """PUCT exploration constant (network mode)."""
    fpu_reduction: float = 0.25
    """PUCT: unvisited children are valued at the parent's Q minus this (Leela Zero's FPU)."""
    forced_playouts: float = 0.0
    """PUCT: KataGo's forced playouts, k in n_forced(c) = sqrt(k P(c) N) for each root child (KataGo: 2);
    0 forces none. Self-play with them records pruned visits as targets (goengine/mcts/forced.py)."""
    score_utility: float = 0.0
    """Network mode, nets with the score head (`train zero --aux-heads`): KataGo's score utility, the weight
    of the predicted margin in the value backed up (rl/alphago_zero/evaluator.py); 0: the win rate only."""
    batch_size: int = 8
    """Leaves gathered per network evaluation."""
    virtual_loss: int = 3
    """Virtual losses per pending leaf on its path."""
    max_playout_moves: int = 0
    """Move cap of a playout; 0 means 3 N^2."""
    seed: int = 0

    def overridden(self, text: str | None) -> "SearchConfig":
        """This config with fields replaced by the `key=value` items of `text`, separated by commas or
        semicolons (`goengine gtp --search rave_equiv=2000,prior_even=20`, as KataGo's -override-config and
        Pachi's `-e uct:key=value`). ValueError of one line for an unknown key or a value out of range."""
        if not text or not text.strip():
            return self
        fields = {f.name: f for f in dataclasses.fields(self) if f.name not in OVERRIDE_EXCLUDED}
        values: dict[str, object] = {}
        for item in re.split(r"[,;]", text):
            key, equals, raw = (part.strip() for part in item.partition("="))
            if not equals or not key or not raw:
                raise ValueError(f"--search takes key=value items such as rave_equiv=2000; got {item.strip()!r}")
            if key not in fields:
                raise ValueError(f"--search: unknown key {key!r}; keys are {', '.join(fields)}")
            kind = int if fields[key].type in (int, "int") else float
            try:
                number = kind(raw)
            except ValueError:
                raise ValueError(f"--search {key} must be {'an integer' if kind is int else 'a number'}, "
                                 f"not {raw!r}") from None
            low, high = OVERRIDE_RANGE.get(key, (0, None))
            if kind is int:
                values[key] = checks.integer(f"--search {key}", number, low, high)
            else:
                values[key] = checks.number(f"--search {key}", number, low, high)
        return dataclasses.replace(self, **values)

    def params(self, mode: int) -> np.ndarray:
        p = np.zeros(T.N_PARAMS, dtype=np.float64)
        p[T.RAVE_EQUIV], p[T.C_UCT], p[T.EXPAND_VISITS] = self.rave_equiv, self.c_uct, self.expand_visits
        p[T.PRIOR_EVEN], p[T.PRIOR_CAPTURE] = self.prior_even, self.prior_capture
        p[T.PRIOR_SELF_ATARI], p[T.PRIOR_PATTERN] = self.prior_self_atari, self.prior_pattern
        p[T.PRIOR_NEAR], p[T.PRIOR_EMPTY_AREA], p[T.PRIOR_PASS] = self.prior_near, self.prior_empty_area, self.prior_pass
        p[T.C_PUCT], p[T.FPU_REDUCTION], p[T.MODE] = self.c_puct, self.fpu_reduction, mode
        p[T.FORCED_K] = self.forced_playouts
        return p
