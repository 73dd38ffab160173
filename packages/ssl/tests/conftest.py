"""Shared pieces of labssl's tests: tiny backbones and multi-view batches."""

import pytest
import torch

import labssl.datasets  # noqa: F401  (registers labssl's transforms)
import labssl.engine  # noqa: F401  (registers the hook and loops)
import labssl.evaluation  # noqa: F401
import labssl.models  # noqa: F401


@pytest.fixture
def tiny_resnet() -> dict:
    """A ResNet-18 at 1/8 width: 64 output channels, fast on 32x32 images."""
    return dict(type="ResNet", depth=18, stem_channels=8, base_channels=8, strides=(1, 1, 1, 2))


@pytest.fixture
def make_batch():
    return multiview_batch


def multiview_batch(batch: int = 4, views: int = 2, size: int = 32, seed: int = 0) -> dict:
    """A collated batch as PackMultiViewInputs + pseudo_collate make it: V views of B
    uint8 images Tensor[3, H, W], and B data samples with labels."""
    from mmengine.structures import BaseDataElement

    g = torch.Generator().manual_seed(seed)
    inputs = [
        tuple(
            torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8)
            for _ in range(batch)
        )
        for _ in range(views)
    ]
    samples = [BaseDataElement(gt_label=torch.tensor([i % 3])) for i in range(batch)]
    return dict(inputs=inputs, data_samples=samples)


@pytest.fixture(autouse=True)
def _labssl_scope():
    """Build in the labssl scope, as a runner with default_scope='labssl' does."""
    from mmengine.registry import DefaultScope

    with DefaultScope.overwrite_default_scope("labssl"):
        yield
