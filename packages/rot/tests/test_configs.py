"""Every registered labrot config builds; the rotated detector trains a step, also on an
image without objects; labdet's parts resolve through labrot's registries."""

from __future__ import annotations

import math

import pytest
import torch
import yaml
from mmengine.structures import BaseDataElement, InstanceData

from labcore.codebase import get_codebase
from labcore.engine.config import load_config
from labrot.apis import init_model
from labrot.registry import MODELS, TASK_UTILS


def registered_configs() -> list[str]:
    configs = []
    for metafile in get_codebase("labrot").metafiles():
        for model in yaml.safe_load(metafile.read_text())["Models"]:
            configs.append(model["Config"])
    return configs


def test_labdet_parts_resolve_in_labrot_scope():
    from labdet.models.losses import FocalLoss
    from labdet.models.task_modules.assigners import MaxIoUAssigner

    assert MODELS.get("FocalLoss") is FocalLoss
    assert issubclass(TASK_UTILS.get("RotatedMaxIoUAssigner"), MaxIoUAssigner)


@pytest.mark.parametrize("config", registered_configs())
def test_config_builds(config):
    cfg = load_config(f"labrot::{config}")
    assert cfg.default_scope == "labrot"
    model = init_model(cfg)
    assert type(model).__name__ in {"RotatedRetinaNet", "OrientedRCNN"}


def _losses_of_one_step(config: str):
    """The model of ``config`` in training mode and its losses on two 128x128 images, one
    with two rotated objects and one without any."""
    torch.manual_seed(0)
    model = init_model(config)
    model.train()
    images = [torch.randint(0, 255, (3, 128, 128), dtype=torch.uint8) for _ in range(2)]
    samples = []
    for boxes in (
        torch.tensor([[40.0, 50.0, 30.0, 12.0, 0.4], [90.0, 80.0, 20.0, 20.0, -1.2]]),
        torch.zeros((0, 5)),
    ):
        sample = BaseDataElement(metainfo=dict(img_shape=(128, 128)))
        sample.gt_instances = InstanceData(bboxes=boxes, labels=torch.arange(len(boxes)))
        samples.append(sample)
    data = model.data_preprocessor(dict(inputs=images, data_samples=samples), True)
    return model, model(**data, mode="loss")


def test_rotated_retinanet_trains_a_step_with_and_without_objects():
    model, losses = _losses_of_one_step(
        "labrot::rotated_retinanet/rotated-retinanet_r18_fpn_shapes_le90.py"
    )
    assert set(losses) == {"loss_cls", "loss_bbox"}
    total = sum(losses.values())
    assert math.isfinite(total.item()) and losses["loss_bbox"].item() > 0
    total.backward()
    assert model.bbox_head.bbox_reg.weight.grad.abs().sum() > 0


def test_oriented_rcnn_trains_a_step_with_and_without_objects():
    model, losses = _losses_of_one_step(
        "labrot::oriented_rcnn/oriented-rcnn_r18_fpn_shapes_le90.py"
    )
    assert set(losses) == {"loss_rpn_objectness", "loss_rpn_bbox", "loss_cls", "loss_bbox"}
    total = sum(losses.values())
    assert math.isfinite(total.item())
    assert losses["loss_rpn_bbox"].item() > 0 and losses["loss_bbox"].item() > 0
    total.backward()
    assert model.rpn_head.bbox_pred.weight.grad.abs().sum() > 0
    assert model.roi_head.box_predictor.bbox_pred.weight.grad.abs().sum() > 0
