"""DINO's prediction head (Zhang et al., ICLR 2023): Deformable DETR's per-layer branches
and set losses on the matching queries, plus the denoising losses: each denoising query is
supervised by the ground truth it was made from (positives) or as background (negatives),
without matching."""

from __future__ import annotations

import torch
from mmengine.structures import InstanceData
from torch import Tensor
from torchvision.ops import box_convert

from labdet.models.dense_heads.deformable_detr_head import (
    DeformableDETRHead,
    _mean_over_processes,
    normalized_cxcywh,
)
from labdet.registry import MODELS


@MODELS.register_module()
class DINOHead(DeformableDETRHead):
    """:class:`DeformableDETRHead` whose decoder queries start with ``dn_meta``'s
    denoising queries while training.

    Losses: ``loss_*`` / ``d{l}.loss_*`` of the matching queries (Hungarian), ``enc_loss_*``
    of the encoder's top proposals (matched with their classes), ``dn_loss_*`` /
    ``d{l}.dn_loss_*`` of the denoising queries. Arguments as DeformableDETRHead's.
    """

    def loss(
        self,
        hidden_states: Tensor,
        references: list[Tensor],
        gt_instances: list[InstanceData],
        img_shapes: list[tuple[int, int]],
        enc_outputs: tuple[Tensor, Tensor] | None = None,
        dn_meta: dict | None = None,
    ) -> dict[str, Tensor]:
        """Losses of the decoder's outputs (hidden_states Tensor[N, B, D + Q, C]); ``enc_outputs``
        the top proposals' logits and boxes (Tensor[B, Q, K], Tensor[B, Q, 4])."""
        all_logits, all_boxes = self(hidden_states, references)
        num_dn = dn_meta["num_denoising_queries"] if dn_meta else 0
        losses = {}
        num_layers = len(all_logits)
        for layer in range(num_layers):
            prefix = "" if layer == num_layers - 1 else f"d{layer}."
            matched = self.matched_losses(
                all_logits[layer, :, num_dn:],
                all_boxes[layer, :, num_dn:],
                gt_instances,
                img_shapes,
            )
            losses.update({prefix + k: v for k, v in matched.items()})
            if dn_meta is not None:
                denoising = self.denoising_losses(
                    all_logits[layer, :, :num_dn],
                    all_boxes[layer, :, :num_dn],
                    gt_instances,
                    img_shapes,
                    dn_meta["num_denoising_groups"],
                )
                losses.update({prefix + "dn_" + k: v for k, v in denoising.items()})
        if enc_outputs is not None:
            enc = self.matched_losses(*enc_outputs, gt_instances, img_shapes)
            losses.update({"enc_" + k: v for k, v in enc.items()})
        return losses

    def denoising_losses(
        self,
        logits: Tensor,
        boxes: Tensor,
        gt_instances: list[InstanceData],
        img_shapes: list[tuple[int, int]],
        num_groups: int,
    ) -> dict[str, Tensor]:
        """``loss_cls``, ``loss_bbox``, ``loss_iou`` of the denoising queries (logits
        Tensor[B, D, K], boxes Tensor[B, D, 4]): in every group of 2M slots, slot j < M
        of image i learns its j-th ground truth, the others background; all divided by
        the number of positive slots."""
        num_dn = logits.shape[1]
        max_targets = num_dn // (2 * num_groups) if num_groups else 0
        cls_targets = torch.zeros_like(logits)
        pred_pos, target_pos, scales = [], [], []
        for i, (gt, img_shape) in enumerate(zip(gt_instances, img_shapes)):
            count = len(gt)
            if count == 0:
                continue
            slots = (
                torch.arange(num_groups, device=logits.device)[:, None] * 2 * max_targets
                + torch.arange(count, device=logits.device)
            ).flatten()
            labels = gt.labels.repeat(num_groups)
            cls_targets[i, slots, labels] = 1.0
            pred_pos.append(boxes[i, slots])
            target_pos.append(
                normalized_cxcywh(gt.bboxes.to(boxes.dtype), img_shape).repeat(num_groups, 1)
            )
            h, w = img_shape
            scales.append(boxes.new_tensor([w, h, w, h]).expand(len(slots), 4))
        num_pos = _mean_over_processes(sum(len(p) for p in pred_pos), logits.device)
        loss_cls = self.loss_cls(
            logits.flatten(0, 1), cls_targets.flatten(0, 1), avg_factor=num_pos
        )
        if not pred_pos:
            zero = boxes.sum() * 0
            return dict(loss_cls=loss_cls, loss_bbox=zero, loss_iou=zero)
        pred_pos, target_pos, scale = torch.cat(pred_pos), torch.cat(target_pos), torch.cat(scales)
        return dict(
            loss_cls=loss_cls,
            loss_bbox=self.loss_bbox(pred_pos, target_pos, avg_factor=num_pos),
            loss_iou=self.loss_iou(
                box_convert(pred_pos, "cxcywh", "xyxy") * scale,
                box_convert(target_pos, "cxcywh", "xyxy") * scale,
                avg_factor=num_pos,
            ),
        )
