"""Learning for real: the tiny Rotated RetinaNet and Oriented R-CNN train on the synthetic
rotated shapes set.

Each trains through ``labcore.engine.training.build_runner`` (the path of ``lab train``),
starting from the classification zoo's tiny ResNet-18 (the ``tiny_zoo`` fixture); its
loss must fall and its DOTA mAP at rotated IoU 0.5 on the first 50 validation images must
reach the case's bar: 0.5 for Rotated RetinaNet after 800 iterations, under 3 minutes of
this CPU. The angle error of the matched detections is printed (``-s`` shows it) and
bounded.
"""

from __future__ import annotations

import math

import pytest
import torch

from labcore.engine.config import load_config
from labcore.engine.training import build_runner
from labcore.ops import box_iou_rotated

NUM_TRAIN, NUM_VAL = 1000, 50
# config, iterations, the mAP it must reach, the median angle error (degrees) it must stay
# under. Measured (AVX-512, one thread, seed 0, while other trainings shared the machine):
# - Rotated RetinaNet: mAP 0.544 after 800 iterations (153 s), median angle error 12.8
#   deg over 32 objects; 0.497 after 600 (17.8 deg), 0.366 after 300;
# - Oriented R-CNN: mAP 0.353 / 0.383 / 0.328 after 150 iterations for seeds 0 / 1 / 2
#   (0.423 after 200, seed 0).
# Random angles would give a median error near 45 deg.
CASES = {
    "rotated_retinanet": (
        "labrot::rotated_retinanet/rotated-retinanet_r18_fpn_shapes_le90.py",
        800,
        0.5,
        25,
    ),
    # its angle error is printed, not bounded: after 150 iterations the median was 30.9 deg
    # over only 8 matched oblong objects
    "oriented_rcnn": (
        "labrot::oriented_rcnn/oriented-rcnn_r18_fpn_shapes_le90.py",
        150,
        0.25,
        None,
    ),
}


def _tiny_run_config(config: str, iters: int):
    cfg = load_config(config)
    cfg.mlflow = False
    shapes = dict(num_train=NUM_TRAIN, num_val=NUM_VAL, image_size=128, seed=0, version=1)
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[key].dataset.synthetic = shapes
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler[1].end = iters
    cfg.default_hooks.checkpoint.interval = iters
    cfg.default_hooks.logger.interval = 20
    cfg.randomness = dict(seed=0)
    return cfg


def angle_errors(runner, score_thr: float = 0.3) -> torch.Tensor:
    """|angle difference| (radians, modulo pi) of each oblong (w > 1.2 h) validation object
    and the same-class detection that overlaps it most, when their rotated IoU is >= 0.5."""
    errors = []
    runner.model.eval()
    with torch.no_grad():
        for batch in runner.val_dataloader:
            for sample in runner.model.val_step(batch):
                gt, pred = sample.gt_instances, sample.pred_instances
                pred = pred[pred.scores >= score_thr]
                if not len(gt) or not len(pred):
                    continue
                iou = box_iou_rotated(gt.bboxes, pred.bboxes)
                iou[gt.labels[:, None] != pred.labels[None, :]] = 0
                best, index = iou.max(dim=1)
                oblong = gt.bboxes[:, 2] > 1.2 * gt.bboxes[:, 3]
                keep = (best >= 0.5) & oblong
                diff = gt.bboxes[keep, 4] - pred.bboxes[index[keep], 4]
                errors.append(torch.remainder(diff + math.pi / 2, math.pi) - math.pi / 2)
    return torch.cat(errors).abs() if errors else torch.zeros(0)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_tiny_rotated_detector_learns_on_rotated_shapes(name, tmp_path, one_thread, tiny_zoo):
    config, iters, min_map, max_angle_error = CASES[name]
    runner = build_runner(_tiny_run_config(config, iters), work_dir=tmp_path)
    runner.train()
    losses = runner.message_hub.get_scalar("train/loss").data[0]
    assert losses[-10:].mean() < 0.6 * losses[:10].mean()
    metrics = runner.val()
    errors = angle_errors(runner)
    print(
        f"\n{name} on rotated shapes: dota/mAP {metrics['dota/mAP']:.3f}; angle error of "
        f"{len(errors)} matched oblong objects: median {math.degrees(errors.median()):.1f} "
        f"deg, mean {math.degrees(errors.mean()):.1f} deg"
    )
    assert metrics["dota/mAP"] >= min_map
    if max_angle_error is not None:
        assert len(errors) > 10 and math.degrees(errors.median()) < max_angle_error
