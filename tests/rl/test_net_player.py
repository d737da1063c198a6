"""`make_net_player`: a checkpoint becomes an MCTSPlayer that the GTP engine drives through whole games
of legal moves; the net's value steers its search (it captures a stone in atari where the same net with
its value negated does not); every bad checkpoint is one CheckpointError line."""
import io

import pytest
import torch

import nets
from goengine.cli import build_parser
from goengine.gtp.cli import build_engine
from goengine.mcts.player import MCTSPlayer
from goengine.position import Position
from nets.go.checkpoint import CheckpointError, save
from rl.net_player import make_net_player
from tests.selfplay.test_arena import material_net

SIZE = 5


pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "best.pt"
    save(path, nets.build("zero_resnet", preset="2x16", board_size=SIZE), feature_set="zero")
    return path


def gtp(player, *flags):
    args = build_parser(only="gtp").parse_args(["gtp", "--size", str(SIZE), "--komi", "0.5", *flags])
    return build_engine(args, player=player, stderr=io.StringIO())


def test_gtp_game_of_legal_moves(weights):
    player = make_net_player(weights, playouts=16, seed=1)
    assert isinstance(player, MCTSPlayer) and player.search.evaluator.kind == "batch"
    engine = gtp(player, "--playouts", "16")
    assert engine.handle("clear_board") == "=\n\n"
    position = Position(SIZE, 0.5)
    moves = []
    for turn in range(40):
        colour = "bw"[turn % 2]
        reply = engine.handle(f"genmove {colour}")
        assert reply.startswith("= ") and reply.endswith("\n\n"), reply
        move = reply[2:].strip().lower()
        if move == "resign":
            break
        assert move == "pass" or position.is_legal(move.upper(), colour), (move, str(position))
        position = position.play(move.upper() if move != "pass" else "pass", colour)
        moves.append(move)
        if position.is_over:
            break
    assert any(m != "pass" for m in moves)
    assert engine.handle("final_score").startswith("= ")
    assert engine.handle(f"boardsize {SIZE}") == "=\n\n"


def test_short_search_visits_a_move_not_just_the_root(weights):
    # 8 playouts with 8 leaves per net call: the root must get its priors before the batch is gathered
    player = make_net_player(weights, playouts=8, seed=0, batch_size=8)
    move = player.genmove(Position(SIZE, 0.5), "b")
    assert move != "pass"
    assert player.search.visit_counts().sum() >= 7


def test_the_nets_value_steers_the_search(tmp_path):
    # White's C3 is left with one liberty, C4; the history planes come from real moves
    position = Position(SIZE, 0.5)
    for move in ("D3", "C3", "C2", "A5", "B3", "E5"):
        position = position.play(move)
    assert position.liberties("C3") == 1 and position.to_play == "b"
    for sign, expect_capture in ((1.0, True), (-1.0, False)):
        path = tmp_path / f"material{sign}.pt"
        save(path, material_net(sign=sign), feature_set="zero")
        player = make_net_player(path, playouts=64, seed=0)
        move = player.genmove(position, "b")
        assert (move == "C4") == expect_capture, (sign, move)


def test_other_board_size_is_refused_in_one_line(weights):
    player = make_net_player(weights, playouts=4)
    engine = gtp(player)
    assert engine.handle("boardsize 9") == "? unacceptable size\n\n"  # GTP's canonical answer
    assert engine.handle("genmove b").startswith("= ")  # still on the net's own board
    with pytest.raises(ValueError, match="this net plays 5x5 only, not 9x9"):
        player.genmove(Position(9), "b")


def test_bad_checkpoints_are_one_clear_error(tmp_path, weights):
    with pytest.raises(CheckpointError, match="no such file"):
        make_net_player(tmp_path / "missing.pt", playouts=4)
    with pytest.raises(CheckpointError, match="board size 5, expected 9"):
        make_net_player(weights, playouts=4, board_size=9)
    lee = tmp_path / "lee.pt"
    save(lee, nets.build("lee_policy", board_size=SIZE, filters=4, layers=2), feature_set="lee_policy")
    with pytest.raises(CheckpointError, match="not an AlphaGo Zero net"):
        make_net_player(lee, playouts=4)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        make_net_player(junk, playouts=4)
    with pytest.raises(ValueError, match="playouts must be positive"):
        make_net_player(weights, playouts=0)


def test_onnx_runtime_players_search_as_torch_does(tmp_path):
    from rl.alphago_zero.ort_evaluator import OrtEvaluator

    position = Position(SIZE, 0.5)
    for move in ("D3", "C3", "C2", "A5", "B3", "E5"):
        position = position.play(move)
    path = tmp_path / "material.pt"
    save(path, material_net(sign=1.0), feature_set="zero")
    torch_player = make_net_player(path, playouts=64, seed=0)
    assert torch_player.genmove(position, "b") == "C4"
    for inference in ("ort", "ort-int8"):
        player = make_net_player(path, playouts=64, seed=0, inference=inference, threads=1)
        evaluator = player.search.evaluator
        assert isinstance(evaluator, OrtEvaluator)
        assert evaluator.precision == ("int8" if inference == "ort-int8" else "fp32")
        assert player.genmove(position, "b") == "C4", inference
        if inference == "ort":  # the same net to float rounding: near-ties of PUCT may break otherwise
            moved = abs(player.search.visit_counts() - torch_player.search.visit_counts()).sum()
            assert moved <= 0.2 * torch_player.search.visit_counts().sum()


def test_net_flags_without_a_net_are_one_line_errors():
    import subprocess
    import sys

    for flags in (["--inference", "ort"], ["--lambda", "0.5"]):  # (--threads also sets the playout engine's)
        proc = subprocess.run([sys.executable, "-m", "goengine.cli", "gtp", *flags], capture_output=True,
                              text=True, timeout=120, input="")
        assert proc.returncode != 0, flags
        assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "--weights" in proc.stderr, proc.stderr
    with pytest.raises(ValueError, match="inference must be one of"):
        make_net_player("unused.pt", playouts=4, inference="tensorrt")


def passing_net(path):
    """A random 5x5 net whose pass logit is the largest by far."""
    torch.manual_seed(0)
    net = nets.build("zero_resnet", preset="2x16", board_size=SIZE)
    with torch.no_grad():
        net.policy_head[-1].bias[-1] += 8.0
    save(path, net, feature_set="zero")
    return path


def test_no_first_pass_on_an_unsettled_board(tmp_path):
    from rl.net_player import has_contested_points

    player = make_net_player(passing_net(tmp_path / "pass.pt"), playouts=32, seed=0)
    # the open board of the GNU Go games: White ahead by komi alone, so Tromp-Taylor lets it pass
    position = Position(SIZE, 7.5)
    for move in ("C3", "B2", "D4"):
        position = position.play(move)
    assert position.score() < 0 and has_contested_points(position)
    super_move = super(type(player), player).genmove(position, "w")
    assert super_move == "pass"  # what the search alone plays with this net
    move = player.genmove(position, "w")
    assert move != "pass" and position.is_legal(move) and position.play(move).liberties(move) >= 2


def test_a_settled_board_lets_the_net_pass(tmp_path):
    from rl.net_player import has_contested_points

    player = make_net_player(passing_net(tmp_path / "pass.pt"), playouts=32, seed=0)
    # Black owns columns A-B, White columns D-E, column C is the wall between: no neutral point
    settled = Position(SIZE, 0.5)
    for row in range(1, SIZE + 1):
        settled = settled.play(f"C{row}", "b").play(f"D{row}", "w")
    assert not has_contested_points(settled)
    assert player.genmove(settled, "b") == "pass"


def test_priming_leaves_no_trace_in_play(weights):
    """prime() searches an empty board and forgets the tree: a primed player plays the same game, with the
    same visit counts, as one built fresh, and the GTP factory hands out a primed player."""
    from rl.players import zero_from_args

    fresh = make_net_player(weights, playouts=24, seed=3)
    primed = make_net_player(weights, playouts=24, seed=3).prime()
    assert primed.search.position is None
    position = Position(SIZE, 0.5)
    for colour in "bwbwbw":
        move = fresh.genmove(position, colour)
        assert primed.genmove(position, colour) == move
        assert (primed.search.visit_counts() == fresh.search.visit_counts()).all()
        position = position.play(move, colour)
    args = build_parser(only="gtp").parse_args(["gtp", "--weights", str(weights), "--playouts", "8"])
    player = zero_from_args(args)
    assert player.search.position is None and player.search.sims_done > 0


def test_command_line_net_players_use_one_forward_thread_unless_told(weights):
    """In a fresh process (torch's default is every core): the GTP factory sets 1 thread, --threads N sets N."""
    import os
    import subprocess
    import sys

    code = ("import sys, torch; from goengine.cli import build_parser; from rl.players import zero_from_args; "
            "args = build_parser(only='gtp').parse_args(['gtp', '--weights', sys.argv[1], '--playouts', '8', "
            "*sys.argv[2:]]); before = torch.get_num_threads(); zero_from_args(args); "
            "print(before, torch.get_num_threads())")
    for flags, expected in (([], 1), (["--threads", "3"], 3)):
        done = subprocess.run([sys.executable, "-c", code, str(weights), *flags], capture_output=True, text=True,
                              timeout=120, env={k: v for k, v in os.environ.items()
                                                if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        assert done.returncode == 0, done.stderr
        before, after = map(int, done.stdout.split())
        assert after == expected, (before, after)
