"""`goengine compress prune` on an AlphaGo Lee SL policy: from the `sl.pt` that `goengine train lee sl` wrote
on a `goengine data convert` dataset, it writes a `lee_policy_pruned` net with the stated fraction of every
hidden layer's channels removed, and that net plays a game as the sl.pt of a Lee run folder through
`goengine gtp --lee` under the match referee; a Lee policy with a Zero run folder as --data, or given to
the Zero-only subcommands, is one line on stderr."""
import glob
import json
import os
import shutil

import pytest
import torch

from goengine.cli import main
from nets.compression.prune import param_count
from nets.go import checkpoint
from nets.go.rollout import build_lee_rollout
from rl.alphago_lee.rollout import FEATURE_SET as ROLLOUT_FEATURES

CORPUS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "fixtures", "corpus", "*.sgf")))
PLAYED_OUT = {"score", "move cap", "resign"}
"""Ways a game ends with both engines working (not a crash, failure, timeout or illegal move)."""

pytestmark = pytest.mark.usefixtures("restore_torch_threads")  # tests/conftest.py


@pytest.fixture(scope="module")
def lee_sl(tmp_path_factory):
    """(dataset folder, LEE_RUN/sl.pt): 24 corpus games converted, and 10 SL steps of a 3-layer x 8 policy."""
    root = tmp_path_factory.mktemp("lee")
    (root / "sgf").mkdir()
    for path in CORPUS[:24]:
        shutil.copy(path, root / "sgf")
    assert main(["data", "convert", str(root / "sgf"), "--out", str(root / "data"), "--no-progress"]) == 0
    assert main(["train", "lee", "sl", "--data", str(root / "data"), "--out", str(root / "run"), "--filters", "8",
                 "--layers", "3", "--steps", "10", "--batch-size", "16", "--threads", "1", "--no-tensorboard",
                 "--no-progress"]) == 0
    return root / "data", root / "run" / "sl.pt"


def test_a_pruned_lee_policy_is_narrower_and_plays_through_gtp_lee(lee_sl, tmp_path, capsys):
    data, sl = lee_sl
    capsys.readouterr()
    run = tmp_path / "pruned_run"
    run.mkdir()
    code = main(["compress", "prune", "--weights", str(sl), "--data", str(data), "--ratio", "0.5", "--out",
                 str(run / "sl.pt"), "--finetune-steps", "3", "--batch-size", "16", "--threads", "1", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = out.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prune:") and "top-1 of the moves played" in lines[0], lines

    original, _ = checkpoint.load(sl)
    model, meta = checkpoint.load(run / "sl.pt")
    assert meta.net == "lee_policy_pruned" and meta.feature_set == "lee_policy"
    assert model.config.widths == (4, 4)  # half of each hidden conv's 8 filters
    assert param_count(model) < 0.6 * param_count(original)
    assert meta.extra["compression"] == "prune" and meta.extra["ratio"] == 0.5
    planes = torch.zeros(2, 48, 9, 9)
    assert model(planes).shape == original(planes).shape == (2, 81)

    # the Lee player reads RUN/sl.pt (priors) and RUN/rollout.pt (leaf values at lambda 1)
    torch.manual_seed(0)
    checkpoint.save(run / "rollout.pt", build_lee_rollout(board_size=9, response_bits=8, pattern_bits=8),
                    feature_set=ROLLOUT_FEATURES)
    code = main(["match", "--black", f"goengine:lee={run},lambda=1,playouts=4", "--white", "goengine:engine=random,seed=1",
                 "--games", "1", "--size", "9", "--komi", "7", "--max-moves", "40", "--json", "--no-progress"])
    out = capsys.readouterr()
    assert code == 0, out.err
    summary = json.loads(out.out)
    assert summary["wins"] + summary["losses"] + summary["draws"] == 1
    assert set(summary["reasons"]) <= PLAYED_OUT, summary
    # the pruned net chose Black's moves through GTP (a 4-playout search may resign a game early: >= 1)
    assert summary["results"][0]["genmoves"]["b"] >= 1


@pytest.mark.parametrize("argv,message", [
    (["prune", "--weights", "{sl}", "--data", "{d}", "--out", "{d}/o.pt"], "not a folder written by goengine data"),
    (["distill", "--teacher", "{sl}", "--data", "{data}", "--out", "{d}/o.pt"], "'lee_policy' net"),
    (["quantize", "--weights", "{sl}", "--data", "{data}", "--out", "{d}/o.pt"], "'lee_policy' net"),
])
def test_lee_bad_input_is_one_line(lee_sl, tmp_path, capsys, argv, message):
    data, sl = lee_sl
    capsys.readouterr()
    code = main(["compress", *(a.format(d=tmp_path, sl=sl, data=data) for a in argv), "--no-progress"])
    err = capsys.readouterr().err
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert "Traceback" not in err and not (tmp_path / "o.pt").exists()
