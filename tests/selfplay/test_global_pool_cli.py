"""`goengine train zero --global-pool --pool-heads`: a Zero run whose net has KataGo's global pooling bias in
every residual block and KataGo's pooled policy and value heads trains, self-plays through ONNX Runtime int8
(the pooling's means and maxima go through the export and the static quantisation), resumes without the flags
(the run's config keeps them), and its net plays over GTP."""
import os
import subprocess
import sys

import torch

from goengine.cli import main
from nets.go.zero_resnet import GlobalPool, GlobalPoolConv, MeanPool, PooledPolicyHead
from rl.alphago_zero.trainer import Trainer

FLAGS = ["train", "zero", "--board-size", "5", "--komi", "0.5", "--net", "2x16", "--visits", "4",
         "--workers", "0", "--games", "4", "--parallel-games", "4", "--steps", "3", "--batch-size", "16",
         "--gate-games", "0", "--threads", "1", "--no-progress"]


def test_train_zero_with_global_pool_runs_resumes_and_plays(tmp_path, capsys, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    assert main([*FLAGS, "--out", run_dir, "--generations", "1", "--global-pool", "--pool-heads",
                 "--inference", "ort-int8"]) == 0
    assert main(["train", "zero", "--out", run_dir, "--resume", "--generations", "2", "--workers", "0",
                 "--threads", "1", "--no-progress"]) == 0
    capsys.readouterr()
    trainer, _ = Trainer.load(os.path.join(run_dir, "nets", "gen00002.pt"), board_size=5)
    assert trainer.model.config.global_pool and trainer.model.config.pool_heads and trainer.step == 6
    assert isinstance(trainer.model.policy_head, PooledPolicyHead)
    assert any(isinstance(m, MeanPool) for m in trainer.model.value_head)  # KataGo's value pooling: the mean only
    pooled = [m for m in trainer.model.modules() if isinstance(m, GlobalPoolConv)]
    assert len(pooled) == trainer.model.config.blocks == 1
    # training moved the pooling layers too (they start random, so compare with the first generation's)
    first, _ = Trainer.load(os.path.join(run_dir, "nets", "gen00001.pt"), board_size=5)
    assert not torch.equal(first.model.tower[0].branch[0].to_bias.weight, pooled[0].to_bias.weight)

    gtp = subprocess.run(
        [sys.executable, "-m", "goengine.cli", "gtp", "--weights", os.path.join(run_dir, "best.pt"), "--playouts", "8"],
        input="boardsize 5\nkomi 0.5\ngenmove b\ngenmove w\nquit\n", capture_output=True, text=True, timeout=120)
    replies = [r for r in gtp.stdout.split("\n\n") if r.strip()]
    assert gtp.returncode == 0 and len(replies) == 5 and all(r.startswith("=") for r in replies), gtp.stdout + gtp.stderr
    assert replies[2][2:].strip() not in ("", "resign") and replies[3][2:].strip() != ""


def test_pooled_heads_are_the_default_and_no_pool_heads_gives_alphago_zeros(tmp_path, capsys,
                                                                             restore_torch_threads):
    """The flags are net fields: a run without them has plain blocks and KataGo's pooled heads (the default since
    they won their A/B); --no-pool-heads gives AlphaGo Zero's heads and no pooling anywhere."""
    default, plain = str(tmp_path / "default"), str(tmp_path / "plain")
    assert main([*FLAGS, "--out", default, "--generations", "1"]) == 0
    assert main([*FLAGS, "--out", plain, "--generations", "1", "--no-pool-heads"]) == 0
    capsys.readouterr()
    trainer, _ = Trainer.load(os.path.join(default, "nets", "gen00001.pt"), board_size=5)
    assert not trainer.model.config.global_pool and trainer.model.config.pool_heads
    assert isinstance(trainer.model.policy_head, PooledPolicyHead)
    assert not any(isinstance(m, GlobalPoolConv) for m in trainer.model.modules())
    trainer, _ = Trainer.load(os.path.join(plain, "nets", "gen00001.pt"), board_size=5)
    assert not trainer.model.config.global_pool and not trainer.model.config.pool_heads
    pooling = (GlobalPoolConv, GlobalPool, MeanPool, PooledPolicyHead)
    assert not any(isinstance(m, pooling) for m in trainer.model.modules())
