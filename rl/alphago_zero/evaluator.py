"""`NetEvaluator`: an AlphaGo Zero network as the search's batch evaluator (goengine.mcts.evaluators).

AlphaGo Zero (Silver et al. 2017, Methods "Search algorithm") evaluates each leaf s_L once with
(p, v) = f_theta(s_L): p becomes the priors P(s_L, a) of its children and v is backed up. Here the
search hands over a `LeafBatch` of leaves gathered with virtual loss; this class turns their last 8
positions into the 17 input planes (goengine.features.zero_planes_batch), runs the net without
gradients, and returns

    priors_BA   softmax of the policy logits over the leaf's legal moves only (pass always legal)
    values_B    (v + 1) / 2: the net's v in [-1, 1] as a win probability of the side to move

The paper also evaluates each leaf under a random one of the 8 board symmetries; this evaluator does
not (the search is deterministic for a given net, which makes self-play replayable from a seed).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from goengine.mcts.evaluators import LeafBatch, PlanesEvaluator


class NetEvaluator(PlanesEvaluator):
    def __init__(self, model: nn.Module, board_size: int, batch_size: int = 256, device: str = "cpu"):
        size = getattr(getattr(model, "config", None), "board_size", board_size)
        if size != board_size:
            raise ValueError(f"the net is for {size}x{size}, not {board_size}x{board_size}")
        super().__init__()
        self.model = model.to(device).eval()
        self.board_size = board_size
        self.batch_size = batch_size
        self.device = device

    def evaluate_planes(self, planes_BCHW: np.ndarray, legal_BA: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(priors over legal moves, win probability of the side to move) for ready-made planes."""
        n = len(planes_BCHW)
        priors_BA = np.empty(legal_BA.shape, dtype=np.float32)
        values_B = np.empty(n, dtype=np.float32)
        with torch.no_grad():
            for lo in range(0, n, self.batch_size):
                hi = min(n, lo + self.batch_size)
                x_BCHW = torch.from_numpy(np.ascontiguousarray(planes_BCHW[lo:hi], dtype=np.float32)).to(self.device)
                logits_BA, v_B = self.model(x_BCHW)
                priors_BA[lo:hi], values_B[lo:hi] = priors_and_values(logits_BA, v_B, legal_BA[lo:hi])
        return priors_BA, values_B


def priors_and_values(logits_BA, v_B, legal_BA: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The net's raw outputs (torch tensors on any device, or numpy arrays) as the search wants them:
    softmax over the legal moves only, and v in [-1, 1] as the side to move's win probability (v + 1) / 2.
    Every backend (torch here, ONNX Runtime in ort_evaluator.py, the inference server) maps through this
    one function, so they differ only in their forward passes. In numpy: at self-play's batches of 8 to
    32 it takes 18 us a call where torch's masked_fill and softmax took 44."""
    if isinstance(logits_BA, torch.Tensor):
        logits_BA, v_B = logits_BA.float().cpu().numpy(), v_B.float().cpu().numpy()
    masked_BA = np.where(np.asarray(legal_BA) != 0, logits_BA, -np.inf).astype(np.float32, copy=False)
    masked_BA -= masked_BA.max(axis=1, keepdims=True)  # pass is always legal: every row has a finite max
    np.exp(masked_BA, out=masked_BA)
    masked_BA /= masked_BA.sum(axis=1, keepdims=True)
    return masked_BA, (np.asarray(v_B, dtype=np.float32) + np.float32(1.0)) / np.float32(2.0)


def concat_batches(batches: list[LeafBatch]) -> LeafBatch:
    """One LeafBatch of the leaves of several searches (of one board size), in order: one net call can
    then serve many games, and each search takes back its slice."""
    return LeafBatch(
        size=batches[0].size,
        boards=np.concatenate([b.boards for b in batches]),
        metas=np.concatenate([b.metas for b in batches]),
        history=np.concatenate([b.history for b in batches]),
        to_play=np.concatenate([b.to_play for b in batches]),
        legal=np.concatenate([b.legal for b in batches]),
    )
