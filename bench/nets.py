"""Net speed on one thread: forward positions per second of every Go net, feature extraction, and the
rollout policy's microseconds per move; `goengine bench nets [--json] [--quick]`.

Nets are timed by `nets.go.bench.forward_throughput` (wall clock, inference mode, random 0/1 planes) after
`torch.set_num_threads(1)`, at batch 1 and a large batch: 64, except for the 19x19 20x256 ResNet, which
runs batch 8 (one pass of 64 takes tens of seconds on one core), and with --quick every 19x19 net runs
batch 8. The batch is in each key. Configurations:

    lee_policy/lee_value 19x19 k192   AlphaGo Lee's match nets: 13 layers of 192 filters, 48 / 49 planes
    lee_policy/lee_value 9x9 k64      a small 9x9 version: the same 13 layers with 64 filters
    zero_resnet 6x64, 10x128 (9x9), 20x256 (19x19)   the presets of nets/go/presets.py, 17 planes

Peer in the same run: a one-thread float32 matmul's GFLOP/s (best of five rounds); each net's GFLOP/s at
its large batch (FLOPs counted by torch's FlopCounterMode) over it is the share of the core's dense
throughput the net gets. Nets are timed once each, so on a busy machine the share is a lower bound.

Rollout policy (goengine/mcts/rollout_policy.py, AlphaGo's p_π, with random weights): microseconds per
move of whole playouts from the empty board (selection, cache update and the board move), per selection
alone on mid-game positions, and, as peers in the same run, the light (uniform) and heavy (MoGo) playouts'
microseconds per move; timed in CPU seconds (process_time), the best of several rounds. Feature-plane
rates come from bench/features.py when it is present.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from numba import njit

import nets
from goengine.board import Board, rng_state
from goengine.mcts import rollout_policy as RP
from goengine.mcts._playout import playout
from goengine.mcts.patterns import pattern_table
from nets.go.bench import forward_throughput

# (key, registered name, builder config, input planes, board size, large batch)
NETS = [
    ("lee_policy_19x19_k192", "lee_policy", {}, 48, 19, 64),
    ("lee_value_19x19_k192", "lee_value", {}, 49, 19, 64),
    ("lee_policy_9x9_k64", "lee_policy", {"board_size": 9, "filters": 64}, 48, 9, 64),
    ("lee_value_9x9_k64", "lee_value", {"board_size": 9, "filters": 64}, 49, 9, 64),
    ("zero_resnet_6x64_9x9", "zero_resnet", {"preset": "6x64"}, 17, 9, 64),
    ("zero_resnet_10x128_9x9", "zero_resnet", {"preset": "10x128"}, 17, 9, 64),
    ("zero_resnet_20x256_19x19", "zero_resnet", {"preset": "20x256"}, 17, 19, 8),
]


def flop_per_position(module: torch.nn.Module, in_planes: int, size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    x_NCHW = torch.zeros(1, in_planes, size, size)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module.eval()(x_NCHW)
    return float(counter.get_total_flops())


def matmul_gflop_per_s(seconds: float, rounds: int = 5) -> float:
    """One thread's float32 GEMM rate on 1024x1024 matrices, the best of `rounds`: the dense peak the
    nets are compared with (the best round is the one least disturbed by other load)."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    best = 0.0
    for _ in range(rounds):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / rounds:
            a @ b
            n += 1
        best = max(best, n * 2 * 1024**3 / (time.perf_counter() - start) / 1e9)
    return best


def net_figures(quick: bool) -> dict:
    seconds = 0.2 if quick else 2.0
    out: dict = {"matmul_gflop_per_s_1thread": matmul_gflop_per_s(seconds)}
    for key, name, config, planes, size, big in NETS:
        torch.manual_seed(0)
        module = nets.build(name, **config)
        if quick and size == 19:
            big = 8
        flop = flop_per_position(module, planes, size)
        out[f"{key}_gflop_per_pos"] = flop / 1e9
        for batch in (1, big):
            out[f"{key}_b{batch}_pos_per_s"] = forward_throughput(module, planes, size, batch, seconds)
        out[f"{key}_b{big}_share_of_matmul"] = (out[f"{key}_b{big}_pos_per_s"] * flop / 1e9
                                                / out["matmul_gflop_per_s_1thread"])
    return out


@njit(cache=True)
def _select_many(s, meta, nb, dg, w, spec, expw, ew, work, rng, n):
    """n selections on one unchanged position (the cache stays valid: nothing is played)."""
    acc = 0
    for _ in range(n):
        acc += RP.choose_cached(s, meta, nb, dg, w, spec, expw, ew, work, rng)
    return acc


def _best_cpu_us(fn, rounds: int) -> float:
    """Best microseconds per item over `rounds` calls of fn() (which returns how many items it did)."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        n = fn()
        best = min(best, (time.process_time() - start) / n * 1e6)
    return best


def rollout_figures(quick: bool) -> dict:
    policy = RP.RolloutPolicy(np.random.default_rng(0).normal(0.0, 0.5, RP.n_weights(RP.pattern_spec())))
    spec, expw = policy.spec, policy.expw
    rounds = 3 if quick else 12
    out: dict = {}
    for size in (9, 19):
        empty = Board(size)
        g = empty.geo
        max_moves = 3 * size * size
        moves = np.empty(max_moves, dtype=np.int32)
        rng = rng_state(size)
        games = 20 if size == 9 else 5

        def rollouts():
            n = 0
            for _ in range(games):
                b = empty.copy()
                _score, t = RP.rollout_playout(b.s, b.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board,
                                               g.width, spec, expw, rng, max_moves, moves, 0)
                n += t
            return n

        def peer(heavy):
            def run():
                n = 0
                for _ in range(games):
                    b = empty.copy()
                    _score, t = playout(b.s, b.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board, g.width,
                                        pattern_table(), rng, max_moves, heavy, moves, 0)
                    n += t
                return n
            return run

        # mid-game positions (after 0.4 N² rollout-policy moves), each with its cache filled
        positions = []
        for seed in range(4):
            b = empty.copy()
            ew, work = RP.new_cache(g.n_points, g.width)
            RP.cache_reset(b.s, b.meta, g.neighbours, g.diagonals, g.width, spec, expw, ew)
            r = rng_state(100 + seed)
            for _ in range(int(0.4 * size * size)):
                p = RP.choose_cached(b.s, b.meta, g.neighbours, g.diagonals, g.width, spec, expw, ew, work, r)
                RP.play_and_update(b.s, b.meta, g.neighbours, g.diagonals, g.zobrist, g.width, spec, expw, ew, work, p)
            positions.append((b, ew, work))

        def selections():
            for b, ew, work in positions:
                _select_many(b.s, b.meta, g.neighbours, g.diagonals, g.width, spec, expw, ew, work, rng, 20000)
            return 20000 * len(positions)

        for fn in (rollouts, peer(False), peer(True), selections):
            fn()  # compile or load from the numba cache before timing
        out[f"rollout_policy_us_per_move_{size}x{size}"] = _best_cpu_us(rollouts, rounds)
        out[f"rollout_policy_select_us_{size}x{size}"] = _best_cpu_us(selections, rounds)
        out[f"light_playout_us_per_move_{size}x{size}"] = _best_cpu_us(peer(False), rounds)
        out[f"heavy_playout_us_per_move_{size}x{size}"] = _best_cpu_us(peer(True), rounds)
    out["rollout_timer"] = "process_time, best of rounds; us per move = selection + cache update + board play"
    return out


def feature_figures(quick: bool) -> dict:
    try:
        from bench.features import measure_features
    except ImportError:
        return {"features_note": "bench/features.py (measure_features) not present: feature rates skipped"}
    return measure_features(quick)


def measure(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    out: dict = {"torch_threads": torch.get_num_threads(),
                 "net_timer": "perf_counter (wall) via nets.go.bench.forward_throughput, inference mode"}
    out.update(net_figures(quick))
    out.update(feature_figures(quick))
    out.update(rollout_figures(quick))
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure()))
