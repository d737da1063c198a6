"""Tabular reinforcement learning on gymnasium's toy-text tasks (FrozenLake, CliffWalking), in Sutton &
Barto's (2018) notation: V(s), Q(s, a), policy pi(a|s) as an (S, A) array of probabilities, gamma.

Dynamic programming reads the model `P[s][a] = [(p, s', r, terminated), ...]` that toy-text envs expose
(env.unwrapped.P); the learning methods only step the env.

    model(env)                         -> (P_SAS', R_SA, T_SAS') arrays of the model
    policy_evaluation(env, pi, gamma)  -> V^pi     iterative (Bellman expectation backups), section 4.1
    solve_policy(env, pi, gamma)       -> V^pi     the linear system V = r_pi + gamma P_pi V, solved exactly
    value_iteration(env, gamma)        -> V*, greedy pi*                                       section 4.4
    q_learning(env, ...) / sarsa(env, ...)   -> Q  off- and on-policy TD control, sections 6.5 and 6.4
    td0(env, pi, ...) / td_lambda(...) / monte_carlo(...)   -> V  prediction, sections 6.1, 12.2, 5.1
"""
from __future__ import annotations

import numpy as np


def model(env) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The env's model as arrays: P[s, a, s'] transition probabilities, R[s, a] expected reward,
    D[s, a, s'] probability that the transition s -a-> s' ends the episode."""
    table = env.unwrapped.P
    n_s, n_a = len(table), len(table[0])
    P, R, D = np.zeros((n_s, n_a, n_s)), np.zeros((n_s, n_a)), np.zeros((n_s, n_a, n_s))
    for s in range(n_s):
        for a in range(n_a):
            for p, s2, r, done in table[s][a]:
                P[s, a, s2] += p
                R[s, a] += p * r
                D[s, a, s2] += p * float(done)
    return P, R, D


def _continue(P, D) -> np.ndarray:
    """P[s, a, s'] restricted to transitions that do not end the episode (the ones V(s') counts for)."""
    return P - D


def policy_evaluation(env, pi: np.ndarray, gamma: float, theta: float = 1e-10) -> np.ndarray:
    """V^pi by sweeps of V(s) <- sum_a pi(a|s) [R(s,a) + gamma sum_s' P(s'|s,a) V(s')] until no value
    moves by more than theta (in-place, Gauss-Seidel order, as the book's box does)."""
    P, R, D = model(env)
    C = _continue(P, D)
    V = np.zeros(P.shape[0])
    while True:
        delta = 0.0
        for s in range(P.shape[0]):
            v = float(pi[s] @ (R[s] + gamma * C[s] @ V))
            delta = max(delta, abs(v - V[s]))
            V[s] = v
        if delta < theta:
            return V


def solve_policy(env, pi: np.ndarray, gamma: float) -> np.ndarray:
    """V^pi exactly: (I - gamma P_pi) V = r_pi. The oracle the iterative methods are checked against."""
    P, R, D = model(env)
    C = _continue(P, D)
    P_pi = np.einsum("sa,sat->st", pi, C)
    r_pi = (pi * R).sum(1)
    return np.linalg.solve(np.eye(P.shape[0]) - gamma * P_pi, r_pi)


def q_from_v(env, V: np.ndarray, gamma: float) -> np.ndarray:
    """Q(s, a) = R(s, a) + gamma sum_s' P(s'|s,a) V(s') over continuing transitions."""
    P, R, D = model(env)
    return R + gamma * _continue(P, D) @ V


def greedy(Q: np.ndarray) -> np.ndarray:
    """The deterministic greedy policy of Q as an (S, A) one-hot array (ties: the first action)."""
    pi = np.zeros_like(Q)
    pi[np.arange(Q.shape[0]), Q.argmax(1)] = 1.0
    return pi


def value_iteration(env, gamma: float, theta: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """V* by V(s) <- max_a [R(s,a) + gamma sum_s' P(s'|s,a) V(s')] until no value moves by more than
    theta; -> (V*, a greedy optimal policy)."""
    P, R, D = model(env)
    C = _continue(P, D)
    V = np.zeros(P.shape[0])
    while True:
        V_new = (R + gamma * C @ V).max(1)
        done = np.abs(V_new - V).max() < theta
        V = V_new
        if done:
            return V, greedy(R + gamma * C @ V)


# --- learning from experience ------------------------------------------------------------------------
def _epsilon_greedy(Q_s: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    if rng.random() < epsilon:
        return int(rng.integers(Q_s.shape[0]))
    best = np.flatnonzero(Q_s == Q_s.max())
    return int(rng.choice(best))  # random tie-break, so an all-zero table does not always go one way


def q_learning(env, episodes: int, gamma: float, alpha: float = 1.0, epsilon: float = 1.0,
               max_steps: int = 200, seed: int = 0) -> np.ndarray:
    """Q-learning: Q(s,a) += alpha [r + gamma max_a' Q(s',a') - Q(s,a)], behaving epsilon-greedily.
    Off-policy, so epsilon = 1 (uniform behaviour) still learns Q*; alpha = 1 is exact on a deterministic
    env."""
    rng = np.random.default_rng(seed)
    Q = np.zeros((env.observation_space.n, env.action_space.n))
    for episode in range(episodes):
        s, _ = env.reset(seed=seed + episode)
        for _ in range(max_steps):
            a = _epsilon_greedy(Q[s], epsilon, rng)
            s2, r, terminated, truncated, _ = env.step(a)
            target = r + (0.0 if terminated else gamma * Q[s2].max())
            Q[s, a] += alpha * (target - Q[s, a])
            s = s2
            if terminated or truncated:
                break
    return Q


def sarsa(env, episodes: int, gamma: float, alpha: float = 1.0, epsilon_start: float = 1.0,
          max_steps: int = 200, seed: int = 0) -> np.ndarray:
    """SARSA: Q(s,a) += alpha [r + gamma Q(s',a') - Q(s,a)] with a' the move actually taken next.
    On-policy: it learns the values of its epsilon-greedy behaviour, so epsilon decays linearly to 0 over
    the first 80% of the episodes (GLIE) and the last ones follow and sharpen the greedy policy."""
    rng = np.random.default_rng(seed)
    Q = np.zeros((env.observation_space.n, env.action_space.n))
    for episode in range(episodes):
        epsilon = epsilon_start * max(0.0, 1.0 - episode / (0.8 * episodes))
        s, _ = env.reset(seed=seed + episode)
        a = _epsilon_greedy(Q[s], epsilon, rng)
        for _ in range(max_steps):
            s2, r, terminated, truncated, _ = env.step(a)
            a2 = _epsilon_greedy(Q[s2], epsilon, rng)
            target = r + (0.0 if terminated else gamma * Q[s2, a2])
            Q[s, a] += alpha * (target - Q[s, a])
            s, a = s2, a2
            if terminated or truncated:
                break
    return Q


def _episode(env, pi: np.ndarray, rng, seed: int, max_steps: int):
    """One episode under pi: lists of states, rewards (r[t] follows s[t]) and whether it terminated."""
    states, rewards = [], []
    s, _ = env.reset(seed=seed)
    for _ in range(max_steps):
        a = int(rng.choice(pi.shape[1], p=pi[s]))
        s2, r, terminated, truncated, _ = env.step(a)
        states.append(s)
        rewards.append(r)
        s = s2
        if terminated or truncated:
            return states, rewards, s, terminated
    return states, rewards, s, False


def td0(env, pi, episodes: int, gamma: float, alpha: float = 0.05, max_steps: int = 200, seed: int = 0):
    """TD(0) prediction: V(s) += alpha [r + gamma V(s') - V(s)] after every step."""
    rng = np.random.default_rng(seed)
    V = np.zeros(env.observation_space.n)
    for episode in range(episodes):
        s, _ = env.reset(seed=seed + episode)
        for _ in range(max_steps):
            a = int(rng.choice(pi.shape[1], p=pi[s]))
            s2, r, terminated, truncated, _ = env.step(a)
            V[s] += alpha * (r + (0.0 if terminated else gamma * V[s2]) - V[s])
            s = s2
            if terminated or truncated:
                break
    return V


def td_lambda(env, pi, episodes: int, gamma: float, lam: float = 0.8, alpha: float = 0.05,
              max_steps: int = 200, seed: int = 0):
    """TD(lambda), backward view with accumulating eligibility traces e: every step
    delta = r + gamma V(s') - V(s); e(s) += 1; V += alpha delta e; e *= gamma lambda."""
    rng = np.random.default_rng(seed)
    V = np.zeros(env.observation_space.n)
    for episode in range(episodes):
        e = np.zeros_like(V)
        s, _ = env.reset(seed=seed + episode)
        for _ in range(max_steps):
            a = int(rng.choice(pi.shape[1], p=pi[s]))
            s2, r, terminated, truncated, _ = env.step(a)
            delta = r + (0.0 if terminated else gamma * V[s2]) - V[s]
            e[s] += 1.0
            V += alpha * delta * e
            e *= gamma * lam
            s = s2
            if terminated or truncated:
                break
    return V


def monte_carlo(env, pi, episodes: int, gamma: float, max_steps: int = 200, seed: int = 0):
    """First-visit Monte Carlo prediction: V(s) is the mean of the returns that follow the first visit
    to s in each episode (incremental mean, no step size)."""
    rng = np.random.default_rng(seed)
    V = np.zeros(env.observation_space.n)
    visits = np.zeros(env.observation_space.n)
    for episode in range(episodes):
        states, rewards, _, _ = _episode(env, pi, rng, seed + episode, max_steps)
        G = 0.0
        first = {}
        for t, s in enumerate(states):
            first.setdefault(s, t)
        for t in range(len(states) - 1, -1, -1):
            G = rewards[t] + gamma * G
            if first[states[t]] == t:
                visits[states[t]] += 1
                V[states[t]] += (G - V[states[t]]) / visits[states[t]]
    return V
