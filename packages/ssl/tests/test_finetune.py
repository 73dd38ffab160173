"""Fine-tuning into labcls: the labssl config that starts labcls' tiny ResNet-18 from a
pretraining checkpoint loads that checkpoint's backbone, leaves the classifier to its
own initialisation, and trains the whole network."""

from __future__ import annotations

import torch
from mmengine.registry import DefaultScope

from labcls.registry import MODELS as CLS_MODELS
from labcore.engine.config import load_config
from labssl.registry import MODELS as SSL_MODELS

PRETRAIN = "labssl::simclr/simclr_resnet18_tiny_shapes.py"
FINETUNE = "labssl::simclr/fine-tune_simclr_resnet18_tiny_shapes.py"


def test_the_pretrained_backbone_loads_into_labcls_and_everything_trains(tmp_path):
    pre_cfg = load_config(PRETRAIN)
    torch.manual_seed(1)
    with DefaultScope.overwrite_default_scope("labssl"):
        pretrained = SSL_MODELS.build(pre_cfg.model)
    with torch.no_grad():  # weights no initialisation would give
        for p in pretrained.backbone.parameters():
            p.add_(torch.randn_like(p))
    checkpoint = tmp_path / "simclr.pth"
    torch.save({"state_dict": pretrained.state_dict(), "meta": {}}, checkpoint)

    cfg = load_config(FINETUNE, {"model.backbone.init_cfg.checkpoint": str(checkpoint)})
    assert cfg.default_scope == "labcls" and cfg.model.type == "ImageClassifier"
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope("labcls"):
        model = CLS_MODELS.build(cfg.model)
    model.init_weights()
    expected = pretrained.backbone.state_dict()
    loaded = model.backbone.state_dict()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0, msg=key)

    before = {k: v.clone() for k, v in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    images = torch.rand(4, 3, 32, 32)
    labels = torch.tensor([0, 1, 2, 3])
    logits = model.head.fc(model.neck(model.backbone(images))[-1])
    torch.nn.functional.cross_entropy(logits, labels).backward()
    optimizer.step()
    frozen = [k for k, v in model.named_parameters() if torch.equal(v, before[k])]
    assert frozen == [], frozen  # fine-tuning trains the backbone too, unlike a probe
