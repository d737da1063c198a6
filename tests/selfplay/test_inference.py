"""The inference server (selfplay/inference.py): its answers are the net's own for every request size and
however requests are merged; concurrent requests share forward passes, flushed when full, when every
client waits, or after max_wait_ms; a worker fed by it plays the very games of a worker running torch
itself; on a real local Ray (slow tests), `goengine selfplay --inference server` writes valid records with
merged batches and the orchestrator replaces a killed server; cuda asked for without a GPU is one line."""
import asyncio
import re
import threading
import time

import numpy as np
import pytest
import torch

from goengine.cli import main
from nets.go.presets import zero_config
from nets.go.zero_resnet import ZeroResNet
from rl.records import check_record, iter_records
from selfplay.inference import (InferenceServer, InferenceStats, LocalServer, ServerConfig, StaleWeightsError,
                                resolve_device)
from selfplay.selfplay_config import SelfPlayConfig
from selfplay.worker import SelfPlayWorker, game_seed

SIZE = 5
NET = zero_config("2x16", board_size=SIZE)
A = SIZE * SIZE + 1

pytestmark = pytest.mark.usefixtures("torch_one_thread")  # tests/conftest.py


def net(seed=0):
    torch.manual_seed(seed)
    return ZeroResNet(NET).eval()


def requests(rng, sizes):
    """(planes, legal) of each size: random 0/1 planes as uint8, random legal moves with pass legal."""
    out = []
    for n in sizes:
        planes = rng.integers(0, 2, (n, 17, SIZE, SIZE)).astype(np.uint8)
        legal = (rng.random((n, A)) < 0.6).astype(np.int8)
        legal[:, -1] = 1
        out.append((planes, legal))
    return out


def reference(model, planes, legal):
    """The net's answer computed directly: one torch forward, softmax over legal moves, (v + 1) / 2."""
    with torch.no_grad():
        logits, v = model(torch.from_numpy(planes.astype(np.float32)))
    logits = logits.numpy().astype(np.float64)
    logits = np.where(legal != 0, logits, -np.inf)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), (v.numpy() + 1) / 2


def assert_matches(answer, expected):
    np.testing.assert_allclose(answer[0], expected[0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(answer[1], expected[1], atol=1e-5, rtol=0)


def server(model, config=ServerConfig(), clients=None, version=0):
    return InferenceServer(NET, model.state_dict(), version, config, clients=clients)


def test_answers_are_the_nets_alone_and_merged():
    model = net()
    rng = np.random.default_rng(1)
    reqs = requests(rng, (1, 3, 16, 40, 7))
    s = server(model, ServerConfig(max_batch=16, max_wait_ms=50))
    for planes, legal in reqs:  # unqueued, cut into passes of 16 (40 = 16 + 16 + 8)
        assert_matches(s.forward(planes, legal), reference(model, planes, legal))
        assert_matches(s.forward(planes.astype(np.float32), legal), reference(model, planes, legal))

    async def together():
        return await asyncio.gather(*(s.evaluate(p, legal) for p, legal in reqs))

    answers = asyncio.run(together())
    for (planes, legal), answer in zip(reqs, answers):  # each caller gets its own rows back
        assert answer[0].shape == (len(planes), A) and answer[1].shape == (len(planes),)
        assert_matches(answer, reference(model, planes, legal))
    stats = s.stats()
    assert stats.requests == 5 and stats.positions == 67
    assert stats.forwards < stats.requests, "requests were merged"
    s.close()


def test_new_weights_change_the_answers_and_a_stale_version_is_refused():
    old, new = net(0), net(1)
    (planes, legal), = requests(np.random.default_rng(2), (6,))
    s = server(old, version=3)
    s.set_weights(new.state_dict(), 4)
    assert s.version == 4
    assert_matches(asyncio.run(s.evaluate(planes, legal, 4)), reference(new, planes, legal))
    with pytest.raises(StaleWeightsError, match="version 3"):
        asyncio.run(s.evaluate(planes, legal, 3))
    s.close()


def test_concurrent_requests_share_passes_up_to_max_batch():
    model = net()
    reqs = requests(np.random.default_rng(3), [3] * 8)

    def run(config):
        s = server(model, config)

        async def together():
            return await asyncio.gather(*(s.evaluate(p, legal) for p, legal in reqs))

        answers = asyncio.run(together())
        for (planes, legal), answer in zip(reqs, answers):
            assert_matches(answer, reference(model, planes, legal))
        s.close()
        return s.stats()

    # all 8 requests are queued before the batcher first runs: one pass, or passes of 4 requests
    unbounded = run(ServerConfig(max_wait_ms=100))
    assert (unbounded.forwards, unbounded.requests, unbounded.mean_batch) == (1, 8, 24)
    capped = run(ServerConfig(max_batch=12, max_wait_ms=100))
    assert (capped.forwards, capped.flush_full, capped.mean_batch) == (2, 2, 12)


def test_a_lone_request_waits_max_wait_ms_unless_every_client_is_waiting():
    model = net()
    (planes, legal), = requests(np.random.default_rng(4), (2,))
    waiting = LocalServer(server(model, ServerConfig(max_wait_ms=300)))  # clients unknown
    start = time.perf_counter()
    waiting.evaluate(planes, legal)
    assert time.perf_counter() - start >= 0.29
    assert waiting.stats().flush_wait == 1
    waiting.close()
    alone = LocalServer(server(model, ServerConfig(max_wait_ms=5000), clients=1))
    start = time.perf_counter()
    alone.evaluate(planes, legal)
    assert time.perf_counter() - start < 4
    assert alone.stats().flush_clients == 1
    alone.close()


def config(**kw):
    base = dict(board_size=SIZE, komi=0.5, net=NET, visits=8, parallel_games=4, resign_threshold=0, seed=5)
    base.update(kw)
    return SelfPlayConfig(**base)


def test_a_worker_fed_by_the_server_plays_the_games_of_local_torch():
    # max_batch = the worker's whole batch and one client: every request is one pass of its own, of the
    # shape the worker's NetEvaluator would run, so the games are the same to the last bit
    weights = net().state_dict()
    local = SelfPlayWorker(config(), weights, 2).play_games(6, generation=1)
    s = LocalServer(server(net(), ServerConfig(max_batch=4), clients=1, version=2))
    try:
        worker = SelfPlayWorker(config(inference="server"), None, 2, server=s)
        assert worker.model is None, "the worker holds no net"
        served = worker.play_games(6, generation=1)
        stats = s.stats()
    finally:
        s.close()
    assert stats.requests == stats.forwards and stats.positions == worker.stats.evaluations
    for a, b in zip(sorted(local, key=lambda r: r.seed), sorted(served, key=lambda r: r.seed)):
        assert a.seed == b.seed and b.weights_version == 2
        np.testing.assert_array_equal(a.moves, b.moves)
        np.testing.assert_array_equal(a.policy_targets, b.policy_targets)
        assert a.result == b.result


def test_two_workers_on_threads_share_passes():
    # the merged batches of two blocking workers: fewer passes than requests, the games all valid
    s = LocalServer(server(net(), ServerConfig(max_wait_ms=20), clients=2, version=0))
    workers = [SelfPlayWorker(config(inference="server"), None, 0, i, server=s) for i in range(2)]
    records = [[], []]
    errors = []

    def play(i):
        try:
            records[i] = workers[i].play_games(3, generation=0, first_game=3 * i)
        except Exception as e:  # a thread's exception would only be printed: the test asserts on it
            errors.append(e)

    threads = [threading.Thread(target=play, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = s.stats()
    s.close()
    assert not errors
    assert sorted(r.seed for rs in records for r in rs) == sorted(game_seed(5, 0, i) for i in range(6))
    for r in records[0] + records[1]:
        check_record(r)
    assert stats.positions == sum(w.stats.evaluations for w in workers)
    assert stats.forwards < stats.requests and stats.flush_clients > 0
    assert stats.mean_batch > stats.positions / stats.requests, "a pass holds more than a request"


def test_stats_since():
    a = InferenceStats(requests=10, forwards=4, positions=40, device="cpu")
    b = InferenceStats(requests=30, forwards=8, positions=100, device="cpu")
    assert (b.since(a).requests, b.since(a).forwards, b.since(a).mean_batch) == (20, 4, 15)
    assert a.since(b) == a, "a restarted server's stats are all new"


def test_resolve_device():
    assert resolve_device("auto", False) == "cpu" and resolve_device("auto", True) == "cuda"
    assert resolve_device("cpu", True) == "cpu"
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda", False)
    with pytest.raises(ValueError, match="fp16"):
        ServerConfig(device="cpu", fp16=True)


# --- the command line ---
@pytest.fixture
def weights_file(tmp_path):
    from nets.go.checkpoint import save

    path = tmp_path / "best.pt"
    save(path, net(), feature_set="zero", extra={"generation": 3})
    return str(path)


def one_line_error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_one_line(tmp_path, weights_file, capsys):
    out = tmp_path / "games"
    err = one_line_error(capsys, ["selfplay", "--weights", weights_file, "--games", "2", "--workers", "2",
                                  "--out", str(out), "--inference", "server", "--inference-device", "cuda"])
    assert err.startswith("goengine selfplay: --inference-device cuda:") and "no CUDA GPU" in err
    assert not out.exists(), "nothing written, no Ray started"
    run_dir = tmp_path / "run"
    err = one_line_error(capsys, ["train", "zero", "--out", str(run_dir), "--board-size", "5", "--net", "2x16",
                                  "--generations", "1", "--inference", "server", "--inference-device", "cuda"])
    assert err.startswith("goengine train: --inference-device cuda:")
    assert not run_dir.exists()


def test_server_flags_need_the_server(tmp_path, weights_file, capsys):
    argv = ["selfplay", "--weights", weights_file, "--games", "2", "--out", str(tmp_path / "o")]
    err = one_line_error(capsys, [*argv, "--inference-device", "cpu"])
    assert "--inference-device is for --inference server" in err
    err = one_line_error(capsys, [*argv, "--inference", "server", "--inference-fp16", "--inference-device", "cpu"])
    assert "--inference-fp16 needs a CUDA device" in err
    err = one_line_error(capsys, [*argv, "--inference", "server", "--inference-max-batch", "0"])
    assert "--inference-max-batch must be at least 1" in err


def test_local_selfplay_through_the_server(tmp_path, weights_file, capsys):
    # --workers 1: the worker and the server in this process
    out = str(tmp_path / "games")
    assert main(["selfplay", "--weights", weights_file, "--games", "2", "--workers", "1", "--out", out,
                 "--visits", "4", "--parallel-games", "2", "--komi", "0.5", "--sgf-every", "0",
                 "--inference", "server", "--inference-device", "auto"]) == 0
    records = list(iter_records(out))
    assert len(records) == 2 and all(r.weights_version == 3 for r in records)
    assert "inference server (cpu):" in capsys.readouterr().err


def test_train_zero_through_a_local_server(tmp_path, capsys):
    run_dir = tmp_path / "run"
    tiny = ["--board-size", "5", "--net", "2x16", "--visits", "4", "--games", "2", "--parallel-games", "2",
            "--steps", "1", "--batch-size", "8", "--gate-games", "0", "--window", "10", "--workers", "0",
            "--threads", "1", "--no-progress", "--generations", "1"]
    assert main(["train", "zero", "--out", str(run_dir), *tiny, "--inference", "server",
                 "--inference-device", "cpu"]) == 0
    from selfplay.pipelines.zero import ZeroRun

    assert ZeroRun.open(str(run_dir)).config.selfplay.inference == "server"
    assert re.search(r"generation 1: 2 games, .* inference server: mean batch [\d.]+", capsys.readouterr().err)


# --- on a real local Ray ---
SUMMARY = re.compile(r"inference server \(cpu\): (\d+) forward passes for (\d+) requests, mean batch")


@pytest.mark.slow  # about 25 s: a Ray instance and three actors
def test_selfplay_cli_on_ray_merges_the_workers_batches(tmp_path, weights_file, capsys):
    import ray

    out = str(tmp_path / "games")
    try:
        assert main(["selfplay", "--weights", weights_file, "--games", "4", "--workers", "2", "--out", out,
                     "--visits", "8", "--parallel-games", "2", "--komi", "0.5", "--inference", "server",
                     "--inference-device", "cpu", "--inference-max-wait-ms", "50"]) == 0
    finally:
        ray.shutdown()
    records = list(iter_records(out))
    assert sorted(r.seed for r in records) == sorted(game_seed(0, 0, i) for i in range(4))
    for r in records:
        check_record(r)
        assert r.weights_version == 3 and r.board_size == SIZE
    forwards, reqs = SUMMARY.search(capsys.readouterr().err).groups()
    assert int(forwards) < int(reqs), "the two workers' requests shared passes"
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def local_ray():
    import ray

    from goengine.warmup import warm
    from selfplay.orchestrator import worker_env

    warm((SIZE,))  # workers find every kernel compiled in the shared numba cache
    # 3 logical CPUs: two workers and the inference server, which takes a CPU of its own on a CPU machine
    ray.init(num_cpus=3, include_dashboard=False, runtime_env={"env_vars": worker_env()}, log_to_driver=False,
             configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.slow  # about 30 s on two busy cores, mostly starting three actors twice
def test_orchestrator_replaces_a_killed_server_and_publishes_new_weights_to_it(local_ray):
    from selfplay.orchestrator import Orchestrator, chunks_of

    ray = local_ray
    # a long max_wait_ms: a request waits for the other worker's, so merging does not hang on timing
    orchestrator = Orchestrator(config(inference="server", parallel_games=3, visits=6), workers=2,
                                server=ServerConfig(device="cpu", max_wait_ms=50))
    try:
        assert orchestrator.server_config.max_batch == 6, "default: both workers' whole batches in one pass"
        orchestrator.publish(net(0).state_dict(), version=4)
        first = orchestrator.server
        results = []
        for records, _ in orchestrator.play(generation=1, chunks=chunks_of(9, 3)):
            if not results:
                ray.kill(orchestrator.server)  # the chunk in flight fails inside its worker, and is replayed
            results += records
        assert orchestrator.server_restarts == 1 and orchestrator.server is not first
        assert orchestrator.restarts == 1, "no worker was replaced"
        assert sorted(r.seed for r in results) == sorted(game_seed(5, 1, i) for i in range(9)), "each game once"
        stats = orchestrator.inference_stats()
        assert stats.forwards < stats.requests, "the new server merged the two workers' requests"
        # the next generation's weights reach the server before any game plays under them
        orchestrator.publish(net(1).state_dict(), version=5)
        assert ray.get(orchestrator.server.get_version.remote()) == 5
        later = [r for records, _ in orchestrator.play(generation=2, chunks=chunks_of(2, 1)) for r in records]
    finally:
        orchestrator.close()
    for r in results + later:
        check_record(r)
    assert {r.weights_version for r in results} == {4} and {r.weights_version for r in later} == {5}
