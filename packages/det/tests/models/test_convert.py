"""labdet's R50-FPN detectors against torchvision's: same architecture, same detections.

Each torchvision model is built with random weights (fixed seed) and a FrozenBatchNorm2d
ResNet-50 whose statistics are randomised too; its state dict goes through
``convert_torchvision_detector`` into the labdet model built from the matching ``*_tv_coco``
config. On the same 128x128 images (no resize on either side: torchvision's transform is
given min_size = max_size = 128 and labdet's images are already that size) both must give
the same detections, and the parameter counts must equal torchvision's published ones.
"""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import BaseDataElement
from torchvision.models import resnet50
from torchvision.models.detection import FCOS, MaskRCNN, RetinaNet
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
}


def _randomise_frozen_bn(model: torch.nn.Module, generator: torch.Generator) -> None:
    for m in model.modules():
        if isinstance(m, FrozenBatchNorm2d):
            n = m.weight.numel()
            m.weight.copy_(0.5 + torch.rand(n, generator=generator))
            m.bias.copy_(0.1 * torch.randn(n, generator=generator))
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
    _randomise_frozen_bn(tv_model, generator)
    ours = _build_ours(config, head).eval()
    ours.load_state_dict(convert_torchvision_detector(tv_model.state_dict()), strict=True)

    images = [torch.randint(0, 256, (3, SIZE, SIZE), generator=generator).float() for _ in range(2)]
    expected = tv_model(images)
    meta = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE), scale_factor=(1.0, 1.0))
    samples = [BaseDataElement(metainfo=meta) for _ in images]
    got = ours.test_step(dict(inputs=images, data_samples=samples))

    is_two_stage = name in ("faster_rcnn", "mask_rcnn")
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
