"""Using a trained classifier: build it from a config and checkpoint, classify images.

model = init_model('labcls::resnet/resnet18_tiny_shapes.py', 'epoch_12.pth')
result = inference(model, 'image.jpg', topk=3)
result['topk']  # [('circle', 0.97), ('ellipse', 0.02), ('hexagon', 0.01)]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement
from torch import nn

from labcls.datasets.pipeline import build_pipeline
from labcls.registry import MODELS
from labcore.engine.checkpoint import load_checkpoint_file
from labcore.engine.config import load_config
from labcore.errors import CheckpointError, LabError


def load_state_dict_checked(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, strict: bool = False
) -> tuple[list[str], list[str]]:
    """Load ``state_dict`` into ``model`` and report keys that do not match, by name.

    A ``module.`` prefix (from DDP) is removed first. Shape mismatches always raise.

    Returns:
        (missing keys, unexpected keys).

    Raises:
        CheckpointError: ``strict`` and some keys are missing or unexpected, or a tensor's
            shape differs from the model's; the message lists the keys.
    """
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    own = model.state_dict()
    wrong_shape = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in state_dict.items()
        if k in own and hasattr(v, "shape") and tuple(v.shape) != tuple(own[k].shape)
    ]
    if wrong_shape:
        raise CheckpointError(
            "The checkpoint does not fit the model; tensors of different shapes: "
            + "; ".join(wrong_shape)
            + ". Check that the config matches the checkpoint (e.g. num_classes)."
        )
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        message = (
            f"The checkpoint does not match the model: missing keys {list(missing)}; "
            f"unexpected keys {list(unexpected)}."
        )
        if strict:
            raise CheckpointError(message + " Use the config the checkpoint was trained with.")
        print_log(message, logger="current", level=30)
    return list(missing), list(unexpected)


def init_model(
    config: str | os.PathLike | Config,
    checkpoint: str | os.PathLike | None = None,
    device: str = "cpu",
    *,
    cfg_options: dict | None = None,
    strict: bool = False,
) -> nn.Module:
    """Build a classifier from a config, load its checkpoint, and put it in eval mode.

    Args:
        config: a config file, a ``labcls::...`` name or a loaded Config.
        checkpoint: a ``.pth`` checkpoint (MMEngine's, or a bare state dict) or a
            ``.safetensors`` file; None keeps the initial weights.
        device: where the model runs.
        cfg_options: ``{"dotted.key": value}`` overrides of the config.
        strict: raise instead of warning when keys are missing or unexpected.

    Returns:
        The model, with ``model.cfg`` (the config) and ``model.dataset_meta`` (from the
        checkpoint's meta or the config's test dataset; ``{}`` when unknown).
    """
    cfg = config if isinstance(config, Config) else load_config(config, cfg_options)
    if isinstance(config, Config) and cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get("default_scope", "labcls"))
    model_cfg = cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else dict(cfg.model)
    if cfg.get("data_preprocessor") is not None:
        model_cfg.setdefault("data_preprocessor", dict(cfg.data_preprocessor))
    model = MODELS.build(model_cfg)
    dataset_meta: dict = {}
    if checkpoint is not None:
        state, dataset_meta = _read_checkpoint(Path(checkpoint))
        load_state_dict_checked(model, state, strict=strict)
    if not dataset_meta.get("classes"):
        dataset_meta = _config_dataset_meta(cfg)
    model.cfg = cfg
    model.dataset_meta = dataset_meta
    return model.to(device).eval()


def _read_checkpoint(path: Path) -> tuple[dict, dict]:
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise CheckpointError(f"Checkpoint '{path}' does not exist.")
        from safetensors.torch import load_file

        return load_file(str(path)), {}
    content = load_checkpoint_file(path, map_location="cpu")
    if not isinstance(content, Mapping):
        raise CheckpointError(f"Checkpoint '{path}' holds a {type(content).__name__}, not a dict.")
    state = content.get("state_dict", content)
    meta = content.get("meta") or {}
    dataset_meta = dict(meta.get("dataset_meta") or {}) if isinstance(meta, Mapping) else {}
    return state, dataset_meta


def _config_dataset_meta(cfg: Config) -> dict:
    """Class names of the config's test dataset, read without loading its images."""
    for key in ("test_dataloader", "val_dataloader"):
        dataset = (cfg.get(key) or {}).get("dataset") or {}
        classes = dataset.get("classes") or (dataset.get("metainfo") or {}).get("classes")
        if classes is None and dataset.get("data_root"):
            path = Path(dataset["data_root"]) / "classes.txt"
            if path.is_file():
                classes = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if classes:
            return dict(classes=tuple(classes))
    return {}


def _test_pipeline(model: nn.Module, from_array: bool) -> Compose:
    cfg = getattr(model, "cfg", None)
    dataset = ((cfg.get("test_dataloader") or {}).get("dataset") or {}) if cfg else {}
    pipeline = list(dataset.get("pipeline") or [dict(type="PackClsInputs")])
    if from_array:
        pipeline = [t for t in pipeline if t.get("type") != "LoadImageFromFile"]
    elif not pipeline or pipeline[0].get("type") != "LoadImageFromFile":
        pipeline.insert(0, dict(type="LoadImageFromFile"))
    return Compose(build_pipeline(pipeline))


@torch.no_grad()
def inference(model: nn.Module, image: str | os.PathLike | np.ndarray, *, topk: int = 5) -> dict:
    """Classify one image.

    Args:
        model: from :func:`init_model`.
        image: an image file, or uint8 ndarray[H, W, 3] in RGB order.
        topk: how many of the best classes to return.

    Returns:
        dict with ``pred_label`` (int), ``pred_score`` (float), ``pred_class`` (str, or
        the label as str when the classes are unknown), ``pred_scores`` (ndarray[K]) and
        ``topk`` (list of (class name, score), best first).
    """
    from_array = isinstance(image, np.ndarray)
    if from_array:
        if image.ndim != 3 or image.shape[2] != 3:
            raise LabError(f"inference expects an RGB image ndarray[H, W, 3], got {image.shape}.")
        results = dict(img=image, img_shape=image.shape[:2], ori_shape=image.shape[:2])
    else:
        results = dict(img_path=str(image))
    packed = _test_pipeline(model, from_array)(results)
    batch = dict(inputs=[packed["inputs"]], data_samples=[packed["data_samples"]])
    sample: BaseDataElement = model.test_step(batch)[0]
    scores = sample.pred_score.float().cpu()
    names = list((getattr(model, "dataset_meta", None) or {}).get("classes") or [])
    if len(names) != scores.numel():
        names = [str(i) for i in range(scores.numel())]
    top = scores.topk(min(topk, scores.numel()))
    label = int(top.indices[0])
    return dict(
        pred_label=label,
        pred_score=float(top.values[0]),
        pred_class=names[label],
        pred_scores=scores.numpy(),
        topk=[(names[int(i)], float(s)) for s, i in zip(top.values, top.indices)],
    )


def format_result(result: dict) -> str:
    """The top classes of an :func:`inference` result, one ``class  score`` line each."""
    width = max(len(name) for name, _ in result["topk"])
    return "\n".join(f"{name:<{width}}  {score:.4f}" for name, score in result["topk"])


def show_result(
    image: str | os.PathLike | np.ndarray,
    result: dict,
    *,
    out_file: str | os.PathLike | None = None,
    show: bool = False,
) -> np.ndarray:
    """Draw the top classes of ``result`` above the image.

    Args:
        image: the classified image (file or uint8 RGB ndarray[H, W, 3]).
        result: from :func:`inference`.
        out_file: where to save the drawing (any image format PIL writes).
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
    lines = [f"{name}: {score:.3f}" for name, score in result["topk"]]
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
