"""Feature planes: counts, AlphaGo Lee's planes on a position read by hand and against a slow reference
built on Position.play, turns since and AlphaGo Zero's history after a short game with a capture, and
the search's batch path against extract()."""
import numpy as np
import pytest

from goengine import Position, coords
from goengine import features as F
from goengine.mcts.evaluators import UniformEvaluator
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig
from tests.goengine.test_ladder import chain_libs, random_positions

# plane offsets of "lee_policy" / "lee_value" (Extended Data Table 2 order)
COLOUR, ONES, TURNS, LIBS, CAPTURE, SELF_ATARI, LIBS_AFTER = 0, 3, 4, 12, 20, 28, 36
LADDER_CAPTURE, LADDER_ESCAPE, SENSIBLE, ZEROS, PLAYER = 44, 45, 46, 47, 48

# Black to play. By hand:
#   White A2 B2 C2 (liberty C1) and White D1 (liberty C1) are in atari; so is Black A1 B1 (liberty C1).
#   Black C1 captures 3 + 1 = 4 stones; its chain A1 B1 C1 then has the freed A2, B2, C2, D1: 4 liberties.
#   Black H9 is in atari (J9); Black J9 makes H9 J9 with the one liberty J8: self-atari of 2 stones.
#   J1 is Black's eye (H1, J2 Black, the edge, diagonal H2 empty): not sensible.
#   E2 joins D2 and E1: liberties D3, E3, F2, F1. D3 joins D2 to A3 B3 C3: A4 B4 C4 D4 E3 E2.
#   C4 joins A3 B3 C3: A4 B4 C5 D4 D3. J1 makes H1 J1 J2 with G1 H2 J3. F9: E9 F8. G8: F8 G7. J8: J9 J7.
SHAPES = """
    . . . . . . O X .
    . . . . . . . O .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    X X X . . . . . .
    O O O X . . . . X
    X X . O X . . X .
"""


def decode(planes, start, count, first):
    """{vertex: value} from one-hot planes[start:start+count] whose plane k means value first + k."""
    out = {}
    block = planes[start:start + count]
    assert block.sum(axis=0).max() <= 1  # one-hot: at most one plane per point
    for k, r, c in zip(*np.nonzero(block)):
        out[coords.row_col_to_gtp(int(r), int(c))] = first + int(k)
    return out


def vertices(plane):
    return sorted(coords.row_col_to_gtp(int(r), int(c)) for r, c in zip(*np.nonzero(plane)))


def test_plane_counts():
    assert F.num_planes("zero") == 17
    assert F.num_planes("lee_policy") == 48
    assert F.num_planes("lee_value") == 49
    assert F.num_planes("lee_value") == sum(F.FEATURES[n].planes for n in F.FEATURE_SETS["lee_value"])
    for size in (5, 9, 19):
        pos = Position(size).play("C3")
        for name in ("zero", "lee_policy", "lee_value"):
            planes = F.extract(pos, name)
            assert planes.shape == (F.num_planes(name), size, size) and planes.dtype == np.float32
    with pytest.raises(ValueError):
        F.num_planes("alphago_master")


def test_lee_planes_by_hand():
    pos = Position.from_ascii(SHAPES)
    planes = F.extract(pos, "lee_value")
    colours = pos.board_array()
    empty = {coords.row_col_to_gtp(int(r), int(c)) for r, c in zip(*np.nonzero(colours == 0))}
    assert len(empty) == 65
    assert np.array_equal(planes[COLOUR], colours == 1)  # Black moves: its stones are the mover's
    assert np.array_equal(planes[COLOUR + 1], colours == 2)
    assert np.array_equal(planes[COLOUR + 2], colours == 0)
    assert (planes[ONES] == 1).all() and (planes[ZEROS] == 0).all() and (planes[PLAYER] == 1).all()
    # set up from a diagram, no stone was played by a move: all ">= 8 turns"
    stones = {coords.row_col_to_gtp(int(r), int(c)) for r, c in zip(*np.nonzero(colours))}
    assert decode(planes, TURNS, 8, 1) == {v: 8 for v in stones}
    assert decode(planes, LIBS, 8, 1) == {
        "A2": 1, "B2": 1, "C2": 1, "A1": 1, "B1": 1, "D1": 1, "H9": 1,
        "A3": 4, "B3": 4, "C3": 4, "D2": 2, "E1": 2, "G9": 2, "H8": 3, "J2": 3, "H1": 3}
    assert decode(planes, CAPTURE, 8, 0) == {v: (4 if v == "C1" else 0) for v in empty}  # all empties legal
    assert decode(planes, SELF_ATARI, 8, 1) == {"J9": 2}
    libs_after = decode(planes, LIBS_AFTER, 8, 1)
    assert set(libs_after) == empty
    assert {v: libs_after[v] for v in ("C1", "J9", "E2", "D3", "C4", "A9", "J8", "J1", "E5", "F9", "G8")} == {
        "C1": 4, "J9": 1, "E2": 4, "D3": 6, "C4": 5, "A9": 2, "J8": 2, "J1": 3, "E5": 4, "F9": 2, "G8": 2}
    # White G9 (F9, G8) is the only two-liberty chain: F9 lets White G8 join H8; G8 lets White capture H9
    # at J9 (or extend to F9) and come out. Black A1 B1 escapes by C1 (4 liberties); H9's J9 leaves 1.
    assert vertices(planes[LADDER_CAPTURE]) == []
    assert vertices(planes[LADDER_ESCAPE]) == ["C1"]
    assert vertices(planes[SENSIBLE]) == sorted(empty - {"J1"})


def test_lee_planes_for_white():
    # White to move in SHAPES: C1 captures Black A1 B1 (2) and leaves A2 B2 C2 C1 D1 with A1, B1; J9
    # captures H9 (1) and has H9, J8. Colours are relative: White's stones are the mover's.
    pos = Position.from_ascii(SHAPES, to_play="w")
    planes = F.extract(pos, "lee_value")
    colours = pos.board_array()
    assert np.array_equal(planes[COLOUR], colours == 2) and np.array_equal(planes[COLOUR + 1], colours == 1)
    assert (planes[PLAYER] == 0).all()
    captures = decode(planes, CAPTURE, 8, 0)
    assert {v: n for v, n in captures.items() if n} == {"C1": 2, "J9": 1}
    assert decode(planes, LIBS_AFTER, 8, 1)["C1"] == 2 and decode(planes, LIBS_AFTER, 8, 1)["J9"] == 2


# White's row 2 (9 stones) and Black's A1..H1 (8 stones) both have J1 as their one liberty.
CAPS = """
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    X X X X X X X X X
    O O O O O O O O O
    X X X X X X X X .
"""


def test_one_hot_caps():
    # Black J1 captures 9 (shown as ">= 7") and its row-1 chain gets the 9 freed points (">= 8"); Black's
    # row 3 has the 9 points of row 4; White J1 would capture Black's 8.
    black = F.extract(Position.from_ascii(CAPS), "lee_policy")
    assert decode(black, CAPTURE, 8, 0)["J1"] == 7
    assert decode(black, LIBS_AFTER, 8, 1)["J1"] == 8
    assert decode(black, LIBS, 8, 1)["A3"] == 8
    white = F.extract(Position.from_ascii(CAPS, to_play="w"), "lee_policy")
    assert decode(white, CAPTURE, 8, 0)["J1"] == 7
    assert decode(white, LIBS_AFTER, 8, 1)["J1"] == 8  # row 2 and J1 get the 8 freed points


# A short game with a capture: E5 (Black, move 1) is captured by White E4 (move 8) and White refills E5.
GAME = ["E5", "D5", "pass", "E6", "A1", "F5", "A2", "E4", "A3", "E5"]


def play(moves, size=9):
    pos = Position(size)
    for m in moves:
        pos = pos.play(m)
    return pos


def test_turns_since():
    pos = play(GAME)
    assert pos.colour_at("E5") == "w" and pos.to_play == "b"
    planes = F.extract(pos, "lee_policy")
    # moves back from the end, a pass counting as a turn: E5 1, A3 2, E4 3, A2 4, F5 5, A1 6, E6 7, D5 9
    assert decode(planes, TURNS, 8, 1) == {"E5": 1, "A3": 2, "E4": 3, "A2": 4, "F5": 5, "A1": 6, "E6": 7, "D5": 8}
    assert np.array_equal(F.turns_since(pos).reshape(9, 9) > 0, pos.board_array() > 0)


def test_zero_history_after_a_capture():
    pos = play(GAME)  # Black to move
    planes = F.extract(pos, "zero")

    def at(vertex):
        r, c = coords.gtp_to_row_col(vertex, 9)
        return planes[:, r, c].astype(int).tolist()

    # planes [X_0, Y_0, X_1, Y_1, ..., X_7, Y_7, C]; X = Black (to move), step t = after move 10 - t
    # E5: White now; empty after moves 9 and 8 (captured by E4); Black after moves 7..3
    assert at("E5") == [0, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    # D5: White since move 2, so in all 8 steps
    assert at("D5") == [0, 1] * 8 + [1]
    # E4: White since move 8 (steps 0-2)
    assert at("E4") == [0, 1] * 3 + [0, 0] * 5 + [1]
    # A1: Black since move 5 (steps 0-5)
    assert at("A1") == [1, 0] * 6 + [0, 0] * 2 + [1]
    # White to move one move earlier: X is White now, C is 0; E5 empty at steps 0-1 (after
    # moves 9, 8), Black at 2-7 (after moves 7..2); D5 in all 8 steps (after moves 9..2)
    before = F.extract(pos.previous, "zero")
    r, c = coords.gtp_to_row_col("E5", 9)
    assert before[:, r, c].astype(int).tolist() == [0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    r, c = coords.gtp_to_row_col("D5", 9)
    assert before[:, r, c].astype(int).tolist() == [1, 0] * 8 + [0]


def test_zero_history_before_the_start():
    planes = F.extract(play(["C3", "D4", "pass"]), "zero")  # White to move after 3 moves
    assert planes[0].sum() == 1 and planes[1].sum() == 1  # the mover (White) has D4; Black C3
    assert planes[2:6].sum() == 3  # steps 1, 2: after D4 (2 stones), after C3 (1)
    assert planes[6:16].sum() == 0  # step 3 is the empty board, steps 4-7 precede the game
    assert (planes[16] == 0).all()


class EightHistory(UniformEvaluator):
    history_length = 8


def test_batch_paths_match_extract():
    root = play(["E5", "D5", "E4", "pass", "D4"])
    search = Search(EightHistory(), SearchConfig(tree_nodes=20_000, batch_size=8, seed=1))
    search.set_root(root)
    search.run(sims=96)
    pending = search.collect(24)
    batch = pending.batch
    zero_BCNN = F.zero_planes_batch(batch.history, batch.to_play, 9)
    lee_BCNN = F.lee_planes_batch(batch, value=True)
    assert zero_BCNN.shape == (len(batch.to_play), 17, 9, 9) and lee_BCNN.shape[1] == 49
    depths = []
    for b in range(len(batch.to_play)):
        leaf = root
        for node in pending.paths[b, 1:pending.path_lens[b]]:
            leaf = leaf.play(coords.point_to_gtp(int(search.nodes[node]["move"]), 9))
        depths.append(len(leaf.history) - len(root.history))
        assert np.array_equal(zero_BCNN[b], F.extract(leaf, "zero"))
        if not leaf.is_over:  # a finished game has no legal moves for extract()
            assert np.array_equal(lee_BCNN[b], F.extract(leaf, "lee_value"))
    assert max(depths) >= 2  # the history rows were shifted by the walk, not only copied from the root
    with pytest.raises(ValueError):
        F.zero_planes_batch(batch.history[:, :4], batch.to_play, 9)


def _is_eye(colours, r, c, mover):
    n = colours.shape[0]
    for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
        if 0 <= rr < n and 0 <= cc < n and colours[rr, cc] != mover:
            return False
    bad = edge = 0
    for rr, cc in ((r + 1, c + 1), (r + 1, c - 1), (r - 1, c + 1), (r - 1, c - 1)):
        if 0 <= rr < n and 0 <= cc < n:
            bad += colours[rr, cc] == 3 - mover
        else:
            edge = 1
    return bad + edge < 2


@pytest.mark.parametrize("seed", [3, 4])
def test_per_move_planes_match_a_reference(seed):
    """Every per-point plane but the ladders (test_ladder.py) against Position.play on each legal move."""
    for pos in random_positions(9, 10, seed, (20, 110)):
        planes = F.extract(pos, "lee_policy")
        mover = 1 if pos.to_play == "b" else 2
        colours = pos.board_array()
        capture, self_atari, libs_after, libs, sensible, turns = {}, {}, {}, {}, [], {}
        for v in pos.legal_moves()[:-1]:
            after = pos.play(v)
            stones, chain = chain_libs(after, v)
            capture[v] = min(7, int((colours == 3 - mover).sum() - (after.board_array() == 3 - mover).sum()))
            libs_after[v] = min(8, len(chain))
            if len(chain) <= 1:
                self_atari[v] = min(8, len(stones))
            r, c = coords.gtp_to_row_col(v, 9)
            if not _is_eye(colours, r, c, mover):
                sensible.append(v)
        last_played = {}
        for i, (_colour, v) in enumerate(pos.history):
            last_played[v] = i
        for r, c in zip(*np.nonzero(colours)):
            v = coords.row_col_to_gtp(int(r), int(c))
            libs[v] = min(8, len(chain_libs(pos, v)[1]))
            turns[v] = min(8, len(pos.history) - last_played[v])
        assert decode(planes, CAPTURE, 8, 0) == capture
        assert decode(planes, SELF_ATARI, 8, 1) == self_atari
        assert decode(planes, LIBS_AFTER, 8, 1) == libs_after
        assert decode(planes, LIBS, 8, 1) == libs
        assert decode(planes, TURNS, 8, 1) == turns
        assert vertices(planes[SENSIBLE]) == sorted(sensible)


# the first 50 moves of random_positions(9, 1, 7)'s game, written out so that the position does not hang
# on numpy's Generator stream, which numpy does not promise to keep across versions
GAME_50 = ("E9 F6 B7 J8 J5 H7 D8 H2 E1 F3 E3 H8 B9 A1 C5 B8 B2 J7 A2 A5 A8 G3 B4 C3 C7 B3 J9 H4 D5 E5 B6 H5 B5 H9 "
           "G7 F7 H6 C6 D3 J9 E4 D2 F8 J1 G8 A6 G1 C1 F4 D1").split()


def test_golden_plane_sums():
    """Regression guard (values from this code, checked by the reference tests above): plane sums of a
    recorded 9x9 game after 50 moves, Black to move. Exact: a fixed move list, and planes of 0s and 1s
    that our own board code and kernels compute, with no float arithmetic and no library stream."""
    pos = Position(9)
    for vertex in GAME_50:
        pos = pos.play(vertex)
    assert pos.to_play == "b" and len(pos.history) == 50
    assert F.extract(pos, "lee_value").sum(axis=(1, 2)).astype(int).tolist() == [
        24, 25, 32, 81, 1, 1, 1, 1, 1, 1, 1, 42, 3, 15, 9, 15, 0, 0, 7, 0, 29, 3, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,
        0, 0, 0, 0, 2, 6, 9, 4, 3, 1, 3, 4, 4, 0, 32, 0, 81]
    assert F.extract(pos, "zero").sum(axis=(1, 2)).astype(int).tolist() == [
        24, 25, 24, 24, 23, 24, 23, 23, 22, 23, 22, 22, 21, 22, 21, 21, 81]
