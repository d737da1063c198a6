"""Advantage actor-critic, A2C (Mnih et al. 2016, synchronous), with GAE (Schulman et al. 2016) on Go.

Every update takes `rollout` moves on each of `num_envs` boards (one batch of B x T moves) and follows

    delta_t = r_t + gamma V(s_{t+1}) (1 - done_t) - V(s_t)          (TD error of the critic)
    A_t = delta_t + gamma lambda (1 - done_t) A_{t+1}               (generalised advantage estimate)
    loss = -mean(A_t log pi(a_t|s_t)) + c_v mean((A_t + V(s_t) - V_theta(s_t))^2) - c_e entropy

A truncated game bootstraps from the value of the position it stopped in (infos["final_obs"]).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rl.algorithms.common import GoNet, GoTask, Run, finished, make_envs, masked, sample_act, seed_everything


@dataclass(frozen=True)
class A2CConfig:
    task: GoTask = field(default_factory=lambda: GoTask(num_envs=16))
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over task.steps (the last policy is then a settled one)."""
    lr: float = 2e-3
    rollout: int = 16
    """Moves per board between updates (T)."""
    gamma: float = 0.99
    gae_lambda: float = 0.95
    value_coef: float = 0.5
    entropy_coef: float = 0.01
    normalize_advantages: bool = True
    """Scale each batch's advantages to mean 0, std 1 (as CleanRL's PPO does): with a reward of -1 in most
    early games the critic's errors otherwise push the policy towards passing."""


def train(config: A2CConfig = A2CConfig(), run_dir: str | None = None, resume: bool = False,
          progress: bool = False) -> dict:
    """Train, evaluating every task.eval_every moves; -> the run's summary and `net`."""
    task, T, B = config.task, config.rollout, config.task.num_envs
    seed_everything(task.seed)
    net = GoNet(task.size, channels=task.channels)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    run = Run("a2c", config, sample_act(net, task.seed), {"net": net, "optimizer": optimizer}, run_dir, resume, progress)
    envs = make_envs(task)
    obs, infos = envs.reset(seed=task.seed + run.step)
    gen = torch.Generator().manual_seed(task.seed + run.step)
    losses = {}
    while not run.over:
        obs_T, mask_T, act_T, rew_T, done_T, boot_T = [], [], [], [], [], []
        ended = []
        for _ in range(T):
            mask = infos["action_mask"]
            with torch.no_grad():
                logits, _ = net(torch.as_tensor(obs))
                actions = torch.multinomial(torch.softmax(masked(logits, mask), -1), 1, generator=gen).squeeze(1)
            next_obs, reward, terminated, truncated, infos = envs.step(actions.numpy())
            # the value a truncated game bootstraps from: that of the position it stopped in
            with torch.no_grad():
                boot = np.zeros(B, np.float32)
                if truncated.any():
                    boot = np.where(truncated, net(torch.as_tensor(finished(infos, truncated, next_obs)))[1].numpy(), 0)
            obs_T.append(obs), mask_T.append(mask), act_T.append(actions.numpy())
            rew_T.append(reward + config.gamma * boot), done_T.append(terminated | truncated)
            ended += list(reward[terminated | truncated])
            obs = next_obs
        if config.anneal_lr:  # linearly to 0 at the end of the budget, as CleanRL does
            optimizer.param_groups[0]["lr"] = config.lr * max(0.0, 1.0 - run.step / task.steps)
        losses = _update(net, optimizer, obs_T, mask_T, act_T, rew_T, done_T, obs, config)
        run.advance(T * B, ended, **losses)
    envs.close()
    out = run.finish()
    out["net"] = net
    return out


def _update(net, optimizer, obs_T, mask_T, act_T, rew_T, done_T, last_obs, config: A2CConfig) -> dict:
    T, B = len(obs_T), obs_T[0].shape[0]
    obs = torch.as_tensor(np.concatenate(obs_T))  # (T*B, C, N, N), time-major
    logits, values = net(obs)
    with torch.no_grad():
        next_value = net(torch.as_tensor(last_obs))[1].numpy()
    v = values.detach().numpy().reshape(T, B)
    rew, done = np.array(rew_T, np.float32), np.array(done_T, np.float32)  # (T, B)
    adv = np.zeros((T, B), np.float32)
    last = np.zeros(B, np.float32)
    for t in range(T - 1, -1, -1):
        nv = next_value if t == T - 1 else v[t + 1]
        delta = rew[t] + config.gamma * nv * (1 - done[t]) - v[t]
        last = delta + config.gamma * config.gae_lambda * (1 - done[t]) * last
        adv[t] = last
    returns = torch.as_tensor((adv + v).reshape(-1))
    adv_t = torch.as_tensor(adv.reshape(-1))
    if config.normalize_advantages:
        adv_t = (adv_t - adv_t.mean()) / (adv_t.std() + 1e-8)
    logp_all = torch.log_softmax(masked(logits, np.concatenate(mask_T)), -1)
    logp = logp_all.gather(1, torch.as_tensor(np.concatenate(act_T))[:, None]).squeeze(1)
    policy_loss = -(adv_t * logp).mean()
    value_loss = ((returns - values) ** 2).mean()
    entropy = -(logp_all.exp() * logp_all).sum(-1).mean()
    loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
    optimizer.step()
    return {"policy_loss": policy_loss.item(), "value_loss": value_loss.item(), "entropy": entropy.item()}
