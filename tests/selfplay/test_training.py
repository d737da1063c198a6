"""selfplay/training on a real local Ray (one session for the module: Ray starts slowly): synchronous DDP
equals one process on the concatenated batch, the parameter server with staleness 0 equals plain SGD,
K asynchronous workers learn a toy problem, and the 2-stage pipeline matches the single Zero net."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from selfplay.training.api import Learner, gradient_step, step_rng
from selfplay.training.toy import mlp_spec, teacher_data

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def ray_session():
    from selfplay.training._ray import RaySession

    session = RaySession(num_cpus=4)  # logical CPUs: the tests run one backend at a time
    yield session
    session.close()


def fit_seed(seed: int = 0) -> int:
    """The sampling seed a backend draws from a fresh Learner's rng (Learner(spec, seed).rng)."""
    return int(np.random.default_rng(seed).integers(2**31))


def max_difference(a: dict, b: dict) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_sync_ddp_weights_equal_one_process_on_the_concatenated_batch(ray_session):
    from selfplay.training.sync import SyncBackend, SyncConfig

    spec, source, steps = mlp_spec(batch_size=16), teacher_data(256), 4
    learner = Learner(spec)
    backend = SyncBackend(SyncConfig(workers=2, checkpoint_every=2))
    result = backend.fit(learner, spec, source, steps)
    backend.close()
    assert ray_session.owns  # the backend joined the module's Ray and left it running

    reference, one_shard = Learner(spec), Learner(spec)
    seed = fit_seed()
    for step in range(steps):
        halves = [source.shard(rank, 2).sample(8, step_rng(seed, step, rank)) for rank in (0, 1)]
        gradient_step(reference.model, reference.optimizer, spec, step, tuple(torch.cat(t) for t in zip(*halves)))
        gradient_step(one_shard.model, one_shard.optimizer, spec, step, halves[0])
    assert learner.step == steps and result.samples == steps * 16
    assert max_difference(learner.model.state_dict(), reference.model.state_dict()) < 1e-6
    # the momentum buffers came back too, so a resumed run carries on the same
    for a, b in zip(learner.optimizer.state.values(), reference.optimizer.state.values()):
        assert torch.allclose(a["momentum_buffer"], b["momentum_buffer"], atol=1e-6)
    # a step on one worker's shard alone is a different step: the all-reduce is what makes them equal
    assert max_difference(learner.model.state_dict(), one_shard.model.state_dict()) > 1e-3
    assert result.stats["allreduce_payload_bytes_per_step"] == 4 * sum(p.numel() for p in learner.model.parameters())


def test_async_with_staleness_zero_is_plain_sgd(ray_session):
    from selfplay.training.async_ps import AsyncBackend, AsyncConfig

    spec, source, steps = mlp_spec(batch_size=16), teacher_data(256), 6
    learner = Learner(spec)
    backend = AsyncBackend(AsyncConfig(workers=2, max_staleness=0))
    result = backend.fit(learner, spec, source, steps)
    backend.close()
    reference = Learner(spec)
    seed = fit_seed()
    for step in range(steps):  # the workers take turns: task t on worker t % 2, its own shard
        batch = source.shard(step % 2, 2).sample(16, step_rng(seed, step, step % 2))
        gradient_step(reference.model, reference.optimizer, spec, step, batch)
    assert result.stats["staleness_histogram"] == {0: steps}
    assert learner.step == steps
    assert max_difference(learner.model.state_dict(), reference.model.state_dict()) < 1e-6


def test_delay_compensation_corrects_a_stale_gradient_by_the_dc_asgd_formula():
    """The server's DC-ASGD-a (Zheng et al. 2017) against the formula by hand: a fresh gradient is applied
    as it is, a gradient one version stale as g + lambda_0 / sqrt(ms) * g * g * (w_now - w_pulled), with ms
    the moving mean square of the gradients; a server without compensation given that gradient lands on
    the same weights. Plain classes, no Ray."""
    from selfplay.training.api import trainer_state
    from selfplay.training.async_ps import GradientWorker, ParameterServer, _flat

    spec, source, lam = mlp_spec(batch_size=16), teacher_data(256), 2.0
    state = trainer_state(Learner(spec))
    server, reference = ParameterServer(spec, state, False, 0, lam), ParameterServer(spec, state, False)
    worker = GradientWorker(spec, source, 0, 1, seed=0)
    pulled = [server.pull(), server.pull()]  # two workers pull version 0
    reference.pull(), reference.pull()
    w0 = torch.from_numpy(pulled[0]["params"])
    fresh, stale = worker.compute(pulled[0], 0), worker.compute(pulled[1], 1)
    server.push(fresh)
    reference.push(fresh)
    w1 = torch.from_numpy(_flat(server.model.parameters()))
    assert not torch.equal(w0, w1)
    g_a, g_b = torch.from_numpy(fresh["grads"]), torch.from_numpy(stale["grads"])
    mean_square = 0.95 * g_a * g_a + 0.05 * g_b * g_b
    corrected = g_b + lam / torch.sqrt(mean_square + 1e-7) * g_b * g_b * (w1 - w0)
    assert (corrected - g_b).abs().max() > 1e-6  # the correction is not nothing
    server.push(stale)
    reference.push({**stale, "grads": corrected.numpy()})
    assert server.staleness == {0: 1, 1: 1}
    assert max_difference(server.model.state_dict(), reference.model.state_dict()) < 1e-6
    assert server.pulled == {}  # the pulled weights are dropped once their gradients are in


def test_lookahead_sends_the_weights_momentum_alone_would_reach_by_the_time_the_gradient_lands():
    """DANA's look-ahead against torch's own SGD: with no momentum yet a pull sends the weights; after two
    updates, a pull with lookahead_steps 2 sends what two SGD steps with zero gradients (momentum alone)
    reach from the server's weights and momentum. The server's own weights do not move. Plain classes."""
    import copy

    from selfplay.training.api import trainer_state
    from selfplay.training.async_ps import GradientWorker, ParameterServer, _flat

    spec, source = mlp_spec(batch_size=16), teacher_data(256)
    server = ParameterServer(spec, trainer_state(Learner(spec)), False, lookahead_steps=2)
    worker = GradientWorker(spec, source, 0, 1, seed=0)
    first = server.pull()
    assert np.array_equal(first["params"], _flat(server.model.parameters()))
    server.push(worker.compute(first, 0))
    server.push(worker.compute(server.pull(), 1))
    model = copy.deepcopy(server.model)
    optimizer = spec.build_optimizer(model)
    optimizer.load_state_dict(copy.deepcopy(server.optimizer.state_dict()))  # load_state_dict would share buffers
    for _ in range(2):
        for p in model.parameters():
            p.grad = torch.zeros_like(p)
        optimizer.step()
    now = _flat(server.model.parameters())
    ahead = server.pull()["params"]
    assert np.abs(ahead - _flat(model.parameters())).max() < 1e-6
    assert np.abs(ahead - now).max() > 1e-4  # it is not the current weights
    assert np.array_equal(now, _flat(server.model.parameters()))


def test_lookahead_needs_sgd_with_momentum():
    from selfplay.training.api import trainer_state
    from selfplay.training.async_ps import ParameterServer

    spec = mlp_spec(momentum=0.0)
    with pytest.raises(ValueError, match="needs SGD with"):
        ParameterServer(spec, trainer_state(Learner(spec)), False, lookahead_steps=1)
    ParameterServer(spec, trainer_state(Learner(spec)), False)  # without the look-ahead it is fine


def test_lookahead_reaches_as_far_as_the_steady_staleness():
    from selfplay.training.async_ps import AsyncBackend, AsyncConfig

    for config, steps in ((AsyncConfig(workers=3, lookahead=True), 2), (AsyncConfig(workers=1, lookahead=True), 0),
                          (AsyncConfig(workers=4, lookahead=True, max_staleness=1), 1),
                          (AsyncConfig(workers=4), 0)):
        assert AsyncBackend.lookahead_for(config) == steps


def validation_loss(model, source) -> float:
    x, y = (torch.from_numpy(a) for a in source.arrays)
    with torch.no_grad():
        return torch.nn.functional.mse_loss(model(x).squeeze(1), y).item()


def test_async_workers_learn_a_toy_problem_with_stale_gradients(ray_session):
    from selfplay.training.async_ps import AsyncBackend, AsyncConfig

    from selfplay.training.api import ArraySource

    spec, data = mlp_spec(batch_size=16, lr=0.02), teacher_data(768)
    train, val = ArraySource(tuple(a[:512] for a in data.arrays)), ArraySource(tuple(a[512:] for a in data.arrays))
    learner = Learner(spec)
    before = validation_loss(learner.model, val)
    backend = AsyncBackend(AsyncConfig(workers=3, staleness_lr=True))
    result = backend.fit(learner, spec, train, 150)
    backend.close()
    after = validation_loss(learner.model, val)
    histogram = result.stats["staleness_histogram"]
    assert sum(histogram.values()) == 150 and learner.step == 150
    assert max(histogram) >= 1, histogram  # 3 workers in flight: some gradients were stale
    assert after < 0.5 * before, (before, after)


def test_pipeline_stages_match_the_single_net(ray_session):
    from nets.go.presets import ZeroConfig
    from nets.go.zero_resnet import ZeroResNet
    from rl.alphago_zero.trainer import zero_loss
    from selfplay.training.pipeline import PipelineParallel, split_zero

    torch.manual_seed(0)
    net = ZeroResNet(ZeroConfig(board_size=5, blocks=4, filters=8))
    stages = split_zero(net)
    assert stages[0].names[0] == "stem" and any(n.startswith("tower") for n in stages[1].names)
    names = sorted(n for s in stages for n, _ in s.full_named_parameters())
    assert names == sorted(n for n, _ in net.named_parameters())
    x = torch.randint(0, 2, (8, 17, 5, 5)).float()
    policy, z = torch.softmax(torch.randn(8, 26), 1), torch.randint(0, 2, (8,)).float() * 2 - 1
    pipe = PipelineParallel(net)
    try:
        def single_net_gradients(micro_batches: int) -> tuple[dict, float]:
            net.zero_grad()
            total = 0.0
            for xs, ps, zs in zip(*(torch.chunk(t, micro_batches) for t in (x, policy, z))):
                loss = sum(zero_loss(*net(xs), ps, zs)) / micro_batches
                loss.backward()
                total += loss.item()
            return {n: p.grad.clone() for n, p in net.named_parameters()}, total

        gradients = {}
        for micro_batches in (1, 4):
            net.train()
            loss = pipe.train_step(x, policy, z, micro_batches, apply=False)
            gradients[micro_batches], expected_loss = single_net_gradients(micro_batches)
            assert abs(loss - expected_loss) < 1e-5
            assert max_difference(pipe.gradients(), gradients[micro_batches]) < 1e-5, micro_batches
        # with M = 4 the gradient differs from the full batch's (batch norm sees micro-batches)
        assert max_difference(gradients[1], gradients[4]) > 1e-4
        net.eval()
        pipe.eval()
        with torch.no_grad():
            logits, value = net(x)
        p_logits, p_value = pipe.forward(x, micro_batches=4)
        assert torch.allclose(p_logits, logits, atol=1e-5) and torch.allclose(p_value, value, atol=1e-5)
    finally:
        pipe.close()


@pytest.mark.parametrize("flags, message", [
    ({"train_mode": "local", "train_workers": 2}, "--train-workers must be 1"),
    ({"train_mode": "sync", "train_workers": 0}, "--train-workers must be"),
    ({"train_mode": "sync", "max_staleness": 1}, "are for --train-mode async"),
    ({"train_mode": "async", "max_staleness": -1}, "--max-staleness must be"),
    ({"train_mode": "sync", "delay_compensation": 2.0}, "are for --train-mode async"),
    ({"train_mode": "async", "delay_compensation": -1.0}, "--delay-compensation must be"),
    ({"train_mode": "local", "lookahead": True}, "are for --train-mode async")])
def test_bad_training_flags_are_user_errors(flags, message):
    from argparse import Namespace

    from goengine.cli import UserError
    from selfplay.training.cli import train_workers

    args = Namespace(**{"train_workers": None, "max_staleness": None, "staleness_lr": False,
                        "delay_compensation": 0.0, "lookahead": False, **flags})
    with pytest.raises(UserError, match=message):
        train_workers(args)


def test_a_bad_training_flag_is_one_line_before_anything_starts(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "goengine.cli", "train", "zero", "--out", str(out), "--generations",
                           "1", "--workers", "0", "--train-mode", "local", "--train-workers", "2"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "NUMBA_NUM_THREADS": "1"})
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "--train-workers must be 1" in proc.stderr, proc.stderr
    assert not out.exists()


@pytest.mark.slow
def test_zero_loop_trains_with_sync_then_resumes_with_async(tmp_path, ray_session):
    """The Zero loop does not know the mode: a generation trained by DDP on 2 Ray Train workers (each
    reading its own share of the replay records), then the run resumed and trained by the parameter
    server with the momentum look-ahead; checkpoints carry the step, and the trained weights moved away
    from the previous net."""
    from nets.go.presets import zero_config
    from rl.alphago_zero.trainer import Trainer, TrainerConfig
    from selfplay.orchestrator import LocalSelfPlay
    from selfplay.pipelines.zero import ZeroRun
    from selfplay.pipelines.zero_config import ZeroRunConfig
    from selfplay.training import make_backend
    from selfplay.selfplay_config import SelfPlayConfig

    sp = SelfPlayConfig(board_size=5, komi=0.5, net=zero_config("2x16", board_size=5), visits=8, parallel_games=4,
                        seed=2)
    config = ZeroRunConfig(selfplay=sp, trainer=TrainerConfig(batch_size=32), games_per_generation=8,
                           steps_per_generation=6, gate_games=0, seed=2)
    run_dir = str(tmp_path / "run")
    run = ZeroRun.create(run_dir, config)
    run.backend = make_backend("sync", 2)
    metrics = run.run(LocalSelfPlay(sp), generations=1)
    run.backend.close()
    assert metrics["step"] == 6 and metrics["loss"] == metrics["loss"]  # a number, not NaN
    resumed = ZeroRun.open(run_dir)
    resumed.backend = make_backend("async", 2, max_staleness=1, lookahead=True)
    resumed.run(LocalSelfPlay(sp), generations=2)
    resumed.backend.close()
    nets = [Trainer.load(run.net_path(g), board_size=5)[0] for g in (0, 1, 2)]
    assert [t.step for t in nets] == [0, 6, 12]
    for a, b in zip(nets, nets[1:]):
        assert max_difference(a.model.state_dict(), b.model.state_dict()) > 1e-4
    assert not os.path.exists(run.partial_path(2))


@pytest.fixture(scope="module")
def lee_data(tmp_path_factory):
    import glob

    from rl.alphago_lee.convert import ConvertConfig, convert

    corpus = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "fixtures", "corpus", "*.sgf")))
    out = str(tmp_path_factory.mktemp("lee") / "d")
    convert(corpus[:12], out, ConvertConfig(board_size=9, val_fraction=0.1, test_fraction=0.1))
    return out


def lee_sl_cli(data: str, out, *argv: str) -> int:
    from goengine.cli import main

    return main(["train", "lee", "sl", "--data", data, "--out", str(out), "--filters", "8", "--layers", "3",
                 "--batch-size", "16", "--no-progress", "--no-tensorboard", *argv])


def lee_reference(data: str, steps: int, shard_step) -> torch.nn.Module:
    """The SL net after `steps` plain steps in this process, step t on the batch shard_step(source, seed,
    t) draws: what a backend that trains right must land on."""
    from rl.alphago_lee import sl
    from rl.alphago_lee.dataset import LeeDataset
    from selfplay.training.api import TrainSpec

    config = sl.SLConfig(filters=8, layers=3, batch_size=16)
    spec, trainer = TrainSpec(**sl.spec_parts(config)), sl.SLTrainer(config)
    source = sl.SLBatchSource(LeeDataset.open(data).split("train"))
    seed = int(trainer.rng.integers(2**31))  # what the backend draws at step 0
    for step in range(steps):
        gradient_step(trainer.model, trainer.optimizer, spec, step, shard_step(source, seed, step))
    return trainer.model


def saved_sl(out):
    from nets.go import checkpoint

    model, meta = checkpoint.load(os.path.join(out, "sl.pt"), board_size=9, feature_set="lee_policy")
    return model, meta.extra


def test_lee_sl_trains_on_the_parameter_server_and_resumes_in_this_process(lee_data, tmp_path, ray_session):
    """`goengine train lee sl --train-mode async --max-staleness 0` with 2 workers is plain SGD over the
    workers' shards in turn (the oracle below); the run then resumes locally from its checkpoint, and
    again asynchronously with the momentum look-ahead (its formula: the look-ahead test above)."""
    out = tmp_path / "run"
    assert lee_sl_cli(lee_data, out, "--steps", "5", "--train-mode", "async", "--train-workers", "2",
                      "--max-staleness", "0") == 0
    model, extra = saved_sl(out)
    assert extra["step"] == 5

    def in_turn(source, seed, step):
        return source.shard(step % 2, 2).sample(16, step_rng(seed, step, step % 2))

    reference = lee_reference(lee_data, 5, in_turn)
    assert max_difference(model.state_dict(), reference.state_dict()) < 1e-5
    assert lee_sl_cli(lee_data, out, "--resume", "--steps", "7") == 0
    assert saved_sl(out)[1]["step"] == 7
    rows = (out / "sl" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    losses = [r.split(",")[header.index("train_loss")] for r in rows[1:]]
    assert sum(1 for x in losses if x) >= 2  # a training-loss row from each mode
    before = saved_sl(out)[0].state_dict()
    assert lee_sl_cli(lee_data, out, "--resume", "--steps", "10", "--train-mode", "async", "--train-workers", "2",
                      "--lookahead") == 0
    after, extra = saved_sl(out)
    assert extra["step"] == 10 and max_difference(after.state_dict(), before) > 1e-5


@pytest.mark.slow
def test_lee_sl_with_sync_ddp_equals_one_process_on_the_concatenated_batch(lee_data, tmp_path, ray_session):
    out = tmp_path / "run"
    assert lee_sl_cli(lee_data, out, "--steps", "3", "--train-mode", "sync", "--train-workers", "2") == 0
    model, extra = saved_sl(out)
    assert extra["step"] == 3

    def concatenated(source, seed, step):
        from rl.alphago_lee.sl import SLBatch

        halves = [source.shard(rank, 2).sample(8, step_rng(seed, step, rank)) for rank in (0, 1)]
        return SLBatch(np.concatenate([h.planes_BCHW for h in halves]), np.concatenate([h.action_B for h in halves]))

    reference = lee_reference(lee_data, 3, concatenated)
    assert max_difference(model.state_dict(), reference.state_dict()) < 1e-5
