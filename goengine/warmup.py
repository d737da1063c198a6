"""Compile every numba kernel into the on-disk cache by exercising it once.

Run at set-up and before starting Ray workers so no worker pays the compile (and none races another
writing the cache). `NUMBA_CACHE_DIR` picks the cache; the console script sets a stable default.
"""
from __future__ import annotations


def warm(sizes: tuple[int, ...] = (9,)) -> None:
    from goengine.board import Board, rng_state
    from goengine.position import Position

    for size in sizes:
        pos = Position(size=size)
        for move in pos.legal_moves()[:3]:
            pos = pos.play(move)
        pos.legal_moves()
        pos.score()
        Board(size).random_playout(rng_state(1))
        pos.with_colours(pos.board_array())
        from goengine import features

        for feature_set in ("zero", "lee_policy"):
            features.extract(pos, feature_set)
    try:  # the search kernels, once they exist in this checkout
        from goengine.mcts import warmup as mcts_warmup
    except ImportError:
        return
    mcts_warmup.warm(sizes)


if __name__ == "__main__":
    warm()
