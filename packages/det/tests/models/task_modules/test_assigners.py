import pytest
import torch
from torchvision.models.detection._utils import Matcher
from torchvision.ops import box_iou

from labdet.models.task_modules import (
    IGNORE,
    NEGATIVE,
    ATSSAssigner,
    CenterRegionAssigner,
    MaxIoUAssigner,
)


def _boxes(n, generator, scale=100):
    xy = torch.rand(n, 2, generator=generator) * scale
    wh = 4 + torch.rand(n, 2, generator=generator) * scale / 2
    return torch.cat([xy, xy + wh], dim=1)


@pytest.mark.parametrize("low_quality", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_max_iou_equals_torchvision_matcher(low_quality, seed):
    g = torch.Generator().manual_seed(seed)
    anchors = _boxes(300, g)
    gts = anchors[:7] + 6 * torch.randn(7, 4, generator=g)
    gts[:, 2:] = torch.maximum(gts[:, 2:], gts[:, :2] + 2)
    expected = Matcher(0.5, 0.4, allow_low_quality_matches=low_quality)(box_iou(gts, anchors))
    got = MaxIoUAssigner(
        pos_iou_thr=0.5, neg_iou_thr=0.4, allow_low_quality_matches=low_quality
    ).assign(anchors, gts)
    assert torch.equal(got, expected)
    assert (got >= 0).any() and (got == IGNORE).any() and (got == NEGATIVE).any()


def test_max_iou_without_objects_is_all_negative():
    anchors = _boxes(10, torch.Generator().manual_seed(0))
    matched = MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.4).assign(anchors, torch.zeros(0, 4))
    assert (matched == NEGATIVE).all()


def _grid_anchors(stride, size, image=64):
    centers = torch.arange(0, image, stride, dtype=torch.float32)
    y, x = torch.meshgrid(centers, centers, indexing="ij")
    x, y = x.flatten(), y.flatten()
    half = size / 2
    return torch.stack([x - half, y - half, x + half, y + half], dim=1)


def test_center_region_assigner_picks_points_near_the_centre_and_prefers_small_boxes():
    anchors = _grid_anchors(8, 8)
    big = torch.tensor([8.0, 8.0, 56.0, 56.0])
    small = torch.tensor([24.0, 24.0, 40.0, 40.0])
    matched = CenterRegionAssigner(center_radius=1.5).assign(
        anchors, torch.stack([big, small]), num_anchors_per_level=[len(anchors)]
    )
    centers = (anchors[:, :2] + anchors[:, 2:]) / 2
    positive = matched >= 0
    assert positive.any()
    # every positive point lies within 1.5 strides of the centre (32, 32) and inside its box
    assert ((centers[positive] - 32).abs().max(dim=1).values < 12).all()
    # where both boxes match a point (only (32, 32) lies strictly inside the small one),
    # the smaller box wins
    at_centre = ((centers - 32).abs().sum(dim=1) == 0).nonzero()[0]
    assert matched[at_centre].item() == 1
    assert (matched[positive & ((centers - 32).abs().sum(dim=1) > 0)] == 0).all()


def test_atss_gives_each_object_positives_inside_it():
    anchors = torch.cat([_grid_anchors(8, 32), _grid_anchors(16, 64)])
    gts = torch.tensor([[4.0, 4.0, 30.0, 36.0], [30.0, 20.0, 60.0, 60.0]])
    matched = ATSSAssigner(topk=9).assign(anchors, gts, num_anchors_per_level=[64, 16])
    centers = (anchors[:, :2] + anchors[:, 2:]) / 2
    for k, box in enumerate(gts):
        mine = matched == k
        assert mine.any()
        c = centers[mine]
        assert (
            (c[:, 0] > box[0]) & (c[:, 0] < box[2]) & (c[:, 1] > box[1]) & (c[:, 1] < box[3])
        ).all()
    # an anchor positive for both boxes takes the one it overlaps most
    iou = box_iou(anchors, gts)
    both = matched >= 0
    assert (iou[both, matched[both]] > 0).all()
