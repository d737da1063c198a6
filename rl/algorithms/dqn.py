"""Deep Q-network, DQN (Mnih et al. 2015) with double-DQN targets (van Hasselt et al. 2016) and action
masking, on Go.

Moves (s, a, r, s', done, legal(s')) go into a replay buffer; each step of the boards is followed by
`updates_per_step` gradient steps on a sampled minibatch with the target

    y = r + gamma (1 - done) Q_target(s', argmax_{a' legal in s'} Q(s', a'))

(the online net picks the move, the target net, copied every `target_every` updates, scores it), loss
Huber(Q(s, a), y). Moves are epsilon-greedy over the legal moves only, epsilon decaying linearly from
`epsilon_start` to `epsilon_end` over the first `epsilon_fraction` of the budget. A truncated game is
stored as ended (done = 1, reward 0): on 5x5 with the default move cap it is rare.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from rl.algorithms.common import GoNet, GoTask, Run, greedy_act, make_envs, masked, seed_everything


@dataclass(frozen=True)
class DQNConfig:
    task: GoTask = field(default_factory=lambda: GoTask(num_envs=16))
    lr: float = 1e-3
    gamma: float = 0.99
    buffer: int = 50_000
    """Replay capacity in moves (observations kept as uint8)."""
    batch_size: int = 64
    learning_starts: int = 1_000
    updates_per_step: int = 2
    """Gradient steps per step of all boards (num_envs moves)."""
    target_every: int = 100
    """Gradient steps between copies of the online net into the target net."""
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05
    epsilon_fraction: float = 0.1


class Replay:
    """A ring buffer of moves; obs and next_obs as uint8 planes, masks as bool."""

    def __init__(self, capacity: int, obs_shape: tuple, n_actions: int, seed: int):
        self.obs = np.zeros((capacity,) + obs_shape, np.uint8)
        self.next_obs = np.zeros((capacity,) + obs_shape, np.uint8)
        self.next_mask = np.zeros((capacity, n_actions), np.bool_)
        self.action = np.zeros(capacity, np.int64)
        self.reward = np.zeros(capacity, np.float32)
        self.done = np.zeros(capacity, np.float32)
        self.capacity, self.size, self.at = capacity, 0, 0
        self.rng = np.random.default_rng(seed)

    def add(self, obs, action, reward, next_obs, next_mask, done) -> None:
        for b in range(len(action)):
            i = self.at
            self.obs[i], self.next_obs[i], self.next_mask[i] = obs[b], next_obs[b], next_mask[b]
            self.action[i], self.reward[i], self.done[i] = action[b], reward[b], done[b]
            self.at = (self.at + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int):
        i = self.rng.integers(self.size, size=n)
        return (torch.as_tensor(self.obs[i], dtype=torch.float32), torch.as_tensor(self.action[i]),
                torch.as_tensor(self.reward[i]), torch.as_tensor(self.next_obs[i], dtype=torch.float32),
                self.next_mask[i], torch.as_tensor(self.done[i]))


class QNet(GoNet):
    """GoNet whose policy head gives Q(s, a) for every action (the value head is not used)."""

    def forward(self, obs_BCNN):
        return self.policy(self.trunk(obs_BCNN))  # (B, A)


def train(config: DQNConfig = DQNConfig(), run_dir: str | None = None, resume: bool = False,
          progress: bool = False) -> dict:
    """Train, evaluating every task.eval_every moves; -> the run's summary and `net`."""
    task, B = config.task, config.task.num_envs
    seed_everything(task.seed)
    q = QNet(task.size, channels=task.channels)
    target = copy.deepcopy(q)
    optimizer = torch.optim.Adam(q.parameters(), lr=config.lr)
    run = Run("dqn", config, greedy_act(q, head="q"), {"net": q, "target": target, "optimizer": optimizer},
              run_dir, resume, progress)
    envs = make_envs(task)
    obs, infos = envs.reset(seed=task.seed + run.step)
    n_actions = task.size * task.size + 1
    replay = Replay(config.buffer, obs.shape[1:], n_actions, task.seed + run.step)
    rng = np.random.default_rng(task.seed + 1 + run.step)
    updates = run.extra.get("updates", 0)
    losses = {}
    while not run.over:
        mask = infos["action_mask"]
        fraction = min(1.0, run.step / (config.epsilon_fraction * task.steps))
        epsilon = config.epsilon_start + fraction * (config.epsilon_end - config.epsilon_start)
        with torch.no_grad():
            actions = masked(q(torch.as_tensor(obs)), mask).argmax(-1).numpy()
        explore = rng.random(B) < epsilon
        for b in np.flatnonzero(explore):
            actions[b] = rng.choice(np.flatnonzero(mask[b]))
        next_obs, reward, terminated, truncated, infos = envs.step(actions)
        done = terminated | truncated
        stored_next = next_obs.copy()
        for b in np.flatnonzero(done):  # same-step autoreset: the move's true successor is the final position
            stored_next[b] = infos["final_obs"][b]
        replay.add(obs, actions, reward, stored_next, infos["action_mask"].astype(bool), done)
        obs = next_obs
        if replay.size >= config.learning_starts:
            for _ in range(config.updates_per_step):
                losses = _update(q, target, optimizer, replay, config)
                updates += 1
                if updates % config.target_every == 0:
                    target.load_state_dict(q.state_dict())
        run.extra["updates"] = updates
        run.advance(B, list(reward[done]), epsilon=epsilon, **losses)
    envs.close()
    out = run.finish()
    out["net"] = q
    return out


def _update(q, target, optimizer, replay: Replay, config: DQNConfig) -> dict:
    obs, action, reward, next_obs, next_mask, done = replay.sample(config.batch_size)
    with torch.no_grad():
        best = masked(q(next_obs), next_mask).argmax(-1, keepdim=True)  # double DQN: online net picks
        next_q = target(next_obs).gather(1, best).squeeze(1)  # ... the target net scores
        y = reward + config.gamma * (1 - done) * next_q
    q_sa = q(obs).gather(1, action[:, None]).squeeze(1)
    loss = F.smooth_l1_loss(q_sa, y)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(q.parameters(), 10.0)
    optimizer.step()
    return {"td_loss": loss.item(), "q_mean": q_sa.mean().item()}
