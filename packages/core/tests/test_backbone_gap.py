"""GlobalAveragePooling neck."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from labcore.registry import MODELS


def test_pools_every_map_like_adaptive_avg_pool():
    neck = MODELS.build(dict(type="GlobalAveragePooling"))
    maps = (torch.randn(2, 8, 5, 7), torch.randn(2, 16, 3, 3))
    outs = neck(maps)
    assert isinstance(outs, tuple) and [o.shape for o in outs] == [(2, 8), (2, 16)]
    for out, x in zip(outs, maps):
        torch.testing.assert_close(out, nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))
    torch.testing.assert_close(neck(maps[0]), outs[0])


def test_rejects_inputs_that_are_not_maps():
    with pytest.raises(ValueError, match=r"Tensor\[B, C, H, W\]"):
        MODELS.build(dict(type="GlobalAveragePooling"))((torch.randn(2, 8),))
