"""SSD, the Single Shot MultiBox Detector (Liu et al. 2016), small enough to train on a CPU.

A backbone turns the image into feature maps of falling resolution. On each *source* map a 3×3
convolution predicts, for every default box of every cell, four box offsets and C + 1 class scores
(class 0 is background). Fine maps carry small default boxes and coarse maps large ones, so one pass
detects objects of all sizes. Geometry (default boxes, offset encoding, matching) is in `boxes.py`.

Training (paper §2.2) matches ground truth to default boxes, then minimises the multibox loss

    L = (L_conf + α L_loc) / N,      N = number of matched (positive) default boxes, L = 0 if N = 0,

with L_loc the smooth L1 loss of the positives' offsets and L_conf the softmax cross-entropy over the
positives and the *hardest* negatives: per image, the background boxes with the highest confidence
loss, at most 3 per positive ("hard negative mining"). Inference decodes the boxes, then runs
non-maximum suppression class by class.

The backbone is swappable: any module mapping (N, C_in, S, S) images to a list of feature maps will
do; the heads and default boxes are sized from one dry run. The built-in one is a data table of
conv-BN-ReLU rows. Start reading at `SSD.forward`, then `multibox_loss`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from nets.metrics import Boxes, nms
from nets.registry import register
from nets.vision.boxes import PriorConfig, decode, default_boxes, match

# Rows (out_channels, stride, is_source) for 48×48 inputs: 3×3 conv-BN-ReLU each; sources at 12, 6, 3.
TINY_48: tuple[tuple[int, int, bool], ...] = (
    (16, 2, False),
    (16, 1, False),
    (32, 2, False),
    (32, 1, True),
    (64, 2, True),
    (64, 2, True),
)


@dataclass(frozen=True)
class SSDConfig:
    """A tiny SSD; the defaults detect 8-20 pixel objects in 48×48 single-channel images."""

    num_classes: int = 2
    """Object classes C; the network scores C + 1, class 0 being background."""
    image_size: int = 48
    """Side S of the square input images."""
    in_channels: int = 1
    """Image channels."""
    stages: tuple[tuple[int, int, bool], ...] = TINY_48
    """Rows of the built-in backbone; ignored when a backbone module is given."""
    extra_ratios: tuple[tuple[float, ...], ...] = ((2.0,), (2.0,), (2.0,))
    """Aspect ratios besides 1, per source map (see `PriorConfig`)."""
    s_min: float = 0.15
    """Default-box scale on the finest source map, as a fraction of the image side."""
    s_max: float = 0.55
    """Default-box scale on the coarsest source map."""
    match_iou: float = 0.5
    """A default box is positive when its IoU with a ground truth reaches this."""
    neg_pos_ratio: float = 3.0
    """Hard negatives kept per positive."""
    loc_weight: float = 1.0
    """α, the weight of the localisation loss."""
    score_threshold: float = 0.01
    """Detections scoring at or below this are dropped before NMS."""
    nms_iou: float = 0.45
    """Per class, a box overlapping a better one by more than this is suppressed."""
    top_k: int = 200
    """Boxes per class entering NMS, and detections kept per image."""


class SSDBackbone(nn.Module):
    """Plain 3×3 conv-BN-ReLU stack from a table; returns the maps of the rows marked as sources."""

    def __init__(self, in_channels: int = 1, stages: Sequence[tuple[int, int, bool]] = TINY_48):
        super().__init__()
        layers, sources, channels = [], [], in_channels
        for out_channels, stride, is_source in stages:
            layers.append(nn.Sequential(
                nn.Conv2d(channels, out_channels, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ))
            sources.append(is_source)
            channels = out_channels
        self.layers = nn.ModuleList(layers)
        self.sources = tuple(sources)

    def forward(self, x_NCHW: torch.Tensor) -> list[torch.Tensor]:
        maps = []
        for layer, is_source in zip(self.layers, self.sources):
            x_NCHW = layer(x_NCHW)
            if is_source:
                maps.append(x_NCHW)
        return maps


class SSD(nn.Module):
    """Backbone, one loc and one conf 3×3 head per source map, and the default boxes they refer to."""

    def __init__(self, config: SSDConfig = SSDConfig(), backbone: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.backbone = backbone if backbone is not None else SSDBackbone(config.in_channels, config.stages)
        channels, sizes = self._probe_backbone()
        self.priors = PriorConfig(sizes, config.extra_ratios, config.s_min, config.s_max)
        per_cell = self.priors.boxes_per_cell()
        classes = config.num_classes + 1
        self.loc_heads = nn.ModuleList(nn.Conv2d(c, a * 4, 3, padding=1) for c, a in zip(channels, per_cell))
        self.conf_heads = nn.ModuleList(nn.Conv2d(c, a * classes, 3, padding=1) for c, a in zip(channels, per_cell))
        self.register_buffer("default_boxes_P4", default_boxes(self.priors), persistent=False)

    def _probe_backbone(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(channels, side) of each source map, from one forward pass in eval mode (BN stats untouched)."""
        was_training = self.backbone.training
        self.backbone.eval()
        side = self.config.image_size
        with torch.no_grad():
            maps = self.backbone(torch.zeros(1, self.config.in_channels, side, side))
        self.backbone.train(was_training)
        if any(m.shape[-1] != m.shape[-2] for m in maps):
            raise ValueError("SSD's default boxes assume square feature maps")
        return tuple(m.shape[1] for m in maps), tuple(m.shape[-1] for m in maps)

    def forward(self, images_NCHW: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(offsets_NP4, logits_NPK): encoded box offsets and class logits (K = C + 1) per default box."""
        n, classes = images_NCHW.shape[0], self.config.num_classes + 1
        offsets, logits = [], []
        for x_NCHW, loc, conf in zip(self.backbone(images_NCHW), self.loc_heads, self.conf_heads):
            # (N, A*4, H, W) -> (N, H, W, A*4) -> (N, H*W*A, 4): cell-major, as default_boxes orders them
            offsets.append(loc(x_NCHW).permute(0, 2, 3, 1).reshape(n, -1, 4))
            # (N, A*K, H, W) -> (N, H, W, A*K) -> (N, H*W*A, K)
            logits.append(conf(x_NCHW).permute(0, 2, 3, 1).reshape(n, -1, classes))
        return torch.cat(offsets, 1), torch.cat(logits, 1)

    def targets(self, ground_truths: Sequence[Boxes]) -> tuple[torch.Tensor, torch.Tensor]:
        """(offsets_NP4, labels_NP) for a batch; ground-truth corners in units of the image side."""
        # reshape: an image without objects may hold boxes of shape (0,); match wants (0, 4) and (0,)
        rows = [match(torch.as_tensor(gt.boxes_K4, dtype=torch.float32).reshape(-1, 4),
                      torch.as_tensor(gt.labels_K, dtype=torch.long).reshape(-1),
                      self.default_boxes_P4.cpu(), self.config.match_iou) for gt in ground_truths]
        device = self.default_boxes_P4.device
        return torch.stack([r[0] for r in rows]).to(device), torch.stack([r[1] for r in rows]).to(device)

    def loss(self, images_NCHW: torch.Tensor, ground_truths: Sequence[Boxes]) -> torch.Tensor:
        """The multibox loss of this batch (see `multibox_loss`)."""
        offsets_NP4, logits_NPK = self(images_NCHW)
        target_offsets_NP4, target_labels_NP = self.targets(ground_truths)
        return multibox_loss(offsets_NP4, logits_NPK, target_offsets_NP4, target_labels_NP,
                             self.config.neg_pos_ratio, self.config.loc_weight)

    @torch.no_grad()
    def detect(self, images_NCHW: torch.Tensor) -> list[Boxes]:
        """Per image, detections as corner boxes in units of the image side, labels 1..C, best first.

        Runs in whatever mode the module is in; call `.eval()` first for BatchNorm's running statistics.
        """
        cfg = self.config
        offsets_NP4, logits_NPK = self(images_NCHW)
        probs_NPK = logits_NPK.softmax(-1)
        results = []
        for offsets_P4, probs_PK in zip(offsets_NP4, probs_NPK):
            boxes_P4 = decode(offsets_P4, self.default_boxes_P4)
            kept_boxes, kept_scores, kept_labels = [], [], []
            for c in range(1, cfg.num_classes + 1):
                scores_P = probs_PK[:, c]
                candidate_Q = torch.nonzero(scores_P > cfg.score_threshold).flatten()
                candidate_Q = candidate_Q[scores_P[candidate_Q].argsort(descending=True, stable=True)[: cfg.top_k]]
                keep_Q = candidate_Q[nms(boxes_P4[candidate_Q], scores_P[candidate_Q], cfg.nms_iou)]
                kept_boxes.append(boxes_P4[keep_Q])
                kept_scores.append(scores_P[keep_Q])
                kept_labels.append(torch.full_like(keep_Q, c))
            scores_D = torch.cat(kept_scores)
            best_D = scores_D.argsort(descending=True, stable=True)[: cfg.top_k]
            results.append(Boxes(torch.cat(kept_boxes)[best_D], torch.cat(kept_labels)[best_D], scores_D[best_D]))
        return results


def hard_negative_mask(background_loss_NP: torch.Tensor, positive_NP: torch.Tensor, ratio: float) -> torch.Tensor:
    """The negatives each image keeps: its `ratio` × positives highest-loss background boxes.

    With no positive an image keeps no negative (as in the reference implementations): its loss term
    would have no N to be normalised by.
    """
    num_priors = positive_NP.shape[1]
    loss_NP = background_loss_NP.masked_fill(positive_NP, float("-inf"))
    num_pos_N1 = positive_NP.sum(1, keepdim=True)
    num_neg_N1 = torch.minimum((ratio * num_pos_N1).long(), num_priors - num_pos_N1)
    order_NP = loss_NP.argsort(dim=1, descending=True, stable=True)
    rank_NP = order_NP.argsort(dim=1)
    return rank_NP < num_neg_N1


def multibox_loss(
    offsets_NP4: torch.Tensor,
    logits_NPK: torch.Tensor,
    target_offsets_NP4: torch.Tensor,
    target_labels_NP: torch.Tensor,
    neg_pos_ratio: float = 3.0,
    loc_weight: float = 1.0,
) -> torch.Tensor:
    """(L_conf + α L_loc) / N over a batch, N the number of positives in it (paper eq. 1); 0 if N = 0."""
    positive_NP = target_labels_NP > 0
    num_pos = positive_NP.sum()
    n, p, k = logits_NPK.shape
    ce_NP = F.cross_entropy(logits_NPK.reshape(n * p, k), target_labels_NP.reshape(n * p),  # (N,P,K) -> (NP,K)
                            reduction="none").reshape(n, p)  # (NP,) -> (N, P)
    # A negative's cross-entropy is its background loss, -log softmax_0: the quantity mining ranks by.
    negative_NP = hard_negative_mask(ce_NP.detach(), positive_NP, neg_pos_ratio)
    conf_loss = ce_NP[positive_NP | negative_NP].sum()
    loc_loss = F.smooth_l1_loss(offsets_NP4[positive_NP], target_offsets_NP4[positive_NP], reduction="sum")
    if num_pos == 0:
        return 0.0 * (offsets_NP4.sum() + logits_NPK.sum())  # keeps the graph, so backward() still works
    return (conf_loss + loc_weight * loc_loss) / num_pos


@register("ssd")
def build_ssd(backbone: nn.Module | None = None, **config) -> SSD:
    """A tiny SSD; `config` are `SSDConfig` fields, `backbone` any module returning source maps."""
    return SSD(SSDConfig(**config), backbone)


@register("ssd_backbone")
def build_ssd_backbone(in_channels: int = 1, stages: Sequence[tuple[int, int, bool]] = TINY_48) -> SSDBackbone:
    """The table-driven conv-BN-ReLU backbone SSD uses by default."""
    return SSDBackbone(in_channels, stages)
