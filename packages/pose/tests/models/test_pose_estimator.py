"""TopdownPoseEstimator end to end on real samples: losses, predictions in image
pixels, flip test, and the head encoding targets itself."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from labcore.errors import ConfigError
from labpose.codecs import MSRAHeatmap
from labpose.datasets import CocoKeypointDataset
from labpose.models import TopdownPoseEstimator
from labpose.models.heads.base import batch_targets

CODEC = dict(type="MSRAHeatmap", input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)


def estimator(**test_cfg) -> TopdownPoseEstimator:
    return TopdownPoseEstimator(
        backbone=dict(type="ResNet", depth=18, stem_channels=8, base_channels=8, out_indices=(1,)),
        head=dict(type="HeatmapHead", in_channels=16, out_channels=5, deconv_out_channels=(16,),
                  deconv_kernel_sizes=(4,), loss=dict(type="KeypointMSELoss"), decoder=CODEC),
        test_cfg=test_cfg,
    )  # fmt: skip


def samples(shapes_pose, train: bool, generate: bool = False):
    """A batch of 4 packed samples (a fresh copy of one built once per arguments)."""
    return copy.deepcopy(_samples(shapes_pose, train, generate))


@functools.cache
def _samples(shapes_pose, train: bool, generate: bool):
    np.random.seed(0)
    steps = [dict(type="LoadImageFromFile"), dict(type="GetBBoxCenterScale")]
    if train:
        steps.append(dict(type="RandomFlip", prob=0.5))
    steps.append(dict(type="TopdownAffine", input_size=(32, 32)))
    if generate:
        steps.append(dict(type="GenerateTarget", encoder=CODEC))
    steps.append(dict(type="PackPoseInputs"))
    with DefaultScope.overwrite_default_scope("labpose"):
        dataset = CocoKeypointDataset(
            data_root=str(shapes_pose), ann_file="annotations/keypoints_val.json",
            data_prefix=dict(img="val/"), metainfo="shapes", pipeline=steps, test_mode=not train,
        )  # fmt: skip
        items = [dataset[i] for i in range(4)]
    return dict(
        inputs=[i["inputs"] for i in items], data_samples=[i["data_samples"] for i in items]
    )


def test_head_encodes_targets_like_generate_target(shapes_pose):
    generated = samples(shapes_pose, train=True, generate=True)["data_samples"]
    codec = MSRAHeatmap(input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)
    for sample in generated:
        ours = batch_targets([sample], codec)
        del sample.gt_targets
        theirs = batch_targets([sample], codec)
        torch.testing.assert_close(ours["heatmaps"], theirs["heatmaps"])
        torch.testing.assert_close(ours["keypoint_weights"], theirs["keypoint_weights"])


def test_loss_and_backward(shapes_pose, one_thread):
    model = estimator().train()
    data = model.data_preprocessor(samples(shapes_pose, train=True), True)
    losses = model(**data, mode="loss")
    losses["loss_kpt"].backward()
    assert losses["loss_kpt"].item() > 0
    assert model.backbone.conv1.weight.grad is not None


@pytest.mark.parametrize("flip_test", [False, True])
def test_predictions_are_in_image_pixels(shapes_pose, one_thread, flip_test):
    model = estimator(flip_test=flip_test).eval()
    batch = samples(shapes_pose, train=False)
    out = model.test_step(batch)
    for sample in out:
        pred = sample.pred_instances
        assert tuple(pred.keypoints.shape) == (1, 5, 2) and tuple(pred.keypoint_scores.shape) == (
            1,
            5,
        )
        # an untrained model still predicts inside the (padded) box, in image pixels
        x1, y1, x2, y2 = sample.gt_instances.bboxes[0].tolist()
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 1.25, (y2 - y1) * 1.25
        size = max(w, h) / 2 + 1
        assert (pred.keypoints[0, :, 0] - cx).abs().max() <= size
        assert (pred.keypoints[0, :, 1] - cy).abs().max() <= size
        assert "bbox_scores" in pred and "labels" in pred


def test_flip_test_of_a_symmetric_model_changes_nothing_on_centred_peaks(shapes_pose, one_thread):
    # heatmaps that are constant along x are their own mirror image: the flip test must
    # give the same keypoints (up to the one-pixel shift, switched off here)
    model = estimator(flip_test=True, shift_heatmap=False).eval()
    batch = samples(shapes_pose, train=False)
    model.head.forward = lambda feats: torch.ones(len(feats[-1]), 5, 8, 8).cumsum(-2)
    flipped = [s.pred_instances.keypoints.clone() for s in model.test_step(batch)]
    model.flip_test = False
    plain = [
        s.pred_instances.keypoints.clone()
        for s in model.test_step(samples(shapes_pose, train=False))
    ]
    for a, b in zip(flipped, plain):
        torch.testing.assert_close(a, b)


def test_flip_test_without_flip_pairs_is_an_error(shapes_pose, one_thread):
    model = estimator(flip_test=True).eval()
    batch = samples(shapes_pose, train=False)
    for sample in batch["data_samples"]:
        sample.set_metainfo(dict(flip_indices=None))
    with pytest.raises(ConfigError, match="flip_pairs"):
        model.test_step(batch)


def test_unknown_test_cfg_key_is_an_error():
    with pytest.raises(ConfigError, match="flip_tst"):
        estimator(flip_tst=True)
