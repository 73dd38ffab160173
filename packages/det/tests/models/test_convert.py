"""labdet's R50-FPN detectors against torchvision's: same architecture, same detections.

Each torchvision model (v1 and v2) is built with random weights (fixed seed) and its
(frozen) batch norms' statistics and GroupNorms' affine values randomised too; its state
dict goes through
``convert_torchvision_detector`` into the labdet model built from the matching ``*_tv_coco``
config. On the same 128x128 images (no resize on either side: torchvision's transform is
given min_size = max_size = 128 and labdet's images are already that size) both must give
the same detections, and the parameter counts must equal torchvision's, computed live.
"""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import BaseDataElement, InstanceData
from torchvision.models import resnet50
from torchvision.models.detection import (
    FCOS,
    MaskRCNN,
    RetinaNet,
    fasterrcnn_resnet50_fpn_v2,
    retinanet_resnet50_fpn_v2,
)
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops import FrozenBatchNorm2d
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from labcore.engine.config import load_config
from labcore.errors import CheckpointError
from labdet.models.convert import convert_torchvision_detector
from labdet.registry import MODELS

SIZE = 128
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def _tv_backbone(returned_layers, extra_blocks=None):
    body = resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    return _resnet_fpn_extractor(
        body, 5, returned_layers=returned_layers, extra_blocks=extra_blocks
    )


def _tv_retinanet():
    backbone = _tv_backbone([2, 3, 4], LastLevelP6P7(256, 256))
    return RetinaNet(
        backbone, 91, min_size=SIZE, max_size=SIZE, image_mean=MEAN, image_std=STD, score_thresh=0.0
    )


def _tv_fcos():
    backbone = _tv_backbone([2, 3, 4], LastLevelP6P7(256, 256))
    return FCOS(
        backbone, 91, min_size=SIZE, max_size=SIZE, image_mean=MEAN, image_std=STD, score_thresh=0.0
    )


def _tv_maskrcnn(with_masks: bool):
    backbone = _tv_backbone([1, 2, 3, 4])
    kwargs = dict(
        min_size=SIZE, max_size=SIZE, image_mean=MEAN, image_std=STD, box_score_thresh=0.0
    )
    if not with_masks:
        from torchvision.models.detection import FasterRCNN

        return FasterRCNN(backbone, 91, **kwargs)
    return MaskRCNN(backbone, 91, **kwargs)


def _tv_v2(builder, **score_thresh):
    return builder(
        weights=None,
        weights_backbone=None,
        min_size=SIZE,
        max_size=SIZE,
        image_mean=MEAN,
        image_std=STD,
        **score_thresh,
    )


# name: (torchvision builder, labdet config, head whose score threshold is lowered, published params)
CASES = {
    "retinanet": (
        _tv_retinanet,
        "labdet::retinanet/retinanet_r50_fpn_tv_coco.py",
        "bbox_head",
        34_014_999,
    ),
    "fcos": (_tv_fcos, "labdet::fcos/fcos_r50_fpn_tv_coco.py", "bbox_head", 32_269_600),
    "faster_rcnn": (
        lambda: _tv_maskrcnn(False),
        "labdet::faster_rcnn/faster-rcnn_r50_fpn_tv_coco.py",
        "roi_head",
        41_755_286,
    ),
    "mask_rcnn": (
        lambda: _tv_maskrcnn(True),
        "labdet::mask_rcnn/mask-rcnn_r50_fpn_tv_coco.py",
        "roi_head",
        44_401_393,
    ),
    "retinanet_v2": (
        lambda: _tv_v2(retinanet_resnet50_fpn_v2, score_thresh=0.0),
        "labdet::retinanet/retinanet_r50_fpn_v2_tv_coco.py",
        "bbox_head",
        38_198_935,
    ),
    "faster_rcnn_v2": (
        lambda: _tv_v2(fasterrcnn_resnet50_fpn_v2, box_score_thresh=0.0),
        "labdet::faster_rcnn/faster-rcnn_r50_fpn_v2_tv_coco.py",
        "roi_head",
        43_712_278,
    ),
}


def _randomise_norms(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Random affine values and statistics for every (frozen) batch norm, and random
    affine values for every GroupNorm, so that a wrongly mapped norm changes the output."""
    for m in model.modules():
        if isinstance(m, torch.nn.GroupNorm):
            n = m.weight.numel()
            m.weight.data.copy_(0.5 + torch.rand(n, generator=generator))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=generator))
        if isinstance(m, (FrozenBatchNorm2d, torch.nn.BatchNorm2d)):
            n = m.weight.numel()
            m.weight.data.copy_(0.5 + torch.rand(n, generator=generator))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=generator))
            m.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
            m.running_var.copy_(0.5 + torch.rand(n, generator=generator))


def _build_ours(config: str, head: str):
    cfg = load_config(config).model
    cfg[head]["test_cfg"]["score_thr"] = 0.0
    return MODELS.build(cfg)


def _num_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(CASES))
def test_parameter_count_equals_torchvision(name):
    tv_builder, config, head, published = CASES[name]
    torch.manual_seed(0)
    assert _num_params(tv_builder()) == published
    assert _num_params(_build_ours(config, head)) == published


@pytest.mark.parametrize("name", list(CASES))
@torch.no_grad()
def test_same_detections_as_torchvision(name):
    tv_builder, config, head, _ = CASES[name]
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    tv_model = tv_builder().eval()
    _randomise_norms(tv_model, generator)
    ours = _build_ours(config, head).eval()
    ours.load_state_dict(convert_torchvision_detector(tv_model.state_dict()), strict=True)

    images = [torch.randint(0, 256, (3, SIZE, SIZE), generator=generator).float() for _ in range(2)]
    expected = tv_model(images)
    meta = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE), scale_factor=(1.0, 1.0))
    samples = [BaseDataElement(metainfo=meta) for _ in images]
    got = ours.test_step(dict(inputs=images, data_samples=samples))

    is_two_stage = name.startswith(("faster_rcnn", "mask_rcnn"))
    for exp, sample in zip(expected, got):
        pred = sample.pred_instances
        assert len(exp["boxes"]) > 10, "the comparison needs non-trivial detections"
        assert len(pred.bboxes) == len(exp["boxes"])
        torch.testing.assert_close(pred.bboxes, exp["boxes"], atol=1e-3, rtol=0)
        torch.testing.assert_close(pred.scores, exp["scores"], atol=1e-4, rtol=0)
        labels = pred.labels + 1 if is_two_stage else pred.labels
        assert torch.equal(labels, exp["labels"])
        if name == "mask_rcnn":
            tv_masks = exp["masks"][:, 0] >= 0.5
            inter = (tv_masks & pred.masks).flatten(1).sum(1)
            union = (tv_masks | pred.masks).flatten(1).sum(1)
            iou = inter.sum() / union.sum().clamp(min=1)
            assert iou > 0.99


def test_unknown_keys_are_named():
    with pytest.raises(CheckpointError, match="classifier.weight"):
        convert_torchvision_detector({"classifier.weight": torch.zeros(1)})


@pytest.mark.parametrize(
    "key",
    [
        "head.classification_head.conv.0.2.weight",  # a third layer in a tower block
        "head.regression_head.conv.0.1.scale",  # not a parameter name of conv or norm
        "rpn.head.conv.0.1.weight",  # a norm in an RPN conv block
        "backbone.fpn.inner_blocks.0.2.weight",
        "roi_heads.box_predictor.extra.weight",
    ],
)
def test_keys_outside_every_rule_raise(key):
    with pytest.raises(CheckpointError, match=key.replace(".", r"\.")):
        convert_torchvision_detector({key: torch.zeros(1)})


def test_v2_group_norm_keys_land_on_the_group_norms():
    """torchvision's v2 RetinaNet towers are Sequential(Conv2dNormActivation(conv, GN, relu));
    labdet's are flat (conv, GN, relu, ...): block i's norm is index 3 i + 1."""
    state = {
        "head.classification_head.conv.0.0.weight": torch.zeros(1),
        "head.classification_head.conv.0.1.weight": torch.ones(1),
        "head.classification_head.conv.0.1.bias": torch.ones(1),
        "head.regression_head.conv.3.1.weight": torch.ones(1),
    }
    assert set(convert_torchvision_detector(state)) == {
        "bbox_head.cls_convs.0.weight",
        "bbox_head.cls_convs.1.weight",
        "bbox_head.cls_convs.1.bias",
        "bbox_head.reg_convs.10.weight",
    }


def test_retinanet_v2_training_losses_equal_torchvisions():
    """torchvision's v2 RetinaNet learns GIoU on decoded boxes: with the same weights and
    targets, labdet's config gives the same focal and box losses."""
    tv_builder, config, head, _ = CASES["retinanet_v2"]
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    tv_model = tv_builder()
    _randomise_norms(tv_model, generator)
    ours = _build_ours(config, head)
    ours.load_state_dict(convert_torchvision_detector(tv_model.state_dict()), strict=True)
    tv_model.train()
    for m in tv_model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()  # labdet's config keeps the backbone's batch norms in eval mode
    ours.train()

    meta = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE), scale_factor=(1.0, 1.0))
    # one image at a time: torchvision averages its per-image losses, labdet divides the
    # batch's sums by the batch's positives (as MMDetection); for one image they agree
    for boxes, labels in [
        (
            torch.tensor([[10.0, 20.0, 70.0, 90.0], [50.0, 40.0, 120.0, 100.0]]),
            torch.tensor([3, 17]),
        ),
        (torch.tensor([[5.0, 5.0, 40.0, 30.0]]), torch.tensor([60])),
    ]:
        image = torch.randint(0, 256, (3, SIZE, SIZE), generator=generator).float()
        expected = tv_model([image], [dict(boxes=boxes, labels=labels)])
        sample = BaseDataElement(
            metainfo=meta, gt_instances=InstanceData(bboxes=boxes, labels=labels)
        )
        data = ours.data_preprocessor(dict(inputs=[image], data_samples=[sample]), True)
        got = ours(**data, mode="loss")
        torch.testing.assert_close(
            got["loss_cls"], expected["classification"], rtol=1e-4, atol=1e-5
        )
        torch.testing.assert_close(
            got["loss_bbox"], expected["bbox_regression"], rtol=1e-4, atol=1e-5
        )
