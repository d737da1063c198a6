"""Known positions as ASCII diagrams (top row first; X black, O white): captures, ko, superko,
suicide, scoring. Each expectation is worked out by hand in the comment beside it."""
import numpy as np
import pytest

from goengine import IllegalMove, Position
from goengine.diagram import parse


def setup(diagram_text: str, rules="chinese", to_play="b", komi=0.0) -> Position:
    return Position.from_ascii(diagram_text, komi=komi, rules=rules, to_play=to_play)


def play(pos: Position, *moves) -> Position:
    for m in moves:
        pos = pos.play(m)
    return pos


def assert_board(pos: Position, diagram_text: str):
    assert np.array_equal(pos.board_array(), parse(diagram_text)), f"\n{pos}\nexpected\n{diagram_text}"


def test_single_stone_capture_in_the_centre():
    pos = play(setup("""
        . . . . .
        . . X . .
        . X O . .
        . . X . .
        . . . . .
    """), "D3")
    assert_board(pos, """
        . . . . .
        . . X . .
        . X . X .
        . . X . .
        . . . . .
    """)
    assert pos.captures == {"b": 1, "w": 0}


def test_multi_stone_capture_on_the_edge():
    # White A1 B1 C1: A2 B2 C2 are black, so the last liberty is D1.
    pos = play(setup("""
        . . . . .
        . . . . .
        . . . . .
        X X X . .
        O O O . .
    """), "D1")
    assert_board(pos, """
        . . . . .
        . . . . .
        . . . . .
        X X X . .
        . . . X .
    """)
    assert pos.captures == {"b": 3, "w": 0}
    assert pos.ko is None


def test_corner_capture():
    # White A1 touches A2 and B1 only.
    pos = play(setup("""
        . . .
        . . .
        O X .
    """), "A2")
    assert_board(pos, """
        . . .
        X . .
        . X .
    """)
    assert pos.captures == {"b": 1, "w": 0}


def test_setup_without_liberties_is_refused():
    with pytest.raises(ValueError, match="without liberties"):
        setup("""
            . . .
            X . .
            O X .
        """)


def test_chain_merge_counts_shared_liberties_once():
    pos = play(setup("""
        . . . . .
        . . . . .
        . X . X .
        . . . . .
        . . . . .
    """), "C3")
    # B3 C3 D3: liberties A3 E3 B2 C2 D2 B4 C4 D4 = 8
    assert pos.liberties("B3") == pos.liberties("D3") == 8
    # merging two chains that share liberties: B3-C3-D3 and C5 via C4 -> C4 liberties counted once
    pos = play(pos, "pass", "C5", "pass", "C4")
    # chain B3 C3 D3 C4 C5: A3 E3 B2 C2 D2 B4 D4 B5 D5 = 9
    assert pos.liberties("C5") == 9


SNAPBACK = """
    . . . . .
    . . . . .
    X X . . .
    O O X . .
    . . X . .
"""


def test_snapback():
    # White A2 B2 has liberties A1 and B1. Black throws in at A1 (one liberty: B1); White captures it
    # at B1, leaving White A2 B2 B1 with the single liberty A1; Black takes all three.
    pos = play(setup(SNAPBACK), "A1", "B1")
    assert pos.captures == {"b": 0, "w": 1}
    assert pos.liberties("B1") == 1
    pos = pos.play("A1")  # not a ko: White's capturing stone is part of a three-stone chain
    assert pos.captures == {"b": 3, "w": 1}
    assert_board(pos, """
        . . . . .
        . . . . .
        X X . . .
        . . X . .
        X . X . .
    """)


KO = """
    . . . . .
    . X O . .
    X O . O .
    . X O . .
    . . . . .
"""


def test_ko_recapture_is_banned_until_a_threat_is_answered():
    # White B3 has one liberty, C3; Black C3 takes it and is left with the single liberty B3: a ko.
    pos = play(setup(KO), "C3")
    assert pos.captures["b"] == 1 and pos.ko == "B3"
    with pytest.raises(IllegalMove, match="ko"):
        pos.play("B3")
    assert not pos.is_legal("B3") and "B3" not in pos.legal_moves()
    pos = play(pos, "E5", "E1", "B3")  # threat, answer, retake
    assert pos.captures["w"] == 1 and pos.ko == "C3"


def test_capturing_two_stones_makes_no_ko():
    # White B4 B3 have liberties C4 and C3. Black C4 then C3 captures both; C3 is left with liberties.
    pos = play(setup("""
        . X O . .
        X O . O .
        X O . O .
        . X O . .
        . . . . .
    """), "C4", "pass", "C3")
    assert pos.captures["b"] == 2
    assert pos.ko is None


SUICIDE = """
    . O . . .
    O . O . .
    . O . . .
    . . . . .
    . . . . .
"""


def test_single_stone_suicide():
    with pytest.raises(IllegalMove, match="suicide"):
        setup(SUICIDE).play("B4")
    # Tromp-Taylor allows suicide, but a lone stone's suicide recreates the position: superko.
    with pytest.raises(IllegalMove, match="superko"):
        setup(SUICIDE, rules="tromp-taylor").play("B4")
    # Simple ko only (GNU Go's --allow-all-suicide --simple-ko): the suicide is a legal non-move.
    from goengine.rules import Rules
    pos = setup(SUICIDE, rules=Rules("simple", True, "test")).play("B4")
    assert pos.colour_at("B4") is None and pos.captures == {"b": 0, "w": 1}


MULTI_SUICIDE = """
    . X O . .
    X . O . .
    O O . . .
    . . . . .
    . . . . .
"""


def test_multi_stone_suicide_in_both_rule_settings():
    # Black B4 joins B5 and A4 into a chain with the single liberty A5; Black A5 then fills it.
    pos = play(setup(MULTI_SUICIDE, rules="tromp-taylor"), "B4", "pass")
    assert pos.liberties("B4") == 1
    pos = pos.play("A5")
    assert pos.captures == {"b": 0, "w": 4}
    assert_board(pos, """
        . . O . .
        . . O . .
        O O . . .
        . . . . .
        . . . . .
    """)
    with pytest.raises(IllegalMove, match="suicide"):
        play(setup(MULTI_SUICIDE), "B4", "pass", "A5")
    pos = play(setup(MULTI_SUICIDE, rules="new-zealand"), "B4", "pass", "A5")
    assert pos.captures["w"] == 4


# Three kos. A (C8/B8) and C (C2/B2): Black may capture. B (G8/H8): White may capture.
TRIPLE_KO = """
    . X O . . . X O .
    X O . O . X . X O
    . X O . . . X O .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . X O . . . . . .
    X O . O . . . . .
    . X O . . . . . .
"""
CYCLE = ["C8", "G8", "C2", "B8", "H8", "B2"]  # each captures one stone; never the ko just taken


def test_triple_ko_cycle_repeats_under_simple_ko():
    start = setup(TRIPLE_KO, rules="japanese")
    pos = play(start, *CYCLE)
    assert pos.captures == {"b": 3, "w": 3}
    assert np.array_equal(pos.board_array(), start.board_array()) and pos.to_play == "b"
    pos = play(pos, *CYCLE)  # and again: simple ko never stops it
    assert pos.captures == {"b": 6, "w": 6}


def test_triple_ko_cycle_is_stopped_by_superko():
    for rules in ("chinese", "tromp-taylor", "new-zealand", "aga"):
        pos = play(setup(TRIPLE_KO, rules=rules), *CYCLE[:-1])
        # the sixth capture would recreate the starting position (with Black to move: both superkos)
        with pytest.raises(IllegalMove, match="superko"):
            pos.play(CYCLE[-1])
        assert CYCLE[-1] not in pos.legal_moves()
        assert pos.is_legal("E5")


def test_situational_superko_allows_a_repeat_with_the_other_side_to_move():
    # Black takes A, White takes B, Black passes, White retakes A: Black's retake of B now recreates the
    # starting board, but with White to move where the start had Black to move.
    pos0 = setup(TRIPLE_KO)
    for rules, legal in (("chinese", False), ("tromp-taylor", False), ("new-zealand", True),
                         ("aga", True), ("japanese", True)):
        pos = play(setup(TRIPLE_KO, rules=rules), "C8", "G8", "pass", "B8")
        assert pos.is_legal("H8") == legal, rules
        if legal:
            assert np.array_equal(pos.play("H8").board_array(), pos0.board_array())
        else:
            with pytest.raises(IllegalMove, match="superko"):
                pos.play("H8")


SEKI = """
    X X X X X
    X X . X X
    X O O . X
    X X O O X
    X O O O X
"""


def test_seki_points_are_dame():
    pos = setup(SEKI)
    # Both colours' only liberties are C4 and D3: filling either is self-atari for either colour.
    for move in ("C4", "D3"):
        for colour in ("b", "w"):
            assert pos.play(move, colour=colour).liberties(move) == 1
    # Tromp-Taylor: 16 black stones, 7 white, the two shared liberties reach both colours.
    assert pos.area() == 16 - 7
    assert setup(SEKI, komi=7.5).result() == "B+1.5"


def test_dame_and_territory():
    pos = setup("""
        . X O . .
        . X O . .
        X X O . .
        . X O O O
        . X O . .
    """, komi=0)
    # Black: 6 stones (B5 B4 A3 B3 B2 B1) + A5 A4 A2 A1 = 10;
    # White: 7 stones (C5 C4 C3 C2 D2 E2 C1) + D5 E5 D4 E4 D3 E3 + D1 E1 = 15.
    assert pos.area() == 10 - 15
    assert pos.result() == "W+5"
    dame = setup("""
        X . O
        X . O
        X . O
    """, komi=0)
    assert dame.area() == 0 and dame.result() == "0"  # the middle column reaches both: dame


def test_two_passes_end_the_game_and_resignation():
    pos = play(Position(9), "E5", "pass", "pass")
    assert pos.is_over
    with pytest.raises(IllegalMove, match="game over"):
        pos.play("D4")
    assert pos.legal_moves() == []
    assert pos.result() == "B+74"  # the whole board, 81, minus komi 7
    assert Position(9).resign().result() == "W+R"
    assert Position(9).play("E5").resign().result() == "B+R"


def test_messages_name_move_colour_and_reason():
    pos = Position(9).play("E5", colour="w")
    assert pos.colour_at("E5") == "w" and pos.to_play == "b"
    with pytest.raises(IllegalMove) as err:
        pos.play("e5")
    assert str(err.value) == "illegal move E5 by black: occupied"
    assert err.value.reason == "occupied" and isinstance(err.value, ValueError)
    with pytest.raises(IllegalMove, match="K10 by black: off the board"):
        pos.play("K10")
    with pytest.raises(IllegalMove, match="not a move"):
        pos.play("I5")  # GTP has no column I
    with pytest.raises(IllegalMove, match="not a move"):
        pos.play("hello")


def test_bad_construction_arguments():
    with pytest.raises(ValueError, match="out of range"):
        Position(size=26)
    with pytest.raises(ValueError, match="out of range"):
        Position(size=1)
    with pytest.raises(ValueError, match="not an integer"):
        Position(size="nine")
    with pytest.raises(ValueError, match="komi 'seven' is not a number"):
        Position(komi="seven")
    with pytest.raises(ValueError, match="unknown rules"):
        Position(rules="klingon")
    assert Position(size=25).legal_moves()[-2] == "Z25"
    assert Position(size=2).size == 2


def test_handicap_and_pickling():
    import pickle
    pos = Position(19).with_handicap(4)
    assert pos.to_play == "w" and pos.stone_count() == 4
    assert {pos.colour_at(v) for v in ("D4", "Q16", "D16", "Q4")} == {"b"}
    again = pickle.loads(pickle.dumps(pos.play("K10")))
    assert again.history == (("w", "K10"),) and again.hash == pos.play("K10").hash
    free = Position(9).with_handicap(3, free=["C3", "G7", "E5"])
    assert free.stone_count() == 3 and free.to_play == "w"
