"""The replay window: planes equal goengine.features of the replayed positions, value targets from the
mover's side, only full searches sampled, the window keeps the newest games, symmetries move planes and
policies together."""
import numpy as np
import pytest
import torch

from goengine import coords
from goengine.features import extract
from goengine.position import Position
from goengine.symmetries import apply_planes, apply_policy
from nets.go.presets import zero_config
from nets.go.zero_resnet import ZeroResNet
from rl.alphago_zero.replay import ReplayWindow
from rl.records import read_record, write_record
from selfplay.selfplay_config import SelfPlayConfig
from selfplay.worker import SelfPlayWorker

SIZE = 5


def make_games(directory, n=8, generation=1, seed=0, fast_visits=0):
    """n real self-play games of a random tiny net, written as records; returns the paths."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        net = zero_config("2x16", board_size=SIZE)
        config = SelfPlayConfig(board_size=SIZE, komi=0.5, net=net, visits=6, parallel_games=8, resign_threshold=0,
                                seed=seed, fast_visits=fast_visits, full_search_prob=0.5)
        worker = SelfPlayWorker(config, ZeroResNet(net).state_dict(), 0)
        return [write_record(directory, r) for r in worker.play_games(n, generation=generation)]
    finally:
        torch.set_num_threads(threads)


class FixedDraws:
    """An rng whose integers() returns the given positions, and identity symmetries."""

    def __init__(self, flat):
        self.flat = np.asarray(flat)

    def integers(self, lo, hi, size):
        return self.flat[:size] if hi != 8 else np.zeros(size, dtype=np.int64)


@pytest.fixture(scope="module")
def games_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("games")
    make_games(directory, n=6, fast_visits=2)
    return directory


def test_samples_equal_features_of_replayed_positions(games_dir):
    window = ReplayWindow(SIZE, window_games=100, augment=False)
    positions = window.refresh(games_dir)
    expected = []  # (planes, pi, z) of every full-search position, in window order
    for path in window.games:
        record = read_record(path)
        pos = Position(SIZE, record.komi, record.rules)
        for t, action in enumerate(record.moves):
            if record.full_search[t]:
                z = record.result if pos.to_play == "b" else -record.result
                expected.append((extract(pos, "zero"), record.policy_targets[t], z))
            pos = pos.play(coords.action_to_gtp(int(action), SIZE))
    assert positions == len(expected) > 0
    assert positions < sum(len(read_record(p).moves) for p in window.games), "fast searches are not sampled"
    batch = window.sample(positions, FixedDraws(np.arange(positions)))
    for b, (planes, pi, z) in enumerate(expected):
        np.testing.assert_array_equal(batch.planes_BCHW[b], planes)
        np.testing.assert_array_equal(batch.policy_BA[b], pi)
        assert batch.value_B[b] == z
    assert batch.planes_BCHW.shape == (positions, 17, SIZE, SIZE) and batch.planes_BCHW.dtype == np.float32


def test_symmetry_moves_planes_and_policy_together(games_dir):
    plain = ReplayWindow(SIZE, 100, augment=False)
    plain.refresh(games_dir)
    augmented = ReplayWindow(SIZE, 100, augment=True)
    augmented.refresh(games_dir)
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    a = plain.sample(64, rng_a)
    b = augmented.sample(64, rng_b)
    ks = rng_a.integers(0, 8, size=64)  # the draw the augmenting window made after the same positions
    assert len(set(ks)) > 3
    for i, k in enumerate(ks):
        np.testing.assert_array_equal(b.planes_BCHW[i], apply_planes(a.planes_BCHW[i], int(k)))
        np.testing.assert_array_equal(b.policy_BA[i], apply_policy(a.policy_BA[i], int(k), SIZE))
        assert b.value_B[i] == a.value_B[i]
        assert b.policy_BA[i].sum() == pytest.approx(1.0, abs=1e-5)


def test_window_keeps_the_newest_games(tmp_path):
    first = make_games(tmp_path, n=3, generation=1, seed=1)
    second = make_games(tmp_path, n=3, generation=2, seed=2)
    window = ReplayWindow(SIZE, window_games=4)
    window.refresh(tmp_path)
    assert list(window.games) == sorted(first)[-1:] + sorted(second)
    kept = window.games[sorted(second)[0]]
    window.refresh(tmp_path)
    assert window.games[sorted(second)[0]] is kept, "games already held are not read again"
    window.refresh(tmp_path, max_generation=1)
    assert list(window.games) == sorted(first)
    assert ReplayWindow(SIZE, 4).refresh(tmp_path / "none") == 0
    with pytest.raises(ValueError, match="no positions"):
        ReplayWindow(SIZE, 4).sample(2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="5x5"):
        ReplayWindow(7, 4).refresh(tmp_path)

