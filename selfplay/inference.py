"""`InferenceServer`: one copy of the net, on a GPU or a CPU core, evaluating the leaves of many self-play
workers in merged forward passes; `ServerEvaluator`: the worker's side of it.

On a CPU each self-play worker runs the net itself, on its one core (worker.py, inference "torch", "ort",
"ort-int8"). With a GPU that wastes it: one worker's batch (`parallel_games` x `leaves_per_game`, some
tens of positions) leaves a GPU almost idle, and one CUDA context per worker costs memory and start-up.
So with inference "server" the workers keep the search, and send their batches of input planes to one
inference actor (orchestrator.py makes this plain class an async Ray actor, as it makes SelfPlayWorker
remote), which merges concurrent requests into one forward pass and hands each worker back its slice.

Design. `evaluate` is a coroutine: a request goes into a queue and awaits its future; one batcher task
flushes the queue into a forward pass as soon as (a) the pending positions reach `max_batch`, or (b) every
client has a request pending (a worker blocks on its request, so none can come before the flush), or
(c) `max_wait_ms` have passed since the oldest pending request. The forward runs on one thread of its
own, so the event loop keeps accepting requests meanwhile: under load, the requests that arrive during a
pass make up the next one (dynamic batching, as in NVIDIA Triton's dynamic batcher and in the batched
evaluators of KataGo and Leela Zero). Concurrency groups would give threads, not a queue to merge. Its
limits: a batch is only as large as the requests in flight, at most one per worker, so the GPU fills
only with enough workers x parallel games; a worker waits for its round trip (Ray call, queue, pass)
instead of searching, so each worker should play many games at once; when fewer workers are busy than
`clients` (the tail of a generation) each flush waits up to `max_wait_ms`, which the orchestrator
shortens by telling the server how many chunks are in flight; one pass at a time means the copy of the
next batch to the GPU does not overlap the current pass; and when the pass itself is the bottleneck
(a CPU core serving two workers), the requests that queued during a pass have waited out `max_wait_ms`
by its end and go at once, so the workers take turns instead of sharing passes. Measured on two CPU
cores shared with a training run, 9x9 6x64 net, two workers of 16 games each: 1.02-1.04 requests per
pass at max_wait 2 ms (490-570 evaluations/s in two runs), 2.0 at 20 ms (520/s): taking turns is no
slower, as one worker's search overlaps the other's pass. On a CPU the server is one core doing all
the net work, so it cannot beat workers that each run the net on their own core (620-630/s in the same
runs); it is meant for a GPU.

A request's answer is what NetEvaluator gives for the same planes: the same net, the same mapping of
outputs (evaluator.priors_and_values); only the batch it rides in differs, which moves results by
float rounding (up to 6e-8 measured on CPU), or not at all when a request travels alone. Planes travel as uint8 when
they are 0/1 (AlphaGo Zero's are): a quarter of the bytes through Ray, and on a GPU a quarter of the
host-to-device copy, made from pinned memory without blocking. Every request may name the weights
version its worker is playing; a server holding another version refuses it (StaleWeightsError) rather
than label games with the wrong net.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from goengine import checks
from goengine.mcts.evaluators import PlanesEvaluator
from nets.go.presets import ZeroConfig

DEVICES = ("auto", "cpu", "cuda")
"""Devices the server can be asked for: "auto" is cuda when a CUDA GPU is there, else cpu."""


def resolve_device(requested: str, cuda_available: bool) -> str:
    """"cpu" or "cuda" for a requested device; ValueError for cuda without a GPU."""
    if requested not in DEVICES:
        raise ValueError(f"inference device must be one of {', '.join(DEVICES)}, not {requested!r}")
    if requested == "auto":
        return "cuda" if cuda_available else "cpu"
    if requested == "cuda" and not cuda_available:
        raise ValueError("cuda asked for, but no CUDA GPU is available here")
    return requested


@dataclass(frozen=True)
class ServerConfig:
    device: str = "cpu"
    """"cpu" or "cuda" ("auto" is resolved before a server is built: resolve_device)."""
    max_batch: int | None = None
    """Most positions in one forward pass; a flush takes whole requests up to it (at least one; a request
    larger than this is cut into passes of this size). None: no cap (the orchestrator's default is every
    worker's full batch)."""
    max_wait_ms: float = 2.0
    """Longest a request waits for others to join its pass, from when the oldest pending one came."""
    fp16: bool = False
    """Forward passes under float16 autocast (cuda only)."""
    threads: int | None = 1
    """torch threads of the server on a CPU (None: torch's default); not applied on cuda."""

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        if self.max_batch is not None:
            checks.integer("max_batch", self.max_batch, 1)
        checks.number("max_wait_ms", self.max_wait_ms, 0)
        if self.fp16 and self.device == "cpu":
            raise ValueError("fp16 needs a cuda device")


@dataclass
class InferenceStats:
    """What the server did since it started."""

    requests: int = 0
    forwards: int = 0
    """Flushes of the queue: each is one forward pass (or several, for a request beyond max_batch)."""
    positions: int = 0
    forward_seconds: float = 0.0
    """Wall time of the passes, input copy and output mapping included."""
    flush_full: int = 0
    """Flushes because the pending positions reached max_batch."""
    flush_clients: int = 0
    """Flushes because every client had a request pending."""
    flush_wait: int = 0
    """Flushes because the oldest request had waited max_wait_ms."""
    device: str = ""

    @property
    def mean_batch(self) -> float:
        """Positions per forward pass."""
        return self.positions / self.forwards if self.forwards else 0.0

    @property
    def requests_per_forward(self) -> float:
        """Requests merged per forward pass: above 1 means batches were merged."""
        return self.requests / self.forwards if self.forwards else 0.0

    def since(self, before: "InferenceStats") -> "InferenceStats":
        """The activity after `before` (a restarted server starts from zero: then all of self)."""
        if self.requests < before.requests:
            return dataclasses.replace(self)
        counts = {f.name: getattr(self, f.name) - getattr(before, f.name)
                  for f in dataclasses.fields(self) if f.name != "device"}
        return InferenceStats(**counts, device=self.device)

    def summary(self) -> str:
        return (f"inference server ({self.device}): {self.forwards} forward passes for {self.requests} requests, "
                f"mean batch {self.mean_batch:.1f} positions ({self.requests_per_forward:.2f} requests merged), "
                f"{self.positions / self.forward_seconds if self.forward_seconds else 0:.0f} positions/s "
                f"in the passes")


class StaleWeightsError(RuntimeError):
    """A request for a weights version other than the server's."""


@dataclass
class _Request:
    planes_BCHW: np.ndarray
    legal_BA: np.ndarray
    future: asyncio.Future
    arrived: float  # loop time


class InferenceServer:
    def __init__(self, net_config: ZeroConfig, state_dict, version: int, config: ServerConfig = ServerConfig(),
                 clients: int | None = None):
        import torch

        from nets.go.zero_resnet import ZeroResNet

        if config.device not in ("cpu", "cuda"):
            raise ValueError(f"resolve the device first (resolve_device), not {config.device!r}")
        self.config = config
        self.device = torch.device(config.device)
        if config.device == "cpu" and config.threads is not None:
            torch.set_num_threads(config.threads)
        self.model = ZeroResNet(net_config).to(self.device).eval()
        self.version = -1
        self.clients = clients
        """Callers that each keep at most one request in flight; when all have one pending, flush."""
        # every forward pass and weight load on this one thread: never two at once, and never a load
        # under a pass
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="inference", initializer=self._init_thread)
        self._queue: deque[_Request] = deque()
        self._pending_positions = 0
        self._arrived: asyncio.Event | None = None
        self._batcher: asyncio.Task | None = None
        self._pinned: dict = {}  # dtype -> pinned host buffer (cuda)
        self._stats = InferenceStats(device=config.device)
        self.set_weights(state_dict, version)

    def _init_thread(self) -> None:
        import torch

        if self.config.device == "cpu" and self.config.threads is not None:
            torch.set_num_threads(self.config.threads)

    # --- weights and stats (plain calls) ---
    def set_weights(self, state_dict, version: int) -> None:
        """Load new weights (a no-op for the version already loaded), after any pass under way."""
        if version != self.version:
            self._pool.submit(self._load, state_dict, version).result()

    def _load(self, state_dict, version: int) -> None:
        self.model.load_state_dict(state_dict)
        self.model.eval()
        self.version = version

    def stats(self) -> InferenceStats:
        return dataclasses.replace(self._stats)

    def get_version(self) -> int:
        return self.version

    # --- the unqueued forward pass: the reference, and what each flush runs ---
    def forward(self, planes_BCHW: np.ndarray, legal_BA: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(priors over legal moves, win probability of the side to move) for planes (B, 17, N, N), float32
        or 0/1 uint8: one pass per max_batch positions, here and now (no queue)."""
        import torch

        from rl.alphago_zero.evaluator import priors_and_values

        n = len(planes_BCHW)
        priors_BA = np.empty(legal_BA.shape, dtype=np.float32)
        values_B = np.empty(n, dtype=np.float32)
        step = self.config.max_batch or max(n, 1)
        fp16 = self.device.type == "cuda" and self.config.fp16
        with torch.inference_mode():
            for lo in range(0, n, step):
                hi = min(n, lo + step)
                x_BCHW = self._to_device(planes_BCHW[lo:hi])
                with torch.autocast("cuda", dtype=torch.float16) if fp16 else contextlib.nullcontext():
                    logits_BA, v_B = self.model(x_BCHW)
                priors_BA[lo:hi], values_B[lo:hi] = priors_and_values(logits_BA, v_B, legal_BA[lo:hi])
        return priors_BA, values_B

    def _to_device(self, planes_BCHW: np.ndarray):
        import torch

        if self.device.type == "cpu":
            # a copy: arrays from Ray are read-only, which torch.from_numpy warns about
            return torch.from_numpy(np.array(planes_BCHW, dtype=np.float32))
        # a pinned staging buffer, reused: the previous pass has finished (its outputs were copied back)
        # before the next batch is written into it
        n = len(planes_BCHW)
        buffer = self._pinned.get(planes_BCHW.dtype)
        if buffer is None or buffer.shape[0] < n or tuple(buffer.shape[1:]) != planes_BCHW.shape[1:]:
            dtype = torch.from_numpy(np.empty(0, dtype=planes_BCHW.dtype)).dtype
            buffer = torch.empty((max(n, self.config.max_batch or n), *planes_BCHW.shape[1:]), dtype=dtype,
                                 pin_memory=True)
            self._pinned[planes_BCHW.dtype] = buffer
        buffer.numpy()[:n] = planes_BCHW  # the host tensor shares its memory with this view
        return buffer[:n].to(self.device, non_blocking=True).float()

    # --- the batched path ---
    async def evaluate(self, planes_BCHW: np.ndarray, legal_BA: np.ndarray,
                       version: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """forward() for one client's batch, run inside a pass merged with other clients' requests."""
        if version is not None and version != self.version:
            raise StaleWeightsError(f"request for weights version {version}, the server holds {self.version}")
        if len(planes_BCHW) != len(legal_BA):
            raise ValueError(f"{len(planes_BCHW)} positions of planes but {len(legal_BA)} of legal moves")
        loop = asyncio.get_running_loop()
        if self._batcher is None or self._batcher.done():
            self._arrived = asyncio.Event()
            self._batcher = loop.create_task(self._serve())
        request = _Request(planes_BCHW, legal_BA, loop.create_future(), loop.time())
        self._queue.append(request)
        self._pending_positions += len(planes_BCHW)
        self._arrived.set()
        return await request.future

    async def set_clients(self, clients: int | None) -> None:
        """How many callers are active now (None: unknown, flush on size or wait only)."""
        self.clients = clients
        if self._arrived is not None:
            self._arrived.set()  # pending requests may be due now

    def _due(self, now: float) -> str | None:
        """Why the queue should be flushed now, or None."""
        if not self._queue:
            return None
        if self.config.max_batch is not None and self._pending_positions >= self.config.max_batch:
            return "full"
        if self.clients and len(self._queue) >= self.clients:
            return "clients"
        if now >= self._queue[0].arrived + self.config.max_wait_ms / 1000:
            return "wait"
        return None

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            reason = self._due(loop.time())
            if reason is None:
                timeout = None
                if self._queue:
                    timeout = self._queue[0].arrived + self.config.max_wait_ms / 1000 - loop.time()
                self._arrived.clear()
                try:
                    await asyncio.wait_for(self._arrived.wait(), timeout)
                except TimeoutError:
                    pass
                continue
            batch = self._take()
            setattr(self._stats, f"flush_{reason}", getattr(self._stats, f"flush_{reason}") + 1)
            try:
                priors_BA, values_B = await loop.run_in_executor(self._pool, self._forward_merged, batch)
            except Exception as e:  # the pass failed (bad planes, out of memory): every caller in it hears why
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(e)
                continue
            lo = 0
            for r in batch:
                hi = lo + len(r.planes_BCHW)
                if not r.future.done():  # a caller that gave up (cancelled) is skipped
                    r.future.set_result((priors_BA[lo:hi], values_B[lo:hi]))
                lo = hi

    def _take(self) -> list[_Request]:
        """Whole requests from the front of the queue, up to max_batch positions (at least one)."""
        cap = self.config.max_batch
        batch: list[_Request] = []
        total = 0
        while self._queue:
            n = len(self._queue[0].planes_BCHW)
            if batch and cap is not None and total + n > cap:
                break
            batch.append(self._queue.popleft())
            total += n
        self._pending_positions -= total
        return batch

    def _forward_merged(self, batch: list[_Request]) -> tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        if len(batch) == 1:
            planes_BCHW, legal_BA = batch[0].planes_BCHW, batch[0].legal_BA
        else:
            dtype = np.result_type(*(r.planes_BCHW.dtype for r in batch))
            planes_BCHW = np.concatenate([r.planes_BCHW for r in batch]).astype(dtype, copy=False)
            legal_BA = np.concatenate([r.legal_BA for r in batch])
        out = self.forward(planes_BCHW, legal_BA)
        s = self._stats
        s.forward_seconds += time.perf_counter() - start
        s.forwards += 1
        s.requests += len(batch)
        s.positions += len(planes_BCHW)
        return out

    def close(self) -> None:
        """Stop the forward thread (the batcher task belongs to its event loop, which stops it)."""
        self._pool.shutdown(wait=True)


class LocalServer:
    """An InferenceServer in this process, its event loop on a thread of its own: blocking callers (a
    SelfPlayWorker, or several on threads) call `evaluate` as a Ray worker calls the actor. For
    self-play without Ray (a GPU in this process) and for tests."""

    def __init__(self, server: InferenceServer):
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="inference-loop", daemon=True)
        self._thread.start()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def evaluate(self, planes_BCHW: np.ndarray, legal_BA: np.ndarray,
                 version: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        return self._run(self.server.evaluate(planes_BCHW, legal_BA, version))

    def set_clients(self, clients: int | None) -> None:
        self._run(self.server.set_clients(clients))

    def set_weights(self, state_dict, version: int) -> None:
        self.server.set_weights(state_dict, version)

    def stats(self) -> InferenceStats:
        return self.server.stats()

    def close(self) -> None:
        if self._thread.is_alive():
            async def stop():
                task = self.server._batcher
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

            self._run(stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
        self.server.close()


class ServerEvaluator(PlanesEvaluator):
    """The search's batch evaluator when the net lives in an inference server: the planes are made here
    (PlanesEvaluator), the forward pass there; net_seconds counts the planes and the round trip.

    `client` is anything with `evaluate(planes_BCHW, legal_BA, version) -> (priors_BA, values_B)`: a
    LocalServer, or orchestrator.RayServerClient around the actor's handle. `version`, when set, is the
    weights version the worker plays, which the server checks."""

    def __init__(self, client, board_size: int):
        super().__init__()
        self.client = client
        self.board_size = board_size
        self.version: int | None = None

    def evaluate_planes(self, planes_BCHW: np.ndarray, legal_BA: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(priors over legal moves, win probability of the side to move) for ready-made planes."""
        planes_u8 = planes_BCHW.astype(np.uint8)
        if np.array_equal(planes_u8, planes_BCHW):  # 0/1 planes: a quarter of the bytes, exactly
            planes_BCHW = planes_u8
        return self.client.evaluate(planes_BCHW, np.asarray(legal_BA), self.version)
