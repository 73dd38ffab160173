import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator as TVAnchorGenerator
from torchvision.models.detection.image_list import ImageList

from labdet.models.task_modules import AnchorGenerator


def test_anchors_equal_torchvision():
    sizes = ((32, 40, 50), (64, 80, 101), (128, 161, 203))
    ratios = ((0.5, 1.0, 2.0),) * 3
    strides = (8, 16, 32)
    image = torch.zeros(1, 3, 128, 96)
    feats = [torch.zeros(1, 4, 128 // s, 96 // s) for s in strides]
    expected = TVAnchorGenerator(sizes, ratios)(ImageList(image, [(128, 96)]), feats)[0]
    ours = AnchorGenerator(sizes=sizes, aspect_ratios=ratios, strides=strides)
    got = torch.cat(ours.grid_anchors([f.shape[-2:] for f in feats]))
    assert ours.num_anchors_per_location == [9, 9, 9]
    torch.testing.assert_close(got, expected)
