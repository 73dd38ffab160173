"""PoseCocoMetric against pycocotools' COCOeval; OKS-NMS; PCK, AUC and EPE against
plain numpy written here."""

from __future__ import annotations

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
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from labcore.datasets.synthetic import KEYPOINT_SIGMAS
from labpose.evaluation import AUC, EPE, PCKAccuracy, PoseCocoMetric, oks_nms


def predicted_samples(ann_file, seed: int = 0, noise: float = 2.0):
    """One top-down sample per ground-truth instance (plus a duplicate of some), with
    noisy keypoints and random scores."""
    rng = np.random.default_rng(seed)
    coco = json.loads(ann_file.read_text())
    samples = []
    for ann in coco["annotations"]:
        points = np.array(ann["keypoints"], dtype=np.float32).reshape(-1, 3)
        x, y, w, h = ann["bbox"]
        for copy in range(1 + (ann["id"] % 3 == 0)):
            keypoints = points[:, :2] + rng.normal(0, noise * (1 + 3 * copy), points[:, :2].shape)
            sample = BaseDataElement(
                metainfo=dict(img_id=ann["image_id"], input_scale=np.array([w * 1.25, h * 1.25]))
            )
            sample.pred_instances = InstanceData(
                keypoints=torch.tensor(keypoints[None], dtype=torch.float32),
                keypoint_scores=torch.tensor(
                    rng.uniform(0, 1, (1, len(points))), dtype=torch.float32
                ),
                bbox_scores=torch.tensor([rng.uniform(0.5, 1)], dtype=torch.float32),
                labels=torch.tensor([ann["category_id"] - 1]),
            )
            sample.gt_instances = InstanceData(
                bboxes=torch.tensor([[x, y, x + w, y + h]], dtype=torch.float32),
                keypoints=torch.tensor(points[None, :, :2]),
                keypoints_visible=torch.tensor(points[None, :, 2] > 0, dtype=torch.float32),
            )
            samples.append(sample)
    return samples


@pytest.mark.parametrize("nms_thr", [None, 0.9])
def test_coco_keypoint_ap_equals_pycocotools(shapes_pose, tmp_path, nms_thr):
    ann_file = shapes_pose / "annotations/keypoints_val.json"
    metric = PoseCocoMetric(
        ann_file=str(ann_file), keypoint_sigmas=KEYPOINT_SIGMAS, nms_thr=nms_thr,
        outfile_prefix=str(tmp_path / "pose"),
    )  # fmt: skip
    metric.dataset_meta = dict(sigmas=list(KEYPOINT_SIGMAS))
    samples = predicted_samples(ann_file)
    metric.process({}, samples)
    ours = metric.evaluate(len(samples))

    written = json.loads((tmp_path / "pose.keypoints.json").read_text())
    if nms_thr is None:
        assert len(written) == len(samples)
    reference = COCOeval(COCO(str(ann_file)), COCO(str(ann_file)).loadRes(written), "keypoints")
    reference.params.kpt_oks_sigmas = np.array(KEYPOINT_SIGMAS)
    reference.evaluate()
    reference.accumulate()
    reference.summarize()
    values = [
        ours[f"coco/keypoints_{name}"]
        for name in (
            "mAP",
            "mAP_50",
            "mAP_75",
            "mAP_m",
            "mAP_l",
            "AR",
            "AR_50",
            "AR_75",
            "AR_m",
            "AR_l",
        )
    ]
    np.testing.assert_allclose(values, reference.stats, atol=1e-9)
    assert 0.0 < ours["coco/keypoints_mAP"] < 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _predictions(samples) -> list[dict]:
    """What the metric reads of each sample, as JSON for the worker processes."""
    return [
        dict(
            img_id=int(s.img_id),
            input_scale=s.input_scale.tolist(),
            keypoints=s.pred_instances.keypoints.tolist(),
            keypoint_scores=s.pred_instances.keypoint_scores.tolist(),
            bbox_scores=s.pred_instances.bbox_scores.tolist(),
            labels=s.pred_instances.labels.tolist(),
        )
        for s in samples
    ]


DIST_WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np, torch, torch.distributed as dist
    from mmengine.dataset import DefaultSampler
    from mmengine.evaluator import Evaluator
    from mmengine.structures import BaseDataElement, InstanceData
    from labpose.evaluation import PoseCocoMetric

    dist.init_process_group("gloo")
    rank = dist.get_rank()
    ann_file, predictions, sigmas = json.load(open(sys.argv[1]))
    evaluator = Evaluator(PoseCocoMetric(ann_file=ann_file, keypoint_sigmas=sigmas))
    evaluator.dataset_meta = dict(sigmas=sigmas)
    # the indices a test dataloader gives this rank (rank r: r, r + 2, ..., padded)
    mine = [predictions[i] for i in DefaultSampler(predictions, shuffle=False)]
    for start in range(0, len(mine), 3):
        batch = []
        for p in mine[start : start + 3]:
            sample = BaseDataElement(metainfo=dict(img_id=p["img_id"],
                                                   input_scale=np.array(p["input_scale"])))
            sample.pred_instances = InstanceData(
                **{k: torch.tensor(p[k]) for k in
                   ("keypoints", "keypoint_scores", "bbox_scores", "labels")})
            batch.append(sample)
        evaluator.process(batch)
    result = evaluator.evaluate(len(predictions))
    json.dump(result, open(f"{sys.argv[2]}.{rank}", "w"))
    dist.destroy_process_group()
    """
)


@pytest.mark.dist
def test_coco_keypoint_ap_across_two_processes_equals_one(shapes_pose, tmp_path):
    """Two gloo processes, each evaluating the half of the samples its sampler gives it
    (MMEngine's Evaluator gathers them): the same AP/AR as one process on all."""
    ann_file = shapes_pose / "annotations/keypoints_val.json"
    samples = predicted_samples(ann_file, seed=3)
    if len(samples) % 2 == 0:  # odd: the sampler pads one rank, the padding is dropped
        samples = samples[:-1]

    def evaluate(part):
        evaluator = Evaluator(
            PoseCocoMetric(ann_file=str(ann_file), keypoint_sigmas=KEYPOINT_SIGMAS)
        )
        evaluator.dataset_meta = dict(sigmas=list(KEYPOINT_SIGMAS))
        evaluator.process(part)
        return evaluator.evaluate(len(part))

    single = evaluate(samples)
    assert 0.0 < single["coco/keypoints_mAP"] < 1.0
    # one rank's half alone scores differently: equality below needs the gathering
    assert evaluate(samples[::2])["coco/keypoints_mAP"] != single["coco/keypoints_mAP"]

    inputs = [str(ann_file), _predictions(samples), list(KEYPOINT_SIGMAS)]
    (tmp_path / "inputs.json").write_text(json.dumps(inputs))
    (tmp_path / "worker.py").write_text(DIST_WORKER)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
         str(tmp_path / "worker.py"), str(tmp_path / "inputs.json"), str(tmp_path / "result")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for rank in (0, 1):
        result = json.loads((tmp_path / f"result.{rank}").read_text())
        assert result.keys() == single.keys()
        for key, value in single.items():
            assert result[key] == pytest.approx(value, abs=1e-12), (rank, key)


def test_rescoring_multiplies_box_score_by_confident_keypoints():
    metric = PoseCocoMetric(ann_file="unused.json", keypoint_score_thr=0.2)
    instance = dict(bbox_score=0.5, keypoint_scores=np.array([0.1, 0.4, 0.8]))
    assert metric.instance_score(instance) == pytest.approx(0.5 * 0.6)


def test_oks_nms_drops_near_duplicates_only():
    sigmas = np.full(3, 0.05)
    base = np.array([[10.0, 10.0], [20.0, 10.0], [15.0, 20.0]])
    poses = np.stack([base, base + 0.2, base + 30.0])
    keep = oks_nms(poses, np.array([0.5, 0.9, 0.7]), np.full(3, 400.0), sigmas, threshold=0.9)
    assert keep == [1, 2]


def reference_distances(samples):
    distances, masks, sizes = [], [], []
    for s in samples:
        pred = s.pred_instances.keypoints[0].numpy()
        gt = s.gt_instances.keypoints[0].numpy()
        distances.append(np.sqrt(((pred - gt) ** 2).sum(axis=1)))
        masks.append(s.gt_instances.keypoints_visible[0].numpy() > 0)
        box = s.gt_instances.bboxes[0].numpy()
        sizes.append(max(box[2] - box[0], box[3] - box[1]))
    return np.array(distances), np.array(masks), np.array(sizes)


def test_pck_auc_epe(shapes_pose):
    samples = predicted_samples(shapes_pose / "annotations/keypoints_val.json", noise=3.0)
    distances, masks, sizes = reference_distances(samples)
    per_keypoint = []
    for k in range(distances.shape[1]):
        if masks[:, k].any():
            per_keypoint.append(np.mean(distances[masks[:, k], k] / sizes[masks[:, k]] < 0.05))
    results = {}
    for metric in (PCKAccuracy(thr=0.05), AUC(norm_factor=30.0, num_thrs=20), EPE()):
        metric.process({}, samples)
        results.update(metric.evaluate(len(samples)))
    assert results["PCK"] == pytest.approx(np.mean(per_keypoint))
    assert results["EPE"] == pytest.approx(distances[masks].mean())
    curve = []
    for i in range(20):
        hits = [
            np.mean(distances[masks[:, k], k] / 30.0 < i / 20)
            for k in range(5)
            if masks[:, k].any()
        ]
        curve.append(np.mean(hits))
    assert results["AUC"] == pytest.approx(np.mean(curve))
