"""`ParallelSearch`: root parallelism for the rollout search (`goengine gtp --threads N`).

N independent trees search the same root on N threads, each with its own random stream; what the
engine reports and plays comes from a root whose children sum the trees' statistics move by move
(Chaslot, Winands and van den Herik, "Parallel Monte-Carlo Tree Search", 2008: root parallelism is
about as strong as tree parallelism with virtual loss at a few threads, and needs no locks). The numba
kernel `rollout_search` releases the GIL (`nogil=True`), so plain Python threads run the trees on
separate cores; Python only loops over kernel calls of 64 simulations.

Invariant (checked by tests/goengine/test_threads_ponder.py): the merged root's visits are the sum of
the trees' root visits, and each `run` returns the sum of the simulations the trees did.

One thread is `Search` itself: MCTSPlayer builds a ParallelSearch only for N >= 2.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from goengine.mcts import _tree as T
from goengine.mcts.search import RootView, Search
from goengine.mcts.search_config import SearchConfig
from goengine.position import Position

_SEED_STRIDE = 7919  # tree k searches with seed + k * stride: distinct random streams


class ParallelSearch(RootView):
    def __init__(self, evaluator, config: SearchConfig = SearchConfig(), threads: int = 2, policy=None):
        if threads < 2:
            raise ValueError("ParallelSearch is for 2 or more threads; one thread is Search")
        if getattr(evaluator, "kind", None) != "rollout":
            raise ValueError("--threads runs several rollout searches; net players batch on one tree")
        self.evaluator, self.config = evaluator, config
        self.trees = [Search(evaluator, replace(config, seed=config.seed + k * _SEED_STRIDE), policy=policy)
                      for k in range(threads)]
        self.mode = T.MODE_RAVE
        self.position: Position | None = None
        self.nodes = np.zeros(1, dtype=T.NODE)  # the merged root (node 0) and its children (1..K)
        self.nodes[0]["first_child"] = -1
        self.sims_done = 0
        self._pool = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="goengine-search")
        self._lock = threading.Lock()  # one run at a time (GTP's thread or the ponder thread)
        self._owner = np.zeros(0, dtype=np.int64)  # merged child i -> the tree whose PV it shows

    @property
    def komi_offset(self) -> float:
        return self.trees[0].komi_offset

    @komi_offset.setter
    def komi_offset(self, points: float) -> None:
        for tree in self.trees:
            tree.komi_offset = points

    @property
    def threads(self) -> int:
        return len(self.trees)

    def close(self) -> None:
        """Stop the worker threads (waits for a running slice to end)."""
        self._pool.shutdown(wait=True)

    # --- the Search interface the player uses ---
    def set_root(self, position: Position) -> None:
        with self._lock:
            for tree in self.trees:
                tree.set_root(position)
            self.position = position
            self._merge()
            self.sims_done = int(self.nodes[0]["visits"])

    def visits_at(self, position: Position) -> int:
        return sum(tree.visits_at(position) for tree in self.trees)

    def replies_at(self, position: Position) -> dict[str, int]:
        out: dict[str, int] = {}
        for tree in self.trees:
            for move, visits in tree.replies_at(position).items():
                out[move] = out.get(move, 0) + visits
        return out

    def thread_visits(self) -> list[int]:
        """Real simulations through each tree's root."""
        return [int(tree.nodes[0]["visits"]) for tree in self.trees]

    def run(self, sims: int | None = None, seconds: float | None = None, should_stop=None) -> int:
        """Search.run on every tree at once, with the same bounds (sims shared out between them).
        Returns the simulations done by all."""
        if self.position is None:
            raise RuntimeError("set_root(position) first")
        if sims is None and seconds is None and should_stop is None:
            raise ValueError("give sims, seconds or should_stop")
        n = self.threads
        shares = [None] * n if sims is None else [sims // n + (k < sims % n) for k in range(n)]
        with self._lock:
            futures = [self._pool.submit(tree.run, share, seconds, should_stop)
                       for tree, share in zip(self.trees[1:], shares[1:]) if share is None or share > 0]
            done = self.trees[0].run(shares[0], seconds, should_stop) if shares[0] is None or shares[0] > 0 else 0
            done += sum(f.result() for f in futures)
            self._merge()
        self.sims_done += done
        return done

    # --- the merged root ---
    def _merge(self) -> None:
        """Rebuild `nodes`: the root's real visits and wins summed over the trees, and one child per move
        with visits, wins, n, w and AMAF summed (prior pseudo-counts of every tree included, so the
        prior weighs as much against the sum as against one tree). A superko-banned child (visits -1,
        the same in every tree: the root filter comes from the position) stays banned."""
        kids = [tree.children() for tree in self.trees]
        every = np.concatenate(kids)
        tree_of = np.repeat(np.arange(len(kids)), [len(k) for k in kids])
        moves, first, inverse = np.unique(every["move"], return_index=True, return_inverse=True)
        nodes = np.zeros(1 + len(moves), dtype=T.NODE)
        merged = nodes[1:]  # a view
        merged[:] = every[first]
        for field in ("visits", "wins", "n", "w", "amaf_n", "amaf_w"):
            merged[field] = 0
            np.add.at(merged[field], inverse, every[field])
        banned = np.zeros(len(moves), dtype=bool)
        np.logical_or.at(banned, inverse, every["visits"] < 0)
        merged["visits"][banned] = -1
        merged["parent"], merged["first_child"], merged["n_children"] = 0, -1, 0
        # the tree that visited each move most shows its principal variation
        order = np.lexsort((every["visits"], inverse))  # by move, then visits: the last of each move wins
        last_of_move = np.flatnonzero(np.diff(inverse[order], append=len(moves)) != 0)
        owner = tree_of[order[last_of_move]]
        root = nodes[0:1]
        root["parent"], root["move"] = -1, self.trees[0].nodes[0]["move"]
        root["visits"] = sum(int(t.nodes[0]["visits"]) for t in self.trees)
        root["wins"] = sum(float(t.nodes[0]["wins"]) for t in self.trees)
        root["first_child"], root["n_children"] = (1 if len(moves) else -1), len(moves)
        self.nodes, self._owner = nodes, owner

    def principal_variation(self, node: int, max_len: int = 12) -> list[str]:
        """The PV of the merged child `node`, read in the tree that visited its move most."""
        if node <= 0:
            return []
        tree = self.trees[int(self._owner[node - 1])]
        own = tree._child_with_move(0, int(self.nodes[node]["move"]))
        return tree.principal_variation(own, max_len)
