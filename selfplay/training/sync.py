"""Synchronous data parallel: DDP (torch.distributed, gloo on CPU, nccl on GPUs) launched by Ray Train's
TorchTrainer, on an embedded local Ray or a cluster (`address`).

Each of K workers rebuilds the trainer from the TrainSpec and the driver's state (weights, optimizer,
step), opens its own shard of the source (`source.shard(rank, K)`: a Zero worker reads its share of the
replay window's records itself) and, each step, samples its batch, computes the loss and calls backward;
DistributedDataParallel averages the gradients over the workers with all-reduce while backward runs
(Li et al. 2020, "PyTorch Distributed: experiences on accelerating data parallel training"), so every
worker applies the same update and the weights stay equal. With "split" scaling the K shard batches make
one global batch of spec.batch_size, and the averaged gradient is the gradient of the mean loss over it:
the same step one process takes on the concatenated batch (what tests/selfplay/test_training.py checks).

Batch norm: each worker normalises with its own shard batch's statistics (as plain DDP does; PyTorch's
SyncBatchNorm needs a GPU), and rank 0's running statistics are broadcast before each forward. Over 20
seeds of bench/train.py the 2-worker curve per sample was the 1-worker curve's (-0.004, standard error
about 0.02), while synchronising the statistics would cost two blocking gloo all-reduces per batch norm
and step (1.2 ms each on a 2-core machine: docs/distributed.md).

Checkpoints come from rank 0 only: every `checkpoint_every` steps and at the end it reports weights,
optimizer state and step to Ray Train (persisted under `storage_path`), the others report metrics alone.
The driver loads the last one into the trainer; on Ctrl-C it loads the newest one persisted, so an
interrupted fit resumes from there.

Traffic: a step all-reduces every gradient once, P = 4 bytes x parameters; a ring all-reduce sends
2 (K - 1) / K x P bytes per worker per step, whatever K (Patarasuk & Yuan 2009).
"""
from __future__ import annotations

import glob
import os
import pickle
import shutil
import signal
import threading
import tempfile
import time
from dataclasses import dataclass

import torch

from goengine import checks
from selfplay.training.api import (SCALINGS, FitResult, TrainingInterrupted, TrainSpec, add_sums, gradient_step,
                                   load_trainer_state, shard_batch_size, step_rng, trainer_state, worker_process_setup)

STATE_FILE = "trainer_state.pt"


@dataclass(frozen=True)
class SyncConfig:
    workers: int = 2
    address: str | None = None
    """A Ray cluster ("host:port" or "auto"); None: an embedded local Ray (unless one is running)."""
    num_cpus: int | None = None
    """CPUs of an embedded local Ray (None: all)."""
    cpus_per_worker: float = 1.0
    scaling: str = "split"
    """"split": each worker batch_size / K, lr unchanged; "linear": each batch_size, lr x K (api.py)."""
    checkpoint_every: int = 0
    """Rank 0 checkpoints every this many steps (0: only at the end)."""
    storage_path: str | None = None
    """Where Ray Train persists checkpoints (a shared folder or bucket on a cluster); None: a temporary
    folder, removed after the fit."""
    use_gpu: bool = False
    """One GPU per worker and the nccl backend."""
    delay_s: float = 0.0
    """Seconds each worker sleeps per step: stands in for the compute of a larger net (bench's simulated
    K); 0 in real use."""

    def __post_init__(self) -> None:
        checks.integer("workers", self.workers, 1)
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling must be one of {', '.join(SCALINGS)}, not {self.scaling!r}")
        checks.integer("checkpoint_every", self.checkpoint_every, 0)
        checks.number("delay_s", self.delay_s, 0)


def _gradient_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)


def _worker_loop(cfg: dict) -> None:
    """Ray Train's train_loop_per_worker: the process group is already up."""
    import ray.train
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    worker_process_setup()
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    spec: TrainSpec = cfg["spec"]
    model = spec.build_model()
    model.load_state_dict(cfg["state"]["model"])
    optimizer = spec.build_optimizer(model)
    optimizer.load_state_dict(cfg["state"]["optimizer"])
    device = torch.device("cpu")
    if cfg["use_gpu"]:
        device = ray.train.torch.get_device()
        model.to(device)
    ddp = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    sampler = cfg["source"].shard(rank, world)
    batch_size = shard_batch_size(spec, world, cfg["scaling"])
    lr_scale = world if cfg["scaling"] == "linear" else 1.0
    first, steps, every = cfg["state"]["step"], cfg["steps"], cfg["checkpoint_every"]
    sums: dict[str, float] = {}
    snapshots = []
    dist.barrier()  # the clock starts when every worker is ready
    start = time.perf_counter()
    for done in range(1, steps + 1):
        step = first + done - 1
        batch = sampler.sample(batch_size, step_rng(cfg["seed"], step, rank))
        if cfg["delay_s"]:
            time.sleep(cfg["delay_s"])
        add_sums(sums, gradient_step(ddp, optimizer, spec, step, batch, lr_scale))
        if cfg["snapshot_every"] and done % cfg["snapshot_every"] == 0 and rank == 0:
            snapshots.append((step + 1, time.perf_counter() - start,
                              {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}))
        if done == steps or (every and done % every == 0):
            seconds = time.perf_counter() - start
            keys = sorted(sums)
            mean = torch.tensor([sums[k] for k in keys], dtype=torch.float64)
            dist.all_reduce(mean)  # the metrics of all shards, summed over workers and steps
            metrics = {"steps_done": done, "seconds": seconds, **{k: v / world for k, v in zip(keys, mean.tolist())}}
            if rank == 0:
                with tempfile.TemporaryDirectory() as folder:
                    torch.save({"model": {k: v.cpu() for k, v in model.state_dict().items()},
                                "optimizer": optimizer.state_dict(), "step": step + 1, "steps_done": done,
                                "sums": metrics, "snapshots": snapshots if done == steps else []},
                               os.path.join(folder, STATE_FILE))
                    ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
            else:
                ray.train.report(metrics)


def _load_state(folder: str) -> dict:
    return torch.load(os.path.join(folder, STATE_FILE), weights_only=True, map_location="cpu")


class SyncBackend:
    """`fit` runs one TorchTrainer of config.workers DDP workers; Ray is joined or started once."""

    mode = "sync"

    def __init__(self, config: SyncConfig = SyncConfig()):
        from selfplay.training._ray import RaySession

        self.config = config
        self.workers = config.workers
        self._ray = RaySession(config.address, config.num_cpus)

    def fit(self, trainer, spec: TrainSpec, source, steps: int, on_step=None, snapshot_every: int = 0,
            sums: dict[str, float] | None = None) -> FitResult:
        from ray.train import RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer

        c = self.config
        if steps == 0:
            return FitResult(0, {}, 0.0, 0)
        shard_batch_size(spec, c.workers, c.scaling)  # a batch that does not split: fail here, not in K workers
        storage = c.storage_path or tempfile.mkdtemp(prefix="goengine-sync-")
        name = f"fit-step{trainer.step}-{os.getpid()}-{time.time_ns()}"
        cfg = {"spec": spec, "state": trainer_state(trainer), "source": source, "steps": steps,
               "seed": int(trainer.rng.integers(2**31)), "scaling": c.scaling, "checkpoint_every": c.checkpoint_every,
               "snapshot_every": snapshot_every, "delay_s": c.delay_s, "use_gpu": c.use_gpu}
        resources = {"CPU": c.cpus_per_worker, **({"GPU": 1} if c.use_gpu else {})}
        torch_trainer = TorchTrainer(
            _worker_loop, train_loop_config=cfg,
            scaling_config=ScalingConfig(num_workers=c.workers, use_gpu=c.use_gpu, resources_per_worker=resources),
            torch_config=TorchConfig(backend="nccl" if c.use_gpu else "gloo"),
            run_config=RunConfig(storage_path=storage, name=name))
        start = time.perf_counter()
        # Ray Train's fit() installs its own SIGINT handler and leaves it behind; put back the caller's, or
        # a later Ctrl-C in this process would go to a dead controller instead of raising KeyboardInterrupt
        handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            result = torch_trainer.fit()
            if result.error is not None:
                raise result.error
            with result.checkpoint.as_directory() as folder:
                state = _load_state(folder)
        except KeyboardInterrupt:
            state = self._newest(os.path.join(storage, name))
            total = {} if sums is None else sums
            if state is not None:
                load_trainer_state(trainer, state)
                add_sums(total, _sums(state["sums"]))
            raise TrainingInterrupted(state["steps_done"] if state else 0, total) from None
        finally:
            if threading.current_thread() is threading.main_thread():
                for number, handler in handlers.items():
                    signal.signal(number, handler)
            if c.storage_path is None:
                shutil.rmtree(storage, ignore_errors=True)
        wall = time.perf_counter() - start
        load_trainer_state(trainer, state)
        fit_sums = _sums(state["sums"])
        sums = {} if sums is None else sums
        add_sums(sums, fit_sums)
        if on_step is not None:
            on_step({k: v / steps for k, v in fit_sums.items()})
        seconds = float(state["sums"]["seconds"])
        grad_bytes = _gradient_bytes(trainer.model)
        stats = {"workers": c.workers, "startup_seconds": wall - seconds,
                 "allreduce_payload_bytes_per_step": grad_bytes,
                 "ring_bytes_sent_per_worker_per_step": 2 * (c.workers - 1) / c.workers * grad_bytes}
        samples = steps * shard_batch_size(spec, c.workers, c.scaling) * c.workers
        return FitResult(steps, sums, seconds, samples, stats, list(state.get("snapshots", [])))

    @staticmethod
    def _newest(folder: str) -> dict | None:
        best = None
        for path in glob.glob(os.path.join(folder, "**", STATE_FILE), recursive=True):
            try:
                state = _load_state(os.path.dirname(path))
            except (OSError, RuntimeError, EOFError, pickle.UnpicklingError):  # cut off by the interrupt
                continue
            if best is None or state["step"] > best["step"]:
                best = state
        return best

    def close(self) -> None:
        self._ray.close()


def _sums(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if k not in ("steps_done", "seconds")}
