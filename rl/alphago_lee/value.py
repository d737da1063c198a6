"""AlphaGo Lee's value stage: the value net v_θ(s) ≈ E[z | s] by regression on self-play outcomes (Silver et
al. 2016, Methods "Reinforcement learning of value networks"), with the paper's data recipe and its control.

The recipe, per game: the SL policy p_σ plays moves t = 1 .. U-1 (U drawn uniformly), move U is a
uniformly random legal move, then the RL policy p_ρ plays both sides to the end; ONE position per game,
s_{U+1}, is kept with the outcome z_{U+1} for its player to move. Keeping one position per game avoids
what the paper saw when it trained on whole games: successive positions differ by one stone and share
one label, so the net memorises games (KGS: MSE 0.19 train, 0.37 test) instead of judging positions
(0.226 / 0.234 with the recipe). The control (`train_value(..., positions="all")`) trains the same net
on every position of the same games.

Here (0-based move numbers): U ~ uniform{0 .. u_max-1}, moves 0 .. U-1 by net 0 (SL), move U random
(uniform over legal board points), moves after U by net 1 (RL); kept position t = U + 1, dropped when the
game ended before it. Games are split by game into train / val / test (never by position). Loss: mean
squared error of v_θ against z, each mini-batch under one random board symmetry of the 8.

Figure 2b of the paper (`mse_by_move`): on held-out positions, the squared error of v_θ(s) and of the
mean result of K rollouts from s (the trained rollout policy p_π, and uniform random playouts) against z,
by move number.
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
from rl.alphago_lee.reinforce import POLICY_PLANES, GamePlan, GameSetup, PlayedGame, _seed

VALUE_PLANES = POLICY_PLANES + 1


@dataclass(frozen=True)
class ValueDataConfig:
    board_size: int = 9
    komi: float = 7.5
    games: int = 2000
    """Games generated (one training position each)."""
    u_max: int | None = None
    """U is drawn from 0 .. u_max - 1; None: N² (the paper's 450 on 19x19 spans its games likewise)."""
    max_moves: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        checks.integer("board_size", self.board_size, coords.MIN_SIZE, coords.MAX_SIZE)
        checks.number("komi", self.komi)
        checks.integer("games", self.games, 10)
        if self.u_max is not None:
            checks.integer("u_max", self.u_max, 1)
        if self.max_moves is not None:
            checks.integer("max_moves", self.max_moves, 1)
        checks.seed("seed", self.seed)

    def u_limit(self) -> int:
        return self.u_max if self.u_max is not None else self.board_size ** 2


def value_plans(config: ValueDataConfig, first: int, count: int) -> list[GamePlan]:
    """Games first .. first+count-1 of the recipe: net 0 (SL) to U-1, a random move U, net 1 (RL) after."""
    plans = []
    for k in range(first, first + count):
        seed = _seed(config.seed, 3, k)
        u = int(np.random.default_rng(seed ^ 0x5EED).integers(config.u_limit()))
        plans.append(GamePlan(black=0, white=0, seed=seed, random_move=u, then=1))
    return plans


@dataclass
class ValueData:
    """Positions for the value net, by split: packed 48 policy planes, side to move, outcome, move number."""

    size: int
    packed: dict = field(default_factory=dict)  # split -> uint8 (P, bytes)
    black_to_play: dict = field(default_factory=dict)  # split -> bool (P,)
    z: dict = field(default_factory=dict)  # split -> float32 (P,): outcome for the player to move
    move: dict = field(default_factory=dict)  # split -> int16 (P,): 0-based move number
    game: dict = field(default_factory=dict)  # split -> int32 (P,): game index
    test_moves: dict = field(default_factory=dict)  # game index -> int16 actions, for the test games (replays)

    def __len__(self) -> int:
        return sum(len(v) for v in self.z.values())

    def count(self, split: str) -> int:
        return len(self.z.get(split, ()))

    def planes(self, split: str, index: np.ndarray) -> np.ndarray:
        """float32 (B, 49, N, N): the "lee_value" planes (the 48 policy planes, then colour to play)."""
        return value_planes(self.packed[split][index], self.black_to_play[split][index], self.size)

    def save(self, path: str) -> None:
        from goengine.atomic import atomic_open

        arrays = {"size": np.array(self.size)}
        for split in self.z:
            for name in ("packed", "black_to_play", "z", "move", "game"):
                arrays[f"{split}_{name}"] = getattr(self, name)[split]
        index = sorted(self.test_moves)
        arrays["moves_index"] = np.array(index, dtype=np.int64)
        arrays["moves_offsets"] = np.cumsum([0] + [len(self.test_moves[i]) for i in index]).astype(np.int64)
        arrays["moves_flat"] = (np.concatenate([self.test_moves[i] for i in index]) if index
                                else np.zeros(0, np.int16)).astype(np.int16)
        with atomic_open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load(cls, path: str) -> "ValueData":
        with np.load(path, allow_pickle=False) as npz:
            data = cls(int(npz["size"]))
            for key in npz.files:
                split, _, name = key.partition("_")
                if name and split != "moves":
                    getattr(data, name)[split] = npz[key]
            flat, offsets = npz["moves_flat"], npz["moves_offsets"]
            for k, i in enumerate(npz["moves_index"]):
                data.test_moves[int(i)] = flat[offsets[k]:offsets[k + 1]]
        return data


def value_planes(packed_PB: np.ndarray, black_to_play_P: np.ndarray, size: int) -> np.ndarray:
    """The 49 "lee_value" planes from packed "lee_policy" planes: the feature sets differ by the last plane
    only (goengine.features.FEATURE_SETS), colour to play, all 1 when Black is to play."""
    from rl.alphago_lee.dataset import unpack_planes

    policy = unpack_planes(packed_PB, POLICY_PLANES, size)
    colour = np.broadcast_to(np.asarray(black_to_play_P, dtype=np.float32)[:, None, None, None],
                             (len(policy), 1, size, size))
    return np.concatenate([policy, colour], axis=1)


def split_of(game: int, seed: int) -> str:
    """train / val / test, 80 / 10 / 10, by game."""
    r = np.random.default_rng(_seed(seed, 4, game)).random()
    return "train" if r < 0.8 else "val" if r < 0.9 else "test"


def collect(games: Sequence[PlayedGame], first_index: int, seed: int, size: int, positions: str) -> dict:
    """Rows of the kept positions of played games: "recipe" keeps s_{U+1} of each game, "all" every
    position. -> {split: (packed, black_to_play, z, move, game)} lists."""
    out: dict = {}
    for k, g in enumerate(games):
        index = first_index + k
        split = split_of(index, seed)
        if positions == "recipe":
            t_wanted = g.plan.random_move + 1
            rows = np.flatnonzero(g.kept_t == t_wanted)
        else:
            rows = np.arange(len(g.kept_t))
        bucket = out.setdefault(split, ([], [], [], [], []))
        for r in rows:
            t = int(g.kept_t[r])
            bucket[0].append(g.kept_planes[r])
            bucket[1].append(t % 2 == 0)
            bucket[2].append(g.reward(t))
            bucket[3].append(t)
            bucket[4].append(index)
    return out


def merge(parts: list[dict], size: int) -> ValueData:
    data = ValueData(size)
    bytes_per = math.ceil(POLICY_PLANES * size * size / 8)
    for split in ("train", "val", "test"):
        rows = [p[split] for p in parts if split in p]
        packed = [x for r in rows for x in r[0]]
        data.packed[split] = np.array(packed, dtype=np.uint8).reshape(len(packed), bytes_per)
        data.black_to_play[split] = np.array([x for r in rows for x in r[1]], dtype=bool)
        data.z[split] = np.array([x for r in rows for x in r[2]], dtype=np.float32)
        data.move[split] = np.array([x for r in rows for x in r[3]], dtype=np.int16)
        data.game[split] = np.array([x for r in rows for x in r[4]], dtype=np.int32)
    return data


def generate(executor, sl_model, rl_model, config: ValueDataConfig, *, chunk: int = 32,
             progress: Callable[[int], None] | None = None) -> tuple[ValueData, ValueData, dict]:
    """Play config.games games of the recipe on `executor` (selfplay's LocalSelfPlay or Orchestrator) and
    return (recipe data: one position per game, control data: every position, stats)."""
    setup = GameSetup(board_size=config.board_size, komi=config.komi, max_moves=config.max_moves, keep="all",
                      net=dataclasses.asdict(sl_model.config))
    weights = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in (sl_model, rl_model)]
    plans = value_plans(config, 0, config.games)
    chunks = [plans[i:i + chunk] for i in range(0, len(plans), chunk)]
    seed_to_index = {p.seed: i for i, p in enumerate(plans)}
    recipe, control, test_moves = [], [], {}
    start = time.perf_counter()
    n_games = moves = dropped = 0
    for played, _stats in executor.play_policy(setup, weights, chunks):
        first = seed_to_index[played[0].plan.seed]
        recipe.append(collect(played, first, config.seed, config.board_size, "recipe"))
        control.append(collect(played, first, config.seed, config.board_size, "all"))
        for k, g in enumerate(played):
            if split_of(first + k, config.seed) == "test":
                test_moves[first + k] = g.moves
        n_games += len(played)
        moves += sum(len(g.moves) for g in played)
        dropped += sum(1 for g in played if g.plan.random_move + 1 >= len(g.moves))
        if progress is not None:
            progress(len(played))
    stats = {"games": n_games, "moves": moves, "dropped_games": dropped, "seconds": time.perf_counter() - start}
    recipe_data, control_data = merge(recipe, config.board_size), merge(control, config.board_size)
    recipe_data.test_moves = control_data.test_moves = test_moves
    return recipe_data, control_data, stats


# --- training ---

@dataclass(frozen=True)
class ValueTrainConfig:
    filters: int | None = None
    """k of the value net; None: the policy's."""
    layers: int | None = None
    """L of the value net; None: the policy's."""
    batch_size: int = 64
    lr: float = 1e-3
    """Adam's learning rate (the paper: SGD, 50 million mini-batches of 32)."""
    weight_decay: float = 1e-4
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("filters", "layers"):
            if getattr(self, name) is not None:
                checks.integer(name, getattr(self, name), 2 if name == "layers" else 1)
        checks.integer("batch_size", self.batch_size, 1)
        checks.number("lr", self.lr, 0, low_open=True)
        checks.number("weight_decay", self.weight_decay, 0)
        checks.seed("seed", self.seed)


def _symmetry(x_BCHW, k: int):
    import torch

    x = torch.rot90(x_BCHW, k % 4, dims=(2, 3))
    return torch.flip(x, dims=(3,)) if k >= 4 else x


def mse(model, data: ValueData, split: str, batch: int = 512) -> float:
    """Mean squared error of v_θ against z over a split (NaN when it is empty)."""
    import torch

    n = data.count(split)
    if n == 0:
        return float("nan")
    total = 0.0
    model.eval()
    with torch.no_grad():
        for lo in range(0, n, batch):
            index = np.arange(lo, min(n, lo + batch))
            v = model(torch.from_numpy(data.planes(split, index)))
            total += float(((v - torch.from_numpy(data.z[split][index])) ** 2).sum())
    return total / n


def predict(model, data: ValueData, split: str, batch: int = 512) -> np.ndarray:
    import torch

    out = []
    model.eval()
    with torch.no_grad():
        for lo in range(0, data.count(split), batch):
            index = np.arange(lo, min(data.count(split), lo + batch))
            out.append(model(torch.from_numpy(data.planes(split, index))).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def train_value(model, data: ValueData, config: ValueTrainConfig, *, steps: int | None, minutes: float | None,
                on_step: Callable[[int, float], None] | None = None, eval_every: int = 0,
                on_eval: Callable[[int, float, float], None] | None = None, start_step: int = 0,
                optimizer=None) -> tuple[int, object]:
    """MSE regression of v_θ on the train split until `steps` steps in all or `minutes` pass. Returns
    (steps done in all, optimizer). on_eval(step, train MSE, val MSE) every eval_every steps."""
    import torch

    n = data.count("train")
    if n == 0:
        raise ValueError("no training positions: generate more games")
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(_seed(config.seed, 5, start_step))
    deadline = None if minutes is None else time.monotonic() + 60 * minutes
    step = start_step
    while (steps is None or step < steps) and (deadline is None or time.monotonic() < deadline):
        model.train()
        index = rng.integers(n, size=min(config.batch_size, n))
        x = _symmetry(torch.from_numpy(data.planes("train", index)), int(rng.integers(8)))
        loss = ((model(x) - torch.from_numpy(data.z["train"][index])) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step += 1
        if on_step is not None:
            on_step(step, float(loss.detach()))
        if eval_every and on_eval is not None and step % eval_every == 0:
            on_eval(step, mse(model, data, "train"), mse(model, data, "val"))
    return step, optimizer


def build_value_net(policy_config, config: ValueTrainConfig):
    from nets.go.lee import build_lee_value

    return build_lee_value(board_size=policy_config.board_size,
                           filters=config.filters or policy_config.filters,
                           layers=config.layers or policy_config.layers)


# --- Figure 2b ---

def rollout_values(boards: Sequence, komi: float, rollouts: int, policy=None, heavy: bool = False,
                   seed: int = 0) -> np.ndarray:
    """For each Board, the mean of `rollouts` playout results in [-1, 1] for its side to move: the trained
    rollout policy p_π (`policy`, a goengine RolloutPolicy), or goengine's heavy / uniform playouts."""
    from goengine.board import rng_state
    from goengine.mcts import _tree as T
    from goengine.mcts.patterns import pattern_table

    out = np.empty(len(boards), dtype=np.float64)
    rng = rng_state(seed)
    pattern = pattern_table()
    if policy is not None:
        code, spec, expw = T.POLICY_LEE, policy.spec, policy.expw
    else:
        code = T.POLICY_HEAVY if heavy else T.POLICY_LIGHT
        spec, expw = np.zeros((0, 0), dtype=np.int64), np.zeros(0, dtype=np.float64)
    for i, b in enumerate(boards):
        g = b.geo
        s_BRP = np.repeat(b.s[None], rollouts, axis=0)
        meta_BM = np.repeat(b.meta[None], rollouts, axis=0)
        wins = T.leaf_rollouts(s_BRP, meta_BM, g.neighbours, g.diagonals, g.zobrist, g.on_board, g.width, pattern,
                               rng, 3 * g.size * g.size, code, spec, expw, komi)
        out[i] = 2.0 * float(wins.mean()) - 1.0
    return out


def replay_boards(moves: np.ndarray, ts: Sequence[int], size: int, komi: float) -> list:
    """The Boards before moves ts of a game given by its actions."""
    from goengine.position import Position

    want = set(int(t) for t in ts)
    pos = Position(size, komi)
    boards = {}
    for t, action in enumerate(moves):
        if t in want:
            boards[t] = pos.board
        if len(boards) == len(want):
            break
        pos = pos.play(coords.action_to_gtp(int(action), size))
    return [boards[int(t)] for t in ts]


def mse_by_move(errors: dict[str, np.ndarray], move_P: np.ndarray, bucket: int) -> list[dict]:
    """Rows {"moves": "a-b", "positions": n, name: mean squared error, ...} by buckets of move number."""
    rows = []
    top = int(move_P.max()) + 1 if len(move_P) else 0
    for lo in range(0, top, bucket):
        sel = (move_P >= lo) & (move_P < lo + bucket)
        if sel.sum() == 0:
            continue
        row = {"moves": f"{lo}-{lo + bucket - 1}", "positions": int(sel.sum())}
        for name, err in errors.items():
            row[name] = float(err[sel].mean())
        rows.append(row)
    return rows
