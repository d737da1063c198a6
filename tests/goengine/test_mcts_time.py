"""Time management of MCTSPlayer: early stop when the choice is decided, and the bank of saved seconds
for a mean-per-move budget (goengine/mcts/player.py). Bounds are loose: the machine may be loaded."""
import time

from goengine import Position
from goengine.mcts.player import MCTSPlayer, PlayerConfig
from goengine.mcts.search_config import SearchConfig
from goengine.players import TimeBudget

# White's nine stones on the F line are in atari at G9: capturing them decides the game
FORCED = """
    . . . . X O . . .
    . . . . X O X . .
    . . . . X O X . .
    . . . . X O X . .
    . . . . X O X . .
    . . . . X O X . .
    . . . . X O X . .
    . . . . X O X . .
    . . . . X O X . .
"""


def _player(**kw):
    return MCTSPlayer(PlayerConfig(resign_threshold=0, **kw), SearchConfig(seed=3, tree_nodes=200_000))


def test_a_decided_move_stops_early_and_banks_the_rest():
    pos = Position.from_ascii(FORCED, komi=7, to_play="b")
    player = _player()
    player.genmove(pos, "b", TimeBudget(playouts=100))  # compile outside the timing
    player = _player()
    start = time.perf_counter()
    move = player.genmove(pos, "b", TimeBudget(seconds=2.0, bankable=True))
    took = time.perf_counter() - start
    assert move == "G9"
    assert took < 1.5, f"a forced move took {took:.2f}s of 2s"
    assert player.bank_s > 0.5
    # the same search without early stop uses its whole share
    slow = _player(early_stop=False)
    start = time.perf_counter()
    slow.genmove(pos, "b", TimeBudget(seconds=1.0, bankable=True))
    assert time.perf_counter() - start > 0.9


def test_an_open_move_draws_on_the_bank_and_a_clock_budget_never_does():
    empty = Position(9, 7.0)
    player = _player(bank_max=2.0)
    player.genmove(empty, "b", TimeBudget(playouts=100))
    first = empty.play("E5")
    player.genmove(first, "w", TimeBudget(seconds=0.05, bankable=True))  # starts this game's bank
    player.bank_s = 5.0
    start = time.perf_counter()
    player.genmove(first.play("C3"), "w", TimeBudget(seconds=0.2, bankable=True))
    took = time.perf_counter() - start
    # an early 9x9 move is open: it runs past its 0.2 s share, up to 0.2 * (1 + 2) from the bank
    assert 0.25 < took < 1.2, took
    assert 5.0 - (took - 0.2) - 0.1 < player.bank_s < 5.0
    # a clock's budget (not bankable) is a hard limit
    start = time.perf_counter()
    player.genmove(first.play("C3").play("G7"), "w", TimeBudget(seconds=0.2))
    assert time.perf_counter() - start < 0.45


def test_the_bank_is_emptied_for_a_new_game():
    player = _player()
    pos = Position(9, 7.0).play("E5")
    player.genmove(pos, "w", TimeBudget(playouts=50))
    player.genmove(pos, "w", TimeBudget(seconds=0.05, bankable=True))
    player.bank_s = 3.0
    other = Position(9, 7.0).play("C3")  # not a continuation of the game the bank belongs to
    start = time.perf_counter()
    player.genmove(other, "w", TimeBudget(seconds=0.1, bankable=True))
    assert time.perf_counter() - start < 0.4
    assert player.bank_s < 0.2


def test_a_clock_caps_the_bank_and_gtp_seconds_stay_a_mean():
    from goengine.gtp.clock import TimeControl
    from goengine.gtp.handlers import GoHandlers
    from goengine.players import RandomPlayer

    handlers = GoHandlers(RandomPlayer(0), size=9, komi=7, seconds=0.5)
    pos = handlers.position
    assert handlers._budget("b", pos) == TimeBudget(seconds=0.5, bankable=True, limit_s=None)
    # a referee's 10 s per move (time_settings 0 10 1): still a mean of 0.5 s, never more than the clock's share
    handlers.clock.set_control(TimeControl.from_gtp(0, 10, 1))
    budget = handlers._budget("b", pos)
    assert budget.seconds == 0.5 and budget.bankable and 5 < budget.limit_s < 10
    # without --seconds, the clock's share is a hard budget
    plain = GoHandlers(RandomPlayer(0), size=9, komi=7)
    plain.clock.set_control(TimeControl.from_gtp(60, 0, 0))
    assert not plain._budget("b", pos).bankable

    player = _player(bank_max=2.0)
    first = Position(9, 7.0).play("E5")
    player.genmove(first, "w", TimeBudget(seconds=0.05, bankable=True))
    player.bank_s = 5.0
    start = time.perf_counter()
    player.genmove(first.play("C3"), "w", TimeBudget(seconds=0.2, bankable=True, limit_s=0.25))
    assert time.perf_counter() - start < 0.45
