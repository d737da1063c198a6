"""The AlphaGo Zero loop end to end: the run folder's contents, exact resume after kill -9 of a real
`goengine train zero` process, and one clear line for every bad input of the command."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

from goengine.cli import main
from goengine.sgf import load_game
from nets.go import checkpoint
from nets.go.presets import zero_config
from selfplay.pipelines.zero import ZeroRun
from selfplay.pipelines.zero_config import ZeroRunConfig
from rl.alphago_zero.trainer import TrainerConfig
from rl.elo import RatingTable
from rl.metrics_log import read_metrics
from rl.records import iter_records, record_paths
from selfplay.orchestrator import LocalSelfPlay
from selfplay.selfplay_config import SelfPlayConfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--board-size", "5", "--net", "2x16", "--visits", "8", "--games", "12", "--parallel-games", "4",
        "--steps", "10", "--batch-size", "32", "--gate-games", "4", "--window", "100", "--seed", "3",
        "--workers", "0", "--threads", "1", "--no-progress"]


def tiny_config(**kw):
    sp = SelfPlayConfig(board_size=5, komi=0.5, net=zero_config("2x16", board_size=5), visits=8, parallel_games=4,
                        resign_threshold=0.05, seed=2)
    base = dict(selfplay=sp, trainer=TrainerConfig(batch_size=32), games_per_generation=8, steps_per_generation=10,
                gate_games=4, seed=2)
    base.update(kw)
    return ZeroRunConfig(**base)


def test_run_folder_contents(tmp_path, torch_one_thread):
    run_dir = str(tmp_path / "run")
    config = tiny_config()
    run = ZeroRun.create(run_dir, config)
    seen = []
    last = run.run(LocalSelfPlay(config.selfplay), generations=2, on_generation=seen.append)
    assert last is seen[-1] and len(seen) == 2 and last["best"] == run.state["best"]
    assert [m["promoted"] for m in seen] == [int(RatingTable(run_dir)[g].promoted) for g in (1, 2)]
    assert json.load(open(os.path.join(run_dir, "state.json")))["generation"] == 2
    records = list(iter_records(os.path.join(run_dir, "games")))
    assert [r.generation for r in records] == [1] * 8 + [2] * 8
    assert all(r.weights_version == (0 if r.generation == 1 else seen[0]["best"]) for r in records)
    sgfs = sorted(os.listdir(os.path.join(run_dir, "sgf")))
    assert len(sgfs) == 4 and load_game(os.path.join(run_dir, "sgf", sgfs[0])).size == 5
    table = RatingTable(run_dir)
    assert sorted(table.ratings) == [0, 1, 2] and all(table[g].games == 4 for g in (1, 2))
    rows = read_metrics(run_dir)
    assert [int(r["generation"]) for r in rows] == [1, 2]
    assert {"loss", "policy_loss", "value_loss", "games_per_hour", "net_share", "elo", "gate_score"} <= rows[0].keys()
    assert os.path.exists(os.path.join(run_dir, "metrics.png"))
    model, meta = checkpoint.load(os.path.join(run_dir, "best.pt"), board_size=5, feature_set="zero")
    assert meta.extra["generation"] == run.state["best"]
    summary = run.summary()
    assert "2 generations, 16 self-play games" in summary and f"--weights {run_dir}/best.pt" in summary
    # a reopened run continues from its state
    again = ZeroRun.open(run_dir, board_size=5)
    assert again.state == run.state and again.config == config


def _train(run_dir, *extra):
    return subprocess.Popen([sys.executable, "-m", "goengine.cli", "train", "zero", "--out", run_dir, *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when(proc, condition, timeout=120):
    """SIGKILL proc as soon as condition() holds; returns whether it was still running then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            alive = proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return alive
        if proc.poll() is not None:
            return False
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the run never reached the kill point")


def _generation(run_dir):
    try:
        with open(os.path.join(run_dir, "state.json")) as f:
            return json.load(f)["generation"]
    except (OSError, ValueError):
        return -1


def test_resume_after_kill_9_is_exact(tmp_path):
    reference, interrupted = str(tmp_path / "reference"), str(tmp_path / "interrupted")
    ref = _train(reference, *TINY, "--generations", "3")
    out, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err
    assert "goengine train zero: 3 generations, 36 self-play games" in out

    # kill in the middle of generation 2's self-play, then just after generation 2 has finished
    games_of_2 = lambda: any(os.path.basename(p).startswith("gen00002")
                             for p in record_paths(os.path.join(interrupted, "games")))
    assert _kill_when(_train(interrupted, *TINY, "--generations", "3"), games_of_2)
    assert _generation(interrupted) == 1
    assert _kill_when(_train(interrupted, "--resume", "--generations", "3", "--workers", "0", "--threads", "1",
                             "--no-progress"), lambda: _generation(interrupted) >= 2)
    assert _generation(interrupted) == 2
    last = _train(interrupted, "--resume", "--generations", "3", "--workers", "0", "--threads", "1", "--no-progress")
    out, err = last.communicate(timeout=300)
    assert last.returncode == 0, err

    for name in ("state.json", "elo.json"):
        assert open(os.path.join(reference, name)).read() == open(os.path.join(interrupted, name)).read(), name
    for g in range(4):  # every generation's net, optimizer and RNG states, bit for bit
        a = torch.load(os.path.join(reference, "nets", f"gen{g:05d}.pt"), weights_only=True)
        b = torch.load(os.path.join(interrupted, "nets", f"gen{g:05d}.pt"), weights_only=True)
        for key in a["state_dict"]:
            assert torch.equal(a["state_dict"][key], b["state_dict"][key]), (g, key)
        ta, tb = a["extra"]["trainer"], b["extra"]["trainer"]
        assert ta["numpy_rng"] == tb["numpy_rng"] and torch.equal(ta["torch_rng"], tb["torch_rng"])
        assert ta["step"] == tb["step"] == 10 * g
        for sa, sb in zip(ta["optimizer"]["state"].values(), tb["optimizer"]["state"].values()):
            assert all(torch.equal(sa[k], sb[k]) for k in sa)
    names = lambda d: sorted(os.path.basename(p) for p in record_paths(os.path.join(d, "games")))
    assert names(reference) == names(interrupted) and len(names(reference)) == 36
    for x, y in zip(iter_records(os.path.join(reference, "games")), iter_records(os.path.join(interrupted, "games"))):
        assert (x.moves == y.moves).all() and (x.policy_targets == y.policy_targets).all()
    assert [int(r["generation"]) for r in read_metrics(interrupted)] == [1, 2, 3], "no row written twice"


def _cli(capsys, *args):
    code = main(["train", "zero", *args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def test_bad_inputs_give_one_line(tmp_path, capsys, torch_one_thread):
    run_dir = str(tmp_path / "run5")
    ZeroRun.create(run_dir, tiny_config())
    cases = [
        (["--out", str(tmp_path / "a"), "--generations", "1", "--weights", str(tmp_path / "missing.pt")],
         "no such file"),
        (["--out", str(tmp_path / "b"), "--generations", "1", "--board-size", "9",
          "--weights", os.path.join(run_dir, "best.pt")], "board size 5, expected 9"),
        (["--out", str(tmp_path / "c"), "--generations", "1", "--board-size", "5", "--net", "6x64",
          "--weights", os.path.join(run_dir, "best.pt")], "do not fit"),
        (["--out", run_dir, "--resume", "--generations", "1", "--board-size", "9"], "is a 5x5 run, not 9x9"),
        (["--out", run_dir, "--generations", "1", "--board-size", "9"], "is a 5x5 run, not 9x9"),
        (["--out", run_dir, "--generations", "1", "--board-size", "5"], "already holds a run"),
        (["--out", str(tmp_path / "d"), "--resume", "--generations", "1"], "no run to resume"),
        (["--out", str(tmp_path / "e")], "--generations G or --minutes M"),
        (["--out", str(tmp_path / "f"), "--generations", "1", "--visits", "0"], "--visits must be at least 1"),
        (["--out", str(tmp_path / "g"), "--generations", "1", "--net", "7y7"], "unknown preset"),
    ]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cases.append((["--out", str(tmp_path / "h"), "--generations", "1", "--workers", "1",
                   "--address", f"127.0.0.1:{port}"], f"cannot reach a Ray cluster at 127.0.0.1:{port}"))
    for args, message in cases:
        code, err = _cli(capsys, *args)
        assert code == 2 and len(err) == 1 and message in err[0], (args, err)
        assert err[0].startswith("goengine train: ")
    for name in "abcdefgh":
        assert not os.path.exists(tmp_path / name), f"a failed start left {name}"
    # a damaged trainer checkpoint in a run being resumed
    with open(os.path.join(run_dir, "nets", "gen00000.pt"), "wb") as f:
        f.write(b"damaged")
    code, err = _cli(capsys, "--out", run_dir, "--resume", "--generations", "1", "--workers", "0", "--no-progress")
    assert code == 2 and len(err) == 1 and "gen00000.pt: cannot be read" in err[0], err


def test_a_generation_replayed_from_disk_reports_no_rates():
    """After a restart whose generation had all its games on disk, nothing was played: its rates are NaN
    in metrics.csv (not 0 games an hour), and the counts still come from the records."""
    from selfplay.pipelines.zero import _selfplay_metrics
    from selfplay.worker import WorkerStats

    from nets.go.zero_resnet import ZeroResNet

    net = zero_config("2x16", board_size=5)
    selfplay = LocalSelfPlay(SelfPlayConfig(board_size=5, komi=0.5, net=net, visits=4, parallel_games=4,
                                            resign_threshold=0, seed=1))
    torch.manual_seed(0)
    selfplay.publish(ZeroResNet(net).state_dict(), 0)
    played = [r for chunk, _ in selfplay.play(1, [(0, 4)]) for r in chunk]
    fresh = _selfplay_metrics(played, WorkerStats(games=4, moves=40, seconds=2.0, net_seconds=1.0), 2.0)
    assert fresh["games_per_hour"] == 7200 and fresh["net_share"] == 0.5
    on_disk = _selfplay_metrics(played, WorkerStats(), 0.001)
    assert on_disk["games"] == 4 and on_disk["positions"] == sum(r.num_moves for r in played)
    assert all(on_disk[k] != on_disk[k] for k in ("games_per_hour", "positions_per_s", "net_share"))


def test_an_interrupt_during_training_resumes_from_the_same_step(tmp_path, torch_one_thread, monkeypatch, request):
    """Ctrl-C (or SIGTERM, which the CLI turns into the same exception) in the middle of a generation's
    training steps saves the trainer between two steps; the resumed generation ends with exactly the net,
    optimizer and RNG states of an uninterrupted one. The signal here arrives inside step 4, after the
    optimizer update: delivered at once it would lose that update from the count."""
    from rl.alphago_zero.trainer import Trainer

    config = tiny_config()
    reference, cut = str(tmp_path / "reference"), str(tmp_path / "cut")
    ZeroRun.create(reference, config).run(LocalSelfPlay(config.selfplay), generations=1)

    real_step = Trainer.train_step

    def step_then_interrupt(self, batch):
        metrics = real_step(self, batch)
        if self.step == 4:
            os.kill(os.getpid(), signal.SIGINT)
        return metrics

    run = ZeroRun.create(cut, config)
    monkeypatch.setattr(Trainer, "train_step", step_then_interrupt)
    # A shell's background job inherits SIGINT ignored; Ctrl-C at a terminal meets Python's own handler.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    with pytest.raises(KeyboardInterrupt):
        run.run(LocalSelfPlay(config.selfplay), generations=1)
    monkeypatch.undo()
    partial = torch.load(run.partial_path(1), weights_only=True)
    assert partial["extra"]["partial"]["steps"] == 4 == partial["extra"]["trainer"]["step"]
    assert not os.path.exists(run.net_path(1))

    ZeroRun.open(cut).run(LocalSelfPlay(config.selfplay), generations=1)
    assert not os.path.exists(run.partial_path(1))
    a = torch.load(os.path.join(reference, "nets", "gen00001.pt"), weights_only=True)
    b = torch.load(run.net_path(1), weights_only=True)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    ta, tb = a["extra"]["trainer"], b["extra"]["trainer"]
    assert ta["numpy_rng"] == tb["numpy_rng"] and torch.equal(ta["torch_rng"], tb["torch_rng"]) and tb["step"] == 10
    for sa, sb in zip(ta["optimizer"]["state"].values(), tb["optimizer"]["state"].values()):
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a["extra"]["train_metrics"] == b["extra"]["train_metrics"]
