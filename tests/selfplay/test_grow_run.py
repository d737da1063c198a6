"""`train zero --grow G:NET`: a run's net grows mid-run, as KataGo's and Leela Zero's runs went from small
nets to large ones. At each generation of the plan the candidate is the bigger net (a deepening starts as
the old net, anything else is bootstrapped on the replay window first), self-play plays it once it is
promoted (the workers are rebuilt for it, in this process, behind an inference server, and on Ray), and a
resume across the growth carries on with it."""
import csv

import pytest

from goengine.cli import main
from nets.go import checkpoint
from selfplay.pipelines.zero import ZeroRun
from rl.records import record_paths

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py

TINY = ["--board-size", "5", "--net", "2x16", "--visits", "8", "--games", "4", "--parallel-games", "2",
        "--steps", "2", "--batch-size", "16", "--gate-games", "0", "--window", "8", "--seed", "5",
        "--threads", "1", "--no-progress", "--grow", "2:3x16,3:3x24", "--bootstrap-steps", "3"]


def column(run_dir, name) -> list[int]:
    with open(f"{run_dir}/metrics.csv", newline="") as f:
        return [int(float(row[name])) for row in csv.DictReader(f)]


def check_grown(run_dir) -> None:
    run = ZeroRun.open(run_dir, board_size=5)
    assert run.config.grow == ((2, "3x16"), (3, "3x24"))  # as resume reads it back
    shapes = []
    for g in range(4):
        net, _ = checkpoint.load(run.net_path(g), board_size=5)
        shapes.append((net.config.blocks + 1, net.config.filters))
    assert shapes == [(2, 16), (2, 16), (3, 16), (3, 24)]
    assert column(run_dir, "blocks") == [2, 3, 3] and column(run_dir, "filters") == [16, 16, 24]
    # 2 steps a generation; the deepening at 2 needs no bootstrap, the widening at 3 three steps first
    assert column(run_dir, "step") == [2, 4, 9]
    # generation 3's games were played by generation 2's grown net (a 2x16 worker could not load it)
    assert len(record_paths(run.games_dir, 3)) == 12 and run.state["best"] == 3


def test_the_net_grows_and_a_resume_across_the_growth_carries_on_with_it(tmp_path, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    assert main(["train", "zero", "--out", run_dir, *TINY, "--workers", "0", "--generations", "2"]) == 0
    assert main(["train", "zero", "--out", run_dir, "--resume", "--workers", "0", "--generations", "3",
                 "--no-progress"]) == 0
    check_grown(run_dir)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("executor", [["--workers", "0", "--inference", "server"], ["--workers", "1"]],
                         ids=["inference-server", "ray"])
def test_self_play_workers_are_rebuilt_for_the_grown_net(tmp_path, executor, restore_torch_threads):
    run_dir = str(tmp_path / "run")
    assert main(["train", "zero", "--out", run_dir, *TINY, *executor, "--generations", "3"]) == 0
    check_grown(run_dir)
