"""`GoVectorEnv`: many Go boards against a numba opponent, stepped in one numba call (a
`gymnasium.vector.VectorEnv`).

    envs = gymnasium.make_vec("goengine/Go-v0", num_envs=256, vectorization_mode="vector_entry_point",
                              size=5, komi=0.5)
    obs_BCNN, infos = envs.reset(seed=0)          # infos["action_mask"]: int8 (B, N*N+1)
    obs_BCNN, reward_B, terminated_B, truncated_B, infos = envs.step(actions_B)

The step is the agent's move, the opponent's reply, and, for boards whose game ended, a new game at
once (same-step autoreset: `infos["final_obs"]` (an object array, as SyncVectorEnv's),
`infos["final_score"]` and `infos["_final_obs"]` hold the ended games).
Opponents: "random" (uniform among legal moves that fill no own eye-like point, as goengine's
RandomPlayer) or "mc:playouts=P" (flat Monte Carlo: P random playouts per candidate move, the most wins
played; rl/envs/_kernels.py), the same opponents GoEnv plays under those names. `random_fraction=f`
makes the first round(f * B) boards play the random opponent instead (`env.opponent_playouts`: each
board's playouts, 0 for random), a curriculum for training against the Monte Carlo opponent.
Rules are simple ko and no suicide; `max_moves` truncates. Observations are the 17 Zero planes, as
`GoEnv(observation="zero")` gives them, so a policy trained here plays in `GoEnv`.
"""
from __future__ import annotations

import sys

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from goengine import _kernels as GK
from goengine.geometry import geometry
from rl.envs import _kernels as VK
from rl.envs.opponents import mc_playouts

_COLOURS = {"black": VK.COLOUR_BLACK, "b": VK.COLOUR_BLACK, "white": VK.COLOUR_WHITE, "w": VK.COLOUR_WHITE,
            "random": VK.COLOUR_RANDOM}


def _flat(obs_BCNN: np.ndarray) -> np.ndarray:
    """(B, C, N, N) -> (B, C, N*N), a view: the kernels write planes as flat rows."""
    return obs_BCNN.reshape(obs_BCNN.shape[0], obs_BCNN.shape[1], -1)


class GoVectorEnv(VectorEnv):
    metadata = {"render_modes": [], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 16, size: int = 9, komi: float = 7.5, opponent: str = "random",
                 agent_colour: str = "black", illegal: str = "mask", illegal_reward: float = -1.0,
                 max_moves: int | None = None, observation: str = "zero", render_mode: str | None = None,
                 random_fraction: float = 0.0, **_ignored):
        playouts = 0 if opponent == "random" else (mc_playouts(opponent) if isinstance(opponent, str) else None)
        if playouts is None:
            raise ValueError(f"the vector env plays 'random' or 'mc:playouts=P' only, not {opponent!r} (use GoEnv)")
        if observation != "zero":
            raise ValueError(f"the vector env gives the 17 Zero planes only, not {observation!r}")
        if agent_colour not in _COLOURS:
            raise ValueError(f"agent_colour must be black, white or random, not {agent_colour!r}")
        if illegal not in ("mask", "lose"):
            raise ValueError(f"illegal must be 'mask' or 'lose', not {illegal!r}")
        if render_mode is not None:
            raise ValueError("the vector env does not render (render one GoEnv instead)")
        if not 0.0 <= random_fraction <= 1.0:
            raise ValueError(f"random_fraction must be in [0, 1], not {random_fraction!r}")
        self.num_envs = int(num_envs)
        self.size, self.komi = int(size), float(komi)
        self.opponent = opponent
        g = self.geo = geometry(self.size)
        self._geo = (g.neighbours, g.diagonals, g.zobrist, g.on_board, g.action_of_point, g.empty_colours)
        self.max_moves = int(max_moves) if max_moves is not None else 3 * self.size * self.size
        playout_cap = 3 * self.size * self.size
        # the opponent of each board: its playouts (0: random); boards below random_fraction * B play the
        # random opponent instead (a training curriculum: games an untrained agent can win)
        self.opponent_playouts = np.full(self.num_envs, int(playouts), dtype=np.int64)
        self.opponent_playouts[:round(random_fraction * self.num_envs)] = 0
        self._opp = (self.opponent_playouts, self.komi, playout_cap)
        self._work = VK.scratch(g.n_points, self.size, playout_cap)
        self.colour_mode = _COLOURS[agent_colour]
        self.illegal, self.illegal_reward = illegal, float(illegal_reward)
        self.render_mode = None
        n_actions = self.size * self.size + 1
        self.single_observation_space = spaces.Box(0.0, 1.0, (VK.PLANES, self.size, self.size), np.float32)
        self.single_action_space = spaces.Discrete(n_actions)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        b = self.num_envs
        self._s = np.zeros((b, GK.N_ROWS, g.n_points), dtype=np.int32)
        self._meta = np.zeros((b, GK.META_LEN), dtype=np.int64)
        self._hist = np.zeros((b, VK.HISTORY + 1, self.size * self.size), dtype=np.int8)  # ring + head index
        self._mask = np.zeros((b, n_actions), dtype=np.int8)  # legal actions now (the agent is to move)
        self._final_obs = np.zeros((b, VK.PLANES, self.size, self.size), np.float32)
        self._agent = np.zeros(b, dtype=np.int8)
        self._ep_moves = np.zeros(b, dtype=np.int32)
        self._rng = np.ones(1, dtype=np.uint64)
        self._pool: list[np.ndarray] = []
        self._free_refs: int | None = None
        self._started = False

    def _refcounts(self) -> list[int]:
        return [sys.getrefcount(buf) for buf in self._pool]

    def _obs_buffer(self) -> np.ndarray:
        """A (B, 17, N, N) float32 buffer for the next observation, all of it written by the kernels: one
        returned earlier that nobody holds any more, else a new one. Reuse spares the allocator and the
        page faults of 1.4 MB a step on 9x9 x 256 boards; a caller who keeps an observation (a rollout
        list, a tensor made from it, a view) holds a reference, so that buffer is not reused. "Nobody
        holds it" is the reference count a pooled array nobody else holds shows through the same code
        (measured on the first call, so it does not depend on the interpreter's counting)."""
        if self._free_refs is None:
            self._pool.append(np.empty(0, np.float32))
            self._free_refs = self._refcounts()[0]
            self._pool.clear()
        refs = self._refcounts()
        if self._free_refs in refs:
            return self._pool[refs.index(self._free_refs)]
        buf = np.empty((self.num_envs, VK.PLANES, self.size, self.size), np.float32)
        if len(self._pool) < 4:
            self._pool.append(buf)
        return buf

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._rng[0] = np.uint64(int(self.np_random.integers(1, 2**63)))
        obs = self._obs_buffer()
        VK.reset_all(self._s, self._meta, self._hist, self._agent, self._ep_moves, self._geo,
                     self._rng, self.colour_mode, self._opp, self._work, _flat(obs), self._mask)
        self._started = True
        return obs, {"action_mask": self._mask.copy(), "agent_colour": self._agent.copy()}

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)
        if self.illegal == "mask":
            bad = VK.first_illegal(actions, self._mask)
            if bad >= 0:
                raise ValueError(f"env {bad}: action {int(actions[bad])} is illegal (see infos['action_mask'])")
        obs = self._obs_buffer()
        b = self.num_envs
        reward = np.empty(b, np.float64)  # these four: every element written by step_all
        terminated = np.empty(b, np.bool_)
        truncated = np.empty(b, np.bool_)
        final_score = np.empty(b, np.float64)
        agent_before = self._agent.copy()
        VK.step_all(self._s, self._meta, self._hist, self._agent, self._ep_moves, actions, self._geo,
                    self._rng, self.colour_mode, self._opp, self._work, self.komi, self.max_moves,
                    self.illegal_reward, _flat(obs), self._mask, reward, terminated, truncated,
                    _flat(self._final_obs), final_score)
        done = terminated | truncated
        infos = {"action_mask": self._mask.copy(), "agent_colour": self._agent.copy()}
        if done.any():
            final_obs = np.full(b, None, dtype=object)  # as gymnasium's SyncVectorEnv gives it
            for i in np.flatnonzero(done):
                final_obs[i] = self._final_obs[i].copy()
            infos.update(final_obs=final_obs, _final_obs=done, final_score=final_score, _final_score=done,
                         final_agent_colour=agent_before, _final_agent_colour=done)
        return obs, reward, terminated, truncated, infos

    def boards(self) -> np.ndarray:
        """int8 (B, N, N) stones of every board (0 empty, 1 black, 2 white), row 0 = GTP row 1."""
        g = self.geo
        return self._s[:, GK.COLOUR][:, g.on_board].astype(np.int8).reshape(self.num_envs, self.size, self.size)

    def close_extras(self, **kwargs):
        self._started = False
