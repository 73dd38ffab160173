"""Using a trained classifier: build it from a config and checkpoint, classify images.

model = init_model('labcls::resnet/resnet18_tiny_shapes.py', 'epoch_12.pth')
result = inference(model, 'image.jpg')   # a data sample: pred_score, pred_label
top_classes(result, topk=3)              # [('circle', 0.97), ('ellipse', 0.02), ...]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement
from torch import nn

import labcore.codebase
from labcore.inference import run_test_pipeline


def init_model(
    config: str | os.PathLike | Config,
    checkpoint: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    strict: bool = True,
    cfg_options: dict | None = None,
) -> nn.Module:
    """Build a classifier from a config, load its checkpoint, and put it in eval mode.

    Args:
        config: a config file, a ``labcls::...`` name or a loaded Config.
        checkpoint: any source :func:`labcore.engine.checkpoint.read_checkpoint` reads
            (a ``.pth`` or ``.safetensors`` file, http(s), ``zoo://NAME``); None keeps the
            initial weights.
        device: where the model runs.
        strict: refuse a checkpoint whose keys do not all match (the keys are named);
            False loads the rest with a warning.
        cfg_options: ``{"dotted.key": value}`` overrides of the config.

    Returns:
        The model, with ``model.cfg`` (the config) and ``model.dataset_meta`` (from the
        checkpoint's meta or the config's test dataset; ``{}`` when unknown).
    """
    return labcore.codebase.init_model(
        scope="labcls",
        config=config,
        checkpoint=checkpoint,
        device=device,
        strict=strict,
        cfg_options=cfg_options,
    )


@torch.no_grad()
def inference(
    model: nn.Module, images: str | os.PathLike | np.ndarray | Sequence
) -> BaseDataElement | list[BaseDataElement]:
    """Classify one image or a list of them.

    Args:
        model: from :func:`init_model`.
        images: an image file or uint8 ndarray[H, W, 3] in RGB order, or a list of them.

    Returns:
        For each image the model's data sample: ``pred_score`` (Tensor[K], the class
        probabilities), ``pred_label`` (Tensor[1]) and, in its metainfo, ``classes`` (the
        class names, or the labels as str when the classes are unknown); one sample for
        one image.
    """
    out, single = run_test_pipeline(model, images, scope="labcls", default_pack="PackClsInputs")
    names = list((getattr(model, "dataset_meta", None) or {}).get("classes") or [])
    for sample in out:
        count = sample.pred_score.numel()
        sample.set_metainfo(
            dict(classes=tuple(names if len(names) == count else map(str, range(count))))
        )
    return out[0] if single else out


def top_classes(result: BaseDataElement, topk: int = 5) -> list[tuple[str, float]]:
    """The ``topk`` best (class name, probability) of an :func:`inference` result."""
    scores = result.pred_score.float().cpu()
    top = scores.topk(min(topk, scores.numel()))
    names = result.metainfo["classes"]
    return [(names[int(i)], float(s)) for s, i in zip(top.values, top.indices)]


def format_result(result: BaseDataElement, *, topk: int = 5) -> str:
    """The top classes of an :func:`inference` result, one ``class  score`` line each."""
    best = top_classes(result, topk)
    width = max(len(name) for name, _ in best)
    return "\n".join(f"{name:<{width}}  {score:.4f}" for name, score in best)


def show_result(
    image: str | os.PathLike | np.ndarray,
    result: BaseDataElement,
    *,
    out_file: str | os.PathLike | None = None,
    topk: int = 5,
    show: bool = False,
) -> np.ndarray:
    """Draw the top classes of ``result`` above the image.

    Args:
        image: the classified image (file or uint8 RGB ndarray[H, W, 3]).
        result: from :func:`inference`.
        out_file: where to save the drawing (any image format PIL writes).
        topk: how many of the best classes to write.
        show: open it in the system's image viewer.

    Returns:
        The drawing, uint8 RGB ndarray.
    """
    from PIL import Image, ImageDraw

    picture = (
        Image.open(image).convert("RGB")
        if not isinstance(image, np.ndarray)
        else (Image.fromarray(image))
    )
    scale = max(1, 256 // max(picture.size))
    picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    lines = [f"{name}: {score:.3f}" for name, score in top_classes(result, topk)]
    line_height = 14
    canvas = Image.new(
        "RGB", (max(picture.width, 160), picture.height + line_height * len(lines) + 6), "white"
    )
    canvas.paste(picture, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for row, text in enumerate(lines):
        draw.text((4, picture.height + 3 + row * line_height), text, fill=(0, 0, 0))
    if out_file is not None:
        Path(out_file).parent.mkdir(parents=True, exist_ok=True)
        canvas.save(out_file)
    if show:
        canvas.show()
    return np.asarray(canvas)
