"""Board speed: random playouts per second, microseconds per play, copy cost; OpenSpiel beside it.

Peer: OpenSpiel's Go (PyPI open-spiel), random games fully in C++ (`evaluate_bots` with uniform random
bots) and driven from Python. Note the games differ: OpenSpiel's random bots pick pass uniformly among
the legal actions, so its games stop early on an unfinished board; ours play until only eye-like points
are left (about 110 moves on 9x9), so each of our playouts does more work.
"""
from __future__ import annotations

import random

import numpy as np

from bench._timing import cpu_rate
from goengine import _kernels as K
from goengine import coords
from goengine.board import Board, rng_state
from goengine.position import Position


def playouts_per_s(size: int, seconds: float) -> float:
    b = Board(size)
    g, rng = b.geo, rng_state(7)
    batch = 2000 if size == 9 else 200
    K.playouts(b.s, b.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board, rng, 2, 3 * size * size)  # compile

    def run():
        K.playouts(b.s, b.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board, rng, batch, 3 * size * size)
        return batch

    return cpu_rate(run, seconds)


def play_costs_us(size: int) -> dict:
    """Microseconds per in-place Board.play, per immutable Position.play, and per Board.copy."""
    rng = random.Random(3)
    moves = []  # a legal 60-move game prefix, found by trying random points on a scratch board
    board = Board(size)
    for _ in range(60):
        for _try in range(100):
            p = int(rng.choice(board.geo.on_board))
            if board.play(p) == K.OK:
                moves.append(p)
                break
    fresh = Board(size)
    scratch = fresh.copy()

    def replay_board():
        scratch.copy_from(fresh)
        for p in moves:
            scratch.play(p)
        return len(moves)

    copies = 2000

    def copy_board():
        for _ in range(copies):
            fresh.copy()
        return copies

    vertices = [coords.point_to_gtp(p, size) for p in moves]
    start_pos = Position(size=size, komi=7.0)

    def replay_position():
        pos = start_pos
        for v in vertices:
            pos = pos.play(v)
        return len(vertices)

    replay_board()
    replay_position()  # compile and warm both paths before timing
    return {
        f"board_play_us_{size}x{size}": 1e6 / cpu_rate(replay_board, 0.5),
        f"position_play_us_{size}x{size}": 1e6 / cpu_rate(replay_position, 0.5),
        f"copy_us_{size}x{size}": 1e6 / cpu_rate(copy_board, 0.3),
    }


def openspiel_rates(size: int, seconds: float) -> dict:
    try:
        import pyspiel
    except ImportError:
        return {}
    game = pyspiel.load_game("go", {"board_size": size, "komi": 7.5})
    bots = [pyspiel.make_uniform_random_bot(0, 1), pyspiel.make_uniform_random_bot(1, 2)]
    seed = iter(range(10**9))

    def cpp():
        for _ in range(50):
            pyspiel.evaluate_bots(game.new_initial_state(), bots, next(seed))
        return 50

    rng = random.Random(0)

    def python_driven():
        state = game.new_initial_state()
        while not state.is_terminal():
            state.apply_action(rng.choice(state.legal_actions()))
        return 1

    return {
        f"openspiel_cpp_playouts_per_s_{size}x{size}": cpu_rate(cpp, seconds),
        f"openspiel_python_playouts_per_s_{size}x{size}": cpu_rate(python_driven, seconds / 2),
    }


def measure(quick: bool = False) -> dict:
    seconds = 0.5 if quick else 3.0
    out: dict = {}
    for size in (9, 19):
        ours = playouts_per_s(size, seconds)
        out[f"playouts_per_s_{size}x{size}"] = ours
        out.update(play_costs_us(size))
        peer = openspiel_rates(size, seconds)
        out.update(peer)
        if peer:
            out[f"ratio_vs_openspiel_cpp_{size}x{size}"] = ours / peer[f"openspiel_cpp_playouts_per_s_{size}x{size}"]
            out[f"ratio_vs_openspiel_python_{size}x{size}"] = ours / peer[f"openspiel_python_playouts_per_s_{size}x{size}"]
    out["timer"] = "process_time (CPU seconds of one core)"
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure()))
