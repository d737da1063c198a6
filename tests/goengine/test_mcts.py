"""Search: tree bookkeeping, tactics it must find, rules it must keep, and the three evaluator modes."""
import numpy as np
import pytest

from goengine import Position, coords
from goengine import _kernels as K
from goengine.board import rng_state
from goengine.mcts import _playout as PL
from goengine.mcts import _tactics as TA
from goengine.mcts import _tree as T
from goengine.mcts.evaluators import MixedEvaluator, RolloutEvaluator, UniformEvaluator
from goengine.mcts.patterns import pattern_table
from goengine.mcts.player import MCTSPlayer, PlayerConfig
from goengine.mcts.rollout_policy import RolloutPolicy
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig
from goengine.players import TimeBudget
from tests.goengine.test_positions import TRIPLE_KO

SMALL = SearchConfig(tree_nodes=200_000, seed=3)

# A capturing race, Black to play. Black's row 4 has one liberty (D5), White's row 3 one (D2): Black D2
# captures seven stones and wins (rows 1-4 against rows 5-7: B+6.5); anything else and White D5 wins.
CAPTURE_TO_WIN = """
    . . . . . . .
    . . . . . . .
    O O O . O O O
    X X X X X X X
    O O O O O O O
    X X X . X X X
    . . . . . . .
"""


def search(position, evaluator=None, sims=2000, config=SMALL):
    s = Search(evaluator or RolloutEvaluator(), config)
    s.set_root(position)
    s.run(sims=sims)
    return s


@pytest.mark.parametrize("heavy", [True, False])
def test_visits_add_up(heavy):
    s = search(Position(9), RolloutEvaluator(heavy=heavy), sims=1500)
    kids = s.children()
    assert s.nodes[0]["visits"] == 1500
    assert kids["visits"].sum() == 1500
    # every expanded node's children sum to its visits minus the one simulation that stopped at it
    used = int(s.tree_meta[0])
    for i in range(1, used):
        node = s.nodes[i]
        if node["first_child"] >= 0:
            total = s.nodes[node["first_child"]:node["first_child"] + node["n_children"]]["visits"].sum()
            assert node["visits"] - 2 <= total <= node["visits"]


@pytest.mark.parametrize("evaluator", [RolloutEvaluator(True), RolloutEvaluator(False),
                                       RolloutEvaluator(policy=RolloutPolicy()),
                                       MixedEvaluator(UniformEvaluator(), 1.0),
                                       MixedEvaluator(UniformEvaluator(), 1.0, policy=RolloutPolicy())],
                         ids=["heavy", "light", "p_pi", "mixed", "mixed_p_pi"])
def test_finds_the_capture_that_wins(evaluator):
    pos = Position.from_ascii(CAPTURE_TO_WIN, komi=0.5)
    s = search(pos, evaluator, sims=3000)
    best = s.best_child()
    assert s.principal_variation(best)[0] == "D2"
    assert s.winrate(best) > 0.7


def test_never_fills_its_own_eyes():
    # A7, C7, A5 and C5 are Black's eyes; Black has other moves on the right.
    pos = Position.from_ascii("""
        . X . X O . .
        X X X X O . .
        . X . X O . .
        X X X X O . .
        O O O O O . .
        . . . . . . .
        . . . . . . .
    """, to_play="b")
    s = search(pos, sims=300)
    moves = {s.principal_variation(int(s.nodes[0]["first_child"]) + i, 1)[0] for i in range(len(s.children()))}
    assert moves.isdisjoint({"A7", "C7", "A5", "C5"})
    assert {"pass", "F4", "G1"} <= moves


def test_tree_reuse_keeps_the_subtree():
    pos = Position(9)
    s = search(pos, sims=3000)
    best = s.best_child()
    move = s.principal_variation(best)[0]
    reply_node = s.principal_variation(best, 2)
    visits_before = int(s.nodes[best]["visits"])
    s.set_root(pos.play(move))
    assert int(s.nodes[0]["visits"]) == visits_before
    if len(reply_node) == 2:
        s.set_root(pos.play(move).play(reply_node[1]))
        assert s.nodes[0]["visits"] > 0
    s.set_root(Position(9).play("A1"))  # unrelated: a fresh tree
    assert int(s.nodes[0]["visits"]) == 0


def test_superko_is_respected_at_the_root():
    pos = Position.from_ascii(TRIPLE_KO, rules="chinese")
    for m in ["C8", "G8", "C2", "B8", "H8"]:
        pos = pos.play(m)
    assert not pos.is_legal("B2")  # the sixth capture would repeat the start
    s = search(pos, sims=500)
    moves = {s.principal_variation(int(s.nodes[0]["first_child"]) + i, 1)[0] for i in range(len(s.children()))}
    assert "B2" not in moves and "E5" in moves
    player = MCTSPlayer(PlayerConfig(playouts=400), SMALL)
    assert player.genmove(pos, "w") != "B2"


def test_a_reused_tree_bans_the_child_superko_forbids_at_the_new_root():
    """Below the root the tree knows simple ko only, so B2 (the capture that would repeat the start of a
    triple ko) is a child of H8 in the old tree; once H8 is played it must never be chosen."""
    pos = Position.from_ascii(TRIPLE_KO, rules="chinese")
    for m in ["C8", "G8", "C2", "B8"]:
        pos = pos.play(m)
    s = search(pos, sims=4000)
    after = pos.play("H8")
    s.set_root(after)
    assert not after.is_legal("B2") and int(s.nodes[0]["visits"]) > 0  # the subtree was kept
    kids = s.children()
    banned = kids[kids["move"] == coords.gtp_to_point("B2", 9)]
    assert len(banned) == 1 and banned["visits"][0] == -1 and banned["n"][0] > 1e9
    assert (kids["visits"][kids["move"] != coords.gtp_to_point("B2", 9)] >= 0).all()
    s.run(sims=300)
    assert s.principal_variation(s.chosen_child(), 1) != ["B2"]


def test_passes_when_passing_wins_and_resigns_when_lost():
    # White has passed. Black: 5 stones + the A and B columns = 15; White: 5 stones + the E column = 10.
    board = """
        . . X O .
        . . X O .
        . . X O .
        . . X O .
        . . X O .
    """
    pos = Position.from_ascii(board, komi=0.5, to_play="w").play("pass")
    player = MCTSPlayer(PlayerConfig(playouts=200), SMALL)
    assert player.genmove(pos, "b") == "pass"
    assert player.last_search["reason"] == "passing wins by area score"
    # with komi 9.5 White is ahead: passing would lose, so Black searches instead of passing at once
    behind = Position.from_ascii(board, komi=9.5, to_play="w").play("pass")
    player = MCTSPlayer(PlayerConfig(playouts=200, resign_threshold=0), SMALL)
    player.genmove(behind, "b")
    assert "reason" not in player.last_search and 0 < player.last_search["sims"] <= 200
    lost = Position.from_ascii("""
        . O . O . O . O .
        O O O O O O O O O
        . O . O . O . O .
        O O O O O O O O O
        . . . . . . . . .
        O O O O O O O O O
        . O . O . O . O .
        O O O O O O O O O
        . O . O . O . O .
    """, komi=7)
    assert MCTSPlayer(PlayerConfig(playouts=600, resign_min_visits=100), SMALL).genmove(lost, "b") == "resign"


def test_dead_stones_from_ownership():
    pos = Position.from_ascii("""
        . . . . . . . . .
        . X X X X X X X .
        . X . . . . . X .
        . X . O . . . X .
        . X . . . . . X .
        . X . . . O . X .
        . X . . . . . X .
        . X X X X X X X .
        . . . . . . . . .
    """, komi=7)
    dead = MCTSPlayer(PlayerConfig(dead_playouts=300), SMALL).dead_stones(pos)
    assert sorted(dead) == ["D6", "F4"]


def test_puct_follows_the_priors_of_a_batch_evaluator():
    class PreferE5(UniformEvaluator):
        def evaluate(self, batch):
            priors, values = super().evaluate(batch)
            priors[:, 4 * 9 + 4] += 5.0  # E5
            return priors / priors.sum(axis=1, keepdims=True), values

    s = search(Position(9), PreferE5(), sims=200)
    assert s.principal_variation(s.best_child())[0] == "E5"
    assert int(s.nodes[0]["visits"]) == 200
    assert int(s.nodes[0]["vloss"]) == 0 and int(s.children()["vloss"].sum()) == 0


def test_dirichlet_noise_keeps_priors_a_distribution():
    s = search(Position(9), UniformEvaluator(), sims=8)
    s.add_dirichlet_noise(0.03 * 361 / 81, 0.25, np.random.default_rng(0))
    priors = s.children()["prior"]
    assert abs(priors.sum() - 1) < 1e-4 and priors.std() > 0


def test_genmove_respects_the_time_budget():
    import time
    player = MCTSPlayer(PlayerConfig(), SMALL)
    pos = Position(9)
    player.genmove(pos, "b", TimeBudget(playouts=50))  # compile outside the timing
    start = time.perf_counter()
    player.genmove(pos, "b", TimeBudget(seconds=0.3))
    assert time.perf_counter() - start < 1.5


def test_heavy_policy_captures_and_escapes():
    cand = np.empty(PL.MAX_CANDIDATES, dtype=np.int32)
    pattern = pattern_table()

    def heavy_choice(pos, before_last="pass", seed=5):
        b = pos.board
        g = b.geo
        n = PL.tactical_candidates(b.s, b.meta, g.neighbours, b.to_play, b.last_move, cand)
        move = PL.choose_heavy(b.s, b.meta, g.neighbours, g.diagonals, g.width, pattern, rng_state(seed), cand,
                               coords.gtp_to_point(before_last, pos.size))
        return n, coords.point_to_gtp(move, pos.size)

    # White walks into atari at B3 (its only liberty C3): Black captures.
    capture = Position.from_ascii("""
        . . . . .
        . X . . .
        X . . . .
        . X . . .
        . . . . .
    """, to_play="w").play("B3")
    assert heavy_choice(capture) == (1, "C3")
    # White C2 puts Black C3 in atari (liberty D3, which gives three liberties): Black escapes.
    escape = Position.from_ascii("""
        . . . . .
        . . O . .
        . O X . .
        . . . . .
        . . . . .
    """, to_play="w").play("C2")
    assert heavy_choice(escape) == (1, "D3")
    # Same, but D3 leads nowhere (one liberty after extending): no tactical move is offered.
    ladder = Position.from_ascii("""
        . . . . .
        . . O O .
        . O X . O
        . . . O .
        . . . . .
    """, to_play="w").play("C2")
    assert heavy_choice(ladder)[0] == 0
    # Black C3 ataris White C4 and White plays elsewhere: nothing is in atari next to White's G7, but the
    # playout still looks round Black's own last move and captures at D4 (michi looks at the last two).
    tenuki = Position.from_ascii("""
        . . . . . . .
        . . . . . . .
        . . X . . . .
        . X O . . . .
        . . . . . . .
        . . . . . . .
        . . . . . . .
    """, to_play="b").play("C3").play("G7")
    assert heavy_choice(tenuki, before_last="C3") == (0, "D4")
    # without the move before last the reply is not tactical: D4 is one of many
    assert any(heavy_choice(tenuki, seed=seed)[1] != "D4" for seed in range(20))


LADDER_START = """
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . . . . . . .
    . . . O . . . . .
    . . O X . . . . .
    . . . . O . . . .
    . . . . . . . . .
    . . . . . . . . .
"""


def _escape_holds(pos, vertex):
    b = pos.board
    g = b.geo
    lad_s, lad_meta = TA.ladder_stack(b.s, g.width)
    before = b.s.copy()
    holds = TA.escape_holds(b.s, b.meta, g.neighbours, g.zobrist, coords.gtp_to_point(vertex, pos.size), b.to_play,
                            lad_s, lad_meta)
    assert np.array_equal(before, b.s), "reading must not touch the board"
    return bool(holds)


def _ladder_atari(pos, vertex, chain):
    b = pos.board
    g = b.geo
    lad_s, lad_meta = TA.ladder_stack(b.s, g.width)
    h = b.s[K.HEAD, coords.gtp_to_point(chain, pos.size)]
    return bool(TA.ladder_atari(b.s, b.meta, g.neighbours, g.zobrist, coords.gtp_to_point(vertex, pos.size), h,
                                b.to_play, lad_s, lad_meta))


def _pseudo_wins(search, vertex):
    """Prior pseudo-wins given to the root child `vertex` at expansion."""
    point = coords.gtp_to_point(vertex, search.position.size)
    child = next(c for c in search.children() if c["move"] == point)
    return float(child["w"] - child["wins"])


def test_priors_do_not_reward_running_out_of_a_ladder():
    # White E4 ataris Black D4; extending at D3 leaves two liberties (C3, D2) and the ladder runs to the
    # lower-left corner: the escape does not hold...
    ladder = Position.from_ascii(LADDER_START, to_play="w").play("E4")
    assert not _escape_holds(ladder, "D3")
    # ...unless a Black stone on B2 breaks the ladder
    broken = Position.from_ascii(LADDER_START, to_play="w").with_stones(black=["B2"]).play("E4")
    assert _escape_holds(broken, "D3")
    # the tree's priors follow: D3 gets the tactical bonus only where the escape holds
    config = SearchConfig(seed=1, tree_nodes=20_000)
    found = {}
    for name, pos in (("ladder", ladder), ("broken", broken)):
        search = Search(config=config)
        search.set_root(pos)
        search.run(sims=1)
        found[name] = _pseudo_wins(search, "D3")
    assert found["broken"] - found["ladder"] == pytest.approx(config.prior_capture)


def test_priors_reward_an_atari_that_starts_a_working_ladder():
    # White D4 has two liberties (D3, E4) between Black C4, D5, E3: either atari sends it down a ladder
    start = Position.from_ascii("""
        . . . . . . . . .
        . . . . . . . . .
        . . . . . . . . .
        . . . . . . . . .
        . . . X . . . . .
        . . X . . . . . .
        . . . . X . . . .
        . . . . . . . . .
        . . . . . . . . .
    """, to_play="w")
    attack = start.play("D4")
    assert _ladder_atari(attack, "E4", "D4") and _ladder_atari(attack, "D3", "D4")
    # a White stone on B2 breaks the ladder to the lower left (after E4, D3); the other still works
    guarded = start.with_stones(white=["B2"]).play("D4")
    assert not _ladder_atari(guarded, "E4", "D4") and _ladder_atari(guarded, "D3", "D4")
    # an atari on a chain with three free points beyond its other liberty fails without reading
    open_board = Position(9).play("E5").play("E6")
    assert not _ladder_atari(open_board, "D6", "E6")


def test_pattern_table_is_symmetric_and_selective():
    table = pattern_table()
    assert 0.01 < table.mean() < 0.5
    # colour swap symmetry: swapping black (1) and white (2) in every neighbour keeps the match
    swap = np.array([0, 2, 1, 3])
    codes = np.arange(1 << 16)
    digits = [(codes >> (2 * i)) & 3 for i in range(8)]
    swapped = sum(swap[d] << (2 * i) for i, d in enumerate(digits))
    assert np.array_equal(table, table[swapped])
    # rotation by 90 degrees moves every neighbour two places round the ring N NE E SE S SW W NW
    rotated = sum(d << (2 * ((i + 2) % 8)) for i, d in enumerate(digits))
    assert np.array_equal(table, table[rotated])


def test_genmove_analyze_reports_growing_visits_then_moves():
    reports = []
    player = MCTSPlayer(PlayerConfig(), SMALL)
    move = player.genmove_analyze(Position(9), "b", TimeBudget(playouts=3000),
                                  lambda candidates: reports.append(candidates) or True, 0.02)
    assert move in Position(9).legal_moves()
    totals = [sum(m.visits for m in r) for r in reports]
    assert len(totals) >= 2 and totals == sorted(totals) and totals[-1] <= 3000


def test_a_game_drawn_by_the_count_backs_up_half_a_win():
    """A leaf where both players have passed backs up its area score; a draw (integer komi) is half a win,
    as the net's value target counts it, not a loss for one side."""
    class PassAndSideToMoveWins(UniformEvaluator):
        def evaluate(self, batch):
            priors, values = super().evaluate(batch)
            priors[:, -1] += 5.0
            return priors / priors.sum(axis=1, keepdims=True), np.ones_like(values)

    s = search(Position(5, komi=0).play("pass"), PassAndSideToMoveWins(), sims=60)  # an empty board counts 0 to 0
    kids = s.children()
    passed = kids[kids["move"] == K.PASS][0]
    assert passed["visits"] > 10
    assert passed["w"] / passed["visits"] == 0.5


def test_a_drawn_playout_backs_up_half_a_win_to_both_sides():
    """UCT-RAVE's backup of a playout that ends exactly at komi: half a win in N/W and in AMAF, for the
    player of every node on the path (it used to be a White win, so White could not tell it from one)."""
    assert [T.playout_result(score, 7.0) for score in (8.0, 6.0, 7.0)] == [1.0, 0.0, 0.5]
    pos = Position(5, komi=0)
    s = search(pos, sims=50)
    child = int(s.nodes[0]["first_child"])
    sibling = child + 1
    before = s.nodes[[0, child, sibling]].copy()
    moves = np.array([s.nodes[child]["move"], s.nodes[sibling]["move"]], dtype=np.int32)  # Black, then White
    T.amaf_backup(s.nodes, np.array([0, child], dtype=np.int32), 2, moves, 2,
                  np.zeros(pos._board.geo.n_points, dtype=np.int8), K.BLACK, 0.5)
    after = s.nodes[[0, child, sibling]]
    assert list(after["visits"] - before["visits"]) == [1, 1, 0]
    assert list(after["w"] - before["w"]) == [0.5, 0.5, 0.0]
    # AMAF: the child's move was Black's (half a win); the sibling's point was played by White, not Black
    assert list(after["amaf_n"][1:] - before["amaf_n"][1:]) == [1.0, 0.0]
    assert list(after["amaf_w"][1:] - before["amaf_w"][1:]) == [0.5, 0.0]
