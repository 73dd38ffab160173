"""Deformable DETR's transformer (Zhu et al., ICLR 2021): an encoder of multi-scale
deformable self-attention over the flattened feature levels and a decoder whose object
queries attend to them around reference points, optionally refining those points layer
by layer (iterative box refinement). Post-norm layers, as the paper's.

Shapes: B images, S = sum(h_l * w_l) flattened positions over L levels, Q queries, C
channels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from labdet.models.transformers.deformable_attention import MultiScaleDeformableAttention
from labdet.registry import MODELS


def inverse_sigmoid(x: Tensor, eps: float = 1e-5) -> Tensor:
    """``log(x / (1 - x))`` with x clamped to [0, 1] and both terms to at least ``eps``."""
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


class FFN(nn.Module):
    """``identity + dropout(fc2(dropout(relu(fc1(x)))))``: the transformer's feed-forward block."""

    def __init__(self, *, embed_dims: int, feedforward_channels: int, ffn_drop: float):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(embed_dims, feedforward_channels),
            nn.ReLU(inplace=True),
            nn.Dropout(ffn_drop),
            nn.Linear(feedforward_channels, embed_dims),
            nn.Dropout(ffn_drop),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.layers(x)


def _xavier_then_attention_init(module: nn.Module) -> None:
    """Xavier-uniform on every weight matrix, then each deformable attention's own init."""
    for p in module.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    for m in module.modules():
        if isinstance(m, MultiScaleDeformableAttention):
            m.reset_parameters()


class DeformableDetrEncoderLayer(nn.Module):
    """Deformable self-attention -> LayerNorm -> FFN -> LayerNorm."""

    def __init__(self, *, self_attn: dict, ffn: dict):
        super().__init__()
        self.self_attn = MultiScaleDeformableAttention(**self_attn)
        embed_dims = self.self_attn.embed_dims
        self.ffn = FFN(embed_dims=embed_dims, **ffn)
        self.norms = nn.ModuleList([nn.LayerNorm(embed_dims) for _ in range(2)])

    def forward(self, query: Tensor, *, query_pos: Tensor, **attn_kwargs) -> Tensor:
        query = self.self_attn(query, value=query, query_pos=query_pos, **attn_kwargs)
        query = self.norms[0](query)
        return self.norms[1](self.ffn(query))


@MODELS.register_module()
class DeformableDetrTransformerEncoder(nn.Module):
    """``num_layers`` encoder layers; every position attends around itself in all levels.

    Args:
        num_layers: number of layers (6 in the paper).
        layer_cfg: ``self_attn`` (MultiScaleDeformableAttention arguments) and ``ffn``
            (``feedforward_channels``, ``ffn_drop``).
    """

    def __init__(self, *, num_layers: int, layer_cfg: dict):
        super().__init__()
        self.layers = nn.ModuleList(
            [DeformableDetrEncoderLayer(**layer_cfg) for _ in range(num_layers)]
        )
        self.embed_dims = self.layers[0].self_attn.embed_dims
        _xavier_then_attention_init(self)

    @staticmethod
    def reference_points(spatial_shapes: Tensor, valid_ratios: Tensor) -> Tensor:
        """Each position's pixel centre as a reference point in every level.

        Args:
            spatial_shapes (Tensor[L, 2] int64): (h_l, w_l).
            valid_ratios (Tensor[B, L, 2]): (w, h) fraction of each level that is not padding.

        Returns:
            Tensor[B, S, L, 2]: (x, y), normalised by the valid extent of each level.
        """
        points = []
        for level, (height, width) in enumerate(spatial_shapes.tolist()):
            ys, xs = torch.meshgrid(
                torch.linspace(0.5, height - 0.5, height, device=valid_ratios.device),
                torch.linspace(0.5, width - 0.5, width, device=valid_ratios.device),
                indexing="ij",
            )
            ys = ys.reshape(1, -1) / (valid_ratios[:, None, level, 1] * height)
            xs = xs.reshape(1, -1) / (valid_ratios[:, None, level, 0] * width)
            points.append(torch.stack((xs, ys), dim=-1))
        points = torch.cat(points, dim=1)
        return points[:, :, None] * valid_ratios[:, None]

    def forward(
        self,
        query: Tensor,
        *,
        query_pos: Tensor,
        key_padding_mask: Tensor,
        spatial_shapes: Tensor,
        level_start_index: Tensor,
        valid_ratios: Tensor,
    ) -> Tensor:
        """Encode the flattened levels ``query`` (Tensor[B, S, C]; ``query_pos`` the
        positional plus level embedding, ``key_padding_mask`` BoolTensor[B, S] True at
        padding): the memory Tensor[B, S, C]."""
        reference_points = self.reference_points(spatial_shapes, valid_ratios)
        for layer in self.layers:
            query = layer(
                query,
                query_pos=query_pos,
                reference_points=reference_points,
                spatial_shapes=spatial_shapes,
                level_start_index=level_start_index,
                key_padding_mask=key_padding_mask,
            )
        return query


class DeformableDetrDecoderLayer(nn.Module):
    """Self-attention among the queries -> LayerNorm -> deformable cross-attention to the
    memory -> LayerNorm -> FFN -> LayerNorm.

    ``self_attn``: ``num_heads`` and ``dropout`` of a torch MultiheadAttention (the same
    dropout on its output before the residual); ``cross_attn``: MultiScaleDeformableAttention
    arguments; ``ffn``: ``feedforward_channels``, ``ffn_drop``.
    """

    def __init__(self, *, self_attn: dict, cross_attn: dict, ffn: dict):
        super().__init__()
        self.cross_attn = MultiScaleDeformableAttention(**cross_attn)
        embed_dims = self.cross_attn.embed_dims
        self.self_attn = nn.MultiheadAttention(
            embed_dims, self_attn["num_heads"], dropout=self_attn["dropout"], batch_first=True
        )
        self.self_attn_drop = nn.Dropout(self_attn["dropout"])
        self.ffn = FFN(embed_dims=embed_dims, **ffn)
        self.norms = nn.ModuleList([nn.LayerNorm(embed_dims) for _ in range(3)])

    def forward(
        self,
        query: Tensor,
        *,
        query_pos: Tensor,
        value: Tensor,
        self_attn_mask: Tensor | None = None,
        **cross_attn_kwargs,
    ) -> Tensor:
        q = k = query + query_pos
        attended = self.self_attn(q, k, query, attn_mask=self_attn_mask, need_weights=False)[0]
        query = self.norms[0](query + self.self_attn_drop(attended))
        query = self.cross_attn(query, value=value, query_pos=query_pos, **cross_attn_kwargs)
        query = self.norms[1](query)
        return self.norms[2](self.ffn(query))


@MODELS.register_module()
class DeformableDetrTransformerDecoder(nn.Module):
    """``num_layers`` decoder layers over object queries with reference points.

    With ``reg_branches`` (iterative box refinement) the reference after layer i is
    ``sigmoid(reg_branches[i](output_i) + inverse_sigmoid(reference))`` (on (x, y) alone
    when references are points), detached before the next layer.

    Args:
        num_layers: number of layers (6 in the paper).
        layer_cfg: ``self_attn``, ``cross_attn`` and ``ffn`` of
            :class:`DeformableDetrDecoderLayer`.
        return_intermediate: return every layer's output (for the auxiliary losses), not
            only the last one's.
    """

    def __init__(self, *, num_layers: int, layer_cfg: dict, return_intermediate: bool = True):
        super().__init__()
        self.layers = nn.ModuleList(
            [DeformableDetrDecoderLayer(**layer_cfg) for _ in range(num_layers)]
        )
        self.embed_dims = self.layers[0].cross_attn.embed_dims
        self.return_intermediate = return_intermediate
        _xavier_then_attention_init(self)

    def forward(
        self,
        query: Tensor,
        *,
        query_pos: Tensor,
        value: Tensor,
        key_padding_mask: Tensor,
        reference_points: Tensor,
        spatial_shapes: Tensor,
        level_start_index: Tensor,
        valid_ratios: Tensor,
        reg_branches: nn.ModuleList | None = None,
        self_attn_mask: Tensor | None = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """Decode the queries.

        Args:
            query, query_pos (Tensor[B, Q, C]): content and positional parts of the queries.
            value (Tensor[B, S, C]): the encoder's memory; ``key_padding_mask``
                (BoolTensor[B, S]) True at padding.
            reference_points (Tensor[B, Q, 2] or Tensor[B, Q, 4]): (x, y) or (cx, cy, w, h)
                in [0, 1] of the padded image.
            spatial_shapes, level_start_index, valid_ratios: as the encoder's.
            reg_branches: one box regressor per layer for iterative refinement, or None.
            self_attn_mask (BoolTensor[Q, Q] or None): True where query i may not attend
                to query j (DINO's denoising groups).

        Returns:
            (hidden_states Tensor[N, B, Q, C], references): N = num_layers outputs (1
            without ``return_intermediate``); ``references`` a list of N + 1
            Tensor[B, Q, 2 or 4], references[i] the one the i-th output's layer attended
            around, the last the final refinement. Refined references are boxes: points
            become (cx, cy, w, h) after the first refinement.
        """
        outputs, references = [], [reference_points]
        for layer_id, layer in enumerate(self.layers):
            layer_reference = reference_points
            if reference_points.shape[-1] == 4:
                ratios = torch.cat([valid_ratios, valid_ratios], dim=-1)
            else:
                ratios = valid_ratios
            query = layer(
                query,
                query_pos=query_pos,
                value=value,
                self_attn_mask=self_attn_mask,
                key_padding_mask=key_padding_mask,
                reference_points=reference_points[:, :, None] * ratios[:, None],
                spatial_shapes=spatial_shapes,
                level_start_index=level_start_index,
            )
            if reg_branches is not None:
                delta = reg_branches[layer_id](query)
                if reference_points.shape[-1] == 4:
                    refined = delta + inverse_sigmoid(reference_points)
                else:
                    refined = torch.cat(
                        [delta[..., :2] + inverse_sigmoid(reference_points), delta[..., 2:]],
                        dim=-1,
                    )
                reference_points = refined.sigmoid().detach()
            if self.return_intermediate:
                outputs.append(query)
                references.append(reference_points)
        if not self.return_intermediate:
            return query[None], [layer_reference, reference_points]
        return torch.stack(outputs), references
