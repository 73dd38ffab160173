"""CocoMetric (faster-coco-eval) against pycocotools' COCOeval, the reference."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import BaseDataElement, InstanceData
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from labcore.datasets.synthetic import KEYPOINT_SIGMAS
from labcore.errors import ConfigError, LabError
from labcore.evaluation import CocoMetric
from labcore.registry import METRICS

# pycocotools' mask decoding predates numpy 2's copy keyword and says so on every call.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

STAT_NAMES = [
    "mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l",
    "AR_1", "AR_10", "AR_100", "AR_s", "AR_m", "AR_l",
]  # fmt: skip


def _quiet_coco(path) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def _perturbed_predictions(coco: COCO, seed: int) -> list[dict]:
    """Per image: ground truth boxes jittered, masks shifted, some labels wrong, some
    objects missed, plus false positives; scores random. Labels are 0-based in sorted
    category id order; boxes x1, y1, x2, y2."""
    rng = np.random.default_rng(seed)
    cat_ids = sorted(coco.getCatIds())
    predictions = []
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        height, width = info["height"], info["width"]
        boxes, labels, masks = [], [], []
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_id)):
            if rng.random() < 0.15:
                continue  # missed
            x, y, w, h = ann["bbox"]
            x, y = x + rng.normal(0, 0.08 * w), y + rng.normal(0, 0.08 * h)
            w, h = w * rng.uniform(0.8, 1.2), h * rng.uniform(0.8, 1.2)
            boxes.append([x, y, x + w, y + h])
            label = cat_ids.index(ann["category_id"])
            labels.append(label if rng.random() < 0.9 else int(rng.integers(len(cat_ids))))
            shift = rng.integers(-3, 4, size=2)
            masks.append(np.roll(coco.annToMask(ann), tuple(shift), axis=(0, 1)))
        for _ in range(int(rng.integers(0, 3))):  # false positives
            x1, y1 = rng.uniform(0, width - 8), rng.uniform(0, height - 8)
            x2, y2 = rng.uniform(x1 + 4, width), rng.uniform(y1 + 4, height)
            boxes.append([x1, y1, x2, y2])
            labels.append(int(rng.integers(len(cat_ids))))
            mask = np.zeros((height, width), dtype=np.uint8)
            mask[int(y1) : int(y2), int(x1) : int(x2)] = 1
            masks.append(mask)
        predictions.append(
            {
                "img_id": image_id,
                "bboxes": np.array(boxes, dtype=np.float64).reshape(-1, 4),
                "scores": rng.uniform(0.05, 1.0, size=len(boxes)),
                "labels": np.array(labels, dtype=np.int64),
                "masks": np.array(masks, dtype=bool).reshape(-1, height, width),
            }
        )
    return predictions


def _data_samples(predictions: list[dict]) -> list[BaseDataElement]:
    samples = []
    for pred in predictions:
        sample = BaseDataElement(metainfo={"img_id": pred["img_id"]})
        sample.pred_instances = InstanceData(
            bboxes=torch.as_tensor(pred["bboxes"], dtype=torch.float32),
            scores=torch.as_tensor(pred["scores"], dtype=torch.float32),
            labels=torch.as_tensor(pred["labels"]),
            masks=torch.as_tensor(pred["masks"]),
        )
        samples.append(sample)
    return samples


def _evaluate(metric: CocoMetric, predictions: list[dict], batch_size: int = 4) -> dict:
    evaluator = Evaluator(metric)
    samples = _data_samples(predictions)
    for start in range(0, len(samples), batch_size):
        evaluator.process(data_samples=samples[start : start + batch_size])
    return evaluator.evaluate(len(samples))


def _reference_stats(coco: COCO, predictions: list[dict], iou_type: str) -> np.ndarray:
    """pycocotools' twelve numbers on the same predictions, written the COCO way
    (float32 boxes as the data samples hold them)."""
    cat_ids = sorted(coco.getCatIds())
    results = []
    for pred in predictions:
        boxes = pred["bboxes"].astype(np.float32).astype(np.float64)
        scores = pred["scores"].astype(np.float32).astype(np.float64)
        for i, label in enumerate(pred["labels"]):
            x1, y1, x2, y2 = boxes[i]
            entry = {
                "image_id": pred["img_id"],
                "category_id": cat_ids[int(label)],
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": scores[i],
            }
            if iou_type == "segm":
                rle = coco_mask.encode(np.asfortranarray(pred["masks"][i].astype(np.uint8)))
                entry["segmentation"] = rle
            results.append(entry)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator = COCOeval(coco, coco.loadRes(results), iou_type)
        evaluator.params.imgIds = sorted(p["img_id"] for p in predictions)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return np.array(evaluator.stats)


def _ours(metrics: dict, iou_type: str) -> np.ndarray:
    return np.array([metrics[f"coco/{iou_type}_{name}"] for name in STAT_NAMES])


@pytest.mark.parametrize("seed", [0, 1])
def test_bbox_and_segm_equal_pycocotools_on_shapes(shapes_det, seed):
    ann_file = shapes_det / "annotations" / "instances_train.json"
    coco = _quiet_coco(ann_file)
    predictions = _perturbed_predictions(coco, seed)
    if seed == 1:
        predictions = predictions[::2]  # evaluate a subset of the images
    metrics = _evaluate(CocoMetric(ann_file=ann_file, metric=["bbox", "segm"]), predictions)
    for iou_type in ("bbox", "segm"):
        reference = _reference_stats(_quiet_coco(ann_file), predictions, iou_type)
        assert 0.2 < reference[0] < 0.9  # a meaningful, imperfect score
        np.testing.assert_allclose(_ours(metrics, iou_type), reference, rtol=0, atol=1e-9)


def test_ground_truth_as_predictions_scores_one(shapes_det):
    ann_file = shapes_det / "annotations" / "instances_val.json"
    coco = _quiet_coco(ann_file)
    cat_ids = sorted(coco.getCatIds())
    predictions = []
    for image_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        info = coco.loadImgs(image_id)[0]
        boxes = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        predictions.append(
            {
                "img_id": image_id,
                "bboxes": boxes,
                "scores": np.ones(len(anns)),
                "labels": np.array([cat_ids.index(a["category_id"]) for a in anns]),
                "masks": np.array([coco.annToMask(a) for a in anns], dtype=bool).reshape(
                    -1, info["height"], info["width"]
                ),
            }
        )
    metric = CocoMetric(ann_file=ann_file, metric=["bbox", "segm"], classwise=True)
    metrics = _evaluate(metric, predictions)
    for iou_type in ("bbox", "segm"):
        assert metrics[f"coco/{iou_type}_mAP"] == pytest.approx(1.0)
        assert metrics[f"coco/{iou_type}_AR_100"] == pytest.approx(1.0)
        assert metrics[f"coco/{iou_type}_mAP_l"] == -1  # no large shapes at 128 px
        for category in coco.loadCats(cat_ids):
            assert metrics[f"coco/{iou_type}_{category['name']}_AP"] == pytest.approx(1.0)


def test_no_detections_at_all_scores_zero(shapes_det):
    ann_file = shapes_det / "annotations" / "instances_val.json"
    coco = _quiet_coco(ann_file)
    empty = [
        {
            "img_id": image_id,
            "bboxes": np.zeros((0, 4)),
            "scores": np.zeros(0),
            "labels": np.zeros(0, dtype=np.int64),
            "masks": np.zeros((0, 128, 128), dtype=bool),
        }
        for image_id in coco.getImgIds()
    ]
    metrics = _evaluate(CocoMetric(ann_file=ann_file, metric=["bbox", "segm"]), empty)
    for iou_type in ("bbox", "segm"):
        values = dict(zip(STAT_NAMES, _ours(metrics, iou_type)))
        # Ranges with ground truth score 0; the range without any scores -1 (COCOeval).
        assert values.pop("mAP_l") == -1 and values.pop("AR_l") == -1
        assert all(v == 0 for v in values.values()), values


def _uncompressed_rle(mask: np.ndarray) -> dict:
    flat = mask.flatten(order="F")
    bounds = np.concatenate([[0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts = [0, *counts]
    return {"size": list(mask.shape), "counts": counts}


@pytest.fixture
def crowd_ann_file(tmp_path):
    """Three 64x64 images: one with two objects and a crowd region, one without any
    annotation, one with a single object."""
    crowd = np.zeros((64, 64), dtype=np.uint8)
    crowd[30:60, 2:40] = 1
    crowd_rle = _uncompressed_rle(crowd)  # as COCO stores crowd regions
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 3, "bbox": [5, 5, 20, 15], "area": 300,
         "iscrowd": 0, "segmentation": [[5, 5, 25, 5, 25, 20, 5, 20]]},
        {"id": 2, "image_id": 1, "category_id": 7, "bbox": [40, 8, 20, 40], "area": 800,
         "iscrowd": 0, "segmentation": [[40, 8, 60, 8, 60, 48, 40, 48]]},
        {"id": 3, "image_id": 1, "category_id": 3, "bbox": [2, 30, 38, 30], "area": 1140,
         "iscrowd": 1, "segmentation": crowd_rle},
        {"id": 4, "image_id": 3, "category_id": 7, "bbox": [10, 10, 30, 30], "area": 900,
         "iscrowd": 0, "segmentation": [[10, 10, 40, 10, 40, 40, 10, 40]]},
    ]  # fmt: skip
    data = {
        "images": [
            {"id": i, "file_name": f"{i}.jpg", "height": 64, "width": 64} for i in (1, 2, 3)
        ],
        "annotations": annotations,
        "categories": [{"id": i, "name": f"class{i}"} for i in (3, 7)],
    }
    path = tmp_path / "crowd.json"
    path.write_text(json.dumps(data))
    return path


def test_crowd_regions_and_images_without_ground_truth(crowd_ann_file):
    coco = _quiet_coco(crowd_ann_file)
    predictions = _perturbed_predictions(coco, seed=3)
    rng = np.random.default_rng(4)
    for pred in predictions:  # detections inside the crowd region, on every image
        for _ in range(3):
            x1, y1 = rng.uniform(4, 20), rng.uniform(32, 45)
            box = np.array([[x1, y1, x1 + 12, y1 + 12]])
            mask = np.zeros((1, 64, 64), dtype=bool)
            mask[0, int(y1) : int(y1) + 12, int(x1) : int(x1) + 12] = True
            pred["bboxes"] = np.concatenate([pred["bboxes"], box])
            pred["scores"] = np.concatenate([pred["scores"], rng.uniform(0.3, 1.0, size=1)])
            pred["labels"] = np.concatenate([pred["labels"], [0]])
            pred["masks"] = np.concatenate([pred["masks"], mask])
    metrics = _evaluate(CocoMetric(ann_file=crowd_ann_file, metric=["bbox", "segm"]), predictions)
    for iou_type in ("bbox", "segm"):
        reference = _reference_stats(_quiet_coco(crowd_ann_file), predictions, iou_type)
        np.testing.assert_allclose(_ours(metrics, iou_type), reference, rtol=0, atol=1e-9)


def test_keypoints_equal_pycocotools_on_shapes(shapes_pose):
    ann_file = shapes_pose / "annotations" / "keypoints_val.json"
    coco = _quiet_coco(ann_file)
    rng = np.random.default_rng(0)
    cat_ids = sorted(coco.getCatIds())
    samples, results = [], []
    for image_id in coco.getImgIds():
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image_id))
        points = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(
            len(anns), -1, 3
        )
        noisy = points[:, :, :2] + rng.normal(0, 2.0, size=points[:, :, :2].shape)
        labels = np.array([cat_ids.index(a["category_id"]) for a in anns])
        scores = rng.uniform(0.1, 0.9, size=len(anns))
        if image_id == coco.getImgIds()[0]:  # 25 confident false poses: COCO keeps 20
            noisy = np.concatenate([rng.uniform(0, 10, size=(25, *noisy.shape[1:])), noisy])
            labels = np.concatenate([np.full(25, labels[0]), labels])
            scores = np.concatenate([np.full(25, 0.99), scores])
            anns = [anns[0]] * 25 + anns
        noisy = noisy.astype(np.float32).astype(np.float64)
        scores = scores.astype(np.float32)
        keypoint_scores = rng.uniform(0.2, 1.0, size=noisy.shape[:2]).astype(np.float32)
        sample = BaseDataElement(metainfo={"img_id": image_id})
        sample.pred_instances = InstanceData(
            bboxes=torch.zeros(len(anns), 4),
            scores=torch.as_tensor(scores),
            labels=torch.as_tensor(labels),
            keypoints=torch.as_tensor(noisy, dtype=torch.float32),
            keypoint_scores=torch.as_tensor(keypoint_scores),
        )
        samples.append(sample)
        for i, ann in enumerate(anns):
            flat = np.concatenate([noisy[i], keypoint_scores[i][:, None]], axis=1).reshape(-1)
            results.append(
                {"image_id": image_id, "category_id": ann["category_id"],
                 "keypoints": flat.tolist(), "score": float(scores[i])}
            )  # fmt: skip
    metric = CocoMetric(ann_file=ann_file, metric="keypoints", keypoint_sigmas=KEYPOINT_SIGMAS)
    evaluator = Evaluator(metric)
    evaluator.process(data_samples=samples)
    metrics = evaluator.evaluate(len(samples))
    with contextlib.redirect_stdout(io.StringIO()):
        reference = COCOeval(coco, coco.loadRes(results), "keypoints")
        reference.params.kpt_oks_sigmas = np.array(KEYPOINT_SIGMAS)
        reference.evaluate()
        reference.accumulate()
        reference.summarize()
    names = ["mAP", "mAP_50", "mAP_75", "mAP_m", "mAP_l", "AR", "AR_50", "AR_75", "AR_m", "AR_l"]
    ours = np.array([metrics[f"coco/keypoints_{n}"] for n in names])
    assert 0.1 < reference.stats[0] < 0.95
    np.testing.assert_allclose(ours, reference.stats, rtol=0, atol=1e-9)


def test_writes_coco_result_files(shapes_det, tmp_path):
    ann_file = shapes_det / "annotations" / "instances_val.json"
    predictions = _perturbed_predictions(_quiet_coco(ann_file), seed=5)
    prefix = tmp_path / "out" / "results"
    metric = CocoMetric(
        ann_file=ann_file, metric=["bbox", "segm"], outfile_prefix=str(prefix), format_only=True
    )
    assert _evaluate(metric, predictions) == {}
    for iou_type in ("bbox", "segm"):
        with open(tmp_path / "out" / f"results.{iou_type}.json") as f:
            results = json.load(f)
        assert len(results) == sum(len(p["labels"]) for p in predictions)
        assert {"image_id", "category_id", "bbox", "score"} <= set(results[0])
        _quiet_coco(ann_file).loadRes(copy.deepcopy(results))  # pycocotools accepts them


def test_built_from_the_registry(shapes_det):
    ann_file = str(shapes_det / "annotations" / "instances_val.json")
    metric = METRICS.build({"type": "CocoMetric", "ann_file": ann_file, "metric": ["bbox"]})
    assert isinstance(metric, CocoMetric) and metric.prefix == "coco"


def test_user_errors_name_the_problem(shapes_det, tmp_path):
    ann_file = shapes_det / "annotations" / "instances_val.json"
    with pytest.raises(ConfigError, match="proposal"):
        CocoMetric(ann_file=ann_file, metric="proposal")
    with pytest.raises(ConfigError, match="outfile_prefix"):
        CocoMetric(ann_file=ann_file, format_only=True)
    predictions = _perturbed_predictions(_quiet_coco(ann_file), seed=0)[:2]
    with pytest.raises(ConfigError, match="does not exist"):
        _evaluate(CocoMetric(ann_file=tmp_path / "missing.json"), predictions)
    predictions[0]["labels"][:] = 8
    with pytest.raises(LabError, match="8 labels .0..7.*label_layout"):
        _evaluate(CocoMetric(ann_file=ann_file), predictions)
    with pytest.raises(ConfigError, match="keypoint_sigmas"):
        metric = CocoMetric(ann_file=ann_file, metric="keypoints")
        metric._sigmas(_quiet_coco(ann_file))
    without_masks = BaseDataElement(metainfo={"img_id": 1})
    without_masks.pred_instances = InstanceData(
        bboxes=torch.zeros(1, 4), scores=torch.ones(1), labels=torch.zeros(1, dtype=torch.long)
    )
    with pytest.raises(LabError, match=r"needs pred_instances.masks.*metric='bbox'"):
        Evaluator(CocoMetric(ann_file=ann_file, metric="segm")).process([without_masks])
    wrong_size = _perturbed_predictions(_quiet_coco(ann_file), seed=0)[:1]
    wrong_size[0]["masks"] = wrong_size[0]["masks"][:, :100, :120]
    with pytest.raises(LabError, match=r"100x120 but the image is 128x128.*original image size"):
        _evaluate(CocoMetric(ann_file=ann_file, metric="segm"), wrong_size)


def test_masks_already_encoded_as_rle_are_accepted(shapes_det):
    ann_file = shapes_det / "annotations" / "instances_val.json"
    predictions = _perturbed_predictions(_quiet_coco(ann_file), seed=2)
    expected = _evaluate(CocoMetric(ann_file=ann_file, metric="segm"), predictions)
    evaluator = Evaluator(CocoMetric(ann_file=ann_file, metric="segm"))
    for sample, pred in zip(_data_samples(predictions), predictions):
        masks = np.asfortranarray(pred["masks"].transpose(1, 2, 0).astype(np.uint8))
        sample.pred_instances.masks = coco_mask.encode(masks) if len(pred["masks"]) else []
        evaluator.process([sample])
    assert evaluator.evaluate(len(predictions)) == expected


_DIST_WORKER = textwrap.dedent(
    """
    import json, pickle, sys
    import torch.distributed as dist
    from mmengine.evaluator import Evaluator
    from labcore.evaluation import CocoMetric

    rank, world, port, ann_file, samples_file, out_file = sys.argv[1:]
    rank, world = int(rank), int(world)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    with open(samples_file, "rb") as f:
        samples = pickle.load(f)
    evaluator = Evaluator(CocoMetric(ann_file=ann_file, metric=["bbox", "segm"]))
    evaluator.process(data_samples=samples[rank::world])  # a distributed sampler's share
    metrics = evaluator.evaluate(len(samples))
    with open(out_file, "w") as f:
        json.dump(metrics, f)
    dist.destroy_process_group()
    """
)


@pytest.mark.dist
@pytest.mark.slow
def test_distributed_evaluation_over_gloo(shapes_det, tmp_path):
    import pickle

    ann_file = shapes_det / "annotations" / "instances_val.json"
    predictions = _perturbed_predictions(_quiet_coco(ann_file), seed=7)
    samples = _data_samples(predictions)
    (tmp_path / "worker.py").write_text(_DIST_WORKER)
    with open(tmp_path / "samples.pkl", "wb") as f:
        pickle.dump(samples, f)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(tmp_path / "worker.py"),
                str(rank),
                "2",
                str(port),
                str(ann_file),
                str(tmp_path / "samples.pkl"),
                str(tmp_path / f"rank{rank}.json"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for rank in range(2)
    ]
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output.decode()[-3000:]
    single = _evaluate(CocoMetric(ann_file=ann_file, metric=["bbox", "segm"]), predictions)
    for rank in range(2):
        with open(tmp_path / f"rank{rank}.json") as f:
            assert json.load(f) == pytest.approx(single)
