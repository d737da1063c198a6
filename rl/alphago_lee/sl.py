"""AlphaGo Lee's supervised-learning policy p_σ (Silver et al. 2016, Methods, "Supervised learning of policy
networks"): the 13-layer policy net (nets/go/lee.py) trained by SGD to maximise log p_σ(a|s) of the move a
played in position s, on state-action pairs sampled from converted records (dataset.py), each under one of
the 8 symmetries drawn at random (goengine/symmetries.py).

The pieces a training backend needs, as in selfplay/training/api.py's TrainSpec:

    model = build_model(config)                      the lee_policy net of the config
    optimizer = build_optimizer(model, config)       SGD with momentum and weight decay
    loss, metrics = loss_fn(model, batch)            cross-entropy and batch top-1 accuracy
    lr = lr_at(step, config)                         the paper's schedule: halved every lr_halve_steps
    source = SLBatchSource(split)                    source.shard(rank, world).sample(batch, rng) -> SLBatch
    TrainSpec(**spec_parts(config))                  all of it for selfplay/training's backends

`SLTrainer` has the face of rl/alphago_zero/trainer.py's Trainer (model, optimizer, step, rng,
train_step(batch)); `train_sl` is the in-process loop `goengine train lee sl` runs: budgets, validation
each epoch, checkpoints (R/sl.pt) and logs (R/sl/metrics.csv, R/sl/tensorboard, R/sl/sl.png).

Where we differ from the paper, and why: momentum 0.9 (the paper's plain asynchronous SGD on 50 GPUs
needs no momentum to move fast; one CPU does), weight decay, and a default of 128 filters on 9x9 (192 on
19x19 in the paper's match version).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from goengine.symmetries import N_SYMMETRIES, apply_action, apply_planes
from nets.go import checkpoint
from nets.go.lee import LeeConfig, LeePolicy
from rl.alphago_lee.dataset import FEATURE_SET, POLICY_PLANES, Split

SL_FILE = "sl.pt"
LOG_DIR = "sl"
PLOT_FILE = "sl.png"


@dataclass(frozen=True)
class SLConfig:
    """The SL stage's settings, saved in the checkpoint (extra["sl_config"])."""

    board_size: int = 9
    """N of the records and the net."""
    filters: int = 128
    """k: filters of every hidden convolution (the paper: 128 to 384; 192 in the match version)."""
    layers: int = 13
    """L: convolutional layers (the paper's 13)."""
    batch_size: int = 64
    """State-action pairs per SGD step (the paper: 16, on each of 50 GPUs)."""
    lr: float = 0.01
    """Learning rate at step 0 (the paper: 0.003)."""
    lr_halve_steps: int = 20000
    """The rate is halved every this many steps (the paper: every 80 million)."""
    momentum: float = 0.9
    weight_decay: float = 1e-4
    symmetries: bool = True
    """Each pair under a random one of the 8 symmetries."""
    seed: int = 0

    def __post_init__(self) -> None:
        LeeConfig(board_size=self.board_size, in_planes=POLICY_PLANES, filters=self.filters, layers=self.layers)
        for name in ("batch_size", "lr_halve_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("lr", "momentum", "weight_decay"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0) or (name == "lr" and value == 0):
                kind = "positive" if name == "lr" else "non-negative"
                raise ValueError(f"{name} must be a {kind} number, got {value}")

    @property
    def net(self) -> LeeConfig:
        return LeeConfig(board_size=self.board_size, in_planes=POLICY_PLANES, filters=self.filters, layers=self.layers)


def build_model(config: SLConfig) -> LeePolicy:
    """The policy net with He initialisation of every convolution (kaiming normal, fan-in, zero biases).

    PyTorch's default initialisation shrinks the signal at each of the 12 ReLU layers: a 13-layer net of
    64 filters so started sat at the uniform policy's loss (ln 81) for 4 epochs on 9x9 records, where the
    same net with He initialisation learns at once (docs/lee.md). The paper does not give its scheme."""
    model = LeePolicy(config.net)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return model


def build_optimizer(model: nn.Module, config: SLConfig) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def lr_at(step: int, config: SLConfig) -> float:
    return config.lr * 0.5 ** (step // config.lr_halve_steps)


def spec_parts(config: SLConfig) -> dict:
    """The SL stage as the fields of selfplay.training.api.TrainSpec (`TrainSpec(**spec_parts(config))`):
    picklable, so a backend can rebuild the net, optimizer, objective and schedule in other processes."""
    return {"build_model": functools.partial(build_model, config),
            "build_optimizer": functools.partial(build_optimizer, config=config),
            "loss_fn": loss_fn, "lr_at": functools.partial(lr_at, config=config), "batch_size": config.batch_size}


@dataclass(frozen=True)
class SLBatch:
    planes_BCHW: np.ndarray  # float32 (B, 48, N, N)
    action_B: np.ndarray  # int64 (B,): the move played, action index after the symmetry


def loss_fn(model: nn.Module, batch: SLBatch) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy of the move played (the paper's ∂log p_σ(a|s)/∂σ ascent, as a loss), and the batch's
    top-1 accuracy."""
    logits_BA = model(torch.from_numpy(batch.planes_BCHW))
    target_B = torch.from_numpy(batch.action_B)
    loss = F.cross_entropy(logits_BA, target_B)
    accuracy = (logits_BA.detach().argmax(dim=1) == target_B).float().mean().item()
    return loss, {"policy_loss": loss.item(), "accuracy": accuracy}


def symmetry_tables(size: int) -> np.ndarray:
    """int64 (8, N*N): where action a goes under symmetry k."""
    return np.array([[apply_action(a, k, size) for a in range(size * size)] for k in range(N_SYMMETRIES)],
                    dtype=np.int64)


class SLSampler:
    """Random pairs of one shard of a split (indices i ≡ rank mod world), each under a random symmetry."""

    def __init__(self, split: Split, index: np.ndarray, symmetries: bool):
        self.split = split
        self.index = index
        self.symmetries = symmetries
        self.table = symmetry_tables(split.size)

    def sample(self, batch_size: int, rng: np.random.Generator) -> SLBatch:
        rows = self.index[rng.integers(0, len(self.index), size=batch_size)]
        return make_batch(self.split, rows, rng.integers(0, N_SYMMETRIES, size=batch_size) if self.symmetries
                          else np.zeros(batch_size, dtype=np.int64), self.table)


def make_batch(split: Split, rows: np.ndarray, k_B: np.ndarray, table: np.ndarray) -> SLBatch:
    planes = split.planes(rows)
    action = split.action_P[rows].copy()
    for k in np.unique(k_B):
        if k == 0:
            continue
        sel = np.flatnonzero(k_B == k)
        planes[sel] = apply_planes(planes[sel], int(k))
        action[sel] = table[k, action[sel]]
    return SLBatch(planes, action)


class SLBatchSource:
    """A split as a batch source: `shard(rank, world)` -> a sampler of that worker's part."""

    def __init__(self, split: Split, symmetries: bool = True, limit: int | None = None):
        if split.n_positions == 0:
            raise ValueError(f"the {split.name} split has no positions")
        self.split = split
        self.symmetries = symmetries
        self.n = split.n_positions if limit is None else min(limit, split.n_positions)
        """Positions drawn from: the first `limit` (whole games first, in the split's order)."""

    def shard(self, rank: int, world: int) -> SLSampler:
        return SLSampler(self.split, np.arange(rank, self.n, world), self.symmetries)


class SLTrainer:
    """The net, its optimizer, the step; batches are drawn with rng = default_rng([seed, step]), so a resumed
    run draws the batches an uninterrupted one would have."""

    def __init__(self, config: SLConfig, model: LeePolicy | None = None):
        torch.manual_seed(config.seed)
        self.config = config
        self.model = model if model is not None else build_model(config)
        self.optimizer = build_optimizer(self.model, config)
        self.step = 0
        self.epoch = 0

    @property
    def rng(self) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, self.step])

    def train_step(self, batch: SLBatch) -> dict[str, float]:
        lr = lr_at(self.step, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        loss, metrics = loss_fn(self.model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.model.eval()
        self.step += 1
        return {**metrics, "lr": lr}

    def save(self, path: str, **extra) -> None:
        checkpoint.save(path, self.model, feature_set=FEATURE_SET, extra={
            "stage": "sl", "sl_config": dataclasses.asdict(self.config), "step": self.step, "epoch": self.epoch,
            "optimizer": self.optimizer.state_dict(), **extra})

    @classmethod
    def load(cls, path: str, board_size: int | None = None) -> tuple["SLTrainer", dict]:
        """The trainer saved at `path` (CheckpointError for a file that is not an SL checkpoint)."""
        model, meta = checkpoint.load(path, board_size=board_size, feature_set=FEATURE_SET)
        extra = meta.extra if isinstance(meta.extra, dict) else {}
        if meta.net != LeePolicy.net_name or extra.get("stage") != "sl" or "sl_config" not in extra:
            raise checkpoint.CheckpointError(f"checkpoint {path}: not an SL policy checkpoint of goengine train lee sl")
        try:
            config = SLConfig(**extra["sl_config"])
        except (TypeError, ValueError) as e:
            raise checkpoint.CheckpointError(f"checkpoint {path}: bad SL settings ({e})") from None
        trainer = cls(config, model)
        try:
            trainer.optimizer.load_state_dict(extra["optimizer"])
        except (KeyError, ValueError, TypeError) as e:
            raise checkpoint.CheckpointError(f"checkpoint {path}: bad optimizer state ({e})") from None
        trainer.step = int(extra.get("step", 0))
        trainer.epoch = int(extra.get("epoch", 0))
        return trainer, extra


def evaluate(model: nn.Module, split: Split, batch_size: int = 256, limit: int | None = None) -> dict[str, float]:
    """Top-1, top-5 and loss of the move played, over the split's positions (the first `limit`)."""
    n = split.n_positions if limit is None else min(limit, split.n_positions)
    if n == 0:
        return {"top1": float("nan"), "top5": float("nan"), "loss": float("nan"), "positions": 0}
    top1 = top5 = 0
    loss = 0.0
    model.eval()
    with torch.no_grad():
        for lo in range(0, n, batch_size):
            rows = np.arange(lo, min(n, lo + batch_size))
            logits_BA = model(torch.from_numpy(split.planes(rows)))
            target_B = torch.from_numpy(split.action_P[rows])
            loss += F.cross_entropy(logits_BA, target_B, reduction="sum").item()
            best_B5 = logits_BA.topk(min(5, logits_BA.shape[1]), dim=1).indices
            top1 += int((best_B5[:, 0] == target_B).sum())
            top5 += int((best_B5 == target_B[:, None]).any(dim=1).sum())
    return {"top1": top1 / n, "top5": top5 / n, "loss": loss / n, "positions": n}


def legal_uniform_top1(split: Split, limit: int | None = None) -> float:
    """Expected top-1 of a uniform choice among the legal moves that fill no own eye (the sensibleness
    plane): the baseline a learned policy must beat."""
    n = split.n_positions if limit is None else min(limit, split.n_positions)
    counts = []
    for lo in range(0, n, 512):
        planes = split.planes(np.arange(lo, min(n, lo + 512)))
        counts.append(planes[:, 46].reshape(len(planes), -1).sum(axis=1))  # plane 46: sensibleness
    counts = np.concatenate(counts) if counts else np.ones(1)
    return float(np.mean(1.0 / np.maximum(counts, 1)))


@dataclass
class Budget:
    steps: int | None = None
    """Stop when the trainer reaches this step (counted over resumes)."""
    minutes: float | None = None
    """Stop after this many minutes of this call."""


def train_sl(trainer: SLTrainer, train: Split, val: Split, run_dir: str, budget: Budget, *,
             log=None, progress: Callable | None = None, eval_limit: int | None = None,
             train_limit: int | None = None, extra: dict | None = None,
             fit: Callable | None = None) -> dict[str, float]:
    """Train until the budget ends; validate and checkpoint at each epoch's end and at the end. Returns the
    last validation figures. `log` is a MetricsLog (or None); `progress` a tqdm-like factory; `train_limit`
    trains on the first that many positions of `train` only (to compare corpora at equal size).

    `fit(trainer, source, steps, sums) -> steps done` trains elsewhere (a backend of selfplay/training:
    DDP workers or a parameter server, each drawing from `source.shard(rank, world)`, adding its metrics
    to `sums` and leaving the trained state in `trainer`); it is called once per stretch between two
    checkpoints. None: one step at a time in this process."""
    batches = SLBatchSource(train, trainer.config.symmetries, train_limit)
    source = batches.shard(0, 1)
    steps_per_epoch = max(1, batches.n // trainer.config.batch_size)
    started = time.monotonic()
    path = os.path.join(run_dir, SL_FILE)
    target = budget.steps if budget.steps is not None else None
    bar = progress(total=(target - trainer.step) if target is not None else None, unit="step",
                   desc="sl") if progress else None
    sums: dict[str, float] = {}
    count = 0
    last_val: dict[str, float] = {}

    def checkpoint_and_validate() -> None:
        nonlocal sums, count, last_val
        last_val = evaluate(trainer.model, val, limit=eval_limit) if val.n_positions else {}
        row = {"step": trainer.step, "epoch": trainer.step / steps_per_epoch,
               "minutes": (time.monotonic() - started) / 60, "lr": lr_at(trainer.step, trainer.config)}
        if count:
            row |= {"train_loss": sums["policy_loss"] / count, "train_accuracy": sums["accuracy"] / count}
        if last_val:
            row |= {"val_loss": last_val["loss"], "val_top1": last_val["top1"], "val_top5": last_val["top5"]}
        if log is not None:
            log.log(**row)
        trainer.save(path, **(extra or {}))
        sums, count = {}, 0

    rate = None  # steps per second of the last stretch a `fit` trained
    try:
        while True:
            if target is not None and trainer.step >= target:
                break
            left_s = None if budget.minutes is None else 60 * budget.minutes - (time.monotonic() - started)
            if left_s is not None and left_s <= 0:
                break
            if fit is None:
                metrics = trainer.train_step(source.sample(trainer.config.batch_size, trainer.rng))
                add_metrics(sums, metrics)
                count += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{metrics['policy_loss']:.2f}", refresh=False)
            else:  # up to the epoch's end, the step budget, and what the time budget allows at the last rate
                steps = steps_per_epoch - trainer.step % steps_per_epoch
                if target is not None:
                    steps = min(steps, target - trainer.step)
                if left_s is not None:  # the first stretch is short: its rate sizes the next ones
                    steps = max(1, min(steps, int(left_s * rate) if rate is not None else 100))
                first, clock = trainer.step, time.monotonic()
                try:
                    fit(trainer, batches, steps, sums)
                finally:
                    count += trainer.step - first
                rate = (trainer.step - first) / max(time.monotonic() - clock, 1e-6)
                if bar is not None:
                    bar.update(trainer.step - first)
                    bar.set_postfix(loss=f"{sums.get('policy_loss', 0.0) / max(count, 1):.2f}", refresh=False)
            if trainer.step % steps_per_epoch == 0:
                trainer.epoch = trainer.step // steps_per_epoch
                checkpoint_and_validate()
    finally:
        if bar is not None:
            bar.close()
        if count or not os.path.exists(path):
            checkpoint_and_validate()  # also on Ctrl-C: the steps done are kept, --resume carries on
    return last_val


def add_metrics(sums: dict[str, float], metrics: dict[str, float]) -> None:
    for k, v in metrics.items():
        sums[k] = sums.get(k, 0.0) + v


def plot(run_dir: str) -> str:
    """R/sl/sl.png: losses (left) and accuracies (right) against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rl.metrics_log import read_metrics, save_figure

    log_dir = os.path.join(run_dir, LOG_DIR)
    rows = read_metrics(log_dir)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, keys in ((ax_loss, ("train_loss", "val_loss")),
                     (ax_acc, ("train_accuracy", "val_top1", "val_top5", "test_top1", "test_top5"))):
        for key in keys:
            pairs = [(r["step"], r[key]) for r in rows
                     if isinstance(r.get(key), float) and isinstance(r.get("step"), float)]
            if pairs:
                ax.plot(*zip(*pairs), marker=".", label=key)
        ax.set_xlabel("step")
        ax.legend() if ax.lines else None
    ax_loss.set_ylabel("cross-entropy")
    ax_acc.set_ylabel("move prediction accuracy")
    fig.suptitle("AlphaGo Lee SL policy")
    fig.tight_layout()
    return save_figure(fig, os.path.join(log_dir, PLOT_FILE))
