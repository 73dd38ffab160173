"""The multi-view pipeline and the pretraining augmentations."""

import numpy as np
import pytest
import torch

from labcore.errors import ConfigError
from labssl.datasets import (
    GaussianBlur,
    MultiView,
    PackMultiViewInputs,
    RandomApply,
    RandomGrayscale,
    Solarize,
)
from labssl.models import MultiViewDataPreprocessor


def image(seed=0, size=16):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_multiview_makes_each_groups_views_from_the_same_image():
    torch.manual_seed(0)
    crop = dict(type="RandomResizedCrop", scale=8, crop_ratio_range=(0.2, 1.0))
    view = MultiView(
        num_views=[2, 1], transforms=[[crop], [dict(type="RandomGrayscale", prob=1.0)]]
    )
    results = view(dict(img=image(), img_shape=(16, 16)))
    views = results["img"]
    assert [v.shape for v in views] == [(8, 8, 3), (8, 8, 3), (16, 16, 3)]
    assert not np.array_equal(views[0], views[1])  # two random crops
    assert np.array_equal(views[2][..., 0], views[2][..., 1])  # the gray group
    packed = PackMultiViewInputs()(dict(results, gt_label=3))
    assert [tuple(t.shape) for t in packed["inputs"]] == [(3, 8, 8), (3, 8, 8), (3, 16, 16)]
    assert int(packed["data_samples"].gt_label) == 3
    with pytest.raises(ConfigError, match="num_views"):
        MultiView(num_views=[1], transforms=[[crop], [crop]])


def test_multiview_repeats_with_the_seed():
    jitter = dict(type="ColorJitter", brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    view = MultiView(
        num_views=2, transforms=[[dict(type="RandomApply", transforms=[jitter], prob=0.8)]]
    )
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        runs.append(view(dict(img=image()))["img"])
    assert all(np.array_equal(a, b) for a, b in zip(*runs))


def test_random_apply_grayscale_solarize_blur():
    img = image()
    assert np.array_equal(
        RandomApply(transforms=[dict(type="RandomGrayscale", prob=1.0)], prob=0.0)(dict(img=img))[
            "img"
        ],
        img,
    )
    gray = RandomGrayscale(prob=1.0)(dict(img=img))["img"]
    luma = np.round(0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2])
    assert np.abs(gray[..., 0].astype(int) - luma.astype(int)).max() <= 1
    solar = Solarize(threshold=128, prob=1.0)(dict(img=img))["img"]
    assert np.array_equal(solar, np.where(img >= 128, 255 - img, img))
    blurred = GaussianBlur(sigma_range=(2.0, 2.0), prob=1.0, kernel_fraction=0.5)(dict(img=img))[
        "img"
    ]
    assert blurred.shape == img.shape and blurred.std() < img.std()
    with pytest.raises(ConfigError, match="prob"):
        Solarize(prob=1.5)


def test_the_data_preprocessor_normalises_each_view():
    views = [
        tuple(torch.randint(0, 256, (3, 4, 4), dtype=torch.uint8) for _ in range(2))
        for _ in range(3)
    ]
    pre = MultiViewDataPreprocessor(mean=[10.0, 20.0, 30.0], std=[2.0, 4.0, 8.0])
    out = pre(dict(inputs=views, data_samples=None), True)["inputs"]
    assert len(out) == 3
    mean, std = (
        torch.tensor([10.0, 20.0, 30.0])[:, None, None],
        torch.tensor([2.0, 4.0, 8.0])[:, None, None],
    )
    for view, got in zip(views, out):
        torch.testing.assert_close(got, torch.stack([(v.float() - mean) / std for v in view]))
    single = pre(dict(inputs=list(views[0]), data_samples=None), False)["inputs"]
    torch.testing.assert_close(single, out[0])
