"""`goengine gtp --search KEY=VALUE,...` (and the spec key `search=`) set SearchConfig fields: checked on
what the search then does (a leaf expanded only after a million visits leaves every principal variation one
move long), and bad overrides are one line before anything starts."""
from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from goengine.mcts.search_config import SearchConfig
from goengine.player_registry import add_player_arguments, make_player
from goengine.position import Position
from tests.gtp.test_handlers import parse_lz

GTP = [sys.executable, "-m", "goengine.cli", "gtp", "--playouts", "400", "--seed", "1"]


def last_analysis(*flags: str) -> list[dict]:
    """The last lz-genmove_analyze info line of a 400-playout move on the empty 9x9 board."""
    done = subprocess.run([*GTP, *flags], input="boardsize 9\nlz-genmove_analyze b 1\nquit\n",
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    infos = [line for line in done.stdout.splitlines() if line.startswith("info ")]
    assert infos and any(line.startswith("play ") for line in done.stdout.splitlines()), done.stdout
    return parse_lz(infos[-1])


def test_an_override_changes_the_search():
    default = last_analysis()
    flat = last_analysis("--search", "expand_visits=1000000")
    assert max(len(m["pv"]) for m in default) >= 2  # the tree grows below the root
    assert {len(m["pv"]) for m in flat} == {1}  # no leaf reaches a million visits: only the root expands


def parse(*argv: str):
    parser = argparse.ArgumentParser()
    add_player_arguments(parser)
    return parser.parse_args(list(argv))


def test_overrides_reach_the_players_search_config():
    player = make_player(parse("--search", "rave_equiv=1200; prior_even=25,expand_visits=4", "--seed", "3"))
    config = player.search.config
    assert (config.rave_equiv, config.prior_even, config.expand_visits, config.seed) == (1200.0, 25.0, 4, 3)
    assert config.prior_capture == SearchConfig().prior_capture  # the rest as they were


@pytest.mark.parametrize("text, message", [
    ("foo=1", "--search: unknown key 'foo'; keys are tree_nodes, rave_equiv,"),
    ("seed=2", "--search: unknown key 'seed'"),
    ("rave_equiv", "--search takes key=value items such as rave_equiv=2000; got 'rave_equiv'"),
    ("rave_equiv=-1", "--search rave_equiv must be at least 0, not -1.0"),
    ("c_uct=inf", "--search c_uct must be at least 0, not inf"),
    ("expand_visits=0", "--search expand_visits must be at least 1, not 0"),
    ("expand_visits=2.5", "--search expand_visits must be an integer, not '2.5'"),
    ("tree_nodes=100", "--search tree_nodes must be in [10000, 20000000], not 100"),
])
def test_bad_overrides_are_one_line(text, message):
    with pytest.raises(ValueError) as error:
        SearchConfig().overridden(text)
    assert str(error.value).startswith(message)  # the command line's one line: tests/test_cli_bad_input.py


def test_random_engine_takes_no_overrides():
    with pytest.raises(ValueError, match="--engine random plays without a search: --search would do nothing"):
        make_player(parse("--engine", "random", "--search", "c_uct=1"))


def test_a_net_player_takes_overrides_over_its_own_defaults(zero_checkpoint):
    player = make_player(parse("--weights", str(zero_checkpoint), "--playouts", "8", "--search", "c_puct=2.5"))
    assert player.search.config.c_puct == 2.5 and player.search.config.batch_size == SearchConfig().batch_size
    assert player.genmove(Position(5, 0.5), "b") != "resign"  # and it searches with them
