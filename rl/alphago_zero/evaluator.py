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

Score utility (KataGo, Wu 2019, sec. 4.1, "score maximization"): with `score_utility` w > 0, for a net
with the auxiliary heads (nets/go/zero_resnet.py), the value handed to the search is the utility

    u = (p_win + w (1 + phi) / 2) / (1 + w),   phi = (2 / pi) atan(m / (SCORE_SCALE N))

where m is the score head's predicted final margin in points (from the side to move's view, komi in) and
N the board width, so the search prefers, among moves that win (or lose) alike, those that win by more
(or lose by less). KataGo adds w phi to its win-loss value in [-1, 1]; dividing by 1 + w keeps u a
probability-like number in [0, 1], which the tree's win rates, FPU and virtual loss assume, and is the
same ordering (the scale is absorbed by c_puct). KataGo's scale is 0.5 sqrt(board area) for its dynamic
utility as here; it centres that one on the root's expected score, which this static form leaves out.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn

from goengine import checks
from goengine.mcts.evaluators import LeafBatch, PlanesEvaluator


SCORE_SCALE = 0.5
"""Score utility: margins are scaled by SCORE_SCALE x board width before the atan (KataGo's 0.5 x
sqrt(area)); on 9x9 a 4.5-point lead gives phi = 0.5."""


class NetEvaluator(PlanesEvaluator):
    def __init__(self, model: nn.Module, board_size: int, batch_size: int = 256, device: str = "cpu",
                 score_utility: float = 0.0):
        size = getattr(getattr(model, "config", None), "board_size", board_size)
        if size != board_size:
            raise ValueError(f"the net is for {size}x{size}, not {board_size}x{board_size}")
        check_score_utility(score_utility, getattr(model, "config", None))
        super().__init__()
        self.model = model.to(device).eval()
        self.board_size = board_size
        self.batch_size = batch_size
        self.device = device
        self.score_utility = float(score_utility)

    def evaluate_planes(self, planes_BCHW: np.ndarray, legal_BA: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(priors over legal moves, win probability of the side to move) for ready-made planes."""
        n = len(planes_BCHW)
        priors_BA = np.empty(legal_BA.shape, dtype=np.float32)
        values_B = np.empty(n, dtype=np.float32)
        with torch.no_grad():
            for lo in range(0, n, self.batch_size):
                hi = min(n, lo + self.batch_size)
                x_BCHW = torch.from_numpy(np.ascontiguousarray(planes_BCHW[lo:hi], dtype=np.float32)).to(self.device)
                if self.score_utility == 0:
                    logits_BA, v_B = self.model(x_BCHW)
                    priors_BA[lo:hi], values_B[lo:hi] = priors_and_values(logits_BA, v_B, legal_BA[lo:hi])
                    continue
                logits_BA, v_B, _, score_B = self.model(x_BCHW, aux=True)
                priors_BA[lo:hi], p_win_B = priors_and_values(logits_BA, v_B, legal_BA[lo:hi])
                values_B[lo:hi] = score_utility_values(p_win_B, score_B.float().cpu().numpy(), self.board_size,
                                                       self.score_utility)
        return priors_BA, values_B


def check_score_utility(weight: float, net_config) -> None:
    """ValueError of one line unless `weight` >= 0 and, when > 0, the net has the score head."""
    checks.number("score_utility", weight, 0)
    if weight > 0 and not getattr(net_config, "aux_heads", False):
        raise ValueError("score_utility needs a net with the score head (train it with --aux-heads)")


def score_utility_values(p_win_B: np.ndarray, score_share_B: np.ndarray, board_size: int,
                         weight: float) -> np.ndarray:
    """The search's utility u in [0, 1] (module docstring) from the win probabilities p_win_B and the score
    head's margins as shares of the board (points / N², the mover's view)."""
    margin_points_B = np.asarray(score_share_B, dtype=np.float64) * board_size ** 2
    phi_B = (2 / math.pi) * np.arctan(margin_points_B / (SCORE_SCALE * board_size))
    return ((np.asarray(p_win_B, dtype=np.float64) + weight * (1 + phi_B) / 2) / (1 + weight)).astype(np.float32)


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
