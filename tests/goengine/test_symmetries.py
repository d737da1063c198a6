"""The 8 board symmetries: they are D4 (numpy's own rotations and flips), round trips undo them, the pass
stays put, and transforming planes and policies commutes with transforming the position."""
import itertools

import numpy as np
import pytest

from goengine import Position, coords
from goengine import features as F
from goengine import symmetries as S
from tests.goengine.test_features import SHAPES
from tests.goengine.test_ladder import ESCAPE_BY_CAPTURE

K8 = range(S.N_SYMMETRIES)


def test_the_eight_are_the_dihedral_group():
    x = np.arange(25).reshape(5, 5)  # no symmetry of its own: 8 distinct images
    expected = [x, np.rot90(x), np.rot90(x, 2), np.rot90(x, 3), np.fliplr(x), np.flipud(x), x.T, np.rot90(x, 2).T]
    images = [S.apply_planes(x, k) for k in K8]
    assert sorted(i.tobytes() for i in images) == sorted(e.tobytes() for e in expected)
    # closed under composition
    for a, b in itertools.product(K8, K8):
        twice = S.apply_planes(S.apply_planes(x, a), b)
        assert any(np.array_equal(twice, i) for i in images)


@pytest.mark.parametrize("k", K8)
def test_round_trips(k):
    rng = np.random.default_rng(k)
    planes_CNN = rng.random((17, 9, 9), dtype=np.float32)
    planes_BCNN = rng.random((3, 48, 7, 7), dtype=np.float32)
    assert np.array_equal(S.apply_planes(S.apply_planes(planes_CNN, k), S.invert(k)), planes_CNN)
    assert np.array_equal(S.apply_planes(S.apply_planes(planes_BCNN, k), S.invert(k)), planes_BCNN)
    # batched = each sample on its own
    moved = S.apply_planes(planes_BCNN, k)
    assert all(np.array_equal(moved[b], S.apply_planes(planes_BCNN[b], k)) for b in range(3))
    policy_A = rng.random(82)
    policy_BA = rng.random((4, 82))
    assert np.array_equal(S.apply_policy(S.apply_policy(policy_A, k, 9), S.invert(k), 9), policy_A)
    assert np.array_equal(S.apply_policy(S.apply_policy(policy_BA, k, 9), S.invert(k), 9), policy_BA)
    assert S.apply_policy(policy_A, k, 9)[81] == policy_A[81]  # pass stays pass
    assert S.apply_action(81, k, 9) == 81
    # a policy moves like a plane of the board
    plane = S.apply_planes(policy_A[:81].reshape(9, 9), k)
    assert np.array_equal(S.apply_policy(policy_A, k, 9)[:81], plane.reshape(81))


def test_bad_arguments():
    with pytest.raises(ValueError):
        S.apply_planes(np.zeros((2, 3, 3)), 8)
    with pytest.raises(ValueError):
        S.apply_policy(np.zeros(81), 1, 9)


def transform_setup(pos, k):
    """The position whose stones are those of `pos` moved by symmetry k (a setup, no history)."""
    return Position(pos.size).with_colours(S.apply_planes(pos.board_array(), k), to_play=pos.to_play)


def transform_game(moves, k, size=9):
    pos = Position(size)
    for m in moves:
        if m != "pass":
            m = coords.action_to_gtp(S.apply_action(coords.gtp_to_action(m, size), k, size), size)
        pos = pos.play(m)
    return pos


@pytest.mark.parametrize("k", K8)
def test_planes_commute_with_the_board(k):
    for text in (SHAPES, ESCAPE_BY_CAPTURE):
        pos = Position.from_ascii(text)
        moved = transform_setup(pos, k)
        for name in ("zero", "lee_value"):
            assert np.array_equal(F.extract(moved, name), S.apply_planes(F.extract(pos, name), k)), (name, k)
        assert np.array_equal(moved.legal_mask(), S.apply_policy(pos.legal_mask(), k, 9))
    # a game: history planes and turns since move with the stones
    moves = ["E5", "D5", "pass", "E6", "A1", "F5", "A2", "E4", "A3", "E5", "C7", "G3"]
    game, moved = transform_game(moves, 0), transform_game(moves, k)
    for name in ("zero", "lee_value"):
        assert np.array_equal(F.extract(moved, name), S.apply_planes(F.extract(game, name), k)), (name, k)
    assert np.array_equal(moved.legal_mask(), S.apply_policy(game.legal_mask(), k, 9))
