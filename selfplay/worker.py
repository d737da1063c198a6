"""`SelfPlayWorker`: AlphaGo Zero self-play, many games at once, their leaves batched into one net call.

AlphaGo Zero (Silver et al. 2017, Nature 550, "Self-play"; Methods "Self-play") plays each move after
a search from the current position with the best network, then picks

    a ~ pi_t = N(s_t, a)^(1/tau) / sum_b N(s_t, b)^(1/tau),  tau = 1 for the opening moves, then tau -> 0

(the most visited move), with Dirichlet noise P(s, a) = (1 - eps) p_a + eps eta_a, eta ~ Dir(alpha),
eps = 0.25, on the root's priors so every move can be tried. A player resigns when the root's and the
best child's values are below v_resign; resignation is disabled in 10% of games, and those games say how
often a resignation would have been wrong. KataGo's playout-cap randomisation (Wu 2019, "Accelerating
self-play learning in Go", sec. 3.1) is an option: a move gets the full search (with noise, recorded as a
policy target) with probability `full_search_prob`, otherwise a fast search of `fast_visits` without
noise that only moves the game on.

With `gumbel`, the root of every search is Gumbel AlphaZero's (Danihelka et al. 2022;
goengine/mcts/gumbel.py): `visits` (or `fast_visits`) is the simulation budget n of sequential halving over
m = `gumbel_m` Gumbel-sampled moves, the move played is the one it ends with (the Gumbel sample explores,
so there is no Dirichlet noise and no temperature), and a full search records the completed-Q policy
softmax(logits + sigma(completedQ)) as its target. Below the root the walk stays PUCT, each move's tree
is fresh (the root's first evaluation is v̂_pi of the mixed value), and fast searches of playout-cap
randomisation use Gumbel too, with the small budget, unrecorded as before.

With `score_utility` w > 0 (KataGo's score utility; a net with the auxiliary heads), the search backs up
the win probability mixed with the score head's margin (rl/alphago_zero/evaluator.py), so resignation
and the recorded root values read that utility too; the value target stays the game's result.

With `forced_playouts` k > 0 (KataGo: Wu 2019, sec. 3.2), a full search gives every root child c at least
n_forced(c) = sqrt(k P(c) N) visits, P noised, and records (and draws opening moves from) its visits less
the forced ones (goengine/mcts/forced.py): the forced visits explore without being played or learnt.

The worker is a plain class (no Ray import; orchestrator.py makes it remote). It keeps `parallel_games`
games in flight, each with its own `Search`; every round each game gathers `leaves_per_game` leaves
(Search.collect, with virtual loss), one `NetEvaluator` call evaluates them all, and each search takes
back its share (Search.apply). The forward pass runs in torch, or in ONNX Runtime in fp32 or static int8
(`inference`; rl/alphago_zero/ort_evaluator.py), whose session is rebuilt for each new weights version
before the next games start; or, with "server", in an inference server shared by many workers
(selfplay/inference.py: on a GPU), which the worker is handed and which holds the weights itself. A
game's randomness comes from its own seed, derived from (config seed, generation, game index), and the
batches depend only on which games a call plays: the same call replays the same games, whichever
process runs it, which is what lets a run resume exactly ("server" only nearly: a request merged with
other workers' into one pass can round differently, selfplay/inference.py; "ort-int8" only nearly too:
each version's int8 ranges are calibrated on the positions this worker evaluated under the previous
version).

The same worker plays AlphaGo Lee's policy-vs-policy games (no search), for its RL and value stages:
`play_policy_chunk` (rl/alphago_lee/reinforce.py). A worker started without Zero weights plays only those.
"""
from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from goengine import coords
from goengine.mcts.forced import pruned_visit_counts
from goengine.mcts.gumbel import GumbelConfig, GumbelRoot
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig
from goengine.position import Position
from rl.records import GameRecord, write_record
from selfplay.selfplay_config import SelfPlayConfig


def game_seed(seed: int, generation: int, index: int) -> int:
    """A game's 64-bit seed from the run's seed, its generation and its index in the generation."""
    return int(np.random.SeedSequence([seed, generation, index]).generate_state(1, np.uint64)[0])


@dataclass
class WorkerStats:
    games: int = 0
    moves: int = 0
    evaluations: int = 0
    seconds: float = 0.0
    net_seconds: float = 0.0
    """Of `seconds`, the time inside NetEvaluator (planes and forward passes); the rest is search."""
    session_builds: int = 0
    """ONNX Runtime sessions built for new weights (export, and for int8 calibration and quantization)."""
    session_build_seconds: float = 0.0
    """Wall time of those builds; not part of `seconds`."""


@dataclass
class _Game:
    """One game in flight."""

    index: int
    seed: int
    rng: np.random.Generator
    position: Position
    resign_disabled: bool
    moves: list = field(default_factory=list)
    targets: list = field(default_factory=list)
    full: list = field(default_factory=list)
    would_resign: str | None = None  # colour that would first have resigned (resign-disabled games)
    min_value: dict = field(default_factory=dict)  # colour -> lowest resignation value (resign-disabled games)
    target_visits: int = 0
    is_full: bool = True
    noise_pending: bool = False
    gumbel: GumbelRoot | None = None  # this move's Gumbel root search, once its root is evaluated


class SelfPlayWorker:
    def __init__(self, config: SelfPlayConfig, weights_state_dict, weights_version: int, worker_id: int = 0,
                 server=None):
        """`server`, for inference "server" only: what evaluates the planes, anything with
        `evaluate(planes_BCHW, legal_BA, version) -> (priors_BA, values_B)` (inference.ServerEvaluator);
        the weights then live there, and `weights_state_dict` may be None."""
        self.config = config
        self.worker_id = worker_id
        from nets.go.zero_resnet import ZeroResNet  # torch stays out of `import selfplay.worker` users' way
        from rl.alphago_zero.evaluator import NetEvaluator

        self.weights_version = -1
        self.stats = WorkerStats()
        if (server is not None) != (config.inference == "server"):
            raise ValueError('a server is given for inference "server", and only for it')
        if config.inference == "server":
            from selfplay.inference import ServerEvaluator

            self.model = None
            self.evaluator = ServerEvaluator(server, config.board_size)
            self.set_weights(weights_state_dict, weights_version)
        elif weights_state_dict is None:
            self.model = None  # no AlphaGo Zero net: this worker plays policy games only (play_policy_chunk)
        else:
            self.model = ZeroResNet(config.net_config())
            self.set_weights(weights_state_dict, weights_version)
        self._policy_nets: list = []  # AlphaGo Lee policy nets of play_policy_chunk, built once per config
        if self.model is None and config.inference != "server":
            self.evaluator = None
        elif config.inference == "torch":
            self.evaluator = NetEvaluator(self.model, config.board_size, batch_size=config.net_batch,
                                          score_utility=config.score_utility)
        elif config.inference in ("ort", "ort-int8"):
            from rl.alphago_zero.ort_evaluator import OrtEvaluator

            self.evaluator = OrtEvaluator(self.model, config.board_size,
                                          "int8" if config.inference == "ort-int8" else "fp32",
                                          batch_size=config.net_batch, seed=self._calibration_seed())
            self._count_build(self.evaluator.build_seconds)
        self.session_version = self.weights_version
        """Weights version the evaluator's ONNX Runtime session was built for (torch needs no build)."""
        self.search_config = SearchConfig(tree_nodes=config.tree_nodes(), c_puct=config.c_puct,
                                          fpu_reduction=config.fpu_reduction, batch_size=config.leaves_per_game)
        self.gumbel_config = GumbelConfig(m=config.gumbel_m)

    def set_weights(self, state_dict, version: int) -> None:
        """Load new weights (a no-op for the version already loaded). An ONNX Runtime session is rebuilt
        for them by prepare(), which the next play_games calls: the positions evaluated until then under
        the old weights are what int8 calibrates on."""
        if version == self.weights_version:
            return
        if self.model is None and self.config.inference != "server":
            raise ValueError("this worker was started without AlphaGo Zero weights; it plays policy games only")
        if self.model is not None:
            self.model.load_state_dict(state_dict)
            self.model.eval()
        else:  # the server holds the weights: only the version, which it checks on every request
            self.evaluator.version = version
        self.weights_version = version

    def set_server(self, server) -> None:
        """Send the planes to this server from now on (a restarted one)."""
        self.evaluator.client = server

    def prepare(self) -> None:
        """Build the ONNX Runtime session for the loaded weights, if it is not built yet."""
        if self.evaluator is None:
            raise ValueError("this worker was started without AlphaGo Zero weights; it plays policy games only")
        if self.config.inference in ("ort", "ort-int8") and self.session_version != self.weights_version:
            self._count_build(self.evaluator.load(self.model, seed=self._calibration_seed()))
            self.session_version = self.weights_version

    def _calibration_seed(self) -> int:
        # random calibration games depend on the version only, like the games' own seeds
        return game_seed(self.config.seed, self.weights_version, 2**40 + 1)

    def _count_build(self, seconds: float) -> None:
        self.stats.session_builds += 1
        self.stats.session_build_seconds += seconds

    def play_policy_chunk(self, setup, weights: list, plans: list) -> tuple[list, WorkerStats]:
        """Policy-vs-policy games without search (AlphaGo Lee's RL and value stages): one game per
        `rl.alphago_lee.reinforce.GamePlan`, nets given as state dicts of the Lee policy `setup.net`
        describes, all games batched into one forward pass per net (reinforce.play_policy_games)."""
        import torch

        from nets.go.lee import LeeConfig, LeePolicy
        from rl.alphago_lee.reinforce import play_policy_games

        start = time.perf_counter()
        config = LeeConfig(**setup.net)
        if len(self._policy_nets) < len(weights) or self._policy_nets[0].config != config:
            self._policy_nets = [LeePolicy(config) for _ in weights]
        with torch.no_grad():
            for net, state_dict in zip(self._policy_nets, weights):
                net.load_state_dict(state_dict)
                net.eval()
        games = play_policy_games(self._policy_nets, plans, setup)
        seconds = time.perf_counter() - start
        moves = sum(len(g.moves) for g in games)
        self.stats.games += len(games)
        self.stats.moves += moves
        self.stats.seconds += seconds
        return games, WorkerStats(games=len(games), moves=moves, seconds=seconds)

    def pid(self) -> int:
        return os.getpid()

    # --- games ---
    def _new_game(self, generation: int, index: int) -> _Game:
        c = self.config
        seed = game_seed(c.seed, generation, index)
        rng = np.random.default_rng(seed)
        disabled = c.resign_threshold <= 0 or rng.random() < c.resign_disabled_fraction
        return _Game(index, seed, rng, Position(c.board_size, c.komi, c.rules), disabled)

    def _start_move(self, game: _Game, search: Search) -> None:
        c = self.config
        game.is_full = c.fast_visits <= 0 or game.rng.random() < c.full_search_prob
        game.target_visits = c.visits if game.is_full else c.fast_visits
        if not c.reuse_tree or c.gumbel:
            search.position = None  # set_root then builds a new tree
        search.set_root(game.position)
        game.noise_pending = game.is_full and c.noise_weight > 0 and not c.gumbel
        search.set_forced_playouts(c.forced_playouts if game.is_full else 0.0)
        game.gumbel = None
        self._maybe_noise(game, search)

    def _collect(self, game: _Game, search: Search):
        """This round's leaves of a game's search: with Gumbel, the root children its sequential halving
        chose for them (once the root is evaluated)."""
        if game.gumbel is None:
            return search.collect(self.config.leaves_per_game)
        k = min(self.config.leaves_per_game, game.gumbel.remaining)
        return search.collect(k, root_children=game.gumbel.next_children(k))

    def _maybe_gumbel(self, game: _Game, search: Search) -> None:
        if self.config.gumbel and game.gumbel is None and int(search.nodes[0]["first_child"]) >= 0:
            # a fresh root just evaluated once: its win rate is the net's own value, v̂_pi
            game.gumbel = GumbelRoot(search, game.target_visits, game.rng, self.gumbel_config,
                                     raw_value=search.root_winrate())

    def _maybe_noise(self, game: _Game, search: Search) -> None:
        if game.noise_pending and int(search.nodes[0]["first_child"]) >= 0:
            search.add_dirichlet_noise(self.config.alpha(), self.config.noise_weight, game.rng)
            game.noise_pending = False

    def _search_done(self, search: Search, game: _Game) -> bool:
        if self.config.gumbel:
            return game.gumbel is not None and game.gumbel.remaining == 0
        # a new root needs at least one evaluation of its own before it has children to choose from
        return int(search.nodes[0]["visits"]) >= game.target_visits and int(search.nodes[0]["first_child"]) >= 0

    def _play_move(self, game: _Game, search: Search) -> str | None:
        """Choose and play a move; returns the colour that resigned, if one did."""
        c = self.config
        size = c.board_size
        counts = pruned_visit_counts(search) if game.is_full else search.visit_counts()
        total = float(counts.sum())
        mover = game.position.to_play
        pass_action = size * size
        if game.gumbel is not None:
            # sequential halving's move; chosen_child() plays on instead of a pass that loses by the count
            action = coords.point_to_action(int(search.nodes[search.chosen_child(game.gumbel.chosen_child())]["move"]),
                                            size)
        else:
            action = -1
            if len(game.moves) < c.opening_moves() and total > 0:
                action = int(game.rng.choice(len(counts), p=counts / total))
            if action < 0 or (action == pass_action and search.passing_loses()):
                # chosen_child() plays on instead of a pass that loses by the count as the board stands
                action = coords.point_to_action(int(search.nodes[search.chosen_child()]["move"]), size)
        if game.is_full and (c.resign_threshold > 0 or game.resign_disabled):
            value = max(search.winrate(search.best_child()), search.root_winrate())
            if game.resign_disabled:
                game.min_value[mover] = min(value, game.min_value.get(mover, 1.0))
            if value < c.resign_threshold:
                if not game.resign_disabled:
                    return mover
                if game.would_resign is None:
                    game.would_resign = mover
        game.moves.append(action)
        if game.is_full and total > 0:
            game.targets.append(game.gumbel.policy_target() if game.gumbel is not None else counts / total)
        else:
            game.targets.append(np.zeros_like(counts))
        game.full.append(game.is_full and total > 0)
        game.position = game.position.play(coords.action_to_gtp(action, size))
        return None

    def _finish(self, game: _Game, generation: int, resigned_colour: str | None) -> GameRecord:
        c = self.config
        if resigned_colour is not None:
            result = -1.0 if resigned_colour == "b" else 1.0
        else:
            score = game.position.score()
            result = float(np.sign(score))
        winner = "b" if result > 0 else "w" if result < 0 else None
        false_resign = None
        if game.resign_disabled and game.would_resign is not None:
            false_resign = winner == game.would_resign
        actions = c.board_size ** 2 + 1
        return GameRecord(
            board_size=c.board_size, komi=c.komi, rules=c.rules,
            moves=np.array(game.moves, dtype=np.int16),
            policy_targets=np.array(game.targets, dtype=np.float32).reshape(len(game.moves), actions),  # (T, A)
            full_search=np.array(game.full, dtype=bool), result=result, generation=generation, seed=game.seed,
            resign_disabled=game.resign_disabled, resigned=resigned_colour is not None,
            false_resign=false_resign, weights_version=self.weights_version,
            winner_min_value=float(game.min_value.get(winner, np.nan)) if game.resign_disabled else float("nan"),
        )

    def play_games(self, n: int, *, generation: int = 0, first_game: int = 0,
                   on_game: Callable[[GameRecord], None] | None = None) -> list[GameRecord]:
        """Play games first_game .. first_game + n - 1 of `generation`, `parallel_games` at a time, and
        return their records in the order they finished (on_game, if given, gets each as it finishes)."""
        from rl.alphago_zero.evaluator import concat_batches

        c = self.config
        self.prepare()
        start = time.perf_counter()
        queue = list(range(first_game, first_game + n))
        searches = [Search(self.evaluator, self.search_config) for _ in range(min(c.parallel_games, n))]
        slots: list[_Game | None] = [None] * len(searches)
        done: list[GameRecord] = []
        for i, search in enumerate(searches):
            slots[i] = self._new_game(generation, queue.pop(0))
            search.position = None
            self._start_move(slots[i], search)
        while any(g is not None for g in slots):
            active = [i for i, g in enumerate(slots) if g is not None]
            pending = [self._collect(slots[i], searches[i]) for i in active]
            batch = concat_batches([p.batch for p in pending])
            net_start = time.perf_counter()
            priors_BA, values_B = self.evaluator.evaluate(batch)
            self.stats.net_seconds += time.perf_counter() - net_start
            self.stats.evaluations += len(values_B)
            lo = 0
            for i, p in zip(active, pending):
                game, search = slots[i], searches[i]
                hi = lo + len(p.leaf_nodes)
                search.apply(p, priors_BA[lo:hi], values_B[lo:hi])
                lo = hi
                self._maybe_noise(game, search)
                self._maybe_gumbel(game, search)
                if not self._search_done(search, game):
                    continue
                resigned = self._play_move(game, search)
                self.stats.moves += 1
                if resigned is None and not game.position.is_over and len(game.moves) < c.move_cap():
                    self._start_move(game, search)
                    continue
                record = self._finish(game, generation, resigned)
                done.append(record)
                self.stats.games += 1
                if on_game is not None:
                    on_game(record)
                slots[i] = None
                if queue:
                    slots[i] = self._new_game(generation, queue.pop(0))
                    search.position = None
                    self._start_move(slots[i], search)
        self.stats.seconds += time.perf_counter() - start
        return done

    def play_chunk(self, generation: int, first_game: int, count: int,
                   resign_threshold: float | None = None) -> tuple[list[GameRecord], WorkerStats]:
        """play_games for an orchestrator: the records and this call's share of the stats. A
        `resign_threshold` replaces the config's from these games on (the run's automatic v_resign)."""
        if resign_threshold is not None and resign_threshold != self.config.resign_threshold:
            self.config = dataclasses.replace(self.config, resign_threshold=resign_threshold)
        before = dataclasses.replace(self.stats)
        records = self.play_games(count, generation=generation, first_game=first_game)
        delta = WorkerStats(**{f.name: getattr(self.stats, f.name) - getattr(before, f.name)
                               for f in dataclasses.fields(WorkerStats)})
        return records, delta

    def run(self, out_dir: str, n_games: int, *, generation: int = 0, first_game: int = 0) -> list[str]:
        """Play n_games and write each record to out_dir the moment it finishes; returns the paths."""
        paths: list[str] = []
        self.play_games(n_games, generation=generation, first_game=first_game,
                        on_game=lambda record: paths.append(write_record(out_dir, record)))
        return paths
