"""The linear probe: labcls's ImageClassifier on a frozen backbone."""

from __future__ import annotations

from collections.abc import Sequence

from mmengine.structures import BaseDataElement
from torch import Tensor, nn

from labcls.models import ImageClassifier
from labssl.models.necks import last_pooled
from labssl.registry import MODELS


@MODELS.register_module()
class LinearProbeClassifier(ImageClassifier):
    """labcls's ImageClassifier whose backbone is frozen: its parameters take no
    gradient and it stays in eval mode while the head trains (BatchNorm uses its
    running statistics, as the linear evaluation of MoCo, SimCLR and BYOL does).

    With ``feature_norm=C`` the pooled features (Tensor[B, C]) pass a BatchNorm without
    affine parameters before the head, as in MAE's linear probe: the classifier then
    sees standardised features whatever their scale, so one learning rate suits every
    pretraining method and the random initialisation alike. The BatchNorm is part of
    the linear classifier (it folds into its weights).

    Prediction also stores each image's pooled feature (before ``feature_norm``) as
    ``features`` (Tensor[C]) in its data sample, so the k-NN evaluation
    (:class:`labssl.evaluation.KNNAccuracy`) runs in the same pass. Other arguments are
    ImageClassifier's; the backbone usually starts from pretraining through
    ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
    """

    def __init__(self, *, feature_norm: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.feature_norm = (
            nn.BatchNorm1d(feature_norm, affine=False) if feature_norm is not None else None
        )
        for param in self.backbone.parameters():
            param.requires_grad_(False)
        self.backbone.eval()

    def train(self, mode: bool = True) -> LinearProbeClassifier:
        super().train(mode)
        self.backbone.eval()
        return self

    def pooled_features(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """inputs Tensor[B, 3, H, W] -> the frozen backbone's features after the neck."""
        return ImageClassifier.extract_feat(self, inputs)

    def extract_feat(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """The features the linear head classifies (after ``feature_norm``, if any)."""
        feats = self.pooled_features(inputs)
        if self.feature_norm is None:
            return feats
        return tuple(self.feature_norm(last_pooled(f)) for f in feats)

    def forward(
        self,
        inputs: Tensor,
        data_samples: Sequence[BaseDataElement] | None = None,
        mode: str = "tensor",
    ):
        if mode != "predict":
            return super().forward(inputs, data_samples, mode)
        feats = self.pooled_features(inputs)
        head_feats = feats
        if self.feature_norm is not None:
            head_feats = tuple(self.feature_norm(last_pooled(f)) for f in feats)
        samples = self.head.predict(head_feats, data_samples)
        for sample, feature in zip(samples, last_pooled(feats)):
            sample.features = feature.detach()
        return samples
