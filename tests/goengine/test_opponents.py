"""Opponent specs (goengine/opponents.py): one table of good specs with their canonical spec and argv, one of
bad specs with their one-line message, and the round trip spec -> Opponent -> canonical spec -> same Opponent.
The games these specs start are in tests/gtp/test_match.py."""
from __future__ import annotations

import pickle
import sys

import pytest

from goengine.opponents import Opponent, command, is_spec, parse_opponent
from tests.gnugo import GNUGO_PATH, gnugo_available, skip_reason

GOENGINE = [sys.executable, "-m", "goengine.cli", "gtp", "--size", "9"]
GNUGO = [GNUGO_PATH, "--mode", "gtp", "--chinese-rules", "--level"]

# spec, its canonical spec, the argv on a 9x9 board ({w}: a weights file; None: not started here)
GOOD = [
    ("gnugo", "gnugo", GNUGO + ["10"]),
    ("gnugo:level=10", "gnugo", GNUGO + ["10"]),  # GNU Go's default level: left out
    ("gnugo:", "gnugo", GNUGO + ["10"]),
    (" gnugo:seed=7 , level=1 ", "gnugo:level=1,seed=7", GNUGO + ["1", "--seed", "7"]),
    ("goengine", "goengine", GOENGINE),
    ("goengine:playouts=1000", "goengine:playouts=1000", GOENGINE + ["--playouts", "1000"]),
    ("goengine:seconds=1", "goengine:seconds=1", GOENGINE + ["--seconds", "1"]),
    ("goengine:seconds=1e-1", "goengine:seconds=0.1", GOENGINE + ["--seconds", "0.1"]),
    ("goengine:playouts=200,weights={w}", "goengine:weights={w},playouts=200",
     GOENGINE + ["--weights", "{w}", "--playouts", "200"]),
    ("goengine:weights={w},threads=2", "goengine:weights={w},threads=2",
     GOENGINE + ["--weights", "{w}", "--threads", "2"]),
    ("goengine:inference=ort-int8,seconds=1,weights={w}", "goengine:weights={w},seconds=1,inference=ort-int8",
     GOENGINE + ["--weights", "{w}", "--seconds", "1", "--inference", "ort-int8"]),
    ("goengine:weights={w},inference=torch", "goengine:weights={w}", GOENGINE + ["--weights", "{w}"]),
    ("goengine:threads=2,seconds=1", "goengine:seconds=1,threads=2", GOENGINE + ["--seconds", "1", "--threads", "2"]),
    ("goengine:engine=random,seed=3", "goengine:engine=random,seed=3",
     GOENGINE + ["--engine", "random", "--seed", "3"]),
    ("goengine:engine=mcts", "goengine", GOENGINE),
    ("goengine:dynkomi=30,seconds=1", "goengine:seconds=1,dynkomi=30", GOENGINE + ["--seconds", "1", "--dynkomi", "30"]),
    ("goengine:playout_policy={w}", "goengine:playout_policy={w}", GOENGINE + ["--playout-policy", "{w}"]),
    ("goengine:root_policy={w},seconds=1", "goengine:seconds=1,root_policy={w}",
     GOENGINE + ["--seconds", "1", "--root-policy", "{w}"]),
    ("goengine:search=rave_equiv=2000;prior_even=20,seconds=1", "goengine:seconds=1,search=rave_equiv=2000;prior_even=20",
     GOENGINE + ["--seconds", "1", "--search", "rave_equiv=2000;prior_even=20"]),
    ("katago:visits=1", "katago:visits=1", None),
    ("katago:visits=16,threads=1", "katago:visits=16", None),  # one thread is the default
    ("katago:threads=4,visits=16", "katago:visits=16,threads=4", None),
    ('gtp:"ANY COMMAND"', 'gtp:"ANY COMMAND"', ["ANY", "COMMAND"]),
    ('gtp:"/usr/games/gnugo --mode gtp"', 'gtp:"/usr/games/gnugo --mode gtp"', ["/usr/games/gnugo", "--mode", "gtp"]),
    ("gtp:prog --name 'a b'", "gtp:\"prog --name 'a b'\"", ["prog", "--name", "a b"]),
    ("gtp:'prog --name \"a b\"'", "gtp:\"prog --name 'a b'\"", ["prog", "--name", "a b"]),
    ('gtp:"\'/opt/my engine/run\' --gtp"', 'gtp:"\'/opt/my engine/run\' --gtp"', ["/opt/my engine/run", "--gtp"]),
    ("gtp:prog 'say \"hi\"'", "gtp:'prog '\"'\"'say \"hi\"'\"'\"''", ["prog", 'say "hi"']),
]

BAD = [
    ("goengine:weights={w},root_policy={w}",
     "'goengine:weights={w},root_policy={w}': root_policy is for the playout engine; a net player has its net's priors"),
    ("goengine:search=foo=1", "'goengine:search=foo=1': search: unknown key 'foo'; keys are tree_nodes, rave_equiv, "
     "c_uct, expand_visits, prior_even, prior_capture, prior_self_atari, prior_pattern, prior_near, prior_empty_area, "
     "prior_pass, prior_policy, prior_policy_visits, c_puct, fpu_reduction, forced_playouts, score_utility, batch_size, "
     "virtual_loss, max_playout_moves"),
    ("goengine:search=c_uct=-1", "'goengine:search=c_uct=-1': search c_uct must be at least 0, not -1.0"),
    ("goengine:engine=random,search=c_uct=1",
     "'goengine:engine=random,search=c_uct=1': engine=random plays without a search: it takes no search"),
    ("katgo:visits=1", "'katgo:visits=1': unknown kind 'katgo'; kinds are katago, gnugo, goengine, gtp"),
    ("katago", "'katago': katago needs visits, e.g. katago:visits=16"),
    ("katago:threads=2", "'katago:threads=2': katago needs visits, e.g. katago:visits=16"),
    ("katago:visit=1", "'katago:visit=1': katago takes no 'visit'; it takes visits, threads, home"),
    ("katago:visits=0", "'katago:visits=0': visits must be at least 1, not 0"),
    ("katago:visits=1.5", "'katago:visits=1.5': visits must be an integer, not '1.5'"),
    ("katago:visits=1,threads=0", "'katago:visits=1,threads=0': threads must be at least 1, not 0"),
    ("katago:visits=1,visits=2", "'katago:visits=1,visits=2': visits is given twice"),
    ("katago:visits", "'katago:visits': 'visits' is not key=value"),
    ("katago:visits=1,", "'katago:visits=1,': '' is not key=value"),
    ("gnugo:level=-1", "'gnugo:level=-1': level must be at least 0, not -1"),
    ("gnugo:seed=2147483648", "'gnugo:seed=2147483648': seed must be in [0, 2147483647], not 2147483648"),
    ("gnugo:visits=1", "'gnugo:visits=1': gnugo takes no 'visits'; it takes level, seed"),
    ("goengine:seconds=0", "'goengine:seconds=0': seconds must be more than 0, not 0.0"),
    ("goengine:seconds=nan", "'goengine:seconds=nan': seconds must be more than 0, not nan"),
    ("goengine:seconds=fast", "'goengine:seconds=fast': seconds must be a number, not 'fast'"),
    ("goengine:playouts=10,seconds=1",
     "'goengine:playouts=10,seconds=1': playouts and seconds are exclusive: give one"),
    ("goengine:engine=random,threads=2",
     "'goengine:engine=random,threads=2': engine=random plays without a search: it takes no threads"),
    ("goengine:engine=random,playouts=5,weights=w.pt", "'goengine:engine=random,playouts=5,weights=w.pt': "
     "engine=random plays without a search: it takes no weights, playouts"),
    ("goengine:weights=a.pt,lee=R", "'goengine:weights=a.pt,lee=R': weights and lee are exclusive: give one"),
    ("goengine:lambda=0.5", "'goengine:lambda=0.5': lambda is for an AlphaGo Lee player (lee=RUN_DIR)"),
    ("goengine:lee=R,lambda=2", "'goengine:lee=R,lambda=2': lambda must be in [0, 1], not 2.0"),
    ("goengine:engine=gnugo", "'goengine:engine=gnugo': engine must be one of mcts, random, not 'gnugo'"),
    ("goengine:lee_search=rave", "'goengine:lee_search=rave': lee_search is for an AlphaGo Lee player (lee=RUN_DIR)"),
    ("goengine:lee=R,lee_search=rave,lambda=0.5", "'goengine:lee=R,lee_search=rave,lambda=0.5': lee_search=rave "
     "values leaves by the playouts alone: lambda 1, or no lambda"),
    ("goengine:lee=R,lee_search=uct", "'goengine:lee=R,lee_search=uct': lee_search must be one of puct, rave, not 'uct'"),
    ("goengine:visits=1", "'goengine:visits=1': goengine takes no 'visits'; it takes weights, lee, lambda, lee_search, "
                          "playouts, seconds, threads, engine, inference, seed, search, root_policy, dynkomi, "
                          "playout_policy"),
    ("goengine:weights={w},dynkomi=20",
     "'goengine:weights={w},dynkomi=20': dynkomi is for the playout engine; a net's value is trained at the real komi"),
    ("goengine:dynkomi=-1", "'goengine:dynkomi=-1': dynkomi must be at least 0, not -1"),
    ("goengine:inference=ort-int8", "'goengine:inference=ort-int8': inference is for a Zero net player (weights=W)"),
    ("goengine:lee=R,inference=ort", "'goengine:lee=R,inference=ort': inference is for a Zero net player (weights=W)"),
    ("goengine:weights=w.pt,inference=int4",
     "'goengine:weights=w.pt,inference=int4': inference must be one of torch, ort, ort-int8, not 'int4'"),
    ("goengine:engine=random,inference=ort",
     "'goengine:engine=random,inference=ort': engine=random plays without a search: it takes no inference"),
    ("gtp:", "'gtp:': gtp needs command, e.g. gtp:\"/usr/games/gnugo --mode gtp\""),
    ('gtp:"prog', "'gtp:\"prog': command: No closing quotation"),
]


def _fill(value, weights: str):
    if isinstance(value, list):
        return [v.replace("{w}", weights) for v in value]
    return value.replace("{w}", weights)


@pytest.mark.parametrize("spec, canonical, argv", GOOD, ids=[row[0] for row in GOOD])
def test_good_specs(spec, canonical, argv, tmp_path):
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"")  # command() checks that the file is there, the engine reads it
    spec, canonical = _fill(spec, str(weights)), _fill(canonical, str(weights))
    assert is_spec(spec)
    opponent = parse_opponent(spec)
    assert str(opponent) == canonical
    again = parse_opponent(canonical)  # the canonical spec names the same opponent
    assert again == opponent and hash(again) == hash(opponent) and str(again) == canonical
    assert Opponent(opponent.kind, opponent.params) == opponent
    if argv is None or (opponent.kind == "gnugo" and not gnugo_available()):
        return
    assert command(opponent, board_size=9, workdir=str(tmp_path)) == _fill(argv, str(weights))


@pytest.mark.parametrize("spec, message", BAD, ids=[row[0] for row in BAD])
def test_bad_specs(spec, message):
    with pytest.raises(ValueError) as e:
        parse_opponent(spec)
    assert str(e.value) == message


def test_spec_or_command_line():
    for spec in ("gnugo", "katago:visits=1", "katgo:visits=1", 'gtp:"x y"', "goengine:playouts=1"):
        assert is_spec(spec), spec
    for line in ("goengine gtp --seconds 1", "/usr/games/gnugo --mode gtp --chinese-rules", "my-engine",
                 "python3 engine.py --listen localhost:5000", "C:\\engines\\leela.exe --gtp"):
        assert not is_spec(line), line


def test_typed_values_and_defaults():
    opponent = Opponent("katago", {"visits": 16, "threads": 1})
    assert dict(opponent.params) == {"visits": 16} and opponent.get("threads") == 1 and opponent.get("home") is None
    with pytest.raises(TypeError):
        opponent.params["visits"] = 2  # frozen, params too
    with pytest.raises(ValueError, match="visits must be an integer, not '16'"):
        Opponent("katago", {"visits": "16"})
    with pytest.raises(ValueError, match="seconds must be a number, not True"):
        Opponent("goengine", {"seconds": True})
    assert len({parse_opponent("gnugo"), parse_opponent("gnugo:level=10"), parse_opponent("gnugo:level=9")}) == 2
    assert pickle.loads(pickle.dumps(opponent)) == opponent  # Ray sends opponents to workers by pickle


def test_files_and_installs_are_checked_when_started(tmp_path):
    with pytest.raises(ValueError, match="^no weights file /nonexistent/best.pt$"):
        command(parse_opponent("goengine:weights=/nonexistent/best.pt"), board_size=9, workdir=str(tmp_path))
    pytest.importorskip("goengine.katago")
    from goengine.katago import KataGoMissing

    with pytest.raises(KataGoMissing, match=f"^KataGo is not installed in {tmp_path}"):
        command(parse_opponent(f"katago:visits=1,home={tmp_path}"), board_size=9, workdir=str(tmp_path))


@pytest.mark.skipif(not gnugo_available(), reason=skip_reason())
def test_the_argv_starts_the_engine(tmp_path):
    from goengine.gtp.client import GtpProcess

    for spec in ("gnugo:level=1,seed=2", "goengine:engine=random"):
        engine = GtpProcess(command(parse_opponent(spec), board_size=9, workdir=str(tmp_path)), spec)
        try:
            engine.ensure_started()
            assert engine.send("boardsize 9", 120) == "" and engine.send("genmove b", 120)
        finally:
            engine.close()
