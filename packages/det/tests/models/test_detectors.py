"""Every tiny detector config: builds, learns (loss forward and backward), predicts, and copes
with an image without objects (the registry-driven end-to-end checks)."""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import BaseDataElement, InstanceData

from labcore.engine.config import load_config
from labdet.registry import MODELS

TINY_CONFIGS = [
    "labdet::retinanet/retinanet_r18_fpn_shapes.py",
    "labdet::fcos/fcos_r18_fpn_shapes.py",
    "labdet::atss/atss_r18_fpn_shapes.py",
    "labdet::gfl/gfl_r18_fpn_shapes.py",
    "labdet::rtmdet/rtmdet_tiny_shapes.py",
    "labdet::faster_rcnn/faster-rcnn_r18_fpn_shapes.py",
    "labdet::mask_rcnn/mask-rcnn_r18_fpn_shapes.py",
    "labdet::cascade_rcnn/cascade-rcnn_r18_fpn_shapes.py",
    "labdet::cascade_rcnn/cascade-mask-rcnn_r18_fpn_shapes.py",
]


def _sample(num_objects: int, size: int = 96) -> BaseDataElement:
    g = torch.Generator().manual_seed(num_objects)
    xy = torch.rand(num_objects, 2, generator=g) * 50
    boxes = torch.cat([xy, xy + 12 + torch.rand(num_objects, 2, generator=g) * 30], dim=1)
    masks = torch.zeros(num_objects, size, size, dtype=torch.bool)
    for m, (x0, y0, x1, y1) in zip(masks, boxes.int().tolist()):
        m[y0:y1, x0:x1] = True
    gt = InstanceData(
        bboxes=boxes, labels=torch.randint(0, 8, (num_objects,), generator=g), masks=masks
    )
    meta = dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1.0, 1.0), img_id=0)
    return BaseDataElement(metainfo=meta, gt_instances=gt)


@pytest.mark.parametrize("config", TINY_CONFIGS)
def test_tiny_detector_trains_and_predicts(config):
    torch.manual_seed(0)
    model = MODELS.build(load_config(config).model)
    images = [torch.randint(0, 256, (3, 96, 96), dtype=torch.uint8) for _ in range(3)]
    data = dict(inputs=images, data_samples=[_sample(3), _sample(1), _sample(0)])
    model.train()
    losses = model(**model.data_preprocessor(data, True), mode="loss")
    assert all(torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)

    model.eval()
    samples = model.test_step(dict(inputs=images, data_samples=[_sample(0) for _ in images]))
    for sample in samples:
        pred = sample.pred_instances
        assert pred.bboxes.shape[1:] == (4,) and len(pred.scores) == len(pred.labels) == len(
            pred.bboxes
        )
        if "mask" in config:
            assert pred.masks.dtype == torch.bool and pred.masks.shape[1:] == (96, 96)


def test_predictions_are_scaled_back_to_the_original_image():
    torch.manual_seed(0)
    cfg = load_config(TINY_CONFIGS[0]).model
    cfg.bbox_head.test_cfg.score_thr = 0.0
    model = MODELS.build(cfg).eval()
    image = torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8)
    plain = BaseDataElement(
        metainfo=dict(img_shape=(64, 96), ori_shape=(64, 96), scale_factor=(1.0, 1.0))
    )
    scaled = BaseDataElement(
        metainfo=dict(img_shape=(64, 96), ori_shape=(32, 48), scale_factor=(2.0, 2.0))
    )
    a, b = model.test_step(dict(inputs=[image, image], data_samples=[plain, scaled]))
    torch.testing.assert_close(b.pred_instances.bboxes * 2, a.pred_instances.bboxes)


def test_unknown_forward_mode_is_named():
    model = MODELS.build(load_config(TINY_CONFIGS[0]).model)
    with pytest.raises(ValueError, match="mode='bogus'"):
        model(torch.zeros(1, 3, 64, 64), None, mode="bogus")


@pytest.mark.parametrize("config", [c for c in TINY_CONFIGS if "rcnn" in c])
def test_two_stage_predict_without_any_proposal(config):
    """An RPN that keeps no proposal (e.g. every score below its threshold) gives empty
    detections instead of failing to reshape an empty tensor."""
    torch.manual_seed(0)
    model = MODELS.build(load_config(config).model).eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.zeros(1, 3, 96, 96))
        (result,) = model.roi_head.predict(feats, [torch.zeros(0, 4)], [(96, 96)])
    assert result.bboxes.shape == (0, 4) and len(result.scores) == len(result.labels) == 0
