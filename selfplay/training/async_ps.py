"""Asynchronous data parallel: a parameter server (Li et al. 2014, "Scaling distributed machine learning
with the parameter server"; Dean et al. 2012, "Large scale distributed deep networks", Downpour SGD).

A ParameterServer actor holds the weights, the optimizer and a version (updates applied so far). K
GradientWorker actors each pull the weights, compute the gradient of the loss on their own batch and push
it; the server applies each gradient as it arrives, one optimizer step per gradient. A gradient computed
on weights of version v and applied at version u is `u - v` versions stale: the others' updates landed
in between. Staleness is measured for every gradient (the histogram in FitResult.stats) and has two
remedies, options of AsyncConfig:

  max_staleness s   bounded staleness, the idea of the stale-synchronous parallel model (Ho et al. 2013,
                    "More effective distributed ML via a stale synchronous parallel parameter server"): at
                    most s + 1 gradients are between pull and apply, and they are applied in the order
                    they were pulled, so none is more than s versions stale; a fast worker waits rather
                    than push a gradient older than that. s = 0 is plain sequential SGD (the workers take
                    turns); None is fully asynchronous.
  staleness_lr      the staleness-aware rate of Zhang et al. 2016 ("Staleness-aware async-SGD"):
                    lr / max(1, staleness).

Each task t (a global step index) is one gradient on spec.batch_size samples of worker rank's shard,
drawn with step_rng(seed, t, rank); tasks go to idle workers round robin. The driver only orchestrates:
gradients travel from worker to server as object references (ray.wait without fetching them), and the
pull of a task is submitted after every push before it, so versions are exact.

Batch-norm running statistics: a worker returns how its forward moved them, and the server adds that
change to its own (stale like the gradient).

Traffic per gradient: the worker pulls P = 4 x parameters bytes and pushes P, all through the server: 2P
per step at the server whatever K, the bottleneck at scale (sharding the server is the usual cure).
"""
from __future__ import annotations

import collections
import time
from dataclasses import dataclass

import torch

from goengine import checks
from selfplay.training.api import FitResult, TrainingInterrupted, TrainSpec, add_sums, set_lr, step_rng, trainer_state


@dataclass(frozen=True)
class AsyncConfig:
    workers: int = 2
    max_staleness: int | None = None
    """Bounded staleness s (see the module docstring); None: fully asynchronous."""
    staleness_lr: bool = False
    """Scale each gradient's learning rate by 1 / max(1, staleness)."""
    address: str | None = None
    num_cpus: int | None = None
    cpus_per_worker: float = 1.0
    server_cpus: float = 1.0
    delay_s: float = 0.0
    """Seconds each worker sleeps per gradient: stands in for a larger net's compute (bench's simulated K)."""

    def __post_init__(self) -> None:
        checks.integer("workers", self.workers, 1)
        if self.max_staleness is not None:
            checks.integer("max_staleness", self.max_staleness, 0)
        checks.number("delay_s", self.delay_s, 0)


def _float_buffers(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.named_buffers()}


class ParameterServer:
    """Weights, optimizer and version; `push` applies one gradient. A plain class: Ray makes it remote."""

    def __init__(self, spec: TrainSpec, state: dict, staleness_lr: bool, snapshot_every: int = 0):
        torch.set_num_threads(1)
        self.spec = spec
        self.model = spec.build_model()
        self.model.load_state_dict(state["model"])
        self.optimizer = spec.build_optimizer(self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.first = self.version = int(state["step"])
        self.staleness_lr = staleness_lr
        self.staleness: collections.Counter = collections.Counter()
        self.sums: dict[str, float] = {}
        self.snapshot_every = snapshot_every
        self.snapshots: list = []
        self.start = time.perf_counter()

    def mark_start(self) -> None:
        self.start = time.perf_counter()

    def pull(self) -> dict:
        return {"version": self.version, "model": self.model.state_dict()}

    def push(self, result: dict) -> int:
        staleness = self.version - result["version"]
        self.staleness[staleness] += 1
        lr = self.spec.lr_at(self.version) / (max(1, staleness) if self.staleness_lr else 1)
        set_lr(self.optimizer, lr)
        for p, g in zip(self.model.parameters(), result["grads"]):
            p.grad = g
        self.optimizer.step()
        with torch.no_grad():
            buffers = _float_buffers(self.model)
            for name, delta in result["buffer_deltas"].items():
                buffers[name].add_(delta)
        self.version += 1
        add_sums(self.sums, {**result["metrics"], "lr": lr, "staleness": staleness})
        if self.snapshot_every and (self.version - self.first) % self.snapshot_every == 0:
            self.snapshots.append((self.version, time.perf_counter() - self.start,
                                   {k: v.clone() for k, v in self.model.state_dict().items()}))
        return self.version

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "step": self.version,
                "sums": self.sums, "staleness": dict(self.staleness), "snapshots": self.snapshots,
                "seconds": time.perf_counter() - self.start}


class GradientWorker:
    """Worker `rank` of `world`: a copy of the net and its own shard of the data."""

    def __init__(self, spec: TrainSpec, source, rank: int, world: int, seed: int, delay_s: float = 0.0):
        torch.set_num_threads(1)
        self.spec = spec
        self.model = spec.build_model()
        self.sampler = source.shard(rank, world)
        self.rank, self.seed, self.delay_s = rank, seed, delay_s

    def compute(self, weights: dict, task: int) -> dict:
        self.model.load_state_dict(weights["model"])
        before = {k: v.clone() for k, v in _float_buffers(self.model).items()}
        batch = self.sampler.sample(self.spec.batch_size, step_rng(self.seed, task, self.rank))
        if self.delay_s:
            time.sleep(self.delay_s)
        self.model.train()
        loss, terms = self.spec.loss_fn(self.model, batch)
        self.model.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.model.parameters()]
        deltas = {k: v - before[k] for k, v in _float_buffers(self.model).items()}
        return {"grads": grads, "buffer_deltas": deltas, "version": weights["version"],
                "metrics": {"loss": loss.item(), **terms}, "task": task}


class AsyncBackend:
    mode = "async"

    def __init__(self, config: AsyncConfig = AsyncConfig()):
        from selfplay.training._ray import RaySession

        self.config = config
        self.workers = config.workers
        self._ray = RaySession(config.address, config.num_cpus)

    def fit(self, trainer, spec: TrainSpec, source, steps: int, on_step=None, snapshot_every: int = 0,
            sums: dict[str, float] | None = None) -> FitResult:
        import ray

        c = self.config
        if steps == 0:
            return FitResult(0, {}, 0.0, 0)
        seed = int(trainer.rng.integers(2**31))
        server = ray.remote(num_cpus=c.server_cpus)(ParameterServer).remote(
            spec, trainer_state(trainer), c.staleness_lr, snapshot_every)
        remote_worker = ray.remote(num_cpus=c.cpus_per_worker)(GradientWorker)
        workers = [remote_worker.remote(spec, source, rank, c.workers, seed, c.delay_s) for rank in range(c.workers)]
        window = c.workers if c.max_staleness is None else c.max_staleness + 1
        first = trainer.step
        ready_at = time.perf_counter()
        ray.get([server.mark_start.remote()] + [w.__ray_ready__.remote() for w in workers])
        start = time.perf_counter()
        idle = collections.deque(range(c.workers))
        pending: dict = {}  # result ref -> (task, rank), pulled and not yet pushed
        done_early: dict = {}  # task -> (ref, rank): computed, waiting for older tasks (bounded staleness)
        next_task = pushed = 0
        try:
            while pushed < steps:
                busy = len(pending) + len(done_early)
                while idle and next_task < steps and busy < window:
                    rank = idle.popleft()
                    ref = workers[rank].compute.remote(server.pull.remote(), first + next_task)
                    pending[ref] = (next_task, rank)
                    next_task, busy = next_task + 1, busy + 1
                [ref], _ = ray.wait(list(pending), num_returns=1, fetch_local=False)
                task, rank = pending.pop(ref)
                to_push = [(task, ref, rank)]
                if c.max_staleness is not None:  # apply in pull order: the oldest task first
                    done_early[task] = (ref, rank)
                    oldest = min([t for t, _ in pending.values()] + list(done_early))
                    to_push = []
                    while oldest in done_early:
                        r, k = done_early.pop(oldest)
                        to_push.append((oldest, r, k))
                        oldest += 1
                for _, r, k in to_push:
                    server.push.remote(r)
                    idle.append(k)
                    pushed += 1
                    if on_step is not None:
                        on_step({})
                # an idle worker rejoins the round robin in rank order
                idle = collections.deque(sorted(idle, key=lambda k: (k - next_task) % c.workers))
            state = ray.get(server.state.remote())
        except KeyboardInterrupt:
            state = ray.get(server.state.remote())  # what was applied, exactly
            _load(trainer, state)
            total = {} if sums is None else sums
            add_sums(total, state["sums"])
            raise TrainingInterrupted(state["step"] - first, total) from None
        finally:
            for handle in [server, *workers]:
                ray.kill(handle)
        seconds = time.perf_counter() - start
        _load(trainer, state)
        histogram = {int(k): int(v) for k, v in sorted(state["staleness"].items())}
        param_bytes = sum(p.numel() * p.element_size() for p in trainer.model.parameters())
        stats = {"workers": c.workers, "startup_seconds": start - ready_at, "staleness_histogram": histogram,
                 "mean_staleness": sum(k * v for k, v in histogram.items()) / max(1, sum(histogram.values())),
                 "server_bytes_per_step": 2 * param_bytes}
        sums = {} if sums is None else sums
        add_sums(sums, state["sums"])
        return FitResult(steps, sums, seconds, steps * spec.batch_size, stats, list(state["snapshots"]))

    def close(self) -> None:
        self._ray.close()


def _load(trainer, state: dict) -> None:
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.step = int(state["step"])
