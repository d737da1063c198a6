"""The Go envs: gymnasium's checker (warnings are errors), the rules and rewards on scripted games, the
vector env's numba kernels against goengine's Position replaying the same moves, the opponents (goengine's
MCTS, GNU Go over GTP, flat Monte Carlo, a callable), the AEC env and the pictures."""
from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rl.envs  # noqa: F401  (registers goengine/Go-v0)
from goengine import _kernels as K
from goengine import coords
from goengine.features import extract
from goengine.position import Position
from rl.envs import GoAECEnv, GoEnv, GoVectorEnv
from rl.envs.render import CELL


@pytest.mark.parametrize("kwargs", [dict(size=5, komi=0.5), dict(size=9, observation="lee", agent_colour="random"),
                                    dict(size=5, illegal="lose", agent_colour="white")])
def test_check_env_passes_without_warnings(kwargs):
    env = gym.make("goengine/Go-v0", **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning of the checker fails the test
        check_env(env.unwrapped)
    assert env.observation_space.shape == ((17 if "observation" not in kwargs else 48), kwargs["size"], kwargs["size"])


def _pass_opponent(position, colour):
    return "pass"


def test_reward_is_the_area_result_from_the_agents_side():
    # Black agent passes, the opponent passes: an empty board, White wins by komi
    env = GoEnv(size=5, komi=0.5, opponent=_pass_opponent)
    _, info = env.reset(seed=0)
    assert info["action_mask"].sum() == 26
    _, reward, terminated, truncated, info = env.step(25)
    assert (reward, terminated, truncated, info["score"], info["result"]) == (-1.0, True, False, -0.5, "W+0.5")
    # one black stone, then two passes: Black owns the board (25 - 0.5)
    _, _ = env.reset(seed=0)
    env.step(coords.gtp_to_action("C3", 5))
    _, reward, terminated, _, info = env.step(25)
    assert (reward, terminated, info["score"]) == (1.0, True, 24.5)
    # as White the agent wins the empty board by komi: the opponent moved (passed) in reset
    env = GoEnv(size=5, komi=0.5, opponent=_pass_opponent, agent_colour="white")
    obs, _ = env.reset(seed=0)
    assert obs[16].max() == 0  # plane 16: 1 only when Black is to play
    _, reward, terminated, _, info = env.step(25)
    assert (reward, terminated, info["score"]) == (1.0, True, 0.5)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)


def test_illegal_moves_raise_when_masked_and_lose_otherwise():
    env = GoEnv(size=5, komi=0.5, opponent=lambda position, colour: "pass")
    env.reset(seed=0)
    env.step(0)  # A1
    with pytest.raises(ValueError, match="illegal"):
        env.step(0)  # occupied
    with pytest.raises(ValueError, match="illegal"):
        env.step(26)
    env = GoEnv(size=5, komi=0.5, opponent=lambda position, colour: "pass", illegal="lose", illegal_reward=-2.0)
    env.reset(seed=0)
    env.step(0)
    _, reward, terminated, truncated, info = env.step(0)
    assert (reward, terminated, truncated, info["illegal"]) == (-2.0, True, False, True)
    assert info["action_mask"].sum() == 0


def test_move_cap_truncates_with_reward_zero():
    env = GoEnv(size=5, komi=0.5, opponent="random", max_moves=4)
    _, info = env.reset(seed=1)
    for _ in range(2):
        _, reward, terminated, truncated, info = env.step(int(np.flatnonzero(info["action_mask"][:-1])[0]))
    assert (reward, terminated, truncated) == (0.0, False, True)
    assert "score" in info


def test_seeded_resets_replay_the_same_games():
    def game(seed):
        env = GoEnv(size=5, komi=0.5, agent_colour="random")
        obs, info = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        seen = [obs]
        while True:
            obs, reward, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
            seen.append(obs)
            if terminated or truncated:
                return np.stack(seen), reward, env.position.history
    a, b, c = game(7), game(7), game(8)
    assert np.array_equal(a[0], b[0]) and a[1:] == b[1:]
    assert a[2] != c[2]


def test_zero_observation_equals_goengine_features():
    env = GoEnv(size=5, komi=0.5)
    obs, info = env.reset(seed=3)
    rng = np.random.default_rng(3)
    for _ in range(6):
        assert np.array_equal(obs, extract(env.position, "zero"))
        obs, _, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"][:-1]))))
        assert not (terminated or truncated)


@pytest.mark.parametrize("kwargs", [{}, dict(opponent="mc:playouts=2", random_fraction=0.5)])
def test_vector_env_matches_position_move_by_move(kwargs):
    """Every board's planes and mask after every step equal goengine's features and legal mask of a
    Position (simple-ko rules, as the kernels) replaying the agent's moves and the opponent's replies
    (random, or Monte Carlo on half the boards)."""
    n, size, komi = 6, 5, 0.5
    env = GoVectorEnv(num_envs=n, size=size, komi=komi, agent_colour="random", **kwargs)
    obs, info = env.reset(seed=11)
    rng = np.random.default_rng(11)

    def fresh(b):
        pos = Position(size, komi, "simple-ko")
        if info["agent_colour"][b] == 2:  # White: the opponent's first move was played in the reset
            pos = pos.play(coords.point_to_gtp(int(env._meta[b, K.LAST_MOVE]), size))
        return pos

    positions = [fresh(b) for b in range(n)]
    checked = ended = 0
    for _ in range(60):
        for b in range(n):
            assert np.array_equal(obs[b], extract(positions[b], "zero")), b
            assert np.array_equal(info["action_mask"][b], positions[b].legal_mask()), b
            checked += 1
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]])
        obs, reward, terminated, truncated, info = env.step(actions)
        for b in range(n):
            pos = positions[b].play(coords.action_to_gtp(int(actions[b]), size))
            if not (terminated[b] or truncated[b]):
                positions[b] = pos.play(coords.point_to_gtp(int(env._meta[b, K.LAST_MOVE]), size))  # the reply
                continue
            if terminated[b]:
                pos = pos if pos.is_over else pos.play("pass")  # else the opponent's pass ended it
                assert pos.is_over
                agent_black = info["final_agent_colour"][b] == K.BLACK
                assert info["final_score"][b] == pytest.approx(pos.score() if agent_black else -pos.score())
                assert reward[b] == np.sign(info["final_score"][b])
                ended += 1
            positions[b] = fresh(b)
    assert checked == 6 * 60 and ended > 0


def test_vector_env_is_a_gymnasium_vector_env():
    envs = gym.make_vec("goengine/Go-v0", num_envs=4, vectorization_mode="vector_entry_point", size=5, komi=0.5)
    assert isinstance(envs.unwrapped, gym.vector.VectorEnv)
    obs, info = envs.reset(seed=0)
    assert obs.shape == (4, 17, 5, 5) and envs.observation_space.contains(obs)
    obs, reward, terminated, truncated, info = envs.step(np.zeros(4, np.int64))  # A1 on every board
    assert obs.dtype == np.float32 and reward.shape == (4,) and not terminated.any()
    assert (info["action_mask"][:, 0] == 0).all()
    with pytest.raises(ValueError, match="illegal"):
        envs.step(np.zeros(4, np.int64))  # A1 again: occupied
    with pytest.raises(ValueError, match="plays .random. or .mc:playouts=P. only"):
        GoVectorEnv(num_envs=2, opponent="gnugo")
    with pytest.raises(ValueError, match="mc:playouts=P with P >= 1"):
        GoVectorEnv(num_envs=2, opponent="mc:playouts=0")
    with pytest.raises(ValueError, match="mc:playouts=P with P >= 1"):
        GoEnv(size=5, opponent="mc:visits=3")


def test_vector_env_never_reuses_an_observation_the_caller_holds():
    """Observation buffers are recycled only when dropped: kept ones (a list, a view) keep their values."""
    env = GoVectorEnv(num_envs=4, size=5, komi=0.5)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    kept, copies, views = [obs], [obs.copy()], []
    for i in range(30):
        obs, _, _, _, info = env.step((rng.random((4, 26)) * info["action_mask"]).argmax(1))
        if i % 3 == 0:
            kept.append(obs)
            copies.append(obs.copy())
        elif i % 3 == 1:
            views.append((obs[0], obs[0].copy()))
        del obs
    assert all(np.array_equal(k, c) for k, c in zip(kept, copies))
    assert all(np.array_equal(v, c) for v, c in views)
    assert 1 <= len(env._pool) <= 4  # and the dropped ones were recycled


def _uniform_win_rate(games: int, **kwargs) -> float:
    """A uniform random legal agent's win rate over the first game of each of `games` vector-env boards."""
    env = GoVectorEnv(num_envs=games, size=5, komi=0.5, agent_colour="random", **kwargs)
    _, info = env.reset(seed=3)
    rng = np.random.default_rng(3)
    result = np.full(games, np.nan)
    while np.isnan(result).any():
        actions = (rng.random(info["action_mask"].shape) * info["action_mask"]).argmax(1)
        _, reward, terminated, truncated, info = env.step(actions)
        first = (terminated | truncated) & np.isnan(result)
        result[first] = reward[first]
    return float((result > 0).mean())


def test_monte_carlo_opponent_is_stronger_than_random():
    """200 games each: uniform play wins about 1 in 8 against the random opponent (the vector env's
    boards under random_fraction=1) and about 1 in 50 against flat Monte Carlo at 4 playouts."""
    against_random = _uniform_win_rate(200, opponent="mc:playouts=4", random_fraction=1.0)
    against_mc = _uniform_win_rate(200, opponent="mc:playouts=4")
    assert against_random > 0.08 and against_mc < 0.06, (against_random, against_mc)


def test_monte_carlo_opponent_passes_to_win_and_plays_on_when_behind():
    """After the agent's pass, the GoEnv's Monte Carlo opponent passes when the area count already wins for
    it (ending the game), and plays on when it would lose."""
    from rl.envs.opponents import make_opponent

    white_ahead = Position.from_ascii("""
        . O X . .
        O O X . .
        . O X X X
        O O O O O
        . O . O .""", komi=0.5).play("pass", "b")
    black_ahead = Position.from_ascii("""
        . O X . .
        O O X . .
        . O X X X
        . . X . .
        X X . X X""", komi=0.5).play("pass", "b")
    opponent = make_opponent("mc:playouts=8")
    opponent.new_game(white_ahead, 0)
    assert white_ahead.score() < 0 and opponent.move(white_ahead, "w") == "pass"
    assert black_ahead.score() > 0 and opponent.move(black_ahead, "w") != "pass"


def test_goengine_mcts_and_gnugo_opponents_play_whole_games():
    for spec in ("goengine:playouts=8", "gnugo:level=1", "mc:playouts=2"):
        env = GoEnv(size=5, komi=0.5, opponent=spec, agent_colour="white")
        try:
            _, info = env.reset(seed=0)
            rng = np.random.default_rng(0)
            for _ in range(80):
                _, reward, terminated, truncated, info = env.step(
                    int(rng.choice(np.flatnonzero(info["action_mask"][:-1]) if info["action_mask"][:-1].any()
                                   else [25])))
                if terminated or truncated:
                    break
            assert terminated or truncated
            assert len(env.position.history) > 4  # the opponent played moves, legal ones (Position checks)
        finally:
            env.close()
    with pytest.raises(ValueError, match="takes no"):
        GoEnv(size=5, opponent="gnugo:lvl=3")


def test_aec_env_plays_a_game_with_zero_sum_rewards():
    env = GoAECEnv(size=5, komi=0.5)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    totals = {a: 0.0 for a in env.possible_agents}
    for agent in env.agent_iter():
        observation, reward, terminated, truncated, _ = env.last()
        totals[agent] += reward
        assert observation["observation"].shape == (17, 5, 5)
        if terminated or truncated:
            env.step(None)
            continue
        mask = observation["action_mask"]
        legal = np.flatnonzero(mask[:-1])
        env.step(int(rng.choice(legal)) if len(legal) and rng.random() < 0.95 else 25)
    assert not env.agents
    score = env.position.score()
    if env.position.is_over:
        assert totals == {"black_0": float(np.sign(score)), "white_0": -float(np.sign(score))}
    # an illegal move ends the game with -1 for the mover only
    env.reset()
    env.step(0)
    env.step(0)
    assert env.terminations["white_0"] and env.rewards == {"black_0": 0.0, "white_0": -1.0}


def test_renders():
    env = GoEnv(size=5, komi=0.5, opponent=_pass_opponent, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(coords.gtp_to_action("A1", 5))
    img = env.render()
    assert img.shape == (6 * CELL, 6 * CELL, 3) and img.dtype == np.uint8
    y, x = 5 * CELL, CELL  # A1: the bottom-left intersection
    assert img[y - 6, x - 6].max() < 50  # inside the black stone
    assert img[CELL + 6, 5 * CELL - 6].min() > 60  # beside E5, empty: wood colour
    env = GoEnv(size=5, komi=0.5, opponent=_pass_opponent, render_mode="ansi")
    env.reset(seed=0)
    env.step(coords.gtp_to_action("A1", 5))
    text = env.render()
    assert "A B C D E" in text and "X" in text
