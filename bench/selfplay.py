"""Self-play speed: 9x9 AlphaGo Zero self-play with the 6x64 net (or a checkpoint) at 200 visits per move.

Figures (issue 5's targets in brackets):
  - positions and games per CPU-hour of one worker (>= 500 games/hour/core), from whole games played
    by a SelfPlayWorker in this process with torch on one thread;
  - where that CPU time goes: the net's forward passes, building the input planes, and the search (tree
    walks, expansion, backup, Python glue), timed by wrapping the worker's NetEvaluator (search overhead
    = everything but the forward, over the forward: <= 10%);
  - the speed-up from 1 to 2 workers as Ray actors (num_cpus=2): evaluations per wall-clock second with
    2 actors over 1 (>= 1.8x). On a shared machine the second core may be busy, so the CPU share each
    actor got and the load average are reported beside it, and the speed-up per actor CPU-second.

In-process figures are per CPU-second (time.process_time), so other load on a shared machine slows
the clock of no phase; Ray figures are per wall-clock second, as a speed-up must be.

Backends, measured in the same run so their ratios hold on a noisy machine: games of the same seeds
(identical for fp32 ORT, nearly so for int8, whose games can part ways) are played with the forward pass
in torch, in ONNX Runtime fp32 ("ort_") and in ONNX Runtime static int8
("ort_int8_"; calibrated on random games for this first version, and the time to recalibrate on the
positions it then evaluated is reported too). Unprefixed figures are torch's; the bare forward pass of
each backend is also timed at batches 1, 16 and 64 (forward_us_per_position_b{B}_{backend}).

Peer, measured in the same run: the bare forward pass of the same net at the worker's mean batch on one
thread (for every backend). Its positions per CPU-second bound what any search around this net can
reach on this core; the ratio self-play / peer says how much of that bound the whole pipeline keeps.

Games use the worker's defaults (Dirichlet noise, 7 temperature-1 moves, resignation at 5% with 10% of
games played out, tree reuse) and a randomly initialised 6x64 net, or with --weights a trained
checkpoint (its own architecture and board size). A random net resigns almost never, so with the rule
that a pass losing by the count gives way to a move (search.py) its games last 115 to 118 moves; the
trained 9x9 net of README's run resigns most games and plays 87 to 88, which is what a run's self-play
sees from its second generation on. Two more figures say what bounds games per hour:
ort_int8_games_per_cpu_hour_ceiling (every evaluation at int8's best bare forward, the search free) and
ort_int8_pcr_* (KataGo's playout-cap randomisation: 200 visits on a quarter of the moves, 40 on the
rest). --quick caps the games at 10 moves.
"""
from __future__ import annotations

import os
import time


def _loadavg() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def forward_rate(model, batch: int, seconds: float) -> float:
    """Positions per CPU-second of the bare forward pass at `batch` on the current torch threads."""
    import torch

    x = torch.zeros(batch, model.config.in_planes, model.config.board_size, model.config.board_size)
    x[:, ::3] = 1.0
    with torch.no_grad():
        model(x)
        n, start = 0, time.process_time()
        while time.process_time() - start < seconds:
            model(x)
            n += batch
    return n / (time.process_time() - start)


def ort_forward_rate(evaluator, model, batch: int, seconds: float) -> float:
    """Positions per CPU-second of an OrtEvaluator's bare session call at `batch` (forward_rate's input)."""
    import numpy as np

    c = model.config
    x = np.zeros((batch, c.in_planes, c.board_size, c.board_size), dtype=np.float32)
    x[:, ::3] = 1.0
    evaluator.forward(x)
    n, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        evaluator.forward(x)
        n += batch
    return n / (time.process_time() - start)


def in_process(config, state_dict, games: int) -> dict:
    """One worker in this process: whole games, the CPU time split into forward, planes and search.

    CPU time (time.process_time, torch on one thread) rather than wall time, so that other load on a
    shared machine slows the clock of no phase."""
    from selfplay.worker import SelfPlayWorker

    worker = SelfPlayWorker(config, state_dict, 0)
    evaluator = worker.evaluator
    cpu = {"evaluate": 0.0, "forward": 0.0, "calls": 0}
    evaluate, forward = evaluator.evaluate, evaluator.evaluate_planes

    def timed_evaluate(batch):
        start = time.process_time()
        out = evaluate(batch)
        cpu["evaluate"] += time.process_time() - start
        return out

    def timed_forward(planes, legal):
        start = time.process_time()
        out = forward(planes, legal)
        cpu["forward"] += time.process_time() - start
        cpu["calls"] += 1
        return out

    # instance attributes: the worker calls evaluator.evaluate, which calls self.evaluate_planes
    evaluator.evaluate, evaluator.evaluate_planes = timed_evaluate, timed_forward
    total, wall = time.process_time(), time.perf_counter()
    records = worker.play_games(games, generation=1)
    total, wall = time.process_time() - total, time.perf_counter() - wall
    s = worker.stats
    planes = cpu["evaluate"] - cpu["forward"]
    search = total - cpu["evaluate"]
    moves = sum(r.num_moves for r in records)
    return {
        "session_build_s": s.session_build_seconds,
        "games": len(records),
        "mean_game_moves": moves / len(records),
        "resigned_games": sum(r.resigned for r in records),
        "evaluations": s.evaluations,
        "evaluations_per_move": s.evaluations / max(s.moves, 1),
        "evaluations_per_game": s.evaluations / max(len(records), 1),
        "mean_net_batch": s.evaluations / max(cpu["calls"], 1),
        "wall_s": wall,
        "cpu_s": total,
        "cpu_share": total / wall,
        "positions_per_cpu_hour": 3600 * moves / total,
        "games_per_cpu_hour": 3600 * len(records) / total,
        "positions_per_wall_hour": 3600 * moves / wall,
        "games_per_wall_hour": 3600 * len(records) / wall,
        "forward_cpu_s": cpu["forward"],
        "planes_cpu_s": planes,
        "search_cpu_s": search,
        "forward_us_per_evaluation": 1e6 * cpu["forward"] / max(s.evaluations, 1),
        "planes_us_per_evaluation": 1e6 * planes / max(s.evaluations, 1),
        "search_us_per_evaluation": 1e6 * search / max(s.evaluations, 1),
        "search_overhead_vs_forward": (search + planes) / cpu["forward"],
        "evaluations_per_cpu_s": s.evaluations / total,
    }


class _CpuTimedWorker:
    """Mixin for the Ray measurement: a chunk's result with the actor process's CPU seconds for it."""

    def timed_chunk(self, generation: int, first: int, count: int):
        start = time.process_time()
        records, stats = self.play_chunk(generation, first, count)
        return stats, time.process_time() - start


def ray_speedup(config, state_dict, games_per_worker: int) -> dict:
    """Positions per wall-second with 1 and then 2 SelfPlayWorker actors on a local Ray of 2 CPUs."""
    import ray

    from goengine.warmup import warm
    from selfplay.orchestrator import worker_env
    from selfplay.worker import SelfPlayWorker

    os.environ.setdefault("NUMBA_CACHE_DIR", worker_env()["NUMBA_CACHE_DIR"])
    warm((config.board_size,))
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": worker_env()}, log_to_driver=False,
             configure_logging=False)
    out: dict = {}
    try:
        remote = ray.remote(num_cpus=1)(type("TimedSelfPlayWorker", (_CpuTimedWorker, SelfPlayWorker), {}))
        weights = ray.put(state_dict)
        for k in (1, 2):
            actors = [remote.remote(config, weights, 0, i) for i in range(k)]
            # warm-up: process start, imports, numba cache loads, first forward passes
            ray.get([a.timed_chunk.remote(0, 10**6 + i, 1) for i, a in enumerate(actors)])
            load = _loadavg()
            start = time.perf_counter()
            results = ray.get([a.timed_chunk.remote(1, i * games_per_worker, games_per_worker)
                               for i, a in enumerate(actors)])
            wall = time.perf_counter() - start
            evaluations = sum(stats.evaluations for stats, _ in results)
            cpu = sum(c for _, c in results)
            out[f"ray_{k}_workers_positions_per_s"] = sum(stats.moves for stats, _ in results) / wall
            out[f"ray_{k}_workers_evaluations_per_s"] = evaluations / wall
            out[f"ray_{k}_workers_evaluations_per_actor_cpu_s"] = evaluations / cpu
            out[f"ray_{k}_workers_cpu_share_per_actor"] = cpu / (k * wall)
            out[f"ray_{k}_workers_loadavg"] = load
            for a in actors:
                ray.kill(a)
    finally:
        ray.shutdown()
    out["speedup_1_to_2_workers"] = out["ray_2_workers_evaluations_per_s"] / out["ray_1_workers_evaluations_per_s"]
    # what the speed-up would be if each actor had a core to itself: per-CPU-second rates, 2 actors vs 1
    out["speedup_1_to_2_workers_per_cpu"] = 2 * (out["ray_2_workers_evaluations_per_actor_cpu_s"]
                                                 / out["ray_1_workers_evaluations_per_actor_cpu_s"])
    return out


BACKEND_FIGURES = ("games_per_cpu_hour", "evaluations_per_cpu_s", "forward_us_per_evaluation",
                   "planes_us_per_evaluation", "search_us_per_evaluation", "mean_game_moves", "mean_net_batch",
                   "session_build_s", "evaluations_per_game")


PCR_FAST_VISITS, PCR_FULL_PROB = 40, 0.25
"""Playout-cap randomisation measured beside full searches: 200 visits on a quarter of the moves (the
policy targets), 40 on the rest."""


def backends(config, model, games: int, quick: bool, torch_figures: dict) -> dict:
    """The in-process figures again with ONNX Runtime fp32 and int8 (session builds timed apart), and
    every backend's bare forward pass at the worker's mean batch and at batches 1, 16 and 64."""
    import dataclasses

    from rl.alphago_zero.ort_evaluator import OrtEvaluator
    from selfplay.worker import SelfPlayWorker

    state = model.state_dict()
    out = {f"torch_{k}": torch_figures[k] for k in BACKEND_FIGURES}
    for name, inference in (("ort", "ort"), ("ort_int8", "ort-int8")):
        figures = in_process(dataclasses.replace(config, inference=inference), state, games)
        out.update({f"{name}_{k}": figures[k] for k in BACKEND_FIGURES})
        out[f"{name}_evaluations_speedup_vs_torch"] = (figures["evaluations_per_cpu_s"]
                                                       / torch_figures["evaluations_per_cpu_s"])
    # ort_int8_session_build_s above calibrated on random games (a first version); a later version
    # recalibrates on the positions the worker evaluated, as in training
    worker = SelfPlayWorker(dataclasses.replace(config, inference="ort-int8", max_moves=4), state, 0)
    worker.play_games(1, generation=1)
    worker.set_weights(state, 1)
    worker.prepare()
    out["ort_int8_rebuild_s"] = worker.evaluator.build_seconds
    out["ort_int8_rebuild_calibration"] = worker.evaluator.calibration_source
    size = model.config.board_size
    sessions = {"ort": OrtEvaluator(model, size, "fp32"), "ort_int8": worker.evaluator}
    out["ort_model_bytes"] = len(sessions["ort"].model_bytes)
    out["ort_int8_model_bytes"] = len(sessions["ort_int8"].model_bytes)
    seconds = 0.3 if quick else 1.0
    mean_batch = int(round(torch_figures["mean_net_batch"]))
    for batch in (1, 16, 64):  # interleaved, so that load changes hit every backend alike
        out[f"forward_us_per_position_b{batch}_torch"] = 1e6 / forward_rate(model, batch, seconds)
        for name, evaluator in sessions.items():
            out[f"forward_us_per_position_b{batch}_{name}"] = 1e6 / ort_forward_rate(evaluator, model, batch, seconds)
    for name, evaluator in sessions.items():
        peer = ort_forward_rate(evaluator, model, mean_batch, 1.0 if quick else 3.0)
        out[f"{name}_peer_forward_positions_per_cpu_s"] = peer
        out[f"{name}_ratio_selfplay_evaluations_to_peer_forward"] = out[f"{name}_evaluations_per_cpu_s"] / peer
    # the ceiling of full searches: games an hour if the search cost nothing and every evaluation took
    # int8's best bare forward (batch 64)
    best_us = min(out[f"forward_us_per_position_b{b}_ort_int8"] for b in (1, 16, 64))
    out["ort_int8_games_per_cpu_hour_ceiling"] = 3600e6 / (best_us * out["ort_int8_evaluations_per_game"])
    # KataGo's playout-cap randomisation, as `train zero --fast-visits 40 --full-search-prob 0.25` plays
    pcr = dataclasses.replace(config, inference="ort-int8", fast_visits=PCR_FAST_VISITS,
                              full_search_prob=PCR_FULL_PROB)
    figures = in_process(pcr, state, games)
    out.update({f"ort_int8_pcr_{k}": figures[k] for k in BACKEND_FIGURES})
    return out


def load_net(weights: str | None):
    """(model, label): the trained AlphaGo Zero net at `weights`, or a seeded random-weight 6x64 for 9x9."""
    import torch

    import nets
    from goengine.cli import UserError
    from nets.go.checkpoint import CheckpointError
    from rl.net_player import load_zero_net

    if weights is None:
        torch.manual_seed(0)
        return nets.build("zero_resnet", preset="6x64", board_size=9).eval(), "6x64 (random weights)"
    try:
        model, _ = load_zero_net(weights)
    except CheckpointError as e:
        raise UserError(str(e)) from None
    c = model.config
    return model.eval(), f"{c.blocks + 1}x{c.filters} ({weights})"  # as the presets: the stem counts as a layer


def measure(quick: bool = False, weights: str | None = None) -> dict:
    import dataclasses

    import torch

    from selfplay.selfplay_config import SelfPlayConfig
    from selfplay.worker import SelfPlayWorker

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one worker = one core, as in a Ray actor
    try:
        model, label = load_net(weights)
        size = model.config.board_size
        state = model.state_dict()
        parallel, leaves = (4, 2) if quick else (8, 2)
        config = SelfPlayConfig(board_size=size, visits=200, parallel_games=parallel, leaves_per_game=leaves,
                                net=model.config, seed=1, max_moves=10 if quick else None)
        out: dict = {"board_size": size, "net": label, "visits": 200, "parallel_games": parallel,
                     "leaves_per_game": leaves, "quick": quick, "cpus": os.cpu_count(), "loadavg_start": _loadavg()}
        # warm-up: numba cache loads and torch's first passes would otherwise land in the first backend's time
        SelfPlayWorker(dataclasses.replace(config, parallel_games=1, max_moves=2), state, 0).play_games(1)
        out.update(in_process(config, state, games=parallel))
        out.update(backends(config, model, parallel, quick, out))
        peer = forward_rate(model, int(round(out["mean_net_batch"])), 1.0 if quick else 3.0)
        out["peer_forward_positions_per_cpu_s"] = peer
        out["ratio_selfplay_evaluations_to_peer_forward"] = out["evaluations_per_cpu_s"] / peer
        capped = SelfPlayConfig(board_size=size, visits=200, parallel_games=parallel, leaves_per_game=leaves,
                                net=model.config, seed=2, max_moves=6 if quick else 30)
        out.update(ray_speedup(capped, state, games_per_worker=parallel))
        out["target_games_per_hour_per_core"] = 500
        out["target_search_overhead_vs_forward"] = 0.10
        out["target_speedup_1_to_2_workers"] = 1.8
        out["loadavg_end"] = _loadavg()
        out["timer"] = "in-process figures per CPU-second (process_time); Ray figures per wall-clock second"
        return out
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":
    import json

    print(json.dumps(measure()))
