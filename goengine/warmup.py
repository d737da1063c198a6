"""Compile every numba kernel into the on-disk cache by exercising it once.

Run at set-up and before starting Ray workers so no worker pays the compile (and none races another
writing the cache). `NUMBA_CACHE_DIR` picks the cache; the console script sets a stable default.

`warm()` leaves a marker (WARM_MARKER) in the cache folder it filled. `ensure_warm()`, which `goengine gtp`
and `goengine play` call before they read their first command, warms a folder without one: after an
upgrade, an edited kernel or a new NUMBA_CACHE_DIR the engine then compiles (about a minute on 2 cores)
before it answers at all, inside a controller's or referee's start-up time, instead of inside its first
genmove, where a referee's per-move limit forfeits the game and kills the engine before the compiled
kernels reach the cache, so that the next game does the same.
"""
from __future__ import annotations

import os
from typing import TextIO

WARM_MARKER = ".warm"
"""The file warm() leaves in the numba cache folder once every kernel is in it."""


def _marker() -> str | None:
    from goengine import _jit_cache  # not numba: a file importing numba counts as a kernel's source

    folder = _jit_cache.pinned()
    return os.path.join(folder, WARM_MARKER) if folder else None


def ensure_warm(announce: TextIO | None = None) -> bool:
    """warm() unless the numba cache folder in use has been warmed, saying so first on `announce`; True if
    it ran."""
    import goengine  # noqa: F401 - pins numba's cache folder (goengine._jit_cache)

    marker = _marker()
    if marker is not None and os.path.exists(marker):
        return False
    if announce is not None:
        print("compiling the engine's kernels into the numba cache (once after an install, an upgrade or a "
              "new NUMBA_CACHE_DIR; about a minute)...", file=announce, flush=True)
    warm()
    return True


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
    from goengine.mcts import warmup as mcts_warmup

    mcts_warmup.warm(sizes)
    marker = _marker()
    if marker is not None:
        try:
            open(marker, "a").close()
        except OSError:
            pass  # a read-only cache: ensure_warm() then warms at every start (half a second when cached)


if __name__ == "__main__":
    warm()
