"""DINO (Zhang et al., ICLR 2023): Deformable DETR, two-stage with box refinement, plus
contrastive denoising training, mixed query selection (positions from the encoder's top
proposals, content from learned embeddings) and look-forward-twice box updates."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from labdet.models.detectors.deformable_detr import DeformableDETR
from labdet.models.utils import build
from labdet.registry import MODELS


@MODELS.register_module()
class DINO(DeformableDETR):
    """The DINO detector; the transformer parts are Deformable DETR's, the decoder
    :class:`~labdet.models.transformers.DinoTransformerDecoder`, the head
    :class:`~labdet.models.dense_heads.DINOHead`.

    Args:
        dn_cfg: :class:`~labdet.models.transformers.CdnQueryGenerator` arguments
            (``num_classes``, ``embed_dims`` and ``num_matching_queries`` are filled in).
        kwargs: as :class:`DeformableDETR` (always two-stage with refinement).

    Learned: ``query_embedding`` (Q x C content queries); the positional part comes from
    the selected proposals' boxes in every decoder layer.
    """

    def __init__(self, *, dn_cfg: dict, **kwargs):
        kwargs.update(with_box_refine=True, as_two_stage=True)
        super().__init__(**kwargs)
        # DINO's queries: learned content, positions from the proposals; no projection
        # of the proposals' sine embedding (Deformable DETR's pos_trans)
        del self.pos_trans_fc, self.pos_trans_norm
        self.query_embedding = nn.Embedding(self.num_queries, self.embed_dims)
        nn.init.xavier_uniform_(self.query_embedding.weight)
        self.dn_query_generator = build(
            dict(
                dn_cfg,
                type="CdnQueryGenerator",
                num_classes=self.bbox_head.num_classes,
                embed_dims=self.embed_dims,
                num_matching_queries=self.num_queries,
            ),
            MODELS,
        )

    def decoder_queries(self, memory: Tensor, levels: dict, gt_instances=None, img_shapes=None):
        """Mixed query selection: the top-``num_queries`` proposals by their best class
        score give the reference boxes (detached), learned embeddings the content; while
        training the denoising queries come first, with their attention mask and
        ``dn_meta``. ``enc_outputs`` are the selected proposals' logits and boxes."""
        batch = memory.shape[0]
        output_memory, proposals = self.encoder_proposals(
            memory, levels["mask"], levels["spatial_shapes"]
        )
        proposal_layer = len(self.decoder.layers)
        enc_logits = self.bbox_head.cls_branches[proposal_layer](output_memory)
        enc_boxes_unact = self.bbox_head.reg_branches[proposal_layer](output_memory) + proposals
        topk = enc_logits.max(-1).values.topk(self.num_queries, dim=1).indices
        topk_logits = torch.gather(
            enc_logits, 1, topk[..., None].expand(-1, -1, enc_logits.shape[-1])
        )
        topk_boxes_unact = torch.gather(enc_boxes_unact, 1, topk[..., None].expand(-1, -1, 4))
        query = self.query_embedding.weight[None].expand(batch, -1, -1)
        reference_unact = topk_boxes_unact.detach()
        out = dict(enc_outputs=(topk_logits, topk_boxes_unact.sigmoid()))
        if gt_instances is not None:
            label_query, box_query, attn_mask, dn_meta = self.dn_query_generator(
                gt_instances, img_shapes
            )
            query = torch.cat([label_query, query], dim=1)
            reference_unact = torch.cat([box_query, reference_unact], dim=1)
            out.update(self_attn_mask=attn_mask, dn_meta=dn_meta)
        out.update(query=query, query_pos=None, reference_points=reference_unact.sigmoid())
        return out
