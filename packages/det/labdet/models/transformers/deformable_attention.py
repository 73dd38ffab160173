"""Multi-scale deformable attention (Zhu et al., ICLR 2021), the attention of Deformable
DETR's encoder (self-attention over the feature levels) and decoder (cross-attention from
the object queries), on labcore's compiled ``multi_scale_deformable_attention``."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from labcore.ops import multi_scale_deformable_attention
from labdet.registry import MODELS


@MODELS.register_module()
class MultiScaleDeformableAttention(nn.Module):
    """Each query samples ``num_points`` points around its reference point in every one of
    ``num_levels`` feature levels, per head, and sums them with learned weights.

    Sampling offsets and attention weights are linear functions of ``query + query_pos``;
    the weights are a softmax over the levels x points of each head. Output: ``identity +
    dropout(output_proj(sampled))``.

    Initialisation (the paper's): offsets start at zero weight with a bias that puts
    head h's points on the ray at angle ``2 * pi * h / num_heads``, point p at distance
    p + 1 (in units of the level's grid, or of half the reference box); attention weights
    start uniform; the value and output projections are Xavier-uniform.

    Args:
        embed_dims: channels C of queries and values (divisible by ``num_heads``).
        num_heads, num_levels, num_points: H, L and P.
        dropout: dropout on the output before the residual.
    """

    def __init__(
        self,
        *,
        embed_dims: int = 256,
        num_heads: int = 8,
        num_levels: int = 4,
        num_points: int = 4,
        dropout: float = 0.1,
    ):
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(
                f"MultiScaleDeformableAttention: embed_dims ({embed_dims}) must be divisible "
                f"by num_heads ({num_heads})"
            )
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.num_levels = num_levels
        self.num_points = num_points
        self.sampling_offsets = nn.Linear(embed_dims, num_heads * num_levels * num_points * 2)
        self.attention_weights = nn.Linear(embed_dims, num_heads * num_levels * num_points)
        self.value_proj = nn.Linear(embed_dims, embed_dims)
        self.output_proj = nn.Linear(embed_dims, embed_dims)
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's initialisation (see the class docstring)."""
        nn.init.zeros_(self.sampling_offsets.weight)
        angles = torch.arange(self.num_heads, dtype=torch.float32) * (
            2.0 * math.pi / self.num_heads
        )
        directions = torch.stack([angles.cos(), angles.sin()], dim=-1)
        directions = directions / directions.abs().max(dim=-1, keepdim=True).values
        grid = directions.view(self.num_heads, 1, 1, 2).repeat(
            1, self.num_levels, self.num_points, 1
        )
        grid = grid * torch.arange(1, self.num_points + 1, dtype=torch.float32).view(1, 1, -1, 1)
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(grid.view(-1))
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for proj in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)

    def forward(
        self,
        query: Tensor,
        *,
        value: Tensor,
        query_pos: Tensor | None,
        reference_points: Tensor,
        spatial_shapes: Tensor,
        level_start_index: Tensor,
        key_padding_mask: Tensor | None = None,
    ) -> Tensor:
        """Attend from ``query`` to the flattened levels in ``value``.

        Args:
            query (Tensor[B, Q, C]): also the residual identity.
            value (Tensor[B, S, C]): the levels flattened and concatenated, S = sum(h_l * w_l).
            query_pos (Tensor[B, Q, C] or None): added to the query for offsets and weights.
            reference_points (Tensor[B, Q, L, 2] or Tensor[B, Q, L, 4]): per level, a point
                (x, y) or a box (cx, cy, w, h), normalised to [0, 1] of the level's valid
                area. Offsets are in units of the level's grid for points, of half the box
                (divided by P) for boxes.
            spatial_shapes (Tensor[L, 2] int64): (h_l, w_l).
            level_start_index (Tensor[L] int64): where each level starts in S.
            key_padding_mask (BoolTensor[B, S] or None): True at padded positions, whose
                values are zeroed.

        Returns:
            Tensor[B, Q, C].
        """
        identity = query
        if query_pos is not None:
            query = query + query_pos
        batch, num_queries, _ = query.shape
        heads, levels, points = self.num_heads, self.num_levels, self.num_points
        value = self.value_proj(value)
        if key_padding_mask is not None:
            value = value.masked_fill(key_padding_mask[..., None], 0.0)
        value = value.view(batch, value.shape[1], heads, -1)
        offsets = self.sampling_offsets(query).view(batch, num_queries, heads, levels, points, 2)
        weights = self.attention_weights(query).view(batch, num_queries, heads, levels * points)
        weights = weights.softmax(dim=-1).view(batch, num_queries, heads, levels, points)
        if reference_points.shape[-1] == 2:
            # offsets in grid cells of each level: divide by (w_l, h_l)
            normalizer = torch.stack([spatial_shapes[:, 1], spatial_shapes[:, 0]], dim=-1)
            locations = reference_points[:, :, None, :, None, :] + offsets / normalizer[
                None, None, None, :, None, :
            ].to(offsets.dtype)
        elif reference_points.shape[-1] == 4:
            centers = reference_points[:, :, None, :, None, :2]
            sizes = reference_points[:, :, None, :, None, 2:]
            locations = centers + offsets / points * sizes * 0.5
        else:
            raise ValueError(
                "MultiScaleDeformableAttention: reference_points must end in 2 (points) or "
                f"4 (boxes), got shape {tuple(reference_points.shape)}"
            )
        sampled = multi_scale_deformable_attention(
            value, spatial_shapes, level_start_index, locations.contiguous(), weights.contiguous()
        )
        return identity + self.dropout(self.output_proj(sampled))
