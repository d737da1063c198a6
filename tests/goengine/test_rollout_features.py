"""AlphaGo's rollout policy kernels (goengine/mcts/rollout_policy.py): features on known positions, the
candidate set against the pure-Python reference board, the incremental weight cache against a rebuild
from scratch after every move, sampling against the computed probabilities, and legal playouts."""
import random

import numpy as np
import pytest

from goengine import Position
from goengine import _kernels as K
from goengine import coords
from goengine.board import Board, rng_state
from goengine.mcts import rollout_policy as R
from tests.goengine.test_positions import KO
from tests.reference_board import RefBoard, random_move

SPEC = R.pattern_spec()
N_WEIGHTS = R.n_weights(SPEC)


def random_weights(seed: int, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, N_WEIGHTS)


def ids_at(pos: Position, vertex: str) -> list[int]:
    b = pos.board
    g = b.geo
    out = np.empty(R.MAX_FEATURES, dtype=np.int64)
    p = coords.point(*coords.gtp_to_row_col(vertex, g.size), g.size)
    n = R.rollout_feature_ids(b.s, b.meta, g.neighbours, g.diagonals, SPEC, p, out)
    return [int(i) for i in out[:n]]


def kinds(ids: list[int]) -> set[str]:
    """Readable names of the feature ids (the table layout of the module docstring)."""
    resp, nr = SPEC[R.LAYOUT, R.RESP_BASE], SPEC[R.LAYOUT, R.NR_BASE]
    names = {R.RESPONSE: "response", R.SAVE_ATARI: "save_atari", R.SELF_ATARI: "self_atari"}
    out = set()
    for i in ids:
        if i in names:
            out.add(names[i])
        elif R.NEIGHBOUR <= i < R.FIRST_PATTERN:
            out.add("neighbour")
        elif resp <= i < nr:
            out.add("response_pattern")
        elif nr <= i < N_WEIGHTS:
            out.add("pattern")
        else:
            out.add(f"out of range {i}")
    return out


# White C3 is in atari (its liberty is D3); D3 would give it liberties D4, D2, E3.
ATARI = """
    . . . . .
    . . X . .
    . X O . .
    . . X . .
    . . . . .
"""


def test_save_atari_and_capture():
    white = Position.from_ascii(ATARI, to_play="w")
    assert kinds(ids_at(white, "D3")) == {"pattern", "save_atari"}
    black = Position.from_ascii(ATARI, to_play="b")  # for Black D3 captures: no rescue, no self-atari
    assert kinds(ids_at(black, "D3")) == {"pattern"}


def test_self_atari():
    # White E1 would have the single liberty D1 (E2 is Black, the corner has two sides only)
    pos = Position.from_ascii("""
        . . . . .
        . . . . .
        . . . . .
        . . . . X
        . . . . .
    """, to_play="w")
    assert "self_atari" in kinds(ids_at(pos, "E1"))
    assert "self_atari" not in kinds(ids_at(pos, "D1"))


def test_response_features_cover_the_diamond_only():
    pos = Position(9).play("E5")  # White to answer Black's E5
    for vertex in ("E6", "F6", "D4", "F5"):  # 8-connected: response, its pattern and the direction
        assert kinds(ids_at(pos, vertex)) == {"pattern", "response", "response_pattern", "neighbour"}, vertex
    for vertex in ("E7", "C5", "G5", "E3"):  # two steps in a line: in the diamond, not neighbours
        assert kinds(ids_at(pos, vertex)) == {"pattern", "response", "response_pattern"}, vertex
    for vertex in ("F7", "G6", "A1"):  # a knight's move and beyond
        assert kinds(ids_at(pos, vertex)) == {"pattern"}, vertex
    neighbour_ids = {i for v in ("E6", "F6", "F5", "F4", "E4", "D4", "D5", "D6") for i in ids_at(pos, v)
                     if R.NEIGHBOUR <= i < R.FIRST_PATTERN}
    assert len(neighbour_ids) == 8  # one weight per direction
    pos = pos.play("pass")  # after a pass nothing is a response
    assert kinds(ids_at(pos, "E6")) == {"pattern"}


def test_response_pattern_depends_on_where_the_candidate_sits():
    pos = Position(9).play("E5")
    resp = [next(i for i in ids_at(pos, v) if "response_pattern" in kinds([i])) for v in ("E6", "E4", "D5", "F5")]
    assert len(set(resp)) == 4  # same diamond, four places in it


def colour_swapped(pos: Position) -> Position:
    colours = pos.board_array()
    swapped = np.where(colours == 0, 0, 3 - colours)
    return Position(pos.size).with_colours(swapped, to_play="w" if pos.to_play == "b" else "b")


def test_features_are_relative_to_the_side_to_move():
    pos = Position.from_ascii(ATARI, to_play="w")
    other = colour_swapped(pos)
    for v in ("D3", "B2", "A1", "E5", "D2"):
        assert ids_at(pos, v) == ids_at(other, v)


def test_pattern_sees_liberties_not_just_colours():
    # the 3x3 around C3 has the same colours in both; the White stone at D3 has 1 liberty in the first
    # (D2 and E3 Black, D4 taken) and 3 in the second
    one = Position.from_ascii("""
        . . . . .
        . . . X .
        . . . O X
        . . . X .
        . . . . .
    """, to_play="b")
    three = Position.from_ascii("""
        . . . . .
        . . . . .
        . . . O .
        . . . . .
        . . . . .
    """, to_play="b")
    pattern = lambda p, v: next(i for i in ids_at(p, v) if kinds([i]) == {"pattern"})  # noqa: E731
    assert pattern(one, "C3") != pattern(three, "C3")
    assert pattern(one, "A5") == pattern(three, "A5")  # an empty corner either way


def python_eye(ref: RefBoard, pt, colour) -> bool:
    """The eye-like point of the playouts, written from its definition on the reference board."""
    if any(ref.stones.get(n) != colour for n in ref.neighbours(pt)):
        return False
    r, c = pt
    diagonals = [(r + dr, c + dc) for dr in (-1, 1) for dc in (-1, 1)]
    on_board = [d for d in diagonals if 0 <= d[0] < ref.size and 0 <= d[1] < ref.size]
    other = "w" if colour == "b" else "b"
    bad = sum(ref.stones.get(d) == other for d in on_board)
    return bad + (len(on_board) < 4) < 2


@pytest.mark.parametrize("size", [5, 7, 9])
def test_candidates_are_the_reference_boards_legal_non_eye_points(size):
    rng = random.Random(size)
    ref, board = RefBoard(size), Board(size)
    g = board.geo
    for _ in range(60 if size < 9 else 80):
        expected = {coords.point(r, c, size) for (r, c) in ref.legal_points()
                    if not python_eye(ref, (r, c), ref.to_play)}
        got = {int(p) for p in g.on_board if R.is_rollout_candidate(board.s, board.meta, g.neighbours, g.diagonals, p)}
        assert got == expected
        pt = random_move(ref, rng)
        ref.play(pt)
        assert board.play(coords.PASS if pt is None else coords.point(*pt, size)) == K.OK


def test_zero_weights_give_the_uniform_policy():
    pos = Position.from_ascii(ATARI, to_play="w").play("D3").play("A1")
    probs = R.RolloutPolicy().probabilities(pos.board)
    n = int((probs > 0).sum())
    assert n == len([v for v in pos.legal_moves() if v != "pass"])
    np.testing.assert_allclose(probs[probs > 0], 1.0 / n)


def cached_state(board: Board, expw: np.ndarray):
    g = board.geo
    ew, work = R.new_cache(g.n_points, g.width)
    R.cache_reset(board.s, board.meta, g.neighbours, g.diagonals, g.width, SPEC, expw, ew)
    return ew, work


@pytest.mark.parametrize("size,seed", [(5, 0), (9, 1), (9, 2), (13, 3), (19, 4)])
def test_incremental_cache_equals_a_rebuild_after_every_move(size, seed):
    weights = random_weights(seed)
    expw = np.exp(weights)
    board = Board(size)
    g = board.geo
    ew, work = cached_state(board, expw)
    rng = rng_state(seed)
    probs_cache, probs_scratch = np.empty(size * size), np.empty(size * size)
    captures = moves = 0
    n_cached = g.n_points + g.width + 1  # points, row sums, total
    while board.passes < 2 and moves < 3 * size * size:
        fresh, _ = cached_state(board, expw)
        np.testing.assert_allclose(ew[1:, :n_cached], fresh[1:, :n_cached], rtol=1e-12, atol=0)
        R.cached_probabilities(board.s, board.meta, g.neighbours, g.diagonals, g.width, SPEC, expw, ew, work,
                               g.on_board, probs_cache)
        R.rollout_probabilities(board.s, board.meta, g.neighbours, g.diagonals, SPEC, weights, g.on_board,
                                probs_scratch)
        np.testing.assert_allclose(probs_cache, probs_scratch, rtol=1e-9, atol=1e-12)
        before = board.meta[K.PRISONERS_B] + board.meta[K.PRISONERS_W]
        p = R.choose_cached(board.s, board.meta, g.neighbours, g.diagonals, g.width, SPEC, expw, ew, work, rng)
        R.play_and_update(board.s, board.meta, g.neighbours, g.diagonals, g.zobrist, g.width, SPEC, expw, ew, work, p)
        captures += board.meta[K.PRISONERS_B] + board.meta[K.PRISONERS_W] > before
        moves += 1
    assert captures >= 2  # the cache was exercised through captures, not only quiet moves


# Black's chain (B6 B5 C6 D6 D5) has liberties B4 and D4. Black B4 keeps two liberties, D4 and C4, so
# the chain's count does not change, yet D4 turns from a safe point (liberties C4 and B4 after it) into
# a self-atari (C4 only). D4 is two steps from B4, outside its 3x3: only walking the chain finds it.
MOVED_LIBERTY = """
    . O O O . . .
    O X X X O . .
    O X O X O . .
    O . . . O . .
    . O . O . . .
    . . . . . . .
    . . . . . . .
"""


def test_cache_follows_a_liberty_that_moved_without_changing_the_count():
    pos = Position.from_ascii(MOVED_LIBERTY, to_play="b")
    assert "self_atari" not in kinds(ids_at(pos, "D4"))
    assert "self_atari" in kinds(ids_at(pos.play("B4").play("pass"), "D4"))
    board = pos.board
    g = board.geo
    expw = np.exp(random_weights(9))
    ew, work = cached_state(board, expw)
    p = coords.point(*coords.gtp_to_row_col("B4", 7), 7)
    R.play_and_update(board.s, board.meta, g.neighbours, g.diagonals, g.zobrist, g.width, SPEC, expw, ew, work, p)
    fresh, _ = cached_state(board, expw)
    n_cached = g.n_points + g.width + 1
    np.testing.assert_allclose(ew[1:, :n_cached], fresh[1:, :n_cached], rtol=1e-12, atol=0)


def draw_counts(board: Board, weights: np.ndarray, n: int, cached: bool) -> np.ndarray:
    g = board.geo
    expw = np.exp(weights)
    ew, work = cached_state(board, expw)
    rng = rng_state(11)
    counts = np.zeros(g.size * g.size)
    for _ in range(n):
        if cached:
            p = R.choose_cached(board.s, board.meta, g.neighbours, g.diagonals, g.width, SPEC, expw, ew, work, rng)
        else:
            p = R.choose_rollout_move(board.s, board.meta, g.neighbours, g.diagonals, SPEC, weights, g.on_board, rng)
        counts[g.action_of_point[p]] += 1
    return counts


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "scratch"])
def test_sampling_follows_the_probabilities_and_never_retakes_a_ko(cached):
    pos = Position.from_ascii(KO).play("C3", "b")  # White may not retake at B3
    assert pos.ko == "B3"
    board = pos.board
    weights = random_weights(5, scale=1.5)
    probs = R.RolloutPolicy(weights).probabilities(board)
    n = 20000
    counts = draw_counts(board, weights, n, cached)
    ko = board.geo.action_of_point[board.ko_point]
    assert probs[ko] == 0 and counts[ko] == 0
    assert counts[probs == 0].sum() == 0
    # chi-square with the candidates as cells: mean = cells - 1, sd = sqrt(2 (cells - 1))
    cells = probs > 0
    chi2 = (((counts - n * probs) ** 2)[cells] / (n * probs[cells])).sum()
    dof = cells.sum() - 1
    assert chi2 < dof + 5 * np.sqrt(2 * dof)


def power_of_two_expw(n: int) -> np.ndarray:
    """exp(weights) as exact powers of two, 2^-4 to 2^4, from integer arithmetic alone: neither numpy's
    Generator stream nor its exp (both free to change between numpy versions) decides a playout."""
    return np.ldexp(1.0, (np.arange(n) * 7919 % 9 - 4).astype(np.int32))


def playout(seed: int) -> tuple[int, np.ndarray, Board]:
    board = Board(9)
    g = board.geo
    moves = np.empty(400, dtype=np.int32)
    score, n = R.rollout_playout(board.s, board.meta, g.neighbours, g.diagonals, g.zobrist, g.on_board, g.width,
                                 SPEC, power_of_two_expw(N_WEIGHTS), rng_state(seed), 400, moves, 0)
    return int(score), moves[:n], board


def test_playout_plays_legal_non_eye_moves_to_the_end():
    score, moves, board = playout(2)
    g = board.geo
    replay = Board(9)
    for p in moves:
        if p != coords.PASS:
            assert not K.is_eye(replay.s, g.neighbours, g.diagonals, p, replay.to_play)
        assert replay.play(int(p)) == K.OK
    assert replay.passes == 2 and len(moves) < 400
    assert score == replay.area_score() == board.area_score()
    again, moves_again, _ = playout(2)
    assert again == score and moves_again.tolist() == moves.tolist(), "the same weights and seed replay"
    assert playout(3)[1].tolist() != moves.tolist(), "another seed, another game"
    # golden regression, exact: the weights are powers of two built from integers, the random stream is
    # our xorshift (rng_state), and the kernels do only IEEE arithmetic in a fixed order (no fastmath)
    assert (score, len(moves)) == GOLDEN_PLAYOUT


GOLDEN_PLAYOUT = (-9, 100)  # (area score without komi, moves) of playout(2)


def test_policy_checks_its_weights():
    with pytest.raises(ValueError, match="weights"):
        R.RolloutPolicy(np.zeros(10))
    with pytest.raises(ValueError, match="bits"):
        R.pattern_spec(2, 17)
