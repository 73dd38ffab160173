"""High-level rotated detection API: build a detector, run it on images, draw oriented boxes.

    model = init_model("labrot::rotated_retinanet/rotated-retinanet_r18_fpn_shapes_le90.py",
                       "iter_600.pth")
    result = inference(model, "image.jpg")     # a data sample with pred_instances
    show_result("image.jpg", result, out_file="out.png")

``lab infer CONFIG CHECKPOINT IMAGE --out-file out.png`` calls these for labrot configs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.structures import BaseDataElement
from torch import nn
from torchvision.utils import draw_bounding_boxes

from labcore import codebase
from labcore.inference import run_test_pipeline
from labrot.structures import rbox_to_poly

_PALETTE = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
]  # fmt: skip


def init_model(
    config,
    checkpoint: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    strict: bool = True,
    cfg_options: dict | None = None,
) -> nn.Module:
    """A rotated detector from a config (file, ``labrot::...`` name or Config) with the
    weights of ``checkpoint``, in eval mode, with ``cfg`` and ``dataset_meta``
    (see :func:`labcore.codebase.init_model`)."""
    return codebase.init_model(
        scope="labrot", config=config, checkpoint=checkpoint, device=device, strict=strict,
        cfg_options=cfg_options,
    )  # fmt: skip


@torch.no_grad()
def inference(
    model: nn.Module, inputs: str | os.PathLike | np.ndarray | Sequence
) -> BaseDataElement | list[BaseDataElement]:
    """Detect oriented objects in one image or a list of them.

    Args:
        model: from :func:`init_model`.
        inputs: an image file or uint8 RGB ndarray[H, W, 3], or a list of them.

    Returns:
        For each image a data sample whose ``pred_instances`` hold ``bboxes``
        (Tensor[N, 5], ``(cx, cy, w, h, angle)`` in the image's pixels and radians, in the
        model's angle convention), ``scores`` and ``labels``, with the model's ``classes``
        in its metainfo when known; one sample for one image.
    """
    out, single = run_test_pipeline(
        model, inputs, scope="labrot", annotations=("LoadRotatedAnnotations",),
        default_pack="PackDetInputs",
    )  # fmt: skip
    classes = (getattr(model, "dataset_meta", None) or {}).get("classes")
    if classes:
        for sample in out:
            sample.set_metainfo(dict(classes=tuple(classes)))
    return out[0] if single else out


def _class_name(label: int, classes: Sequence[str] | None) -> str:
    return classes[label] if classes and label < len(classes) else str(label)


def format_result(
    result: BaseDataElement,
    *,
    score_thr: float = 0.3,
    classes: Sequence[str] | None = None,
) -> str:
    """One line ``class  score  cx cy w h angle(deg)`` per detection scoring at least
    ``score_thr``."""
    pred = result.pred_instances
    classes = classes or result.metainfo.get("classes")
    lines = []
    for box, score, label in zip(pred.bboxes.tolist(), pred.scores.tolist(), pred.labels.tolist()):
        if score < score_thr:
            continue
        cx, cy, w, h, angle = box
        lines.append(
            f"{_class_name(label, classes):<12} {score:.3f}  "
            f"{cx:.1f} {cy:.1f} {w:.1f} {h:.1f} {np.degrees(angle):.1f}deg"
        )
    return "\n".join(lines) if lines else f"no detection scores {score_thr} or more"


def show_result(
    image: str | os.PathLike | np.ndarray,
    result: BaseDataElement,
    *,
    out_file: str | os.PathLike | None = None,
    score_thr: float = 0.3,
    classes: Sequence[str] | None = None,
) -> np.ndarray:
    """Draw the oriented boxes scoring at least ``score_thr``, with class and score.

    Args:
        image: the image (file or uint8 RGB ndarray[H, W, 3]).
        result: from :func:`inference`.
        out_file: where to save the drawing (PNG).
        classes: class names for the labels (default: those the result's metainfo holds,
            else the label index is written).

    Returns:
        The drawing, uint8 RGB ndarray[H, W, 3].
    """
    from torchvision.io import ImageReadMode, decode_image, write_png

    if isinstance(image, np.ndarray):
        picture = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)
    else:
        picture = decode_image(str(image), mode=ImageReadMode.RGB)
    pred = result.pred_instances
    classes = classes or result.metainfo.get("classes")
    keep = pred.scores >= score_thr
    if keep.any():
        labels = pred.labels[keep].tolist()
        text = [
            f"{_class_name(label, classes)} {s:.2f}"
            for label, s in zip(labels, pred.scores[keep].tolist())
        ]
        picture = draw_bounding_boxes(
            picture,
            rbox_to_poly(pred.bboxes[keep].detach().cpu().float()),
            labels=text,
            colors=[_PALETTE[label % len(_PALETTE)] for label in labels],
            width=1,
        )
    if out_file is not None:
        out_file = Path(out_file)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        write_png(picture, str(out_file))
    return picture.permute(1, 2, 0).numpy()
