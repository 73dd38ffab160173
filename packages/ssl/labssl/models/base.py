"""What every self-supervised model shares: the data flow around its ``loss``."""

from __future__ import annotations

import abc
from collections.abc import Sequence

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor, nn

from labssl.models.heads import build_module
from labssl.models.necks import last_pooled
from labssl.registry import MODELS


class SelfSupervisedModel(BaseModel, metaclass=abc.ABCMeta):
    """Base of the self-supervised models: a backbone to pretrain, plus whatever the
    method needs to train it (neck, head, momentum encoder), which a subclass builds.

    Inputs arrive from :class:`labssl.models.MultiViewDataPreprocessor`: while training,
    a list of views, each Tensor[B, 3, H, W]; for evaluation, one Tensor[B, 3, H, W].

    Modes of ``forward``:

    - ``'loss'``: ``self.loss(views, data_samples)``, a dict of losses;
    - ``'predict'``: the data samples with ``features`` (Tensor[C], the backbone's last
      map pooled), which the k-NN evaluation (:class:`labssl.evaluation.KNNAccuracy`)
      compares;
    - ``'tensor'``: those features as Tensor[B, C].

    Args:
        backbone: config or module (``type='ResNet'`` resolves in labcore); its weights
            are what pretraining produces, under the key prefix ``backbone.``.
        data_preprocessor: config or module; a config without ``type`` builds a
            :class:`MultiViewDataPreprocessor`.
        init_cfg: MMEngine weight-initialisation config.
    """

    def __init__(
        self,
        *,
        backbone: dict | nn.Module,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | list[dict] | None = None,
    ):
        if data_preprocessor is None:
            data_preprocessor = {}
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(
                {"type": "MultiViewDataPreprocessor", **data_preprocessor}
            )
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_module(backbone)

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """inputs Tensor[B, 3, H, W] -> the backbone's last map pooled, Tensor[B, C]."""
        return last_pooled(self.backbone(inputs))

    @abc.abstractmethod
    def loss(self, views: list[Tensor], data_samples=None) -> dict[str, Tensor]:
        """The method's losses on the augmented ``views`` of one batch."""

    def forward(
        self,
        inputs: Tensor | list[Tensor],
        data_samples: Sequence[BaseDataElement] | None = None,
        mode: str = "tensor",
    ):
        if mode == "loss":
            if isinstance(inputs, Tensor):
                raise ValueError(
                    f"{type(self).__name__} trains on several views of each image; give the "
                    "train pipeline a MultiView transform and PackMultiViewInputs."
                )
            return self.loss(inputs, data_samples)
        if not isinstance(inputs, Tensor):
            inputs = inputs[0]  # evaluation of a multi-view batch: its first view
        features = self.extract_feat(inputs)
        if mode == "tensor":
            return features
        if mode == "predict":
            if data_samples is None:
                data_samples = [BaseDataElement() for _ in range(features.shape[0])]
            for sample, feature in zip(data_samples, features):
                sample.features = feature.detach()
            return list(data_samples)
        raise ValueError(
            f"{type(self).__name__}.forward: mode is '{mode}'; use 'tensor', 'loss' or 'predict'"
        )


def concat_all_gather(tensor: Tensor) -> Tensor:
    """``tensor`` of every process, concatenated along dim 0 (itself when not
    distributed). No gradient flows through the gathered copies."""
    from mmengine.dist import all_gather, get_world_size

    if get_world_size() == 1:
        return tensor
    return torch.cat(all_gather(tensor.detach().contiguous()), dim=0)


def shuffle_batch(x: Tensor) -> tuple[Tensor, Tensor]:
    """MoCo's batch shuffle: this process's share of the samples of every process's ``x``
    (Tensor[B, ...]), in a random order (rank 0's permutation of the global batch), and
    the index that :func:`unshuffle_batch` undoes it with.

    With per-device BatchNorm, a network that encodes the shuffled batch normalises each
    sample with statistics of other samples than its own view saw in the other network. In
    one process the shuffle only reorders the batch, which matters when the network splits
    its BatchNorm statistics (``norm_cfg=dict(type='SplitBN', num_splits=G)``)."""
    from mmengine.dist import broadcast, get_rank, get_world_size

    world = get_world_size()
    everything = concat_all_gather(x)
    order = torch.randperm(everything.shape[0], device=x.device)
    if world > 1:
        broadcast(order, src=0)
    restore = order.argsort()
    mine = order.view(world, -1)[get_rank()]
    return everything[mine], restore


def unshuffle_batch(x: Tensor, restore: Tensor) -> Tensor:
    """The outputs ``x`` (Tensor[B, ...]) of a batch from :func:`shuffle_batch` back in the
    order of this process's original samples."""
    from mmengine.dist import get_rank, get_world_size

    everything = concat_all_gather(x)
    return everything[restore.view(get_world_size(), -1)[get_rank()]]
