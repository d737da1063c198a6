"""The lee_rollout net (nets/go/rollout.py): shapes, equality with nn.EmbeddingBag, the same move
probabilities as the numba kernels, checkpoints, and learning GNU Go's moves from the 9x9 corpus better
than a uniform choice and than the untrained table (top-1 on held-out games)."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import nets
from goengine.board import Board, rng_state
from goengine.mcts.rollout_policy import MAX_FEATURES
from goengine.sgf import load_game, replay
from nets.go import checkpoint
from nets.go.rollout import (LeeRollout, RolloutConfig, encode_examples, game_pairs, top1_accuracy,
                             uniform_accuracy)

CORPUS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "fixtures", "corpus", "*.sgf")))
HELD_OUT = 20  # the last games of the corpus are only ever tested on


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def corpus_games():
    """(board, move) pairs per game of the GNU Go corpus."""
    games = []
    for path in CORPUS:
        record = load_game(path)
        games.append(game_pairs(replay(record), record.moves))
    return games


def small_model(seed: int = 0, **config) -> LeeRollout:
    torch.manual_seed(seed)
    return nets.build("lee_rollout", response_bits=config.get("response_bits", 10),
                      pattern_bits=config.get("pattern_bits", 11), board_size=9)


def test_shapes_and_padding():
    model = small_model()
    ids_NAK = torch.randint(-1, model.n_weights, (3, 7, MAX_FEATURES))
    mask_NA = torch.rand(3, 7) < 0.6
    mask_NA[:, 0] = True
    logits_NA = model(ids_NAK, mask_NA)
    assert logits_NA.shape == (3, 7)
    assert torch.isinf(logits_NA[~mask_NA]).all() and torch.isfinite(logits_NA[mask_NA]).all()
    weights = model.weights_numpy()
    assert weights.shape == (model.n_weights,) and weights.dtype == np.float64
    only_padding = torch.full((1, 1, MAX_FEATURES), -1)
    assert model(only_padding, torch.ones(1, 1, dtype=torch.bool)).item() == 0.0


def test_equals_torch_embedding_bag():
    model = small_model(1)
    bag = nn.EmbeddingBag(model.n_weights + 1, 1, mode="sum", padding_idx=model.n_weights)
    with torch.no_grad():
        bag.weight[: model.n_weights, 0] = model.weight_F
        bag.weight[model.n_weights] = 0.0
    ids_NAK = torch.randint(-1, model.n_weights, (4, 9, MAX_FEATURES))
    mask_NA = torch.ones(4, 9, dtype=torch.bool)
    expected_NA = bag(torch.where(ids_NAK < 0, model.n_weights, ids_NAK).reshape(36, MAX_FEATURES)).reshape(4, 9)
    torch.testing.assert_close(model(ids_NAK, mask_NA), expected_NA)


def test_config_is_checked():
    with pytest.raises(ValueError, match="bits"):
        RolloutConfig(response_bits=40)
    with pytest.raises(ValueError, match="board_size"):
        RolloutConfig(board_size=1)


def test_torch_and_numba_give_the_same_move_probabilities(corpus_games):
    model = small_model(2)
    with torch.no_grad():
        model.weight_F.normal_(0.0, 1.5)  # far from uniform, so a mismatch would show
    policy = model.numba_policy()
    pairs = [pair for game in corpus_games[:3] for pair in game[::4]]
    examples, _ = encode_examples(pairs, policy)
    with torch.no_grad():
        probs_NA = F.softmax(model(examples.ids_NAK, examples.mask_NA), dim=1)
    kept = [pair for pair in pairs if pair[1] in policy.features(pair[0])[0]]
    assert len(kept) == len(examples) > 20
    for i, (board, _move) in enumerate(kept):
        numba_A = policy.probabilities(board)
        torch_A = np.zeros_like(numba_A)
        points = examples.points_NA[i][examples.mask_NA[i]].numpy()
        torch_A[board.geo.action_of_point[points]] = probs_NA[i][examples.mask_NA[i]].numpy()
        np.testing.assert_allclose(torch_A, numba_A, atol=1e-5, rtol=0)


def test_checkpoint_round_trip(tmp_path):
    model = small_model(3)
    path = tmp_path / "rollout.pt"
    checkpoint.save(path, model, feature_set="rollout_patterns")
    loaded, meta = checkpoint.load(path, board_size=9)
    assert meta.net == "lee_rollout" and meta.config["pattern_bits"] == 11
    np.testing.assert_array_equal(loaded.weights_numpy(), model.weights_numpy())


def test_untrained_default_table():
    """The default 2^16 / 2^17 table: its size, its N(0, 0.01²) start (sample mean and standard deviation
    within 5 standard errors, 0.01/sqrt(n) and 0.01/sqrt(2n)), and logits that are sums of its entries,
    the table's last entry included. (This replaced seeded golden logits, which moved with torch's RNG.)"""
    torch.manual_seed(0)
    model = nets.build("lee_rollout")
    n = model.n_weights
    assert n == 11 + 2**16 + 2**17
    weights = model.weight_F.detach().double()
    assert abs(weights.mean().item()) < 5 * 0.01 / n**0.5
    assert abs(weights.std().item() - 0.01) < 5 * 0.01 / (2 * n) ** 0.5
    ids_NAK = torch.tensor([[[0, 5, 70000, -1, -1, -1], [n - 1, -1, -1, -1, -1, -1]]])
    logits = model(ids_NAK, torch.ones(1, 2, dtype=torch.bool))
    w = model.weight_F.detach()
    torch.testing.assert_close(logits, torch.stack([w[0] + w[5] + w[70000], w[n - 1]])[None], atol=1e-7, rtol=0)


def train(model: LeeRollout, examples, steps: int, lr: float = 0.05) -> list[float]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(examples.ids_NAK, examples.mask_NA), examples.target_N)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def test_learns_gnugo_moves_better_than_uniform_and_untrained(corpus_games):
    assert len(corpus_games) == 120
    torch.manual_seed(0)
    model = nets.build("lee_rollout", board_size=9)
    policy = model.numba_policy()  # only the hashing is used to encode: the spec depends on the bits alone
    train_set, skipped_train = encode_examples([p for g in corpus_games[:-HELD_OUT] for p in g], policy)
    test_set, skipped_test = encode_examples([p for g in corpus_games[-HELD_OUT:] for p in g], policy)
    assert len(train_set) > 4000 and len(test_set) > 800
    assert skipped_train + skipped_test < 0.01 * (len(train_set) + len(test_set))  # GNU Go seldom fills eyes

    uniform = uniform_accuracy(test_set)
    untrained = top1_accuracy(model, test_set)
    losses = train(model, train_set, steps=30)
    trained = top1_accuracy(model, test_set)
    print(f"held-out top-1: uniform {uniform:.3f}, untrained {untrained:.3f}, trained {trained:.3f}; "
          f"train loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert losses[-1] < 0.7 * losses[0]
    assert trained > uniform + 0.15
    assert trained > untrained + 0.15

    # the trained table, run by the numba kernels, still prefers GNU Go's moves: the mean probability
    # of the move played beats the uniform 1 / #candidates
    trained_policy = model.numba_policy()
    boards = [p for g in corpus_games[-HELD_OUT:] for p in g][::5]
    p_move = [trained_policy.probabilities(b)[b.geo.action_of_point[m]] for b, m in boards]
    p_uniform = [1.0 / (trained_policy.probabilities(b) > 0).sum() for b, _m in boards]
    assert np.mean(p_move) > 3 * np.mean(p_uniform)


def test_a_table_trained_anywhere_plays_out_any_board_size():
    model = small_model(4)  # the features are local: the same table drives a 19x19 playout
    board = Board(19)
    score = model.numba_policy().playout(board, rng_state(1))
    assert board.passes == 2 and score == board.area_score()
