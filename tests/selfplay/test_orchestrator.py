"""Self-play on a real local Ray: chunks collected in completion order, a killed worker replaced and its
chunk replayed, the same games as in-process self-play, a worker's exception re-raised as itself."""
import socket
import time

import numpy as np
import pytest
import ray
import torch

from nets.go.presets import zero_config
from nets.go.zero_resnet import ZeroResNet
from selfplay.orchestrator import LocalSelfPlay, Orchestrator, check_address, chunks_of, worker_env
from selfplay.selfplay_config import SelfPlayConfig
from selfplay.worker import game_seed

NET = zero_config("2x16", board_size=5)
CONFIG = SelfPlayConfig(board_size=5, komi=0.5, net=NET, visits=6, parallel_games=3, resign_threshold=0, seed=11)


@pytest.fixture(scope="module")
def weights():
    torch.manual_seed(0)
    return ZeroResNet(NET).state_dict()


@pytest.fixture(scope="module")
def local_ray():
    from goengine.warmup import warm

    warm((5,))  # workers find every kernel compiled in the shared numba cache
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": worker_env()}, log_to_driver=False,
             configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def test_chunks_cover_the_games():
    assert chunks_of(10, 4) == [(0, 4), (4, 4), (8, 2)]
    assert chunks_of(3, 4, first=5) == [(5, 3)]


def test_dead_worker_is_replaced_and_games_match_local_play(local_ray, weights):
    orchestrator = Orchestrator(CONFIG, workers=2)
    assert not orchestrator._owns_ray  # the test's Ray instance is used and left running
    try:
        orchestrator.publish(weights, version=4)
        chunks = chunks_of(12, 3)
        results, killed_pid = [], None
        for records, stats in orchestrator.play(generation=2, chunks=chunks):
            results.append(records)
            assert stats.games == len(records) and stats.net_seconds < stats.seconds
            if killed_pid is None:
                killed_pid = ray.get(orchestrator.actors[0].pid.remote())
                ray.kill(orchestrator.actors[0])
        assert orchestrator.restarts >= 1
        assert ray.get(orchestrator.actors[0].pid.remote()) != killed_pid
    finally:
        orchestrator.close()
    remote = sorted((r for chunk in results for r in chunk), key=lambda r: r.seed)
    assert [r.seed for r in remote] == sorted(game_seed(11, 2, i) for i in range(12)), "every game exactly once"
    assert all(r.weights_version == 4 and r.generation == 2 for r in remote)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = LocalSelfPlay(CONFIG)
        local.publish(weights, 4)
        here = sorted((r for records, _ in local.play(2, chunks) for r in records), key=lambda r: r.seed)
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(remote, here):  # the same games whichever process played them
        np.testing.assert_array_equal(a.moves, b.moves)
        np.testing.assert_array_equal(a.policy_targets, b.policy_targets)


def test_worker_exception_is_reraised_as_itself(local_ray, weights):
    orchestrator = Orchestrator(CONFIG, workers=1)
    try:
        orchestrator.publish(weights, 0)
        with pytest.raises(ValueError, match="negative"):  # SeedSequence refuses a negative generation
            list(orchestrator.play(generation=-1, chunks=[(0, 1)]))
        assert orchestrator.restarts == 0
    finally:
        orchestrator.close()


def test_unreachable_address_fails_fast():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}"):
        check_address(f"127.0.0.1:{port}")
    assert time.perf_counter() - start < 5
    with pytest.raises(ConnectionError, match="host:port"):
        check_address("nonsense")
    check_address("auto")  # left to ray.init
