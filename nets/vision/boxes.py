"""SSD's box geometry (Liu et al. 2016, "SSD: Single Shot MultiBox Detector", §2.2): default boxes,
the offset encoding that the network regresses, and the matching of ground truth to default boxes.

Symbols follow the paper. Feature map k of m has an f_k × f_k grid; its default boxes have scale

    s_k = s_min + (s_max - s_min) (k - 1) / (m - 1),        k = 1..m

and, for each aspect ratio a_r, width s_k √a_r and height s_k / √a_r, centred on the cell centres
((i + ½) / f_k, (j + ½) / f_k). Ratio 1 gets a second box of scale s'_k = √(s_k s_{k+1}); the paper
leaves s_{m+1} open, here it continues the same formula (k = m + 1). All boxes are in units of the
image side: (0, 0) is the top-left corner, (1, 1) the bottom-right.

Default boxes are (cx, cy, w, h); ground truth and detections are corners (x1, y1, x2, y2). Start
reading at `PriorConfig` and `default_boxes`, then `encode` / `decode` and `match`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from nets.metrics import box_iou

VARIANCES = (0.1, 0.2)  # scales of the centre and the log-size offsets (the Caffe SSD's prior variances)


@dataclass(frozen=True)
class PriorConfig:
    """Where default boxes sit and how big they are; one entry per source feature map."""

    feature_sizes: tuple[int, ...]
    """f_k: grid side of each source feature map, largest map first."""
    extra_ratios: tuple[tuple[float, ...], ...]
    """Per map, the aspect ratios besides 1; each r adds the boxes r and 1/r (paper: (2,) or (2, 3))."""
    s_min: float = 0.2
    """Scale of the first (finest) map's boxes, as a fraction of the image side."""
    s_max: float = 0.9
    """Scale of the last map's boxes."""

    def boxes_per_cell(self) -> tuple[int, ...]:
        """Per map: the two ratio-1 boxes plus r and 1/r for each extra ratio."""
        return tuple(2 + 2 * len(ratios) for ratios in self.extra_ratios)


def scales(config: PriorConfig) -> list[float]:
    """s_1 .. s_{m+1}: the paper's linear spacing, continued one step past the last map for s'_m."""
    m = len(config.feature_sizes)
    step = (config.s_max - config.s_min) / (m - 1) if m > 1 else config.s_max - config.s_min
    return [config.s_min + step * k for k in range(m + 1)]


def default_boxes(config: PriorConfig) -> torch.Tensor:
    """(P, 4) default boxes (cx, cy, w, h): map by map, cells row by row, then boxes within a cell.

    The order is the one the SSD heads produce when their (N, A·4, f, f) outputs are laid out as
    (N, f, f, A, 4): that is what lets prediction p pair with default box p.
    """
    if len(config.extra_ratios) != len(config.feature_sizes):
        raise ValueError("give extra_ratios for every feature map")
    s = scales(config)
    rows = []
    for k, (f, ratios) in enumerate(zip(config.feature_sizes, config.extra_ratios)):
        shapes = [(s[k], s[k]), (math.sqrt(s[k] * s[k + 1]),) * 2]
        for r in ratios:
            shapes += [(s[k] * math.sqrt(r), s[k] / math.sqrt(r)), (s[k] / math.sqrt(r), s[k] * math.sqrt(r))]
        for i in range(f):  # row: y
            for j in range(f):  # column: x
                for w, h in shapes:
                    rows.append(((j + 0.5) / f, (i + 0.5) / f, w, h))
    return torch.tensor(rows, dtype=torch.float32)


def center_to_corners(boxes_P4: torch.Tensor) -> torch.Tensor:
    """(cx, cy, w, h) -> (x1, y1, x2, y2)."""
    return torch.cat([boxes_P4[..., :2] - boxes_P4[..., 2:] / 2, boxes_P4[..., :2] + boxes_P4[..., 2:] / 2], -1)


def corners_to_center(boxes_P4: torch.Tensor) -> torch.Tensor:
    """(x1, y1, x2, y2) -> (cx, cy, w, h)."""
    return torch.cat([(boxes_P4[..., :2] + boxes_P4[..., 2:]) / 2, boxes_P4[..., 2:] - boxes_P4[..., :2]], -1)


def encode(
    boxes_P4: torch.Tensor, priors_P4: torch.Tensor, variances: tuple[float, float] = VARIANCES
) -> torch.Tensor:
    """Offsets ĝ that the network learns (paper eq. 2), divided by the variances.

    ĝ_cx = (g_cx - d_cx) / (d_w v_0),  ĝ_w = log(g_w / d_w) / v_1, likewise for y and h; `boxes_P4` are
    corners, `priors_P4` the default boxes d (cx, cy, w, h). The variances stretch the targets to
    about unit size so the smooth L1 loss sees both terms on one scale.
    """
    g_P4 = corners_to_center(boxes_P4)
    centre_P2 = (g_P4[..., :2] - priors_P4[..., :2]) / (priors_P4[..., 2:] * variances[0])
    size_P2 = torch.log(g_P4[..., 2:] / priors_P4[..., 2:]) / variances[1]
    return torch.cat([centre_P2, size_P2], -1)


def decode(
    offsets_P4: torch.Tensor, priors_P4: torch.Tensor, variances: tuple[float, float] = VARIANCES
) -> torch.Tensor:
    """The inverse of `encode`: corner boxes from offsets and default boxes."""
    centre_P2 = priors_P4[..., :2] + offsets_P4[..., :2] * variances[0] * priors_P4[..., 2:]
    size_P2 = priors_P4[..., 2:] * torch.exp(offsets_P4[..., 2:] * variances[1])
    return center_to_corners(torch.cat([centre_P2, size_P2], -1))


def match(
    gt_boxes_G4: torch.Tensor,
    gt_labels_G: torch.Tensor,
    priors_P4: torch.Tensor,
    iou_threshold: float = 0.5,
    variances: tuple[float, float] = VARIANCES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(offsets_P4, labels_P): the regression and class target of every default box (paper §2.2).

    Each ground truth first claims the default box it overlaps most, so every object has a positive
    even when no box reaches the threshold; then every other default box whose best IoU with any
    ground truth exceeds 0.5 (here: >= `iou_threshold`) takes that ground truth. The rest are
    background, label 0; object labels are 1..C. Offsets of background boxes are meaningless.
    """
    num_priors = priors_P4.shape[0]
    if gt_boxes_G4.shape[0] == 0:
        return torch.zeros(num_priors, 4), torch.zeros(num_priors, dtype=torch.long)
    iou_GP = box_iou(gt_boxes_G4, center_to_corners(priors_P4))
    best_iou_P, best_gt_P = iou_GP.max(dim=0)
    best_prior_G = iou_GP.argmax(dim=1)
    # In order, so a later ground truth wins a default box that two of them claim as their best.
    for g, p in enumerate(best_prior_G.tolist()):
        best_gt_P[p] = g
        best_iou_P[p] = 2.0  # above any IoU: kept whatever the threshold
    labels_P = gt_labels_G[best_gt_P].clone()
    labels_P[best_iou_P < iou_threshold] = 0
    offsets_P4 = encode(gt_boxes_G4[best_gt_P], priors_P4, variances)
    return offsets_P4, labels_P
