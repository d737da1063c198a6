"""nets.metrics against the tools people quote numbers from: pycocotools, onnxruntime, sacrebleu, nltk,
scikit-learn; VOC AP against a case worked by hand."""
from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest
import torch

from nets.metrics import (
    Boxes,
    box_iou,
    bleu,
    coco_ap,
    mask_iou,
    nms,
    nms_per_class,
    precision_recall,
    voc_ap,
    voc_map,
)


def _random_boxes(rng: np.random.Generator, n: int, extent: float = 100.0) -> np.ndarray:
    """Corner boxes (x1, y1, x2, y2) crowded into a few clusters so that IoUs cover 0..1."""
    centres_K2 = rng.uniform(0.2 * extent, 0.8 * extent, size=(3, 2))
    centre_N2 = centres_K2[rng.integers(0, 3, n)] + rng.normal(0, 0.05 * extent, size=(n, 2))
    size_N2 = rng.uniform(0.05 * extent, 0.4 * extent, size=(n, 2))
    return np.concatenate([centre_N2 - size_N2 / 2, centre_N2 + size_N2 / 2], axis=1)


# ---------------------------------------------------------------------------------------------- IoU


def test_box_iou_equals_pycocotools():
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(0)
    a_N4, b_M4 = _random_boxes(rng, 40), _random_boxes(rng, 30)
    b_M4[0] = a_N4[0]  # one identical pair: IoU exactly 1
    b_M4[1] = a_N4[1] + 500.0  # one far away: IoU exactly 0
    to_xywh = lambda c: np.concatenate([c[:, :2], c[:, 2:] - c[:, :2]], axis=1)  # noqa: E731
    expected_NM = mask_utils.iou(to_xywh(a_N4), to_xywh(b_M4), [0] * len(b_M4))
    got_NM = box_iou(torch.from_numpy(a_N4), torch.from_numpy(b_M4))
    assert got_NM.shape == (40, 30)
    np.testing.assert_allclose(got_NM.numpy(), expected_NM, rtol=0, atol=1e-12)
    assert got_NM[0, 0] == 1.0 and got_NM[1, 1] == 0.0
    assert 0.2 < (expected_NM > 0).mean() < 0.9  # the clusters really overlap


def test_mask_iou_equals_pycocotools_on_rle():
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(1)
    # Blobs: thresholded smoothed noise, so masks overlap partially rather than as salt and pepper.
    noise_NHW = rng.normal(size=(11, 24, 32))
    kernel = np.ones(5) / 5
    for axis in (1, 2):
        noise_NHW = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), axis, noise_NHW)
    masks_NHW = noise_NHW > rng.uniform(-0.3, 0.3, size=(11, 1, 1))
    a_NHW, b_MHW = masks_NHW[:6], masks_NHW[6:]
    rle_a = mask_utils.encode(np.asfortranarray(a_NHW.transpose(1, 2, 0).astype(np.uint8)))  # (N,H,W)->(H,W,N)
    rle_b = mask_utils.encode(np.asfortranarray(b_MHW.transpose(1, 2, 0).astype(np.uint8)))  # (M,H,W)->(H,W,M)
    expected_NM = mask_utils.iou(rle_a, rle_b, [0] * len(b_MHW))
    got_NM = mask_iou(torch.from_numpy(a_NHW), torch.from_numpy(b_MHW))
    assert got_NM.shape == (6, 5)
    np.testing.assert_allclose(got_NM.numpy(), expected_NM, rtol=0, atol=1e-12)
    assert (expected_NM > 0.05).all() and (expected_NM < 0.95).all()


# ------------------------------------------------------------------------------------ precision, AP


def test_precision_recall_equals_sklearn_at_every_threshold():
    from sklearn.metrics import precision_recall_curve

    rng = np.random.default_rng(2)
    # Every ground truth is detected exactly once, so sklearn's positives are our true detections.
    scores_D = np.round(rng.random(200), 2)  # rounding makes ties, which both must group
    true_D = rng.random(200) < 0.4
    precision_D, recall_D = precision_recall(scores_D, true_D, int(true_D.sum()))
    sk_precision, sk_recall, sk_thresholds = precision_recall_curve(true_D, scores_D)
    ranked_D = np.sort(scores_D)[::-1]
    for p, r, threshold in zip(sk_precision[:-1], sk_recall[:-1], sk_thresholds):
        last = np.nonzero(ranked_D >= threshold)[0][-1]  # our row after the whole tied group
        assert precision_D[last] == pytest.approx(p, abs=1e-12)
        assert recall_D[last] == pytest.approx(r, abs=1e-12)


def _hand_worked_case() -> tuple[list[Boxes], list[Boxes]]:
    """Two images, classes 1 and 2, and a class 3 that only has a detection.

    Class 1 ground truth: A = [0,0,10,10] in image 0; B = [0,0,10,10] and C = [20,20,30,30] in image 1.
    Class 1 detections, by score:
        0.9 img0 [0,0,10,10]   IoU(A) = 1                        TP
        0.8 img1 [0,0,10,8]    IoU(B) = 80/100 = 0.8             TP
        0.7 img0 [0,0,10,9]    best is A, already claimed        FP (duplicate)
        0.6 img1 [50,50,60,60] touches nothing                   FP
        0.5 img1 [20,20,30,26] IoU(C) = 60/100 = 0.6             TP
        0.3 img0 [5,5,15,15]   IoU(A) = 25/175 = 0.14            FP (it sits on class 2's D)
      precision 1, 1, 2/3, 1/2, 3/5, 1/2;  recall 1/3, 2/3, 2/3, 2/3, 1, 1.
      All-point: envelope 1 up to recall 2/3, then 3/5 up to 1:  AP = 2/3 * 1 + 1/3 * 3/5 = 13/15.
      11-point: r = 0, .1, ..., .6 (7 points) give 1; r = .7, .8, .9, 1 (4 points) give 3/5:
                AP = (7 + 4 * 0.6) / 11 = 9.4 / 11.
    Class 2 ground truth: D = [5,5,15,15] in image 0.  Detections: 0.95 img1 [5,5,15,15] FP (no
      ground truth there), 0.4 img0 [5,5,15,15] TP.  precision 0, 1/2; recall 0, 1.
      All-point AP = 1 * 1/2 = 0.5; 11-point AP = 0.5 (every r is reached only at precision 1/2).
    Class 3: one detection, no ground truth: AP undefined (nan), left out of the mean.
    mAP all-point = (13/15 + 1/2) / 2 = 41/60;  11-point = (9.4/11 + 1/2) / 2.
    """
    gts = [
        Boxes(np.array([[0, 0, 10, 10], [5, 5, 15, 15]], float), np.array([1, 2])),
        Boxes(np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), np.array([1, 1])),
    ]
    dets = [
        Boxes(np.array([[0, 0, 10, 10], [0, 0, 10, 9], [5, 5, 15, 15], [5, 5, 15, 15], [0, 0, 4, 4]], float),
              np.array([1, 1, 1, 2, 3]), np.array([0.9, 0.7, 0.3, 0.4, 0.2])),
        Boxes(np.array([[0, 0, 10, 8], [50, 50, 60, 60], [20, 20, 30, 26], [5, 5, 15, 15]], float),
              np.array([1, 1, 1, 2]), np.array([0.8, 0.6, 0.5, 0.95])),
    ]
    return dets, gts


def test_voc_map_equals_the_hand_worked_case():
    dets, gts = _hand_worked_case()
    mean_all, per_class_all = voc_map(dets, gts)
    assert per_class_all[1] == pytest.approx(13 / 15, abs=1e-12)
    assert per_class_all[2] == pytest.approx(0.5, abs=1e-12)
    assert math.isnan(per_class_all[3])
    assert mean_all == pytest.approx(41 / 60, abs=1e-12)
    mean_11, per_class_11 = voc_map(dets, gts, eleven_point=True)
    assert per_class_11[1] == pytest.approx(9.4 / 11, abs=1e-12)
    assert per_class_11[2] == pytest.approx(0.5, abs=1e-12)
    assert mean_11 == pytest.approx((9.4 / 11 + 0.5) / 2, abs=1e-12)
    # A stricter threshold turns the 0.6-IoU hit on C into a miss: class 1 then finds 2 of 3.
    _, strict = voc_map(dets, gts, iou_threshold=0.7)
    assert strict[1] == pytest.approx(2 / 3, abs=1e-12)


def test_voc_ap_edges():
    assert voc_ap(np.array([1.0, 1.0]), np.array([0.5, 1.0])) == 1.0
    assert voc_ap(np.array([1.0, 1.0]), np.array([0.5, 1.0]), eleven_point=True) == 1.0
    # Half the objects found, perfectly: all-point 0.5; 11-point reaches r = 0..0.5, 6 of 11 points.
    assert voc_ap(np.array([1.0]), np.array([0.5])) == 0.5
    assert voc_ap(np.array([1.0]), np.array([0.5]), eleven_point=True) == pytest.approx(6 / 11)
    assert voc_ap(np.array([]), np.array([])) == 0.0


# -------------------------------------------------------------------------------------------- COCO


def _synthetic_coco(seed: int) -> tuple[list[Boxes], list[Boxes], list[int]]:
    """Images of ground truth in three area bands and noisy detections of them, plus false alarms.

    Scores are rounded to 2 decimals so that ties occur (COCO breaks them by image, then input order).
    Image 0 holds 130 detections of class 1 so the 100-per-image cap bites. Class 4 exists in the
    category list with detections but no ground truth; image 9 has detections and no ground truth.
    """
    rng = np.random.default_rng(seed)
    gts, dets = [], []
    for image in range(12):
        count = 0 if image == 9 else int(rng.integers(1, 7))
        side_G2 = np.exp(rng.uniform(np.log(8), np.log(150), size=(count, 2))).round()
        corner_G2 = rng.integers(0, 300, size=(count, 2)).astype(float)
        gt_G4 = np.concatenate([corner_G2, corner_G2 + side_G2], axis=1)
        gt_labels_G = rng.integers(1, 4, size=count)
        boxes, labels = [], []
        for box, label in zip(gt_G4, gt_labels_G):
            for _ in range(int(rng.integers(0, 3))):  # missed, found, or found twice
                jitter = rng.normal(0, 0.12, size=4) * np.r_[box[2:] - box[:2], box[2:] - box[:2]]
                boxes.append(box + jitter)
                labels.append(label if rng.random() < 0.9 else rng.integers(1, 5))
        false_alarms = 130 if image == 0 else int(rng.integers(0, 4))
        for _ in range(false_alarms):
            xy = rng.uniform(0, 350, size=2)
            boxes.append(np.r_[xy, xy + rng.uniform(5, 120, size=2)])
            labels.append(1 if image == 0 else rng.integers(1, 5))
        boxes_D4 = np.array(boxes, float).reshape(-1, 4)
        boxes_D4[:, 2:] = np.maximum(boxes_D4[:, 2:], boxes_D4[:, :2] + 1.0)
        dets.append(Boxes(boxes_D4, np.array(labels, int), np.round(rng.random(len(boxes)), 2)))
        gts.append(Boxes(gt_G4, gt_labels_G))
    return dets, gts, [1, 2, 3, 4]


def _cocoeval_stats(dets: list[Boxes], gts: list[Boxes], categories: list[int]) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    xywh = lambda b: [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]  # noqa: E731
    annotations = []
    for image, gt in enumerate(gts):
        for box, label in zip(gt.boxes_K4, gt.labels_K):
            bbox = xywh(box)
            annotations.append({"id": len(annotations) + 1, "image_id": image + 1, "category_id": int(label),
                                "bbox": bbox, "area": bbox[2] * bbox[3], "iscrowd": 0})
    coco_gt = COCO()
    coco_gt.dataset = {
        "images": [{"id": i + 1, "width": 500, "height": 500} for i in range(len(gts))],
        "annotations": annotations,
        "categories": [{"id": c, "name": str(c)} for c in categories],
    }
    results = [{"image_id": image + 1, "category_id": int(label), "bbox": xywh(box), "score": float(score)}
               for image, det in enumerate(dets)
               for box, label, score in zip(det.boxes_K4, det.labels_K, det.scores_K)]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
        evaluator = COCOeval(coco_gt, coco_gt.loadRes(results), "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats


@pytest.mark.parametrize("seed", [0, 1])
def test_coco_ap_equals_cocoeval(seed):
    """COCOeval on the same data is the oracle (a golden AP of the seed-0 case used to stand beside it)."""
    dets, gts, categories = _synthetic_coco(seed)
    stats = _cocoeval_stats(dets, gts, categories)
    # The corner boxes round-trip through COCO's (x, y, w, h) exactly enough: AP moves only if an IoU or
    # an area sits within 1e-13 of a threshold.
    assert coco_ap(dets, gts) == pytest.approx(stats[0], abs=1e-9)
    assert coco_ap(dets, gts, iou_thresholds=(0.5,)) == pytest.approx(stats[1], abs=1e-9)
    assert coco_ap(dets, gts, iou_thresholds=(0.75,)) == pytest.approx(stats[2], abs=1e-9)
    for area_range, stat in zip([(0, 32**2), (32**2, 96**2), (96**2, 1e10)], stats[3:6]):
        assert coco_ap(dets, gts, area_range=area_range) == pytest.approx(stat, abs=1e-9)
    assert 0.1 < stats[0] < 0.9 and stats[1] > stats[0]  # a case where the answer is not trivial


def test_coco_ap_on_iou_exactly_at_thresholds():
    # Detections of [0,0,10,10] cut to heights 5, 7.5, 9.5 have IoU exactly 0.5, 0.75, 0.95 (all exact
    # in binary): COCO counts IoU >= t as a match, so each sits right on a threshold's edge.
    gt = Boxes(np.array([[0, 0, 10, 10]] * 3 + [[20, 20, 30, 30]], float), np.array([1, 1, 1, 2]))
    det = Boxes(np.array([[0, 0, 10, 5], [0, 0, 10, 7.5], [0, 0, 10, 9.5], [20, 20, 30, 25]], float),
                np.array([1, 1, 1, 2]), np.array([0.9, 0.8, 0.7, 0.6]))
    stats = _cocoeval_stats([det], [gt], [1, 2])
    assert coco_ap([det], [gt]) == pytest.approx(stats[0], abs=1e-12)
    assert coco_ap([det], [gt], iou_thresholds=(0.5,)) == pytest.approx(stats[1], abs=1e-12)
    assert stats[1] == 1.0  # every detection matched at 0.5, the 0.5-IoU ones included


def test_coco_ap_keeps_the_best_100_per_image_and_class():
    dets, gts, categories = _synthetic_coco(0)
    assert (np.asarray(dets[0].labels_K) == 1).sum() > 100
    stats = _cocoeval_stats(dets, gts, categories)
    assert coco_ap(dets, gts, max_detections=100) == pytest.approx(stats[0], abs=1e-9)
    assert coco_ap(dets, gts, max_detections=100) != coco_ap(dets, gts, max_detections=1000)


# --------------------------------------------------------------------------------------------- NMS


def _onnx_nms_session():
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    node = helper.make_node(
        "NonMaxSuppression", ["boxes", "scores", "max_output", "iou_threshold", "score_threshold"],
        ["selected"], center_point_box=0,  # boxes as corners (y1, x1, y2, x2)
    )
    graph = helper.make_graph(
        [node], "nms",
        [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [None, None, 4]),
         helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, None, None]),
         helper.make_tensor_value_info("max_output", TensorProto.INT64, [1]),
         helper.make_tensor_value_info("iou_threshold", TensorProto.FLOAT, [1]),
         helper.make_tensor_value_info("score_threshold", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("selected", TensorProto.INT64, [None, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(
    "iou_threshold, score_threshold, max_output",
    [(0.5, None, None), (0.3, 0.2, 5), (0.7, 0.5, 2), (0.0, None, 4), (1.0, 0.9, None)],
)
def test_nms_per_class_equals_onnxruntime(iou_threshold, score_threshold, max_output):
    session = _onnx_nms_session()
    rng = np.random.default_rng(3)
    batches, classes, n = 3, 4, 60
    boxes_BN4 = np.stack([_random_boxes(rng, n) for _ in range(batches)]).astype(np.float32)
    scores_BCN = rng.random((batches, classes, n)).astype(np.float32)
    scores_BCN[0] = np.round(scores_BCN[0], 1)  # ties, broken by the lower box index
    (selected_S3,) = session.run(None, {
        "boxes": boxes_BN4[:, :, [1, 0, 3, 2]],  # (x1, y1, x2, y2) -> ONNX's (y1, x1, y2, x2)
        "scores": scores_BCN,
        "max_output": np.array([10**6 if max_output is None else max_output], np.int64),
        "iou_threshold": np.array([iou_threshold], np.float32),
        # No threshold and -inf are the same to onnxruntime: it keeps scores strictly above it.
        "score_threshold": np.array([-np.inf if score_threshold is None else score_threshold], np.float32),
    })
    for b in range(batches):
        got_S2 = nms_per_class(torch.from_numpy(boxes_BN4[b]), torch.from_numpy(scores_BCN[b]),
                               iou_threshold, score_threshold, max_output)
        np.testing.assert_array_equal(got_S2.numpy(), selected_S3[selected_S3[:, 0] == b][:, 1:])
    if iou_threshold == 0.5:
        assert 0 < len(selected_S3) < 0.8 * batches * classes * n  # suppression really happened


def test_nms_boundaries():
    boxes_N4 = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 0.5], [2, 2, 3, 3]], dtype=torch.float32)
    scores_N = torch.tensor([0.5, 0.5, 0.4, 0.3])
    # Equal scores: index 0 wins and suppresses its twin; IoU exactly 0.5 is not "greater": box 2 stays.
    assert nms(boxes_N4, scores_N, 0.5).tolist() == [0, 2, 3]
    assert nms(boxes_N4, scores_N, 0.5, score_threshold=0.3).tolist() == [0, 2]  # 0.3 is not above 0.3
    assert nms(boxes_N4, scores_N, 0.5, max_output=1).tolist() == [0]
    assert nms(boxes_N4[:0], scores_N[:0], 0.5).shape == (0,)


# -------------------------------------------------------------------------------------------- BLEU


def _random_corpus(rng: np.random.Generator, sentences: int, references: int) -> tuple[list, list]:
    """Hypotheses that are edited copies of a first reference over a 6-word vocabulary, so 4-grams match."""
    vocabulary = np.array(["a", "b", "c", "d", "e", "f"])
    hyps, refs = [], []
    for _ in range(sentences):
        sentence_refs = [list(vocabulary[rng.integers(0, 6, rng.integers(3, 16))]) for _ in range(references)]
        hyp = list(sentence_refs[0])
        for _ in range(int(rng.integers(0, 4))):
            i = int(rng.integers(0, len(hyp) + 1))
            action = rng.integers(0, 3)
            if action == 0 and hyp:
                hyp.pop(min(i, len(hyp) - 1))
            elif action == 1:
                hyp.insert(i, str(vocabulary[rng.integers(0, 6)]))
            elif hyp:
                hyp[min(i, len(hyp) - 1)] = str(vocabulary[rng.integers(0, 6)])
        hyp += list(vocabulary[rng.integers(0, 6, max(0, 4 - len(hyp)))])  # see test_bleu_short_hypotheses
        hyps.append([str(w) for w in hyp])
        refs.append([[str(w) for w in r] for r in sentence_refs])
    return hyps, refs


def _sacrebleu(hyps: list, refs: list) -> float:
    import sacrebleu

    streams = [[" ".join(sentence_refs[k]) for sentence_refs in refs] for k in range(len(refs[0]))]
    score = sacrebleu.corpus_bleu([" ".join(h) for h in hyps], streams,
                                  tokenize="none", smooth_method="none", force=True)
    return score.score / 100.0


def _nltk(hyps: list, refs: list) -> float:
    from nltk.translate.bleu_score import corpus_bleu

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns on a zero n-gram count, then returns ~1e-77
        return corpus_bleu(refs, hyps)


@pytest.mark.parametrize("seed, references", [(0, 1), (1, 1), (2, 3), (3, 4)])
def test_bleu_equals_sacrebleu_and_nltk(seed, references):
    hyps, refs = _random_corpus(np.random.default_rng(seed), sentences=40, references=references)
    ours = bleu(hyps, refs)
    assert ours == pytest.approx(_sacrebleu(hyps, refs), abs=1e-12)
    assert ours == pytest.approx(_nltk(hyps, refs), abs=1e-12)
    assert 0.2 < ours < 0.95


def test_bleu_with_uneven_reference_counts_and_brevity():
    rng = np.random.default_rng(4)
    hyps, refs = _random_corpus(rng, sentences=30, references=3)
    refs = [r[: 1 + i % 3] for i, r in enumerate(refs)]  # 1, 2 or 3 references per sentence
    hyps = [h[: max(4, len(h) - 3)] for h in hyps]  # short hypotheses: the brevity penalty bites
    assert bleu(hyps, refs) == pytest.approx(_nltk(hyps, refs), abs=1e-12)


def test_bleu_is_zero_without_a_matching_4gram():
    hyps, refs = [["a", "b", "c", "d", "e"]], [[["a", "b", "c", "x", "e"]]]
    assert bleu(hyps, refs) == 0.0
    assert _sacrebleu(hyps, refs) == 0.0
    assert _nltk(hyps, refs) < 1e-70
    assert bleu([["a", "b", "c", "d"]], [[["a", "b", "c", "d"]]]) == 1.0


def test_bleu_short_hypotheses_follow_sacrebleu_not_nltk():
    # A 3-token hypothesis has no 4-grams. sacrebleu (and we) add 0 to the 4-gram total; nltk's
    # modified_precision adds max(1, 0) = 1, so nltk's corpus BLEU is lower on corpora with sentences
    # shorter than 4 tokens. The random corpora above avoid such sentences so all three must agree.
    hyps = [["a", "b", "c", "d", "e"], ["a", "b", "c"]]
    refs = [[["a", "b", "c", "d", "e"]], [["a", "b", "c"]]]
    # Hand count: 1-grams 8/8, 2-grams 6/6, 3-grams 4/4, 4-grams 2/2 (nltk: 2/3); lengths equal.
    assert bleu(hyps, refs) == 1.0
    assert _sacrebleu(hyps, refs) == pytest.approx(1.0, abs=1e-12)
    assert _nltk(hyps, refs) == pytest.approx((2 / 3) ** 0.25, abs=1e-12)
