"""`goengine compress prune|distill|quantize` end to end on a tiny run folder of real self-play records:
each writes a checkpoint of the net it claims (narrower widths, a student's size, an int8 model), prints
one summary line, and the result plays a whole game through `goengine gtp --weights` under the match
referee; bad input is one line on stderr and a non-zero exit."""
import json
import os

import pytest
import torch

from goengine.cli import main
from nets.go.checkpoint import load, save
from nets.go.presets import zero_config
from nets.go.zero_resnet import ZeroResNet
from rl.records import write_record
from selfplay.selfplay_config import SelfPlayConfig
from selfplay.worker import SelfPlayWorker

SIZE = 5
PLAYED_OUT = {"score", "move cap", "resign"}
"""Ways a game ends with both engines working (not a crash, failure, timeout or illegal move)."""

pytestmark = pytest.mark.usefixtures("restore_torch_threads")  # tests/conftest.py


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """RUN_DIR/best.pt, a random 2x16 net, and RUN_DIR/games with 10 of its self-play games."""
    run = tmp_path_factory.mktemp("run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        net = zero_config("2x16", board_size=SIZE)
        model = ZeroResNet(net).eval()
        save(run / "best.pt", model, feature_set="zero")
        config = SelfPlayConfig(board_size=SIZE, komi=0.5, net=net, visits=4, parallel_games=10, resign_threshold=0,
                                seed=0, fast_visits=0)
        worker = SelfPlayWorker(config, model.state_dict(), 0)
        for record in worker.play_games(10, generation=1):
            write_record(run / "games", record)
    finally:
        torch.set_num_threads(threads)
    return run


def compress(capsys, *argv):
    code = main(["compress", *map(str, argv), "--no-progress", "--threads", "1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = out.out.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def play_one_game(capsys, black: str, white: str) -> dict:
    code = main(["match", "--black", black, "--white", white, "--games", "1", "--size", str(SIZE), "--komi", "0.5",
                 "--json", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_compressed_checkpoints_are_the_nets_they_claim_and_play_gtp_games(run_dir, tmp_path, capsys):
    best = run_dir / "best.pt"
    pruned, student, int8 = tmp_path / "pruned.pt", tmp_path / "student.pt", tmp_path / "int8.pt"

    line = compress(capsys, "prune", "--weights", best, "--data", run_dir, "--ratio", "0.5", "--out", pruned,
                    "--finetune-steps", "3", "--steps", "2", "--batch-size", "16")
    assert line.startswith("prune:") and "held-out positions top-1 agreement" in line
    model, meta = load(pruned)
    assert meta.net == "zero_resnet_pruned" and model.config.trunk == 8 and model.config.mids == (8,)
    assert meta.extra["ratio"] == 0.5

    line = compress(capsys, "distill", "--teacher", best, "--student", "2x8", "--data", run_dir, "--out", student,
                    "--steps", "3", "--batch-size", "16")
    model, meta = load(student)
    assert meta.net == "zero_resnet" and (model.config.blocks, model.config.filters) == (1, 8)

    line = compress(capsys, "quantize", "--weights", pruned, "--data", run_dir, "--out", int8, "--calibration", "64",
                    "--qat-steps", "2", "--batch-size", "16")
    assert "int8" in line
    model, meta = load(int8)
    assert meta.net == "zero_resnet_int8" and meta.config["source_net"] == "zero_resnet_pruned"
    assert os.path.getsize(int8) < os.path.getsize(pruned)

    # every output through `goengine gtp --weights` (the match referee starts it from the spec)
    summary = play_one_game(capsys, f"goengine:weights={pruned},playouts=4", f"goengine:weights={int8},playouts=4")
    assert summary["wins"] + summary["losses"] + summary["draws"] == 1
    assert set(summary["reasons"]) <= PLAYED_OUT, summary
    summary = play_one_game(capsys, f"goengine:weights={student},playouts=4", "goengine:engine=random")
    assert summary["wins"] + summary["losses"] + summary["draws"] == 1
    assert set(summary["reasons"]) <= PLAYED_OUT, summary


def test_a_pooled_heads_net_prunes_and_the_pruned_net_plays_a_gtp_game(run_dir, tmp_path, capsys):
    """KataGo's pooled heads (`train zero --pool-heads`): the pruned checkpoint keeps them, 16 planes wide
    over a trunk of 8, and plays through `goengine gtp --weights`."""
    torch.manual_seed(1)
    best, pruned = tmp_path / "pooled.pt", tmp_path / "pruned.pt"
    save(best, ZeroResNet(zero_config("2x16", board_size=SIZE, pool_heads=True)).eval(), feature_set="zero")
    line = compress(capsys, "prune", "--weights", best, "--data", run_dir, "--ratio", "0.5", "--out", pruned,
                    "--finetune-steps", "2", "--batch-size", "16")
    assert line.startswith("prune:")
    model, meta = load(pruned)
    assert meta.net == "zero_resnet_pruned" and (model.config.trunk, model.config.mids) == (8, (8,))
    assert model.config.pool_heads and model.config.head_channels == 16
    summary = play_one_game(capsys, f"goengine:weights={pruned},playouts=4", "goengine:engine=random")
    assert summary["wins"] + summary["losses"] + summary["draws"] == 1
    assert set(summary["reasons"]) <= PLAYED_OUT, summary


@pytest.mark.parametrize("argv,message", [
    (["prune", "--weights", "{d}/missing.pt", "--data", "{run}", "--out", "{d}/o.pt"], "no such file"),
    (["prune", "--weights", "{d}/junk.pt", "--data", "{run}", "--out", "{d}/o.pt"], "cannot be read"),
    (["prune", "--weights", "{run}/best.pt", "--data", "{run}", "--ratio", "1.5", "--out", "{d}/o.pt"], "--ratio"),
    (["prune", "--weights", "{run}/best.pt", "--data", "{d}", "--out", "{d}/o.pt"], "no replay records"),
    (["prune", "--weights", "{run}/best.pt", "--data", "{run}", "--out", "{d}"], "is a folder"),
    (["prune", "--weights", "{run}/best.pt", "--data", "{run}", "--out", "{run}/best.pt"], "itself"),
    (["distill", "--teacher", "{run}/best.pt", "--student", "big", "--data", "{run}", "--out", "{d}/o.pt"],
     "BLOCKSxFILTERS"),
    (["distill", "--teacher", "{run}/best.pt", "--data", "{run}", "--alpha", "2", "--out", "{d}/o.pt"], "--alpha"),
    (["quantize", "--weights", "{d}/lee.pt", "--data", "{run}", "--out", "{d}/o.pt"], "'lee_policy' net"),
])
def test_bad_input_is_one_line(run_dir, tmp_path, capsys, argv, message):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    import nets

    save(tmp_path / "lee.pt", nets.build("lee_policy", board_size=SIZE, filters=4, layers=2), feature_set="lee")
    before = sorted(os.listdir(run_dir))
    code = main(["compress", *(a.format(d=tmp_path, run=run_dir) for a in argv), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "o.pt").exists() and sorted(os.listdir(run_dir)) == before
