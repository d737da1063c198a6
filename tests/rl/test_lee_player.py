"""The AlphaGo Lee player (rl/alphago_lee/player.py): its root priors are the SL policy's softmax at the
paper's temperature over the sensible points of goengine.features' planes; it needs only the nets its λ
uses and names what is missing in one line; and `goengine gtp --lee R` answers genmove and lz-analyze."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from goengine import coords
from goengine.features import extract
from goengine.position import Position
from nets.go import checkpoint
from nets.go.checkpoint import CheckpointError
from nets.go.lee import build_lee_policy, build_lee_value
from nets.go.rollout import build_lee_rollout
from rl.alphago_lee.player import BETA, PASS_PRIOR, make_lee_player
from rl.alphago_lee.rollout import FEATURE_SET as ROLLOUT_FEATURES

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def write_run(folder, size=5, files=("sl", "value", "rollout")):
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if "sl" in files:
        checkpoint.save(folder / "sl.pt", build_lee_policy(board_size=size, filters=8, layers=3),
                        feature_set="lee_policy")
    if "value" in files:
        checkpoint.save(folder / "value.pt", build_lee_value(board_size=size, filters=8, layers=3),
                        feature_set="lee_value")
    if "rollout" in files:
        checkpoint.save(folder / "rollout.pt", build_lee_rollout(board_size=size, response_bits=8, pattern_bits=8),
                        feature_set=ROLLOUT_FEATURES)
    return folder


def test_root_priors_are_the_sl_policy_at_temperature_beta(tmp_path):
    run = write_run(tmp_path / "R")
    player = make_lee_player(run, playouts=16, lam=0.5, seed=1)
    pos = Position(5, 0.5).play("C3").play("B2").play("B3")  # White to move, one Black stone in atari-free shape
    move = player.genmove(pos, "w")
    assert pos.is_legal(move, "w")
    policy, _ = checkpoint.load(run / "sl.pt")
    planes = extract(pos, "lee_policy")
    with torch.no_grad():
        logits = policy(torch.from_numpy(planes[None]))[0].double().numpy() / BETA
    sensible = planes[46].reshape(-1) > 0
    expected = np.where(sensible, np.exp(logits - logits[sensible].max()), 0.0)
    expected = (1 - PASS_PRIOR) * expected / expected.sum()
    kids = player.search.children()
    got = np.zeros(26)
    action_of_point = pos.board.geo.action_of_point
    for kid in kids:
        m = int(kid["move"])
        got[25 if m == 0 else action_of_point[m]] = kid["prior"]
    assert got[25] == pytest.approx(PASS_PRIOR)
    np.testing.assert_allclose(got[:25], expected, atol=1e-6)
    assert player.search.sims_done >= 16


@pytest.mark.parametrize("files, lam, message", [
    (("sl", "rollout"), 0.5, "value.pt: no such file"),
    (("sl", "value"), 0.5, "rollout.pt: no such file"),
    (("value", "rollout"), 0.5, "sl.pt: no such file"),
])
def test_missing_nets_are_named(tmp_path, files, lam, message):
    run = write_run(tmp_path / "R", files=files)
    with pytest.raises(CheckpointError) as info:
        make_lee_player(run, playouts=4, lam=lam)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_lambda_needs_only_its_nets_and_sizes_must_match(tmp_path):
    assert make_lee_player(write_run(tmp_path / "a", files=("sl", "rollout")), playouts=4, lam=1.0)
    assert make_lee_player(write_run(tmp_path / "b", files=("sl", "value")), playouts=4, lam=0.0)
    mixed = write_run(tmp_path / "c")
    write_run(tmp_path / "d", size=7, files=("value",))
    (tmp_path / "d" / "value.pt").replace(mixed / "value.pt")
    with pytest.raises(CheckpointError, match="board size 7, expected 5"):
        make_lee_player(mixed, playouts=4)
    with pytest.raises(ValueError, match="no such folder"):
        make_lee_player(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="--lambda must be in"):
        make_lee_player(mixed, lam=1.5)


def test_gtp_transcript_genmove_and_lz_analyze(tmp_path):
    run = write_run(tmp_path / "R")
    proc = subprocess.Popen([sys.executable, "-m", "goengine.cli", "gtp", "--lee", str(run), "--lambda", "0.5",
                             "--playouts", "16", "--size", "5", "--komi", "0.5", "--seed", "1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    try:
        def send(line):
            proc.stdin.write(line + "\n")
            proc.stdin.flush()

        def reply():
            lines = []
            while True:
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
                if line == "\n" and lines:
                    return lines
                lines.append(line.rstrip("\n"))

        send("1 genmove b")
        first = reply()[0]
        assert first.startswith("=1 ")
        pos = Position(5, 0.5).play(first[3:], "b")
        send("2 lz-analyze w 5")
        assert proc.stdout.readline() == "=2\n"
        infos = [proc.stdout.readline().rstrip("\n") for _ in range(2)]
        send("3 genmove w")
        rest = []
        while not rest or not rest[-1].startswith("=3"):
            rest.append(proc.stdout.readline().rstrip("\n"))
        assert rest[-2] == ""  # the stream ends with its empty line before genmove answers
        for line in infos + [r for r in rest[:-2]]:
            assert line.startswith("info move ")
            for chunk in line.split("info move ")[1:]:
                assert pos.is_legal(chunk.split()[0], "w")
        assert pos.is_legal(rest[-1][3:], "w")
        assert proc.stdout.readline() == "\n"
        send("4 quit")
        assert reply() == ["=4"]
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()


# --- the "rave" Lee player: the rollout engine's tree with the SL priors ---

def test_sl_policy_is_the_mean_of_its_symmetries_and_commutes_with_them(tmp_path):
    from goengine import symmetries
    from rl.alphago_lee.player import SLPolicy

    run = write_run(tmp_path / "R")
    net, _ = checkpoint.load(run / "sl.pt")
    policy = SLPolicy(net, 5)
    pos = Position(5, 0.5).play("C3").play("B2").play("B4").play("D2")
    got = policy(pos)
    planes = extract(pos, "lee_policy")
    mean = np.zeros(26)
    for k in range(8):
        with torch.no_grad():
            logits = net(torch.from_numpy(symmetries.apply_planes(planes, k)[None].copy()))[0].double().numpy()
        p = np.exp(logits / BETA - (logits / BETA).max())
        mean += symmetries.apply_policy(np.append(p / p.sum(), 0.0), symmetries.invert(k), 5)
    sensible = planes[46].reshape(-1) > 0
    expected = np.where(sensible, mean[:25], 0.0)
    np.testing.assert_allclose(got[:25], (1 - PASS_PRIOR) * expected / expected.sum(), atol=1e-6)
    assert got[25] == pytest.approx(PASS_PRIOR) and got.sum() == pytest.approx(1.0)
    # the same game turned by a symmetry gets the turned priors (a single symmetry would not)
    for k in (1, 5):
        turned = Position(5, 0.5)
        for colour, vertex in pos.history:
            action = coords.point_to_action(coords.gtp_to_point(vertex, 5), 5)
            turned = turned.play(coords.action_to_gtp(symmetries.apply_action(int(action), k, 5), 5), colour)
        np.testing.assert_allclose(policy(turned), symmetries.apply_policy(got, k, 5), atol=1e-6)


def test_rave_player_adds_the_sl_priors_to_the_rollout_trees_root(tmp_path):
    from goengine.mcts.search import Search
    from goengine.mcts.search_config import SearchConfig

    run = write_run(tmp_path / "R", files=("sl",))  # the rave player needs neither value.pt nor rollout.pt
    player = make_lee_player(run, playouts=64, lam=1.0, seed=3, tree="rave")
    pos = Position(5, 0.5).play("C3").play("B2")
    player.search.set_root(pos)
    plain = Search(config=SearchConfig(seed=3))
    plain.set_root(pos)
    plain.run(sims=1)  # the root's first simulation expands it, as the policy's does
    priors = player.search.policy(pos)
    kids, plain_kids = player.search.children(), plain.children()
    assert list(kids["move"]) == list(plain_kids["move"])
    action_of_point = pos.board.geo.action_of_point
    actions = [25 if m == 0 else action_of_point[m] for m in kids["move"]]
    added = kids["n"] - plain_kids["n"]
    np.testing.assert_allclose(added, SearchConfig().prior_policy * priors[actions], atol=1e-4)
    np.testing.assert_allclose(kids["w"] - plain_kids["w"], added, atol=1e-4)
    assert player.search.policy.calls == 1
    move = player.genmove(pos, "b")
    assert pos.is_legal(move, "b") and player.search.sims_done >= 64
    with pytest.raises(ValueError, match="--lee-search rave values leaves by the playouts alone"):
        make_lee_player(run, playouts=4, lam=0.5, tree="rave")
    with pytest.raises(ValueError, match="--lee-search is one of puct, rave"):
        make_lee_player(run, playouts=4, lam=1.0, tree="uct")
    with pytest.raises(ValueError, match="this net plays 5x5 only"):
        player.genmove(Position(7, 0.5), "b")


def test_gtp_lee_search_rave_plays_and_busy_nodes_get_the_priors(tmp_path):
    run = write_run(tmp_path / "R", files=("sl",))
    out = subprocess.run([sys.executable, "-m", "goengine.cli", "gtp", "--lee", str(run), "--lee-search", "rave",
                          "--playouts", "400", "--search", "prior_policy_visits=40", "--komi", "0.5", "--seed", "2"],
                         input="1 genmove b\n2 genmove w\n3 quit\n", capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    replies = [line for line in out.stdout.splitlines() if line.startswith("=")]
    assert len(replies) == 3 and replies[2] == "=3"
    pos = Position(5, 0.5).play(replies[0][3:], "b")
    assert pos.is_legal(replies[1][3:], "w")
