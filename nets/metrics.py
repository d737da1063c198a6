"""Evaluation metrics for the vision and sequence modules, each written to agree with a reference tool.

    box_iou, mask_iou        intersection over union (Jaccard); boxes as corners (x1, y1, x2, y2)
    nms, nms_per_class       greedy non-maximum suppression, the rules of ONNX's NonMaxSuppression
    precision_recall         cumulative precision and recall down a ranked detection list
    voc_ap, voc_map          PASCAL VOC average precision (Everingham et al. 2010), 11-point or all-point
    coco_ap                  COCO AP averaged over IoU thresholds .50:.05:.95 (Lin et al. 2014), 101 points
    bleu                     corpus BLEU (Papineni et al. 2002), no smoothing

The tests hold each one against the tool people quote numbers from: pycocotools (IoU, COCOeval),
onnxruntime (NMS), sacrebleu and nltk (BLEU), scikit-learn (precision/recall). Where those tools made
a choice the papers leave open (which reference length is "closest", how ties between scores rank,
COCO's ε in the precision) the code makes the same choice and says so.

Coordinates are continuous: a box from x1 to x2 is x2 - x1 wide. The VOC devkit's "+1 pixel" is not
used, as in COCO.  Start reading at `Boxes`, then `voc_map` and `coco_ap`.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # COCOeval's iouThrs
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)  # COCOeval's recThrs


@dataclass(frozen=True)
class Boxes:
    """The boxes of one image: ground truth (scores_K is None) or detections."""

    boxes_K4: np.ndarray | torch.Tensor
    """Corners (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2."""
    labels_K: np.ndarray | torch.Tensor
    """Class ids; the metrics treat every distinct id as a class (SSD uses 1..C, 0 being background)."""
    scores_K: np.ndarray | torch.Tensor | None = None
    """Confidence per detection, higher first; None for ground truth."""


def box_iou(boxes_a_N4: torch.Tensor, boxes_b_M4: torch.Tensor) -> torch.Tensor:
    """IoU of every pair, (N, M), in the inputs' dtype; pairs with an empty union give 0."""
    area_a_N = (boxes_a_N4[:, 2] - boxes_a_N4[:, 0]) * (boxes_a_N4[:, 3] - boxes_a_N4[:, 1])
    area_b_M = (boxes_b_M4[:, 2] - boxes_b_M4[:, 0]) * (boxes_b_M4[:, 3] - boxes_b_M4[:, 1])
    top_left_NM2 = torch.maximum(boxes_a_N4[:, None, :2], boxes_b_M4[None, :, :2])
    bottom_right_NM2 = torch.minimum(boxes_a_N4[:, None, 2:], boxes_b_M4[None, :, 2:])
    size_NM2 = (bottom_right_NM2 - top_left_NM2).clamp(min=0)
    inter_NM = size_NM2[..., 0] * size_NM2[..., 1]
    # (a + b) - i in this order: onnxruntime's NMS computes it so, and float32 ties must agree.
    union_NM = (area_a_N[:, None] + area_b_M[None, :]) - inter_NM
    return torch.where(union_NM > 0, inter_NM / union_NM.clamp(min=torch.finfo(union_NM.dtype).tiny), 0.0)


def mask_iou(masks_a_NHW: torch.Tensor, masks_b_MHW: torch.Tensor) -> torch.Tensor:
    """IoU of every pair of binary masks, (N, M) float64; pairs with an empty union give 0."""
    a_NP = masks_a_NHW.reshape(masks_a_NHW.shape[0], -1).to(torch.float64)  # (N, H, W) -> (N, HW)
    b_MP = masks_b_MHW.reshape(masks_b_MHW.shape[0], -1).to(torch.float64)  # (M, H, W) -> (M, HW)
    # float64 counts are exact up to 2**53 pixels, so the matmul is an exact intersection count.
    inter_NM = a_NP @ b_MP.T
    union_NM = a_NP.sum(1)[:, None] + b_MP.sum(1)[None, :] - inter_NM
    return torch.where(union_NM > 0, inter_NM / union_NM.clamp(min=1.0), 0.0)


def nms(
    boxes_N4: torch.Tensor,
    scores_N: torch.Tensor,
    iou_threshold: float,
    score_threshold: float | None = None,
    max_output: int | None = None,
) -> torch.Tensor:
    """Indices of the boxes kept by greedy NMS, highest score first.

    A box is dropped when its IoU with an already kept box is *greater* than `iou_threshold`; boxes
    scoring at or below `score_threshold` never enter. Equal scores rank the lower index first. These
    are the rules of ONNX Runtime's NonMaxSuppression, which the tests compare against. Unlike ONNX,
    corners are not reordered: give x1 <= x2 and y1 <= y2.
    """
    candidates_N = torch.ones_like(scores_N, dtype=torch.bool)
    if score_threshold is not None:
        candidates_N = scores_N > score_threshold
    index_K = torch.nonzero(candidates_N).flatten()
    order_K = index_K[torch.argsort(-scores_N[index_K], stable=True)]
    over_KK = (box_iou(boxes_N4[order_K], boxes_N4[order_K]) > iou_threshold).cpu().numpy()
    limit = len(order_K) if max_output is None else max_output
    kept: list[int] = []
    alive_K = np.ones(len(order_K), dtype=bool)
    for i in range(len(order_K)):
        if len(kept) >= limit:
            break
        if alive_K[i]:
            kept.append(i)
            alive_K &= ~over_KK[i]
    return order_K[torch.as_tensor(kept, dtype=torch.long)]


def nms_per_class(
    boxes_N4: torch.Tensor,
    scores_CN: torch.Tensor,
    iou_threshold: float,
    score_threshold: float | None = None,
    max_output_per_class: int | None = None,
) -> torch.Tensor:
    """NMS run separately for each class over shared boxes; (S, 2) rows of (class, box index).

    Rows come class by class, highest score first within a class: ONNX NonMaxSuppression's output for
    one batch with its batch column dropped.
    """
    rows = []
    for c in range(scores_CN.shape[0]):
        kept_S = nms(boxes_N4, scores_CN[c], iou_threshold, score_threshold, max_output_per_class)
        rows.append(torch.stack([torch.full_like(kept_S, c), kept_S], dim=1))
    return torch.cat(rows) if rows else torch.zeros((0, 2), dtype=torch.long)


def precision_recall(
    scores_D: np.ndarray, is_true_D: np.ndarray, num_ground_truth: int
) -> tuple[np.ndarray, np.ndarray]:
    """(precision_D, recall_D) after each detection, the detections ranked by score (ties: input order)."""
    order_D = np.argsort(-np.asarray(scores_D, dtype=np.float64), kind="mergesort")
    true_D = np.asarray(is_true_D, dtype=bool)[order_D]
    tp_D = np.cumsum(true_D, dtype=np.float64)
    fp_D = np.cumsum(~true_D, dtype=np.float64)
    recall_D = tp_D / max(num_ground_truth, 1)
    precision_D = tp_D / np.maximum(tp_D + fp_D, np.finfo(np.float64).eps)
    return precision_D, recall_D


def voc_ap(precision_D: np.ndarray, recall_D: np.ndarray, *, eleven_point: bool = False) -> float:
    """Area under the interpolated precision/recall curve (VOC devkit).

    Interpolated precision at recall r is the best precision at any recall >= r. VOC2007 averages it
    at r = 0, 0.1, ..., 1; VOC2010 onwards integrates it exactly ("all-point").
    """
    precision_D, recall_D = np.asarray(precision_D, np.float64), np.asarray(recall_D, np.float64)
    if eleven_point:
        points = []
        for r in np.linspace(0.0, 1.0, 11):
            reached = recall_D >= r
            points.append(precision_D[reached].max() if reached.any() else 0.0)
        return float(np.mean(points))
    recall = np.concatenate([[0.0], recall_D, [1.0]])
    precision = np.concatenate([[0.0], precision_D, [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope, running max from the right
    step = np.nonzero(recall[1:] != recall[:-1])[0]
    return float(np.sum((recall[step + 1] - recall[step]) * precision[step + 1]))


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _iou_np(boxes_a_N4: np.ndarray, boxes_b_M4: np.ndarray) -> np.ndarray:
    # reshape(-1, 4): an empty selection may arrive as shape (0,); IoU wants (0, 4)
    return box_iou(torch.from_numpy(np.asarray(boxes_a_N4, np.float64).reshape(-1, 4)),
                   torch.from_numpy(np.asarray(boxes_b_M4, np.float64).reshape(-1, 4))).numpy()


def voc_map(
    detections: Sequence[Boxes],
    ground_truths: Sequence[Boxes],
    *,
    iou_threshold: float = 0.5,
    eleven_point: bool = False,
) -> tuple[float, dict[int, float]]:
    """(mAP, AP per class) in the PASCAL VOC way; one `Boxes` per image in each list, same order.

    For each class the detections of all images are ranked by score. Each one is a true positive when
    its best-overlapping ground truth of that class in its image has IoU >= `iou_threshold` (the
    devkit's `minoverlap`) and was not claimed by a higher-scoring detection; a detection whose best
    ground truth is taken is a false positive even if another one overlaps enough (the VOC rule).
    The mean runs over the classes that have ground truth; a class with only detections gets nan.
    """
    labels = sorted({int(v) for b in (*detections, *ground_truths) for v in _np(b.labels_K)})
    ap_per_class: dict[int, float] = {}
    for c in labels:
        scores, hits, num_gt = [], [], 0
        for det, gt in zip(detections, ground_truths, strict=True):
            gt_G4 = _np(gt.boxes_K4)[_np(gt.labels_K) == c]
            num_gt += len(gt_G4)
            pick = _np(det.labels_K) == c
            det_D4, det_scores_D = _np(det.boxes_K4)[pick], _np(det.scores_K)[pick].astype(np.float64)
            order_D = np.argsort(-det_scores_D, kind="mergesort")
            iou_DG = _iou_np(det_D4[order_D], gt_G4)
            claimed_G = np.zeros(len(gt_G4), dtype=bool)
            for d in range(len(order_D)):
                best = int(np.argmax(iou_DG[d])) if len(gt_G4) else -1
                hit = best >= 0 and iou_DG[d, best] >= iou_threshold and not claimed_G[best]
                if hit:
                    claimed_G[best] = True
                hits.append(hit)
            scores.extend(det_scores_D[order_D])
        if num_gt == 0:
            ap_per_class[c] = float("nan")
            continue
        precision_D, recall_D = precision_recall(np.array(scores), np.array(hits, dtype=bool), num_gt)
        ap_per_class[c] = voc_ap(precision_D, recall_D, eleven_point=eleven_point)
    defined = [ap for ap in ap_per_class.values() if not math.isnan(ap)]
    return (float(np.mean(defined)) if defined else float("nan")), ap_per_class


def _coco_match(
    iou_DG: np.ndarray, gt_ignore_G: np.ndarray, iou_thresholds_T: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(matched_TD, matched_to_ignored_TD) for score-ranked detections and ignore-last ground truth.

    COCOeval.evaluateImg's loop: each detection takes the free ground truth of highest IoU >= t (ties
    go to the later one), preferring any regular ground truth over an ignored one.
    """
    num_d, num_g = iou_DG.shape
    matched_TD = np.zeros((len(iou_thresholds_T), num_d), dtype=bool)
    ignored_TD = np.zeros((len(iou_thresholds_T), num_d), dtype=bool)
    for t, threshold in enumerate(iou_thresholds_T):
        taken_G = np.zeros(num_g, dtype=bool)
        for d in range(num_d):
            best_iou, m = min(threshold, 1 - 1e-10), -1
            for g in range(num_g):
                if taken_G[g]:  # crowd ground truth (never taken twice) is not supported here
                    continue
                if m > -1 and not gt_ignore_G[m] and gt_ignore_G[g]:
                    break
                if iou_DG[d, g] < best_iou:
                    continue
                best_iou, m = iou_DG[d, g], g
            if m > -1:
                taken_G[m] = True
                matched_TD[t, d] = True
                ignored_TD[t, d] = gt_ignore_G[m]
    return matched_TD, ignored_TD


def coco_ap(
    detections: Sequence[Boxes],
    ground_truths: Sequence[Boxes],
    iou_thresholds: Sequence[float] = tuple(COCO_IOU_THRESHOLDS),
    area_range: tuple[float, float] = (0.0, 1e10),
    max_detections: int = 100,
) -> float:
    """COCO box AP: precision at 101 recall points averaged over IoU thresholds and classes.

    `iou_thresholds=(0.5,)` gives AP50; the default gives AP@[.5:.95] (COCOeval's stats[0]). Ground
    truth whose area lies outside `area_range` is ignored (neither missed nor matched), as are
    unmatched detections outside it; each image keeps its `max_detections` best per class. Classes
    without (unignored) ground truth are left out of the mean; with none left the answer is -1, as in
    COCOeval. No crowd annotations.
    """
    thresholds_T = np.asarray(iou_thresholds, dtype=np.float64)
    labels = sorted({int(v) for gt in ground_truths for v in _np(gt.labels_K)})
    precision_per_class = []
    for c in labels:
        scores, matched, ignored, num_regular_gt = [], [], [], 0
        for det, gt in zip(detections, ground_truths, strict=True):
            gt_G4 = _np(gt.boxes_K4)[_np(gt.labels_K) == c].astype(np.float64)
            pick = _np(det.labels_K) == c
            det_D4, det_scores_D = _np(det.boxes_K4)[pick].astype(np.float64), _np(det.scores_K)[pick]
            order_D = np.argsort(-det_scores_D, kind="mergesort")[:max_detections]
            det_D4, det_scores_D = det_D4[order_D], det_scores_D[order_D]
            gt_area_G = (gt_G4[:, 2] - gt_G4[:, 0]) * (gt_G4[:, 3] - gt_G4[:, 1])
            gt_ignore_G = (gt_area_G < area_range[0]) | (gt_area_G > area_range[1])
            gt_order_G = np.argsort(gt_ignore_G, kind="mergesort")
            gt_G4, gt_ignore_G = gt_G4[gt_order_G], gt_ignore_G[gt_order_G]
            matched_TD, ignored_TD = _coco_match(_iou_np(det_D4, gt_G4), gt_ignore_G, thresholds_T)
            det_area_D = (det_D4[:, 2] - det_D4[:, 0]) * (det_D4[:, 3] - det_D4[:, 1])
            outside_D = (det_area_D < area_range[0]) | (det_area_D > area_range[1])
            ignored_TD |= ~matched_TD & outside_D[None, :]
            scores.append(det_scores_D)
            matched.append(matched_TD)
            ignored.append(ignored_TD)
            num_regular_gt += int((~gt_ignore_G).sum())
        if num_regular_gt == 0:
            continue
        order_D = np.argsort(-np.concatenate(scores), kind="mergesort")
        matched_TD = np.concatenate(matched, axis=1)[:, order_D]
        ignored_TD = np.concatenate(ignored, axis=1)[:, order_D]
        tp_TD = np.cumsum(matched_TD & ~ignored_TD, axis=1).astype(np.float64)
        fp_TD = np.cumsum(~matched_TD & ~ignored_TD, axis=1).astype(np.float64)
        precision_TR = np.zeros((len(thresholds_T), len(COCO_RECALL_THRESHOLDS)))
        for t in range(len(thresholds_T)):
            recall_D = tp_TD[t] / num_regular_gt
            # COCOeval's ε keeps 0/0 (only ignored detections so far) at precision 0.
            precision_D = tp_TD[t] / (fp_TD[t] + tp_TD[t] + np.spacing(1))
            precision_D = np.maximum.accumulate(precision_D[::-1])[::-1]
            index_R = np.searchsorted(recall_D, COCO_RECALL_THRESHOLDS, side="left")
            reached_R = index_R < len(precision_D)
            precision_TR[t, reached_R] = precision_D[index_R[reached_R]]
        precision_per_class.append(precision_TR)
    return float(np.mean(precision_per_class)) if precision_per_class else -1.0


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def bleu(
    hypotheses: Sequence[Sequence[str]],
    references: Sequence[Sequence[Sequence[str]]],
    max_order: int = 4,
) -> float:
    """Corpus BLEU in [0, 1]: brevity penalty times the geometric mean of clipped n-gram precisions.

    Counts are summed over the corpus before dividing (corpus, not mean sentence, BLEU). Each
    hypothesis n-gram counts at most as often as it appears in any single one of its references. The
    reference length is, per sentence, the reference length closest to the hypothesis's, the shorter
    on a tie (sacrebleu and nltk agree). Without smoothing one zero precision makes BLEU 0.
    A hypothesis shorter than n adds 0 to the n-gram total, as in sacrebleu; nltk adds 1 there, so
    nltk's figure is lower on corpora holding such short sentences (and equal otherwise).
    """
    matches = [0] * max_order
    totals = [0] * max_order
    hyp_length = ref_length = 0
    for hyp, refs in zip(hypotheses, references, strict=True):
        hyp_length += len(hyp)
        ref_length += min((len(r) for r in refs), key=lambda n: (abs(n - len(hyp)), n))
        for n in range(1, max_order + 1):
            best_ref = Counter()
            for r in refs:
                best_ref |= _ngrams(r, n)  # | keeps the larger count per n-gram
            hyp_counts = _ngrams(hyp, n)
            matches[n - 1] += sum(min(count, best_ref[g]) for g, count in hyp_counts.items())
            totals[n - 1] += sum(hyp_counts.values())
    if min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_order
    brevity = 1.0 if hyp_length >= ref_length else math.exp(1 - ref_length / hyp_length)
    return brevity * math.exp(log_precision)
