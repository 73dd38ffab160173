"""The encoder-decoder segmentor: backbone, optional neck, decode head, auxiliary heads."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement, PixelData
from torch import Tensor, nn

from labcore.errors import ConfigError
from labseg.models.utils import build_module, resize
from labseg.registry import MODELS

INFERENCE_MODES = ("whole", "slide")


@MODELS.register_module()
class EncoderDecoder(BaseModel):
    """Backbone (+ neck) features -> decode head logits, upsampled to the image.

    Args:
        backbone: config or module, e.g. ``dict(type='ResNetV1c', depth=50, ...)``.
        decode_head: config or module of a decode head (``FCNHead``, ``ASPPHead``, ...).
        neck: optional config or module between backbone and heads.
        auxiliary_head: None, one head, or a list of heads trained alongside (their
            losses reported as ``aux.*`` / ``aux_1.*``; e.g. an FCN head on stage 3 with
            ``loss_weight=0.4``); unused at test time.
        test_cfg: how :meth:`predict` runs:

            - ``mode``: ``'whole'`` runs the full image at once; ``'slide'`` runs
              ``crop_size`` (h, w) windows every ``stride`` (h, w) pixels and averages
              the logits where windows overlap;
            - ``tta``: ``dict(scales=(0.5, 1.0, 1.5), flip=True)`` runs the image at each
              scale and, with ``flip``, also mirrored, and averages the logits.
        data_preprocessor: config of a :class:`SegDataPreprocessor`.
        train_cfg: unused, accepted for MMSegmentation-style configs.
        init_cfg: MMEngine initialisation config.

    Data samples carry ``gt_sem_seg`` (PixelData, LongTensor[1, H, W]) in training;
    :meth:`predict` sets ``seg_logits`` (Tensor[K, H0, W0]) and ``pred_sem_seg``
    (LongTensor[1, H0, W0]) at the image's original size (H0, W0) = ``ori_shape``.
    """

    def __init__(
        self,
        *,
        backbone: dict | nn.Module,
        decode_head: dict | nn.Module,
        neck: dict | nn.Module | None = None,
        auxiliary_head: dict | nn.Module | Sequence[dict | nn.Module] | None = None,
        test_cfg: dict | None = None,
        data_preprocessor: dict | nn.Module | None = None,
        train_cfg: dict | None = None,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_module(backbone)
        self.neck = build_module(neck)
        self.decode_head = build_module(decode_head)
        # one head is ``auxiliary_head``, a list ``auxiliary_head.i`` (MMSegmentation's keys)
        if isinstance(auxiliary_head, Sequence):
            self.auxiliary_head = nn.ModuleList(build_module(h) for h in auxiliary_head)
        else:
            self.auxiliary_head = build_module(auxiliary_head)
        self.num_classes = self.decode_head.num_classes
        self.align_corners = self.decode_head.align_corners
        self.test_cfg = self._check_test_cfg(dict(test_cfg or {}))

    @staticmethod
    def _check_test_cfg(cfg: dict) -> dict:
        cfg.setdefault("mode", "whole")
        if cfg["mode"] not in INFERENCE_MODES:
            raise ConfigError(
                f"model.test_cfg.mode '{cfg['mode']}' is unknown; choose one of {INFERENCE_MODES}."
            )
        if cfg["mode"] == "slide" and ("crop_size" not in cfg or "stride" not in cfg):
            raise ConfigError(
                "model.test_cfg mode='slide' needs crop_size=(h, w) and stride=(h, w), e.g. "
                "dict(mode='slide', crop_size=(512, 512), stride=(341, 341))."
            )
        tta = cfg.get("tta")
        if tta is not None and (not isinstance(tta, dict) or not set(tta) <= {"scales", "flip"}):
            raise ConfigError(
                f"model.test_cfg.tta must be dict(scales=(...), flip=bool), got {tta!r}."
            )
        return cfg

    # ---------------------------------------------------------------- features
    def extract_feat(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """Tensor[B, 3, H, W] -> the backbone's (or neck's) feature maps."""
        feats = self.backbone(inputs)
        return self.neck(feats) if self.neck is not None else feats

    def forward(
        self,
        inputs: Tensor,
        data_samples: list[BaseDataElement] | None = None,
        mode: str = "tensor",
    ):
        """``mode='loss'``: dict of losses; ``'predict'``: data samples with predictions;
        ``'tensor'``: decode-head logits Tensor[B, K, h, w] at the head's resolution."""
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.decode_head(self.extract_feat(inputs))
        raise ValueError(f"mode must be 'loss', 'predict' or 'tensor', got {mode!r}")

    # ---------------------------------------------------------------- training
    def loss(self, inputs: Tensor, data_samples: list[BaseDataElement]) -> dict[str, Tensor]:
        """Losses of the decode head (``decode.*``) and auxiliary heads (``aux.*``)."""
        labels = torch.stack([s.gt_sem_seg.data[0] for s in data_samples]).long()
        feats = self.extract_feat(inputs)
        losses = {f"decode.{k}": v for k, v in self.decode_head.loss(feats, labels).items()}
        heads = self.auxiliary_head
        heads = [] if heads is None else heads if isinstance(heads, nn.ModuleList) else [heads]
        for i, head in enumerate(heads):
            prefix = "aux" if i == 0 else f"aux_{i}"
            losses.update({f"{prefix}.{k}": v for k, v in head.loss(feats, labels).items()})
        return losses

    # ---------------------------------------------------------------- inference
    def whole_inference(self, inputs: Tensor) -> Tensor:
        """Tensor[B, 3, H, W] -> logits Tensor[B, K, H, W]."""
        return self.decode_head.predict(self.extract_feat(inputs), inputs.shape[-2:])

    def slide_inference(self, inputs: Tensor) -> Tensor:
        """Windows of ``crop_size`` every ``stride`` pixels (the last one flush with the
        border), logits averaged where they overlap: Tensor[B, 3, H, W] -> Tensor[B, K, H, W]."""
        crop_h, crop_w = self.test_cfg["crop_size"]
        stride_h, stride_w = self.test_cfg["stride"]
        batch, _, height, width = inputs.shape
        rows = max(height - crop_h + stride_h - 1, 0) // stride_h + 1
        cols = max(width - crop_w + stride_w - 1, 0) // stride_w + 1
        logits = inputs.new_zeros((batch, self.num_classes, height, width))
        counts = inputs.new_zeros((1, 1, height, width))
        for row in range(rows):
            for col in range(cols):
                y2 = min(row * stride_h + crop_h, height)
                x2 = min(col * stride_w + crop_w, width)
                y1, x1 = max(y2 - crop_h, 0), max(x2 - crop_w, 0)
                logits[:, :, y1:y2, x1:x2] += self.whole_inference(inputs[:, :, y1:y2, x1:x2])
                counts[:, :, y1:y2, x1:x2] += 1
        return logits / counts

    def inference(self, inputs: Tensor) -> Tensor:
        """Logits Tensor[B, K, H, W] of the batch, with test-time augmentation when
        ``test_cfg.tta`` is set (scales x flips, logits averaged at the input's size)."""
        run = self.slide_inference if self.test_cfg["mode"] == "slide" else self.whole_inference
        tta = self.test_cfg.get("tta")
        if not tta:
            return run(inputs)
        size = inputs.shape[-2:]
        total, count = None, 0
        for scale in tta.get("scales", (1.0,)):
            scaled_size = (round(size[0] * scale), round(size[1] * scale))
            scaled = resize(inputs, scaled_size, align_corners=self.align_corners)
            for flip in (False, True) if tta.get("flip", False) else (False,):
                x = scaled.flip(-1) if flip else scaled
                out = run(x)
                out = out.flip(-1) if flip else out
                out = resize(out, size, align_corners=self.align_corners)
                total = out if total is None else total + out
                count += 1
        return total / count

    def predict(
        self, inputs: Tensor, data_samples: list[BaseDataElement] | None = None
    ) -> list[BaseDataElement]:
        """Predictions at each image's original size (see the class docstring)."""
        logits = self.inference(inputs)
        if data_samples is None:
            data_samples = [BaseDataElement() for _ in range(inputs.shape[0])]
        for logit, sample in zip(logits, data_samples):
            height, width = sample.metainfo.get("img_shape", inputs.shape[-2:])
            logit = logit[:, :height, :width]  # drop the batch padding
            original = sample.metainfo.get("ori_shape", (height, width))
            logit = resize(logit[None], original, align_corners=self.align_corners)[0]
            sample.seg_logits = PixelData(data=logit)
            sample.pred_sem_seg = PixelData(data=logit.argmax(dim=0, keepdim=True))
        return data_samples
