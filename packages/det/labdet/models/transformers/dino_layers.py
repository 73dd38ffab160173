"""DINO's transformer parts (Zhang et al., ICLR 2023): the decoder whose positional
queries come from the current reference boxes and whose references keep their gradient
for the next layer's loss ("look forward twice"), and the generator of contrastive
denoising queries.

Shapes: B images, Q queries (denoising ones first while training), C channels.
"""

from __future__ import annotations

import torch
from mmengine.structures import InstanceData
from torch import Tensor, nn
from torchvision.ops import box_convert

from labdet.models.transformers.deformable_detr_layers import (
    DeformableDetrDecoderLayer,
    _xavier_then_attention_init,
    inverse_sigmoid,
)
from labdet.models.transformers.positional_encoding import coordinate_sine_embedding
from labdet.registry import MODELS


@MODELS.register_module()
class DinoTransformerDecoder(nn.Module):
    """``num_layers`` :class:`DeformableDetrDecoderLayer` over queries with reference boxes.

    Before each layer the positional query is ``ref_point_head(sine(reference box))`` (a
    2-layer MLP 2C -> C -> C). After it the box branch refines the reference:
    ``new = sigmoid(reg_branches[i](output) + inverse_sigmoid(reference))``; the next layer
    attends around ``new.detach()`` but the returned references keep ``new`` with its
    gradient, so layer i + 1's box loss also trains layer i's box (look forward twice).
    Outputs pass through a final LayerNorm.

    Args:
        num_layers, layer_cfg: as :class:`DeformableDetrTransformerDecoder`.
    """

    def __init__(self, *, num_layers: int, layer_cfg: dict, return_intermediate: bool = True):
        super().__init__()
        if not return_intermediate:
            raise ValueError(
                "DinoTransformerDecoder: return_intermediate=False is not supported; DINO "
                "supervises every layer"
            )
        self.layers = nn.ModuleList(
            [DeformableDetrDecoderLayer(**layer_cfg) for _ in range(num_layers)]
        )
        embed_dims = self.layers[0].cross_attn.embed_dims
        self.embed_dims = embed_dims
        self.ref_point_head = nn.Sequential(
            nn.Linear(embed_dims * 2, embed_dims), nn.ReLU(), nn.Linear(embed_dims, embed_dims)
        )
        self.norm = nn.LayerNorm(embed_dims)
        _xavier_then_attention_init(self)

    def forward(
        self,
        query: Tensor,
        *,
        query_pos: Tensor | None,
        value: Tensor,
        key_padding_mask: Tensor,
        reference_points: Tensor,
        spatial_shapes: Tensor,
        level_start_index: Tensor,
        valid_ratios: Tensor,
        reg_branches: nn.ModuleList,
        self_attn_mask: Tensor | None = None,
    ) -> tuple[Tensor, list[Tensor]]:
        """Decode ``query`` (Tensor[B, Q, C]) around ``reference_points`` (Tensor[B, Q, 4],
        cx cy w h in [0, 1]); ``query_pos`` is ignored (it comes from the references).
        Other arguments as :meth:`DeformableDetrTransformerDecoder.forward`.

        Returns:
            (hidden_states Tensor[N, B, Q, C] normalised, references: N + 1
            Tensor[B, Q, 4], the first the input, the others the refined boxes with
            their gradient).
        """
        outputs, references = [], [reference_points]
        ratios = torch.cat([valid_ratios, valid_ratios], dim=-1)[:, None]
        for layer_id, layer in enumerate(self.layers):
            reference_input = reference_points[:, :, None] * ratios
            query_pos = self.ref_point_head(
                coordinate_sine_embedding(reference_input[:, :, 0], self.embed_dims // 2)
            )
            query = layer(
                query,
                query_pos=query_pos,
                value=value,
                self_attn_mask=self_attn_mask,
                key_padding_mask=key_padding_mask,
                reference_points=reference_input,
                spatial_shapes=spatial_shapes,
                level_start_index=level_start_index,
            )
            refined = (
                reg_branches[layer_id](query) + inverse_sigmoid(reference_points, eps=1e-3)
            ).sigmoid()
            reference_points = refined.detach()
            outputs.append(self.norm(query))
            references.append(refined)
        return torch.stack(outputs), references


@MODELS.register_module()
class CdnQueryGenerator(nn.Module):
    """Contrastive denoising queries (DINO): noised copies of the ground truth that the
    decoder learns to reconstruct (positives) or to reject (negatives).

    With M the most objects of an image in the batch, there are ``G = num_dn_queries // M``
    groups (at least 1) of 2M queries: slots ``[0, M)`` hold positives (each box moved by
    up to ``box_noise_scale / 2`` of its size per side), ``[M, 2M)`` negatives (moved by
    between that and twice that). Each label is replaced by a random class with
    probability ``label_noise_scale / 2``. Label queries are ``label_embedding(label)``;
    box queries the noised boxes as logits. Denoising groups see neither each other nor
    the matching queries, which do not see them (``attn_mask``, True where attention is
    blocked).

    Args:
        num_classes, embed_dims: K and C.
        num_matching_queries: the detector's matching queries Q (after the denoising ones).
        label_noise_scale, box_noise_scale: the noises above.
        num_dn_queries: denoising queries per image at most, over all groups' positives.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        embed_dims: int,
        num_matching_queries: int,
        label_noise_scale: float = 0.5,
        box_noise_scale: float = 1.0,
        num_dn_queries: int = 100,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.num_matching_queries = num_matching_queries
        self.label_noise_scale = label_noise_scale
        self.box_noise_scale = box_noise_scale
        self.num_dn_queries = num_dn_queries
        self.label_embedding = nn.Embedding(num_classes, embed_dims)

    def forward(
        self, gt_instances: list[InstanceData], img_shapes: list[tuple[int, int]]
    ) -> tuple[Tensor, Tensor, Tensor, dict]:
        """Denoising queries for a batch.

        Args:
            gt_instances: per image ``bboxes`` (Tensor[G_i, 4] pixel xyxy) and ``labels``.
            img_shapes: (h, w) each image's boxes are normalised by.

        Returns:
            (label_query Tensor[B, D, C], box_query Tensor[B, D, 4] cx cy w h logits,
            attn_mask BoolTensor[D + Q, D + Q], dn_meta dict with
            ``num_denoising_queries`` D = 2 M G and ``num_denoising_groups`` G). Slots
            of images with fewer than M objects hold zeros.
        """
        device = self.label_embedding.weight.device
        counts = [len(gt) for gt in gt_instances]
        max_targets = max(counts, default=0)
        groups = max(self.num_dn_queries // max_targets, 1) if max_targets else 1
        num_dn = 2 * max_targets * groups
        batch, embed_dims = len(gt_instances), self.label_embedding.embedding_dim
        label_query = torch.zeros(batch, num_dn, embed_dims, device=device)
        box_query = torch.zeros(batch, num_dn, 4, device=device)
        for i, (gt, (h, w)) in enumerate(zip(gt_instances, img_shapes)):
            if counts[i] == 0:
                continue
            scale = gt.bboxes.new_tensor([w, h, w, h])
            boxes = (gt.bboxes / scale).repeat(2 * groups, 1)  # copies: pos, neg, pos, ...
            labels = gt.labels.repeat(2 * groups)
            flip = torch.rand(len(labels), device=device) < self.label_noise_scale * 0.5
            labels = torch.where(flip, torch.randint_like(labels, 0, self.num_classes), labels)
            sizes = box_convert(boxes, "xyxy", "cxcywh")[:, 2:].repeat(1, 2)
            noise = torch.rand_like(boxes)
            negative = (torch.arange(2 * groups, device=device) % 2 == 1).repeat_interleave(
                counts[i]
            )
            noise[negative] += 1.0
            sign = torch.randint_like(boxes, 0, 2) * 2.0 - 1.0
            noisy = (boxes + noise * sign * sizes * self.box_noise_scale / 2).clamp(0.0, 1.0)
            slots = (
                torch.arange(2 * groups, device=device)[:, None] * max_targets
                + torch.arange(counts[i], device=device)
            ).flatten()
            label_query[i, slots] = self.label_embedding(labels)
            box_query[i, slots] = inverse_sigmoid(box_convert(noisy, "xyxy", "cxcywh"), eps=1e-3)
        total = num_dn + self.num_matching_queries
        attn_mask = torch.zeros(total, total, dtype=torch.bool, device=device)
        attn_mask[num_dn:, :num_dn] = True
        for g in range(groups):
            start, end = 2 * max_targets * g, 2 * max_targets * (g + 1)
            attn_mask[start:end, :start] = True
            attn_mask[start:end, end:num_dn] = True
        dn_meta = dict(num_denoising_queries=num_dn, num_denoising_groups=groups)
        return label_query, box_query, attn_mask, dn_meta
