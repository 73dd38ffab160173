"""Deformable DETR's prediction head (Zhu et al., ICLR 2021): a class and a box branch on
every decoder layer's queries, trained through one-to-one (Hungarian) matching with
sigmoid focal, L1 and GIoU losses, each decoder layer's predictions supervised (the
auxiliary losses) and, two-stage, the encoder's proposals as well."""

from __future__ import annotations

import math

import torch
from mmengine.dist import all_reduce
from mmengine.structures import InstanceData
from torch import Tensor, nn
from torchvision.ops import box_convert

from labdet.models.transformers.deformable_detr_layers import inverse_sigmoid
from labdet.models.utils import build, clip_boxes
from labdet.registry import MODELS, TASK_UTILS


def _box_mlp(embed_dims: int, num_fcs: int = 2) -> nn.Sequential:
    layers = []
    for _ in range(num_fcs):
        layers += [nn.Linear(embed_dims, embed_dims), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(embed_dims, 4))


def normalized_cxcywh(boxes: Tensor, img_shape: tuple[int, int]) -> Tensor:
    """Pixel boxes Tensor[N, 4] (x1, y1, x2, y2) as (cx, cy, w, h) divided by the image
    size of ``img_shape`` (h, w)."""
    height, width = img_shape
    return box_convert(boxes, "xyxy", "cxcywh") / boxes.new_tensor([width, height, width, height])


def pixel_xyxy(boxes: Tensor, img_shape: tuple[int, int]) -> Tensor:
    """The inverse of :func:`normalized_cxcywh`."""
    height, width = img_shape
    return box_convert(boxes, "cxcywh", "xyxy") * boxes.new_tensor([width, height, width, height])


def _mean_over_processes(value: float, device: torch.device) -> Tensor:
    """``value`` averaged over the distributed processes (itself when there is one), at
    least 1: the normaliser of the matched-box losses."""
    total = torch.tensor(float(value), device=device)
    all_reduce(total, op="mean")
    return total.clamp(min=1.0)


@MODELS.register_module()
class DeformableDETRHead(nn.Module):
    """Per decoder layer: ``cls_branches[i]`` (Linear C -> K) and ``reg_branches[i]`` (a
    3-layer MLP C -> 4 whose output adds to the reference point's logit).

    Boxes are (cx, cy, w, h) in [0, 1] of the image (``img_shape``); box i of layer l is
    ``sigmoid(reg_branches[l](h) + inverse_sigmoid(reference))`` (on (cx, cy) alone when
    the reference is a point).

    Args:
        num_classes: K (sigmoid outputs, no background class).
        embed_dims: C.
        num_pred_layer: branches: one per decoder layer, one more for the encoder's
            proposals when two-stage.
        share_pred_layer: one class and one box branch shared by all layers (without box
            refinement) instead of one per layer.
        assigner: TASK_UTILS config or object (:class:`HungarianAssigner`).
        loss_cls, loss_bbox, loss_iou: FocalLoss, L1Loss (on normalised cxcywh) and
            GIoULoss (on pixel boxes), each divided by the number of ground-truth boxes
            (averaged over processes, at least 1).
        test_cfg: ``max_per_img``, the detections kept: the top scores over queries x
            classes of the last layer.

    Initialisation: class biases at the focal-loss prior (probability 0.01), the box
    branches' last layer at zero, its (w, h) bias at -2 for the first layer's branch
    (all of them when shared) unless two-stage, where proposals give the sizes.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        embed_dims: int = 256,
        num_pred_layer: int = 6,
        share_pred_layer: bool = True,
        as_two_stage: bool = False,
        assigner,
        loss_cls,
        loss_bbox,
        loss_iou,
        test_cfg: dict,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.assigner = build(assigner, TASK_UTILS)
        self.loss_cls = build(loss_cls, MODELS)
        self.loss_bbox = build(loss_bbox, MODELS)
        self.loss_iou = build(loss_iou, MODELS)
        self.test_cfg = dict(test_cfg)
        if share_pred_layer:
            cls_branch, reg_branch = nn.Linear(embed_dims, num_classes), _box_mlp(embed_dims)
            self.cls_branches = nn.ModuleList([cls_branch] * num_pred_layer)
            self.reg_branches = nn.ModuleList([reg_branch] * num_pred_layer)
        else:
            self.cls_branches = nn.ModuleList(
                [nn.Linear(embed_dims, num_classes) for _ in range(num_pred_layer)]
            )
            self.reg_branches = nn.ModuleList([_box_mlp(embed_dims) for _ in range(num_pred_layer)])

        prior_bias = -math.log((1 - 0.01) / 0.01)
        for branch in self.cls_branches:
            nn.init.constant_(branch.bias, prior_bias)
        for branch in self.reg_branches:
            nn.init.zeros_(branch[-1].weight)
            nn.init.zeros_(branch[-1].bias)
        if not as_two_stage:
            nn.init.constant_(self.reg_branches[0][-1].bias[2:], -2.0)

    def forward(self, hidden_states: Tensor, references: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Class logits Tensor[N, B, Q, K] and boxes Tensor[N, B, Q, 4] (normalised
        cxcywh) of the N decoder layers' ``hidden_states`` (Tensor[N, B, Q, C]);
        ``references[l]`` (Tensor[B, Q, 2 or 4]) is the reference layer l attended around."""
        outputs = [
            self.predict_layer(layer, hidden, references[layer])
            for layer, hidden in enumerate(hidden_states)
        ]
        return torch.stack([o[0] for o in outputs]), torch.stack([o[1] for o in outputs])

    def predict_layer(self, layer: int, hidden: Tensor, reference: Tensor) -> tuple[Tensor, Tensor]:
        """Logits Tensor[B, Q, K] and boxes Tensor[B, Q, 4] of decoder layer ``layer`` from
        its queries ``hidden`` (Tensor[B, Q, C]) and ``reference`` (Tensor[B, Q, 2 or 4])."""
        reference = inverse_sigmoid(reference)
        delta = self.reg_branches[layer](hidden)
        if reference.shape[-1] == 4:
            boxes = delta + reference
        else:
            boxes = torch.cat([delta[..., :2] + reference, delta[..., 2:]], dim=-1)
        return self.cls_branches[layer](hidden), boxes.sigmoid()

    def loss(
        self,
        hidden_states: Tensor,
        references: list[Tensor],
        gt_instances: list[InstanceData],
        img_shapes: list[tuple[int, int]],
        enc_outputs: tuple[Tensor, Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """The losses of every decoder layer: ``loss_cls``, ``loss_bbox``, ``loss_iou`` of
        the last, ``d{l}.loss_*`` of layer l before it, and ``enc_loss_*`` of the encoder's
        proposals (``enc_outputs``: logits Tensor[B, S, K], boxes Tensor[B, S, 4]), matched
        class-agnostically (every ground truth is class 0)."""
        all_logits, all_boxes = self(hidden_states, references)
        losses = {}
        num_layers = len(all_logits)
        for layer in range(num_layers):
            prefix = "" if layer == num_layers - 1 else f"d{layer}."
            layer_losses = self.matched_losses(
                all_logits[layer], all_boxes[layer], gt_instances, img_shapes
            )
            losses.update({prefix + k: v for k, v in layer_losses.items()})
        if enc_outputs is not None:
            agnostic = [
                InstanceData(bboxes=gt.bboxes, labels=torch.zeros_like(gt.labels))
                for gt in gt_instances
            ]
            enc_losses = self.matched_losses(*enc_outputs, agnostic, img_shapes)
            losses.update({"enc_" + k: v for k, v in enc_losses.items()})
        return losses

    def matched_losses(
        self,
        logits: Tensor,
        boxes: Tensor,
        gt_instances: list[InstanceData],
        img_shapes: list[tuple[int, int]],
    ) -> dict[str, Tensor]:
        """``loss_cls``, ``loss_bbox``, ``loss_iou`` of one set of predictions (logits
        Tensor[B, Q, K], boxes Tensor[B, Q, 4] normalised cxcywh) matched one-to-one with
        the ground truth (pixel xyxy boxes of each image's ``img_shape``)."""
        cls_targets = torch.zeros_like(logits)
        pred_pos, target_pos, shapes_pos = [], [], []
        for i, (gt, img_shape) in enumerate(zip(gt_instances, img_shapes)):
            gt_boxes = normalized_cxcywh(gt.bboxes.to(boxes.dtype), img_shape)
            matched = self.assigner.assign(
                pred_logits=logits[i],
                pred_boxes=boxes[i],
                gt_labels=gt.labels,
                gt_boxes=gt_boxes,
                img_shape=img_shape,
            )
            pos = torch.where(matched >= 0)[0]
            cls_targets[i, pos, gt.labels[matched[pos]]] = 1.0
            pred_pos.append(boxes[i, pos])
            target_pos.append(gt_boxes[matched[pos]])
            shapes_pos.append(torch.tensor([img_shape], device=boxes.device).expand(len(pos), 2))
        pred_pos, target_pos = torch.cat(pred_pos), torch.cat(target_pos)
        shapes_pos = torch.cat(shapes_pos).to(boxes.dtype)
        num_pos = _mean_over_processes(len(pred_pos), boxes.device)
        loss_cls = self.loss_cls(
            logits.flatten(0, 1), cls_targets.flatten(0, 1), avg_factor=num_pos
        )
        loss_bbox = self.loss_bbox(pred_pos, target_pos, avg_factor=num_pos)
        # GIoU in pixels: each box scaled by its own image's (w, h, w, h)
        scale = shapes_pos[:, [1, 0, 1, 0]]
        loss_iou = self.loss_iou(
            box_convert(pred_pos, "cxcywh", "xyxy") * scale,
            box_convert(target_pos, "cxcywh", "xyxy") * scale,
            avg_factor=num_pos,
        )
        return dict(loss_cls=loss_cls, loss_bbox=loss_bbox, loss_iou=loss_iou)

    @torch.no_grad()
    def predict(
        self,
        hidden_states: Tensor,
        references: list[Tensor],
        img_shapes: list[tuple[int, int]],
    ) -> list[InstanceData]:
        """Per image the top ``max_per_img`` (query, class) pairs of the last layer by
        sigmoid score: InstanceData with ``bboxes`` (Tensor[M, 4] pixel xyxy, clipped to
        ``img_shape``), ``scores`` and ``labels``."""
        last = len(hidden_states) - 1
        logits, boxes = self.predict_layer(last, hidden_states[last], references[last])
        results = []
        for img_logits, img_boxes, img_shape in zip(logits, boxes, img_shapes):
            k = min(self.test_cfg["max_per_img"], img_logits.numel())
            scores, index = img_logits.sigmoid().flatten().topk(k)
            labels = index % self.num_classes
            query = torch.div(index, self.num_classes, rounding_mode="floor")
            bboxes = clip_boxes(pixel_xyxy(img_boxes[query], img_shape), img_shape)
            results.append(InstanceData(bboxes=bboxes, scores=scores, labels=labels))
        return results
