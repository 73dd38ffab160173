"""The Vision Transformer's classification head."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from labcls.models.heads.cls_head import ClsHead
from labcls.registry import MODELS


@MODELS.register_module()
class VisionTransformerClsHead(ClsHead):
    """The ViT head: an optional ``Linear -> Tanh`` pre-logits layer, then ``Linear``.

    Parameters are ``layers.pre_logits.*`` (when ``hidden_dim`` is set) and
    ``layers.head.*``, in the order of torchvision's ``heads`` of VisionTransformer.

    Args:
        num_classes: K.
        in_channels: C, the width of the class token.
        hidden_dim: width of the pre-logits layer (the ImageNet-21k pre-training head);
            None for the plain linear head used when fine-tuning.
        loss, topk, init_cfg: see :class:`ClsHead`.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int,
        loss: dict | nn.Module,
        hidden_dim: int | None = None,
        topk: tuple[int, ...] = (1,),
        init_cfg: dict | list[dict] | None = None,
    ):
        if init_cfg is None:
            init_cfg = dict(type="Constant", layer="Linear", val=0)
        super().__init__(loss=loss, topk=topk, init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.hidden_dim = hidden_dim
        layers = OrderedDict()
        if hidden_dim is not None:
            layers["pre_logits"] = nn.Linear(in_channels, hidden_dim)
            layers["act"] = nn.Tanh()
        layers["head"] = nn.Linear(hidden_dim or in_channels, num_classes)
        self.layers = nn.Sequential(layers)

    @staticmethod
    def class_token(feat: torch.Tensor | tuple | list) -> torch.Tensor:
        """The class token, Tensor[B, C], from a ViT output.

        Accepts Tensor[B, C] or Tensor[B, C, 1, 1] (the class token itself, as labcore's
        VisionTransformer returns it with ``out_type='cls_token'``), Tensor[B, N, C] (the
        token sequence, class token first) or a pair (patch tokens, class token).
        """
        if isinstance(feat, (tuple, list)):
            feat = feat[-1]
        if feat.dim() == 4 and feat.shape[-2:] == (1, 1):
            feat = feat.flatten(1)
        elif feat.dim() == 3:
            feat = feat[:, 0]
        if feat.dim() != 2:
            raise ValueError(
                f"VisionTransformerClsHead expects the class token Tensor[B, C] or the token "
                f"sequence Tensor[B, N, C], got shape {tuple(feat.shape)}; set the backbone "
                f"to output its class token."
            )
        return feat

    def forward(self, feats: tuple) -> torch.Tensor:
        """feats: tuple whose last item holds the class token -> logits Tensor[B, K]."""
        return self.layers(self.class_token(feats[-1]))
