"""Distributed training, measured in one run: `goengine bench train [--json] [--quick] [--seeds N]
[--first-seed S] [--only sync]`.

Task: the 9x9 Zero ResNet users train (`--net 6x64`: 5 residual blocks x 64 filters) learns fixed
targets on random positions (teacher_data: a policy from a 3x3 neighbour count, a value from the stone
difference) with Zero's own objective and SGD with momentum (rl/alphago_zero/trainer.py). Every mode gets
the same data, the same seeds, the same global batch (256) and the same number of samples seen (steps x
256); weights are snapshotted every twentieth of the run (with the training clock) and evaluated
afterwards on 512 held-out positions, so evaluation costs no training time. Every mode runs once per
seed (`--seeds`, 3 by default, from `--first-seed`; seed s: the same initial weights and sampling seed in
every mode; local, sync2 and sync2_linear seed by seed), and its curve is the seeds' mean, snapshot by
snapshot: one seed's validation curve at lr 0.05 wobbles by +-0.3 from one snapshot to the next, enough
to move a single run's crossing of the target by a fifth of the run, and two modes' curves over the
same 5 seeds differ by up to +-0.26 in one seed and 0.03 in their mean (Dec 5: seeds 0-4 put sync 0.027
above local at the end, seeds 10-19 0.013 below it). A repeat over the same seeds repeats their noise:
take new seeds (`--first-seed`) to measure again. `--only sync`: the local, sync2 and ceiling rows alone,
the issue's goal for sync over more seeds in less time. Modes:

    local         1 worker in this process, 1 thread: the peer every ratio is taken against
    sync2         DDP on 2 Ray Train workers, 128 samples each per step ("split": same lr, same steps)
    sync2_linear  DDP on 2 workers, 256 samples each per step, lr x 2 after a warm-up of a twentieth of
                  the run, half the steps (the linear scaling rule of Goyal et al. 2017)
    async2        parameter server + 2 gradient workers, 256 samples per gradient, given twice the
                  samples: plain, with the staleness-scaled lr, with delay compensation (DC-ASGD), with
                  momentum 0.8 at lr 0.1 (asynchrony adds momentum of its own and divides the lr:
                  Mitliagkas et al. 2016, "Asynchrony begets momentum"), with DANA's momentum look-ahead
                  (Hakimi et al. 2019), and with the look-ahead and DC-ASGD together
    ceiling       two independent 1-thread trainings at once against one alone: the most any 2-worker
                  data parallelism can gain on this machine

Figures per mode: training samples/s (the training steps' wall clock; start-up of the worker processes
is reported apart, `*_startup_s`), speed-up over local, seconds for the mean curve to reach the target
validation loss (the local mean curve's loss at 3/4 of its run), interpolated between the snapshots
around the crossing (None if never reached), how many seeds' own curves reach it, final validation loss
(the mean over seeds), the staleness histogram of async (first seed), the all-reduce payload per step
of sync and the server's traffic per step of async.

Simulated K (labelled `sim*`): this machine has 2 cores, so K = 4 and 8 workers are simulated: each
worker trains a tiny MLP (selfplay/training/toy.py) and sleeps `sim_compute_s` per batch, the compute of
a larger net on a core of its own (split over K in sync; a whole batch per gradient in async). Their
figures show the coordination costs (barrier + all-reduce, staleness) as K grows, not real compute.
The machine's load average is reported with the figures: on a shared machine all rates are lower bounds.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

BOARD = 9
# The net and batch set how much a worker computes per all-reduce: with 4x32 at 64 samples (25 ms of compute
# per worker) gloo and DDP's bookkeeping took most of each step and 2 workers trained 1.12x one; the net
# users train, at the Zero trainer's default batch of 256, gives each of 2 workers 0.25 s of compute a step
BLOCKS, FILTERS = 5, 64
GLOBAL_BATCH = 256
SNAPSHOTS = 20  # weight snapshots per run: time to target is read off them, to a twentieth of the run


@dataclass
class ZeroArrays:
    """Zero training samples in memory: rl Batch objects of numpy arrays; shard i of k holds every k-th."""

    planes_NCHW: np.ndarray
    policy_NA: np.ndarray
    value_N: np.ndarray

    def shard(self, rank: int, world: int) -> "ZeroArrays":
        return ZeroArrays(self.planes_NCHW[rank::world], self.policy_NA[rank::world], self.value_N[rank::world])

    def sample(self, batch_size: int, rng: np.random.Generator):
        from rl.alphago_zero.replay import Batch

        idx = rng.integers(0, len(self.value_N), size=batch_size)
        return Batch(self.planes_NCHW[idx], self.policy_NA[idx], self.value_N[idx])


def teacher_data(n: int, seed: int = 0) -> ZeroArrays:
    """Random positions (a quarter of the points Black, a quarter White, the history planes repeating the
    board) and targets a convolutional net can learn: the policy prefers empty points next to the
    player's own stones and away from the opponent's (a softmax of a fixed 3x3 neighbour count, pass
    logit 0), the value is tanh of the stone difference."""
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    colour_NHW = rng.choice(3, size=(n, BOARD, BOARD), p=[0.5, 0.25, 0.25])
    own_NHW, opp_NHW = (colour_NHW == 1).astype(np.float32), (colour_NHW == 2).astype(np.float32)
    planes_NCHW = np.zeros((n, 17, BOARD, BOARD), dtype=np.float32)
    planes_NCHW[:, 0:8] = own_NHW[:, None]  # (N, H, W) -> (N, 8, H, W)
    planes_NCHW[:, 8:16] = opp_NHW[:, None]
    planes_NCHW[:, 16] = 1.0
    kernel = torch.ones(1, 1, 3, 3)
    near_own = F.conv2d(torch.from_numpy(own_NHW)[:, None], kernel, padding=1)[:, 0]  # (N, H, W)
    near_opp = F.conv2d(torch.from_numpy(opp_NHW)[:, None], kernel, padding=1)[:, 0]
    score_NHW = 1.5 * near_own - 1.0 * near_opp
    score_NHW[torch.from_numpy(colour_NHW != 0)] = -1e9  # occupied points are illegal
    logits_NA = torch.cat([score_NHW.reshape(n, -1), torch.zeros(n, 1)], dim=1)  # (N, H*W) + pass -> (N, A)
    policy_NA = torch.softmax(logits_NA, dim=1).numpy()
    value_N = np.tanh((own_NHW.sum(axis=(1, 2)) - opp_NHW.sum(axis=(1, 2))) / 6).astype(np.float32)
    return ZeroArrays(planes_NCHW, policy_NA.astype(np.float32), value_N)


def zero_spec(lr: float, momentum: float = 0.9, warmup_steps: int = 0):
    import functools

    from nets.go.presets import ZeroConfig
    from nets.go.zero_resnet import ZeroResNet
    from rl.alphago_zero.trainer import TrainerConfig, lr_at, make_optimizer, objective
    from selfplay.training.api import TrainSpec

    config = TrainerConfig(batch_size=GLOBAL_BATCH, lr=lr, momentum=momentum, l2=1e-4, warmup_steps=warmup_steps)
    return TrainSpec(functools.partial(ZeroResNet, ZeroConfig(board_size=BOARD, blocks=BLOCKS, filters=FILTERS)),
                     functools.partial(make_optimizer, config=config), functools.partial(objective, config=config),
                     functools.partial(lr_at, config), GLOBAL_BATCH)


def val_loss(spec, state_dict, val: ZeroArrays) -> float:
    from rl.alphago_zero.trainer import zero_loss

    model = spec.build_model()
    model.load_state_dict(state_dict)
    model.eval()
    with torch.no_grad():
        logits, v = model(torch.from_numpy(val.planes_NCHW))
        policy_loss, value_loss = zero_loss(logits, v, torch.from_numpy(val.policy_NA), torch.from_numpy(val.value_N))
    return float(policy_loss + value_loss)


def run_mode(backend, spec, train, steps: int, val: ZeroArrays, seed: int = 0) -> dict:
    from selfplay.training.api import Learner

    learner = Learner(spec, seed=seed)
    initial = val_loss(spec, learner.model.state_dict(), val)
    start = time.perf_counter()
    result = backend.fit(learner, spec, train, steps, snapshot_every=max(1, steps // SNAPSHOTS))
    wall = time.perf_counter() - start
    curve = [(0, 0.0, initial)] + [(s, t, val_loss(spec, sd, val)) for s, t, sd in result.snapshots]
    return {"samples_per_s": result.samples_per_s, "seconds": result.seconds, "wall_s": wall,
            "startup_s": result.stats.get("startup_seconds", 0.0), "final_val_loss": curve[-1][2], "curve": curve,
            "stats": result.stats}


def _solo_samples_per_s(steps: int) -> float:
    """One process training `steps` steps alone on one thread (a process pool's task)."""
    from selfplay.training.api import Learner

    torch.set_num_threads(1)
    data = teacher_data(1024, seed=1)
    spec = zero_spec(lr=0.05)
    learner = Learner(spec, seed=0)
    start = time.perf_counter()
    for step in range(steps):
        learner.train_step(data.sample(GLOBAL_BATCH, np.random.default_rng(step)))
    return steps * GLOBAL_BATCH / (time.perf_counter() - start)


def ceiling(steps: int) -> dict:
    """What any 2-worker data parallelism can reach on this machine: the samples/s of two independent
    single-thread trainings at once (no communication at all) over one alone. Two vCPUs that share a
    physical core, caches or memory bandwidth give less than 2."""
    import concurrent.futures
    import multiprocessing

    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_solo_samples_per_s, [2, 2]))  # imports and first-call costs out of the clock
        alone = pool.submit(_solo_samples_per_s, steps).result()
        pair = sum(pool.map(_solo_samples_per_s, [steps, steps]))
    return {"ceiling_one_process_samples_per_s": alone, "ceiling_two_processes_samples_per_s": pair,
            "ceiling_speedup": pair / alone}


def time_to(curve, target: float):
    """When `curve` ((step, seconds, loss) snapshots) first reaches `target`, interpolated linearly between
    the snapshots around the crossing; None if it never does."""
    for (_, t0, l0), (_, t1, l1) in zip(curve, curve[1:]):
        if l1 <= target:
            return t0 + (t1 - t0) * (l0 - target) / (l0 - l1) if l0 > target else t0
    return None


def mean_curve(results: list[dict]) -> list[tuple[int, float, float]]:
    """The seeds' curves averaged snapshot by snapshot (the same steps in each): the mode's expected
    curve, which a single seed's noise does not move as much."""
    curves = [r["curve"] for r in results]
    return [(a[0][0], float(np.mean([s[1] for s in a])), float(np.mean([s[2] for s in a]))) for a in zip(*curves)]


def over_seeds(rows: dict, train, val: ZeroArrays, seeds: range) -> dict:
    """Each row (name -> (a function giving a backend, one giving the TrainSpec, steps)) run once per seed,
    seed-major: seed s runs every row before seed s + 1 starts, so a drift of the machine's speed during the
    bench falls on all rows alike. Per row: the first seed's run, with the mean curve, the mean samples/s
    and final loss over the seeds, and every seed's curve."""
    results: dict[str, list[dict]] = {name: [] for name in rows}
    for seed in seeds:
        for name, (backend_for, spec_for, steps) in rows.items():
            backend = backend_for()
            try:
                results[name].append(run_mode(backend, spec_for(), train, steps, val, seed=seed))
            finally:
                if hasattr(backend, "close"):
                    backend.close()
    return {name: {**r[0], "curve": mean_curve(r), "seed_curves": [x["curve"] for x in r],
                   "samples_per_s": float(np.mean([x["samples_per_s"] for x in r])),
                   "startup_s": float(np.mean([x["startup_s"] for x in r])),
                   "final_val_loss": float(np.mean([x["final_val_loss"] for x in r]))}
            for name, r in results.items()}


def async_variants() -> dict:
    """The async rows: name -> (AsyncConfig, a function giving the TrainSpec)."""
    import functools

    from selfplay.training.async_ps import AsyncConfig

    plain = functools.partial(zero_spec, lr=0.05)
    return {
        "async2": (AsyncConfig(workers=2), plain),
        "async2_staleness_lr": (AsyncConfig(workers=2, staleness_lr=True), plain),
        "async2_delay_compensation": (AsyncConfig(workers=2, delay_compensation=2.0), plain),
        # K workers act as momentum 1 - 1/K at lr / K (Mitliagkas et al. 2016): lower the explicit momentum
        # and raise the lr so that the sum matches the 1-worker run's
        "async2_momentum08_lr01": (AsyncConfig(workers=2), functools.partial(zero_spec, lr=0.1, momentum=0.8)),
        # DANA's momentum look-ahead: gradients computed where the weights will be when they land
        "async2_lookahead": (AsyncConfig(workers=2, lookahead=True), plain),
        # and with the delay compensation on top, for what the look-ahead cannot foresee (the other
        # workers' gradients)
        "async2_lookahead_dc": (AsyncConfig(workers=2, lookahead=True, delay_compensation=2.0), plain),
    }


def measure(quick: bool = False, steps: int | None = None, sim_compute_s: float = 0.2, seeds: int | None = None,
            first_seed: int = 0, only: str | None = None) -> dict:
    """`seeds` runs of every row (seeds first_seed, first_seed + 1, ...); only="sync": the local, sync and
    ceiling rows alone (the issue's goal for sync, measured over more seeds in less time)."""
    if only not in (None, "sync"):
        raise ValueError(f"only must be 'sync' or None, not {only!r}")
    # Ray's raylet prints warnings on stdout from a thread of this process: they go to stderr, so that
    # `goengine bench train --json` prints its one line alone
    with contextlib.redirect_stdout(sys.stderr):
        return _measure(quick, steps, sim_compute_s, range(first_seed, first_seed + (seeds or (1 if quick else 3))),
                        only)


def _measure(quick: bool, steps: int | None, sim_compute_s: float, seeds: range, only: str | None) -> dict:
    import functools

    from selfplay.training._ray import RaySession
    from selfplay.training.api import LocalBackend
    from selfplay.training.sync import SyncBackend, SyncConfig

    steps = steps or (20 if quick else 80)
    torch.set_num_threads(1)
    out: dict = {"machine": f"{os.cpu_count()} CPUs", "load_avg_1min_start": os.getloadavg()[0],
                 "steps": steps, "global_batch": GLOBAL_BATCH, "seeds": f"{seeds.start}-{seeds.stop - 1}"}
    data = teacher_data(4096 + 512)
    train = ZeroArrays(data.planes_NCHW[:4096], data.policy_NA[:4096], data.value_N[:4096])
    val = ZeroArrays(data.planes_NCHW[4096:], data.policy_NA[4096:], data.value_N[4096:])
    spec_for = functools.partial(zero_spec, lr=0.05)
    runs: dict = {}

    def row(name: str, r: dict, peer: dict) -> None:
        reached = [time_to(c, target) is not None for c in r["seed_curves"]]
        out[f"{name}_samples_per_s"] = r["samples_per_s"]
        out[f"{name}_speedup"] = r["samples_per_s"] / peer["samples_per_s"]
        out[f"{name}_startup_s"] = r["startup_s"]
        out[f"{name}_reached"] = f"{sum(reached)}/{len(reached)}"
        out[f"{name}_time_to_target_s"] = time_to(r["curve"], target)
        out[f"{name}_final_val_loss"] = r["final_val_loss"]
        peer_time = time_to(peer["curve"], target)
        if out[f"{name}_time_to_target_s"] is not None and peer_time:
            out[f"{name}_time_ratio_to_local"] = out[f"{name}_time_to_target_s"] / peer_time
        if len(peer["seed_curves"]) == len(r["seed_curves"]):  # seed by seed, where both reach the target
            pairs = [(time_to(c, target), time_to(p, target)) for c, p in zip(r["seed_curves"], peer["seed_curves"])]
            out[f"{name}_seed_time_ratios"] = [round(a / b, 3) if a and b else None for a, b in pairs]
        if "staleness_histogram" in r["stats"]:
            out[f"{name}_staleness_histogram"] = r["stats"]["staleness_histogram"]
        runs[name] = r

    ray = RaySession(num_cpus=10)  # logical CPUs, so K = 8 simulated workers can be placed
    try:
        # local, sync and linear seed by seed (a Ray started and idle costs the local run nothing measurable:
        # 347 samples/s before ray.init, 349 after, Dec 5); linear scaling: each worker a whole batch, lr x 2
        # after a warm-up, half the steps (the same samples seen)
        rows = {"local": (LocalBackend, spec_for, steps),
                "sync2": (lambda: SyncBackend(SyncConfig(workers=2)), spec_for, steps)}
        if only is None:
            rows["sync2_linear"] = (lambda: SyncBackend(SyncConfig(workers=2, scaling="linear")),
                                    functools.partial(zero_spec, lr=0.05, warmup_steps=max(1, steps // 20)),
                                    steps // 2)
        interleaved = over_seeds(rows, train, val, seeds)
        local = interleaved["local"]
        # the target: the 1-worker mean curve's loss after 3/4 of the run
        target = local["curve"][max(1, (len(local["curve"]) - 1) * 3 // 4)][2]
        out["target_val_loss"] = target
        for name, r in interleaved.items():
            row(name, r, local)
        out.update(ceiling(10 if quick else 40))
        out["sync_allreduce_payload_bytes_per_step"] = runs["sync2"]["stats"]["allreduce_payload_bytes_per_step"]
        out["sync2_ring_bytes_per_worker_per_step"] = runs["sync2"]["stats"]["ring_bytes_sent_per_worker_per_step"]
        if only is None:
            _async_and_simulated_rows(out, row, spec_for, train, val, steps, seeds, sim_compute_s, quick, local)
    finally:
        ray.close()
    out["load_avg_1min_end"] = os.getloadavg()[0]
    out["curves"] = {name: [(s, round(t, 3), round(v, 4)) for s, t, v in r["curve"]] for name, r in runs.items()}
    out["seed_curves"] = {name: [[round(v, 4) for _, _, v in c] for c in r["seed_curves"]] for name, r in runs.items()}
    return out


def _async_and_simulated_rows(out: dict, row, spec_for, train, val, steps: int, seeds: range, sim_compute_s: float,
                              quick: bool, local: dict) -> None:
    import functools

    from selfplay.training.api import Learner, LocalBackend
    from selfplay.training.async_ps import AsyncBackend, AsyncConfig
    from selfplay.training.sync import SyncBackend, SyncConfig
    from selfplay.training.toy import mlp_spec
    from selfplay.training.toy import teacher_data as toy_data

    # async gets twice the samples: does it reach the target at all, and when. The load of a shared
    # machine drifts, so each async row gets a 1-worker peer (one seed) measured just before it
    out["async_steps"] = 2 * steps
    for name, (config, mode_spec) in async_variants().items():
        if quick and name not in ("async2", "async2_lookahead"):
            continue
        peer = run_mode(LocalBackend(), spec_for(), train, steps, val, seed=seeds.start)
        out[f"{name}_peer_samples_per_s"] = peer["samples_per_s"]
        r = over_seeds({name: (functools.partial(AsyncBackend, config), mode_spec, 2 * steps)}, train, val, seeds)
        row(name, r[name], {**peer, "curve": local["curve"], "seed_curves": local["seed_curves"]})
        if name == "async2":
            out["async_server_bytes_per_step"] = r[name]["stats"]["server_bytes_per_step"]
    # simulated K: tiny real compute plus a sleep per batch standing in for a larger net
    toy, toy_src = mlp_spec(batch_size=GLOBAL_BATCH), toy_data(4096)
    sim_steps = 10 if quick else 30
    for k in ((4,) if quick else (1, 4, 8)):
        for name, backend in ((f"sim_sync{k}", SyncBackend(SyncConfig(workers=k, cpus_per_worker=1,
                                                                        delay_s=sim_compute_s / k))),
                              (f"sim_async{k}", AsyncBackend(AsyncConfig(workers=k, server_cpus=1,
                                                                         delay_s=sim_compute_s)))):
            result = backend.fit(Learner(toy), toy, toy_src, sim_steps)
            backend.close()
            out[f"{name}_samples_per_s"] = result.samples_per_s
            out[f"{name}_ideal_samples_per_s"] = k * GLOBAL_BATCH / sim_compute_s
            if "staleness_histogram" in result.stats:
                out[f"{name}_staleness_histogram"] = result.stats["staleness_histogram"]
