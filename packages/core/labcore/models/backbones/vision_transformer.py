"""Vision Transformer (Dosovitskiy et al., 2021): a plain transformer encoder over
non-overlapping image patches, with a learned class token and position embedding.

torchvision's ``vit_b_16`` layout loads through
:func:`labcore.models.convert.convert_torchvision_classifier` (family ``'vit'``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from labcore.errors import ConfigError
from labcore.models.layers import DropPath, drop_path_rates, maybe_checkpoint
from labcore.registry import MODELS

ARCH_SETTINGS = {
    "tiny": dict(embed_dims=192, num_layers=12, num_heads=3, mlp_dims=768),
    "small": dict(embed_dims=384, num_layers=12, num_heads=6, mlp_dims=1536),
    "base": dict(embed_dims=768, num_layers=12, num_heads=12, mlp_dims=3072),
    "large": dict(embed_dims=1024, num_layers=24, num_heads=16, mlp_dims=4096),
}
"""Width, depth, heads and MLP width, by architecture name (DeiT tiny/small, ViT B/L)."""

OUT_TYPES = ("cls_token", "featmap", "avg_featmap")


class MultiheadSelfAttention(nn.Module):
    """Multi-head self-attention with one fused ``qkv`` projection.

    Input and output: Tensor[B, N, C]; ``qkv.weight`` stacks the query, key and value
    projections (Tensor[3C, C]), as torchvision's ``in_proj_weight`` does.
    """

    def __init__(
        self, embed_dims: int, *, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0
    ):
        super().__init__()
        if embed_dims % num_heads:
            raise ConfigError(
                f"embed_dims ({embed_dims}) must be divisible by num_heads ({num_heads})."
            )
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [B, heads, N, C / heads]
        dropout = self.attn_drop if self.training else 0.0
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout)
        return self.proj(x.transpose(1, 2).reshape(b, n, c))


class MLP(nn.Module):
    """Linear(C, mlp_dims), GELU, dropout, Linear(mlp_dims, C), dropout. Tensor[B, N, C]."""

    def __init__(self, embed_dims: int, mlp_dims: int, *, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, mlp_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp_dims, embed_dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class TransformerEncoderLayer(nn.Module):
    """Pre-norm transformer layer: x + attn(ln1(x)), then x + ffn(ln2(x)).

    Input and output: Tensor[B, N, C].
    """

    def __init__(
        self,
        embed_dims: int,
        *,
        num_heads: int,
        mlp_dims: int,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        qkv_bias: bool = True,
    ):
        super().__init__()
        self.ln1 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = MultiheadSelfAttention(
            embed_dims, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop_rate
        )
        self.ln2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.ffn = MLP(embed_dims, mlp_dims, drop=drop_rate)
        self.drop_path = DropPath(drop_path_rate)
        self.dropout = nn.Dropout(drop_rate)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.dropout(self.attn(self.ln1(x))))
        return x + self.drop_path(self.ffn(self.ln2(x)))


def resize_pos_embed(pos_embed: Tensor, src_grid: tuple[int, int], dst_grid: tuple[int, int],
                     num_extra_tokens: int) -> Tensor:  # fmt: skip
    """Bicubically resample the patch part of a position embedding to another grid.

    pos_embed: Tensor[1, extra + Hs * Ws, C] -> Tensor[1, extra + Hd * Wd, C]; the first
    ``num_extra_tokens`` entries (class token) are kept as they are.
    """
    if src_grid == dst_grid:
        return pos_embed
    extra, patches = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    c = pos_embed.shape[-1]
    patches = patches.reshape(1, *src_grid, c).permute(0, 3, 1, 2)
    patches = F.interpolate(patches, size=dst_grid, mode="bicubic", align_corners=False)
    return torch.cat([extra, patches.flatten(2).transpose(1, 2)], dim=1)


@MODELS.register_module()
class VisionTransformer(BaseModule):
    """ViT backbone returning the outputs of the layers in ``out_indices``.

    Args:
        arch: 'tiny', 'small', 'base', 'large', or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads``, ``mlp_dims``.
        img_size: image size the position embedding is made for; other sizes work by
            bicubic resampling of the embedding.
        patch_size: side of the square patches (stride of the patch embedding).
        out_indices: layers (0..num_layers-1, negative counts from the end) whose
            outputs are returned.
        drop_rate: dropout after the position embedding and in the MLPs.
        attn_drop_rate: dropout on the attention weights.
        drop_path_rate: stochastic depth of the last layer (rising linearly from 0).
        qkv_bias: bias in the query/key/value projection.
        with_cls_token: prepend a learned class token.
        out_type: 'cls_token' (Tensor[B, C, 1, 1], the class token after the final norm),
            'featmap' (patch tokens as Tensor[B, C, H / p, W / p]) or 'avg_featmap' (mean of
            the patch tokens, Tensor[B, C, 1, 1]).
        final_norm: apply the final LayerNorm ``ln1`` to the last layer's output.
        frozen_stages: 0 trains everything; k >= 1 freezes the patch and position
            embeddings, the class token and layers 0..k-1 (and ``ln1`` when k is
            num_layers).
        with_cp: recompute the layers' activations in backward (activation checkpointing).
        init_cfg: MMEngine initialisation config.

    Input Tensor[B, 3, H, W] with H, W multiples of ``patch_size``.
    """

    def __init__(
        self,
        *,
        arch: str | dict = "base",
        img_size: int = 224,
        patch_size: int = 16,
        in_channels: int = 3,
        out_indices: Sequence[int] = (-1,),
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        qkv_bias: bool = True,
        with_cls_token: bool = True,
        out_type: str = "cls_token",
        final_norm: bool = True,
        frozen_stages: int = 0,
        with_cp: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch not in ARCH_SETTINGS:
                raise ConfigError(
                    f"VisionTransformer arch '{arch}' is unknown; choose one of "
                    f"{sorted(ARCH_SETTINGS)} or pass a dict with embed_dims, num_layers, "
                    "num_heads and mlp_dims."
                )
            arch = ARCH_SETTINGS[arch]
        if set(arch) != {"embed_dims", "num_layers", "num_heads", "mlp_dims"}:
            raise ConfigError(
                "VisionTransformer arch dict needs exactly embed_dims, num_layers, num_heads "
                f"and mlp_dims, got {sorted(arch)}."
            )
        if out_type not in OUT_TYPES:
            raise ConfigError(
                f"VisionTransformer out_type must be one of {OUT_TYPES}, got '{out_type}'."
            )
        if out_type == "cls_token" and not with_cls_token:
            raise ConfigError("out_type='cls_token' needs with_cls_token=True.")
        if img_size % patch_size:
            raise ConfigError(f"img_size {img_size} is not a multiple of patch_size {patch_size}.")
        embed_dims, num_layers = arch["embed_dims"], arch["num_layers"]
        out_indices = tuple(i + num_layers if i < 0 else i for i in out_indices)
        if not out_indices or any(i not in range(num_layers) for i in out_indices):
            raise ConfigError(
                f"VisionTransformer out_indices must be layers in -{num_layers}..{num_layers - 1}."
            )
        if frozen_stages not in range(0, num_layers + 1):
            raise ConfigError(
                f"VisionTransformer frozen_stages must be in 0..{num_layers}, got {frozen_stages}."
            )
        self.frozen_stages = frozen_stages
        self.embed_dims = embed_dims
        self.patch_size = patch_size
        self.grid = (img_size // patch_size, img_size // patch_size)
        self.out_indices = out_indices
        self.out_type = out_type
        self.final_norm = final_norm
        self.with_cp = with_cp
        self.num_extra_tokens = int(with_cls_token)
        self.out_channels = tuple(embed_dims for _ in out_indices)

        self.patch_embed = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims)) if with_cls_token else None
        num_positions = self.num_extra_tokens + self.grid[0] * self.grid[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, num_positions, embed_dims))
        self.drop_after_pos = nn.Dropout(drop_rate)
        rates = drop_path_rates(drop_path_rate, num_layers)
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(
                embed_dims,
                num_heads=arch["num_heads"],
                mlp_dims=arch["mlp_dims"],
                drop_rate=drop_rate,
                attn_drop_rate=attn_drop_rate,
                drop_path_rate=rates[i],
                qkv_bias=qkv_bias,
            )
            for i in range(num_layers)
        )
        self.ln1 = nn.LayerNorm(embed_dims, eps=1e-6) if final_norm else nn.Identity()

        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        fan_in = in_channels * patch_size * patch_size
        nn.init.trunc_normal_(self.patch_embed.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.patch_embed.bias)
        for m in self.layers.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        if self.frozen_stages == 0:
            return
        frozen: list[nn.Module] = [self.patch_embed, self.drop_after_pos]
        frozen += list(self.layers[: self.frozen_stages])
        if self.frozen_stages == len(self.layers):
            frozen.append(self.ln1)
        for module in frozen:
            module.eval()
            for param in module.parameters():
                param.requires_grad_(False)
        self.pos_embed.requires_grad_(False)
        if self.cls_token is not None:
            self.cls_token.requires_grad_(False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Checkpoints made at another image size load too: a square-grid position
        embedding of another length is resampled to this model's grid."""
        key = prefix + "pos_embed"
        if key in state_dict and state_dict[key].shape != self.pos_embed.shape:
            num_patches = state_dict[key].shape[1] - self.num_extra_tokens
            side = math.isqrt(num_patches)
            if side * side == num_patches and state_dict[key].shape[2] == self.embed_dims:
                state_dict[key] = resize_pos_embed(
                    state_dict[key], (side, side), self.grid, self.num_extra_tokens
                )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def train(self, mode: bool = True) -> VisionTransformer:
        """Switch to ``mode``, keeping frozen layers in eval (no dropout, no drop path)."""
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """x: Tensor[B, 3, H, W] -> one map per out_index (shapes as in ``out_type``)."""
        b, _, h, w = x.shape
        if h % self.patch_size or w % self.patch_size:
            raise ValueError(
                f"input size {h}x{w} is not a multiple of the patch size {self.patch_size}"
            )
        grid = (h // self.patch_size, w // self.patch_size)
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, N, C]
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = x + resize_pos_embed(self.pos_embed, self.grid, grid, self.num_extra_tokens)
        x = self.drop_after_pos(x)
        outs = []
        for i, layer in enumerate(self.layers):
            x = maybe_checkpoint(layer, x, enabled=self.with_cp)
            if i == len(self.layers) - 1 and self.final_norm:
                x = self.ln1(x)
            if i in self.out_indices:
                outs.append(self._format_output(x, grid))
        return tuple(outs)

    def _format_output(self, x: Tensor, grid: tuple[int, int]) -> Tensor:
        if self.out_type == "cls_token":
            return x[:, 0, :, None, None]
        patches = x[:, self.num_extra_tokens :]  # [B, N, C]
        if self.out_type == "avg_featmap":
            return patches.mean(dim=1)[:, :, None, None]
        return patches.transpose(1, 2).reshape(x.shape[0], -1, *grid)
