"""Linear dynamic komi (goengine/mcts/player.py, `goengine gtp --dynkomi MOVES`): the handicap is read from
the position as set up, the extra komi falls linearly to 0, and the playouts count it: White giving three
stones sees a better game, Black receiving them a harder one, and neither resigns while it is on."""
from __future__ import annotations

import pytest

from goengine.mcts.player import HANDICAP_VALUE, MCTSPlayer, PlayerConfig, dynamic_komi, handicap_stones
from goengine.mcts.search_config import SearchConfig
from goengine.position import Position


def test_the_handicap_is_the_set_up_black_stones_before_whites_first_move():
    three = Position(9, 0.5).with_handicap(3)
    assert handicap_stones(three) == 3 and handicap_stones(three.play("E5").play("D4")) == 3
    assert handicap_stones(Position(9, 7.0)) == 0 and handicap_stones(Position(9, 7.0).play("E5")) == 0
    # stones set up for both colours (a problem, not a handicap) are no handicap
    assert handicap_stones(Position(9, 7.0).with_stones(black=["C3", "G7"], white=["E5"], to_play="w")) == 0


@pytest.mark.parametrize("moves_played, expected_share", [(0, 1.0), (5, 0.75), (10, 0.5), (20, 0.0), (30, 0.0)])
def test_the_extra_komi_falls_linearly_to_zero(moves_played, expected_share):
    position = Position(9, 0.5).with_handicap(2)
    free = [v for v in (f"{c}{r}" for r in range(1, 10) for c in "ABCDEFGHJ") if v not in ("C3", "G7", "C7", "G3")]
    for vertex in free[:moves_played]:
        position = position.play(vertex)
    assert dynamic_komi(position, 20) == pytest.approx(HANDICAP_VALUE * 2 * expected_share)
    assert dynamic_komi(position, 0) == 0.0


def winrate_and_offset(colour: str, dynkomi: int) -> tuple[float, float]:
    position = Position(9, 0.5).with_handicap(3)
    if colour == "b":
        position = position.play("E5")
    player = MCTSPlayer(PlayerConfig(playouts=3000, dynkomi_moves=dynkomi, resign_threshold=0.99),
                        SearchConfig(tree_nodes=100_000, seed=5))
    move = player.genmove(position, colour)
    assert move != "resign" or dynkomi == 0
    return player.search.root_winrate(), player.last_search.get("komi_offset", 0.0)


def test_the_playouts_count_the_extra_komi():
    white_plain, offset = winrate_and_offset("w", 0)
    white_dyn, white_offset = winrate_and_offset("w", 40)
    assert offset == 0.0 and white_offset == pytest.approx(21.0)
    assert white_dyn > white_plain + 0.1  # three stones down, 21 points of komi make it a game
    black_plain, _ = winrate_and_offset("b", 0)
    black_dyn, black_offset = winrate_and_offset("b", 40)
    assert black_offset == pytest.approx(21.0 * (1 - 1 / 40))
    assert black_dyn < black_plain - 0.1  # three stones up, the same komi asks for a margin
