"""Hypothesis properties over random move sequences on the fast Board and the immutable Position."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from goengine import _kernels as K
from goengine import Position
from goengine.board import Board
from goengine.geometry import geometry
from tests.goengine.test_reference_diff import recomputed_hash

SIZES = st.sampled_from([2, 3, 5, 7, 9, 13, 19])


def chain_liberties(colours: np.ndarray) -> list[int]:
    """Liberties of every chain, by flood fill over a plain (size, size) array."""
    size = colours.shape[0]
    seen = np.zeros_like(colours, dtype=bool)
    out = []
    for r in range(size):
        for c in range(size):
            if colours[r, c] == 0 or seen[r, c]:
                continue
            todo, libs = [(r, c)], set()
            seen[r, c] = True
            while todo:
                y, x = todo.pop()
                for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= yy < size and 0 <= xx < size:
                        if colours[yy, xx] == 0:
                            libs.add((yy, xx))
                        elif colours[yy, xx] == colours[r, c] and not seen[yy, xx]:
                            seen[yy, xx] = True
                            todo.append((yy, xx))
            out.append(len(libs))
    return out


@settings(max_examples=60, deadline=None)
@given(size=SIZES, picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=250), suicide=st.booleans())
def test_board_invariants_after_every_move(size, picks, suicide):
    board = Board(size)
    g = geometry(size)
    placed = 0
    for pick in picks:
        p = int(g.on_board[pick % (size * size)]) if pick % 17 else 0  # now and then a pass
        before = board.copy()
        status = board.play(p, suicide_ok=suicide)
        if status != K.OK:
            assert np.array_equal(board.s, before.s) and np.array_equal(board.meta, before.meta)
            continue
        if p:
            placed += 1
        colours = board.colours()
        assert all(n > 0 for n in chain_liberties(colours)), "a chain without liberties"
        m = board.meta
        captured = int(m[K.PRISONERS_B] + m[K.PRISONERS_W])
        assert placed - captured == np.count_nonzero(colours)
        assert int(m[K.N_EMPTY]) == size * size - np.count_nonzero(colours)
        # the kernel's liberty counts equal a recount, for every chain head
        for a in np.flatnonzero(colours.reshape(-1)):
            q = int(g.on_board[a])
            h = board.s[K.HEAD, q]
            assert board.s[K.LIBS, h] == K.count_liberties(board.s, board.meta, g.neighbours, h)


@settings(max_examples=40, deadline=None)
@given(size=st.sampled_from([3, 5, 9]), picks=st.lists(st.integers(0, 10_000), max_size=120))
def test_incremental_hash_equals_recomputed(size, picks):
    pos = Position(size=size, komi=0)
    for pick in picks:
        legal = pos.legal_moves()
        if not legal:
            break
        pos = pos.play(legal[pick % len(legal)])
        assert pos.hash == recomputed_hash(pos)


@settings(max_examples=30, deadline=None)
@given(size=st.sampled_from([5, 9, 19]), seed=st.integers(1, 2**32))
def test_playout_ends_with_only_eyes_and_scores_like_position(size, seed):
    from goengine.board import rng_state
    board = Board(size)
    score = board.random_playout(rng_state(seed))
    colours = board.colours()
    assert all(n > 0 for n in chain_liberties(colours))
    # the playout's own area score equals the Position scorer on the same stones
    pos = Position(size=size, komi=0).with_colours(colours)
    assert score == pos.area()
