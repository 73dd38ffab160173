"""Heads: output shapes, loss against plain torch, flip back; losses against references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from labpose.models.heads import HeatmapHead, RegressionHead, SimCCHead
from labpose.models.losses import KeypointMSELoss, KLDiscretLoss, L1Loss, SmoothL1Loss


def msra(size=(48, 64), heatmap=(12, 16)):
    return dict(type="MSRAHeatmap", input_size=size, heatmap_size=heatmap, sigma=2.0)


def test_simplebaseline_head_upsamples_eight_times():
    head = HeatmapHead(
        in_channels=64,
        out_channels=5,
        deconv_out_channels=(32, 32, 32),
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type="KeypointMSELoss"),
        decoder=msra(),
    )
    assert tuple(head((torch.randn(2, 64, 2, 3),)).shape) == (2, 5, 16, 24)


def test_hrnet_head_has_no_deconvolution():
    head = HeatmapHead(
        in_channels=32,
        out_channels=17,
        deconv_out_channels=(),
        deconv_kernel_sizes=(),
        loss=dict(type="KeypointMSELoss"),
        decoder=msra(),
    )
    assert len(head.deconv_layers) == 0
    assert tuple(head((torch.randn(1, 32, 16, 12),)).shape) == (1, 17, 16, 12)


def samples_with(**targets):
    sample = BaseDataElement()
    sample.gt_targets = BaseDataElement(**{k: torch.as_tensor(v) for k, v in targets.items()})
    return sample


def test_heatmap_loss_uses_the_sample_targets():
    head = HeatmapHead(
        in_channels=8,
        out_channels=3,
        deconv_out_channels=(),
        deconv_kernel_sizes=(),
        loss=dict(type="KeypointMSELoss"),
        decoder=msra(),
    )
    feats = (torch.randn(2, 8, 16, 12),)
    targets = torch.rand(2, 1, 3, 16, 12)
    weights = torch.tensor([[[1.0, 0.0, 1.0]], [[1.0, 1.0, 1.0]]])
    samples = [samples_with(heatmaps=targets[i], keypoint_weights=weights[i]) for i in range(2)]
    loss = head.loss(feats, samples)["loss_kpt"]
    expected = ((head(feats) - targets[:, 0]) ** 2 * weights[:, 0, :, None, None]).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_heatmap_flip_swaps_channels_and_shifts():
    heatmaps = torch.zeros(1, 3, 4, 6)
    heatmaps[0, 1, 2, 1] = 1.0
    flipped = HeatmapHead.flip(heatmaps.clone(), [0, 2, 1], shift_heatmap=False)
    assert flipped[0, 2, 2, 4] == 1.0
    shifted = HeatmapHead.flip(heatmaps.clone(), [0, 2, 1], shift_heatmap=True)
    assert shifted[0, 2, 2, 5] == 1.0


def test_simcc_head_shapes_and_flip():
    codec = dict(type="SimCCLabel", input_size=(48, 64), simcc_split_ratio=2.0)
    head = SimCCHead(
        in_channels=16,
        out_channels=5,
        in_featuremap_size=(2, 2),
        input_size=(48, 64),
        loss=dict(type="KLDiscretLoss"),
        decoder=codec,
    )
    x, y = head((torch.randn(3, 16, 2, 2),))
    assert tuple(x.shape) == (3, 5, 96) and tuple(y.shape) == (3, 5, 128)
    fx, fy = head.flip((x, y), [0, 1, 4, 3, 2])
    assert torch.equal(fx[:, 2], x[:, 4].flip(-1)) and torch.equal(fy[:, 2], y[:, 4])


def test_regression_head_flip_mirrors_pixel_coordinates():
    codec = dict(type="RegressionLabel", input_size=(48, 64))
    head = RegressionHead(in_channels=8, num_joints=2, loss=dict(type="L1Loss"), decoder=codec)
    coords = torch.tensor([[[10 / 48, 0.5], [40 / 48, 0.25]]])
    flipped = head.flip(coords, [1, 0])
    np.testing.assert_allclose(flipped[0, 1].numpy(), [(48 - 1 - 10) / 48, 0.5], atol=1e-6)


def test_keypoint_mse_loss_weights():
    output, target = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    weights = torch.tensor([[1.0, 0.0, 2.0], [0.5, 1.0, 1.0]])
    expected = (F.mse_loss(output, target, reduction="none") * weights[..., None, None]).mean()
    assert KeypointMSELoss()(output, target, weights).item() == pytest.approx(expected.item())
    unweighted = KeypointMSELoss(use_target_weight=False)(output, target, weights)
    assert unweighted.item() == pytest.approx(F.mse_loss(output, target).item())


def test_kl_discret_loss_matches_the_definition():
    torch.manual_seed(0)
    pred = (torch.randn(2, 3, 10), torch.randn(2, 3, 12))
    target = (torch.rand(2, 3, 10), torch.rand(2, 3, 12))
    weights = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.5]])
    loss = KLDiscretLoss(beta=10.0, label_softmax=True)(pred, target, weights)
    expected = 0.0
    for p, t in zip(pred, target):
        log_q = torch.log_softmax(p * 10.0, dim=-1)
        t = torch.softmax(t * 10.0, dim=-1)
        kl = (t * (t.log() - log_q)).mean(dim=-1)
        expected += (kl * weights).sum()
    assert loss.item() == pytest.approx((expected / 3).item(), rel=1e-5)


def test_coordinate_losses():
    output, target = torch.randn(2, 3, 2), torch.randn(2, 3, 2)
    weights = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    l1 = ((output - target).abs() * weights[..., None]).mean()
    assert L1Loss()(output, target, weights).item() == pytest.approx(l1.item())
    smooth = (
        F.smooth_l1_loss(output, target, reduction="none", beta=0.5) * weights[..., None]
    ).mean()
    assert SmoothL1Loss(beta=0.5)(output, target, weights).item() == pytest.approx(smooth.item())
