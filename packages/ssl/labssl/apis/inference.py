"""Using a pretrained (or probed) model: build it from a config and checkpoint, embed
or classify images.

model = init_model('labssl::mocov2/mocov2_resnet18_tiny_shapes.py', 'epoch_40.pth')
result = inference(model, 'image.png')   # a data sample with `features` (Tensor[C])
probe = init_model('labssl::mocov2/linear-probe_mocov2_resnet18_tiny_shapes.py', 'probe.pth')
inference(probe, 'image.png')            # also pred_score, pred_label (labcls's classifier)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement
from PIL import Image, ImageDraw
from torch import nn

import labcore.codebase
from labcore.errors import LabError
from labssl.datasets.transforms import build_transforms


def init_model(
    config: str | os.PathLike | Config,
    checkpoint: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    strict: bool = True,
    cfg_options: dict | None = None,
) -> nn.Module:
    """Build a labssl model (a self-supervised model or a linear probe) from a config,
    load its checkpoint (a path, ``.safetensors``, http(s), ``zoo://NAME``), eval mode.
    See :func:`labcore.codebase.init_model`."""
    return labcore.codebase.init_model(
        scope="labssl",
        config=config,
        checkpoint=checkpoint,
        device=device,
        strict=strict,
        cfg_options=cfg_options,
    )


def _test_pipeline(model: nn.Module, from_array: bool) -> list:
    cfg = getattr(model, "cfg", None)
    dataset = ((cfg.get("test_dataloader") or {}).get("dataset") or {}) if cfg else {}
    pipeline = list(dataset.get("pipeline") or [dict(type="PackClsInputs")])
    if from_array:
        pipeline = [t for t in pipeline if t.get("type") != "LoadImageFromFile"]
    elif not pipeline or pipeline[0].get("type") != "LoadImageFromFile":
        pipeline.insert(0, dict(type="LoadImageFromFile"))
    return build_transforms(pipeline)


@torch.no_grad()
def inference(
    model: nn.Module, images: str | os.PathLike | np.ndarray | Sequence
) -> BaseDataElement | list[BaseDataElement]:
    """Embed (and, with a linear probe, classify) one image or a list of them.

    Args:
        model: from :func:`init_model`.
        images: an image file or uint8 ndarray[H, W, 3] in RGB order, or a list of them.

    Returns:
        For each image its data sample: ``features`` (Tensor[C], the backbone's pooled
        last map) and, for a linear probe, ``pred_score`` (Tensor[K]) and ``pred_label``;
        one sample for one image.
    """
    single = isinstance(images, str | os.PathLike | np.ndarray)
    inputs, samples = [], []
    for image in [images] if single else list(images):
        from_array = isinstance(image, np.ndarray)
        if from_array:
            if image.ndim != 3 or image.shape[2] != 3:
                raise LabError(
                    f"inference expects an RGB image ndarray[H, W, 3], got {image.shape}."
                )
            results = dict(img=image, img_shape=image.shape[:2], ori_shape=image.shape[:2])
        else:
            results = dict(img_path=str(image))
        for transform in _test_pipeline(model, from_array):
            results = transform(results)
        inputs.append(results["inputs"])
        samples.append(results["data_samples"])
    out = model.test_step(dict(inputs=inputs, data_samples=samples))
    return out[0] if single else out


def format_result(result: BaseDataElement) -> str:
    """A text summary of an :func:`inference` result: the feature's size and norm, and
    the predicted class of a linear probe."""
    features = result.features.float()
    lines = [f"features: {features.numel()} values, L2 norm {features.norm():.4f}"]
    if "pred_score" in result:
        score = result.pred_score.float()
        label = int(score.argmax())
        lines.append(f"class {label}: {float(score[label]):.3f}")
    return "\n".join(lines)


def show_result(
    image: str | os.PathLike | np.ndarray,
    result: BaseDataElement,
    *,
    out_file: str | os.PathLike | None = None,
) -> np.ndarray:
    """The image with :func:`format_result`'s lines below it, written as a PNG to
    ``out_file`` when given; returns the drawing as uint8 ndarray[H, W, 3]."""
    picture = (
        Image.open(image).convert("RGB")
        if not isinstance(image, np.ndarray)
        else Image.fromarray(image)
    )
    scale = max(1, 256 // max(picture.size))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    lines = format_result(result).splitlines()
    canvas = Image.new(
        "RGB", (max(picture.width, 280), picture.height + 14 * len(lines) + 6), "white"
    )
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for row, text in enumerate(lines):
        draw.text((4, picture.height + 3 + row * 14), text, fill=(0, 0, 0))
    if out_file is not None:
        Path(out_file).parent.mkdir(parents=True, exist_ok=True)
        canvas.save(out_file)
    return np.asarray(canvas)
