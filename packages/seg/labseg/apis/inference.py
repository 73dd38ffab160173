"""High-level segmentation API: build a segmentor, run it on images, draw its label map.

    model = init_model("labseg::fcn/fcn_r18-d8_shapes.py", "iter_300.pth")
    result = inference(model, "image.jpg")      # a data sample with pred_sem_seg
    show_result("image.jpg", result, out_file="overlay.png")

``lab infer CONFIG CHECKPOINT IMAGE --out-file overlay.png`` calls these for labseg configs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.structures import BaseDataElement
from torch import nn

from labcore import codebase
from labcore.datasets.transforms import image_to_tensor
from labcore.inference import run_test_pipeline
from labseg.datasets.seg_dataset import make_palette

_ANNOTATION_TRANSFORMS = ("LoadSegAnnotations",)


def init_model(
    config,
    checkpoint: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    strict: bool = True,
    cfg_options: dict | None = None,
) -> nn.Module:
    """A segmentor from a config (file, ``labseg::...`` name or Config) with the weights of
    ``checkpoint`` (path, ``.safetensors``, URL or ``zoo://NAME``), in eval mode on
    ``device``, with ``model.cfg`` and ``model.dataset_meta`` (``classes``)."""
    return codebase.init_model(
        scope="labseg", config=config, checkpoint=checkpoint, device=device, strict=strict,
        cfg_options=cfg_options,
    )  # fmt: skip


@torch.no_grad()
def inference(
    model: nn.Module, inputs: str | os.PathLike | np.ndarray | Sequence
) -> BaseDataElement | list[BaseDataElement]:
    """Segment one image or a list of them.

    Args:
        model: from :func:`init_model`.
        inputs: an image file or uint8 RGB ndarray[H, W, 3], or a list of them.

    Returns:
        For each image a data sample with ``pred_sem_seg`` (PixelData, LongTensor[1, H, W]
        of class indices) and ``seg_logits`` (Tensor[K, H, W]) at the image's size, and
        the model's ``classes`` and ``palette`` in its metainfo when it knows them; one
        sample for one image.
    """
    out, single = run_test_pipeline(
        model, inputs, scope="labseg", annotations=_ANNOTATION_TRANSFORMS,
        default_pack="PackSegInputs",
    )  # fmt: skip
    meta = getattr(model, "dataset_meta", None) or {}
    for sample in out:  # the class names travel with the result, for printing and drawing
        sample.set_metainfo({k: meta[k] for k in ("classes", "palette") if k in meta})
    return out[0] if single else out


def _labels(result: BaseDataElement) -> np.ndarray:
    return result.pred_sem_seg.data[0].cpu().numpy()


def format_result(result: BaseDataElement) -> str:
    """One line ``class  fraction-of-pixels`` per predicted class, largest first (class
    names from the result's metainfo, indices otherwise)."""
    labels = _labels(result)
    classes = result.metainfo.get("classes")
    values, counts = np.unique(labels, return_counts=True)
    order = np.argsort(-counts)
    lines = []
    for value, count in zip(values[order], counts[order]):
        name = classes[value] if classes and value < len(classes) else str(value)
        lines.append(f"{name:<16} {count / labels.size:6.1%}")
    return "\n".join(lines)


def show_result(
    image: str | os.PathLike | np.ndarray,
    result: BaseDataElement,
    *,
    out_file: str | os.PathLike | None = None,
    opacity: float = 0.5,
) -> np.ndarray:
    """The image with its predicted label map blended over it in one colour per class.

    Args:
        image: the image (file or uint8 RGB ndarray[H, W, 3]) the result belongs to.
        result: from :func:`inference`.
        out_file: where to save the overlay (PNG, or JPEG by suffix).
        opacity: weight of the colours (0 shows the image, 1 only the label map).

    The colours are the result's ``palette`` (from the dataset), else a distinct palette.

    Returns:
        The overlay, uint8 RGB ndarray[H, W, 3].
    """
    from torchvision.io import ImageReadMode, decode_image, write_jpeg, write_png

    if isinstance(image, np.ndarray):
        picture = image_to_tensor(image)
    else:
        picture = decode_image(str(image), mode=ImageReadMode.RGB)
    labels = _labels(result)
    if labels.shape != tuple(picture.shape[-2:]):
        raise ValueError(
            f"the result's label map is {labels.shape} but the image is "
            f"{tuple(picture.shape[-2:])}; pass the image the result was computed on"
        )
    palette = result.metainfo.get("palette")
    if palette is None or len(palette) <= labels.max():
        palette = make_palette(int(labels.max()) + 1)
    colours = np.asarray(palette, dtype=np.uint8)
    colour_map = torch.from_numpy(colours[labels].astype(np.float32)).permute(2, 0, 1)
    overlay = (picture.float() * (1 - opacity) + colour_map * opacity).round().to(torch.uint8)
    if out_file is not None:
        out_file = Path(out_file)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        writer = write_jpeg if out_file.suffix.lower() in (".jpg", ".jpeg") else write_png
        writer(overlay, str(out_file))
    return overlay.permute(1, 2, 0).numpy()
