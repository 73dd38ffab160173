"""Building a dataset's pipeline in labcls's scope."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from labcls.registry import TRANSFORMS


def build_pipeline(pipeline: Sequence[dict | Callable]) -> list[Callable]:
    """Transforms from configs, looked up in labcls TRANSFORMS (then labcore, MMEngine),
    so a dataset builds the same inside and outside a runner's default scope."""
    return [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
