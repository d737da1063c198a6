"""Env steps per CPU-second of one core, 9x9, komi 7.5, random legal moves for the agent: goengine/Go-v0
(`GoEnv`), the numba vector env (`GoVectorEnv`), and, measured in the same run, PettingZoo's go_v5 (the
issue's peer) and OpenSpiel's `go`.

A step of our envs is the agent's move AND the random opponent's reply (observation and action mask
included); a step of go_v5 is one move of one player (its `env.last()` observation and mask included);
OpenSpiel's is one `apply_action` and one `observation_tensor`. So the figures come twice: `*_steps_per_s`
(agent decisions) and `*_moves_per_s` (stones or passes played). The ratios divide our vector env's
figure by go_v5's; `vector_vs_pettingzoo_steps` is the conservative one (each of our steps plays two moves).

go_v5 imports pygame at module level for its render mode alone; pygame is not installed here, so this
benchmark puts an empty module in its place (`pettingzoo_pygame_stubbed`: true) and never renders.
"""
from __future__ import annotations

import sys
import time
import types

import numpy as np

from bench._timing import cpu_rate

SIZE, KOMI = 9, 7.5


def _single_env(seconds: float) -> tuple[float, float]:
    from rl.envs.go_env import GoEnv

    env = GoEnv(size=SIZE, komi=KOMI, opponent="random")
    rng = np.random.default_rng(0)
    state = {"info": env.reset(seed=0)[1], "moves": 0, "steps": 0, "games": 0}

    def run() -> int:
        for _ in range(100):
            legal = np.flatnonzero(state["info"]["action_mask"])
            before = len(env.position.history)
            _, _, terminated, truncated, info = env.step(int(legal[rng.integers(len(legal))]))
            state["moves"] += len(env.position.history) - before
            if terminated or truncated:
                state["games"] += 1
                info = env.reset(seed=state["games"])[1]
            state["info"] = info
        state["steps"] += 100
        return 100

    run()  # warm-up: the kernels behind legal_mask and features compile here on a cold cache
    state["moves"] = state["steps"] = 0
    steps = cpu_rate(run, seconds)
    return steps, steps * state["moves"] / state["steps"]


def _vector_env(seconds: float, num_envs: int) -> tuple[float, float]:
    from rl.envs.vector import GoVectorEnv

    env = GoVectorEnv(num_envs=num_envs, size=SIZE, komi=KOMI)
    _, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    noise = rng.random((16, num_envs, SIZE * SIZE + 1)).astype(np.float32)
    state = {"info": info, "i": 0, "moves": 0}

    def run() -> int:
        for _ in range(10):
            actions = (noise[state["i"] % 16] * state["info"]["action_mask"]).argmax(1)  # uniform legal move
            state["i"] += 1
            before = env._ep_moves.copy()
            _, _, terminated, truncated, state["info"] = env.step(actions)
            done = terminated | truncated
            state["moves"] += int((env._ep_moves - before)[~done].sum()) + 2 * int(done.sum())
        return 10 * num_envs

    cpu_rate(run, 0.2)  # warm-up: compiled kernels, pages of the buffers
    state["moves"], n0 = 0, state["i"]
    steps = cpu_rate(run, seconds)
    moves = steps * state["moves"] / ((state["i"] - n0) * num_envs)
    return steps, moves


def _pettingzoo(seconds: float) -> tuple[float, bool]:
    stubbed = False
    try:
        import pygame  # noqa: F401
    except ImportError:
        sys.modules["pygame"] = types.ModuleType("pygame")  # only go_v5's render mode uses it
        stubbed = True
    from pettingzoo.classic import go_v5

    env = go_v5.env(board_size=SIZE, komi=KOMI)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    state = {"games": 0}

    def run() -> int:
        for _ in range(100):
            if not env.agents:
                state["games"] += 1
                env.reset(seed=state["games"])
            observation, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                env.step(None)  # AEC: a finished agent leaves with a None action
                continue
            legal = np.flatnonzero(observation["action_mask"])
            env.step(int(legal[rng.integers(len(legal))]))
        return 100

    return cpu_rate(run, seconds), stubbed


def _openspiel(seconds: float) -> float:
    import pyspiel

    game = pyspiel.load_game("go", {"board_size": SIZE, "komi": KOMI})
    rng = np.random.default_rng(0)
    state = {"s": game.new_initial_state()}

    def run() -> int:
        for _ in range(100):
            s = state["s"]
            if s.is_terminal():
                s = state["s"] = game.new_initial_state()
            legal = s.legal_actions()
            s.apply_action(legal[rng.integers(len(legal))])
            if not s.is_terminal():
                s.observation_tensor(s.current_player())
        return 100

    return cpu_rate(run, seconds)


def measure(quick: bool = False, num_envs: int = 256) -> dict:
    seconds = 0.5 if quick else 3.0
    wall = time.perf_counter()
    single_steps, single_moves = _single_env(seconds)
    vector_steps, vector_moves = _vector_env(seconds, num_envs)
    pz_steps, stubbed = _pettingzoo(seconds)
    spiel_moves = _openspiel(seconds)
    return {
        "board": f"{SIZE}x{SIZE}",
        "goenv_steps_per_s": single_steps,
        "goenv_moves_per_s": single_moves,
        "vector_envs": num_envs,
        "vector_steps_per_s": vector_steps,
        "vector_moves_per_s": vector_moves,
        "pettingzoo_go_v5_steps_per_s": pz_steps,
        "pettingzoo_go_v5_moves_per_s": pz_steps,
        "pettingzoo_pygame_stubbed": stubbed,
        "openspiel_go_moves_per_s": spiel_moves,
        "vector_vs_pettingzoo_steps": vector_steps / pz_steps,
        "vector_vs_pettingzoo_moves": vector_moves / pz_steps,
        "goenv_vs_pettingzoo_steps": single_steps / pz_steps,
        "vector_vs_openspiel_moves": vector_moves / spiel_moves,
        "seconds": time.perf_counter() - wall,
    }
