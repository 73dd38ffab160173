"""torchvision's fcn_resnet50 and deeplabv3_resnet50 (with auxiliary classifiers) are
expressible as labseg configs: same parameter counts, and torchvision's converted state
dicts give the same logits."""

from __future__ import annotations

import pytest
import torch
from mmengine.registry import DefaultScope
from torch import nn
from torchvision.models.segmentation import deeplabv3_resnet50, fcn_resnet50

from labcore.engine.config import load_config
from labseg.models.convert import convert_torchvision_segmentor
from labseg.registry import MODELS

CASES = {
    "fcn": ("labseg::_base_/models/fcn_r50-d8_tv.py", fcn_resnet50, 35_322_218),
    "deeplabv3": ("labseg::_base_/models/deeplabv3_r50-d8_tv.py", deeplabv3_resnet50, 42_004_074),
}


def _build(config: str) -> nn.Module:
    cfg = load_config(config)
    with DefaultScope.overwrite_default_scope("labseg"):
        return MODELS.build(cfg.model)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _calibrated(model: nn.Module, x: torch.Tensor) -> nn.Module:
    """BN statistics of one forward pass over ``x``, so activations stay O(1) through the
    50 layers and the absolute tolerance means something."""
    for bn in model.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.reset_running_stats()
            bn.momentum = None
    with torch.no_grad():
        model.train()(x)
    return model.eval()


@pytest.mark.parametrize("name", list(CASES))
def test_torchvision_segmentor_logits_match(name, one_thread):
    config, factory, published = CASES[name]
    torch.manual_seed(0)
    reference = factory(weights=None, weights_backbone=None, num_classes=21, aux_loss=True)
    ours = _build(config)
    assert _count(reference) == published
    assert _count(ours) == published

    x = torch.randn(2, 3, 64, 80)
    reference = _calibrated(reference, x)
    ours.load_state_dict(convert_torchvision_segmentor(reference.state_dict()), strict=True)
    ours.eval()
    with torch.no_grad():
        expected = reference(x)
        logits = ours.inference(x)
        feats = ours.extract_feat(x)
        aux = ours.auxiliary_head.predict(feats, x.shape[-2:])
    assert expected["out"].abs().max() > 0.1  # logits of order 1, not vanishing
    torch.testing.assert_close(logits, expected["out"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(aux, expected["aux"], atol=1e-5, rtol=1e-4)


def test_converter_names_unknown_keys():
    from labcore.errors import CheckpointError

    with pytest.raises(CheckpointError, match="no labseg name: classifier.9.weight"):
        convert_torchvision_segmentor({"classifier.9.weight": torch.zeros(1)})
