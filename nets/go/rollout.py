"""AlphaGo Lee's fast rollout policy p_π as a torch module, for training (Silver et al. 2016, "Mastering the
game of Go with deep neural networks and tree search", Methods "Rollout policy", Extended Data Table 4).

p_π(a|s) is a linear softmax: the logit of candidate a is the sum of the weights of its active local
pattern features. The features, their hashing into one flat table and the fast numba inference live in
goengine/mcts/rollout_policy.py; this module owns the table as a parameter and learns it by maximum
likelihood (cross-entropy) on (position, move) pairs, as the paper did on 8 million Tygem positions.

    ids_NAK   feature ids of candidate a of position n, padded with -1 (K = MAX_FEATURES)
    mask_NA   True where slot a holds a candidate (candidates are packed first, in board order)
    logits_NA sum of the weights of the ids; -inf on empty slots

`weights_numpy()` exports the table for `goengine.mcts.rollout_policy.RolloutPolicy`, and the two give the
same move probabilities (tests/nets/test_rollout_policy.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterable, Sequence

import numpy as np
import torch
import torch.nn as nn

from goengine.board import Board
from goengine.mcts.rollout_policy import MAX_FEATURES, RolloutPolicy, n_weights, pattern_spec
from nets.registry import register


@dataclass(frozen=True)
class RolloutConfig:
    """Size of the hashed feature table of one rollout policy."""

    response_bits: int = 16
    """The 12-point diamond response patterns hash into 2^response_bits weights."""
    pattern_bits: int = 17
    """The 3x3 non-response patterns hash into 2^pattern_bits weights."""
    board_size: int = 19
    """The board the weights are trained for. The features are local and run on any size, but their
    statistics differ between sizes, so checkpoints record it."""

    def __post_init__(self) -> None:
        pattern_spec(self.response_bits, self.pattern_bits)  # raises ValueError for sizes out of range
        if self.board_size < 2:
            raise ValueError(f"board_size must be at least 2, got {self.board_size}")


class LeeRollout(nn.Module):
    """The rollout policy's weight table: ids_NAK, mask_NA -> logits_NA.

    The logit is an EmbeddingBag(mode="sum") over the ids with -1 as padding; written as a gather and a
    masked sum, which runs about five times faster than nn.EmbeddingBag on CPU for these shapes (and is
    tested equal to it)."""

    net_name: ClassVar[str] = "lee_rollout"

    def __init__(self, config: RolloutConfig, init_std: float = 0.01) -> None:
        super().__init__()
        self.config = config
        self.n_weights = n_weights(pattern_spec(config.response_bits, config.pattern_bits))
        self.weight_F = nn.Parameter(torch.randn(self.n_weights) * init_std)

    def forward(self, ids_NAK: torch.Tensor, mask_NA: torch.Tensor) -> torch.Tensor:
        present_NAK = (ids_NAK >= 0).to(self.weight_F.dtype)
        logits_NA = (self.weight_F[ids_NAK.clamp(min=0)] * present_NAK).sum(dim=-1)
        return logits_NA.masked_fill(~mask_NA, float("-inf"))

    def weights_numpy(self) -> np.ndarray:
        """The table as float64 numpy: the `weights` of the numba kernels."""
        return self.weight_F.detach().to(torch.float64).cpu().numpy().copy()

    def numba_policy(self) -> RolloutPolicy:
        """The same policy for the numba kernels (playouts, sampling)."""
        return RolloutPolicy(self.weights_numpy(), self.config.response_bits, self.config.pattern_bits)


@register("lee_rollout")
def build_lee_rollout(response_bits: int = 16, pattern_bits: int = 17, board_size: int = 19) -> LeeRollout:
    """AlphaGo Lee's rollout policy with 2^16 response and 2^17 non-response pattern weights."""
    return LeeRollout(RolloutConfig(response_bits=response_bits, pattern_bits=pattern_bits, board_size=board_size))


@dataclass(frozen=True)
class RolloutExamples:
    """Training pairs encoded for `LeeRollout`: N positions, up to A candidates each."""

    ids_NAK: torch.Tensor  # int64
    mask_NA: torch.Tensor  # bool
    target_N: torch.Tensor  # int64: the slot of the move played
    points_NA: torch.Tensor  # int32: padded point of each slot (0 on empty slots)

    def __len__(self) -> int:
        return self.ids_NAK.shape[0]

    def subset(self, index: torch.Tensor | slice) -> "RolloutExamples":
        return RolloutExamples(self.ids_NAK[index], self.mask_NA[index], self.target_N[index], self.points_NA[index])


def encode_examples(pairs: Iterable[tuple[Board, int]], policy: RolloutPolicy) -> tuple[RolloutExamples, int]:
    """Encode (board before the move, padded point played) pairs with `policy`'s feature hashing.

    Pairs whose move is not a rollout candidate (a pass, or a move into an own eye-like point) cannot be
    predicted by p_π and are skipped. Returns the examples and the number skipped."""
    ids, points, targets = [], [], []
    skipped = 0
    for board, move in pairs:
        points_C, ids_CK = policy.features(board)
        hit = np.flatnonzero(points_C == move)
        if hit.size == 0:
            skipped += 1
            continue
        ids.append(ids_CK)
        points.append(points_C)
        targets.append(int(hit[0]))
    a = max((len(p) for p in points), default=1)
    n = len(points)
    ids_NAK = np.full((n, a, MAX_FEATURES), -1, dtype=np.int64)
    points_NA = np.zeros((n, a), dtype=np.int32)
    mask_NA = np.zeros((n, a), dtype=bool)
    for i, (ids_CK, points_C) in enumerate(zip(ids, points)):
        c = len(points_C)
        ids_NAK[i, :c] = ids_CK
        points_NA[i, :c] = points_C
        mask_NA[i, :c] = True
    examples = RolloutExamples(torch.from_numpy(ids_NAK), torch.from_numpy(mask_NA),
                               torch.tensor(targets, dtype=torch.int64), torch.from_numpy(points_NA))
    return examples, skipped


def game_pairs(positions: Sequence, moves: Sequence[tuple[str, str]]) -> list[tuple[Board, int]]:
    """(board, padded point) pairs of one replayed game: positions[i] is the position before moves[i]
    (as `goengine.sgf.replay` returns them). Passes, and moves by the side not to move, are left out."""
    from goengine import coords

    pairs = []
    for position, (colour, vertex) in zip(positions, moves):
        board = position.board
        rc = coords.gtp_to_row_col(vertex, board.size)
        if rc is None or "bw".index(colour) + 1 != board.to_play:
            continue  # a pass, or a record letting one side move twice: not a move of the side to move
        pairs.append((board, coords.point(*rc, board.size)))
    return pairs


def top1_accuracy(model: LeeRollout, examples: RolloutExamples) -> float:
    """Fraction of examples whose played move has the largest logit."""
    with torch.no_grad():
        logits_NA = model(examples.ids_NAK, examples.mask_NA)
    return float((logits_NA.argmax(dim=1) == examples.target_N).float().mean())


def uniform_accuracy(examples: RolloutExamples) -> float:
    """Expected top-1 accuracy of a uniform choice among the candidates: the mean of 1 / (#candidates)."""
    return float((1.0 / examples.mask_NA.sum(dim=1).float()).mean())
