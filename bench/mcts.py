"""Search speed: simulations per second on 9x9 from the empty board, light and heavy playouts, and
OpenSpiel's C++ MCTSBot with its RandomRolloutEvaluator (one rollout per simulation) in the same run.

OpenSpiel's random rollouts pick pass uniformly among legal actions, so its rollouts stop early; ours play
to the end without filling eyes. Both sides run on one core; rates are per CPU-second.

Threads (`goengine gtp --threads N`, goengine/mcts/parallel.py): heavy simulations per wall-clock second
with 1 and 2 search threads, measured alternately in the same run (the best of the rounds of each, so a
burst of load elsewhere on a shared machine hurts both alike), and their ratio. And time: the wall
seconds that `goengine gtp --seconds 1` moves really take (the first moves of a game: nothing banked
yet, so 1 s is each move's limit, and a decided move stops early).
"""
from __future__ import annotations

import os
import time

from goengine.mcts.evaluators import RolloutEvaluator
from goengine.mcts.parallel import ParallelSearch
from goengine.mcts.player import MCTSPlayer, PlayerConfig
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig
from goengine.players import TimeBudget
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


def wall_sims_per_s(search, seconds: float) -> tuple[float, float]:
    """(heavy simulations per wall-clock second, CPU seconds per wall second of this process) of
    `search` (Search or ParallelSearch) from a fresh tree. The second says how many cores the process
    got: on a busy machine 2 threads cannot gain when it stays near 1 or below."""
    search.set_root(Position(9, komi=7.5))
    search.run(sims=256)  # compile and warm every tree
    search.set_root(Position(9, komi=7.5).play("pass", "b"))  # not a descendant: a fresh tree
    start, cpu = time.perf_counter(), time.process_time()
    done = search.run(seconds=seconds)
    wall = time.perf_counter() - start
    return done / wall, (time.process_time() - cpu) / wall


def thread_speeds(seconds: float, rounds: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """The best (rate, cores used) of 1 thread and of 2 threads over alternating rounds of `seconds` each."""
    one = Search(RolloutEvaluator(), SearchConfig(seed=1))
    two = ParallelSearch(RolloutEvaluator(), SearchConfig(seed=1), threads=2)
    try:
        rates = [(wall_sims_per_s(one, seconds), wall_sims_per_s(two, seconds)) for _ in range(rounds)]
    finally:
        two.close()
    return max(r[0] for r in rates), max(r[1] for r in rates)


def genmove_seconds(moves: int, threads: int = 1) -> list[float]:
    """Wall seconds of the first `moves` genmoves of a game under `goengine gtp --seconds 1`'s budget."""
    player = MCTSPlayer(PlayerConfig(seconds=1.0, threads=threads), SearchConfig(seed=1))
    player.genmove(Position(9, komi=7.5), "b", TimeBudget(playouts=64))  # compile and warm
    pos, out = Position(9, komi=7.5), []
    try:
        for _ in range(moves):
            start = time.perf_counter()
            move = player.genmove(pos, pos.to_play, TimeBudget(seconds=1.0, bankable=True))
            out.append(time.perf_counter() - start)
            if move == "resign":
                break
            pos = pos.play(move, pos.to_play)
    finally:
        player.close()
    return out


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
    (one, cores_one), (two, cores_two) = thread_speeds(1.0 if quick else 3.0, 1 if quick else 3)
    out["sims_per_s_heavy_1_thread"] = one
    out["sims_per_s_heavy_2_threads"] = two
    out["speedup_2_threads"] = two / one
    out["cores_used_1_thread"], out["cores_used_2_threads"] = cores_one, cores_two
    for threads in (1, 2):
        taken = genmove_seconds(2 if quick else 6, threads)
        out[f"genmove_seconds_1s_{threads}_thread{'s' if threads > 1 else ''}"] = {
            "mean": sum(taken) / len(taken), "max": max(taken), "moves": len(taken)}
    out["board"] = "9x9 empty, komi 7.5; each search 5000 simulations from a fresh tree"
    out["timer"] = ("process_time (CPU seconds of one core); the thread rates and genmove seconds are "
                    "wall-clock (perf_counter)")
    try:
        out["load_average_1min"] = os.getloadavg()[0]
    except OSError:
        pass
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(measure()))
