"""When the search may pass: a pass that loses by the count of the board as it stands gives way to a
move, unless only own eyes are left to fill (Search.chosen_child, used by self-play, the arena and
genmove)."""
import numpy as np
import pytest

from goengine import Position, coords
from goengine.mcts.search import Search
from goengine.mcts.search_config import SearchConfig


class PassLovingEvaluator:
    """Priors that put 90% on the pass, values of 0.5: a fast search then visits the pass most."""

    kind = "batch"
    history_length = 1

    def evaluate(self, batch):
        legal = batch.legal.astype(np.float32)
        priors = 0.1 * legal / legal[:, :-1].sum(axis=1, keepdims=True).clip(min=1)
        priors[:, -1] = 0.9
        priors[:, :-1] *= legal[:, :-1]
        return priors / priors.sum(axis=1, keepdims=True), np.full(len(legal), 0.5, np.float32)


def chosen(position, sims=24):
    s = Search(PassLovingEvaluator(), SearchConfig(tree_nodes=50_000, batch_size=4))
    s.set_root(position)
    s.run(sims=sims)
    best = s.best_child()
    return (coords.point_to_gtp(int(s.nodes[best]["move"]), position.size),
            coords.point_to_gtp(int(s.nodes[s.chosen_child()]["move"]), position.size))


def test_black_does_not_pass_on_an_empty_board_that_komi_loses():
    most_visited, move = chosen(Position(9, komi=7.0))
    assert most_visited == "pass"
    assert move != "pass"


def test_white_does_not_pass_when_one_black_stone_owns_the_board():
    position = Position(9, komi=7.0).play("E5")
    assert position.score() == 81 - 7  # Tromp-Taylor: the lone stone reaches every empty point
    most_visited, move = chosen(position)
    assert most_visited == "pass" and move != "pass"


def test_a_pass_that_wins_by_the_count_stays():
    position = Position(9, komi=7.0).play("E5").play("pass")  # Black to move, ahead by 74
    assert chosen(position) == ("pass", "pass")


def test_passes_when_only_its_own_eyes_are_left():
    # Black (10 points) loses to White (15): its only legal moves fill its own eyes A5 and A1
    position = Position.from_ascii("""
        . X O . O
        X X O O O
        X X O . O
        X X O O O
        . X O . O
    """, komi=0.5, to_play="b")
    assert position.score() < 0
    assert sorted(position.legal_moves()) == ["A1", "A5", "pass"]
    assert chosen(position) == ("pass", "pass")


@pytest.mark.parametrize("colour", ["b", "w"])
def test_genmove_plays_on_rather_than_pass_and_lose(colour):
    from goengine.mcts.player import MCTSPlayer, PlayerConfig

    player = MCTSPlayer(PlayerConfig(playouts=24, resign_threshold=0), SearchConfig(tree_nodes=50_000, batch_size=4),
                        evaluator=PassLovingEvaluator())
    position = Position(9, komi=7.0) if colour == "b" else Position(9, komi=7.0).play("E5")
    assert player.genmove(position, colour) != "pass"
