"""The RL algorithms learn to their goals.

Tabular methods are checked against dynamic programming (and DP against hand-computed values and an exact
linear solve); the Go agents against the random opponent over 200 games, with fixed seeds, next to the
untrained agent, which fails the same margin (slow: the proof, on 5x5; docs/gym.md gives the figures). The
fast tests train each family's update on a one-move task cut from real 5x5 positions (the centre wins)."""
from __future__ import annotations

import argparse
import csv
import os

import gymnasium as gym
import numpy as np
import pytest
import torch

from rl.algorithms import a2c, dqn, reinforce
from rl.algorithms import tabular as T
from rl.algorithms.common import GoNet, GoTask, evaluate, greedy_act, sample_act, uniform_act

GAMMA = 0.95


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --- tabular -------------------------------------------------------------------------------------------
def test_dynamic_programming_against_hand_values_and_a_linear_solve():
    lake = gym.make("FrozenLake-v1", is_slippery=False)
    V, pi = T.value_iteration(lake, GAMMA)
    assert V[0] == pytest.approx(GAMMA ** 5, abs=1e-9)  # six moves to the goal, reward 1 on the last
    cliff = gym.make("CliffWalking-v1")
    V, pi = T.value_iteration(cliff, GAMMA)
    assert V[36] == pytest.approx(-sum(GAMMA ** k for k in range(13)), abs=1e-9)  # up, 11 right, down
    slippery = gym.make("FrozenLake-v1")
    uniform = np.full((16, 4), 0.25)
    assert np.abs(T.policy_evaluation(slippery, uniform, 0.9) - T.solve_policy(slippery, uniform, 0.9)).max() < 1e-8
    V, pi = T.value_iteration(slippery, 0.9)
    assert np.abs(T.solve_policy(slippery, pi, 0.9) - V).max() < 1e-8  # its greedy policy attains V*
    assert np.abs(T.q_from_v(slippery, V, 0.9).max(1) - V).max() < 1e-8  # Bellman optimality


def _greedy_gap(env, Q, V_star):
    """|V of Q's greedy policy - V*| at every state (exact, by the linear solve)."""
    return np.abs(T.solve_policy(env, T.greedy(Q), GAMMA) - V_star)


def test_q_learning_and_sarsa_reach_the_optimal_values():
    lake = gym.make("FrozenLake-v1", is_slippery=False)
    V_star, _ = T.value_iteration(lake, GAMMA)
    untrained = np.zeros((16, 4))
    assert _greedy_gap(lake, untrained, V_star).max() > 0.5  # the margin an untrained table fails
    Q = T.q_learning(lake, episodes=1000, gamma=GAMMA)
    assert np.abs(Q.max(1) - V_star).max() < 1e-3  # every state
    assert _greedy_gap(lake, Q, V_star).max() < 1e-3
    Q = T.sarsa(lake, episodes=1000, gamma=GAMMA)
    assert abs(Q[0].max() - V_star[0]) < 1e-3  # on-policy: exact where its final greedy policy goes
    assert _greedy_gap(lake, Q, V_star)[0] < 1e-3
    cliff = gym.make("CliffWalking-v1")
    V_star, _ = T.value_iteration(cliff, GAMMA)
    Q = T.q_learning(cliff, episodes=300, gamma=GAMMA, epsilon=0.1)
    assert abs(Q[36].max() - V_star[36]) < 1e-3 and _greedy_gap(cliff, Q, V_star)[36] < 1e-3  # along the cliff


def test_td0_td_lambda_and_monte_carlo_predict_the_dp_values():
    lake = gym.make("FrozenLake-v1", max_episode_steps=1000)  # slippery; long episodes keep MC unbiased
    _, pi = T.value_iteration(lake, 0.9)
    V_pi = T.solve_policy(lake, pi, 0.9)
    rms = {f.__name__: float(np.sqrt(np.mean((f(lake, pi, 200, 0.9, max_steps=1000) - V_pi) ** 2)))
           for f in (T.td0, T.td_lambda, T.monte_carlo)}
    print("RMS error after 200 episodes:", rms)
    assert np.sqrt(np.mean(V_pi ** 2)) > 0.2  # an all-zero estimate's error
    assert max(rms.values()) < 0.08


# --- Go ------------------------------------------------------------------------------------------------
def _bandit(n=64, seed=0):
    """A one-move task from real 5x5 positions: playing the centre (C3) wins, any other move loses.
    -> obs (n, 17, 5, 5), legal masks, random legal actions, their rewards."""
    from rl.envs.vector import GoVectorEnv

    env = GoVectorEnv(num_envs=n, size=5, komi=0.5, agent_colour="random")
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):  # a few random moves, so the positions differ
        obs, _, _, _, info = env.step(np.array([rng.choice(np.flatnonzero(m[:-1] & (np.arange(25) != 12)))
                                                for m in info["action_mask"]]))
    mask = info["action_mask"]
    actions = np.where(rng.random(n) < 0.3, CENTRE, [rng.choice(np.flatnonzero(m)) for m in mask])
    actions = np.where(mask[np.arange(n), actions] == 1, actions, 25)
    return obs, mask, actions, np.where(actions == CENTRE, 1.0, -1.0)


CENTRE = 12


def _p_centre(net, obs, mask):
    from rl.algorithms.common import masked

    legal = mask[:, CENTRE] == 1
    with torch.no_grad():
        return torch.softmax(masked(net(torch.as_tensor(obs[legal]))[0], mask[legal]), -1)[:, CENTRE].mean().item()


def test_policy_gradient_updates_learn_a_one_move_task():
    """REINFORCE's and A2C's updates, run on games of one move where the centre wins: the probability of
    the centre goes from about 1/20 (untrained) above 0.9."""
    obs, mask, actions, rewards = _bandit()
    for name in ("reinforce", "a2c"):
        torch.manual_seed(0)
        net = GoNet(5)
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
        before = _p_centre(net, obs, mask)
        for _ in range(40):
            if name == "reinforce":
                games = [([(obs[i], mask[i], actions[i])], rewards[i]) for i in range(len(obs))]
                reinforce._update(net, optimizer, games, reinforce.ReinforceConfig())
            else:  # T = 1: every game ends after its move (done), so the advantage is r - V(s)
                a2c._update(net, optimizer, [obs], [mask], [actions], [rewards.astype(np.float32)],
                            [np.ones(len(obs), bool)], obs, a2c.A2CConfig())
        after = _p_centre(net, obs, mask)
        print(f"{name}: P(centre) {before:.3f} -> {after:.3f}")
        assert before < 0.1 and after > 0.9


def test_dqn_updates_learn_the_values_of_a_one_move_task():
    """DQN's update on that task's transitions (all terminal): Q(s, centre) -> +1, Q(s, other) -> -1, and
    the greedy move becomes the centre, which the untrained net does not play."""
    obs, mask, actions, rewards = _bandit()
    torch.manual_seed(0)
    q = dqn.QNet(5)
    target = dqn.QNet(5)
    config = dqn.DQNConfig(batch_size=64)
    replay = dqn.Replay(256, obs.shape[1:], 26, seed=0)
    replay.add(obs, actions, rewards, obs, mask.astype(bool), np.ones(len(obs), bool))
    optimizer = torch.optim.Adam(q.parameters(), lr=3e-3)
    greedy = greedy_act(q, "q")
    assert (greedy(obs, mask) == CENTRE).mean() < 0.2
    for _ in range(150):
        dqn._update(q, target, optimizer, replay, config)
    with torch.no_grad():
        values = q(torch.as_tensor(obs))
    taken = values[np.arange(len(obs)), actions].numpy()
    print("Q error", np.abs(taken - rewards).max())
    assert np.abs(taken - rewards).max() < 0.2
    centre_legal = mask[:, CENTRE] == 1
    assert (greedy(obs, mask)[centre_legal] == CENTRE).mean() > 0.9


# --- the proof on 5x5 (slow) ----------------------------------------------------------------------------
PROOF = {"reinforce": (reinforce, reinforce.ReinforceConfig, 80_000, 0.8),
         "a2c": (a2c, a2c.A2CConfig, 60_000, 0.8),
         "dqn": (dqn, dqn.DQNConfig, 40_000, 0.6)}
"""name -> (module, config, budget in agent moves, margin): `goengine train rl --algo NAME --steps BUDGET
--seed 0` runs the same training."""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROOF))
def test_go_agents_beat_random_on_5x5_over_200_games(name, tmp_path):
    algo, config_cls, steps, margin = PROOF[name]
    task = GoTask(size=5, komi=0.5, steps=steps, eval_every=10_000, eval_games=200, seed=0,
                  num_envs=config_cls().task.num_envs)
    torch.manual_seed(0)  # the net the run starts from (train seeds 0 and builds it first)
    untrained = dqn.QNet(5) if name == "dqn" else GoNet(5)
    act = greedy_act(untrained, "q") if name == "dqn" else sample_act(untrained)
    before = max(evaluate(uniform_act(0), task)["win_rate"], evaluate(act, task)["win_rate"])
    out = algo.train(config_cls(task=task), run_dir=str(tmp_path))
    print(f"{name}: untrained {before:.3f}; after {steps} moves {out['final']} over 200 games of Go-v0")
    assert before < margin <= out["win_rate"]
    assert os.path.isfile(tmp_path / "curves.png") and os.path.isfile(tmp_path / "checkpoint.pt")


PROOF_MC = {"reinforce": (reinforce, reinforce.ReinforceConfig, 150_000, 0.6),
            "a2c": (a2c, a2c.A2CConfig, 150_000, 0.6),
            "dqn": (dqn, dqn.DQNConfig, 60_000, 0.6)}
"""name -> (module, config, budget in agent moves, margin) against the rollout engine the vector env plays,
flat Monte Carlo at 2 playouts per candidate move, with half the training boards against the random
opponent (the curriculum): `goengine train rl --algo NAME --opponent mc:playouts=2 --random-fraction 0.5
--steps BUDGET --seed 0` runs the same training. Without the curriculum the policy collapses (almost every
game against the Monte Carlo opponent is lost, so there is nothing to learn from)."""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROOF_MC))
def test_go_agents_beat_the_monte_carlo_rollout_engine_on_5x5_over_200_games(name, tmp_path):
    algo, config_cls, steps, margin = PROOF_MC[name]
    task = GoTask(size=5, komi=0.5, opponent="mc:playouts=2", random_fraction=0.5, steps=steps, eval_every=25_000,
                  eval_games=200, seed=0, num_envs=config_cls().task.num_envs)
    torch.manual_seed(0)  # the net the run starts from (train seeds 0 and builds it first)
    untrained = greedy_act(dqn.QNet(5), "q") if name == "dqn" else sample_act(GoNet(5))
    before = max(evaluate(uniform_act(0), task)["win_rate"], evaluate(untrained, task)["win_rate"])
    out = algo.train(config_cls(task=task), run_dir=str(tmp_path))
    act = greedy_act(out["net"], "q") if name == "dqn" else sample_act(out["net"], seed=1)
    mcts = evaluate(act, task, seed=30_000, opponent="goengine:playouts=2")
    print(f"{name}: untrained {before:.3f}; after {steps} moves {out['final']} over 200 games of Go-v0 against "
          f"mc:playouts=2; against goengine:playouts=2 {mcts}")
    assert before < margin <= out["win_rate"]


# --- the command line -----------------------------------------------------------------------------------
def _args(argv):
    from rl.algorithms import cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_trains_writes_its_files_and_resumes(tmp_path, capsys):
    from rl.algorithms import cli

    out = str(tmp_path / "run")
    common = ["--algo", "reinforce", "--size", "3", "--eval-every", "512", "--eval-games", "20", "--out", out,
              "--no-progress"]
    assert cli.run(_args(common + ["--steps", "512"])) == 0
    with open(os.path.join(out, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["step"] for r in rows][:2] == ["0", "512"] and rows[-1]["final_win_rate"]
    assert os.path.isfile(os.path.join(out, "curves.png"))
    assert os.listdir(os.path.join(out, "tensorboard"))
    assert cli.run(_args(common + ["--steps", "1024", "--resume"])) == 0
    with open(os.path.join(out, "metrics.csv")) as f:
        steps = [r["step"] for r in csv.DictReader(f) if r["win_rate"]]
    assert steps == ["0", "512", "1024"]  # carried on from 512, no second evaluation at 0
    assert "1024 moves" in capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [
    (["--steps", "0"], "--steps must be at least 1"),
    (["--opponent", "gnugo:lvl=3"], "gnugo takes no 'lvl'"),
    (["--env", "CartPole-v1"], "--env must be one of goengine/Go-v0"),
    (["--opponent", "mc:playouts=0"], "mc:playouts=P with P >= 1"),
    (["--random-fraction", "1.5"], "--random-fraction must be"),
    (["--random-fraction", "0.5"], "--random-fraction needs --opponent mc:playouts=P"),
    (["--resume"], "--resume: no checkpoint.pt"),
])
def test_cli_bad_input_is_one_line(tmp_path, argv, message):
    from goengine.cli import UserError
    from rl.algorithms import cli

    with pytest.raises(UserError, match=message) as e:
        cli.run(_args(["--algo", "a2c", "--out", str(tmp_path / "r")] + argv))
    assert "\n" not in str(e.value)
