"""``convert_openmmlab_detector`` on the key layout of MMDetection's R-CNN checkpoints.

MMDetection is not installed here, so each test writes out the state dict of the anchor's
model from its published structure (``faster-rcnn_r50_fpn_1x_coco`` and its Mask / Cascade
relatives): ResNet-50 with torchvision's names and shapes (taken live from torchvision's
ResNet-50, BatchNorm counters included, as MMDetection's checkpoints hold them), the FPN's
ConvModules (``.conv``), ``rpn_head.rpn_{conv,cls,reg}``, ``Shared2FCBBoxHead``
(``shared_fcs``, ``fc_cls`` with background last, ``fc_reg``) and ``FCNMaskHead``
(``convs.i.conv``, ``upsample``, ``conv_logits``). Converted, its keys and shapes must be
exactly those of the labdet model the config of the same name builds (on the meta device).
"""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import DefaultScope
from torchvision.models import resnet50

from labcore.engine.config import load_config
from labcore.errors import CheckpointError
from labdet.models.convert import convert_openmmlab_detector
from labdet.registry import MODELS

NUM_CLASSES = 80  # COCO


def _layer(name: str, *shape: int) -> dict:
    return {f"{name}.weight": shape, f"{name}.bias": shape[:1]}


def _resnet50_fpn() -> dict:
    with torch.device("meta"):
        body = resnet50(weights=None).state_dict()
    shapes = {f"backbone.{k}": tuple(v.shape) for k, v in body.items() if not k.startswith("fc.")}
    for i, in_ch in enumerate((256, 512, 1024, 2048)):
        shapes |= _layer(f"neck.lateral_convs.{i}.conv", 256, in_ch, 1, 1)
        shapes |= _layer(f"neck.fpn_convs.{i}.conv", 256, 256, 3, 3)
    return shapes | {
        **_layer("rpn_head.rpn_conv", 256, 256, 3, 3),
        **_layer("rpn_head.rpn_cls", 3, 256, 1, 1),  # 3 anchors, sigmoid objectness
        **_layer("rpn_head.rpn_reg", 12, 256, 1, 1),
    }


def _bbox_head(name: str, *, class_agnostic: bool) -> dict:
    return {
        **_layer(f"{name}.shared_fcs.0", 1024, 256 * 7 * 7),
        **_layer(f"{name}.shared_fcs.1", 1024, 1024),
        **_layer(f"{name}.fc_cls", NUM_CLASSES + 1, 1024),
        **_layer(f"{name}.fc_reg", 4 if class_agnostic else 4 * NUM_CLASSES, 1024),
    }


def _mask_head(name: str) -> dict:
    shapes = {}
    for i in range(4):
        shapes |= _layer(f"{name}.convs.{i}.conv", 256, 256, 3, 3)
    return shapes | {
        **_layer(f"{name}.upsample", 256, 256, 2, 2),  # ConvTranspose2d: [in, out, k, k]
        **_layer(f"{name}.conv_logits", NUM_CLASSES, 256, 1, 1),
    }


def mmdet_faster_rcnn() -> dict:
    return _resnet50_fpn() | _bbox_head("roi_head.bbox_head", class_agnostic=False)


def mmdet_mask_rcnn() -> dict:
    return mmdet_faster_rcnn() | _mask_head("roi_head.mask_head")


def mmdet_cascade_rcnn(with_masks: bool = False) -> dict:
    shapes = _resnet50_fpn()
    for stage in range(3):
        shapes |= _bbox_head(f"roi_head.bbox_head.{stage}", class_agnostic=True)
        if with_masks:
            shapes |= _mask_head(f"roi_head.mask_head.{stage}")
    return shapes


CASES = {
    "faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py": mmdet_faster_rcnn,
    "mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py": mmdet_mask_rcnn,
    "cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py": mmdet_cascade_rcnn,
    "cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py": lambda: mmdet_cascade_rcnn(True),
}


def _labdet_shapes(config: str) -> dict:
    cfg = load_config(f"labdet::{config}")
    cfg.model.backbone.pop("init_cfg", None)
    with DefaultScope.overwrite_default_scope("labdet"), torch.device("meta"):
        model = MODELS.build(cfg.model)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("config", CASES, ids=lambda c: c.split("/")[1].split("_r50")[0])
def test_every_mmdetection_key_maps_onto_the_labdet_model(config):
    upstream = {k: torch.empty(s, device="meta") for k, s in CASES[config]().items()}
    converted = convert_openmmlab_detector(upstream)
    counters = sum(k.endswith("num_batches_tracked") for k in upstream)
    assert counters == 53 and len(converted) == len(upstream) - counters
    assert {k: tuple(v.shape) for k, v in converted.items()} == _labdet_shapes(config)


def test_class_outputs_move_to_background_first():
    """MMDetection: classes 0..K-1 then background; labdet: background, then the classes."""
    head = _bbox_head("roi_head.bbox_head", class_agnostic=False) | _mask_head("roi_head.mask_head")
    upstream = {k: torch.randn(s) for k, s in head.items()}
    converted = convert_openmmlab_detector(upstream)
    cls_score = converted["roi_head.box_predictor.cls_score.weight"]
    fc_cls = upstream["roi_head.bbox_head.fc_cls.weight"]
    assert torch.equal(cls_score[0], fc_cls[NUM_CLASSES]) and torch.equal(
        cls_score[1:], fc_cls[:-1]
    )
    bbox_pred = converted["roi_head.box_predictor.bbox_pred.bias"]
    assert torch.equal(bbox_pred[4:], upstream["roi_head.bbox_head.fc_reg.bias"])
    assert not bbox_pred[:4].any()
    logits = converted["roi_head.mask_predictor.mask_fcn_logits.weight"]
    assert torch.equal(logits[1:], upstream["roi_head.mask_head.conv_logits.weight"])
    assert not logits[0].any()
    fc7 = converted["roi_head.box_head.fc7.weight"]
    assert torch.equal(fc7, upstream["roi_head.bbox_head.shared_fcs.1.weight"])


def test_a_cascade_keeps_its_class_agnostic_regression():
    upstream = {
        k: torch.randn(s)
        for k, s in _bbox_head("roi_head.bbox_head.2", class_agnostic=True).items()
    }
    converted = convert_openmmlab_detector(upstream)
    assert torch.equal(
        converted["roi_head.box_predictors.2.bbox_pred.weight"],
        upstream["roi_head.bbox_head.2.fc_reg.weight"],
    )


def test_a_retinanet_checkpoint_is_refused_with_its_keys():
    upstream = {"bbox_head.retina_cls.weight": torch.zeros(720, 256, 3, 3)}
    with pytest.raises(CheckpointError, match=r"bbox_head\.retina_cls\.weight"):
        convert_openmmlab_detector(upstream)
