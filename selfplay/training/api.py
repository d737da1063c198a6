"""The one trainer interface: what a training loop hands a backend, and the in-process backend.

A loop owns a trainer: an object with `model`, `optimizer`, `step`, `rng` (numpy Generator) and
`train_step(batch) -> metrics` (rl/alphago_zero/trainer.py's Trainer, or `Learner` below). To train it
`steps` steps it calls

    result = backend.fit(trainer, spec, source, steps, on_step=..., sums=...)

(`sums`: a dict the steps' metrics are added to, in place; on_step(metrics) after each step, or once
at the end with the mean where the steps ran elsewhere) and, whatever the backend, the trainer holds
the weights, optimizer state and step afterwards (also when fit raises TrainingInterrupted: then it
holds the state after the steps that finished). A backend that
trains elsewhere rebuilds the trainer there from the `TrainSpec`, four picklable callables:

    build_model()                     the architecture (weights come from the trainer's state dict)
    build_optimizer(model)            the optimizer over its parameters
    loss_fn(model, batch)             -> (loss tensor, {term: float}): the objective, the trainer's own
    lr_at(step)                       the learning rate of step `step`

and a batch source: `source.shard(rank, world)` opens worker rank's own part of the data (a sampler with
`sample(batch_size, rng)`); the in-process backend opens shard (0, 1), the whole of it.

Batch and learning rate across K workers: `spec.batch_size` is the global batch of one step. "split"
(default) gives each worker batch_size / K samples, so a step sees the same number of samples and the
same learning rate as one worker: the run is the same optimisation, only faster. "linear" gives each
worker batch_size samples (a global batch K times larger, K times fewer steps for the same samples) and
multiplies the rate by K, the linear scaling rule of Goyal et al. 2017 ("Accurate, large minibatch SGD"),
which wants a warm-up (TrainerConfig.warmup_steps).
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import numpy as np
import torch
import torch.nn as nn

MODES = ("local", "sync", "async")
SCALINGS = ("split", "linear")


@dataclass(frozen=True)
class TrainSpec:
    """How to rebuild the trainer in another process: every field must pickle (module-level functions,
    functools.partial of them, frozen dataclasses)."""

    build_model: Callable[[], nn.Module]
    build_optimizer: Callable[[nn.Module], torch.optim.Optimizer]
    loss_fn: Callable[[nn.Module, Any], tuple[torch.Tensor, dict[str, float]]]
    lr_at: Callable[[int], float]
    batch_size: int
    """Samples of one step, all workers together (see "split" and "linear" in the module docstring)."""


class Sampler(Protocol):
    def sample(self, batch_size: int, rng: np.random.Generator) -> Any: ...


class BatchSource(Protocol):
    def shard(self, rank: int, world: int) -> Sampler: ...


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during fit: the trainer holds the state after `steps_done` steps of this fit,
    whose metrics summed are `sums`. A KeyboardInterrupt, so a loop that does not catch it stops."""

    def __init__(self, steps_done: int, sums: dict[str, float]):
        super().__init__(f"training interrupted after {steps_done} steps")
        self.steps_done = steps_done
        self.sums = sums


@dataclass
class FitResult:
    steps: int
    sums: dict[str, float]
    """Per-step metrics summed over the steps (the loop divides by steps)."""
    seconds: float
    """Wall clock of the training steps, without starting or stopping workers."""
    samples: int
    stats: dict = field(default_factory=dict)
    """Backend figures: all-reduce bytes, staleness histogram, start-up seconds..."""
    snapshots: list = field(default_factory=list)
    """(step, seconds since the first step, state_dict) every `snapshot_every` steps, if asked."""

    @property
    def samples_per_s(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("nan")


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def worker_process_setup() -> None:
    """What every training process on Ray does first: one torch thread (K workers use K cores), and glibc's
    malloc told to keep freed memory for reuse.

    In a Ray worker process malloc handed the freed activations of each step back to the kernel and
    faulted them in again on the next step (which part of Ray's worker causes it was not found): on this
    machine a DDP worker took about 100,000 minor page faults a second and spent 17% of its time in the
    kernel, 240 ms a step against 200 ms for the same step in a plain process (32,000 faults a second,
    6%). Allocations up to 32 MB served from the heap and up to 256 MB of free heap kept: 26,000 faults a
    second, 6% in the kernel, 210-220 ms a step (docs/distributed.md). Linux with glibc only; elsewhere
    nothing changes."""
    import ctypes
    import ctypes.util

    torch.set_num_threads(1)
    name = ctypes.util.find_library("c")
    if not name or os.uname().sysname != "Linux":
        return
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def gradient_step(model: nn.Module, optimizer: torch.optim.Optimizer, spec: TrainSpec, step: int, batch,
                  lr_scale: float = 1.0) -> dict[str, float]:
    """One optimisation step of `model` (a DDP wrapper too): lr, loss, backward, update."""
    lr = spec.lr_at(step) * lr_scale
    set_lr(optimizer, lr)
    model.train()
    loss, terms = spec.loss_fn(model, batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    model.eval()
    return {"loss": loss.item(), **terms, "lr": lr}


class Learner:
    """A trainer built from a TrainSpec alone (Zero has its own Trainer with the same face)."""

    def __init__(self, spec: TrainSpec, seed: int = 0):
        torch.manual_seed(seed)
        self.spec = spec
        self.model = spec.build_model()
        self.optimizer = spec.build_optimizer(self.model)
        self.step = 0
        self.rng = np.random.default_rng(seed)

    def train_step(self, batch) -> dict[str, float]:
        m = gradient_step(self.model, self.optimizer, self.spec, self.step, batch)
        self.step += 1
        return m


def step_rng(seed: int, step: int, rank: int) -> np.random.Generator:
    """The sampling RNG of worker `rank` at step `step` (task `step` in async): a function of the three,
    so a restarted or resumed run draws the same batches without saving a generator's state."""
    return np.random.default_rng([seed, step, rank])


def shard_batch_size(spec: TrainSpec, world: int, scaling: str) -> int:
    if scaling == "linear":
        return spec.batch_size
    if spec.batch_size % world:
        raise ValueError(f"batch size {spec.batch_size} does not split evenly over {world} workers")
    return spec.batch_size // world


def add_sums(sums: dict[str, float], metrics: dict[str, float]) -> None:
    for k, v in metrics.items():
        sums[k] = sums.get(k, 0.0) + v


def trainer_state(trainer) -> dict:
    """What goes to other processes: weights, optimizer state, step."""
    return {"model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(), "step": trainer.step}


def load_trainer_state(trainer, state: dict) -> None:
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.step = int(state["step"])


@contextlib.contextmanager
def between_steps():
    """Hold SIGINT and SIGTERM back until the block ends, then deliver them: an interrupt lands between
    two training steps, never inside an optimizer update, so the state the trainer holds is exact."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {s: signal.signal(s, lambda signum, frame: caught.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if caught:
            signal.raise_signal(caught[0])


class LocalBackend:
    """Train in this process: trainer.train_step on the whole source, sampled with trainer.rng (exactly
    the single-process loop, so its checkpoints and resumes are unchanged)."""

    mode = "local"
    workers = 1

    def fit(self, trainer, spec: TrainSpec, source: BatchSource, steps: int,
            on_step: Callable[[dict], None] | None = None, snapshot_every: int = 0,
            sums: dict[str, float] | None = None) -> FitResult:
        sampler = source.shard(0, 1)
        sums = {} if sums is None else sums
        snapshots = []
        done, seconds = 0, 0.0
        try:
            while done < steps:
                with between_steps():
                    start = time.perf_counter()
                    m = trainer.train_step(sampler.sample(spec.batch_size, trainer.rng))
                    seconds += time.perf_counter() - start
                    add_sums(sums, m)
                    done += 1
                if snapshot_every and done % snapshot_every == 0:
                    weights = {k: v.clone() for k, v in trainer.model.state_dict().items()}
                    snapshots.append((trainer.step, seconds, weights))
                if on_step is not None:
                    on_step(m)
        except KeyboardInterrupt:
            raise TrainingInterrupted(done, sums) from None
        return FitResult(done, sums, seconds, done * spec.batch_size, {"workers": 1}, snapshots)

    def close(self) -> None:
        pass


@dataclass
class ArraySource:
    """In-memory samples: a tuple of arrays with a common first axis; a batch is the same tuple of
    torch tensors. Shard i of k holds rows i, i + k, ... (for tests and the benchmark)."""

    arrays: tuple

    def shard(self, rank: int, world: int) -> "ArraySource":
        return ArraySource(tuple(a[rank::world] for a in self.arrays))

    def __len__(self) -> int:
        return len(self.arrays[0])

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple:
        idx = rng.integers(0, len(self), size=batch_size)
        return tuple(torch.from_numpy(np.ascontiguousarray(a[idx])) for a in self.arrays)


@dataclass
class ReplaySource:
    """The Zero loop's replay window over a records folder: worker i of k samples from its own share of
    the window's records (ReplayWindow.refresh's shard), which it reads itself. `local` is the loop's own
    window, already refreshed, used for shard (0, 1) and never pickled."""

    games_dir: str
    board_size: int
    window_games: int
    max_generation: int | None = None
    local: Any = None

    def __post_init__(self) -> None:
        self.games_dir = os.path.abspath(self.games_dir)  # workers may run in another folder (Ray Train's)

    def shard(self, rank: int, world: int):
        from rl.alphago_zero.replay import ReplayWindow

        if world == 1 and self.local is not None:
            return self.local
        window = ReplayWindow(self.board_size, self.window_games)
        if window.refresh(self.games_dir, self.max_generation, shard=(rank, world)) == 0:
            raise ValueError(f"worker {rank} of {world}: its share of the replay window holds no positions")
        return window

    def __getstate__(self):
        return {**self.__dict__, "local": None}
