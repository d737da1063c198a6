"""AlphaGo Lee's RL stage: REINFORCE of the policy net against a pool of its earlier snapshots (Silver et
al. 2016, Methods "Reinforcement learning of policy networks"), and the batched policy-vs-policy games it
and the value stage (value.py) are made of.

The paper, in its symbols: the RL policy p_ρ starts as the SL policy (ρ = σ). Each iteration plays a
mini-batch of n games between the current p_ρ and an opponent p_ρ- drawn at random from a pool of earlier
iterations (a snapshot added every `snapshot_every` iterations), every move sampled a_t ~ p(·|s_t); at the
end z_t = ±1 for the player to move at t, and

    Δρ = α/n Σ_i Σ_t ∇_ρ log p_ρ(a_t^i | s_t^i) (z_t^i - b(s_t^i))

over the learner's moves only; b is 0 or (optional) a baseline. The paper's RL net won more than 80% of
its games against the SL net (sampling both, no search).

Choices where the paper is silent, or where 9x9 differs:
  - Moves are sampled among the "sensible" points (plane 46 of the Lee features: legal and not filling an
    own eye), so games end: the Lee policy has no pass output, and a side with no sensible point passes.
    log p is over that same set (the policy actually played), so the gradient is REINFORCE's.
  - A game ends on two passes or at `max_moves` (default 2 N²), scored by Tromp-Taylor area with komi
    (7.5 by default: no draws). The learner plays Black in half the games of each iteration.
  - baseline "mean": b = the mean reward of the iteration's learner moves (a constant per mini-batch),
    the simplest variance reduction; the paper's second pass used the value net.

Games are seeded one by one (`GamePlan.seed`) and batched across games: every round each unfinished game
computes its planes (goengine.features.extract, the one feature function) and one forward pass per net
serves all games that net moves in. selfplay/worker.py runs `play_policy_games` on Ray actors.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from goengine import checks, coords
from goengine.features import extract
from goengine.position import Position
from goengine.rules import rules_from

SENSIBLE_PLANE = 46
"""Plane of the Lee features that is 1 on legal moves that fill no own eye (goengine/features)."""
POLICY_PLANES = 48
RANDOM = -1
"""`GamePlan` mover meaning "a uniformly random legal move" (the value stage's move U)."""


@dataclass(frozen=True)
class GameSetup:
    """The rules of a batch of policy games, and what they keep for training."""

    board_size: int = 9
    komi: float = 7.5
    rules: str = "chinese"
    max_moves: int | None = None
    """Game length cap, then scored by area; None: 2 N²."""
    temperature: float = 1.0
    """Moves are sampled from softmax(logits / temperature) over the sensible points."""
    keep: str = "none"
    """"learner": planes and moves of net 0's sampled moves (REINFORCE); "all": planes of the position
    before every move (the value stage); "none"."""
    net: dict = field(default_factory=dict)
    """The policy nets' config (nets.go.lee.LeeConfig as a dict): every net of a batch shares it."""

    def __post_init__(self) -> None:
        checks.integer("board_size", self.board_size, coords.MIN_SIZE, coords.MAX_SIZE)
        checks.number("komi", self.komi)
        rules_from(self.rules)
        if self.max_moves is not None:
            checks.integer("max_moves", self.max_moves, 1)
        checks.number("temperature", self.temperature, 0, low_open=True)
        if self.keep not in ("none", "learner", "all"):
            raise ValueError(f"keep must be none, learner or all, not {self.keep!r}")

    def move_cap(self) -> int:
        return self.max_moves if self.max_moves is not None else 2 * self.board_size ** 2


@dataclass(frozen=True)
class GamePlan:
    """Who moves in one game: net `black` for Black, `white` for White; at move `random_move` (0-based;
    -1: never) a uniformly random legal move, and after it net `then` for both sides (-1: as before)."""

    black: int
    white: int
    seed: int
    random_move: int = -1
    then: int = -1

    def mover(self, t: int, colour: str) -> int:
        if t == self.random_move:
            return RANDOM
        if self.then >= 0 and 0 <= self.random_move < t:
            return self.then
        return self.black if colour == "b" else self.white


@dataclass
class PlayedGame:
    """One finished policy game. Kept positions come with their packed planes (rl/alphago_lee/dataset.py
    pack_planes of the 48 "lee_policy" planes)."""

    plan: GamePlan
    moves: np.ndarray  # int16 (T,): action index, N² = pass
    result: float  # +1 Black won, -1 White won, 0 draw (by area with komi)
    kept_t: np.ndarray  # int16 (K,): move number (0-based) of each kept position
    kept_planes: np.ndarray  # uint8 (K, bytes)
    kept_actions: np.ndarray  # int16 (K,): the move played there

    def to_play(self, t: int) -> int:
        """1 Black, 2 White: the side to move before move t (no handicap: Black starts, turns alternate)."""
        return 1 + t % 2

    def reward(self, t: int) -> float:
        """z_t: the result for the player to move at t."""
        return self.result if t % 2 == 0 else -self.result


@dataclass
class _Live:
    plan: GamePlan
    rng: np.random.Generator
    position: Position
    moves: list = field(default_factory=list)
    kept_t: list = field(default_factory=list)
    kept_planes: list = field(default_factory=list)
    kept_actions: list = field(default_factory=list)


def _sample(rng: np.random.Generator, probs: np.ndarray) -> int:
    """Index drawn from probs (float64, summing to about 1) by the inverse CDF."""
    cdf = np.cumsum(probs)
    return int(min(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"), len(probs) - 1))


def play_policy_games(nets: Sequence, plans: Sequence[GamePlan], setup: GameSetup) -> list[PlayedGame]:
    """Play one game per plan, all at once, with the Lee policy nets `nets` (indexed by the plans); return
    them in plan order. Each round: the planes of every unfinished game, one forward pass per net."""
    import torch

    from rl.alphago_lee.dataset import pack_planes

    size = setup.board_size
    area = size * size
    live = [_Live(p, np.random.default_rng(p.seed), Position(size, setup.komi, setup.rules)) for p in plans]
    active = list(range(len(live)))
    cap = setup.move_cap()
    while active:
        planes = {i: extract(live[i].position, "lee_policy") for i in active}
        groups: dict[int, list[int]] = {}
        for i in active:
            g = live[i]
            groups.setdefault(g.plan.mover(len(g.moves), g.position.to_play), []).append(i)
        chosen: dict[int, int] = {}
        for net_index, members in groups.items():
            sensible_BA = np.stack([planes[i][SENSIBLE_PLANE].reshape(area) for i in members]) > 0
            if net_index == RANDOM:
                for i in members:
                    legal = np.flatnonzero(live[i].position.legal_mask()[:area])
                    chosen[i] = int(live[i].rng.choice(legal)) if len(legal) else area
                continue
            with torch.no_grad():
                x_BCHW = torch.from_numpy(np.stack([planes[i] for i in members]))
                logits_BA = nets[net_index](x_BCHW).double().numpy() / setup.temperature
            for row, i in enumerate(members):
                mask = sensible_BA[row]
                if not mask.any():
                    chosen[i] = area  # nothing sensible left: pass
                    continue
                z = np.where(mask, logits_BA[row], -np.inf)
                p = np.exp(z - z.max())
                chosen[i] = _sample(live[i].rng, p / p.sum())
                if setup.keep == "learner" and net_index == 0:
                    g = live[i]
                    g.kept_t.append(len(g.moves))
                    g.kept_planes.append(pack_planes(planes[i][None])[0])
                    g.kept_actions.append(chosen[i])
        still = []
        for i in active:
            g, action = live[i], chosen[i]
            if setup.keep == "all":
                g.kept_t.append(len(g.moves))
                g.kept_planes.append(pack_planes(planes[i][None])[0])
                g.kept_actions.append(action)
            g.position = g.position.play(coords.action_to_gtp(action, size))
            g.moves.append(action)
            if not g.position.is_over and len(g.moves) < cap:
                still.append(i)
        active = still
    out = []
    bytes_per = math.ceil(POLICY_PLANES * area / 8)
    for g in live:
        score = g.position.score()
        out.append(PlayedGame(
            plan=g.plan, moves=np.array(g.moves, dtype=np.int16), result=float(np.sign(score)),
            kept_t=np.array(g.kept_t, dtype=np.int16),
            kept_planes=np.array(g.kept_planes, dtype=np.uint8).reshape(len(g.kept_t), bytes_per),
            kept_actions=np.array(g.kept_actions, dtype=np.int16)))
    return out


# --- the trainer ---

@dataclass(frozen=True)
class ReinforceConfig:
    """Settings of one RL run; stored in R/rl.pt so --resume continues with them."""

    board_size: int = 9
    komi: float = 7.5
    games_per_iteration: int = 64
    """n: games of one mini-batch (the paper's 128)."""
    lr: float = 0.01
    """Learning rate α (the paper's plain SGD: 0.001 for 19x19 and n = 128)."""
    optimizer: str = "sgd"
    """"sgd" (the paper's) or "adam" (learns in fewer iterations from a small start; used by the tests)."""
    snapshot_every: int = 10
    """A snapshot of the current net joins the opponent pool every this many iterations (the paper: 500)."""
    baseline: str = "none"
    """"none" (b = 0, as the paper's first pass) or "mean" (b = the mini-batch's mean reward)."""
    eval_every: int = 5
    """Win rate of the current net against the SL start every this many iterations (0: never)."""
    eval_games: int = 64
    """Games of each of those matches (half with each colour)."""
    max_moves: int | None = None
    """Game length cap, None: 2 N²."""
    seed: int = 0

    def __post_init__(self) -> None:
        checks.integer("board_size", self.board_size, coords.MIN_SIZE, coords.MAX_SIZE)
        checks.number("komi", self.komi)
        checks.integer("games_per_iteration", self.games_per_iteration, 2)
        checks.number("lr", self.lr, 0, low_open=True)
        checks.integer("snapshot_every", self.snapshot_every, 1)
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be sgd or adam, not {self.optimizer!r}")
        if self.baseline not in ("none", "mean"):
            raise ValueError(f"baseline must be none or mean, not {self.baseline!r}")
        checks.integer("eval_every", self.eval_every, 0)
        checks.integer("eval_games", self.eval_games, 2)
        if self.max_moves is not None:
            checks.integer("max_moves", self.max_moves, 1)
        checks.seed("seed", self.seed)


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0])


def learner_plans(config: ReinforceConfig, iteration: int, opponent: int, games: int, salt: int = 0) -> list[GamePlan]:
    """The learner (net 0) against net `opponent`: Black in even games, White in odd ones."""
    return [GamePlan(black=0 if k % 2 == 0 else opponent, white=opponent if k % 2 == 0 else 0,
                     seed=_seed(config.seed, salt, iteration, k)) for k in range(games)]


def learner_score(games: Sequence[PlayedGame]) -> float:
    """Mean score of net 0 (win 1, draw 0.5, loss 0) over games where it played one side."""
    points = [(1.0 + (g.result if g.plan.black == 0 else -g.result)) / 2 for g in games]
    return float(np.mean(points)) if points else float("nan")


def reinforce_loss(model, planes_BCHW, actions_B, advantages_B, n_games: int):
    """-1/n Σ log p(a|s) (z - b), log p over the sensible points (the policy the games were sampled from)."""
    import torch
    import torch.nn.functional as F

    logits_BA = model(planes_BCHW)
    mask_BA = planes_BCHW[:, SENSIBLE_PLANE].flatten(1) > 0  # (B, N, N) -> (B, A)
    logp_BA = F.log_softmax(logits_BA.masked_fill(~mask_BA, float("-inf")), dim=1)
    chosen_B = logp_BA.gather(1, actions_B[:, None]).squeeze(1)
    return -(chosen_B * advantages_B).sum() / n_games if len(actions_B) else torch.zeros(())


def training_batch(games: Sequence[PlayedGame], baseline: str):
    """(packed planes uint8 (B, bytes), actions int64 (B,), advantages float32 (B,)) of net 0's moves, or
    None when it made none."""
    planes, actions, rewards = [], [], []
    for g in games:
        if len(g.kept_t) == 0:
            continue
        planes.append(g.kept_planes)
        actions.append(g.kept_actions.astype(np.int64))
        rewards.append(np.array([g.reward(int(t)) for t in g.kept_t], dtype=np.float32))
    if not planes:
        return None
    packed = np.concatenate(planes)
    z = np.concatenate(rewards)
    b = float(z.mean()) if baseline == "mean" else 0.0
    return packed, np.concatenate(actions), z - b


def make_optimizer(model, config: ReinforceConfig):
    import torch

    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr)
    return torch.optim.SGD(model.parameters(), lr=config.lr)


RL_FILE = "rl.pt"
RL_DIR = "rl"  # R/rl/: metrics.csv, tensorboard/, pool/, rl.png


@dataclass
class Reinforce:
    """The RL stage over a run folder R: R/rl.pt (the current net, its optimizer and the run's config in
    `extra`), R/rl/pool/iter_NNNNNN.pt (the opponent pool, the SL start first), R/rl/metrics.csv."""

    run_dir: str
    config: ReinforceConfig
    model: object
    sl_model: object
    optimizer: object
    iteration: int = 0
    pool: list = field(default_factory=list)  # iteration numbers of the snapshots in R/rl/pool
    history: list = field(default_factory=list)  # (iteration, win rate vs SL)
    sl_path: str = ""

    # --- creating and resuming ---
    @classmethod
    def create(cls, run_dir: str, sl_path: str, config: ReinforceConfig) -> "Reinforce":
        import torch

        from nets.go import checkpoint

        model, meta = load_policy(sl_path, config.board_size)
        sl_model, _ = load_policy(sl_path, config.board_size)
        optimizer = make_optimizer(model, config)
        run = cls(os.fspath(run_dir), config, model, sl_model, optimizer, sl_path=os.path.abspath(sl_path))
        os.makedirs(run.pool_dir(), exist_ok=True)
        checkpoint.save(run.snapshot_path(0), model, feature_set="lee_policy", extra={"iteration": 0})
        run.pool = [0]
        run.save()
        return run

    @classmethod
    def open(cls, run_dir: str, board_size: int | None = None) -> "Reinforce":
        import torch

        from nets.go.checkpoint import CheckpointError, load

        path = os.path.join(run_dir, RL_FILE)
        model, meta = load(path, board_size=board_size, feature_set="lee_policy")
        extra = meta.extra if isinstance(meta.extra, dict) else {}
        if meta.net != "lee_policy" or extra.get("stage") != "rl" or not isinstance(extra.get("config"), dict):
            raise CheckpointError(f"checkpoint {path}: not an RL stage checkpoint (no stage 'rl' and config)")
        try:
            config = ReinforceConfig(**extra["config"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"checkpoint {path}: its RL config is not usable ({e})") from None
        model.train()
        optimizer = make_optimizer(model, config)
        optimizer.load_state_dict(extra["optimizer"])
        run = cls(os.fspath(run_dir), config, model, None, optimizer, iteration=int(extra["iteration"]),
                  pool=[int(i) for i in extra["pool"]], history=[tuple(h) for h in extra.get("history", [])],
                  sl_path=str(extra.get("sl", "")))
        run.sl_model, _ = load(run.snapshot_path(0), board_size=config.board_size, feature_set="lee_policy")
        for i in run.pool:
            if not os.path.isfile(run.snapshot_path(i)):
                raise CheckpointError(f"checkpoint {run.snapshot_path(i)}: missing from the RL pool")
        return run

    def pool_dir(self) -> str:
        return os.path.join(self.run_dir, RL_DIR, "pool")

    def snapshot_path(self, iteration: int) -> str:
        return os.path.join(self.pool_dir(), f"iter_{iteration:06d}.pt")

    def save(self) -> None:
        from nets.go import checkpoint

        extra = {"stage": "rl", "config": dataclasses.asdict(self.config), "iteration": self.iteration,
                 "optimizer": self.optimizer.state_dict(), "pool": list(self.pool),
                 "history": [list(h) for h in self.history], "sl": self.sl_path}
        checkpoint.save(os.path.join(self.run_dir, RL_FILE), self.model, feature_set="lee_policy", extra=extra)

    # --- iterations ---
    def setup(self, keep: str) -> GameSetup:
        return GameSetup(board_size=self.config.board_size, komi=self.config.komi, max_moves=self.config.max_moves,
                         keep=keep, net=dataclasses.asdict(self.model.config))

    def _weights(self, *models) -> list:
        return [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in models]

    def _play(self, executor, setup: GameSetup, weights: list, plans: list[GamePlan], chunk: int) -> list[PlayedGame]:
        games: list[PlayedGame] = []
        chunks = [plans[i:i + chunk] for i in range(0, len(plans), chunk)]
        for played, _stats in executor.play_policy(setup, weights, chunks):
            games.extend(played)
        return games

    def step(self, executor, chunk: int) -> dict:
        """One iteration: n games against a pool opponent, one gradient step, a snapshot when due."""
        import torch

        from nets.go.checkpoint import load
        from rl.alphago_lee.dataset import unpack_planes

        c = self.config
        start = time.perf_counter()
        rng = np.random.default_rng(_seed(c.seed, 1, self.iteration))
        opponent_iter = int(rng.choice(self.pool))
        opponent, _ = load(self.snapshot_path(opponent_iter), board_size=c.board_size, feature_set="lee_policy")
        self.model.eval()
        games = self._play(executor, self.setup("learner"), self._weights(self.model, opponent),
                           learner_plans(c, self.iteration, 1, c.games_per_iteration), chunk)
        play_s = time.perf_counter() - start
        batch = training_batch(games, c.baseline)
        loss = 0.0
        self.model.train()
        if batch is not None:
            packed, actions, adv = batch
            size = c.board_size
            self.optimizer.zero_grad()
            for lo in range(0, len(actions), 1024):  # gradients accumulate over chunks of positions
                x = torch.from_numpy(unpack_planes(packed[lo:lo + 1024], POLICY_PLANES, size))
                part = reinforce_loss(self.model, x, torch.from_numpy(actions[lo:lo + 1024]),
                                      torch.from_numpy(adv[lo:lo + 1024]), len(games))
                part.backward()
                loss += float(part.detach())
            self.optimizer.step()
        self.model.eval()
        self.iteration += 1
        if self.iteration % c.snapshot_every == 0:
            from nets.go import checkpoint

            checkpoint.save(self.snapshot_path(self.iteration), self.model, feature_set="lee_policy",
                            extra={"iteration": self.iteration})
            self.pool.append(self.iteration)
        row = {"iteration": self.iteration, "opponent": opponent_iter, "score_vs_opponent": learner_score(games),
               "loss": loss, "moves_per_game": float(np.mean([len(g.moves) for g in games])),
               "play_seconds": play_s, "seconds": time.perf_counter() - start}
        if c.eval_every and self.iteration % c.eval_every == 0:
            row["winrate_vs_sl"] = self.evaluate(executor, chunk)
            self.history.append((self.iteration, row["winrate_vs_sl"]))
        return row

    def evaluate(self, executor, chunk: int, games: int | None = None) -> float:
        """Score of the current net against the SL start (sampling both, no search), half with each colour."""
        c = self.config
        plans = learner_plans(c, self.iteration, 1, games or c.eval_games, salt=2)
        played = self._play(executor, self.setup("none"), self._weights(self.model, self.sl_model), plans, chunk)
        return learner_score(played)

    def train(self, executor, *, steps: int | None, minutes: float | None, chunk: int,
              on_iteration: Callable[[dict], None] | None = None, progress=None) -> None:
        """Iterate until the run has `steps` iterations or `minutes` have passed (checked after each); the
        checkpoint is saved after every iteration, so a stopped run resumes from the last one."""
        deadline = None if minutes is None else time.monotonic() + 60 * minutes
        bar = progress(total=steps, initial=min(self.iteration, steps or 0), unit="iter") if progress else None
        try:
            while (steps is None or self.iteration < steps) and (deadline is None or time.monotonic() < deadline):
                row = self.step(executor, chunk)
                self.save()
                if on_iteration is not None:
                    on_iteration(row)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(vs_opponent=f"{row['score_vs_opponent']:.2f}")
        finally:
            if bar is not None:
                bar.close()


def load_policy(path: str, board_size: int | None = None):
    """(model, meta) of a Lee policy checkpoint (sl.pt, rl.pt); CheckpointError for anything else."""
    from nets.go.checkpoint import CheckpointError, load

    model, meta = load(path, board_size=board_size, feature_set="lee_policy")
    if meta.net != "lee_policy":
        raise CheckpointError(f"checkpoint {os.fspath(path)}: a {meta.net!r} net, not an AlphaGo Lee policy "
                              f"('lee_policy')")
    return model, meta


def plot_rl(log_dir: str) -> str:
    """LOG_DIR/rl.png: the win rate against the SL start and the score against pool opponents by iteration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl.metrics_log import read_metrics, save_figure

    rows = read_metrics(log_dir)
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("winrate_vs_sl", "vs the SL start"), ("score_vs_opponent", "vs the pool opponent")):
        pts = [(r["iteration"], r[key]) for r in rows if isinstance(r.get(key), float)]
        if pts:
            ax.plot(*zip(*pts), marker="." if key == "score_vs_opponent" else "o", label=label)
    ax.axhline(0.5, color="grey", lw=0.5)
    ax.set_xlabel("iteration")
    ax.set_ylabel("score of the RL policy (no search)")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, os.path.join(log_dir, "rl.png"))
