"""Mix Transformer (MiT, Xie et al., 2021), the hierarchical encoder of SegFormer.

Four stages; each starts with an overlapping patch embedding (a strided conv, 7x7 stride
4 then 3x3 stride 2) and stacks transformer blocks whose self-attention shortens the keys
and values by a strided conv of ``sr_ratio`` (efficient self-attention), and whose
feed-forward network mixes positions with a 3x3 depthwise conv (Mix-FFN, no positional
embedding). Module names follow MMSegmentation's ``MixVisionTransformer`` with the
attention as ``nn.MultiheadAttention`` (``attn.attn.in_proj_weight``).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from mmengine.model import BaseModule
from torch import Tensor, nn

from labcore.errors import ConfigError
from labcore.models.layers import DropPath, drop_path_rates, maybe_checkpoint
from labcore.registry import MODELS

MIT_ARCHS: dict[str, dict] = {
    "b0": dict(embed_dims=32, num_layers=(2, 2, 2, 2)),
    "b1": dict(embed_dims=64, num_layers=(2, 2, 2, 2)),
    "b2": dict(embed_dims=64, num_layers=(3, 4, 6, 3)),
    "b3": dict(embed_dims=64, num_layers=(3, 4, 18, 3)),
    "b4": dict(embed_dims=64, num_layers=(3, 8, 27, 3)),
    "b5": dict(embed_dims=64, num_layers=(3, 6, 40, 3)),
}
"""Width of the first stage and blocks per stage of MiT-B0 .. B5 (heads 1, 2, 5, 8)."""


def nlc_to_nchw(x: Tensor, hw: tuple[int, int]) -> Tensor:
    """Tensor[B, H*W, C] -> Tensor[B, C, H, W]."""
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], *hw)


def nchw_to_nlc(x: Tensor) -> Tensor:
    """Tensor[B, C, H, W] -> Tensor[B, H*W, C]."""
    return x.flatten(2).transpose(1, 2)


class OverlapPatchEmbed(nn.Module):
    """Strided conv with padding ``kernel_size // 2`` (overlapping patches), then LayerNorm.

    Input ``Tensor[B, C_in, H, W]``; output ``(Tensor[B, H' * W', C], (H', W'))`` with
    ``H' = ceil(H / stride)``.
    """

    def __init__(self, in_channels: int, embed_dims: int, *, kernel_size: int, stride: int):
        super().__init__()
        self.projection = nn.Conv2d(
            in_channels, embed_dims, kernel_size, stride=stride, padding=kernel_size // 2
        )
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        x = self.projection(x)
        hw = (x.shape[2], x.shape[3])
        return self.norm(nchw_to_nlc(x)), hw


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys and values come from the map shrunk by a
    ``sr_ratio`` x ``sr_ratio`` strided conv (and LayerNorm): cost O(N^2 / sr_ratio^2).

    Input Tensor[B, N, C] with N = H * W; output Tensor[B, N, C] (without the residual).
    """

    def __init__(
        self, embed_dims: int, num_heads: int, *, sr_ratio: int, qkv_bias: bool, attn_drop: float
    ):
        super().__init__()
        self.attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=attn_drop, bias=qkv_bias, batch_first=True
        )
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, sr_ratio, stride=sr_ratio)
            self.norm = nn.LayerNorm(embed_dims, eps=1e-6)

    def forward(self, x: Tensor, hw: tuple[int, int]) -> Tensor:
        kv = x
        if self.sr_ratio > 1:
            kv = self.norm(nchw_to_nlc(self.sr(nlc_to_nchw(x, hw))))
        return self.attn(x, kv, kv, need_weights=False)[0]


class MixFFN(nn.Module):
    """1x1 conv up, 3x3 depthwise conv, GELU, 1x1 conv down (on the map).

    Input Tensor[B, N, C]; output Tensor[B, N, C] (without the residual).
    """

    def __init__(self, embed_dims: int, hidden_dims: int, *, drop: float):
        super().__init__()
        self.fc1 = nn.Conv2d(embed_dims, hidden_dims, 1)
        self.pe_conv = nn.Conv2d(hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(hidden_dims, embed_dims, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor, hw: tuple[int, int]) -> Tensor:
        x = self.act(self.pe_conv(self.fc1(nlc_to_nchw(x, hw))))
        x = self.drop(self.fc2(self.drop(x)))
        return nchw_to_nlc(x)


class MixTransformerBlock(nn.Module):
    """Pre-norm block: x + attn(norm1(x)), then x + ffn(norm2(x)), with stochastic depth.

    Input and output Tensor[B, H*W, C].
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        *,
        mlp_ratio: float,
        sr_ratio: int,
        qkv_bias: bool,
        drop: float,
        attn_drop: float,
        drop_path: float,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = EfficientSelfAttention(
            embed_dims, num_heads, sr_ratio=sr_ratio, qkv_bias=qkv_bias, attn_drop=attn_drop
        )
        self.norm2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.ffn = MixFFN(embed_dims, int(embed_dims * mlp_ratio), drop=drop)
        self.drop_path = DropPath(drop_path)
        self.proj_drop = nn.Dropout(drop)

    def forward(self, x: Tensor, hw: tuple[int, int]) -> Tensor:
        x = x + self.drop_path(self.proj_drop(self.attn(self.norm1(x), hw)))
        return x + self.drop_path(self.ffn(self.norm2(x), hw))


@MODELS.register_module()
class MixVisionTransformer(BaseModule):
    """MiT encoder returning the maps of the stages in ``out_indices``.

    Args:
        arch: 'b0' .. 'b5' sets ``embed_dims`` and ``num_layers`` (see :data:`MIT_ARCHS`);
            None uses the two arguments as given.
        in_channels: channels of the input image.
        embed_dims: channels of stage 0; stage i has ``embed_dims * num_heads[i]``.
        num_layers: transformer blocks per stage.
        num_heads: attention heads per stage.
        patch_sizes, strides: kernel and stride of each stage's patch embedding.
        sr_ratios: key/value reduction of each stage's attention.
        out_indices: stages (0..3) whose maps are returned.
        mlp_ratio: hidden width of Mix-FFN relative to the stage's width.
        qkv_bias: biases in the attention projections.
        drop_rate, attn_drop_rate: dropout after projections / on attention weights.
        drop_path_rate: stochastic depth of the last block, rising linearly from 0 over
            all blocks.
        with_cp: recompute each block's activations in backward.
        init_cfg: MMEngine initialisation config (e.g. ``Pretrained``).

    Shapes: input Tensor[B, in_channels, H, W]; output i is
    Tensor[B, embed_dims * num_heads[i], H / 2**(i + 2), W / 2**(i + 2)] (rounded up).
    ``out_channels`` lists the channels of the returned maps.
    """

    def __init__(
        self,
        *,
        arch: str | None = "b0",
        in_channels: int = 3,
        embed_dims: int = 32,
        num_layers: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (1, 2, 5, 8),
        patch_sizes: Sequence[int] = (7, 3, 3, 3),
        strides: Sequence[int] = (4, 2, 2, 2),
        sr_ratios: Sequence[int] = (8, 4, 2, 1),
        out_indices: Sequence[int] = (0, 1, 2, 3),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        with_cp: bool = False,
        init_cfg: dict | list[dict] | None = None,
    ):
        super().__init__(init_cfg=init_cfg)
        if arch is not None:
            if arch not in MIT_ARCHS:
                raise ConfigError(
                    f"MixVisionTransformer arch '{arch}' is unknown; choose one of "
                    f"{', '.join(MIT_ARCHS)} or arch=None with embed_dims and num_layers."
                )
            embed_dims, num_layers = MIT_ARCHS[arch]["embed_dims"], MIT_ARCHS[arch]["num_layers"]
        per_stage = dict(
            num_layers=num_layers, num_heads=num_heads, patch_sizes=patch_sizes,
            strides=strides, sr_ratios=sr_ratios,
        )  # fmt: skip
        lengths = {name: len(values) for name, values in per_stage.items()}
        if len(set(lengths.values())) != 1:
            raise ConfigError(
                f"MixVisionTransformer needs one value per stage in each of {lengths}; "
                f"give them all the same length."
            )
        num_stages = len(num_layers)
        out_indices = tuple(out_indices)
        if not out_indices or any(i not in range(num_stages) for i in out_indices):
            raise ConfigError(
                f"MixVisionTransformer out_indices must be stages in 0..{num_stages - 1}, "
                f"got {out_indices}."
            )
        self.out_indices = out_indices
        self.with_cp = with_cp
        rates = iter(drop_path_rates(drop_path_rate, sum(num_layers)))
        self.layers = nn.ModuleList()
        self.out_channels = []
        channels = in_channels
        for i, depth in enumerate(num_layers):
            width = embed_dims * num_heads[i]
            stage = nn.ModuleList(
                [
                    OverlapPatchEmbed(
                        channels, width, kernel_size=patch_sizes[i], stride=strides[i]
                    ),
                    nn.ModuleList(
                        MixTransformerBlock(
                            width,
                            num_heads[i],
                            mlp_ratio=mlp_ratio,
                            sr_ratio=sr_ratios[i],
                            qkv_bias=qkv_bias,
                            drop=drop_rate,
                            attn_drop=attn_drop_rate,
                            drop_path=next(rates),
                        )
                        for _ in range(depth)
                    ),
                    nn.LayerNorm(width, eps=1e-6),
                ]
            )
            self.layers.append(stage)
            channels = width
            if i in out_indices:
                self.out_channels.append(width)
        self.out_channels = tuple(self.out_channels)
        self._init_default_weights()

    def _init_default_weights(self) -> None:
        """SegFormer's initialisation: truncated-normal linears (std 0.02), unit-scale
        LayerNorms, He-normal (fan_out) convs with zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, std=(2.0 / fan_out) ** 0.5)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        """x: Tensor[B, C, H, W] -> one Tensor[B, C_i, H_i, W_i] per out_index."""
        outs = []
        for i, (patch_embed, blocks, norm) in enumerate(self.layers):
            x, hw = patch_embed(x)
            for block in blocks:
                x = maybe_checkpoint(partial(block, hw=hw), x, enabled=self.with_cp)
            x = nlc_to_nchw(norm(x), hw)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
