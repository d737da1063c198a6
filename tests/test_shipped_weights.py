"""The 9x9 Zero net that ships under weights/: small, loads without pickle code, plays legal moves over GTP
as README's quick start says (`goengine gtp --weights weights/zero-9x9.pt`), and beats the random player."""
import json
import os
import subprocess
import sys

from goengine.cli import main
from goengine.position import Position
from nets.go import checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "weights", "zero-9x9.pt")


def test_shipped_net_is_small_and_a_9x9_zero_net():
    assert os.path.getsize(SHIPPED) < 4_000_000  # committed to git: keep it small
    model, meta = checkpoint.load(SHIPPED)
    assert meta.net == "zero_resnet" and meta.board_size == 9
    with open(os.path.join(ROOT, "README.md")) as f:
        assert "weights/zero-9x9.pt" in f.read()


def test_quick_start_command_plays_legal_moves_over_gtp():
    commands = "boardsize 9\nkomi 7\nclear_board\ngenmove b\nplay w E5\ngenmove b\ngenmove w\nfoo\nquit\n"
    gtp = subprocess.run([sys.executable, "-m", "goengine.cli", "gtp", "--weights", SHIPPED, "--playouts", "16"],
                         input=commands, capture_output=True, text=True, timeout=300, cwd=ROOT)
    replies = [r for r in gtp.stdout.split("\n\n") if r.strip()]
    assert gtp.returncode == 0 and len(replies) == 9, gtp.stdout + gtp.stderr
    assert replies[7].startswith("?")  # GTP garbage gets "? message" and the engine keeps running
    position = Position(9, 7.0)
    for reply, colour in ((replies[3], "b"), ("= E5", "w"), (replies[5], "b"), (replies[6], "w")):
        assert reply.startswith("="), reply
        vertex = reply[2:].strip().lower()
        assert vertex not in ("resign", "pass"), reply  # nothing is settled four moves in
        assert position.is_legal(vertex), (vertex, str(position))
        position = position.play(vertex)


def test_shipped_net_beats_the_random_player(capsys):
    """8 games, colours alternating: the shipped net with 16 playouts loses none of them to uniform random
    play (generation 2 of the run that made it, with the same search, won 2 of the same 8)."""
    spec = f"goengine:weights={SHIPPED},playouts=16"
    assert main(["match", "--black", spec, "--white", "goengine:engine=random", "--games", "8", "--size", "9",
                 "--komi", "7", "--random-moves", "2", "--json", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["games"] == 8
    assert summary["wins"] == 8, summary


def test_shipped_net_plays_in_onnx_runtime_int8_from_a_match_spec(capsys):
    """`inference=ort-int8` in a spec reaches `goengine gtp --inference ort-int8` (the player README's 1 s
    match against the rollout engine used), and the int8 net still wins every game against random play."""
    spec = f"goengine:weights={SHIPPED},playouts=16,inference=ort-int8"
    assert main(["match", "--black", spec, "--white", "goengine:engine=random", "--games", "4", "--size", "9",
                 "--komi", "7", "--random-moves", "2", "--json", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["first"] == f"goengine:weights={SHIPPED},playouts=16,inference=ort-int8"
    assert summary["games"] == 4 and summary["wins"] == 4, summary


LEE = os.path.join(ROOT, "weights", "lee-9x9")


def test_shipped_lee_policy_is_small_and_named_in_readme():
    assert os.path.getsize(os.path.join(LEE, "sl.pt")) < 4_000_000
    model, meta = checkpoint.load(os.path.join(LEE, "sl.pt"))
    assert meta.net == "lee_policy" and meta.board_size == 9 and meta.feature_set == "lee_policy"
    with open(os.path.join(ROOT, "README.md")) as f:
        assert "--lee weights/lee-9x9 --lee-search rave" in f.read()


def test_shipped_lee_player_plays_legal_moves_over_gtp():
    """README's Lee player: the rollout engine's tree with the shipped SL policy's priors (it needs no
    value.pt or rollout.pt), answering GTP garbage with '?' and playing on."""
    commands = "boardsize 9\nkomi 7\nclear_board\ngenmove b\nplay w E5\ngenmove b\nfoo\ngenmove w\nquit\n"
    gtp = subprocess.run([sys.executable, "-m", "goengine.cli", "gtp", "--lee", LEE, "--lee-search", "rave",
                          "--playouts", "200"], input=commands, capture_output=True, text=True, timeout=300, cwd=ROOT)
    replies = [r for r in gtp.stdout.split("\n\n") if r.strip()]
    assert gtp.returncode == 0 and len(replies) == 9, gtp.stdout + gtp.stderr
    assert replies[6].startswith("?")
    position = Position(9, 7.0)
    for reply, colour in ((replies[3], "b"), ("= E5", "w"), (replies[5], "b"), (replies[7], "w")):
        assert reply.startswith("="), reply
        vertex = reply[2:].strip().lower()
        assert vertex not in ("resign", "pass"), reply
        assert position.is_legal(vertex), (vertex, str(position))
        position = position.play(vertex)
