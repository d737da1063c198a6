"""Feature-plane speed: positions per CPU-second for AlphaGo Zero's 17 planes and AlphaGo Lee's 48, on one
core (time.process_time), through `extract(position, ...)` and through the search's batch paths.

Positions come from seeded random games (legal moves, no passes), sampled between moves 40% and 80% of
N², so boards carry chains in atari and ladder questions. No other package computes these planes, so the
peer in the same run is our own per-position path beside the batch path (their ratio is the batching gain).
`measure_features(quick)` is what `goengine bench nets` calls.
"""
from __future__ import annotations


import numpy as np

from bench._timing import cpu_rate
from goengine import _kernels as K
from goengine import features as F
from goengine.geometry import geometry
from goengine.mcts.evaluators import LeafBatch
from goengine.position import Position


def sample_positions(size: int, count: int, seed: int = 0) -> list[Position]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        pos = Position(size)
        stop = int(rng.integers(int(0.4 * size * size), int(0.8 * size * size)))
        for _ in range(stop):
            legal = pos.legal_moves()[:-1]
            if not legal:
                break
            pos = pos.play(legal[int(rng.integers(len(legal)))])
        out.append(pos)
    return out


def leaf_batch(positions: list[Position]) -> LeafBatch:
    """The positions as a search would hand them to an evaluator (8 steps of history)."""
    size = positions[0].size
    g = geometry(size)
    n = len(positions)
    boards = np.empty((n, K.N_ROWS, g.n_points), dtype=np.int32)
    metas = np.empty((n, K.META_LEN), dtype=np.int64)
    history = np.zeros((n, 8, g.n_points), dtype=np.int32)
    legal = np.empty((n, size * size + 1), dtype=np.int8)
    for i, pos in enumerate(positions):
        b = pos.board
        boards[i], metas[i] = b.s, b.meta
        for t, arr in enumerate(pos.recent_boards(8)):
            history[i, t, g.on_board] = arr.reshape(-1)
        legal[i] = pos.legal_mask()
    return LeafBatch(size=size, boards=boards, metas=metas, history=history,
                     to_play=metas[:, K.TO_PLAY].astype(np.int8), legal=legal)


def measure_features(quick: bool = False) -> dict:
    seconds = 0.3 if quick else 2.0
    out: dict = {}
    for size in (9, 19):
        positions = sample_positions(size, 16 if quick else 64, seed=size)
        batch = leaf_batch(positions)
        for name in ("zero", "lee_policy"):
            F.extract(positions[0], name)  # compile or load the kernels before timing

            def per_position(name=name):
                for pos in positions:
                    F.extract(pos, name)
                return len(positions)

            out[f"features_per_s_{name}_{size}x{size}"] = cpu_rate(per_position, seconds)

        def zero_batch():
            F.zero_planes_batch(batch.history, batch.to_play, size)
            return len(positions)

        def lee_batch():
            F.lee_planes_batch(batch)
            return len(positions)

        zero_batch()
        out[f"features_per_s_zero_batch_{size}x{size}"] = cpu_rate(zero_batch, seconds)
        out[f"features_per_s_lee_policy_batch_{size}x{size}"] = cpu_rate(lee_batch, seconds)
        out[f"zero_batch_over_extract_{size}x{size}"] = (out[f"features_per_s_zero_batch_{size}x{size}"]
                                                         / out[f"features_per_s_zero_{size}x{size}"])
    out["features_timer"] = "process_time (CPU seconds of one core)"
    return out


measure = measure_features  # `python -m bench.features`, and the shape bench/cli.py expects


if __name__ == "__main__":
    import json

    print(json.dumps(measure_features()))
