"""Oriented RPN of Oriented R-CNN (Xie et al., ICCV 2021): labdet's RPN with rotated proposals."""

from __future__ import annotations

import torch
from torch import Tensor

from labdet.models.dense_heads.rpn_head import RPNHead
from labdet.models.utils import concat_levels
from labrot.models.postprocess import batched_nms_rotated
from labrot.registry import MODELS

DELTA_DIM = 6  # (dx, dy, dw, dh, da, db) of the midpoint-offset coder


@MODELS.register_module()
class OrientedRPNHead(RPNHead):
    """labdet's :class:`~labdet.models.dense_heads.rpn_head.RPNHead` (3x3 conv, objectness,
    sampling, losses) whose regression branch predicts six midpoint offsets per
    axis-aligned anchor, so each proposal is a rotated box.

    It takes RPNHead's arguments; from labrot's configs come the coder
    (``MidpointOffsetBoxCoder``, whose ``angle_version`` names the proposals) and the
    assigner (``OuterBoxMaxIoUAssigner``: anchors against the outer boxes of the rotated
    ground truths). Proposals: per level the ``pre_nms_top_n`` best anchors are decoded,
    boxes with a side under ``min_box_size`` or a score under ``score_thr`` are dropped,
    rotated NMS (:func:`labcore.ops.nms_rotated`) runs within each level, and the
    ``post_nms_top_n`` best survive. Rotated proposals are not clipped to the image.

    forward(feats: tuple of Tensor[B, C, H_i, W_i]) returns lists of Tensor[B, A, H_i, W_i]
    (objectness logits) and Tensor[B, 6 A, H_i, W_i] (deltas).
    """

    delta_dim = DELTA_DIM

    @torch.no_grad()
    def _proposals(
        self,
        objectness: list[Tensor],
        deltas: list[Tensor],
        level_anchors: list[Tensor],
        img_shapes: list[tuple[int, int]],
        cfg: dict,
    ) -> list[Tensor]:
        """Proposals per image: Tensor[P_i, 5] (cx, cy, w, h, angle) in input-image
        pixels, best first."""
        proposals = []
        for i in range(len(img_shapes)):
            boxes, scores, levels = [], [], []
            for level, (obj, dlt, anchors) in enumerate(zip(objectness, deltas, level_anchors)):
                level_logits = concat_levels([obj[i : i + 1]], 1)[0, :, 0]
                top_logits, top_idx = level_logits.topk(
                    min(cfg["pre_nms_top_n"], len(level_logits))
                )
                level_deltas = concat_levels([dlt[i : i + 1]], DELTA_DIM)[0][top_idx]
                boxes.append(self.bbox_coder.decode(level_deltas, anchors[top_idx]))
                scores.append(top_logits.sigmoid())
                levels.append(torch.full_like(top_idx, level))
            boxes, scores, levels = torch.cat(boxes), torch.cat(scores), torch.cat(levels)
            keep = (boxes[:, 2] >= cfg["min_box_size"]) & (boxes[:, 3] >= cfg["min_box_size"])
            keep &= scores >= cfg["score_thr"]
            boxes, scores, levels = boxes[keep], scores[keep], levels[keep]
            keep = batched_nms_rotated(boxes, scores, levels, cfg["nms_iou_thr"])
            proposals.append(boxes[keep[: cfg["post_nms_top_n"]]])
        return proposals
