"""Self-play executors: `Orchestrator` runs SelfPlayWorkers as Ray actors; `LocalSelfPlay` runs one in
this process. Both offer the same three calls, so the training loop does not care which it has:

    executor.publish(state_dict, version)       # the weights that play from now on
    for records, stats in executor.play(generation, chunks): ...   # chunks finish in completion order
    executor.close()

A chunk (first_game, count) is the unit of work: one worker call playing those games of a generation,
`parallel_games` at a time. Games are seeded by their index (worker.py), so a chunk gives the same
records whichever worker plays it, and again after a restart: that is what makes a dead worker harmless
and a resumed run exact.

The Ray edge follows RLlib's EnvRunner habits (Liang et al. 2018, "RLlib: Abstractions for distributed
reinforcement learning"): workers are plain classes made remote here (`ray.remote(num_cpus=1)`); weights
go to the object store once per version (`ray.put`) and to each actor once; results are taken in
completion order with `ray.wait`; an actor that dies (RayActorError) is replaced and its chunk given to
the replacement; an exception raised inside a worker is re-raised here as the worker's own exception.
"""
from __future__ import annotations

import os
import socket
from collections import deque
from typing import Iterator

from selfplay.worker import SelfPlayConfig, SelfPlayWorker, WorkerStats

Chunk = tuple[int, int]  # (first game index, number of games)


def chunks_of(n_games: int, size: int, first: int = 0) -> list[Chunk]:
    return [(lo, min(size, first + n_games - lo)) for lo in range(first, first + n_games, size)]


class LocalSelfPlay:
    """One SelfPlayWorker in this process (no Ray): for tests, debugging and single-core machines."""

    def __init__(self, config: SelfPlayConfig):
        self.config = config
        self.worker: SelfPlayWorker | None = None
        self.restarts = 0

    def publish(self, state_dict, version: int) -> None:
        if self.worker is None:
            self.worker = SelfPlayWorker(self.config, state_dict, version, 0)
        else:
            self.worker.set_weights(state_dict, version)

    def play(self, generation: int, chunks: list[Chunk]) -> Iterator[tuple[list, WorkerStats]]:
        for first, count in chunks:
            yield self.worker.play_chunk(generation, first, count)

    def close(self) -> None:
        self.worker = None


def worker_env() -> dict[str, str]:
    """Environment of worker processes: one thread each for numba, torch (OpenMP) and BLAS, so that K
    workers use K cores, and the numba cache the driver warmed."""
    cache = os.environ.get("NUMBA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "goengine-numba")
    return {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_CACHE_DIR": cache}


def check_address(address: str, timeout: float = 5.0) -> None:
    """ConnectionError at once if a "host:port" Ray address does not answer (ray.init would retry for a
    long time before failing); "auto" and "ray://" addresses are left to ray.init."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConnectionError(f"Ray address {address!r} is not host:port")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as e:
        raise ConnectionError(f"cannot reach a Ray cluster at {address}: {e.strerror or e}") from None


class Orchestrator:
    """`workers` SelfPlayWorker actors on Ray: an embedded local instance unless `address` names a
    cluster (or Ray is already initialised by the caller, whose instance is then used and left running)."""

    def __init__(self, config: SelfPlayConfig, workers: int, address: str | None = None,
                 num_cpus: int | None = None, max_restarts: int = 100):
        import ray

        from goengine.warmup import warm

        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.config = config
        self.max_restarts = max_restarts
        self.restarts = 0
        self._owns_ray = False
        if not ray.is_initialized():
            if address is not None:
                check_address(address)
            # compile the kernels into the cache before any worker starts, so none compiles or races
            os.environ.update({k: v for k, v in worker_env().items() if k == "NUMBA_CACHE_DIR"})
            warm((config.board_size,))
            try:
                ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                         runtime_env={"env_vars": worker_env()}, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ConnectionError(f"cannot start or join Ray (address {address or 'local'}): {e}") from None
            self._owns_ray = True
        self._ray = ray
        self._remote_cls = ray.remote(num_cpus=1)(SelfPlayWorker)
        self._weights_ref = None
        self._version = -1
        self.actors: list = [None] * workers
        self._actor_version = [-1] * workers

    def publish(self, state_dict, version: int) -> None:
        """Put the weights in the object store once; each actor loads them before its next chunk."""
        self._weights_ref = self._ray.put(state_dict)
        self._version = version

    def _start(self, i: int) -> None:
        self.actors[i] = self._remote_cls.remote(self.config, self._weights_ref, self._version, i)
        self._actor_version[i] = self._version

    def _submit(self, i: int, generation: int, chunk: Chunk):
        if self.actors[i] is None:
            self._start(i)
        if self._actor_version[i] != self._version:
            self.actors[i].set_weights.remote(self._weights_ref, self._version)  # ordered before the chunk
            self._actor_version[i] = self._version
        return self.actors[i].play_chunk.remote(generation, *chunk)

    def play(self, generation: int, chunks: list[Chunk]) -> Iterator[tuple[list, WorkerStats]]:
        """Play the chunks on the actors and yield each chunk's (records, stats) as it completes."""
        ray = self._ray
        if self._weights_ref is None:
            raise RuntimeError("publish(weights, version) first")
        todo = deque(chunks)
        inflight: dict = {}  # object ref -> (actor index, chunk)
        for i in range(len(self.actors)):
            if todo:
                chunk = todo.popleft()
                inflight[self._submit(i, generation, chunk)] = (i, chunk)
        while inflight:
            (ref,), _ = ray.wait(list(inflight), num_returns=1)
            i, chunk = inflight.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                # the worker's own exception (a bug, a bad config): re-raise it as itself
                raise e.as_instanceof_cause() from None
            except ray.exceptions.RayActorError:
                self.restarts += 1
                if self.restarts > self.max_restarts:
                    raise
                self.actors[i] = None  # replaced by a fresh actor on the next submit
                todo.appendleft(chunk)
            else:
                yield result
            if todo:
                chunk = todo.popleft()
                inflight[self._submit(i, generation, chunk)] = (i, chunk)

    def close(self) -> None:
        for actor in self.actors:
            if actor is not None:
                self._ray.kill(actor)
        self.actors = [None] * len(self.actors)
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False
