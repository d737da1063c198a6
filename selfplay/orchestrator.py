"""Self-play executors: `Orchestrator` runs SelfPlayWorkers as Ray actors; `LocalSelfPlay` runs one in
this process. Both offer the same three calls, so the training loop does not care which it has:

    executor.publish(state_dict, version)       # the weights that play from now on
    executor.publish(state_dict, version, net)  # ... of another net (a run that grew): workers rebuilt
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

With inference "server" (selfplay/inference.py) one more actor holds the net: an async actor, on a GPU
when the server config says cuda (`num_gpus=1`), else on a CPU of its own. It gets each weights version
before any chunk plays under it (publish waits for the load), the workers get its handle (wrapped in
RayServerClient), and the count of chunks in flight, so that it flushes as soon as every busy worker
has a request pending. If it dies, the chunks in flight fail inside their workers; a new server is
started with the current weights, the workers are handed it, and the chunks replayed.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from typing import Iterator

from nets.go.presets import ZeroConfig
from selfplay.inference import InferenceServer, InferenceStats, LocalServer, ServerConfig, resolve_device
from selfplay.selfplay_config import SelfPlayConfig
from selfplay.worker import SelfPlayWorker, WorkerStats

Chunk = tuple[int, int]  # (first game index, number of games)


def chunks_of(n_games: int, size: int, first: int = 0) -> list[Chunk]:
    return [(lo, min(size, first + n_games - lo)) for lo in range(first, first + n_games, size)]


def _check_server(config: SelfPlayConfig, server: ServerConfig | None) -> ServerConfig | None:
    if config.inference != "server":
        if server is not None:
            raise ValueError(f'a server config is for inference "server", not {config.inference!r}')
        return None
    return server if server is not None else ServerConfig()


class LocalSelfPlay:
    """One SelfPlayWorker in this process (no Ray): for tests, debugging and single-core machines. With
    inference "server" the net runs in an InferenceServer in this process too (on a GPU, say)."""

    def __init__(self, config: SelfPlayConfig, server: ServerConfig | None = None):
        self.config = config
        self.server_config = _check_server(config, server)
        if self.server_config is not None:
            import torch

            # in this process the entry point owns torch's threads (train zero --threads)
            self.server_config = dataclasses.replace(
                self.server_config, threads=None,
                device=resolve_device(self.server_config.device, torch.cuda.is_available()))
        self.worker: SelfPlayWorker | None = None
        self.server: LocalServer | None = None
        self.restarts = 0

    def publish(self, state_dict, version: int, net: ZeroConfig | None = None) -> None:
        if net is not None and net != self.config.net_config():  # a grown net: worker and server anew
            self.config = dataclasses.replace(self.config, net=net)
            self.close()
        if self.server_config is not None:
            if self.server is None:
                self.server = LocalServer(InferenceServer(self.config.net_config(), state_dict, version,
                                                          self.server_config, clients=1))
            else:
                self.server.set_weights(state_dict, version)
            state_dict = None  # the worker holds no net
        if self.worker is None:
            self.worker = SelfPlayWorker(self.config, state_dict, version, 0, server=self.server)
        else:
            self.worker.set_weights(state_dict, version)

    def play(self, generation: int, chunks: list[Chunk],
             resign_threshold: float | None = None) -> Iterator[tuple[list, WorkerStats]]:
        for first, count in chunks:
            yield self.worker.play_chunk(generation, first, count, resign_threshold)

    def play_policy(self, setup, weights: list, plan_chunks: list[list]) -> Iterator[tuple[list, WorkerStats]]:
        """AlphaGo Lee's policy games (SelfPlayWorker.play_policy_chunk), one list of plans at a time."""
        if self.worker is None:
            self.worker = SelfPlayWorker(self.config, None, -1, 0)
        for plans in plan_chunks:
            yield self.worker.play_policy_chunk(setup, weights, plans)

    def inference_stats(self) -> InferenceStats | None:
        """The inference server's stats since it started (None without one)."""
        return self.server.stats() if self.server is not None else None

    def close(self) -> None:
        self.worker = None
        if self.server is not None:
            self.server.close()
            self.server = None


class RayServerClient:
    """The inference server's actor handle as a worker's ServerEvaluator wants it: a blocking call."""

    def __init__(self, handle):
        self.handle = handle

    def evaluate(self, planes_BCHW, legal_BA, version: int | None = None):
        import ray

        return ray.get(self.handle.evaluate.remote(planes_BCHW, legal_BA, version))


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


def _children() -> set[int]:
    from selfplay.reaper import process_tree

    return set(process_tree({os.getpid()})) - {os.getpid()}


def start_ray(address: str | None, num_cpus: int | None) -> subprocess.Popen | None:
    """`ray.init` for the Orchestrator; for an embedded local instance (no address) also:

    - no dashboard: `include_dashboard=False` still starts Ray's API server process (dashboard.py with
      --port=8265, for usage stats), so its start is skipped; nothing of ours needs it;
    - a reaper (selfplay/reaper.py) that ends this instance's processes if this process dies, also by
      kill -9: returned, and ended by `stop_reaper` after `ray.shutdown()`.

    ConnectionError if Ray cannot start or the cluster cannot be joined."""
    import ray
    from ray._private import node as ray_node

    reaper = before = None
    if address is None:
        reaper = subprocess.Popen([sys.executable, "-m", "selfplay.reaper"], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, cwd=os.path.dirname(os.path.dirname(__file__)))
        before = _children()
    start_api_server = ray_node.Node.start_api_server
    if address is None:
        ray_node.Node.start_api_server = lambda self, **kwargs: None
    # ray.init makes SIGTERM a sys.exit(15) in the driver; the entry point's own handler (goengine/cli.py:
    # stop cleanly with 143) stays
    sigterm = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    try:
        ray.init(address=address, num_cpus=num_cpus if address is None else None, include_dashboard=False,
                 runtime_env={"env_vars": worker_env()}, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as e:
        stop_reaper(reaper)
        raise ConnectionError(f"cannot start or join Ray (address {address or 'local'}): {e}") from None
    finally:
        ray_node.Node.start_api_server = start_api_server
        if sigterm is not None:
            signal.signal(signal.SIGTERM, sigterm)
    if reaper is not None:
        started = _children() - before - {reaper.pid}  # Ray's head processes: their trees are watched
        reaper.stdin.write("".join(f"{pid}\n" for pid in sorted(started)).encode())
        reaper.stdin.flush()
    return reaper


def stop_reaper(reaper: subprocess.Popen | None) -> None:
    """Close the reaper's pipe (it ends whatever of Ray is left) and wait for it."""
    if reaper is None:
        return
    reaper.stdin.close()
    try:
        reaper.wait(timeout=10)
    except subprocess.TimeoutExpired:
        reaper.kill()


class WorkersLostError(RuntimeError):
    """Actors kept dying: more restarts than `max_restarts`. The command line reports it in one line."""


class Orchestrator:
    """`workers` SelfPlayWorker actors on Ray: an embedded local instance unless `address` names a
    cluster (or Ray is already initialised by the caller, whose instance is then used and left running).
    With inference "server", one InferenceServer actor more (`server`: its config; an embedded Ray then
    gets one CPU more than `num_cpus`, for it)."""

    def __init__(self, config: SelfPlayConfig, workers: int, address: str | None = None,
                 num_cpus: int | None = None, max_restarts: int = 100, server: ServerConfig | None = None):
        import ray

        from goengine.warmup import warm

        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.config = config
        self.server_config = _check_server(config, server)
        self.max_restarts = max_restarts
        self.restarts = 0
        """Actors replaced after they died: workers and the inference server."""
        self.server_restarts = 0
        self._owns_ray = False
        self._reaper: subprocess.Popen | None = None
        if self.server_config is not None and num_cpus is not None:
            num_cpus += 1
        if not ray.is_initialized():
            if address is not None:
                check_address(address)
            # compile the kernels into the cache before any worker starts, so none compiles or races
            os.environ.update({k: v for k, v in worker_env().items() if k == "NUMBA_CACHE_DIR"})
            warm((config.board_size,))
            self._reaper = start_ray(address, num_cpus)
            self._owns_ray = True
        self._ray = ray
        self._remote_cls = ray.remote(num_cpus=1)(SelfPlayWorker)
        self._weights_ref = None
        self._version = -1
        self.actors: list = [None] * workers
        self._actor_version = [-1] * workers
        self.server = None
        """The inference server's actor handle (inference "server"), started by the first publish."""
        self._server_epoch = 0  # which server the workers should talk to: one more for each restart
        self._actor_epoch = [0] * workers
        self._clients = 0
        if self.server_config is not None:
            self._prepare_server(ray)

    def _prepare_server(self, ray) -> None:
        """Resolve the server's device from the cluster's GPUs and its max_batch; its actor class."""
        sc = self.server_config
        if sc.device == "auto":
            sc = dataclasses.replace(sc, device=resolve_device("auto", ray.cluster_resources().get("GPU", 0) >= 1))
        elif sc.device == "cuda" and ray.cluster_resources().get("GPU", 0) < 1:
            self.close()
            raise ValueError("inference device cuda: the Ray cluster has no GPU")
        if sc.max_batch is None:  # room for every worker's whole batch in one pass
            c = self.config
            sc = dataclasses.replace(sc, max_batch=len(self.actors) * c.parallel_games * c.leaves_per_game)
        self.server_config = sc
        # an async actor (InferenceServer.evaluate is a coroutine): requests from all workers interleave
        self._server_cls = ray.remote(num_cpus=1, num_gpus=1 if sc.device == "cuda" else 0)(InferenceServer)

    def publish(self, state_dict, version: int, net: ZeroConfig | None = None) -> None:
        """Put the weights in the object store once; each actor loads them before its next chunk (the
        inference server at once: this returns when it holds them). Weights of another `net` than the
        actors were built for (a run that grew) end them: each is started again for the new net."""
        if net is not None and net != self.config.net_config():
            self.config = dataclasses.replace(self.config, net=net)
            self._end_actors()
            self._clients = 0
        self._weights_ref = self._ray.put(state_dict)
        self._version = version
        if self.server_config is not None:
            self._sync_server()

    def _sync_server(self) -> None:
        """Start the server, or give it the current weights; a dead one is replaced."""
        ray = self._ray
        if self.server is not None:
            try:
                ray.get(self.server.set_weights.remote(self._weights_ref, self._version))
                return
            except ray.exceptions.RayActorError:
                self._server_died()
        self.server = self._server_cls.remote(self.config.net_config(), self._weights_ref, self._version,
                                              self.server_config, len(self.actors))
        ray.get(self.server.get_version.remote())  # up, and holding the weights, before any worker asks

    def _server_died(self) -> None:
        self.restarts += 1
        self.server_restarts += 1
        if self.restarts > self.max_restarts:
            raise WorkersLostError(f"the inference server died, and {self.max_restarts} actors were restarted "
                                   f"already")
        self.server = None
        self._server_epoch += 1
        self._clients = 0

    def _start(self, i: int) -> None:
        if self.server is not None:
            self.actors[i] = self._remote_cls.remote(self.config, None, self._version, i,
                                                     RayServerClient(self.server))
        else:
            self.actors[i] = self._remote_cls.remote(self.config, self._weights_ref, self._version, i)
        self._actor_version[i] = self._version
        self._actor_epoch[i] = self._server_epoch

    def _submit(self, i: int, generation: int, chunk: Chunk, resign_threshold: float | None = None):
        if self.actors[i] is None:
            self._start(i)
        # both ordered before the chunk (calls from one caller to one actor run in order)
        if self._actor_version[i] != self._version:
            weights = None if self.server is not None else self._weights_ref  # the server holds the net
            self.actors[i].set_weights.remote(weights, self._version)
            self._actor_version[i] = self._version
        if self._actor_epoch[i] != self._server_epoch:
            self.actors[i].set_server.remote(RayServerClient(self.server))
            self._actor_epoch[i] = self._server_epoch
        return self.actors[i].play_chunk.remote(generation, *chunk, resign_threshold)

    def _set_clients(self, n: int) -> None:
        # the server flushes as soon as this many requests are pending: as many as workers playing
        if self.server is not None and n != self._clients:
            self.server.set_clients.remote(n)
            self._clients = n

    def inference_stats(self) -> InferenceStats | None:
        """The inference server's stats since it (last) started; None without a server or if it is dead."""
        if self.server is None:
            return None
        try:
            return self._ray.get(self.server.stats.remote())
        except self._ray.exceptions.RayActorError:
            return None

    def play(self, generation: int, chunks: list[Chunk],
             resign_threshold: float | None = None) -> Iterator[tuple[list, WorkerStats]]:
        """Play the chunks on the actors and yield each chunk's (records, stats) as it completes; a
        `resign_threshold` replaces the config's in every chunk (each chunk carries it, so a restarted
        actor plays with it too)."""
        if self._weights_ref is None:
            raise RuntimeError("publish(weights, version) first")
        return self._run(chunks, lambda i, chunk: self._submit(i, generation, chunk, resign_threshold))

    def play_policy(self, setup, weights: list, plan_chunks: list[list]) -> Iterator[tuple[list, WorkerStats]]:
        """AlphaGo Lee's policy games (SelfPlayWorker.play_policy_chunk) on the same actors: the nets go to
        the object store once per call, each chunk of plans to one actor; (games, stats) in completion
        order. Needs no published Zero weights (an actor started without them plays only these)."""
        weights_ref = self._ray.put(weights)

        def submit(i: int, plans: list):
            if self.actors[i] is None:
                self._start(i)
            return self.actors[i].play_policy_chunk.remote(setup, weights_ref, plans)
        return self._run(plan_chunks, submit)

    def _run(self, chunks: list, submit) -> Iterator[tuple[list, WorkerStats]]:
        """submit(actor index, chunk) -> object ref, for every chunk, on the free actors; yield results in
        completion order, replacing dead actors and replaying their chunks."""
        ray = self._ray
        todo = deque(chunks)
        inflight: dict = {}  # object ref -> (actor index, chunk, server epoch it was played with)
        for i in range(len(self.actors)):
            if todo:
                chunk = todo.popleft()
                inflight[submit(i, chunk)] = (i, chunk, self._server_epoch)
        self._set_clients(len(inflight))
        while inflight:
            (ref,), _ = ray.wait(list(inflight), num_returns=1)
            i, chunk, epoch = inflight.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                if self.server_config is None or not isinstance(e.cause, ray.exceptions.RayActorError):
                    # the worker's own exception (a bug, a bad config): re-raise it as itself
                    raise e.as_instanceof_cause() from None
                # the only actor a worker calls is the server: it died under this chunk
                if epoch == self._server_epoch:
                    self._server_died()
                    self._sync_server()
                todo.appendleft(chunk)
            except ray.exceptions.RayActorError as e:
                self.restarts += 1
                if self.restarts > self.max_restarts:
                    raise WorkersLostError(f"self-play worker {i} died, and {self.max_restarts} actors were "
                                           f"restarted already ({type(e).__name__})") from e
                self.actors[i] = None  # replaced by a fresh actor on the next submit
                todo.appendleft(chunk)
            else:
                yield result
            if todo:
                chunk = todo.popleft()
                inflight[submit(i, chunk)] = (i, chunk, self._server_epoch)
            self._set_clients(len(inflight))

    def _end_actors(self) -> None:
        """Kill the workers and the inference server; the next submit or publish starts them again."""
        for actor in [*self.actors, self.server]:
            if actor is not None:
                self._ray.kill(actor)
        self.actors = [None] * len(self.actors)
        self.server = None

    def close(self) -> None:
        """End the actors, and the Ray instance if this started it. Safe to call twice, and after Ray's
        own processes died (a Ctrl-C in a terminal reaches them too)."""
        try:
            self._end_actors()
        except Exception:  # noqa: BLE001 - a dead cluster; the shutdown below and the reaper end what is left
            pass
        self.actors = [None] * len(self.actors)
        self.server = None
        if self._owns_ray:
            self._owns_ray = False
            try:
                self._ray.shutdown()
            finally:
                stop_reaper(self._reaper)
                self._reaper = None
