"""Training on more than one process: one interface, three backends, and model parallelism.

Start with api.py (the interface a training loop calls: `backend.fit(trainer, spec, source, steps)`, the
TrainSpec of builder, optimizer, loss_fn and lr schedule, batch sources with shards, LocalBackend), then

    sync.py       synchronous data parallel: DDP over torch.distributed, launched by Ray Train's TorchTrainer
    async_ps.py   asynchronous data parallel: a parameter-server actor and K gradient workers, staleness
                  measured, bounded staleness, staleness-scaled learning rate, delay
                  compensation and momentum look-ahead as remedies
    pipeline.py   model parallel: the Zero ResNet in 2 pipeline stages (Ray actors) with micro-batches
    zero.py       AlphaGo Zero's Trainer as a TrainSpec (rl/alphago_lee/sl.py offers the Lee SL one)
    cli.py        --train-mode / --train-workers flags and the backend they make
    toy.py        a small regression problem for tests and checks

Figures: bench/train.py (`goengine bench train`); how to run: docs/distributed.md.
"""
from __future__ import annotations

import os

from selfplay.training.api import MODES, LocalBackend


def make_backend(mode: str = "local", workers: int = 1, *, address: str | None = None,
                 num_cpus: int | None = None, cpus_per_worker: float = 1.0, max_staleness: int | None = None,
                 staleness_lr: bool = False, delay_compensation: float = 0.0, lookahead: bool = False,
                 scaling: str = "split"):
    """The backend of a mode: "local" (this process), "sync" (DDP on `workers` Ray Train workers) or
    "async" (a parameter server and `workers` gradient workers). Ray is joined if running, else started
    (locally with `num_cpus`, by default enough logical CPUs for every actor)."""
    if mode not in MODES:
        raise ValueError(f"train mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "local":
        if workers != 1:
            raise ValueError(f"train mode local trains in this process: train workers must be 1, not {workers}")
        return LocalBackend()
    if num_cpus is None and address is None:  # room for every actor, should this start Ray
        num_cpus = max(os.cpu_count() or 1, workers + (mode == "async"))
    if mode == "sync":
        from selfplay.training.sync import SyncBackend, SyncConfig

        return SyncBackend(SyncConfig(workers=workers, address=address, num_cpus=num_cpus,
                                      cpus_per_worker=cpus_per_worker, scaling=scaling))
    from selfplay.training.async_ps import AsyncBackend, AsyncConfig

    return AsyncBackend(AsyncConfig(workers=workers, address=address, num_cpus=num_cpus,
                                    cpus_per_worker=cpus_per_worker, server_cpus=cpus_per_worker,
                                    max_staleness=max_staleness, staleness_lr=staleness_lr,
                                    delay_compensation=delay_compensation, lookahead=lookahead))
