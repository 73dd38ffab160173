"""Mixup / CutMix through the data preprocessor: soft targets that match the mixing."""

from __future__ import annotations

import torch
from mmengine.structures import BaseDataElement

from labcls.models.batch_augments import RandomBatchAugment
from labcls.models.data_preprocessor import ClsDataPreprocessor


def _batch(n=4, size=8):
    inputs = [torch.full((3, size, size), float(10 * i), dtype=torch.uint8) for i in range(n)]
    samples = [BaseDataElement(gt_label=torch.tensor([i])) for i in range(n)]
    return dict(inputs=inputs, data_samples=samples)


def test_mixup_targets_follow_pixel_mixing():
    torch.manual_seed(0)
    pre = ClsDataPreprocessor(num_classes=5, batch_augments=[dict(type="Mixup", alpha=1.0)])
    out = pre(_batch(), training=True)
    for i, sample in enumerate(out["data_samples"]):
        score = sample.gt_score
        assert score.shape == (5,)
        torch.testing.assert_close(score.sum(), torch.tensor(1.0))
        lam = score[i].item()
        j = (i - 1) % 4  # torchvision mixes each image with its predecessor
        expected = lam * 10 * i + (1 - lam) * 10 * j
        torch.testing.assert_close(out["inputs"][i].mean().item(), expected, rtol=1e-4, atol=1e-3)


def test_cutmix_targets_equal_pasted_area():
    torch.manual_seed(1)
    pre = ClsDataPreprocessor(num_classes=4, batch_augments=[dict(type="CutMix", alpha=1.0)])
    out = pre(_batch(size=16), training=True)
    for i, sample in enumerate(out["data_samples"]):
        own_fraction = (out["inputs"][i] == 10 * i).float().mean().item()
        assert abs(sample.gt_score[i].item() - own_fraction) < 1e-6


def test_no_augment_when_not_training_and_normalisation():
    pre = ClsDataPreprocessor(
        mean=[10.0, 10.0, 10.0], std=[2.0, 2.0, 2.0], num_classes=4,
        batch_augments=[dict(type="Mixup", alpha=1.0)],
    )  # fmt: skip
    out = pre(_batch(), training=False)
    assert "gt_score" not in out["data_samples"][0]
    torch.testing.assert_close(out["inputs"][2], torch.full((3, 8, 8), 5.0))


def test_random_batch_augment_probabilities():
    calls = []

    def fake(inputs, targets):
        calls.append(1)
        return inputs, targets

    torch.manual_seed(0)
    never = RandomBatchAugment(augments=[fake], probs=[0.0])
    for _ in range(10):
        never(torch.zeros(1), torch.zeros(1))
    assert not calls
    always = RandomBatchAugment(augments=[fake])
    always(torch.zeros(1), torch.zeros(1))
    assert calls == [1]
