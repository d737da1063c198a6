"""A converted AlphaGo Lee dataset (`goengine data convert`) as the fine-tuning batches and held-out
positions of `goengine compress prune` on a Lee policy (the Zero nets read replay records instead:
rl/compression/data.py).

Training batches are the train split's positions under random symmetries (rl/alphago_lee/sl.py's sampler,
as `goengine train lee sl` draws them), the move played as a one-hot policy target over the N² + 1
actions (nets.compression.prune.net_loss drops the pass for the Lee policy) and no value (the policy has
no value head). Held-out positions are the first of the test split (the val split when test is empty),
without symmetries.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from rl.alphago_lee.dataset import LeeDataset
from rl.alphago_lee.sl import SLBatchSource, SLSampler


@dataclass
class LeeData:
    train: SLSampler
    board_size: int
    held_out_planes_BCHW: np.ndarray
    """float32 (B, 48, N, N) positions of the test (or val) split."""
    held_out_action_B: np.ndarray
    """int64 (B,): the move played at each held-out position (action index, no pass)."""

    def batches(self, batch_size: int, seed: int):
        """A function returning one training batch of torch tensors (planes_BCHW, policy_BA, value_B) per call."""
        rng = np.random.default_rng(seed)
        actions = self.board_size * self.board_size + 1

        def draw():
            batch = self.train.sample(batch_size, rng)
            policy_BA = np.zeros((batch_size, actions), np.float32)
            policy_BA[np.arange(batch_size), batch.action_B] = 1.0
            return (torch.from_numpy(batch.planes_BCHW), torch.from_numpy(policy_BA),
                    torch.zeros(batch_size, dtype=torch.float32))

        return draw


def load_lee(path: str | os.PathLike, board_size: int, held_out_positions: int = 1000) -> LeeData:
    """The dataset at `path` for a net of `board_size` (ValueError, one line, for a folder that is not a
    converted dataset of that size or has nothing to train on)."""
    data = LeeDataset.open(path)  # DatasetError is a ValueError
    if data.board_size != board_size:
        raise ValueError(f"--data {os.fspath(path)} holds {data.board_size}x{data.board_size} games, the net plays "
                         f"{board_size}x{board_size}")
    train = data.split("train")
    if train.n_positions == 0:
        raise ValueError(f"--data {os.fspath(path)}: its train split has no positions")
    held = data.split("test")
    if held.n_positions == 0:
        held = data.split("val")
    rows = np.arange(min(held_out_positions, held.n_positions))
    return LeeData(SLBatchSource(train).shard(0, 1), board_size, held.planes(rows), held.action_P[rows].copy())


def lee_agreement(model: torch.nn.Module, reference: torch.nn.Module, data: LeeData) -> dict[str, float]:
    """Top-1 agreement of two Lee policies on the held-out positions, and each one's top-1 accuracy on the
    moves played there."""
    model.eval()
    reference.eval()
    x = torch.from_numpy(data.held_out_planes_BCHW)
    played_B = torch.from_numpy(data.held_out_action_B)
    with torch.no_grad():
        best_B, ref_best_B = model(x).argmax(1), reference(x).argmax(1)
    n = max(len(played_B), 1)
    return {"top1_agreement": float((best_B == ref_best_B).sum()) / n,
            "top1": float((best_B == played_B).sum()) / n, "reference_top1": float((ref_best_B == played_B).sum()) / n}
