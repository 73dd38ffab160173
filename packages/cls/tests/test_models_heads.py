"""Classification heads: parameter names, loss, prediction."""

from __future__ import annotations

import pytest
import torch
import torchvision
from mmengine.structures import BaseDataElement

from labcls.models.heads import LinearClsHead, VisionTransformerClsHead

LOSS = dict(type="CrossEntropyLoss")


def _samples(labels):
    return [BaseDataElement(gt_label=torch.tensor([int(y)])) for y in labels]


def test_linear_head_loads_torchvision_fc_and_predicts_softmax():
    reference = torchvision.models.resnet18(num_classes=10)
    head = LinearClsHead(num_classes=10, in_channels=512, loss=LOSS, topk=(1, 5))
    head.load_state_dict({f"fc.{k}": v for k, v in reference.fc.state_dict().items()})
    feats = torch.randn(4, 512)
    torch.testing.assert_close(head((feats,)), reference.fc(feats))
    predictions = head.predict((feats,))
    expected = reference.fc(feats).softmax(dim=1)
    for sample, row in zip(predictions, expected):
        torch.testing.assert_close(sample.pred_score, row)
        assert sample.pred_label.item() == row.argmax().item()


def test_linear_head_loss_and_topk_accuracy():
    head = LinearClsHead(num_classes=3, in_channels=3, loss=LOSS, topk=(1, 2))
    with torch.no_grad():
        head.fc.weight.copy_(torch.eye(3))
        head.fc.bias.zero_()
    feats = torch.tensor([[5.0, 0, 0], [0, 5.0, 1.0], [0, 1.0, 5.0], [4.0, 5.0, 0]])
    losses = head.loss((feats,), _samples([0, 1, 2, 0]))
    ref = torch.nn.functional.cross_entropy(feats, torch.tensor([0, 1, 2, 0]))
    torch.testing.assert_close(losses["loss"], ref)
    assert losses["accuracy_top-1"].item() == pytest.approx(75.0)
    assert losses["accuracy_top-2"].item() == pytest.approx(100.0)


def test_soft_targets_use_gt_score():
    head = LinearClsHead(num_classes=2, in_channels=2, loss=LOSS)
    feats = torch.randn(2, 2)
    samples = _samples([0, 1])
    for sample in samples:
        sample.gt_score = torch.tensor([0.5, 0.5])
    losses = head.loss((feats,), samples)
    ref = torch.nn.functional.cross_entropy(head((feats,)), torch.full((2, 2), 0.5))
    torch.testing.assert_close(losses["loss"], ref)
    assert "accuracy_top-1" not in losses


def test_vit_head_names_and_token_formats():
    head = VisionTransformerClsHead(num_classes=7, in_channels=16, hidden_dim=32, loss=LOSS)
    assert set(head.state_dict()) == {
        "layers.pre_logits.weight",
        "layers.pre_logits.bias",
        "layers.head.weight",
        "layers.head.bias",
    }
    token = torch.randn(3, 16)
    expected = head.layers.head(torch.tanh(head.layers.pre_logits(token)))
    for feat in (token, token[:, :, None, None], torch.stack([token, token * 0], dim=1)):
        torch.testing.assert_close(head((feat,)), expected)
    with pytest.raises(ValueError, match="class token"):
        head((torch.randn(3, 16, 4, 4),))
