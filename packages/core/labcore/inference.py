"""What the inference API of every image codebase shares: images given directly (files or
arrays) through the test pipeline of the model's config, then ``model.test_step``::

    samples, single = run_test_pipeline(
        model, "image.jpg", scope="labdet", annotations=("LoadDetAnnotations",),
        default_pack="PackDetInputs")
    return samples[0] if single else samples

A codebase's ``inference`` adds what its results carry (class names, palette) and keeps
its own docstring, which says what a result holds.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence

import numpy as np
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement
from torch import nn

from labcore.errors import LabError

ImageInput = str | os.PathLike | np.ndarray


def inference_pipeline(
    model: nn.Module,
    *,
    scope: str,
    from_array: bool,
    annotations: Collection[str] = (),
    default_pack: str,
) -> Compose:
    """The test dataset's pipeline of ``model.cfg`` for an image without annotations.

    Its annotation loaders (the transform types in ``annotations``) are left out, and so is
    ``LoadImageFromFile`` for an image given as an array; a file gets one when the
    pipeline lacks it. Without a test pipeline: ``LoadImageFromFile`` and
    ``default_pack``. The transforms are built in ``scope``.
    """
    cfg = getattr(model, "cfg", None)
    dataset = ((cfg.get("test_dataloader") or {}).get("dataset") or {}) if cfg else {}
    pipeline = [t for t in dataset.get("pipeline") or [] if t.get("type") not in annotations]
    if not pipeline:
        pipeline = [dict(type=default_pack)]
    loads = [t for t in pipeline if t.get("type") == "LoadImageFromFile"]
    if from_array:
        pipeline = [t for t in pipeline if t.get("type") != "LoadImageFromFile"]
    elif not loads:
        pipeline = [dict(type="LoadImageFromFile"), *pipeline]
    with DefaultScope.overwrite_default_scope(scope):
        return Compose(pipeline)


def run_test_pipeline(
    model: nn.Module,
    inputs: ImageInput | Sequence[ImageInput],
    *,
    scope: str,
    annotations: Collection[str] = (),
    default_pack: str,
) -> tuple[list[BaseDataElement], bool]:
    """``model.test_step`` over one image or a list of them.

    Args:
        model: a codebase's ``init_model`` result (eval mode, with ``cfg``).
        inputs: an image file or uint8 RGB ndarray[H, W, 3], or a list of them.
        scope, annotations, default_pack: as for :func:`inference_pipeline`.

    Returns:
        The model's data samples, one per image, and whether ``inputs`` was one image.

    Raises:
        LabError: an array that is not an RGB image ndarray[H, W, 3].
    """
    single = isinstance(inputs, (str, os.PathLike, np.ndarray))
    images, samples = [], []
    for image in [inputs] if single else list(inputs):
        from_array = isinstance(image, np.ndarray)
        if from_array:
            if image.ndim != 3 or image.shape[2] != 3:
                raise LabError(
                    f"inference expects an RGB image ndarray[H, W, 3], got shape {image.shape}."
                )
            results = dict(img=image, img_shape=image.shape[:2], ori_shape=image.shape[:2])
        else:
            results = dict(img_path=str(image))
        pipeline = inference_pipeline(
            model, scope=scope, from_array=from_array, annotations=annotations,
            default_pack=default_pack,
        )  # fmt: skip
        packed = pipeline(dict(results, img_id=0))
        images.append(packed["inputs"])
        samples.append(packed["data_samples"])
    return model.test_step(dict(inputs=images, data_samples=samples)), single
