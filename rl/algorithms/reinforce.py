"""REINFORCE with a learned baseline (Williams 1992; Sutton & Barto 2018, section 13.4) on Go.

For each finished game the return from move t is G_t = gamma^(T-1-t) r_T (the only reward is the result
at the end), and the update follows

    grad J ~ sum_t (G_t - V(s_t)) grad log pi(a_t | s_t)        (the baseline V lowers the variance)
    V is regressed on G_t by squared error; an entropy bonus keeps early play exploring.

Games are played on `num_envs` boards at once; the update runs on every `episodes_per_update` finished
games, recomputing log pi in one batch (a game that straddles an update is slightly off-policy).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from rl.algorithms.common import GoNet, GoTask, Run, make_envs, masked, sample_act, seed_everything


@dataclass(frozen=True)
class ReinforceConfig:
    task: GoTask = field(default_factory=GoTask)
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over task.steps (the last policy is then a settled one)."""
    lr: float = 2e-3
    gamma: float = 0.99
    """Discount per agent move."""
    episodes_per_update: int = 16
    value_coef: float = 0.5
    entropy_coef: float = 0.01


def train(config: ReinforceConfig = ReinforceConfig(), run_dir: str | None = None, resume: bool = False,
          progress: bool = False) -> dict:
    """Train, evaluating every task.eval_every moves; -> the run's summary and `net`."""
    task = config.task
    seed_everything(task.seed)
    net = GoNet(task.size, channels=task.channels)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    run = Run("reinforce", config, sample_act(net, task.seed), {"net": net, "optimizer": optimizer}, run_dir, resume, progress)
    envs = make_envs(task)
    obs, infos = envs.reset(seed=task.seed + run.step)
    rng = np.random.default_rng(task.seed + run.step)
    trajectories = [[] for _ in range(task.num_envs)]  # per board: (obs, mask, action) of the current game
    finished: list[tuple[list, float]] = []  # (moves, result) of games not yet learned from
    losses = {}
    while not run.over:
        mask = infos["action_mask"]
        with torch.no_grad():
            logits, _ = net(torch.as_tensor(obs))
            probs = torch.softmax(masked(logits, mask), -1).numpy()
        actions = np.array([rng.choice(len(p), p=p / p.sum()) for p in probs])
        for b in range(task.num_envs):
            trajectories[b].append((obs[b], mask[b], actions[b]))
        obs, reward, terminated, truncated, infos = envs.step(actions)
        ended = []
        for b in np.flatnonzero(terminated | truncated):
            finished.append((trajectories[b], float(reward[b])))
            ended.append(reward[b])
            trajectories[b] = []
        if len(finished) >= config.episodes_per_update:
            if config.anneal_lr:  # linearly to 0 at the end of the budget, as CleanRL does
                optimizer.param_groups[0]["lr"] = config.lr * max(0.0, 1.0 - run.step / task.steps)
            losses = _update(net, optimizer, finished, config)
            finished = []
        run.advance(task.num_envs, ended, **losses)
    envs.close()
    out = run.finish()
    out["net"] = net
    return out


def _update(net, optimizer, games, config: ReinforceConfig) -> dict:
    obs = np.stack([o for moves, _ in games for o, _, _ in moves])
    mask = np.stack([m for moves, _ in games for _, m, _ in moves])
    actions = torch.as_tensor(np.array([a for moves, _ in games for _, _, a in moves]))
    returns = torch.as_tensor(np.concatenate(
        [r * config.gamma ** np.arange(len(moves) - 1, -1, -1) for moves, r in games]), dtype=torch.float32)
    logits, values = net(torch.as_tensor(obs))
    logp_all = torch.log_softmax(masked(logits, mask), -1)
    logp = logp_all.gather(1, actions[:, None]).squeeze(1)
    advantage = (returns - values).detach()
    advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
    policy_loss = -(advantage * logp).mean()
    value_loss = F.mse_loss(values, returns)
    entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
    loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
    optimizer.step()
    return {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item()}
