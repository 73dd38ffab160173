import torch
from torchvision.models.detection.roi_heads import paste_masks_in_image

from labdet.models.roi_heads import paste_masks


def test_paste_masks_equals_torchvision():
    g = torch.Generator().manual_seed(0)
    probs = torch.rand(6, 28, 28, generator=g)
    xy = torch.rand(6, 2, generator=g) * 80 - 10
    boxes = torch.cat([xy, xy + 5 + torch.rand(6, 2, generator=g) * 60], dim=1)
    expected = paste_masks_in_image(probs[:, None], boxes, (90, 100), padding=1)[:, 0]
    torch.testing.assert_close(paste_masks(probs, boxes, (90, 100)), expected)


def test_paste_no_masks():
    assert paste_masks(torch.zeros(0, 28, 28), torch.zeros(0, 4), (10, 12)).shape == (0, 10, 12)
