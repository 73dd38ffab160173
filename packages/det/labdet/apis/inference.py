"""High-level detection API: build a detector, run it on images, draw its detections.

    model = init_model("labdet::retinanet/retinanet_r18_fpn_shapes.py", "iter_600.pth")
    result = inference(model, "image.jpg")          # a data sample with pred_instances
    show_result("image.jpg", result, out_file="out.png", classes=model.dataset_meta["classes"])

``lab infer CONFIG CHECKPOINT IMAGE --out-file out.png`` calls these for labdet configs.
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
from torchvision.utils import draw_bounding_boxes, draw_segmentation_masks

import labcore.codebase
from labcore.inference import run_test_pipeline

_PALETTE = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
]  # fmt: skip


def init_model(
    config: str | os.PathLike | Config,
    checkpoint: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    strict: bool = True,
    cfg_options: dict | None = None,
) -> nn.Module:
    """Build a detector from a config, load its checkpoint, and put it in eval mode.

    Args:
        config: a config file, a ``labdet::...`` name or a loaded Config.
        checkpoint: any source :func:`labcore.engine.checkpoint.read_checkpoint` reads
            (a ``.pth`` or ``.safetensors`` file, http(s), ``zoo://NAME``); None keeps the
            initial weights.
        device: where the model runs, e.g. ``'cpu'`` or ``'cuda:0'``.
        strict: refuse a checkpoint whose keys do not all match (the keys are named);
            False loads the rest with a warning.
        cfg_options: ``{"dotted.key": value}`` overrides of the config.

    The returned model has ``cfg`` (its config) and ``dataset_meta`` (``classes`` from the
    checkpoint or the config, when they record them).

    Raises:
        CheckpointError: the checkpoint is missing or does not fit the model; the message
            lists the keys that do not match.
    """
    return labcore.codebase.init_model(
        scope="labdet",
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
    """Detect objects in one image or a list of them.

    Args:
        model: from :func:`init_model`.
        images: an image file or uint8 RGB ndarray[H, W, 3], or a list of them.

    Returns:
        For each image a data sample whose ``pred_instances`` hold ``bboxes``
        (Tensor[N, 4], x1 y1 x2 y2 in the image's pixels), ``scores``, ``labels`` and, for
        instance segmentation, ``masks`` (BoolTensor[N, H, W]), with the model's
        ``classes`` in its metainfo when known; one sample for one image.
    """
    out, single = run_test_pipeline(
        model, images, scope="labdet", annotations=("LoadDetAnnotations",),
        default_pack="PackDetInputs",
    )  # fmt: skip
    classes = (getattr(model, "dataset_meta", None) or {}).get("classes")
    if classes:
        for sample in out:
            sample.set_metainfo(dict(classes=tuple(classes)))
    return out[0] if single else out


def format_result(
    result: BaseDataElement, *, classes: Sequence[str] | None = None, score_thr: float = 0.3
) -> str:
    """One line ``class  score  x1 y1 x2 y2`` per detection scoring at least ``score_thr``."""
    pred = result.pred_instances
    classes = classes or result.metainfo.get("classes")
    lines = []
    for box, score, label in zip(pred.bboxes.tolist(), pred.scores.tolist(), pred.labels.tolist()):
        if score < score_thr:
            continue
        name = classes[label] if classes else str(label)
        lines.append(f"{name:<12} {score:.3f}  " + " ".join(f"{v:.1f}" for v in box))
    return "\n".join(lines) if lines else f"no detection scores {score_thr} or more"


def show_result(
    image: str | os.PathLike | np.ndarray,
    result: BaseDataElement,
    *,
    classes: Sequence[str] | None = None,
    score_thr: float = 0.3,
    out_file: str | os.PathLike | None = None,
) -> np.ndarray:
    """Draw the detections scoring at least ``score_thr``: masks, boxes and labels.

    Args:
        image: the image (file or uint8 RGB ndarray[H, W, 3]).
        result: from :func:`inference`.
        classes: class names for the labels (the label index is written otherwise).
        out_file: where to save the drawing (PNG or JPEG, by suffix).

    Returns:
        The drawing, uint8 RGB ndarray[H, W, 3].
    """
    from torchvision.io import ImageReadMode, decode_image, write_jpeg, write_png

    if isinstance(image, np.ndarray):
        picture = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    else:
        picture = decode_image(str(image), mode=ImageReadMode.RGB)
    pred = result.pred_instances
    classes = classes or result.metainfo.get("classes")
    keep = pred.scores >= score_thr
    labels = pred.labels[keep].tolist()
    colors = [_PALETTE[label % len(_PALETTE)] for label in labels]
    if "masks" in pred and keep.any():
        picture = draw_segmentation_masks(
            picture, pred.masks[keep].cpu(), alpha=0.45, colors=colors
        )
    if keep.any():
        names = [classes[label] if classes else str(label) for label in labels]
        text = [f"{n} {s:.2f}" for n, s in zip(names, pred.scores[keep].tolist())]
        picture = draw_bounding_boxes(
            picture, pred.bboxes[keep].cpu(), labels=text, colors=colors, width=1
        )
    if out_file is not None:
        out_file = Path(out_file)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        writer = write_jpeg if out_file.suffix.lower() in (".jpg", ".jpeg") else write_png
        writer(picture, str(out_file))
    return picture.permute(1, 2, 0).numpy()
