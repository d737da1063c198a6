"""`goengine bench compress`: the compressed Go nets against their fp32 original, measured in one run.

For each net: parameters, checkpoint size, forward time at batch 1 and 16 on one thread (CPU time, so
other load on the machine costs little accuracy; torch for fp32 nets, ONNX Runtime for int8), and on
held-out positions its top-1 policy agreement, policy KL(original || net) and value MSE against the
original. The original is the peer: its own row is measured in the same run, so ratios hold on a noisy
machine.

    goengine bench compress --json                        a random-weight 6x64 9x9 net, compressed here
                                                          without fine-tuning (speed and size only mean
                                                          something; agreement of untrained nets does not)
    goengine bench compress --json --weights RUN_DIR/best.pt
                                                          the trained net against every checkpoint in
                                                          RUN_DIR/compressed/ (what `goengine compress`
                                                          wrote there), on positions of RUN_DIR's held-out
                                                          games (rl/compression/data.py)

Both also measure magnitude-pruned copies of the original at 50/75/90% sparsity: the same dense kernels
run on the zeros, so their time is the original's (the baseline the structured pruning is measured
against).
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np

BATCHES = (1, 16)


def _forward_us(model, planes_BCHW: np.ndarray, batch: int, min_seconds: float) -> float:
    """CPU microseconds per forward pass of `batch` positions, one thread."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(planes_BCHW[:batch]))
    with torch.no_grad():
        model(x)  # warm-up: allocations, ORT session
        calls, start = 0, time.process_time()
        while True:
            model(x)
            calls += 1
            elapsed = time.process_time() - start
            if elapsed >= min_seconds:
                return elapsed / calls * 1e6


def _row(label: str, model, path: str, original, held_BCHW: np.ndarray, min_seconds: float) -> dict:
    import torch

    from nets.compression.distill import agreement
    from nets.compression.prune import param_count, sparsity

    row = {"params": param_count(model), "file_kib": round(os.path.getsize(path) / 1024, 1)}
    if model.net_name == "zero_resnet_int8":
        row["params"] = _int8_values(model)  # weight values in the ONNX model (a buffer here, not parameters)
    for b in BATCHES:
        row[f"us_b{b}"] = round(_forward_us(model, held_BCHW, b, min_seconds), 1)
    a = agreement(model, original, torch.from_numpy(held_BCHW))
    row["top1_agreement"] = round(a["top1_agreement"], 4)
    row["policy_kl"] = float(f"{a['policy_kl']:.3g}")  # top-1 alone says little when the policy is flat
    row["value_mse"] = float(f"{a['value_mse']:.3g}")
    if model.net_name != "zero_resnet_int8":
        row["sparsity"] = round(sparsity(model), 3)
    return {f"{label}.{k}": v for k, v in row.items()}


def _int8_values(model) -> int:
    from nets.compression.quantize import qdq_summary

    summary = qdq_summary(model.model_bytes())
    return summary["int8_weight_values"] + summary["float_weight_values"]


def _held_out(weights: str | None, size: int, quick: bool) -> tuple[np.ndarray, str]:
    if weights is not None:
        from rl.compression.data import load_replay

        data = load_replay(os.path.dirname(os.path.abspath(weights)), size, held_out_positions=512)
        if len(data.held_out_planes_BCHW):
            return data.held_out_planes_BCHW, f"{len(data.held_out_planes_BCHW)} positions of held-out games"
    from rl.alphago_zero.ort_evaluator import random_game_planes

    n = 64 if quick else 512
    return random_game_planes(size, n, seed=0), f"{n} positions of random games"


def measure(quick: bool = False, weights: str | None = None) -> dict:
    import torch

    import nets
    from nets.compression.int8_net import int8_net
    from nets.compression.onnx_export import export_onnx
    from nets.compression.prune import PruneConfig, magnitude_prune, prune
    from nets.compression.quantize import quantize_int8
    from nets.go.checkpoint import load, save

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    min_seconds = 0.2 if quick else 1.0
    try:
        with tempfile.TemporaryDirectory(prefix="goengine-bench-compress-") as work:
            candidates: list[tuple[str, object, str]] = []
            if weights is None:
                original = nets.build("zero_resnet", preset="6x64", board_size=9).eval()
                source = "6x64 9x9, random weights"
            else:
                original, _ = load(weights)
                source = weights
            held_BCHW, held_source = _held_out(weights, original.config.board_size, quick)
            original_path = weights or os.path.join(work, "original.pt")
            if weights is None:
                save(original_path, original, feature_set="zero")

            def add(label, model):
                path = os.path.join(work, f"{label}.pt")
                save(path, model, feature_set="zero")
                candidates.append((label, model, path))

            if weights is None:
                for ratio in ((0.5,) if quick else (0.25, 0.5, 0.75)):
                    add(f"pruned{int(ratio * 100)}", prune(original, PruneConfig(ratio=ratio)))
                calibration = held_BCHW[:256]
                add("int8", int8_net(quantize_int8(export_onnx(original), calibration), original))
                pruned = candidates[-2][1]
                add("pruned50_int8", int8_net(quantize_int8(export_onnx(pruned), calibration), pruned))
            else:
                folder = os.path.join(os.path.dirname(os.path.abspath(weights)), "compressed")
                for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
                    if name.endswith(".pt"):
                        model, _ = load(os.path.join(folder, name))
                        candidates.append((name[:-3], model, os.path.join(folder, name)))
            for level in ((0.75,) if quick else (0.5, 0.75, 0.9)):
                add(f"magnitude{int(level * 100)}", magnitude_prune(original, level))

            figures: dict = {"source": source, "held_out": held_source, "threads": 1,
                             "load_avg_1min": round(os.getloadavg()[0], 2)}
            figures.update(_row("original", original, original_path, original, held_BCHW, min_seconds))
            for label, model, path in candidates:
                figures.update(_row(label, model, path, original, held_BCHW, min_seconds))
                for b in BATCHES:
                    speedup = figures[f"original.us_b{b}"] / figures[f"{label}.us_b{b}"]
                    figures[f"{label}.speedup_b{b}"] = round(speedup, 2)
            return figures
    finally:
        torch.set_num_threads(threads)


def strength(first: str, second: str, games: int, *, size: int = 9, komi: float = 7.0, opening_moves: int = 4,
             seed: int = 0, progress: bool = True) -> dict:
    """`first` against `second` (engine specs, e.g. goengine:weights=W,playouts=64) over `games` games under
    goengine.referee. Two deterministic searchers would replay one game, so games come in pairs
    that start from the same `opening_moves` random moves (goengine.referee.random_opening, as the ladder
    does) with colours swapped. Returns the first's record, score with its 95% Wilson interval and the
    Elo difference with its interval (rl/elo.py).

    Equal visits: `playouts=N` in both specs. Equal time per move: `seconds=S` in both; each engine then
    searches for S seconds of wall time a move (stopping sooner once its choice cannot change), and the
    summary's `seconds_per_move` shows what each really took, GTP round trip included."""
    import sys

    from goengine import opponents
    from goengine.gtp.client import GtpProcess
    from goengine.referee import MatchConfig, Referee, random_opening
    from goengine.match_stats import summarise
    from goengine.position import Position
    from rl.elo import elo_from_score

    config = MatchConfig(games=games, size=size, komi=komi)
    with tempfile.TemporaryDirectory(prefix="goengine-strength-") as work:
        engines = []
        for label, spec_text in (("first", first), ("second", second)):
            spec = opponents.parse_opponent(spec_text)
            folder = os.path.join(work, label)
            os.mkdir(folder)
            engine = GtpProcess(opponents.command(spec, board_size=size, workdir=folder), label)
            engine.label = str(spec)
            engines.append(engine)
        if engines[0].label == engines[1].label:
            engines[0].label += " [1]"
            engines[1].label += " [2]"
        referee = Referee(config, *engines)
        results = []
        try:
            for i in range(games):
                opening = random_opening(Position(size, komi), opening_moves, seed + i // 2)
                game = referee.play_game(i, opening)
                results.append(game)
                if progress:
                    print(f"game {i + 1}/{games}: {game.black} (B) vs {game.white} (W): {game.result} "
                          f"({game.reason}, {len(game.moves)} moves)", file=sys.stderr, flush=True)
        finally:
            for engine in engines:
                engine.close()
        summary = summarise(results, engines[0].label, engines[1].label)
    elo = elo_from_score(summary["wins"], len(results), summary["draws"])
    summary.update(elo=round(elo.elo, 1), elo_low=round(elo.low, 1), elo_high=round(elo.high, 1))
    return summary
