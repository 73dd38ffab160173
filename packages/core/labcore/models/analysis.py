"""Model complexity: parameters and FLOPs, counted with MMEngine's analyzers.

FLOPs follow MMEngine (and fvcore): one multiply-add counts as one FLOP, so ResNet-50 at
224x224 is about 4.1 GFLOPs. Attention computed with ``scaled_dot_product_attention``,
which MMEngine does not count, is counted here as its two matrix products.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod
from typing import Any

import torch
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.analysis.jit_handles import get_shape
from mmengine.analysis.print_helper import complexity_stats_table
from torch import nn

from labcore.errors import ConfigError


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """Multiply-adds of softmax(q k^T) v for q Tensor[..., N, D], k Tensor[..., M, D],
    v Tensor[..., M, Dv]: N*M*D for the scores plus N*M*Dv for the weighted sum."""
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    batch = prod(q[:-2])
    n, d, m, dv = q[-2], q[-1], k[-2], v[-1]
    return batch * n * m * (d + dv)


def flop_analyzer(model: nn.Module, input_shape: Sequence[int]) -> FlopAnalyzer:
    """MMEngine's FlopAnalyzer of ``model`` on one random input of ``input_shape``
    (C, H, W), with attention counted; warnings about skipped ops are silenced."""
    device = next(iter(model.parameters()), torch.empty(0)).device
    inputs = (torch.randn(1, *input_shape, device=device),)
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle("aten::scaled_dot_product_attention", sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer


def _check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) <= 0:
        raise ConfigError(
            f"input_shape must be (channels, height, width), got {tuple(input_shape)}."
        )
    return shape


def complexity(model: nn.Module, input_shape: Sequence[int]) -> dict[str, int]:
    """Parameters and FLOPs of ``model`` for one image of ``input_shape`` (C, H, W).

    The model is called as ``model(x)`` with x Tensor[1, C, H, W] in eval mode (MMEngine
    BaseModels then run in their default 'tensor' mode) and restored to its previous
    mode. Returns ``dict(params=..., flops=...)``: all parameters (trainable or not) and
    multiply-adds.
    """
    shape = _check_shape(input_shape)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            flops = flop_analyzer(model, shape).total()
    finally:
        model.train(was_training)
    return dict(params=int(parameter_count(model)[""]), flops=int(flops))


def complexity_table(model: nn.Module, input_shape: Sequence[int], *, max_depth: int = 2) -> str:
    """A markdown table of parameters and FLOPs per module, down to ``max_depth``."""
    shape = _check_shape(input_shape)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            analyzer = flop_analyzer(model, shape)
            return complexity_stats_table(analyzer, max_depth=max_depth, show_param_shapes=False)
    finally:
        model.train(was_training)
