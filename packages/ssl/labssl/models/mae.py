"""MAE (He et al., 2022, "Masked Autoencoders Are Scalable Vision Learners"): a ViT
encoder sees a random 25% of the patches; a light decoder reconstructs the rest, scored
by the mean squared error on each removed patch's normalised pixels."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from labcore.models.backbones.vision_transformer import (
    TransformerEncoderLayer,
    VisionTransformer,
)
from labssl.models.base import SelfSupervisedModel
from labssl.models.heads import build_module
from labssl.models.losses import mae_pixel_loss, patchify
from labssl.registry import MODELS


def sincos_pos_embed(embed_dims: int, grid: tuple[int, int], *, cls_token: bool) -> Tensor:
    """MAE's fixed 2-D sine-cosine position embedding, Tensor[1, (1 +) H * W, C]: half
    the channels encode the row, half the column, each as sin and cos of the position
    times 1 / 10000^(2i / (C / 2)); the class token's entry is zero."""
    if embed_dims % 4:
        raise ValueError(f"a 2-D sine-cosine embedding needs embed_dims % 4 == 0, got {embed_dims}")
    h, w = grid
    quarter = embed_dims // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    parts = []
    for position in (cols.reshape(-1), rows.reshape(-1)):
        angle = position[:, None] * omega[None, :]
        parts += [angle.sin(), angle.cos()]
    embed = torch.cat(parts, dim=1).float()[None]  # [1, H * W, C]
    if cls_token:
        embed = torch.cat([torch.zeros(1, 1, embed_dims), embed], dim=1)
    return embed


@MODELS.register_module()
class MAEViT(VisionTransformer):
    """labcore's VisionTransformer with MAE's random masking and fixed sine-cosine
    position embedding. Its weights load into a plain ``VisionTransformer`` (same keys).

    ``forward`` is the plain ViT (for evaluation and the k-NN features);
    :meth:`forward_masked` is the pretraining encoder.

    Args:
        mask_ratio: the fraction of patches removed (0.75).
        **kwargs: :class:`labcore.models.VisionTransformer` arguments.
    """

    def __init__(self, *, mask_ratio: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f"MAEViT mask_ratio must lie in [0, 1), got {mask_ratio}")
        self.mask_ratio = mask_ratio
        self.pos_embed.data.copy_(
            sincos_pos_embed(self.embed_dims, self.grid, cls_token=self.cls_token is not None)
        )
        self.pos_embed.requires_grad_(False)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=0.02)

    def random_masking(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Keep a random ``1 - mask_ratio`` of each image's patches.

        x: Tensor[B, N, C] -> (kept Tensor[B, N_keep, C], mask Tensor[B, N] with 1 for
        a removed patch, ids_restore Tensor[B, N]: the position of each original patch in
        the shuffled order, which undoes the shuffle).
        """
        b, n, c = x.shape
        keep = int(n * (1 - self.mask_ratio))
        noise = torch.rand(b, n, device=x.device)
        ids_shuffle = noise.argsort(dim=1)
        ids_restore = ids_shuffle.argsort(dim=1)
        ids_keep = ids_shuffle[:, :keep]
        kept = x.gather(1, ids_keep[:, :, None].expand(-1, -1, c))
        mask = torch.ones(b, n, device=x.device)
        mask[:, :keep] = 0
        mask = mask.gather(1, ids_restore)
        return kept, mask, ids_restore

    def forward_masked(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """images Tensor[B, 3, H, W] (the pretraining size) -> (latent Tensor[B, 1 +
        N_keep, C] after the final norm, class token first; mask; ids_restore)."""
        x = self.patch_embed(images).flatten(2).transpose(1, 2)  # [B, N, C]
        extra = self.num_extra_tokens
        x = x + self.pos_embed[:, extra:]
        x, mask, ids_restore = self.random_masking(x)
        if self.cls_token is not None:
            cls = self.cls_token + self.pos_embed[:, :1]
            x = torch.cat([cls.expand(x.shape[0], -1, -1), x], dim=1)
        for layer in self.layers:
            x = layer(x)
        return self.ln1(x), mask, ids_restore


@MODELS.register_module()
class MAEPretrainDecoder(nn.Module):
    """MAE's light decoder: the encoder's tokens projected to ``decoder_dims``, mask
    tokens put back where patches were removed, a fixed sine-cosine position embedding,
    ``num_layers`` transformer layers, and a linear prediction of each patch's pixels.

    Args:
        num_patches: N, patches per image; ``patch_size``: p; ``in_channels``: C.
        embed_dims: the encoder's width.
        decoder_dims, num_layers, num_heads, mlp_ratio: the decoder (512, 8, 16, 4).

    ``forward(latent Tensor[B, 1 + N_keep, E], ids_restore Tensor[B, N])`` ->
    Tensor[B, N, p * p * C].
    """

    def __init__(
        self,
        *,
        num_patches: int,
        patch_size: int,
        in_channels: int = 3,
        embed_dims: int = 768,
        decoder_dims: int = 512,
        num_layers: int = 8,
        num_heads: int = 16,
        mlp_ratio: float = 4.0,
    ):
        super().__init__()
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise ValueError(f"MAEPretrainDecoder needs a square grid, got {num_patches} patches")
        self.embed = nn.Linear(embed_dims, decoder_dims)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dims))
        self.register_buffer(
            "pos_embed", sincos_pos_embed(decoder_dims, (side, side), cls_token=True)
        )
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(
                decoder_dims, num_heads=num_heads, mlp_dims=int(decoder_dims * mlp_ratio)
            )
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(decoder_dims, eps=1e-6)
        self.predict = nn.Linear(decoder_dims, patch_size * patch_size * in_channels)
        nn.init.normal_(self.mask_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, latent: Tensor, ids_restore: Tensor) -> Tensor:
        x = self.embed(latent)
        b, n = ids_restore.shape
        masked = self.mask_token.expand(b, n + 1 - x.shape[1], -1)
        patches = torch.cat([x[:, 1:], masked], dim=1)  # shuffled order
        patches = patches.gather(1, ids_restore[:, :, None].expand(-1, -1, x.shape[2]))
        x = torch.cat([x[:, :1], patches], dim=1) + self.pos_embed
        for layer in self.layers:
            x = layer(x)
        return self.predict(self.norm(x))[:, 1:]


@MODELS.register_module()
class MAE(SelfSupervisedModel):
    """MAE: ``backbone.forward_masked`` (an :class:`MAEViT`) encodes the visible
    patches, ``neck`` (an :class:`MAEPretrainDecoder`) reconstructs every patch, and the
    loss is :func:`labssl.models.losses.mae_pixel_loss` on the removed ones.

    Args:
        backbone: an ``MAEViT`` config or module.
        neck: an ``MAEPretrainDecoder`` config or module.
        norm_pix: normalise each target patch by its mean and variance.
        data_preprocessor, init_cfg: as in :class:`SelfSupervisedModel`. The loss
            compares against the preprocessed (normalised) image, as MAE does.
    """

    def __init__(
        self,
        *,
        backbone: dict | nn.Module,
        neck: dict | nn.Module,
        norm_pix: bool = True,
        data_preprocessor: dict | nn.Module | None = None,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(backbone=backbone, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(self.backbone, MAEViT):
            raise TypeError(f"MAE needs an MAEViT backbone, got {type(self.backbone).__name__}")
        self.neck = build_module(neck)
        self.norm_pix = norm_pix

    def loss(self, views: list[Tensor], data_samples=None) -> dict[str, Tensor]:
        """views: one (or more; the first is used) Tensor[B, 3, H, W] -> ``{'loss': ...}``."""
        images = views[0]
        latent, mask, ids_restore = self.backbone.forward_masked(images)
        prediction = self.neck(latent, ids_restore)
        target = patchify(images, self.backbone.patch_size)
        return {"loss": mae_pixel_loss(prediction, target, mask, norm_pix=self.norm_pix)}
