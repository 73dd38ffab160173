"""Learning for real: the tiny Rotated RetinaNet trains on the synthetic rotated shapes set.

It trains through ``labcore.engine.training.build_runner`` (the path of ``lab train``),
starting from the classification zoo's tiny ResNet-18 (the ``tiny_zoo`` fixture); its
loss must fall and, after half the protocol's 600 iterations, its DOTA mAP at rotated IoU
0.5 on the validation images must reach 0.3. The angle error of the matched detections is
printed (``-s`` shows it) and bounded.
"""

from __future__ import annotations

import math

import pytest
import torch

from labcore.engine.config import load_config
from labcore.engine.training import build_runner
from labcore.ops import box_iou_rotated

CONFIG = "labrot::rotated_retinanet/rotated-retinanet_r18_fpn_shapes_le90.py"
NUM_TRAIN, NUM_VAL, ITERS, MIN_MAP = 1000, 50, 300, 0.3


def _tiny_run_config():
    cfg = load_config(CONFIG)
    cfg.mlflow = False
    shapes = dict(num_train=NUM_TRAIN, num_val=NUM_VAL, image_size=128, seed=0, version=1)
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[key].dataset.synthetic = shapes
    cfg.train_cfg.max_iters = ITERS
    cfg.train_cfg.val_interval = ITERS
    cfg.param_scheduler[1].end = ITERS
    cfg.default_hooks.checkpoint.interval = ITERS
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
def test_tiny_rotated_retinanet_learns_on_rotated_shapes(tmp_path, one_thread, tiny_zoo):
    runner = build_runner(_tiny_run_config(), work_dir=tmp_path)
    runner.train()
    losses = runner.message_hub.get_scalar("train/loss").data[0]
    assert losses[-10:].mean() < 0.6 * losses[:10].mean()
    metrics = runner.val()
    errors = angle_errors(runner)
    print(
        f"\nrotated shapes: dota/mAP {metrics['dota/mAP']:.3f}; angle error of {len(errors)} "
        f"matched oblong objects: median {math.degrees(errors.median()):.1f} deg, "
        f"mean {math.degrees(errors.mean()):.1f} deg"
    )
    assert metrics["dota/mAP"] >= MIN_MAP
    # measured (AVX-512, one thread): mAP 0.366, median angle error 15.5 deg over 19 objects
    # (the full 600 iterations: mAP 0.497, 17.8 deg over 31); random angles would give a
    # median near 45 deg
    assert len(errors) > 10 and math.degrees(errors.median()) < 30
