"""What every decode head shares: choosing its inputs, the classifier, the losses.

A head's own layers turn the backbone (or neck) features into one map of ``channels``
features (:meth:`BaseDecodeHead.forward_features`); the base class adds dropout and the
1x1 classifier ``conv_seg``, scales the logits to the label maps for the losses, and to
the input image for prediction.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from labcore.errors import ConfigError
from labseg.models.losses import CrossEntropyLoss
from labseg.models.utils import build_module, resize
from labseg.registry import TASK_UTILS

INPUT_TRANSFORMS = (None, "resize_concat", "multiple_select")


class BaseDecodeHead(nn.Module, metaclass=abc.ABCMeta):
    """Base of the decode heads.

    Args:
        in_channels: channels of the selected input(s): an int for one input, a list
            for ``resize_concat`` / ``multiple_select``.
        channels: channels of the map the head's layers produce.
        num_classes: classes the classifier scores.
        in_index: which of the backbone's outputs the head reads (int or list).
        input_transform: None reads ``inputs[in_index]``; ``'multiple_select'`` the list
            of ``inputs[i]``; ``'resize_concat'`` those resized to the first and
            concatenated on channels.
        dropout_ratio: dropout before the classifier.
        norm_cfg, act_cfg: of the head's conv blocks (e.g. ``dict(type='SyncBN')``).
        align_corners: of every bilinear resize of the head.
        loss_decode: a loss config or module, or a list of them (summed); None is
            :class:`CrossEntropyLoss` with its defaults.
        sampler: a pixel sampler config (``dict(type='OHEMPixelSampler', ...)``) or None.
        ignore_index: label value that no loss counts.

    Subclasses build their layers after ``super().__init__`` and define
    ``forward_features(inputs) -> Tensor[B, channels, h, w]``.
    """

    def __init__(
        self,
        *,
        in_channels: int | Sequence[int],
        channels: int,
        num_classes: int,
        in_index: int | Sequence[int] = -1,
        input_transform: str | None = None,
        dropout_ratio: float = 0.1,
        norm_cfg: dict | None = None,
        act_cfg: dict | None = None,
        align_corners: bool = False,
        loss_decode: dict | nn.Module | Sequence[dict | nn.Module] | None = None,
        sampler: dict | None = None,
        ignore_index: int = 255,
    ):
        super().__init__()
        if input_transform not in INPUT_TRANSFORMS:
            raise ConfigError(
                f"input_transform '{input_transform}' is unknown; choose one of {INPUT_TRANSFORMS}."
            )
        several = input_transform is not None
        if several != isinstance(in_index, Sequence) or several != isinstance(
            in_channels, Sequence
        ):
            raise ConfigError(
                f"{type(self).__name__}: with input_transform={input_transform!r}, in_index "
                f"and in_channels must both be {'lists' if several else 'ints'}; got "
                f"in_index={in_index!r}, in_channels={in_channels!r}."
            )
        if several and len(in_index) != len(in_channels):
            raise ConfigError(
                f"{type(self).__name__}: in_index {list(in_index)} and in_channels "
                f"{list(in_channels)} must have the same length."
            )
        if input_transform == "resize_concat":
            in_channels = sum(in_channels)
        self.in_channels = list(in_channels) if isinstance(in_channels, Sequence) else in_channels
        self.in_index = list(in_index) if several else in_index
        self.input_transform = input_transform
        self.channels = channels
        self.num_classes = num_classes
        self.norm_cfg = norm_cfg
        self.act_cfg = dict(type="ReLU") if act_cfg is None else act_cfg
        self.align_corners = align_corners
        self.ignore_index = ignore_index
        if loss_decode is None:
            loss_decode = CrossEntropyLoss()
        losses = loss_decode if isinstance(loss_decode, Sequence) else [loss_decode]
        self.losses = nn.ModuleList(build_module(loss) for loss in losses)
        self.sampler = TASK_UTILS.build(sampler) if isinstance(sampler, dict) else sampler
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)
        nn.init.normal_(self.conv_seg.weight, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)

    def select_inputs(self, inputs: Sequence[Tensor]) -> Tensor | list[Tensor]:
        """The input(s) this head reads from the backbone's outputs (see ``input_transform``)."""
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == "multiple_select":
            return selected
        size = selected[0].shape[-2:]
        resized = [resize(x, size, align_corners=self.align_corners) for x in selected]
        return torch.cat(resized, dim=1)

    @abc.abstractmethod
    def forward_features(self, inputs: Sequence[Tensor]) -> Tensor:
        """The head's features before the classifier, Tensor[B, channels, H, W]."""

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Backbone outputs -> logits Tensor[B, num_classes, h, w] at the head's resolution."""
        return self.conv_seg(self.dropout(self.forward_features(inputs)))

    def loss(self, inputs: Sequence[Tensor], labels: Tensor) -> dict[str, Tensor]:
        """Losses of the head on labels LongTensor[B, H, W] (logits resized to H x W),
        plus ``acc_seg``, the pixel accuracy (not a loss)."""
        logits = resize(self(inputs), labels.shape[-2:], align_corners=self.align_corners)
        weight = None
        if self.sampler is not None:
            weight = self.sampler.sample(logits, labels, ignore_index=self.ignore_index)
        losses: dict[str, Tensor] = {}
        for loss in self.losses:
            value = loss(logits, labels, weight=weight, ignore_index=self.ignore_index)
            losses[loss.loss_name] = losses.get(loss.loss_name, 0) + value
        with torch.no_grad():
            valid = labels != self.ignore_index
            # max(...).indices: argmax over a non-innermost dim is several times slower on CPU
            correct = (logits.max(dim=1).indices == labels) & valid
            losses["acc_seg"] = correct.sum() / valid.sum().clamp(min=1)
        return losses

    def predict(self, inputs: Sequence[Tensor], size: tuple[int, int]) -> Tensor:
        """Logits ``Tensor[B, num_classes, *size]`` (resized to the input image)."""
        return resize(self(inputs), size, align_corners=self.align_corners)
