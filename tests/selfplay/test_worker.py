"""SelfPlayWorker without Ray: real games with a real tiny net, batching across games, noise, temperature,
resignation bookkeeping and playout-cap randomisation."""
import numpy as np
import pytest
import torch

from goengine import coords
from goengine.position import Position
from nets.go.presets import zero_config
from nets.go.zero_resnet import ZeroResNet
from rl.records import check_record, read_record
from selfplay.selfplay_config import SelfPlayConfig
from selfplay.worker import SelfPlayWorker, game_seed

SIZE = 5
NET = zero_config("2x16", board_size=SIZE)


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def tiny_weights(seed=0):
    torch.manual_seed(seed)
    return ZeroResNet(NET).state_dict()


def config(**kw):
    base = dict(board_size=SIZE, komi=0.5, net=NET, visits=8, parallel_games=4, resign_threshold=0, seed=3)
    base.update(kw)
    return SelfPlayConfig(**base)


class LeafFnEvaluator:
    """Priors and values that depend on each leaf's stones: a game gets other moves if its leaves are
    evaluated under another game's slice of a batch. Counts its calls."""

    kind = "batch"
    history_length = 8

    def __init__(self, white_wins: bool = False):
        self.calls, self.leaves, self.white_wins = 0, 0, white_wins

    def evaluate(self, batch):
        self.calls += 1
        self.leaves += len(batch.to_play)
        now = batch.history[:, 0]
        stones = (now == 1).sum(1) - (now == 2).sum(1)
        actions = np.arange(batch.legal.shape[1])
        weights = 1.0 + (actions[None, :] * (stones[:, None] + 7) + now.sum(1)[:, None]) % 5
        priors = batch.legal * weights
        priors = priors / priors.sum(1, keepdims=True)
        if self.white_wins:
            values = np.where(batch.to_play == 1, 0.0, 1.0)
        else:
            sign = np.where(batch.to_play == 1, 1.0, -1.0)
            values = 1 / (1 + np.exp(-0.4 * stones * sign))
        return priors.astype(np.float32), values.astype(np.float32)


def replay_checks(record):
    """The record replays legally; targets cover only legal moves; the result is the final area score."""
    check_record(record)
    pos = Position(SIZE, record.komi, record.rules)
    for t, action in enumerate(record.moves):
        legal = pos.legal_mask()
        if record.full_search[t]:
            assert record.policy_targets[t][legal == 0].sum() == 0
            target = record.policy_targets[t]
            if target[action] == 0:  # only a move that replaced a pass losing by the count (chosen_child)
                sign = 1 if pos.to_play == "b" else -1
                assert target[SIZE * SIZE] == target.max() and pos.score() * sign <= 0, "the move played was searched"
        pos = pos.play(coords.action_to_gtp(int(action), SIZE))
    if not record.resigned:
        assert pos.is_over or len(record.moves) == 2 * SIZE * SIZE
        assert record.result == np.sign(pos.score())
    return pos


def test_real_net_games_are_legal_and_batched(tmp_path):
    worker = SelfPlayWorker(config(temperature_moves=3), tiny_weights(), weights_version=7, worker_id=1)
    calls = []
    inner = worker.evaluator.evaluate
    worker.evaluator.evaluate = lambda batch: calls.append(len(batch.to_play)) or inner(batch)
    paths = worker.run(str(tmp_path), 6, generation=2, first_game=10)
    assert len(paths) == 6
    records = [read_record(p) for p in paths]
    assert sorted(r.seed for r in records) == sorted(game_seed(3, 2, i) for i in range(10, 16))
    for r in records:
        assert r.generation == 2 and r.weights_version == 7 and r.board_size == SIZE and r.full_search.all()
        replay_checks(r)
    # one net call serves several games: batches hold up to parallel_games leaves, most of them full
    assert max(calls) == 4 and np.mean(calls) > 2.5
    assert worker.stats.games == 6 and worker.stats.evaluations == sum(calls)
    assert 0 < worker.stats.net_seconds < worker.stats.seconds
    # the kept subtree's visits count towards the 8: fewer than 8 new evaluations per move, at least 1
    moves = sum(r.num_moves for r in records)
    assert moves <= worker.stats.evaluations < 8 * moves


def test_fresh_trees_search_every_visit():
    worker = SelfPlayWorker(config(reuse_tree=False), tiny_weights(), 0)
    worker.evaluator = LeafFnEvaluator()
    records = worker.play_games(3)
    moves = sum(r.num_moves for r in records)
    # each move: the root's own evaluation and 7 more (finished games at leaves need none)
    assert 0.8 * 8 * moves <= worker.evaluator.leaves <= 8 * moves


def test_batching_does_not_mix_up_games():
    """Games played 1, 3 or 4 at a time are the same games: every tree got its own leaves' evaluations."""
    def games(parallel):
        worker = SelfPlayWorker(config(parallel_games=parallel, leaves_per_game=2), tiny_weights(), 0)
        worker.evaluator = LeafFnEvaluator()
        return sorted(worker.play_games(5, generation=1), key=lambda r: r.seed)

    one, three, four = games(1), games(3), games(4)
    for a, b, c in zip(one, three, four):
        np.testing.assert_array_equal(a.moves, b.moves)
        np.testing.assert_array_equal(a.moves, c.moves)
        np.testing.assert_allclose(a.policy_targets, c.policy_targets)
    assert len({tuple(r.moves) for r in one}) > 1


def test_seeded_replay_noise_and_temperature():
    weights = tiny_weights()

    def play(worker_id=0, **kw):
        worker = SelfPlayWorker(config(**kw), weights, 0, worker_id=worker_id)
        return [tuple(r.moves) for r in sorted(worker.play_games(4, generation=5), key=lambda r: r.seed)]

    assert play() == play(worker_id=9), "a game depends on its seed, not on the worker"
    greedy = play(noise_weight=0.0, temperature_moves=0)
    assert len(set(greedy)) == 1, "without noise or temperature every game is the same game"
    noisy = play(temperature_moves=0)
    assert len(set(noisy)) > 1, "root noise alone makes games differ"
    warm = play(noise_weight=0.0, temperature_moves=4)
    assert len({g[:4] for g in warm}) > 1, "temperature-1 openings differ"


def test_resignation_and_false_resign_bookkeeping():
    worker = SelfPlayWorker(config(resign_threshold=0.1, resign_disabled_fraction=0.3, visits=4, parallel_games=8),
                            tiny_weights(), 0)
    worker.evaluator = LeafFnEvaluator(white_wins=True)  # Black to move always thinks it has lost
    records = worker.play_games(40)
    disabled = [r for r in records if r.resign_disabled]
    resigned = [r for r in records if r.resigned]
    assert len(disabled) + len(resigned) == 40
    assert 4 <= len(disabled) <= 22  # Binomial(40, 0.3): 12 expected
    for r in resigned:  # Black resigns at its first move
        assert r.num_moves == 0 and r.result == -1 and r.false_resign is None
    for r in disabled:  # played out; Black would have resigned, and that was wrong iff Black won
        replay_checks(r)
        assert r.num_moves > 0 and r.false_resign == (r.result > 0)


def test_playout_cap_randomisation():
    worker = SelfPlayWorker(config(visits=12, fast_visits=2, full_search_prob=0.4), tiny_weights(), 0)
    worker.evaluator = LeafFnEvaluator()
    records = worker.play_games(6)
    full = np.concatenate([r.full_search for r in records])
    assert 0.2 < full.mean() < 0.6
    for r in records:
        replay_checks(r)
        assert (r.policy_targets[~r.full_search] == 0).all()
    # fast moves cost about 2 evaluations and full ones about 12
    moves = full.size
    assert worker.stats.evaluations < 12 * moves * 0.7


def test_config_defaults_follow_the_paper():
    c = SelfPlayConfig(board_size=9)
    assert c.alpha() == pytest.approx(0.03 * 361 / 81)
    assert c.opening_moves() == 7 and c.move_cap() == 162
    assert c.net_config().blocks == 5 and c.net_config().filters == 64
    with pytest.raises(ValueError, match="net is for"):
        SelfPlayConfig(board_size=9, net=NET).net_config()


def _own_eye(pos, vertex):
    """Every on-board neighbour of vertex is a stone of the side to move (diagonals not checked)."""
    row, col = coords.gtp_to_row_col(vertex, SIZE)
    board = pos.board_array()
    own = 1 if pos.to_play == "b" else 2
    return all(board[r, c] == own for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1))
               if 0 <= r < SIZE and 0 <= c < SIZE)


def test_a_net_that_loves_to_pass_still_plays_games_out():
    """A random net whose pass logit is the largest (the 9x9 run that ended games at move 6-16): every
    pass played either wins by the count as the board stands or has only own eyes left to fill."""
    torch.manual_seed(0)
    net = ZeroResNet(NET)
    with torch.no_grad():
        net.policy_head[-1].bias[-1] += 8.0
    worker = SelfPlayWorker(config(komi=7.5, fast_visits=4, full_search_prob=0.25, temperature_moves=2), net.state_dict(), 0)
    records = worker.play_games(4)
    passes = 0
    for record in records:
        pos = Position(SIZE, record.komi, record.rules)
        for action in record.moves:
            if int(action) == SIZE * SIZE:
                passes += 1
                sign = 1 if pos.to_play == "b" else -1
                others = [m for m in pos.legal_moves() if m != "pass" and not _own_eye(pos, m)]
                assert pos.score() * sign > 0 or not others, (record.moves, pos)
            pos = pos.play(coords.action_to_gtp(int(action), SIZE))
    assert passes >= len(records)  # the games did end by passes
    assert np.mean([r.num_moves for r in records]) > SIZE * SIZE / 2
