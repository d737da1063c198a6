"""`GoAECEnv`: two-player Go in PettingZoo's AEC shape (agent-environment cycle), without PettingZoo.

    env = GoAECEnv(size=9, komi=7.5)
    env.reset(seed=0)
    for agent in env.agent_iter():
        observation, reward, termination, truncation, info = env.last()
        action = None if termination or truncation else policy(observation["observation"],
                                                                observation["action_mask"])
        env.step(action)

Agents are "black_0" and "white_0" (PettingZoo go_v5's names); each observes {"observation": float32
(17, N, N) Zero planes from its own side, "action_mask": int8 (N*N+1,)} (the mask is all zero when it is
not its turn). As in go_v5, an illegal move ends the game: the mover gets `illegal_reward` (-1), the other
0. Otherwise rewards are +-1 (0 for jigo) by area score when two passes end the game; `max_moves`
truncates. The attributes and methods are PettingZoo's AECEnv ones (agents, possible_agents, rewards,
terminations, truncations, infos, agent_selection, observe, last, step, agent_iter, observation_space,
action_space, render, close), so its api_test can be pointed at it.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from goengine import coords
from goengine.position import Position
from rl.envs import render as R
from rl.envs.go_env import zero_planes

AGENTS = ("black_0", "white_0")
_COLOUR = {"black_0": "b", "white_0": "w"}


class GoAECEnv:
    metadata = {"render_modes": ["ansi", "rgb_array"], "name": "goengine_go_v0", "is_parallelizable": False}

    def __init__(self, size: int = 9, komi: float = 7.5, rules: str = "chinese", illegal_reward: float = -1.0,
                 max_moves: int | None = None, render_mode: str | None = None):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, not {render_mode!r}")
        self._blank = Position(size, komi, rules)
        self.size = self._blank.size
        self.illegal_reward = float(illegal_reward)
        self.max_moves = int(max_moves) if max_moves is not None else 3 * self.size * self.size
        self.render_mode = render_mode
        self.possible_agents = list(AGENTS)
        n = self.size * self.size
        self._obs_space = spaces.Dict({
            "observation": spaces.Box(0.0, 1.0, (17, self.size, self.size), np.float32),
            "action_mask": spaces.Box(0, 1, (n + 1,), np.int8)})
        self._act_space = spaces.Discrete(n + 1)
        self.np_random = np.random.default_rng()
        self.agents: list[str] = []
        self.position = self._blank

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_space

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_space

    @property
    def num_agents(self) -> int:
        return len(self.agents)

    @property
    def max_num_agents(self) -> int:
        return len(self.possible_agents)

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        if seed is not None:
            self.np_random, _ = gym.utils.seeding.np_random(seed)
        self.position = self._blank
        self.agents = list(AGENTS)
        self.rewards = {a: 0.0 for a in self.agents}
        self._cumulative_rewards = {a: 0.0 for a in self.agents}
        self.terminations = {a: False for a in self.agents}
        self.truncations = {a: False for a in self.agents}
        self.infos = {a: {} for a in self.agents}
        self.agent_selection = AGENTS[0]

    def observe(self, agent: str) -> dict:
        colour = _COLOUR[agent]
        mover = self.agents and self.agent_selection == agent and not self._done(agent)
        mask = self.position.legal_mask() if mover else np.zeros(self.size * self.size + 1, np.int8)
        return {"observation": zero_planes(self.position, colour), "action_mask": mask}

    def last(self, observe: bool = True):
        agent = self.agent_selection
        return (self.observe(agent) if observe else None, self._cumulative_rewards[agent],
                self.terminations[agent], self.truncations[agent], self.infos[agent])

    def agent_iter(self, max_iter: int = 2**63):
        for _ in range(max_iter):
            if not self.agents:
                return
            yield self.agent_selection

    def _done(self, agent: str) -> bool:
        return self.terminations[agent] or self.truncations[agent]

    def step(self, action) -> None:
        agent = self.agent_selection
        if self._done(agent):  # PettingZoo's dead step: the agent leaves
            if action is not None:
                raise ValueError(f"{agent} is done: step(None)")
            self.agents.remove(agent)
            self._cumulative_rewards.pop(agent, None)
            if self.agents:
                self.agent_selection = self.agents[0]
            return
        self._cumulative_rewards[agent] = 0.0
        self.rewards = {a: 0.0 for a in self.agents}
        other = AGENTS[1] if agent == AGENTS[0] else AGENTS[0]
        a = int(action)
        n = self.size * self.size
        if not 0 <= a <= n or not self.position.legal_mask()[a]:
            self.rewards[agent] = self.illegal_reward
            self.terminations = {x: True for x in self.agents}
            self.infos[agent] = {"illegal": True}
        else:
            self.position = self.position.play(coords.action_to_gtp(a, self.size))
            if self.position.is_over:
                score = self.position.score()
                self.rewards["black_0"], self.rewards["white_0"] = float(np.sign(score)), float(-np.sign(score))
                self.terminations = {x: True for x in self.agents}
                for x in self.agents:
                    self.infos[x] = {"result": self.position.result()}
            elif len(self.position.history) >= self.max_moves:
                self.truncations = {x: True for x in self.agents}
        for x in self.agents:
            self._cumulative_rewards[x] += self.rewards[x]
        self.agent_selection = other

    def render(self):
        if self.render_mode == "ansi":
            return f"{self.position}\n{self.position.to_play} to play\n"
        if self.render_mode == "rgb_array":
            last = self.position.last_move
            rc = coords.gtp_to_row_col(last, self.size) if last and last != "pass" else None
            return R.rgb_array(self.position.board_array(), rc)
        return None

    def close(self) -> None:
        pass
