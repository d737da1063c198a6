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
  delay_compensation  lambda_0 of DC-ASGD-a (Zheng et al. 2017): each stale gradient is corrected by the
                    first-order term of how it would have changed between the pulled weights and the
                    current ones (ParameterServer._compensate); the server keeps each pulled version's
                    weights until its gradients are in.
  lookahead         momentum look-ahead (DANA, Hakimi et al. 2019, "Taming momentum in a distributed
                    asynchronous environment"): with heavy-ball momentum the weights keep moving by about
                    lr * mu * v per update whatever the new gradients, so a worker is sent not the current
                    weights w but where they will be when its gradient lands, tau updates later:
                    w - lr * (mu + mu^2 + ... + mu^tau) * v, tau = K - 1 (the steady staleness of K
                    workers; at most max_staleness). The gradient is then computed near the weights it is
                    applied to. SGD with momentum only (ParameterServer.pull).

Each task t (a global step index) is one gradient on spec.batch_size samples of worker rank's shard,
drawn with step_rng(seed, t, rank); tasks go to idle workers round robin. The driver only orchestrates:
gradients travel from worker to server as object references (ray.wait without fetching them), and the
pull of a task is submitted after every push before it, so versions are exact.

Batch-norm running statistics: a worker returns how its forward moved them, and the server adds that
change to its own (stale like the gradient). Weights, gradients and buffers travel as one float32 vector
each, not as state dicts of tensors (7x less time in Ray's serialisation on this machine).

Traffic per gradient: the worker pulls P = 4 x parameters bytes and pushes P, all through the server: 2P
per step at the server whatever K, the bottleneck at scale (sharding the server is the usual cure).
"""
from __future__ import annotations

import collections
import time
from dataclasses import dataclass

import numpy as np
import torch

from goengine import checks
from selfplay.training.api import (FitResult, TrainingInterrupted, TrainSpec, add_sums, set_lr, step_rng, trainer_state,
                                   worker_process_setup)


@dataclass(frozen=True)
class AsyncConfig:
    workers: int = 2
    max_staleness: int | None = None
    """Bounded staleness s (see the module docstring); None: fully asynchronous."""
    staleness_lr: bool = False
    """Scale each gradient's learning rate by 1 / max(1, staleness)."""
    delay_compensation: float = 0.0
    """lambda_0 of DC-ASGD-a (ParameterServer._compensate); 0: off."""
    lookahead: bool = False
    """Send workers the weights extrapolated along the momentum by the expected staleness (DANA)."""
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
        checks.number("delay_compensation", self.delay_compensation, 0)
        checks.number("delay_s", self.delay_s, 0)


def _float_buffers(model: torch.nn.Module) -> list[torch.Tensor]:
    """The floating-point buffers (batch norm's running mean and variance), in a fixed order."""
    return [b for b in model.buffers() if b.is_floating_point()]


def _count_buffers(model: torch.nn.Module) -> list[torch.Tensor]:
    """The integer buffers (batch norm's num_batches_tracked)."""
    return [b for b in model.buffers() if not b.is_floating_point()]


def _flat(tensors) -> np.ndarray:
    """One float32 vector of `tensors`, which travels through Ray's object store without pickling each
    tensor: a state dict of 72 tensors took 54 ms to go to an actor and back, one vector 8 ms."""
    tensors = list(tensors)
    if not tensors:
        return np.zeros(0, dtype=np.float32)
    return torch.cat([t.detach().reshape(-1).float() for t in tensors]).numpy()


def _unflat(vector: np.ndarray, like) -> list[torch.Tensor]:
    """Tensors shaped as `like`, copied out of `vector` (Ray hands a read-only view)."""
    flat = torch.tensor(vector)
    out, at = [], 0
    for t in like:
        out.append(flat[at:at + t.numel()].view_as(t).to(t.dtype))
        at += t.numel()
    return out


def _copy_into(tensors, vector: np.ndarray) -> None:
    with torch.no_grad():
        for t, value in zip(tensors, _unflat(vector, tensors)):
            t.copy_(value)


class ParameterServer:
    """Weights, optimizer and version; `push` applies one gradient. A plain class: Ray makes it remote."""

    def __init__(self, spec: TrainSpec, state: dict, staleness_lr: bool, snapshot_every: int = 0,
                 delay_compensation: float = 0.0, lookahead_steps: int = 0):
        worker_process_setup()
        self.spec = spec
        self.model = spec.build_model()
        self.model.load_state_dict(state["model"])
        self.optimizer = spec.build_optimizer(self.model)
        self.optimizer.load_state_dict(state["optimizer"])
        self.first = self.version = int(state["step"])
        self.staleness_lr = staleness_lr
        self.delay_compensation = delay_compensation
        self.lookahead_steps = lookahead_steps
        if lookahead_steps and not (isinstance(self.optimizer, torch.optim.SGD)
                                    and all(g["momentum"] > 0 and not g["nesterov"] for g in self.optimizer.param_groups)):
            raise ValueError("the momentum look-ahead needs SGD with (heavy-ball) momentum")
        self.pulled: dict[int, list] = {}  # version -> [flat weights, pulls not yet pushed] (delay compensation)
        self.mean_square: torch.Tensor | None = None
        self.staleness: collections.Counter = collections.Counter()
        self.sums: dict[str, float] = {}
        self.snapshot_every = snapshot_every
        self.snapshots: list = []
        self.start = time.perf_counter()

    def mark_start(self) -> None:
        self.start = time.perf_counter()

    def _ahead(self) -> list[torch.Tensor]:
        """The parameters extrapolated lookahead_steps updates along the momentum: torch's SGD steps
        v <- mu v + g, w <- w - lr v, so with no new gradient tau updates move w by
        -lr (mu + ... + mu^tau) v (the lr of the current version; a parameter without a buffer yet stays)."""
        lr = self.spec.lr_at(self.version)
        reach = {id(p): sum(group["momentum"] ** i for i in range(1, self.lookahead_steps + 1))
                 for group in self.optimizer.param_groups for p in group["params"]}
        out = []
        for p in self.model.parameters():  # the order workers copy them in
            buffer = self.optimizer.state.get(p, {}).get("momentum_buffer")
            out.append(p.detach() if buffer is None else p.detach() - lr * reach[id(p)] * buffer)
        return out

    def pull(self) -> dict:
        params = _flat(self._ahead() if self.lookahead_steps else self.model.parameters())
        if self.delay_compensation:
            self.pulled.setdefault(self.version, [params, 0])[1] += 1
        return {"version": self.version, "params": params, "buffers": _flat(_float_buffers(self.model))}

    def _compensate(self, grad: torch.Tensor, version: int) -> torch.Tensor:
        """DC-ASGD-a (Zheng et al. 2017, "Asynchronous stochastic gradient descent with delay compensation"):
        g + lambda_t * g * g * (w_now - w_pulled), the first-order Taylor term of the gradient's change
        between the weights it was computed on and the weights it is applied to, with the Hessian
        approximated by the outer product g g^T (its diagonal), and lambda_t = lambda_0 / sqrt(mean square
        of g), the mean square a moving average (0.95) kept element by element."""
        entry = self.pulled[version]
        entry[1] -= 1
        stale = torch.from_numpy(entry[0])
        if entry[1] == 0:
            del self.pulled[version]
        square = grad * grad
        if self.mean_square is None:
            self.mean_square = square.clone()
        else:
            self.mean_square.mul_(0.95).add_(square, alpha=0.05)
        if version == self.version:
            return grad
        now = torch.from_numpy(_flat(self.model.parameters()))
        scale = self.delay_compensation / torch.sqrt(self.mean_square + 1e-7)
        return grad + scale * square * (now - stale)

    def push(self, result: dict) -> int:
        staleness = self.version - result["version"]
        self.staleness[staleness] += 1
        lr = self.spec.lr_at(self.version) / (max(1, staleness) if self.staleness_lr else 1)
        set_lr(self.optimizer, lr)
        params = list(self.model.parameters())
        grads = result["grads"]
        if self.delay_compensation:
            grads = self._compensate(torch.tensor(grads), result["version"]).numpy()
        for p, g in zip(params, _unflat(grads, params)):
            p.grad = g
        self.optimizer.step()
        buffers = _float_buffers(self.model)
        with torch.no_grad():
            for b, delta in zip(buffers, _unflat(result["buffer_deltas"], buffers)):
                b.add_(delta)
            for b, delta in zip(_count_buffers(self.model), result["count_deltas"]):
                b.add_(delta)
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
        worker_process_setup()
        self.spec = spec
        self.model = spec.build_model()
        self.sampler = source.shard(rank, world)
        self.rank, self.seed, self.delay_s = rank, seed, delay_s

    def compute(self, weights: dict, task: int) -> dict:
        params, buffers = list(self.model.parameters()), _float_buffers(self.model)
        _copy_into(params, weights["params"])
        _copy_into(buffers, weights["buffers"])
        counts = [int(b) for b in _count_buffers(self.model)]
        batch = self.sampler.sample(self.spec.batch_size, step_rng(self.seed, task, self.rank))
        if self.delay_s:
            time.sleep(self.delay_s)
        self.model.train()
        loss, terms = self.spec.loss_fn(self.model, batch)
        self.model.zero_grad(set_to_none=True)
        loss.backward()
        grads = _flat(p.grad if p.grad is not None else torch.zeros_like(p) for p in params)
        deltas = _flat(buffers) - weights["buffers"]
        count_deltas = [int(b) - n for b, n in zip(_count_buffers(self.model), counts)]
        return {"grads": grads, "buffer_deltas": deltas, "count_deltas": count_deltas, "version": weights["version"],
                "metrics": {"loss": loss.item(), **terms}, "task": task}


class AsyncBackend:
    mode = "async"

    def __init__(self, config: AsyncConfig = AsyncConfig()):
        from selfplay.training._ray import RaySession

        self.config = config
        self.workers = config.workers
        self.lookahead_steps = self.lookahead_for(config)
        self._ray = RaySession(config.address, config.num_cpus)

    @staticmethod
    def lookahead_for(config: AsyncConfig) -> int:
        """Updates the look-ahead extrapolates over: the staleness a gradient has in steady state, K - 1
        (the other workers' updates land while it is computed), at most max_staleness; 0 without it."""
        if not config.lookahead:
            return 0
        return config.workers - 1 if config.max_staleness is None else min(config.workers - 1, config.max_staleness)

    def fit(self, trainer, spec: TrainSpec, source, steps: int, on_step=None, snapshot_every: int = 0,
            sums: dict[str, float] | None = None) -> FitResult:
        import ray

        c = self.config
        if steps == 0:
            return FitResult(0, {}, 0.0, 0)
        seed = int(trainer.rng.integers(2**31))
        server = ray.remote(num_cpus=c.server_cpus)(ParameterServer).remote(
            spec, trainer_state(trainer), c.staleness_lr, snapshot_every, c.delay_compensation,
            self.lookahead_steps)
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
