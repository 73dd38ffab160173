"""The shared image transforms against torchvision and PIL references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import v2

from labcore.datasets.transforms import (
    CenterCrop,
    ColorJitter,
    ImageFileError,
    LoadImageFromFile,
    RandomFlip,
    RandomResizedCrop,
    Resize,
    ResizeEdge,
)
from labcore.errors import LabError
from labcore.registry import TRANSFORMS


def _image(h=40, w=60, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_load_image_reads_rgb_like_pil(tmp_path):
    img = _image()
    path = tmp_path / "a.png"
    Image.fromarray(img).save(path)
    results = LoadImageFromFile()(dict(img_path=str(path)))
    np.testing.assert_array_equal(results["img"], np.asarray(Image.open(path).convert("RGB")))
    assert results["img_shape"] == results["ori_shape"] == (40, 60)
    gray = tmp_path / "g.png"
    Image.fromarray(img[..., 0]).save(gray)
    assert LoadImageFromFile(to_float32=True)(dict(img_path=str(gray)))["img"].shape == (40, 60, 3)


def test_load_image_errors_name_the_file(tmp_path):
    with pytest.raises(ImageFileError, match="missing.jpg"):
        LoadImageFromFile()(dict(img_path=str(tmp_path / "missing.jpg")))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageFileError, match="bad.jpg"):
        LoadImageFromFile()(dict(img_path=str(bad)))


def test_resize_matches_torchvision_and_keeps_ratio():
    img = _image()
    out = Resize(scale=(30, 20))(dict(img=img))
    ref = v2.functional.resize(torch.from_numpy(img).permute(2, 0, 1), [20, 30], antialias=True)
    np.testing.assert_array_equal(out["img"], ref.permute(1, 2, 0).numpy())
    assert out["img_shape"] == (20, 30) and out["scale_factor"] == (0.5, 0.5)
    kept = Resize(scale=(100, 100), keep_ratio=True)(dict(img=img))
    assert kept["img_shape"] == (67, 100)


@pytest.mark.parametrize(("edge", "shape"), [("short", (32, 48)), ("long", (21, 32))])
def test_resize_edge(edge, shape):
    assert ResizeEdge(scale=32, edge=edge)(dict(img=_image()))["img_shape"] == shape


def test_center_crop_matches_numpy_slice():
    img = _image()
    out = CenterCrop(crop_size=(20, 10))(dict(img=img))["img"]
    np.testing.assert_array_equal(out, img[15:25, 20:40])


def test_random_resized_crop_is_seeded_and_sized():
    img = _image(64, 64)
    transform = RandomResizedCrop(scale=32)
    torch.manual_seed(3)
    first = transform(dict(img=img))["img"]
    torch.manual_seed(3)
    again = transform(dict(img=img))["img"]
    np.testing.assert_array_equal(first, again)
    assert first.shape == (32, 32, 3)
    for _ in range(20):
        top, left, h, w = transform.crop_box(64, 64)
        assert top >= 0 and top + h <= 64 and left >= 0 and left + w <= 64
        assert 0.08 * 64 * 64 * 0.8 <= h * w <= 64 * 64


def test_random_flip_flips_with_probability():
    img = _image()
    flipped = RandomFlip(prob=1.0)(dict(img=img))
    np.testing.assert_array_equal(flipped["img"], img[:, ::-1])
    assert flipped["flip"] and flipped["flip_direction"] == "horizontal"
    vertical = RandomFlip(prob=1.0, direction="vertical")(dict(img=img))["img"]
    np.testing.assert_array_equal(vertical, img[::-1])
    assert not RandomFlip(prob=0.0)(dict(img=img))["flip"]
    with pytest.raises(LabError, match="direction"):
        RandomFlip(direction="diagonal")


def test_color_jitter_brightness_matches_torchvision():
    img = _image()
    torch.manual_seed(0)
    out = ColorJitter(brightness=0.5)(dict(img=img))["img"]
    torch.manual_seed(0)
    factor = torch.empty(1).uniform_(0.5, 1.5).item()
    ref = v2.functional.adjust_brightness(torch.from_numpy(img).permute(2, 0, 1), factor)
    np.testing.assert_array_equal(out, ref.permute(1, 2, 0).numpy())
    with pytest.raises(LabError, match="hue"):
        ColorJitter(hue=0.7)


def test_transforms_are_registered():
    for name in ("LoadImageFromFile", "Resize", "ResizeEdge", "CenterCrop", "RandomResizedCrop",
                 "RandomFlip", "ColorJitter"):  # fmt: skip
        assert TRANSFORMS.get(name).__name__ == name
