"""Deformable DETR (Zhu et al., ICLR 2021): backbone -> neck (4 levels) -> deformable
transformer encoder -> decoder of object queries -> set prediction head, without anchors
or NMS. Variants: iterative box refinement, two-stage (queries from the encoder's best
proposals)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement
from torch import Tensor, nn

from labdet.models.detectors.base import _Detector, img_shapes_of
from labdet.models.transformers.positional_encoding import box_sine_embedding
from labdet.models.utils import build
from labdet.registry import MODELS


def padding_masks(inputs: Tensor, img_shapes: list[tuple[int, int]]) -> Tensor:
    """BoolTensor[B, H, W] over the padded batch ``inputs`` (Tensor[B, 3, H, W]): True
    outside each image's ``img_shape`` (the bottom-right padding)."""
    batch, _, height, width = inputs.shape
    masks = torch.ones(batch, height, width, dtype=torch.bool, device=inputs.device)
    for mask, (h, w) in zip(masks, img_shapes):
        mask[:h, :w] = False
    return masks


def valid_ratio(mask: Tensor) -> Tensor:
    """Tensor[B, 2]: (w, h) fraction of a level's mask (BoolTensor[B, H, W]) that is image."""
    _, height, width = mask.shape
    valid_h = (~mask[:, :, 0]).sum(dim=1).float() / height
    valid_w = (~mask[:, 0, :]).sum(dim=1).float() / width
    return torch.stack([valid_w, valid_h], dim=-1)


@MODELS.register_module()
class DeformableDETR(_Detector):
    """The Deformable DETR detector.

    Args:
        backbone, neck: MODELS configs or modules; the neck gives ``num_feature_levels``
            maps of ``embed_dims`` channels (ChannelMapper on C3-C5 plus one strided level).
        encoder, decoder: DeformableDetrTransformerEncoder / Decoder configs or modules.
        positional_encoding: SinePositionalEncoding config (``num_feats = embed_dims / 2``).
        bbox_head: DeformableDETRHead config; ``num_pred_layer``, ``share_pred_layer`` and
            ``as_two_stage`` are filled in from the decoder and the variant.
        num_queries: object queries (300).
        num_feature_levels: L.
        with_box_refine: each decoder layer refines the reference boxes with its own box
            branch (the head's branches are then not shared).
        as_two_stage: queries from the top-``num_queries`` encoder proposals (scored by the
            head's extra branch) instead of learned embeddings.

    Learned embeddings: ``level_embed`` (Tensor[L, C], added to the positional encoding
    of each level), ``query_embedding`` (Q x 2C: positional and content parts, one-stage)
    and ``reference_points_fc`` (C -> 2 reference points from the positional part).

    forward modes as :class:`~labdet.models.detectors.base.SingleStageDetector`.
    """

    def __init__(
        self,
        *,
        backbone,
        neck,
        encoder,
        decoder,
        positional_encoding,
        bbox_head,
        num_queries: int = 300,
        num_feature_levels: int = 4,
        with_box_refine: bool = False,
        as_two_stage: bool = False,
        data_preprocessor=None,
        init_cfg=None,
    ):
        super().__init__(
            backbone=backbone, neck=neck, data_preprocessor=data_preprocessor, init_cfg=init_cfg
        )
        self.num_queries = num_queries
        self.num_feature_levels = num_feature_levels
        self.with_box_refine = with_box_refine
        self.as_two_stage = as_two_stage
        self.encoder = build(encoder, MODELS)
        self.decoder = build(decoder, MODELS)
        self.positional_encoding = build(positional_encoding, MODELS)
        if isinstance(bbox_head, dict):
            num_layers = len(self.decoder.layers)
            bbox_head = dict(
                bbox_head,
                num_pred_layer=num_layers + 1 if as_two_stage else num_layers,
                share_pred_layer=not with_box_refine,
                as_two_stage=as_two_stage,
            )
        self.bbox_head = build(bbox_head, MODELS)

        embed_dims = self.encoder.embed_dims
        self.embed_dims = embed_dims
        self.level_embed = nn.Parameter(torch.empty(num_feature_levels, embed_dims))
        nn.init.normal_(self.level_embed)
        if as_two_stage:
            self.memory_trans_fc = nn.Linear(embed_dims, embed_dims)
            self.memory_trans_norm = nn.LayerNorm(embed_dims)
            self.pos_trans_fc = nn.Linear(embed_dims * 2, embed_dims * 2)
            self.pos_trans_norm = nn.LayerNorm(embed_dims * 2)
            nn.init.xavier_uniform_(self.memory_trans_fc.weight)
        else:
            self.query_embedding = nn.Embedding(num_queries, embed_dims * 2)
            self.reference_points_fc = nn.Linear(embed_dims, 2)
            nn.init.xavier_uniform_(self.reference_points_fc.weight)
            nn.init.zeros_(self.reference_points_fc.bias)

    # -- the transformer, step by step --------------------------------------------------

    def flatten_levels(self, feats: tuple[Tensor, ...], masks: Tensor) -> dict:
        """The encoder's inputs from the neck's levels (Tensor[B, C, h_l, w_l]) and the
        batch padding mask (BoolTensor[B, H, W]): ``feat`` (Tensor[B, S, C]), ``pos``
        (positional + level embedding, Tensor[B, S, C]), ``mask`` (BoolTensor[B, S]),
        ``spatial_shapes`` (Tensor[L, 2]), ``level_start_index`` (Tensor[L]),
        ``valid_ratios`` (Tensor[B, L, 2])."""
        flat_feats, flat_pos, flat_masks, shapes, ratios = [], [], [], [], []
        for level, feat in enumerate(feats):
            mask = F.interpolate(masks[None].float(), size=feat.shape[-2:])[0].bool()
            pos = self.positional_encoding(mask) + self.level_embed[level].view(1, -1, 1, 1)
            flat_feats.append(feat.flatten(2).transpose(1, 2))
            flat_pos.append(pos.flatten(2).transpose(1, 2))
            flat_masks.append(mask.flatten(1))
            shapes.append(feat.shape[-2:])
            ratios.append(valid_ratio(mask))
        spatial_shapes = torch.tensor(shapes, dtype=torch.long, device=masks.device)
        level_start_index = torch.cat(
            [spatial_shapes.new_zeros(1), spatial_shapes.prod(1).cumsum(0)[:-1]]
        )
        return dict(
            feat=torch.cat(flat_feats, 1),
            pos=torch.cat(flat_pos, 1),
            mask=torch.cat(flat_masks, 1),
            spatial_shapes=spatial_shapes,
            level_start_index=level_start_index,
            valid_ratios=torch.stack(ratios, 1),
        )

    def encoder_proposals(
        self, memory: Tensor, memory_mask: Tensor, spatial_shapes: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Two-stage: a proposal box at every memory position and the memory projected for
        scoring it.

        Position (x, y) of level l proposes the box centred on its pixel with width and
        height ``0.05 * 2**l`` (of the valid image), as logits; padded positions and boxes
        not inside (0.01, 0.99) get ``inf`` and a zeroed memory.

        Returns:
            (output_memory Tensor[B, S, C], proposals Tensor[B, S, 4] as logits).
        """
        batch = memory.shape[0]
        proposals, start = [], 0
        for level, (height, width) in enumerate(spatial_shapes.tolist()):
            mask = memory_mask[:, start : start + height * width].view(batch, height, width)
            valid_h = (~mask[:, :, 0]).sum(1)
            valid_w = (~mask[:, 0, :]).sum(1)
            scale = torch.stack([valid_w, valid_h], dim=-1).view(batch, 1, 1, 2).float()
            ys, xs = torch.meshgrid(
                torch.arange(height, dtype=torch.float32, device=memory.device),
                torch.arange(width, dtype=torch.float32, device=memory.device),
                indexing="ij",
            )
            centers = (torch.stack([xs, ys], dim=-1)[None] + 0.5) / scale
            sizes = torch.full_like(centers, 0.05 * 2.0**level)
            proposals.append(torch.cat([centers, sizes], dim=-1).view(batch, -1, 4))
            start += height * width
        proposals = torch.cat(proposals, 1)
        valid = ((proposals > 0.01) & (proposals < 0.99)).all(-1, keepdim=True)
        proposals = torch.log(proposals / (1 - proposals))
        invalid = memory_mask[..., None] | ~valid
        proposals = proposals.masked_fill(invalid, float("inf"))
        output_memory = memory.masked_fill(invalid, 0.0)
        output_memory = self.memory_trans_norm(self.memory_trans_fc(output_memory))
        return output_memory, proposals

    def decoder_queries(
        self,
        memory: Tensor,
        levels: dict,
        gt_instances: list | None = None,
        img_shapes: list[tuple[int, int]] | None = None,
    ) -> dict:
        """The decoder's ``query``, ``query_pos`` (Tensor[B, Q, C]) and
        ``reference_points`` (Tensor[B, Q, 2]; two-stage Tensor[B, Q, 4]), and, two-stage,
        ``enc_outputs``: the proposals' logits and boxes (Tensor[B, S, K], Tensor[B, S, 4]).
        ``gt_instances`` (while training) and ``img_shapes`` are for detectors whose
        queries depend on the ground truth (DINO's denoising queries)."""
        batch = memory.shape[0]
        if not self.as_two_stage:
            query_pos, query = self.query_embedding.weight.split(self.embed_dims, dim=1)
            query_pos = query_pos[None].expand(batch, -1, -1)
            query = query[None].expand(batch, -1, -1)
            reference_points = self.reference_points_fc(query_pos).sigmoid()
            return dict(query=query, query_pos=query_pos, reference_points=reference_points)
        output_memory, proposals = self.encoder_proposals(
            memory, levels["mask"], levels["spatial_shapes"]
        )
        proposal_layer = len(self.decoder.layers)
        enc_logits = self.bbox_head.cls_branches[proposal_layer](output_memory)
        enc_boxes_unact = self.bbox_head.reg_branches[proposal_layer](output_memory) + proposals
        # the proposals scoring highest at the first class (all objects are class 0 in
        # the encoder's loss)
        topk = enc_logits[..., 0].topk(self.num_queries, dim=1).indices
        topk_boxes_unact = torch.gather(
            enc_boxes_unact, 1, topk[..., None].expand(-1, -1, 4)
        ).detach()
        pos_query = self.pos_trans_norm(
            self.pos_trans_fc(box_sine_embedding(topk_boxes_unact, self.embed_dims // 2))
        )
        query_pos, query = pos_query.split(self.embed_dims, dim=-1)
        return dict(
            query=query,
            query_pos=query_pos,
            reference_points=topk_boxes_unact.sigmoid(),
            enc_outputs=(enc_logits, enc_boxes_unact.sigmoid()),
        )

    def forward_transformer(
        self,
        feats: tuple[Tensor, ...],
        img_shapes: list[tuple[int, int]],
        inputs: Tensor,
        gt_instances: list | None = None,
    ) -> dict:
        """Encoder and decoder over the neck's levels: ``hidden_states`` (Tensor[N, B, Q, C]),
        ``references`` (N + 1 Tensor[B, Q, 2 or 4]), ``enc_outputs`` (two-stage, else None)
        and whatever else :meth:`decoder_queries` returns for the head (e.g. ``dn_meta``)."""
        levels = self.flatten_levels(feats, padding_masks(inputs, img_shapes))
        memory = self.encoder(
            levels["feat"],
            query_pos=levels["pos"],
            key_padding_mask=levels["mask"],
            spatial_shapes=levels["spatial_shapes"],
            level_start_index=levels["level_start_index"],
            valid_ratios=levels["valid_ratios"],
        )
        queries = self.decoder_queries(memory, levels, gt_instances, img_shapes)
        hidden_states, references = self.decoder(
            queries["query"],
            query_pos=queries["query_pos"],
            value=memory,
            key_padding_mask=levels["mask"],
            reference_points=queries["reference_points"],
            spatial_shapes=levels["spatial_shapes"],
            level_start_index=levels["level_start_index"],
            valid_ratios=levels["valid_ratios"],
            reg_branches=self.bbox_head.reg_branches if self.with_box_refine else None,
            self_attn_mask=queries.get("self_attn_mask"),
        )
        head_inputs = {
            k: v
            for k, v in queries.items()
            if k not in ("query", "query_pos", "reference_points", "self_attn_mask")
        }
        return dict(
            hidden_states=hidden_states,
            references=references,
            enc_outputs=head_inputs.pop("enc_outputs", None),
            **head_inputs,
        )

    # -- the detector's modes -----------------------------------------------------------

    def loss(self, inputs: Tensor, data_samples: list[BaseDataElement]) -> dict:
        img_shapes = img_shapes_of(inputs, data_samples)
        gt_instances = [s.gt_instances for s in data_samples]
        out = self.forward_transformer(self.extract_feat(inputs), img_shapes, inputs, gt_instances)
        hidden_states, references = out.pop("hidden_states"), out.pop("references")
        return self.bbox_head.loss(hidden_states, references, gt_instances, img_shapes, **out)

    @torch.no_grad()
    def predict(self, inputs: Tensor, data_samples: list[BaseDataElement] | None = None):
        img_shapes = img_shapes_of(inputs, data_samples)
        out = self.forward_transformer(self.extract_feat(inputs), img_shapes, inputs)
        results = self.bbox_head.predict(out["hidden_states"], out["references"], img_shapes)
        return self._attach_predictions(results, inputs, data_samples)
