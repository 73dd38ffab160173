"""High-level pose API: build an estimator, run it on images, draw the skeletons.

    model = init_model("labpose::simplebaseline/simplebaseline_r18_shapes.py", "iter_400.pth")
    result = inference(model, "image.jpg")        # the whole image as the box
    show_result("image.jpg", result, out_file="pose.png")

``lab infer CONFIG CHECKPOINT IMAGE --out-file pose.png`` calls these for labpose configs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement
from torch import nn

from labcore.codebase import init_model as _init_model
from labpose.datasets.metainfo import load_metainfo

_TRAINING_ONLY = ("RandomFlip", "RandomHalfBody", "RandomBBoxTransform", "GenerateTarget")


def init_model(
    config,
    checkpoint: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    strict: bool = True,
    cfg_options: dict | None = None,
) -> nn.Module:
    """A pose estimator in eval mode with ``cfg`` and ``dataset_meta`` (see
    :func:`labcore.codebase.init_model`)."""
    return _init_model(
        scope="labpose", config=config, checkpoint=checkpoint, device=device, strict=strict,
        cfg_options=cfg_options,
    )  # fmt: skip


def keypoint_metainfo(model: nn.Module) -> dict:
    """The keypoint metainfo of the data set the model's config tests on."""
    dataset = (model.cfg.get("test_dataloader") or {}).get("dataset") or {}
    source = dataset.get("metainfo") or ("shapes" if dataset.get("synthetic") else "coco")
    return load_metainfo(dict(source) if isinstance(source, dict) else source)


def _pipeline(model: nn.Module) -> Compose:
    dataset = (model.cfg.get("test_dataloader") or {}).get("dataset") or {}
    steps = [dict(t) for t in dataset.get("pipeline") or [] if t["type"] not in _TRAINING_ONLY]
    steps = [t for t in steps if t["type"] != "LoadImageFromFile"]
    with DefaultScope.overwrite_default_scope("labpose"):
        return Compose(steps)


def _read_image(image) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    from PIL import Image

    with Image.open(image) as picture:
        return np.array(picture.convert("RGB"))


@torch.no_grad()
def inference(model: nn.Module, inputs) -> BaseDataElement | list[BaseDataElement]:
    """Estimate the pose in each image, taking the whole image as the box.

    Args:
        model: from :func:`init_model`.
        inputs: an image file or uint8 RGB ndarray[H, W, 3], or a list of them.

    Returns:
        For each image a data sample whose ``pred_instances`` hold ``keypoints``
        (Tensor[1, K, 2], image pixels), ``keypoint_scores`` (Tensor[1, K]) and
        ``bboxes``; its metainfo names the ``keypoint_names`` and the ``skeleton``.
    """
    single = isinstance(inputs, str | os.PathLike | np.ndarray)
    images = [inputs] if single else list(inputs)
    meta = keypoint_metainfo(model)
    pipeline = _pipeline(model)
    packed = []
    for image in images:
        array = _read_image(image)
        height, width = array.shape[:2]
        results = dict(
            img=array, img_shape=(height, width), ori_shape=(height, width), img_id=0,
            bbox=np.array([[0, 0, width, height]], dtype=np.float32),
            bbox_score=np.ones(1, dtype=np.float32),
            keypoints=np.zeros((1, meta["num_keypoints"], 2), dtype=np.float32),
            keypoints_visible=np.zeros((1, meta["num_keypoints"]), dtype=np.float32),
            flip_indices=meta["flip_indices"],
        )  # fmt: skip
        packed.append(pipeline(results))
    samples = model.test_step(
        dict(inputs=[p["inputs"] for p in packed], data_samples=[p["data_samples"] for p in packed])
    )
    for sample in samples:
        sample.set_metainfo(dict(keypoint_names=meta["keypoint_names"], skeleton=meta["skeleton"]))
    return samples[0] if single else samples


def format_result(result: BaseDataElement, score_thr: float = 0.3) -> str:
    """One line ``instance keypoint  x y  score`` per keypoint scoring at least ``score_thr``."""
    names = result.metainfo.get("keypoint_names")
    pred = result.pred_instances
    lines = []
    for n, (points, scores) in enumerate(
        zip(pred.keypoints.tolist(), pred.keypoint_scores.tolist())
    ):
        for k, ((x, y), score) in enumerate(zip(points, scores)):
            if score >= score_thr:
                name = names[k] if names else str(k)
                lines.append(f"{n:<3} {name:<16} {x:8.1f} {y:8.1f}  {score:.3f}")
    return "\n".join(lines) if lines else f"no keypoint scores {score_thr} or more"


def show_result(
    image,
    result: BaseDataElement,
    *,
    out_file: str | os.PathLike | None = None,
    score_thr: float = 0.3,
) -> np.ndarray:
    """Draw the keypoints scoring at least ``score_thr`` and the skeleton links between them.

    Args:
        image: the image (file or uint8 RGB ndarray[H, W, 3]).
        result: from :func:`inference`.
        out_file: where to save the drawing (PNG or JPEG, by suffix).

    Returns:
        The drawing, uint8 RGB ndarray[H, W, 3].
    """
    from torchvision.io import write_jpeg, write_png
    from torchvision.utils import draw_keypoints

    picture = torch.from_numpy(np.ascontiguousarray(_read_image(image))).permute(2, 0, 1)
    pred = result.pred_instances
    skeleton: Sequence = result.metainfo.get("skeleton") or []
    keypoints = pred.keypoints.detach().cpu().float()
    visible = pred.keypoint_scores.detach().cpu() >= score_thr
    if len(keypoints):
        radius = max(1, min(picture.shape[1:]) // 64)
        picture = draw_keypoints(
            picture, keypoints, connectivity=[tuple(link) for link in skeleton],
            colors=(255, 64, 64), radius=radius, width=max(1, radius // 2), visibility=visible,
        )  # fmt: skip
    if out_file is not None:
        out_file = Path(out_file)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        writer = write_jpeg if out_file.suffix.lower() in (".jpg", ".jpeg") else write_png
        writer(picture, str(out_file))
    return picture.permute(1, 2, 0).numpy()
