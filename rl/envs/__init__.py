"""Go as reinforcement-learning environments. `import rl.envs` registers "goengine/Go-v0".

Start reading at go_env.py (`GoEnv`, one board, the agent against an opponent: opponents.py), then
vector.py (`GoVectorEnv`, many boards against a numba opponent in one numba call: _kernels.py) and aec.py
(`GoAECEnv`, two players in PettingZoo's AEC shape). render.py draws boards.

    env = gymnasium.make("goengine/Go-v0", size=5, komi=0.5, opponent="random")
    envs = gymnasium.make_vec("goengine/Go-v0", num_envs=64, vectorization_mode="vector_entry_point", size=5)
"""
from __future__ import annotations

import gymnasium as gym

ENV_ID = "goengine/Go-v0"

if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="rl.envs.go_env:GoEnv",
                 vector_entry_point="rl.envs.vector:GoVectorEnv", disable_env_checker=False)

from rl.envs.aec import GoAECEnv  # noqa: E402
from rl.envs.go_env import GoEnv  # noqa: E402
from rl.envs.vector import GoVectorEnv  # noqa: E402

__all__ = ["ENV_ID", "GoAECEnv", "GoEnv", "GoVectorEnv"]
