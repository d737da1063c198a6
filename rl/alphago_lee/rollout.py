"""AlphaGo Lee's fast rollout policy p_π trained from converted records (Silver et al. 2016, Methods "Rollout
policy": a linear softmax over local pattern features, trained by maximum likelihood on expert moves).

    examples, skipped = encode_split(split, policy)       # (position, move) pairs of a split, as feature ids
    trainer = RolloutTrainer(RolloutTrainConfig(board_size=9))
    trainer.train_step(examples.subset(rows))             # Adam on the cross-entropy of the move played
    policy = load_rollout_policy("runs/lee9/rollout.pt")  # -> goengine.mcts.rollout_policy.RolloutPolicy
    us = microseconds_per_move(policy, positions)         # playouts by the numba kernels, µs per move

The net is nets/go/rollout.py's `lee_rollout` (its hashed weight table); the features, their hashing and
the numba playouts are goengine/mcts/rollout_policy.py. A checkpoint is R/rollout.pt (feature set
"rollout_patterns", extra: stage, settings, optimizer state, step, accuracies); `load_rollout_policy` is the one
function that turns it into the RolloutPolicy the playouts (and the Lee player) run.

Moves a rollout policy cannot choose (passes, which dataset.py leaves out anyway, and moves into an own
eye-like point) are not rollout candidates: they are skipped, and counted.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from goengine import coords
from goengine.board import rng_state
from goengine.mcts.rollout_policy import RolloutPolicy, rollout_playout
from nets.go import checkpoint
from nets.go.rollout import LeeRollout, RolloutConfig, RolloutExamples, encode_examples
from rl.alphago_lee.dataset import Split

ROLLOUT_FILE = "rollout.pt"
LOG_DIR = "rollout"
FEATURE_SET = "rollout_patterns"


@dataclass(frozen=True)
class RolloutTrainConfig:
    """The rollout stage's settings, saved in the checkpoint (extra["rollout_config"])."""

    board_size: int = 9
    response_bits: int = 16
    """2^response_bits weights for the diamond response patterns."""
    pattern_bits: int = 17
    """2^pattern_bits weights for the 3x3 non-response patterns."""
    batch_size: int = 512
    lr: float = 0.02
    """Adam's learning rate."""
    weight_decay: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        RolloutConfig(response_bits=self.response_bits, pattern_bits=self.pattern_bits, board_size=self.board_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a non-negative number, got {self.weight_decay}")

    @property
    def net(self) -> RolloutConfig:
        return RolloutConfig(response_bits=self.response_bits, pattern_bits=self.pattern_bits,
                             board_size=self.board_size)


def split_pairs(split: Split, limit: int | None = None) -> list:
    """(board before the move, padded point played) of the split's examples, replaying each game once."""
    pairs = []
    for g in range(split.n_games):
        rows = split.examples_of(g)
        if rows.size == 0:
            continue
        positions = split.game(g).replay()
        for i in rows:
            a = int(split.action_P[i])
            pairs.append((positions[split.move_number_P[i] - 1].board,
                          coords.point(a // split.size, a % split.size, split.size)))
        if limit is not None and len(pairs) >= limit:
            return pairs[:limit]
    return pairs


def encode_split(split: Split, policy: RolloutPolicy, limit: int | None = None) -> tuple[RolloutExamples, int]:
    """The split's examples encoded with `policy`'s feature hashing, and how many were skipped."""
    return encode_examples(split_pairs(split, limit), policy)


def loss_fn(model: LeeRollout, batch: RolloutExamples) -> tuple[torch.Tensor, dict[str, float]]:
    logits_NA = model(batch.ids_NAK, batch.mask_NA)
    loss = F.cross_entropy(logits_NA, batch.target_N)
    accuracy = (logits_NA.detach().argmax(dim=1) == batch.target_N).float().mean().item()
    return loss, {"loss": loss.item(), "accuracy": accuracy}


class RolloutTrainer:
    """The weight table, Adam, the step; batches drawn with default_rng([seed, step]) (exact resumes)."""

    def __init__(self, config: RolloutTrainConfig, model: LeeRollout | None = None):
        torch.manual_seed(config.seed)
        self.config = config
        self.model = model if model is not None else LeeRollout(config.net)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.step = 0

    @property
    def rng(self) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, self.step])

    def sample(self, examples: RolloutExamples) -> RolloutExamples:
        rows = self.rng.integers(0, len(examples), size=min(self.config.batch_size, len(examples)))
        return examples.subset(torch.from_numpy(rows))

    def train_step(self, batch: RolloutExamples) -> dict[str, float]:
        self.model.train()
        loss, metrics = loss_fn(self.model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.model.eval()
        self.step += 1
        return metrics

    def save(self, path: str, **extra) -> None:
        checkpoint.save(path, self.model, feature_set=FEATURE_SET, extra={
            "stage": "rollout", "rollout_config": dataclasses.asdict(self.config), "step": self.step,
            "optimizer": self.optimizer.state_dict(), **extra})

    @classmethod
    def load(cls, path: str, board_size: int | None = None) -> tuple["RolloutTrainer", dict]:
        model, meta = checkpoint.load(path, board_size=board_size, feature_set=FEATURE_SET)
        extra = meta.extra if isinstance(meta.extra, dict) else {}
        if extra.get("stage") != "rollout" or "rollout_config" not in extra:
            raise checkpoint.CheckpointError(f"checkpoint {path}: not a rollout checkpoint of "
                                             f"goengine train lee rollout")
        try:
            trainer = cls(RolloutTrainConfig(**extra["rollout_config"]), model)
            trainer.optimizer.load_state_dict(extra["optimizer"])
        except (KeyError, TypeError, ValueError) as e:
            raise checkpoint.CheckpointError(f"checkpoint {path}: bad rollout settings or optimizer state "
                                             f"({e})") from None
        trainer.step = int(extra.get("step", 0))
        return trainer, extra


def accuracy(model: LeeRollout, examples: RolloutExamples, batch_size: int = 2048) -> float:
    """Top-1: the move played has the largest logit among the candidates."""
    if len(examples) == 0:
        return float("nan")
    hits = 0
    with torch.no_grad():
        for lo in range(0, len(examples), batch_size):
            part = examples.subset(slice(lo, lo + batch_size))
            hits += int((model(part.ids_NAK, part.mask_NA).argmax(dim=1) == part.target_N).sum())
    return hits / len(examples)


def load_rollout_policy(path: str | os.PathLike, board_size: int | None = None) -> RolloutPolicy:
    """The rollout policy saved at `path` (R/rollout.pt) as the numba RolloutPolicy playouts run.
    CheckpointError (one line, naming the file) for anything else, or for another board size when given."""
    model, meta = checkpoint.load(path, board_size=board_size, feature_set=FEATURE_SET)
    if not isinstance(model, LeeRollout):
        raise checkpoint.CheckpointError(f"checkpoint {os.fspath(path)}: a {meta.net} net, not a lee_rollout table")
    return model.numba_policy()


def microseconds_per_move(policy: RolloutPolicy, boards: list, seed: int = 0, min_moves: int = 20000) -> dict:
    """Play out copies of `boards` to the end with p_π (the numba kernels, as the Lee player's leaves do) until
    at least `min_moves` moves; -> {"us_per_move", "moves", "playouts"}."""
    if not boards:
        return {"us_per_move": float("nan"), "moves": 0, "playouts": 0}
    state = rng_state(seed)
    first = boards[0]
    buffer = np.empty(3 * first.geo.size ** 2, dtype=np.int32)
    warm = first.copy()  # compile outside the timing
    g = warm.geo
    rollout_playout(warm.s, warm.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board, g.width, policy.spec,
                    policy.expw, state, len(buffer), buffer, 0)
    moves = playouts = 0
    started = time.perf_counter()
    while moves < min_moves:
        board = boards[playouts % len(boards)].copy()
        g = board.geo
        _score, t = rollout_playout(board.s, board.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board, g.width,
                                    policy.spec, policy.expw, state, len(buffer), buffer, 0)
        moves += max(1, t)
        playouts += 1
    seconds = time.perf_counter() - started
    return {"us_per_move": 1e6 * seconds / moves, "moves": moves, "playouts": playouts}


def train_rollout(trainer: RolloutTrainer, train: RolloutExamples, val: RolloutExamples, run_dir: str, *,
                  steps: int | None = None, minutes: float | None = None, log=None, progress=None,
                  extra: dict | None = None) -> dict[str, float]:
    """Train until step `steps` (counted over resumes) or `minutes` of this call; validate and checkpoint
    (R/rollout.pt) at each epoch's end and at the end. Returns the last row logged."""
    steps_per_epoch = max(1, len(train) // trainer.config.batch_size)
    path = os.path.join(run_dir, ROLLOUT_FILE)
    started = time.monotonic()
    bar = progress(total=(steps - trainer.step) if steps is not None else None, unit="step",
                   desc="rollout") if progress else None
    sums, count, last = {"loss": 0.0, "accuracy": 0.0}, 0, {}

    def validate_and_save() -> None:
        nonlocal sums, count, last
        last = {"step": trainer.step, "epoch": trainer.step / steps_per_epoch,
                "minutes": (time.monotonic() - started) / 60}
        if count:
            last |= {"train_loss": sums["loss"] / count, "train_accuracy": sums["accuracy"] / count}
        if len(val):
            last["val_top1"] = accuracy(trainer.model, val)
        if log is not None:
            log.log(**last)
        trainer.save(path, **(extra or {}))
        sums, count = {"loss": 0.0, "accuracy": 0.0}, 0

    try:
        while not (steps is not None and trainer.step >= steps) and \
                not (minutes is not None and time.monotonic() - started >= 60 * minutes):
            m = trainer.train_step(trainer.sample(train))
            sums["loss"] += m["loss"]
            sums["accuracy"] += m["accuracy"]
            count += 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{m['loss']:.2f}", refresh=False)
            if trainer.step % steps_per_epoch == 0:
                validate_and_save()
    finally:
        if bar is not None:
            bar.close()
        if count or not os.path.exists(path):
            validate_and_save()
    return last
