"""`train zero --resume --lr` (a learning-rate drop by hand on a running run) and `--lr-drop-at` (drops
set when the run is created)."""
import csv
import json
import os

import pytest

from goengine.cli import main
from nets.go import checkpoint

FLAGS = ["train", "zero", "--board-size", "5", "--komi", "0.5", "--net", "2x16", "--visits", "4",
         "--workers", "0", "--games", "4", "--parallel-games", "4", "--steps", "2", "--batch-size", "16",
         "--gate-games", "0", "--threads", "1", "--no-progress"]


def _lrs(run_dir):
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        return [float(row["lr"]) for row in csv.DictReader(f)]


def _config_lr(run_dir):
    with open(os.path.join(run_dir, "config.json")) as f:
        return json.load(f)["config"]["trainer"]["lr"]


def _checkpoint_lr(run_dir, generation):
    _, meta = checkpoint.load(os.path.join(run_dir, "nets", f"gen{generation:05d}.pt"))
    return meta.extra["trainer"]["trainer_config"]["lr"]


def test_resume_with_lr_trains_the_next_generations_at_it(tmp_path, capsys, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    assert main([*FLAGS, "--out", run_dir, "--generations", "1", "--lr", "0.01"]) == 0
    resume = ["train", "zero", "--out", run_dir, "--resume", "--workers", "0", "--threads", "1", "--no-progress"]
    assert main([*resume, "--generations", "2", "--lr", "0.001"]) == 0
    assert _config_lr(run_dir) == 0.001
    assert main([*resume, "--generations", "3"]) == 0  # the new lr stays
    assert _lrs(run_dir) == pytest.approx([0.01, 0.001, 0.001])
    assert [_checkpoint_lr(run_dir, g) for g in (1, 2, 3)] == pytest.approx([0.01, 0.001, 0.001])
    capsys.readouterr()
    assert main([*resume, "--generations", "4", "--lr", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--lr" in err[0], err
    assert _config_lr(run_dir) == 0.001 and len(_lrs(run_dir)) == 3


def test_lr_drop_at_divides_the_rate_by_ten_after_each_generation_given(tmp_path, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    assert main([*FLAGS, "--out", run_dir, "--generations", "2", "--lr", "0.01", "--lr-drop-at", "1,3"]) == 0
    resume = ["train", "zero", "--out", run_dir, "--resume", "--workers", "0", "--threads", "1", "--no-progress"]
    assert main([*resume, "--generations", "4"]) == 0  # the schedule is the run's: it holds across a resume
    assert _lrs(run_dir) == pytest.approx([0.01, 0.001, 0.001, 0.0001])


@pytest.mark.parametrize("extra, word", [(["--lr-drop-at", "0"], "--lr-drop-at"),
                                         (["--lr-drop-at", "x"], "--lr-drop-at"),
                                         (["--lr-drop-at", "5,3"], "increase"),
                                         (["--lr-drop-at", "5", "--schedule", "cosine"], "cosine"),
                                         (["--schedule", "step"], "--lr-drop-at")])
def test_a_bad_lr_schedule_is_one_line_and_creates_nothing(tmp_path, capsys, extra, word):
    run_dir = str(tmp_path / "run")
    assert main([*FLAGS, "--out", run_dir, "--generations", "1", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and word in err[0], err
    assert not os.path.exists(run_dir)
