import math

import torch
from torchvision.models.detection._utils import BoxCoder, BoxLinearCoder

from labdet.models.task_modules import DeltaXYWHBoxCoder, DistancePointBoxCoder


def _boxes(n, generator):
    xy = torch.rand(n, 2, generator=generator) * 100
    wh = 1 + torch.rand(n, 2, generator=generator) * 50
    return torch.cat([xy, xy + wh], dim=1)


def test_delta_coder_matches_torchvision_and_round_trips():
    g = torch.Generator().manual_seed(0)
    anchors, boxes = _boxes(50, g), _boxes(50, g)
    weights = (10.0, 10.0, 5.0, 5.0)
    ours = DeltaXYWHBoxCoder(weights=weights)
    reference = BoxCoder(weights, bbox_xform_clip=math.log(1000.0 / 16))
    deltas = ours.encode(boxes, anchors)
    torch.testing.assert_close(deltas, reference.encode_single(boxes, anchors))
    torch.testing.assert_close(ours.decode(deltas, anchors), boxes, atol=1e-4, rtol=0)
    multi = torch.randn(50, 12, generator=g)
    torch.testing.assert_close(
        ours.decode(multi, anchors), reference.decode(multi, [anchors]).reshape(50, 12)
    )


def test_delta_coder_clamps_large_sizes():
    coder = DeltaXYWHBoxCoder()
    box = coder.decode(
        torch.tensor([[0.0, 0.0, 100.0, 100.0]]), torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    )
    assert torch.isfinite(box).all()
    assert box[0, 2] - box[0, 0] <= 10 * 1000 / 16 + 1e-3


def test_distance_coder_matches_torchvision():
    g = torch.Generator().manual_seed(1)
    anchors, boxes = _boxes(40, g), _boxes(40, g)
    ours, reference = DistancePointBoxCoder(), BoxLinearCoder(normalize_by_size=True)
    distances = ours.encode(boxes, anchors)
    torch.testing.assert_close(distances, reference.encode(anchors, boxes))
    torch.testing.assert_close(
        ours.decode(distances, anchors), reference.decode(distances, anchors)
    )
    torch.testing.assert_close(ours.decode(distances, anchors), boxes, atol=1e-4, rtol=0)
