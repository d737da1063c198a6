"""`GoEnv`: Go as a single-agent gymnasium env, the agent against an opponent of your choice.

    import gymnasium, rl.envs
    env = gymnasium.make("goengine/Go-v0", size=5, komi=0.5, opponent="random")
    obs_CNN, info = env.reset(seed=0)                      # info["action_mask"]: int8 (N*N+1,), 1 = legal
    obs_CNN, reward, terminated, truncated, info = env.step(action)

The game is a goengine `Position` (rules "chinese": positional superko, no suicide; Tromp-Taylor area
score with komi). Actions: a = row * N + col (row 0 = GTP row 1, col 0 = A), N*N = pass. Each step plays
the agent's move and then the opponent's reply, so the agent always observes with itself to move.

Options (keyword arguments of gymnasium.make):
    size, komi, rules       the game
    opponent                "random", "mc:playouts=4" (flat Monte Carlo), "goengine:playouts=8",
                            "gnugo:level=10", "katago:visits=1", a callable(position, colour) or a
                            goengine Player (see opponents.py)
    agent_colour            "black", "white" or "random" (drawn at each reset from the env's generator)
    observation             "zero": AlphaGo Zero's 17 planes; "lee": AlphaGo Lee's 48 (goengine.features)
    illegal                 "mask": the agent must play a move that info["action_mask"] allows (else
                            ValueError); "lose": an illegal move ends the game with `illegal_reward`, as
                            PettingZoo's go_v5 does
    max_moves               moves of both sides after which the game is truncated (default 3 N^2)

Reward: at the end of a game +1 if the agent wins by area score, -1 if it loses, 0 for jigo; 0 on every
other step and on truncation (info["score"] then holds the area score from the agent's side). An
opponent's resignation ends the game with +1.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from goengine import coords
from goengine.features import extract, num_planes
from goengine.position import Position
from rl.envs import render as R
from rl.envs.opponents import make_opponent

OBSERVATIONS = {"zero": "zero", "lee": "lee_policy"}
HISTORY = 8


def zero_planes(position: Position, colour: str) -> np.ndarray:
    """float32 (17, N, N): AlphaGo Zero's planes as `colour` sees `position` (equal to
    goengine.features.extract(position, "zero") when `colour` is to play)."""
    me = 1 if colour == "b" else 2
    boards = np.stack(position.recent_boards(HISTORY))  # (8, N, N) newest first
    out = np.empty((2 * HISTORY + 1,) + boards.shape[1:], np.float32)
    out[0:2 * HISTORY:2] = boards == me
    out[1:2 * HISTORY:2] = boards == 3 - me
    out[2 * HISTORY] = 1.0 if colour == "b" else 0.0
    return out


class GoEnv(gym.Env):
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 2}

    def __init__(self, size: int = 9, komi: float = 7.5, opponent="random", agent_colour: str = "black",
                 observation: str = "zero", illegal: str = "mask", illegal_reward: float = -1.0,
                 max_moves: int | None = None, rules: str = "chinese", render_mode: str | None = None):
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation must be one of {', '.join(OBSERVATIONS)}, not {observation!r}")
        if agent_colour not in ("black", "white", "random"):
            raise ValueError(f"agent_colour must be black, white or random, not {agent_colour!r}")
        if illegal not in ("mask", "lose"):
            raise ValueError(f"illegal must be 'mask' or 'lose', not {illegal!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, not {render_mode!r}")
        self._blank = Position(size, komi, rules)  # checks size, komi and rules
        self.size, self.komi, self.rules = self._blank.size, self._blank.komi, self._blank.rules
        self.agent_colour_mode, self.illegal, self.illegal_reward = agent_colour, illegal, float(illegal_reward)
        self.feature_set = OBSERVATIONS[observation]
        self.max_moves = int(max_moves) if max_moves is not None else 3 * self.size * self.size
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, 1.0, (num_planes(self.feature_set), self.size, self.size),
                                            np.float32)
        self.action_space = spaces.Discrete(self.size * self.size + 1)
        self.opponent = make_opponent(opponent)
        self.position = self._blank
        self.agent = "b"
        self._over = True

    # --- the gymnasium API ---
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        mode = self.agent_colour_mode
        if mode == "random":
            mode = "black" if self.np_random.integers(2) == 0 else "white"
        self.agent = mode[0]
        self.position = self._blank
        self._over = False
        self.opponent.new_game(self.position, int(self.np_random.integers(2**31)))
        ended = None
        if self.agent == "w":
            ended = self._opponent_moves()
        if ended is not None:  # only a resignation on move one can end a game here
            self._over = True
        return self._observe(), self._info()

    def step(self, action):
        if self._over:
            raise RuntimeError("the game is over: call reset()")
        a = int(action)
        n = self.size * self.size
        mask = self.position.legal_mask()
        if not 0 <= a <= n or not mask[a]:
            if self.illegal == "mask":
                what = coords.action_to_gtp(a, self.size) if 0 <= a <= n else "out of range"
                raise ValueError(f"action {a} ({what}) is illegal here; play one that info['action_mask'] allows")
            self._over = True
            return self._observe(), self.illegal_reward, True, False, self._info(illegal=True)
        self.position = self.position.play(coords.action_to_gtp(a, self.size))
        ended = self._ended()
        if ended is None:
            ended = self._opponent_moves()
        if ended is None:
            return self._observe(), 0.0, False, False, self._info()
        self._over = True
        reward, terminated = ended
        return self._observe(), reward, terminated, not terminated, self._info(final=True)

    def render(self):
        if self.render_mode == "ansi":
            return f"{self.position}\nagent {self.agent}, {self.position.to_play} to play\n"
        if self.render_mode == "rgb_array":
            last = self.position.last_move
            rc = coords.gtp_to_row_col(last, self.size) if last and last != "pass" else None
            return R.rgb_array(self.position.board_array(), rc)
        return None

    def close(self):
        self.opponent.close()

    # --- inside ---
    def _opponent_moves(self):
        """The opponent's reply; (reward, terminated) if the game ended, else None."""
        colour = "w" if self.agent == "b" else "b"
        vertex = self.opponent.move(self.position, colour)
        if vertex == "resign":
            return 1.0, True
        try:
            self.position = self.position.play(vertex, colour)
        except ValueError as e:
            raise RuntimeError(f"opponent {self.opponent.name} played {vertex}: {e}") from None
        return self._ended()

    def _ended(self):
        if self.position.is_over:
            score = self._agent_score()
            return float(np.sign(score)), True
        if len(self.position.history) >= self.max_moves:
            return 0.0, False
        return None

    def _agent_score(self) -> float:
        score = self.position.score()
        return score if self.agent == "b" else -score

    def _observe(self) -> np.ndarray:
        if self.feature_set == "zero":  # from the agent's side even when the game ended on its move
            return zero_planes(self.position, self.agent)
        return extract(self.position, self.feature_set)

    def _info(self, final: bool = False, illegal: bool = False) -> dict:
        mask = np.zeros(self.size * self.size + 1, np.int8) if self._over else self.position.legal_mask()
        info = {"action_mask": mask, "agent_colour": self.agent}
        if final or illegal:
            info["score"] = self._agent_score()
            info["result"] = self.position.result()
        if illegal:
            info["illegal"] = True
        return info
