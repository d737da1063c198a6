"""Search speed: simulations per second on 9x9 from the empty board, light and heavy playouts, and
OpenSpiel's C++ MCTSBot with its RandomRolloutEvaluator (one rollout per simulation) in the same run.

OpenSpiel's random rollouts pick pass uniformly among legal actions, so its rollouts stop early; ours play
to the end without filling eyes. Both sides run on one core; rates are per CPU-second.
"""
from __future__ import annotations

import time

from goengine.mcts.evaluators import RolloutEvaluator
from goengine.mcts.search import Search, SearchConfig
from goengine.position import Position


def sims_per_s(heavy: bool, seconds: float) -> float:
    warm = Search(RolloutEvaluator(heavy=heavy), SearchConfig(seed=1, tree_nodes=50_000))
    warm.set_root(Position(9, komi=7.5))
    warm.run(sims=200)  # compile and warm
    done, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        fresh = Search(RolloutEvaluator(heavy=heavy), SearchConfig(seed=done + 2))
        fresh.set_root(Position(9, komi=7.5))
        done += fresh.run(sims=5000)
    return done / (time.process_time() - start)


def openspiel_sims_per_s(seconds: float) -> float | None:
    try:
        import pyspiel
    except ImportError:
        return None
    game = pyspiel.load_game("go", {"board_size": 9, "komi": 7.5})
    sims = 5000
    done, start = 0, time.process_time()
    seed = 0
    while time.process_time() - start < seconds:
        evaluator = pyspiel.RandomRolloutEvaluator(1, seed)
        bot = pyspiel.MCTSBot(game, evaluator, 2.0, sims, 10**8, False, seed, False)
        bot.step(game.new_initial_state())
        done += sims
        seed += 1
    return done / (time.process_time() - start)


def measure(quick: bool = False) -> dict:
    seconds = 1.0 if quick else 5.0
    out = {
        "sims_per_s_light": sims_per_s(False, seconds),
        "sims_per_s_heavy": sims_per_s(True, seconds),
    }
    peer = openspiel_sims_per_s(seconds)
    if peer is not None:
        out["openspiel_sims_per_s"] = peer
        out["ratio_light_vs_openspiel"] = out["sims_per_s_light"] / peer
        out["ratio_heavy_vs_openspiel"] = out["sims_per_s_heavy"] / peer
    out["board"] = "9x9 empty, komi 7.5; each search 5000 simulations from a fresh tree"
    out["timer"] = "process_time (CPU seconds of one core)"
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure()))
