"""Box coders for rotated boxes: regression targets relative to anchors, and back."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from labrot.registry import TASK_UTILS
from labrot.structures import check_angle_version, hbox_of, rbox_to_poly, regularize


def _wrap_half_turn(angle: Tensor) -> Tensor:
    """``angle`` shifted by a multiple of pi into [-pi/2, pi/2)."""
    return torch.remainder(angle + math.pi / 2, math.pi) - math.pi / 2


@TASK_UTILS.register_module()
class DeltaXYWHABoxCoder:
    """Rotated delta coding ``(dx, dy, dw, dh, da) * weights`` of boxes against rotated anchors.

    For an anchor ``(ax, ay, aw, ah, aa)`` and a box ``(gx, gy, gw, gh, ga)``:
    the centre offset is measured in the anchor's own frame, ``dx = ((gx - ax) cos aa +
    (gy - ay) sin aa) / aw``, ``dy = (-(gx - ax) sin aa + (gy - ay) cos aa) / ah``; of the
    box's two names ``(gw, gh, ga)`` and ``(gh, gw, ga + pi/2)`` the one whose angle is
    closer to ``aa`` is used, so ``da = ga' - aa`` is normalised into [-pi/4, pi/4] and the
    target never jumps at the boundary of an angle range; ``dw = log(gw' / aw)``,
    ``dh = log(gh' / ah)``. Decoded boxes are regularised into ``angle_version``.
    (MMRotate's ``DeltaXYWHTRBBoxCoder`` with ``proj_xy`` and ``edge_swap``.)

    Args:
        angle_version: ``'oc'``, ``'le90'`` or ``'le135'`` of the decoded boxes.
        weights: (wx, wy, ww, wh, wa) multipliers of the five offsets.
        clip: upper bound of the decoded log-size offsets.
    """

    box_dim = 5

    def __init__(
        self,
        *,
        angle_version: str = "le90",
        weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0, 1.0),
        clip: float = math.log(1000.0 / 16),
    ):
        check_angle_version(angle_version)
        self.angle_version = angle_version
        self.weights = tuple(float(w) for w in weights)
        self.clip = clip

    def encode(self, boxes: Tensor, anchors: Tensor) -> Tensor:
        """Targets Tensor[N, 5] that take ``anchors`` (Tensor[N, 5]) to ``boxes`` (Tensor[N, 5])."""
        ax, ay, aw, ah, aa = anchors.unbind(dim=1)
        gx, gy, gw, gh, ga = boxes.unbind(dim=1)
        d1 = _wrap_half_turn(ga - aa)
        d2 = _wrap_half_turn(ga - aa + math.pi / 2)
        same = d1.abs() <= d2.abs()
        gw, gh = torch.where(same, gw, gh), torch.where(same, gh, gw)
        da = torch.where(same, d1, d2)
        cos, sin = torch.cos(aa), torch.sin(aa)
        ox, oy = gx - ax, gy - ay
        wx, wy, ww, wh, wa = self.weights
        dx = wx * (ox * cos + oy * sin) / aw
        dy = wy * (-ox * sin + oy * cos) / ah
        dw = ww * torch.log(gw / aw)
        dh = wh * torch.log(gh / ah)
        return torch.stack((dx, dy, dw, dh, wa * da), dim=1)

    def decode(self, deltas: Tensor, anchors: Tensor) -> Tensor:
        """Boxes Tensor[N, 5] from ``deltas`` (Tensor[N, 5]) and ``anchors`` (Tensor[N, 5])."""
        anchors = anchors.to(deltas.dtype)
        ax, ay, aw, ah, aa = anchors.unbind(dim=1)
        wx, wy, ww, wh, wa = self.weights
        dx, dy = deltas[:, 0] / wx, deltas[:, 1] / wy
        dw = torch.clamp(deltas[:, 2] / ww, max=self.clip)
        dh = torch.clamp(deltas[:, 3] / wh, max=self.clip)
        da = deltas[:, 4] / wa
        cos, sin = torch.cos(aa), torch.sin(aa)
        ox, oy = dx * aw, dy * ah
        boxes = torch.stack(
            (
                ax + ox * cos - oy * sin,
                ay + ox * sin + oy * cos,
                aw * torch.exp(dw),
                ah * torch.exp(dh),
                aa + da,
            ),
            dim=1,
        )
        return regularize(boxes, self.angle_version)


@TASK_UTILS.register_module()
class MidpointOffsetBoxCoder:
    """Midpoint-offset coding of Oriented R-CNN (Xie et al., ICCV 2021).

    A rotated box is described by its outer axis-aligned box ``(x, y, w, h)`` and two
    offsets: ``da``, from the top edge's midpoint to the box's topmost vertex, over ``w``,
    and ``db``, from the right edge's midpoint to its rightmost vertex, over ``h``; both
    lie in [-0.5, 0.5]. Targets against axis-aligned anchors or proposals
    ``(x1, y1, x2, y2)`` are ``(dx, dy, dw, dh, da, db) * weights`` with the R-CNN
    ``(dx, dy, dw, dh)`` of the outer box. Decoding gives the parallelogram through the
    four vertices ``(x + da w, y - h/2)``, ``(x + w/2, y + db h)`` and their reflections
    in the centre, which is made a rectangle by stretching its shorter diagonal to the
    length of the longer one (the paper's rectification), in ``angle_version``.

    Args:
        angle_version: convention of the decoded boxes.
        weights: (wx, wy, ww, wh, wa, wb) multipliers of the six offsets.
        clip: upper bound of the decoded log-size offsets.
    """

    box_dim = 6

    def __init__(
        self,
        *,
        angle_version: str = "le90",
        weights: Sequence[float] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
        clip: float = math.log(1000.0 / 16),
    ):
        check_angle_version(angle_version)
        self.angle_version = angle_version
        self.weights = tuple(float(w) for w in weights)
        self.clip = clip

    def encode(self, boxes: Tensor, anchors: Tensor) -> Tensor:
        """Targets Tensor[N, 6] from axis-aligned ``anchors`` (Tensor[N, 4]) to rotated
        ``boxes`` (Tensor[N, 5])."""
        px, py = (anchors[:, 0] + anchors[:, 2]) / 2, (anchors[:, 1] + anchors[:, 3]) / 2
        pw, ph = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
        outer = hbox_of(boxes)
        gx, gy = (outer[:, 0] + outer[:, 2]) / 2, (outer[:, 1] + outer[:, 3]) / 2
        gw, gh = outer[:, 2] - outer[:, 0], outer[:, 3] - outer[:, 1]
        poly = rbox_to_poly(boxes)
        xs, ys = poly[:, 0::2], poly[:, 1::2]
        # the topmost vertex (the rightmost of a flat top edge) and the rightmost vertex
        # (the lowest of a vertical right edge), as MMRotate's MidpointOffsetCoder
        top = torch.where(ys - ys.min(dim=1, keepdim=True).values <= 0.1, xs, -math.inf)
        right = torch.where(xs.max(dim=1, keepdim=True).values - xs <= 0.1, ys, -math.inf)
        ga, gb = top.max(dim=1).values, right.max(dim=1).values
        wx, wy, ww, wh, wa, wb = self.weights
        return torch.stack(
            (
                wx * (gx - px) / pw,
                wy * (gy - py) / ph,
                ww * torch.log(gw / pw),
                wh * torch.log(gh / ph),
                wa * (ga - gx) / gw,
                wb * (gb - gy) / gh,
            ),
            dim=1,
        )

    def decode(self, deltas: Tensor, anchors: Tensor) -> Tensor:
        """Rotated boxes Tensor[N, 5] from ``deltas`` (Tensor[N, 6]) and axis-aligned
        ``anchors`` (Tensor[N, 4])."""
        anchors = anchors.to(deltas.dtype)
        px, py = (anchors[:, 0] + anchors[:, 2]) / 2, (anchors[:, 1] + anchors[:, 3]) / 2
        pw, ph = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
        wx, wy, ww, wh, wa, wb = self.weights
        gx = px + pw * deltas[:, 0] / wx
        gy = py + ph * deltas[:, 1] / wy
        gw = pw * torch.exp(torch.clamp(deltas[:, 2] / ww, max=self.clip))
        gh = ph * torch.exp(torch.clamp(deltas[:, 3] / wh, max=self.clip))
        da = torch.clamp(deltas[:, 4] / wa, -0.5, 0.5)
        db = torch.clamp(deltas[:, 5] / wb, -0.5, 0.5)
        center = torch.stack((gx, gy), dim=1)
        top = torch.stack((gx + da * gw, gy - gh / 2), dim=1) - center
        right = torch.stack((gx + gw / 2, gy + db * gh), dim=1) - center
        # rectify: both half-diagonals get the length of the longer one
        half = torch.maximum(top.norm(dim=1), right.norm(dim=1)).clamp(min=1e-6)[:, None]
        top = top / top.norm(dim=1, keepdim=True).clamp(min=1e-6) * half
        right = right / right.norm(dim=1, keepdim=True).clamp(min=1e-6) * half
        # the rectangle's corners are +-top and +-right; its sides join top->right->-top
        side1, side2 = right - top, -top - right
        width, height = side1.norm(dim=1), side2.norm(dim=1)
        angle = torch.atan2(side1[:, 1], side1[:, 0])
        boxes = torch.stack((gx, gy, width, height, angle), dim=1)
        return regularize(boxes, self.angle_version)
