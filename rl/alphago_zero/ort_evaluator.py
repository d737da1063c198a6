"""`OrtEvaluator`: the AlphaGo Zero net run by ONNX Runtime, in fp32 or static int8, as the search's batch
evaluator. It offers NetEvaluator's interface (evaluate, evaluate_planes, net_seconds, positions) and maps
the net's outputs through the same function (evaluator.priors_and_values), so it can stand wherever
NetEvaluator does; only the forward pass differs.

    fp32   the exported graph (nets/compression/onnx_export.py) with ORT's fused CPU kernels
    int8   that graph quantized statically (nets/compression/quantize.py; Jacob et al. 2018), its
           activation ranges calibrated on positions like those it will see

A torch model is the source of truth: `load(model)` re-exports it (in memory) whenever its weights
change, and for int8 recalibrates. Calibration planes come from a uniform sample of the positions this
evaluator has evaluated since its last load (reservoir sampling, Vitter 1985, "Random sampling with a
reservoir", Algorithm R), so every phase of the previous net's games is represented, not only the last
few batches. Before enough positions have been seen (the very first net) they come from seeded uniformly
random games instead.

Caveat for exact replay: with int8 the session depends on what this evaluator evaluated before, so a
chunk of self-play games replayed by another worker, or after a restart, can differ slightly (fp32 ORT and
torch have no such history).
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn as nn

from goengine.features import HISTORY
from goengine.mcts.evaluators import PlanesEvaluator
from nets.compression.onnx_export import INPUT, export_onnx, ort_session
from nets.compression.quantize import Int8Config, quantize_int8
from rl.alphago_zero.evaluator import priors_and_values

PRECISIONS = ("fp32", "int8")
CALIBRATION_POSITIONS = 512
"""Planes kept for int8 calibration: MinMax ranges settle well before this (see tests/nets/test_quantize.py)."""
MIN_RECENT_POSITIONS = 128
"""Fewer evaluated positions than this since the last load: calibrate on random games instead."""


class PlanesReservoir:
    """A uniform random sample of at most `capacity` of all planes added since the last clear().

    Li's Algorithm L (1994, "Reservoir-sampling algorithms of time complexity O(n(1 + log(N/n)))"): once
    the reservoir is full, the index of the next item to keep is drawn directly (a geometric skip), so
    most calls only advance a counter. Vitter's Algorithm R, which draws a number for every item, cost
    self-play 9 us per evaluated position (2% of an int8 forward pass)."""

    def __init__(self, capacity: int, seed: int = 0):
        self.capacity = capacity
        self.rng = np.random.default_rng(seed)
        self.buffer_KCHW: np.ndarray | None = None
        self.seen = 0
        self._w = 1.0
        self._next = 0  # index in the stream of the next item to keep, once the reservoir is full

    def __len__(self) -> int:
        return min(self.seen, self.capacity)

    def add(self, planes_BCHW: np.ndarray) -> None:
        if self.buffer_KCHW is None:
            self.buffer_KCHW = np.empty((self.capacity, *planes_BCHW.shape[1:]), dtype=np.float32)
        start, end = self.seen, self.seen + len(planes_BCHW)  # stream indices of this batch: [start, end)
        if start < self.capacity:  # filling: keep everything
            fill = min(end, self.capacity)
            self.buffer_KCHW[start:fill] = planes_BCHW[:fill - start]
            if fill == self.capacity:
                self._w = 1.0
                self._skip(fill - 1)
        while end > self.capacity and self._next < end:  # full: keep the drawn items, each in a random slot
            self.buffer_KCHW[self.rng.integers(self.capacity)] = planes_BCHW[self._next - start]
            self._skip(self._next)
        self.seen = end

    def _skip(self, kept: int) -> None:
        """After keeping stream item `kept` (or filling the reservoir with it), draw the next one to keep."""
        # 1 - random() lies in (0, 1]: no log(0)
        self._w *= np.exp(np.log(1.0 - self.rng.random()) / self.capacity)
        self._next = kept + 1 + int(np.floor(np.log(1.0 - self.rng.random()) / np.log1p(-self._w)))

    def planes(self) -> np.ndarray:
        return self.buffer_KCHW[:len(self)] if self.buffer_KCHW is not None else np.empty((0,), np.float32)

    def clear(self) -> None:
        self.seen = 0


def position_planes(positions) -> np.ndarray:
    """AlphaGo Zero's planes (B, 17, N, N) of Positions of one size, with their last 8 boards."""
    from goengine.features import zero_planes_batch
    from goengine.geometry import geometry

    size = positions[0].size
    g = geometry(size)
    history_BHP = np.zeros((len(positions), HISTORY, g.n_points), dtype=np.int32)
    to_play_B = np.empty(len(positions), dtype=np.int8)
    for b, position in enumerate(positions):
        for k, board_NN in enumerate(position.recent_boards(HISTORY)):
            history_BHP[b, k, g.on_board] = board_NN.reshape(-1)  # (N, N) -> (N²,)
        to_play_B[b] = 1 if position.to_play == "b" else 2
    return zero_planes_batch(history_BHP, to_play_B, size)


def random_game_planes(size: int, count: int, seed: int, komi: float = 7.0) -> np.ndarray:
    """Planes of `count` positions along seeded games of uniformly random legal moves (no passes), each
    game cut at N² moves: openings, middle games and full boards alike."""
    from goengine.position import Position

    rng = np.random.default_rng(seed)
    positions = []
    while len(positions) < count:
        position = Position(size, komi)
        for _ in range(size * size):
            legal = position.legal_moves()[:-1]
            if not legal or len(positions) == count:
                break
            position = position.play(legal[int(rng.integers(len(legal)))])
            positions.append(position)
    return position_planes(positions)


class OrtEvaluator(PlanesEvaluator):
    def __init__(self, model: nn.Module, board_size: int, precision: str = "fp32", *, batch_size: int = 256,
                 threads: int = 1, calibration_positions: int = CALIBRATION_POSITIONS, int8: Int8Config = Int8Config(),
                 seed: int = 0):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        size = getattr(getattr(model, "config", None), "board_size", board_size)
        if size != board_size:
            raise ValueError(f"the net is for {size}x{size}, not {board_size}x{board_size}")
        super().__init__()
        self.board_size = board_size
        self.precision = precision
        self.batch_size = batch_size
        self.threads = threads
        self.int8 = int8
        self.calibration_positions = calibration_positions
        self.recent = PlanesReservoir(calibration_positions, seed)
        self.build_seconds = 0.0
        """Wall time of the last load: export, and for int8 calibration planes and quantization."""
        self.calibration_source = ""
        """Where the last int8 calibration planes came from: "recent", "random games" or "given"."""
        self.model_bytes = b""
        """The serialised ONNX model the session runs."""
        self.load(model, seed=seed)

    def load(self, model: nn.Module, calibration_planes_BCHW: np.ndarray | None = None, seed: int = 0) -> float:
        """A new session for `model`'s current weights; returns its build time in seconds. int8 calibrates
        on `calibration_planes_BCHW` if given, else on the positions evaluated since the last load, else
        on random games seeded by `seed`."""
        start = time.perf_counter()
        data = export_onnx(model)
        if self.precision == "int8":
            if calibration_planes_BCHW is not None:
                planes_BCHW, self.calibration_source = calibration_planes_BCHW, "given"
            elif len(self.recent) >= MIN_RECENT_POSITIONS:
                planes_BCHW, self.calibration_source = self.recent.planes(), "recent"
            else:
                planes_BCHW = random_game_planes(self.board_size, self.calibration_positions, seed)
                self.calibration_source = "random games"
            data = quantize_int8(data, planes_BCHW, config=self.int8)
        self.session = ort_session(data, self.threads)
        self.model_bytes = data
        self.recent.clear()
        self.build_seconds = time.perf_counter() - start
        return self.build_seconds

    def seen(self, planes_BCHW: np.ndarray) -> None:
        if self.precision == "int8":  # the next version's int8 ranges are calibrated on these
            self.recent.add(planes_BCHW)

    def forward(self, planes_BCHW: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The raw (policy_logits_BA, value_B) of one session call."""
        logits_BA, v_B = self.session.run(None, {INPUT: np.ascontiguousarray(planes_BCHW, dtype=np.float32)})
        return logits_BA, v_B

    def evaluate_planes(self, planes_BCHW: np.ndarray, legal_BA: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(priors over legal moves, win probability of the side to move) for ready-made planes."""
        n = len(planes_BCHW)
        priors_BA = np.empty(legal_BA.shape, dtype=np.float32)
        values_B = np.empty(n, dtype=np.float32)
        for lo in range(0, n, self.batch_size):
            hi = min(n, lo + self.batch_size)
            logits_BA, v_B = self.forward(planes_BCHW[lo:hi])
            priors_BA[lo:hi], values_B[lo:hi] = priors_and_values(logits_BA, v_B, legal_BA[lo:hi])
        return priors_BA, values_B
