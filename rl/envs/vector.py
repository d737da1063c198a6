"""`GoVectorEnv`: many Go boards against a random opponent, stepped in one numba call (a
`gymnasium.vector.VectorEnv`).

    envs = gymnasium.make_vec("goengine/Go-v0", num_envs=256, vectorization_mode="vector_entry_point",
                              size=5, komi=0.5)
    obs_BCNN, infos = envs.reset(seed=0)          # infos["action_mask"]: int8 (B, N*N+1)
    obs_BCNN, reward_B, terminated_B, truncated_B, infos = envs.step(actions_B)

The step is the agent's move, the opponent's reply (uniform among legal moves that fill no own eye-like
point, as goengine's RandomPlayer), and, for boards whose game ended, a new game at once (same-step
autoreset: `infos["final_obs"]` (an object array, as SyncVectorEnv's), `infos["final_score"]` and
`infos["_final_obs"]` hold the ended games).
Rules are simple ko and no suicide; `max_moves` truncates. Observations are the 17 Zero planes, as
`GoEnv(observation="zero")` gives them, so a policy trained here plays in `GoEnv`.
"""
from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from goengine import _kernels as GK
from goengine.geometry import geometry
from rl.envs import _kernels as VK

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
                 **_ignored):
        if opponent != "random":
            raise ValueError(f"the vector env plays the random opponent only, not {opponent!r} (use GoEnv)")
        if observation != "zero":
            raise ValueError(f"the vector env gives the 17 Zero planes only, not {observation!r}")
        if agent_colour not in _COLOURS:
            raise ValueError(f"agent_colour must be black, white or random, not {agent_colour!r}")
        if illegal not in ("mask", "lose"):
            raise ValueError(f"illegal must be 'mask' or 'lose', not {illegal!r}")
        if render_mode is not None:
            raise ValueError("the vector env does not render (render one GoEnv instead)")
        self.num_envs = int(num_envs)
        self.size, self.komi = int(size), float(komi)
        self.geo = geometry(self.size)
        self.max_moves = int(max_moves) if max_moves is not None else 3 * self.size * self.size
        self.colour_mode = _COLOURS[agent_colour]
        self.illegal, self.illegal_reward = illegal, float(illegal_reward)
        self.render_mode = None
        n_actions = self.size * self.size + 1
        self.single_observation_space = spaces.Box(0.0, 1.0, (VK.PLANES, self.size, self.size), np.float32)
        self.single_action_space = spaces.Discrete(n_actions)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        b, g = self.num_envs, self.geo
        self._s = np.zeros((b, GK.N_ROWS, g.n_points), dtype=np.int32)
        self._meta = np.zeros((b, GK.META_LEN), dtype=np.int64)
        self._hist = np.zeros((b, VK.HISTORY + 1, self.size * self.size), dtype=np.int8)  # ring + head index
        self._final_obs = np.zeros((b, VK.PLANES, self.size, self.size), np.float32)
        self._agent = np.zeros(b, dtype=np.int8)
        self._ep_moves = np.zeros(b, dtype=np.int32)
        self._rng = np.ones(1, dtype=np.uint64)
        self._started = False

    def _buffers(self):
        b, n = self.num_envs, self.size
        return (np.empty((b, VK.PLANES, n, n), np.float32), np.empty((b, n * n + 1), np.int8))  # all written

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._rng[0] = np.uint64(int(self.np_random.integers(1, 2**63)))
        obs, mask = self._buffers()
        g = self.geo
        VK.reset_all(self._s, self._meta, self._hist, self._agent, self._ep_moves, g.neighbours, g.diagonals,
                     g.zobrist, g.on_board, g.empty_colours, self._rng, self.colour_mode, self.size, _flat(obs), mask)
        self._started = True
        return obs, {"action_mask": mask, "agent_colour": self._agent.copy()}

    def step(self, actions):
        if not self._started:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs)
        g = self.geo
        if self.illegal == "mask":
            bad = VK.first_illegal(self._s, self._meta, actions, g.neighbours, g.on_board)
            if bad >= 0:
                raise ValueError(f"env {bad}: action {int(actions[bad])} is illegal (see infos['action_mask'])")
        obs, mask = self._buffers()
        b = self.num_envs
        reward = np.zeros(b, np.float64)
        terminated = np.zeros(b, np.bool_)
        truncated = np.zeros(b, np.bool_)
        final_score = np.zeros(b, np.float64)
        agent_before = self._agent.copy()
        VK.step_all(self._s, self._meta, self._hist, self._agent, self._ep_moves, actions, g.neighbours,
                    g.diagonals, g.zobrist, g.on_board, g.empty_colours, self._rng, self.colour_mode, self.size,
                    self.komi, self.max_moves, self.illegal_reward, _flat(obs), mask, reward, terminated, truncated,
                    _flat(self._final_obs), final_score)
        done = terminated | truncated
        infos = {"action_mask": mask, "agent_colour": self._agent.copy()}
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
