"""`Search`: one tree, three modes (rollouts with UCT-RAVE; PUCT with batched priors and values; AlphaGo
Lee's mix), chosen by the evaluator's `kind` (evaluators.py). The tree is numpy (NODE in _tree.py) and
walked by numba; Python only loops over kernel calls, checks the clock and talks to batch evaluators.

Tree reuse: `set_root(position)` keeps the subtree of the moves played since the last root.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from goengine import _kernels as K
from goengine import coords
from goengine.board import rng_state
from goengine.mcts import _tree as T
from goengine.mcts._playout import playout
from goengine.mcts.evaluators import LeafBatch, RolloutEvaluator
from goengine.mcts.patterns import pattern_table
from goengine.mcts.search_config import POLICY_SCAN_S, SearchConfig
from goengine.players import AnalysisMove
from goengine.position import IllegalMove, Position


@dataclass
class PendingLeaves:
    """Leaves gathered by Search.collect, waiting for their evaluation."""

    batch: LeafBatch
    leaf_nodes: np.ndarray  # int32 (B,)
    paths: np.ndarray  # int32 (B, max_path): node ids from the root
    path_lens: np.ndarray  # int32 (B,)
    terminal: np.ndarray  # float64 (B,): area score of finished games, NaN otherwise


_NO_SPEC = np.zeros((0, 0), dtype=np.int64)  # placeholders when the playouts are not AlphaGo's p_pi
_NO_WEIGHTS = np.zeros(0, dtype=np.float64)
_NO_CHILDREN = np.zeros(0, dtype=np.int32)  # collect(): no root child forced, PUCT chooses


class RootView:
    """What a finished search says about its root: the move to play, win rates, candidates for
    analysis. Reads `nodes` (children of node 0 are the root's moves), `position` and `mode`; Search
    reads its own tree, ParallelSearch (parallel.py) a root merged from several trees."""

    nodes: np.ndarray
    position: Position | None
    mode: int

    def children(self) -> np.ndarray:
        first, count = int(self.nodes[0]["first_child"]), int(self.nodes[0]["n_children"])
        return self.nodes[first:first + count] if first >= 0 else self.nodes[0:0]

    def child_actions(self) -> np.ndarray:
        """The action index (N*N + 1, pass last) of each root child, in children() order."""
        size = self.position.size
        moves = self.children()["move"]
        action_of_point = self.position._board.geo.action_of_point
        return np.where(moves == coords.PASS, size * size, action_of_point[moves])  # PASS is point 0, a wall

    def visit_counts(self) -> np.ndarray:
        """Real visits per action index (N*N + 1, pass last), for training targets."""
        size = self.position.size
        visits = self.children()["visits"]
        actions = self.child_actions()
        out = np.zeros(size * size + 1, dtype=np.float32)
        out[actions[visits > 0]] = visits[visits > 0]
        return out

    def best_child(self) -> int | None:
        kids = self.children()
        if len(kids) == 0:
            return None
        first = int(self.nodes[0]["first_child"])
        # most real visits; ties broken by value
        order = np.lexsort((kids["w"] / np.maximum(kids["n"], 1), kids["visits"]))
        return first + int(order[-1])

    def chosen_child(self, best: int | None = None) -> int | None:
        """The move to play: `best` (default best_child(); a root search of the caller's own, such as
        Gumbel's sequential halving in gumbel.py, may have chosen another), except that a pass which
        loses by the count of the board as it stands gives way to the most visited move that fills no
        eye-like point of the mover's own (Leela Zero's rule when it does not play "dumbpass"). The
        opponent could answer such a pass with a pass and win by Tromp-Taylor scoring, so it is never
        better than playing on; the search alone misses that when its visits barely exceed the moves (a
        fast self-play search of 24 visits over 82 moves plays the prior's top move, and a random net's
        top move was often the pass: on 9x9, Black passed at move 6-16 and White's pass ended the game).
        Passes when nothing else is left."""
        if best is None:
            best = self.best_child()
        if best is None or int(self.nodes[best]["move"]) != coords.PASS or not self.passing_loses():
            return best
        play = self._best_play()
        return best if play is None else play

    def passing_loses(self) -> bool:
        """Would the side to move lose (or draw) if the game ended now, by Tromp-Taylor area scoring?"""
        pos = self.position
        return pos.score() * (1 if pos.to_play == "b" else -1) <= 0

    def _best_play(self) -> int | None:
        """The most visited root child (then the highest prior) that is neither a pass, nor illegal by
        superko, nor a fill of an eye-like point of the mover's own."""
        b, g = self.position._board, self.position._board.geo
        colour = K.BLACK if self.position.to_play == "b" else K.WHITE
        first = int(self.nodes[0]["first_child"])
        pick, key = None, None
        for i, child in enumerate(self.children()):
            m = int(child["move"])
            if m == coords.PASS or child["visits"] < 0 or K.is_eye(b.s, g.neighbours, g.diagonals, m, colour):
                continue
            k = (int(child["visits"]), float(child["prior"]))
            if key is None or k > key:
                pick, key = first + i, k
        return pick

    def winrate(self, node: int) -> float:
        """Mean result of the real simulations through `node`, for the player who made its move."""
        visits = int(self.nodes[node]["visits"])
        return float(self.nodes[node]["wins"]) / visits if visits > 0 else 0.5

    def root_winrate(self) -> float:
        """Mean result of every simulation so far, for the side to move at the root."""
        return 1.0 - self.winrate(0) if int(self.nodes[0]["visits"]) > 0 else 0.5

    def principal_variation(self, node: int, max_len: int = 12) -> list[str]:
        size = self.position.size
        pv = [coords.point_to_gtp(int(self.nodes[node]["move"]), size)]
        while len(pv) < max_len:
            first, count = int(self.nodes[node]["first_child"]), int(self.nodes[node]["n_children"])
            if first < 0:
                break
            kids = self.nodes[first:first + count]
            best = int(np.argmax(kids["visits"]))
            if kids[best]["visits"] <= 0:
                break
            node = first + best
            pv.append(coords.point_to_gtp(int(self.nodes[node]["move"]), size))
        return pv

    def analysis(self, max_moves: int = 20) -> list[AnalysisMove]:
        """Candidates with at least one visit, most visited first, in lz-analyze terms."""
        first = int(self.nodes[0]["first_child"])
        out = []
        for i, child in enumerate(self.children()):
            visits = int(child["visits"])
            if visits <= 0:
                continue
            q = self.winrate(first + i)
            lcb = max(0.0, q - 1.96 * np.sqrt(max(q * (1 - q), 1e-4) / visits))
            prior = float(child["prior"]) if self.mode == T.MODE_PUCT else float(child["n"] - visits) / max(
                float(child["n"]), 1.0)
            out.append(AnalysisMove(coords.point_to_gtp(int(child["move"]), self.position.size), visits, q, prior,
                                    lcb, self.principal_variation(first + i)))
        out.sort(key=lambda m: (-m.visits, -m.winrate))
        return out[:max_moves]


class Search(RootView):
    def __init__(self, evaluator=None, config: SearchConfig = SearchConfig(), policy=None):
        """`policy`, a callable Position -> move probabilities (N² points, then pass) or None, gives the
        rollout tree a net's priors (`gtp --root-policy W`): at each root, and at every node that reaches
        config.prior_policy_visits real visits when that is not 0."""
        self.evaluator = evaluator if evaluator is not None else RolloutEvaluator()
        self.policy = policy
        self.komi_offset = 0.0
        """Points added to the position's komi in the playouts' results (rollout mode): dynamic komi, set by
        the player for each move (PlayerConfig.dynkomi_moves)."""
        self._policy_given: set = set()  # positions (move sequences) whose children have the priors
        self._policy_nodes_seen: set = set()  # node ids of this tree's numbering looked at already
        self._policy_checked_at = 0.0
        self.config = config
        self.mode = T.MODE_RAVE if self.evaluator.kind == "rollout" else T.MODE_PUCT
        self.params = config.params(self.mode)
        self.nodes = np.zeros(config.tree_nodes, dtype=T.NODE)
        self._spare = np.zeros(config.tree_nodes, dtype=T.NODE)  # target of compaction on reuse
        self.tree_meta = np.zeros(1, dtype=np.int64)
        self.rng = rng_state(config.seed)
        self.pattern = pattern_table()
        self.position: Position | None = None
        self.sims_done = 0
        self._root_filter = np.zeros(0, dtype=np.int8)
        self._history: np.ndarray | None = None

    # --- root handling and reuse ---
    def _new_tree(self) -> None:
        T.reset_node(self.nodes, 0, -1, coords.PASS)
        self.tree_meta[T.USED] = 1

    def set_root(self, position: Position) -> None:
        """Search from `position`, keeping the subtree of any moves played since the previous root."""
        node = self.node_of(position)
        if node > 0:
            if T.compact(self.nodes, self.tree_meta, node, self._spare) < 0:
                node = -1
            else:
                self.nodes, self._spare = self._spare, self.nodes
        if node < 0:
            self._new_tree()
        self.position = position
        self._history = None
        g = position._board.geo
        # superko and suicide legality at the root come from the Position; deeper nodes use simple ko
        mask = position.legal_mask()
        self._root_filter = np.zeros(g.n_points, dtype=np.int8)
        self._root_filter[g.on_board[mask[:-1] == 1]] = 1
        self._ban_illegal_root_children()
        self.sims_done = int(self.nodes[0]["visits"])
        if self.policy is not None:
            if self.mode != T.MODE_RAVE:
                raise ValueError("policy priors are for the rollout search; a net search has its own priors")
            if node < 0:
                self._policy_given = set()  # a new tree: what was given went with the old one
            self._policy_nodes_seen = {0}
            self._give_policy(0)

    def node_of(self, position: Position) -> int:
        """The node of `position` in this tree (the root or a descendant by the moves played since), or -1."""
        old = self.position
        if (old is None or old.size != position.size or old.komi != position.komi
                or len(position.history) < len(old.history)
                or position.history[:len(old.history)] != old.history
                or not np.array_equal(self._root_colours(old), self._root_colours_after(old, position))):
            return -1
        node = 0
        for colour, vertex in position.history[len(old.history):]:
            node = self._child_with_move(node, coords.gtp_to_point(vertex, position.size))
            if node < 0:
                return -1
        return node

    def visits_at(self, position: Position) -> int:
        """Real simulations this tree already holds for `position` (0 when it is not in the tree): what a
        search from it would keep."""
        node = self.node_of(position)
        return max(int(self.nodes[node]["visits"]), 0) if node >= 0 else 0

    def replies_at(self, position: Position) -> dict[str, int]:
        """Real visits of each move from `position` in this tree (empty when it is not in the tree or
        not expanded), by GTP vertex."""
        node = self.node_of(position)
        if node < 0 or int(self.nodes[node]["first_child"]) < 0:
            return {}
        first, count = int(self.nodes[node]["first_child"]), int(self.nodes[node]["n_children"])
        kids = self.nodes[first:first + count]
        return {coords.point_to_gtp(int(m), position.size): int(v) for m, v in zip(kids["move"], kids["visits"])
                if v > 0}

    @staticmethod
    def _root_colours(pos: Position) -> np.ndarray:
        return pos.board_array()

    @staticmethod
    def _root_colours_after(old: Position, new: Position) -> np.ndarray:
        # the position the new one descends from, len(old.history) moves in (setup changes are caught here)
        pos = new
        for _ in range(len(new.history) - len(old.history)):
            pos = pos.previous
            if pos is None:
                return np.full((new.size, new.size), -1, np.int8)
        return pos.board_array()

    def _child_with_move(self, node: int, move: int) -> int:
        first, count = int(self.nodes[node]["first_child"]), int(self.nodes[node]["n_children"])
        if first < 0:
            return -1
        found = np.flatnonzero(self.nodes["move"][first:first + count] == move)
        return first + int(found[0]) if len(found) else -1

    def _ban_illegal_root_children(self) -> None:
        first, count = int(self.nodes[0]["first_child"]), int(self.nodes[0]["n_children"])
        if first < 0:
            return
        kids = self.nodes[first:first + count]  # a view: the assignments below write the tree
        moves = kids["move"]
        illegal = (moves != coords.PASS) & (self._root_filter[moves] == 0)  # PASS is point 0, a wall
        kids["n"][illegal] += 1e9  # a superko-illegal child: never chosen, never best by visits
        kids["visits"][illegal] = -1

    # --- a policy's priors in the rollout tree ---
    def _give_policy(self, node: int) -> bool:
        """Once per position: the policy's priors for the children of `node` (the root, or a node that has
        reached config.prior_policy_visits), as config.prior_policy * P(a) pseudo-wins. The position is
        keyed by its moves from the game's start, so a node that becomes the root by tree reuse does not get
        them twice; False if nothing was added (given before, a path the Position's superko rule forbids, no
        priors for this board)."""
        path = []
        q = node
        while q > 0:
            path.append(int(self.nodes[q]["move"]))
            q = int(self.nodes[q]["parent"])
        path.reverse()
        position = self.position
        try:
            for move in path:
                position = position.play("pass" if move == coords.PASS else coords.point_to_gtp(move, position.size))
        except IllegalMove:
            return False
        key = tuple(position.history)  # the same when a later root reaches this position by tree reuse
        if key in self._policy_given:
            return False
        self._policy_given.add(key)
        priors = self.policy(position)
        if priors is None:
            return False
        if node == 0 and int(self.nodes[0]["first_child"]) < 0:
            self.sims_done += self._step(1)  # the first simulation expands the root
        self.add_policy(node, priors)
        return True

    def add_policy(self, node: int, priors_A: np.ndarray) -> None:
        """Give each child of `node` (expanded) config.prior_policy * P(a) pseudo-wins from a policy over the
        node's actions (N² points, then pass)."""
        if self.mode != T.MODE_RAVE:
            raise ValueError("policy priors are for the rollout search; a net search has its own priors")
        first, count = int(self.nodes[node]["first_child"]), int(self.nodes[node]["n_children"])
        if first < 0:
            return
        g = self.position._board.geo
        kids = self.nodes[first:first + count]  # a view: the assignments below write the tree
        moves = kids["move"]
        actions = np.where(moves == coords.PASS, g.size * g.size, g.action_of_point[moves])
        pseudo = self.config.prior_policy * np.asarray(priors_A, dtype=np.float64)[actions]
        kids["n"] += pseudo
        kids["w"] += pseudo

    def _give_policy_to_busy_nodes(self, deadline: float | None = None) -> None:
        """The policy's priors for every node with config.prior_policy_visits real visits or more, the busiest
        first, until `deadline` (perf_counter seconds; the rest wait for the next scan): one net call each,
        so a scan that finds many must not run past the move's time."""
        used = int(self.tree_meta[T.USED])
        nodes = self.nodes[:used]
        busy = np.flatnonzero((nodes["visits"] >= self.config.prior_policy_visits) & (nodes["first_child"] >= 0))
        for node in busy[np.argsort(-nodes["visits"][busy], kind="stable")]:
            if deadline is not None and time.perf_counter() >= deadline:
                return
            if int(node) not in self._policy_nodes_seen:  # node ids hold until set_root compacts the tree
                self._policy_nodes_seen.add(int(node))
                self._give_policy(int(node))

    # --- running ---
    def run(self, sims: int | None = None, seconds: float | None = None, should_stop=None) -> int:
        """Search until `sims` more simulations, `seconds` elapsed or should_stop() is true (whichever
        comes first; at least one bound must be given). Returns the simulations done."""
        if self.position is None:
            raise RuntimeError("set_root(position) first")
        if sims is None and seconds is None and should_stop is None:
            raise ValueError("give sims, seconds or should_stop")
        deadline = None if seconds is None else time.perf_counter() + seconds
        done = 0
        chunk = 64 if self.mode == T.MODE_RAVE else self.config.batch_size
        while True:
            want = chunk if sims is None else min(chunk, sims - done)
            if want <= 0:
                break
            done += self._step(want)
            if self.policy is not None and self.config.prior_policy_visits > 0:
                now = time.perf_counter()
                if now - self._policy_checked_at >= POLICY_SCAN_S:
                    self._policy_checked_at = now
                    self._give_policy_to_busy_nodes(deadline)
            if deadline is not None and time.perf_counter() >= deadline:
                break
            if should_stop is not None and should_stop():
                break
        self.sims_done += done
        return done

    def _step(self, n: int) -> int:
        pos = self.position
        b, g = pos._board, pos._board.geo
        max_moves = self.config.max_playout_moves or 3 * g.size * g.size
        if self.mode == T.MODE_RAVE:
            policy, spec, expw = self._playout_policy()
            return int(T.rollout_search(self.nodes, self.tree_meta, 0, b.s, b.meta, g.neighbours, g.diagonals,
                                        g.zobrist, g.on_board, g.width, self.pattern, self.rng, n, max_moves,
                                        pos.komi + self.komi_offset, self.params, policy, spec, expw,
                                        self._root_filter))
        return self._batch_step(n, max_moves)

    def _batch_step(self, n: int, max_moves: int) -> int:
        pending = self.collect(n)
        priors, values = self.evaluator.evaluate(pending.batch)
        return self.apply(pending, priors, values)

    def collect(self, n: int, root_children: np.ndarray | None = None) -> "PendingLeaves":
        """Gather n leaves with virtual loss for a batch evaluator. Callers that batch several trees
        (a self-play worker running many games) evaluate the batches of all trees at once and hand each
        tree its share through apply(). `root_children`, node ids of root children (one per leaf, n is
        then their count), sends walk b through root_children[b] instead of the PUCT choice at the root:
        a root search of the caller's own (Gumbel's sequential halving, gumbel.py) chose them."""
        pos = self.position
        b, g = pos._board, pos._board.geo
        forced = _NO_CHILDREN
        if root_children is not None:
            forced = np.ascontiguousarray(root_children, dtype=np.int32)
            first, count = int(self.nodes[0]["first_child"]), int(self.nodes[0]["n_children"])
            if first < 0 or len(forced) == 0 or forced.min() < first or forced.max() >= first + count:
                raise ValueError("root_children must be children of an expanded root")
            n = len(forced)
        if int(self.nodes[0]["first_child"]) < 0:
            n = 1  # an unexpanded root: every walk would stop at it, so evaluate it alone first
        root_history = self._root_history()
        leaf_s = np.empty((n, K.N_ROWS, g.n_points), dtype=np.int32)
        leaf_meta = np.empty((n, K.META_LEN), dtype=np.int64)
        leaf_history = np.empty((n, root_history.shape[0], g.n_points), dtype=np.int32)
        legal = np.empty((n, g.size * g.size + 1), dtype=np.int8)
        leaf_nodes = np.empty(n, dtype=np.int32)
        paths = np.empty((n, 4 * g.n_points), dtype=np.int32)
        path_lens = np.empty(n, dtype=np.int32)
        terminal = np.empty(n, dtype=np.float64)
        count = T.collect_leaves(self.nodes, 0, b.s, b.meta, root_history, g.neighbours, g.zobrist, g.on_board,
                                 n, self.config.virtual_loss, self.params, leaf_s, leaf_meta, leaf_history, legal,
                                 leaf_nodes, paths, path_lens, terminal, forced)
        batch = LeafBatch(size=g.size, boards=leaf_s[:count], metas=leaf_meta[:count],
                          history=leaf_history[:count], to_play=leaf_meta[:count, K.TO_PLAY].astype(np.int8),
                          legal=legal[:count])
        return PendingLeaves(batch, leaf_nodes[:count], paths[:count], path_lens[:count], terminal[:count])

    def _playout_policy(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(policy code, pattern spec, exp weights) of the evaluator's playouts, for the kernels."""
        policy = getattr(self.evaluator, "policy", None)
        if policy is not None:
            return T.POLICY_LEE, policy.spec, policy.expw
        code = T.POLICY_HEAVY if self.evaluator.heavy else T.POLICY_LIGHT
        return code, _NO_SPEC, _NO_WEIGHTS

    def _root_history(self) -> np.ndarray:
        """Colours of the root and its predecessors on the padded board, newest first (cached per root)."""
        if self._history is None:
            pos, g = self.position, self.position._board.geo
            h = getattr(self.evaluator, "history_length", 1)
            self._history = np.zeros((h, g.n_points), dtype=np.int32)
            for k, arr in enumerate(pos.recent_boards(h)):
                self._history[k, g.on_board] = arr.reshape(-1)
        return self._history

    def apply(self, pending: "PendingLeaves", priors_BA: np.ndarray, values_B: np.ndarray) -> int:
        """Expand the pending leaves with the evaluator's priors and back up its values (win
        probabilities of the side to move at each leaf). Returns the number of leaves applied."""
        pos = self.position
        g = pos._board.geo
        batch = pending.batch
        values = np.asarray(values_B, dtype=np.float64)
        if self.evaluator.kind == "mixed":
            max_moves = self.config.max_playout_moves or 3 * g.size * g.size
            lam = self.evaluator.lam
            policy, spec, expw = self._playout_policy()
            z = T.leaf_rollouts(batch.boards, batch.metas, g.neighbours, g.diagonals, g.zobrist, g.on_board,
                                g.width, self.pattern, self.rng, max_moves, policy, spec, expw, pos.komi)
            values = (1.0 - lam) * values + lam * z
        T.apply_leaves(self.nodes, self.tree_meta, pending.leaf_nodes, batch.metas, batch.legal, g.on_board,
                       np.asarray(priors_BA, dtype=np.float32), values, pending.terminal, float(pos.komi),
                       pending.paths, pending.path_lens, self.config.virtual_loss, self._root_filter)
        return len(pending.leaf_nodes)

    def set_forced_playouts(self, k: float) -> None:
        """Forced playouts (SearchConfig.forced_playouts) for the searches from now on: self-play gives
        them to its full searches only, the ones with noise whose visits become targets, pruned
        (forced.pruned_visit_counts)."""
        self.params[T.FORCED_K] = k

    def add_dirichlet_noise(self, alpha: float, weight: float, rng: np.random.Generator) -> None:
        """AlphaGo Zero's root noise: P = (1 - weight) P + weight Dir(alpha), on the expanded root."""
        first, count = int(self.nodes[0]["first_child"]), int(self.nodes[0]["n_children"])
        if first < 0:
            return
        noise = rng.dirichlet([alpha] * count)
        children = self.nodes[first:first + count]
        children["prior"] = (1 - weight) * children["prior"] + weight * noise


def playout_score(position: Position, seed: int = 0, heavy: bool = True) -> int:
    """One playout from `position` (a convenience for tests): the final area score without komi."""
    b = position.board
    g = b.geo
    moves = np.empty(3 * g.size * g.size + 1, dtype=np.int32)
    score, _ = playout(b.s, b.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board, g.width, pattern_table(),
                       rng_state(seed), 3 * g.size * g.size, heavy, moves, 0)
    return int(score)
