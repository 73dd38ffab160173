"""DINO end to end: the R-50 model's size against the paper's, and the tiny model's loss
(denoising included), backward and predictions, with images without objects. Its learning
test is the DETR family's, in test_deformable_detr.py."""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import BaseDataElement, InstanceData

from labcore.engine.config import load_config
from labdet.registry import MODELS

R50 = "labdet::dino/dino-4scale_r50_8xb2-12e_coco.py"
TINY = "labdet::dino/dino_r18_shapes.py"


def test_r50_has_the_papers_47m_parameters():
    # Zhang et al. (ICLR 2023), Table 1: DINO-4scale R-50, 47M parameters, counted as its
    # code does (trainable ones: the frozen stem and first stage excluded). Measured here
    # 47,426,892 trainable of 47,649,292.
    model = MODELS.build(load_config(R50).model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert round(trainable / 1e6) == 47, trainable


def _sample(num_objects: int, size=(96, 88)):
    g = torch.Generator().manual_seed(num_objects)
    xy = torch.rand(num_objects, 2, generator=g) * 40
    boxes = torch.cat([xy, xy + 12 + torch.rand(num_objects, 2, generator=g) * 30], dim=1)
    gt = InstanceData(bboxes=boxes, labels=torch.randint(0, 8, (num_objects,), generator=g))
    meta = dict(img_shape=size, ori_shape=size, scale_factor=(1.0, 1.0))
    return BaseDataElement(metainfo=meta, gt_instances=gt)


@pytest.mark.parametrize("counts", [(3, 0), (0, 0)])
def test_tiny_model_trains_and_predicts(counts):
    torch.manual_seed(0)
    model = MODELS.build(load_config(TINY).model)
    images = [torch.randint(0, 256, (3, 96, 88), dtype=torch.uint8) for _ in counts]
    data = dict(inputs=images, data_samples=[_sample(n) for n in counts])
    model.train()
    losses = model(**model.data_preprocessor(data, True), mode="loss")
    names = ("loss_cls", "loss_bbox", "loss_iou")
    assert set(losses) == {p + k for p in ("", "d0.", "dn_", "d0.dn_", "enc_") for k in names}
    assert all(torch.isfinite(v) for v in losses.values()), losses
    sum(losses.values()).backward()
    if counts[0]:  # the denoising label embedding learns from the noised ground truth
        assert model.dn_query_generator.label_embedding.weight.grad.abs().sum() > 0

    model.eval()
    for sample in model.test_step(dict(inputs=images, data_samples=[_sample(0) for _ in images])):
        pred = sample.pred_instances
        assert pred.bboxes.shape == (100, 4) and pred.scores.shape == (100,)
