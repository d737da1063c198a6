"""The ladder reader (goengine/features/_ladder.py) and AlphaGo Lee's ladder planes, on positions read by
hand, and against a slow recursive reader written here on top of Position.play."""
import numpy as np
import pytest

from goengine import IllegalMove, Position, coords
from goengine import _kernels as K
from goengine import features as F
from goengine.features._ladder import MAX_NODES, MAX_PLIES, ladder_captured, ladder_work

CAPTURE, ESCAPE = 44, 45  # plane indices of ladder capture / escape in "lee_policy"

# White D4 has two liberties (D5, E4); Black to play. Hand reading:
#   Black E4: White D5 (liberties C5, D6). Black D6 would let White C5, B5 get out (C5 leaves B5, C6;
#   Black C6, White B5 has A5, B4, B6). Black B5 instead: White C6 (B6, C7), Black C7, White B6 (A6, B7),
#   Black B7, White A6 (A5, A7), Black A7 and White is left with A5 only: captured at the left edge.
#   Black D5: White E4 (E3, F4), Black F4, White E3 (E2, F3), Black E2, White F3 (F2, G3), Black G3,
#   White F2 (F1, G2), Black G2, White F1 (E1, G1), Black G1, White E1 (D1), and along the first line
#   White D1 (C1, D2), Black D2, White C1 (B1, C2), Black C2, White B1 (A1, B2), Black B2: captured.
LADDER = """
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . X . . . .
    . . X O . . . . .
    . . . X . . . . .
    . . . . . . . . .
    . . . . . . . . .
"""

# The same with White breakers on both paths: B6 (after E4 D5 D6 C5, Black B5 lets White C6 join B6;
# Black C6 lets White B5 join it; Black C5 instead of D6 leaves White D6 with C6, D7, E6) and F2 (after
# D5 E4 F4 E3, Black E2 lets White F3 join F2; Black F3 lets White E2 join it; Black E3 leaves F4 with
# F5, G4, F3). Neither atari works.
BROKEN = """
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . O . . . . . . .
    . . . . X . . . .
    . . X O . . . . .
    . . . X . . . . .
    . . . . . O . . .
    . . . . . . . . .
"""

# LADDER plus White D7, E6 and Black B5. After Black E4 White D5 (C5, D6), Black's atari at D6 is itself in
# atari (C6 empty; D7, E6, D5 White). Extending at C5 leaves White one liberty (B5, C4 Black), but
# capturing D6 at C6 gives White C5 and D6 back: Black D6 is then suicide, and Black C5 lets White D6
# connect out. Black C5 at once lets White D6 connect. So E4 fails only because of the capture; D5
# still works (the path down and right is unchanged).
ESCAPE_BY_CAPTURE = """
    . . . . . . . . .
    . . . . . . . . .
    . . . O . . . . .
    . . . . O . . . .
    . X . . X . . . .
    . . X O . . . . .
    . . . X . . . . .
    . . . . . . . . .
    . . . . . . . . .
"""

# White to play. White's A2 B2 B1 is in atari (A1); filling A1 is suicide. Black's C2 C1 is in atari too
# (C3): White C3 captures it and White's chain gets A1, C2, C1: three liberties, out of the ladder.
CORNER_ESCAPE = """
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    X X . . . . . . .
    O O X O . . . . .
    . O X O . . . . .
"""

# White B1 on the edge in atari (A1). Extending to A1 leaves A2 only, and neither Black stone around it
# is in atari: captured.
EDGE = """
    . . . . .
    . . . . .
    . . . . .
    . X . . .
    . O X . .
"""
# The same with White C2: Black C1 is now in atari (D1). White D1 captures it, B1 has A1 and C1; Black A1
# lets White C1 connect out, Black C1 is suicide: escaped by capturing.
EDGE_CAPTURE = """
    . . . . .
    . . . . .
    . . . . .
    . X O . .
    . O X . .
"""


def captured(pos, vertex, max_plies=MAX_PLIES):
    b = pos.board
    g = b.geo
    p = coords.gtp_to_point(vertex, pos.size)
    work_s, work_meta = ladder_work(g.n_points, max_plies)
    return ladder_captured(b.s, b.meta, g.neighbours, g.zobrist, p, 3 - int(b.s[K.COLOUR, p]), work_s,
                           work_meta, MAX_NODES)


def plane_vertices(planes, index, size):
    rows, cols = np.nonzero(planes[index])
    return sorted(coords.row_col_to_gtp(int(r), int(c)) for r, c in zip(rows, cols))


def test_working_ladder():
    pos = Position.from_ascii(LADDER)
    assert captured(pos, "D4")  # two liberties: Black moves first
    assert captured(pos.play("E4"), "D4")  # in atari: White moves first
    assert captured(pos.play("D5"), "D4")
    planes = F.extract(pos, "lee_policy")
    assert plane_vertices(planes, CAPTURE, 9) == ["D5", "E4"]
    assert plane_vertices(planes, ESCAPE, 9) == []
    # White to move, with D4 in atari after Black E4: extending at D5 does not escape the ladder
    assert plane_vertices(F.extract(pos.play("E4"), "lee_policy"), ESCAPE, 9) == []


def test_reader_leaves_the_state_alone():
    b = Position.from_ascii(LADDER).board
    g = b.geo
    s0, meta0 = b.s.copy(), b.meta.copy()
    work_s, work_meta = ladder_work(g.n_points)
    assert ladder_captured(b.s, b.meta, g.neighbours, g.zobrist, coords.gtp_to_point("D4", 9), K.BLACK,
                           work_s, work_meta, MAX_NODES)
    assert np.array_equal(b.s, s0) and np.array_equal(b.meta, meta0)


def test_ladder_breakers():
    pos = Position.from_ascii(BROKEN)
    assert not captured(pos, "D4")
    assert not captured(pos.play("E4"), "D4")
    assert plane_vertices(F.extract(pos, "lee_policy"), CAPTURE, 9) == []
    # White, in atari after E4, escapes by extending at D5
    assert plane_vertices(F.extract(pos.play("E4"), "lee_policy"), ESCAPE, 9) == ["D5"]


def test_escape_by_capturing_the_ataring_stone():
    pos = Position.from_ascii(ESCAPE_BY_CAPTURE)
    assert not captured(pos.play("E4"), "D4")
    assert captured(pos.play("D5"), "D4")
    assert plane_vertices(F.extract(pos, "lee_policy"), CAPTURE, 9) == ["D5"]


def test_escape_plane_by_capturing():
    pos = Position.from_ascii(CORNER_ESCAPE, to_play="w")
    planes = F.extract(pos, "lee_policy")
    assert plane_vertices(planes, ESCAPE, 9) == ["C3"]
    assert plane_vertices(planes, CAPTURE, 9) == []  # Black's C2 C1 has one liberty: a capture, not a ladder


def test_edge():
    assert captured(Position.from_ascii(EDGE, to_play="w"), "B1")
    pos = Position.from_ascii(EDGE_CAPTURE, to_play="w")
    assert not captured(pos, "B1")
    assert plane_vertices(F.extract(pos, "lee_policy"), ESCAPE, 5) == ["D1"]


def test_not_a_ladder_question():
    pos = Position.from_ascii(LADDER)
    assert not captured(pos, "C4")  # a Black stone with four liberties
    b = pos.board
    g = b.geo
    work_s, work_meta = ladder_work(g.n_points)
    empty = coords.gtp_to_point("A1", 9)
    assert not ladder_captured(b.s, b.meta, g.neighbours, g.zobrist, empty, K.BLACK, work_s, work_meta, MAX_NODES)


def test_depth_cap():
    # 19x19: White Q4, Black P4, Q3, R5, and a White breaker at S2 on the short path down and right. Black
    # R4 starts a ladder up and left across the board (about 60 plies to the A-edge); Black Q5 runs into S2.
    pos = Position(19).with_stones(black=["P4", "Q3", "R5"], white=["Q4", "S2"])
    assert captured(pos, "Q4")
    assert not captured(pos, "Q4", max_plies=20)  # unread ladders count as not captured
    assert not captured(pos.play("Q5"), "Q4")


# --- a slow reference: the same definitions, recursive, on immutable Positions ---

def chain_libs(pos, vertex):
    colours = pos.board_array()
    n = pos.size
    r0, c0 = coords.gtp_to_row_col(vertex, n)
    colour = colours[r0, c0]
    stack, seen, libs = [(r0, c0)], {(r0, c0)}, set()
    while stack:
        r, c = stack.pop()
        for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= rr < n and 0 <= cc < n and (rr, cc) not in seen:
                if colours[rr, cc] == 0:
                    libs.add(coords.row_col_to_gtp(rr, cc))
                elif colours[rr, cc] == colour:
                    seen.add((rr, cc))
                    stack.append((rr, cc))
    return seen, libs


def _play(pos, move, colour):
    try:
        return pos.play(move, colour)
    except IllegalMove:
        return None


def _ref_escapes(pos, vertex, attacker, plies):
    if plies == 0:
        return True
    stones, libs = chain_libs(pos, vertex)
    moves = set(libs)
    for r, c in stones:
        for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= rr < pos.size and 0 <= cc < pos.size and pos.board_array()[rr, cc] == attacker:
                _, their = chain_libs(pos, coords.row_col_to_gtp(rr, cc))
                if len(their) == 1:
                    moves |= their
    for m in moves:
        nxt = _play(pos, m, "wb"[attacker - 1])
        if nxt is None:
            continue
        n = len(chain_libs(nxt, vertex)[1])
        if n >= 3 or (n == 2 and not _ref_attacks(nxt, vertex, attacker, plies - 1)):
            return True
    return False


def _ref_attacks(pos, vertex, attacker, plies):
    if plies == 0:
        return False
    for m in chain_libs(pos, vertex)[1]:
        nxt = _play(pos, m, "bw"[attacker - 1])
        if nxt is not None and len(chain_libs(nxt, vertex)[1]) == 1 and not _ref_escapes(nxt, vertex, attacker,
                                                                                            plies - 1):
            return True
    return False


def ref_ladder_planes(pos):
    """(capture, escape) sets of vertices for the side to move, by the definitions in features/__init__."""
    mover = 1 if pos.to_play == "b" else 2
    colours = pos.board_array()
    chains, seen = [], set()
    for r in range(pos.size):
        for c in range(pos.size):
            if colours[r, c] and (r, c) not in seen:
                stones, libs = chain_libs(pos, coords.row_col_to_gtp(r, c))
                seen |= stones
                chains.append((int(colours[r, c]), coords.row_col_to_gtp(r, c), stones, libs))
    capture, escape = set(), set()
    for colour, v, stones, libs in chains:
        if colour != mover and len(libs) == 2:
            for m in libs:
                nxt = _play(pos, m, pos.to_play)
                if nxt is not None and len(chain_libs(nxt, v)[1]) == 1 and not _ref_escapes(nxt, v, mover, MAX_PLIES):
                    capture.add(m)
        if colour == mover and len(libs) == 1:
            moves = set(libs)
            for colour2, v2, stones2, libs2 in chains:
                touching = any(abs(r - r2) + abs(c - c2) == 1 for r, c in stones for r2, c2 in stones2)
                if colour2 != mover and len(libs2) == 1 and touching:
                    moves |= libs2
            for m in moves:
                nxt = _play(pos, m, pos.to_play)
                if nxt is None:
                    continue
                n = len(chain_libs(nxt, v)[1])
                if n >= 3 or (n == 2 and not _ref_attacks(nxt, v, 3 - mover, MAX_PLIES)):
                    escape.add(m)
    return capture, escape


def random_positions(size, n, seed, moves_range=(30, 90)):
    """Positions from seeded random games with many chains in atari (captures are likely)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        pos = Position(size)
        for _ in range(int(rng.integers(*moves_range))):
            legal = [m for m in pos.legal_moves() if m != "pass"]
            if not legal:
                break
            pos = pos.play(legal[int(rng.integers(len(legal)))])
        out.append(pos)
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_planes_match_the_reference_reader(seed):
    checked = 0
    for pos in random_positions(9, 20, seed):
        planes = F.extract(pos, "lee_policy")
        capture, escape = ref_ladder_planes(pos)
        assert plane_vertices(planes, CAPTURE, 9) == sorted(capture), str(pos)
        assert plane_vertices(planes, ESCAPE, 9) == sorted(escape), str(pos)
        checked += len(capture) + len(escape)
    assert checked > 5  # the random games did produce ladder questions
