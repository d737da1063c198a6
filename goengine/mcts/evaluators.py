"""The `Evaluator` protocol: what the search asks of whatever judges its leaves.

Three kinds, one tree (search.py):
  - `RolloutEvaluator`: playouts in numba (light or heavy), UCT-RAVE selection with knowledge priors. Its
    evaluation runs inside the search kernel, so it only carries settings.
  - a batch evaluator (`kind = "batch"`): `evaluate(batch) -> (priors_BA, values_B)` on leaves gathered
    with virtual loss; the search uses PUCT. The networks of nets/ provide these through `PlanesEvaluator`
    (the planes made here, the forward pass in torch, ONNX Runtime or an inference server: rl/ and
    selfplay/); `UniformEvaluator` below is the torch-free one, for tests and as a baseline.
  - `MixedEvaluator(batch_evaluator, lam)`: AlphaGo Lee's leaf value (1 - lam) v + lam z, where z is
    the result of a playout from the leaf.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from goengine.features import HISTORY, zero_planes_batch


@dataclass
class LeafBatch:
    """Leaves handed to a batch evaluator. B leaves, A = N*N + 1 actions (pass last)."""

    size: int
    boards: np.ndarray  # int32 (B, N_ROWS, n_points): full kernel states of the leaf boards
    metas: np.ndarray  # int64 (B, META_LEN)
    history: np.ndarray  # int32 (B, H, n_points): colours of the leaf and its H-1 predecessors, newest first
    to_play: np.ndarray  # int8 (B,): 1 Black, 2 White
    legal: np.ndarray  # int8 (B, A): legal moves under simple ko (pass always legal)


class Evaluator(Protocol):
    kind: str  # "rollout", "batch" or "mixed"


class BatchEvaluator(Protocol):
    kind: str
    history_length: int  # positions of history the evaluator wants (AlphaGo Zero: 8)

    def evaluate(self, batch: LeafBatch) -> tuple[np.ndarray, np.ndarray]:
        """(priors_BA summing to 1 over legal moves, values_B = win probability of the side to move)."""
        ...


@dataclass(frozen=True)
class RolloutEvaluator:
    heavy: bool = True
    """MoGo-style heavy playouts (captures, atari escapes, 3x3 patterns) rather than uniform random."""
    policy: object = None
    """A goengine.mcts.rollout_policy.RolloutPolicy: playouts follow AlphaGo's trained p_pi instead."""
    kind: str = "rollout"


class PlanesEvaluator:
    """A batch evaluator fed AlphaGo Zero's 17 input planes: evaluate() makes the planes of a LeafBatch
    (goengine.features.zero_planes_batch), hands them to evaluate_planes, and counts positions and the
    time spent (planes + forward), so callers can tell net time from search time. Subclasses give
    evaluate_planes(planes_BCHW, legal_BA) -> (priors over legal moves, win probability of the side to
    move), and may look at the planes just evaluated in seen()."""

    kind = "batch"
    history_length = HISTORY

    def __init__(self):
        self.net_seconds = 0.0
        self.positions = 0

    def evaluate(self, batch: LeafBatch) -> tuple[np.ndarray, np.ndarray]:
        start = time.perf_counter()
        planes_BCHW = zero_planes_batch(batch.history, batch.to_play, batch.size)
        priors_BA, values_B = self.evaluate_planes(planes_BCHW, batch.legal)
        self.seen(planes_BCHW)
        self.net_seconds += time.perf_counter() - start
        self.positions += len(values_B)
        return priors_BA, values_B

    def evaluate_planes(self, planes_BCHW: np.ndarray, legal_BA: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def seen(self, planes_BCHW: np.ndarray) -> None:
        """The planes of one evaluate() call, after their forward pass (int8 calibration keeps some)."""


class UniformEvaluator:
    """Uniform priors over legal moves and a value of 0.5: PUCT then behaves like plain UCT on visit
    counts. Used to test the batch path without torch."""

    kind = "batch"
    history_length = 1

    def evaluate(self, batch: LeafBatch) -> tuple[np.ndarray, np.ndarray]:
        legal = batch.legal.astype(np.float32)
        priors_BA = legal / legal.sum(axis=1, keepdims=True)
        return priors_BA, np.full(len(legal), 0.5, dtype=np.float32)


@dataclass
class MixedEvaluator:
    """AlphaGo Lee: leaf value = (1 - lam) * value net + lam * playout result (Silver et al. 2016)."""

    inner: BatchEvaluator
    lam: float = 0.5
    heavy: bool = True
    policy: object = None  # a RolloutPolicy: the playouts follow AlphaGo's p_pi, as AlphaGo Lee's did
    kind: str = "mixed"

    @property
    def history_length(self) -> int:
        return self.inner.history_length

    def evaluate(self, batch: LeafBatch) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.evaluate(batch)
