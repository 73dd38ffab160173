"""Benchmark of the compiled ops against their plain references: ``nox -s bench-ops``.

    python -m labcore.ops.bench [--device cpu|cuda] [--repeats N] [--quick]

Prints, for each op, the median time of the op and of its reference and their ratio,
and the peak memory each needs on top of its inputs. On the CPU, peak memory is read
from the profiler's allocation events (torch.profiler with ``profile_memory=True``: the
running sum of every allocation and free made by torch during one call, so memory held
before the call does not count and the result does not depend on the allocator's
caching, unlike a process-RSS delta). On CUDA it is ``torch.cuda.max_memory_allocated``
after a reset.

References: torchvision.ops.sigmoid_focal_loss; Deformable DETR's plain formulation of
multi-scale deformable attention with ``grid_sample``; soft-NMS as a plain torch loop
(one vectorised step per kept box), and per category for batched soft-NMS;
torchvision.ops.box_iou for bbox_overlaps and generalized_box_iou with autograd for its
backward; rotated-box IoU by polygon clipping in plain torch, vectorised over pairs, and
greedy rotated NMS as a plain torch loop over it; rotated RoI Align as plain-torch bilinear
sampling vectorised over RoIs, forward and backward by autograd.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou, generalized_box_iou
from torchvision.ops import sigmoid_focal_loss as tv_sigmoid_focal_loss

from labcore.ops import (
    batched_soft_nms,
    bbox_overlaps,
    box_iou_rotated,
    multi_scale_deformable_attention,
    nms_rotated,
    roi_align_rotated,
    sigmoid_focal_loss,
    soft_nms,
)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_seconds(fn: Callable[[], object], device: str, repeats: int) -> float:
    fn()  # warm-up
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_seconds(
    fns: Sequence[Callable[[], object]],
    device: str,
    repeats: int,
    advance: Callable[[], object] | None = None,
) -> list[float]:
    """Median seconds of each of ``fns`` over ``repeats`` rounds after one warm-up round;
    a round runs every function once, in an order that alternates from round to round,
    so that a change of load on a shared machine falls on all of them alike. ``advance``
    is called after each round (a progress bar's step)."""
    times: list[list[float]] = [[] for _ in fns]
    for round_ in range(repeats + 1):
        order = list(range(len(fns)))
        if round_ % 2:
            order.reverse()
        for index in order:
            _sync(device)
            start = time.perf_counter()
            fns[index]()
            _sync(device)
            if round_:  # round 0 warms up
                times[index].append(time.perf_counter() - start)
        if advance is not None:
            advance()
    return [statistics.median(t) for t in times]


def peak_bytes(fn: Callable[[], object], device: str) -> int:
    """Peak of the memory allocated by one call of fn, above what was allocated before."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities, profile_memory=True) as prof:
        fn()
    # The raw allocation records (the summarised events attribute most of them to ops).
    records = prof.profiler.kineto_results.events()
    deltas = sorted(
        (event.start_ns(), event.nbytes())
        for event in records
        if event.name() == "[memory]" and event.device_type().name == "CPU"
    )
    current = peak = 0
    for _, delta in deltas:
        current += delta
        peak = max(peak, current)
    return peak


def reference_msda(value, spatial_shapes, sampling_locations, attention_weights):
    """Deformable DETR's plain formulation: grid_sample per level, then a weighted sum."""
    batch, _, heads, channels = value.shape
    _, queries, _, levels, points, _ = sampling_locations.shape
    sizes = [int(h) * int(w) for h, w in spatial_shapes.tolist()]
    grids = 2 * sampling_locations - 1
    sampled = []
    for level, value_l in enumerate(value.split(sizes, dim=1)):
        h, w = spatial_shapes[level].tolist()
        image = value_l.flatten(2).transpose(1, 2).reshape(batch * heads, channels, h, w)
        grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        sampled.append(
            F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        )
    weights = attention_weights.transpose(1, 2).reshape(batch * heads, 1, queries, levels * points)
    out = (torch.stack(sampled, dim=-2).flatten(-2) * weights).sum(-1)
    return out.view(batch, heads * channels, queries).transpose(1, 2).contiguous()


def reference_soft_nms(boxes, scores, iou_threshold=0.3, min_score=1e-3):
    """Linear soft-NMS as a plain torch loop: one vectorised step per kept box. Returns
    the kept indices and their decayed scores (a kept box's score no longer changes)."""
    scores = scores.clone()
    alive = scores >= min_score
    keep = []
    while bool(alive.any()):
        i = int(torch.where(alive, scores, -torch.inf).argmax())
        keep.append(i)
        alive[i] = False
        iou = box_iou(boxes[i : i + 1], boxes)[0]
        decay = torch.where(iou > iou_threshold, 1 - iou, torch.ones_like(iou))
        scores = torch.where(alive, scores * decay, scores)
        alive &= scores >= min_score
    keep = torch.tensor(keep, dtype=torch.int64, device=boxes.device)
    return keep, scores[keep]


def reference_batched_soft_nms(boxes, scores, idxs, iou_threshold=0.3, min_score=1e-3):
    """Linear soft-NMS per category, then all kept boxes by decreasing decayed score."""
    keep, kept = [], []
    for category in idxs.unique().tolist():
        members = torch.nonzero(idxs == category).flatten()
        k, s = reference_soft_nms(boxes[members], scores[members], iou_threshold, min_score)
        keep.append(members[k])
        kept.append(s)
    keep, kept = torch.cat(keep), torch.cat(kept)
    order = kept.argsort(descending=True, stable=True)
    return keep[order], kept[order]


def _rotated_corners(boxes):
    """Tensor[K, 5] (cx, cy, w, h, angle) -> Tensor[K, 4, 2], counter-clockwise."""
    cx, cy, w, h, angle = boxes.unbind(-1)
    cos, sin = angle.cos()[:, None], angle.sin()[:, None]
    x = torch.tensor([-0.5, 0.5, 0.5, -0.5], dtype=boxes.dtype, device=boxes.device) * w[:, None]
    y = torch.tensor([-0.5, -0.5, 0.5, 0.5], dtype=boxes.dtype, device=boxes.device) * h[:, None]
    return torch.stack([cx[:, None] + cos * x - sin * y, cy[:, None] + sin * x + cos * y], -1)


def _cross(u, v):
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def _inside(points, polygon):
    """Tensor[..., 4] of bool: is each point of Tensor[..., 4, 2] inside (or on) the convex
    counter-clockwise polygon Tensor[..., 4, 2]?"""
    edges = polygon.roll(-1, dims=-2) - polygon  # [..., 4 edges, 2]
    # [..., 4 points, 4 edges]
    cross = _cross(edges[..., None, :, :], points[..., :, None, :] - polygon[..., None, :, :])
    return (cross >= -1e-5 * (edges**2).sum(-1)[..., None, :]).all(-1)


def _rotated_iou_rows(boxes1, boxes2):
    """IoU of Tensor[R, 5] with Tensor[M, 5] by polygon clipping: Tensor[R, M]."""
    rows, cols = len(boxes1), len(boxes2)
    pa = _rotated_corners(boxes1)[:, None].expand(rows, cols, 4, 2)
    pb = _rotated_corners(boxes2)[None].expand(rows, cols, 4, 2)
    # crossings of edge i of a with edge j of b: [R, M, 4, 4]
    p, r = pa[:, :, :, None], (pa.roll(-1, dims=2) - pa)[:, :, :, None]
    q, s = pb[:, :, None], (pb.roll(-1, dims=2) - pb)[:, :, None]
    denom = _cross(r, s)
    safe = torch.where(denom.abs() > 1e-12, denom, torch.ones_like(denom))
    t = _cross(q - p, s) / safe
    u = _cross(q - p, r) / safe
    crossing = (denom.abs() > 1e-12) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    crossings = (p + t[..., None] * r).flatten(2, 3)
    points = torch.cat([pa, pb, crossings], 2)  # [R, M, 24, 2]
    valid = torch.cat([_inside(pa, pb), _inside(pb, pa), crossing.flatten(2, 3)], 2)
    count = valid.sum(-1)
    centre = (points * valid[..., None]).sum(2) / count.clamp(min=1)[..., None]
    angle = torch.atan2(
        points[..., 1] - centre[..., None, 1], points[..., 0] - centre[..., None, 0]
    )
    order = torch.where(valid, angle, torch.inf).argsort(-1)
    points = points.gather(2, order[..., None].expand_as(points))
    valid = valid.gather(2, order)
    # the unused places repeat the first point, so they add no area to the shoelace sum
    points = torch.where(valid[..., None], points, points[:, :, :1])
    inter = _cross(points, points.roll(-1, dims=2)).sum(-1).abs() / 2
    inter = torch.where(count >= 3, inter, torch.zeros_like(inter))
    area1 = (boxes1[:, 2] * boxes1[:, 3])[:, None]
    area2 = (boxes2[:, 2] * boxes2[:, 3])[None]
    union = area1 + area2 - inter
    proper = (boxes1[:, 2:4].min(1).values > 0)[:, None] & (boxes2[:, 2:4].min(1).values > 0)[None]
    return torch.where(
        proper & (union > 0), inter / union.clamp(min=1e-12), torch.zeros_like(inter)
    )


def reference_box_iou_rotated(boxes1, boxes2, pairs_per_chunk=2**16):
    """Pairwise IoU of rotated boxes (cx, cy, w, h, angle) in plain torch, vectorised over
    pairs: the intersection is the convex hull of the corners of each box inside the other
    and of the edge crossings, ordered by angle around its centroid (shoelace area). Rows
    are taken in chunks of about ``pairs_per_chunk`` pairs to bound the memory."""
    if len(boxes1) == 0 or len(boxes2) == 0:
        return boxes1.new_zeros((len(boxes1), len(boxes2)))
    rows = max(1, pairs_per_chunk // len(boxes2))
    return torch.cat(
        [_rotated_iou_rows(boxes1[i : i + rows], boxes2) for i in range(0, len(boxes1), rows)]
    )


def reference_nms_rotated(boxes, scores, iou_threshold):
    """Greedy rotated NMS as a plain torch loop: one vectorised IoU per kept box."""
    remaining = scores.argsort(descending=True, stable=True)
    keep = []
    while remaining.numel():
        best, remaining = remaining[0], remaining[1:]
        keep.append(best)
        iou = reference_box_iou_rotated(boxes[best][None], boxes[remaining])[0]
        remaining = remaining[iou <= iou_threshold]
    return torch.stack(keep)


def reference_roi_align_rotated(input, rois, output_size, spatial_scale, sampling_ratio):
    """Aligned rotated RoI Align in plain torch, vectorised over RoIs (a fixed
    ``sampling_ratio`` > 0): the bilinear rule of the op, gathered sample by sample."""
    pooled_h, pooled_w = output_size
    n, s = len(rois), sampling_ratio
    channels, height, width = input.shape[1:]
    cx, cy = rois[:, 1] * spatial_scale - 0.5, rois[:, 2] * spatial_scale - 0.5
    w, h = rois[:, 3] * spatial_scale, rois[:, 4] * spatial_scale
    like = dict(device=rois.device, dtype=rois.dtype)
    steps_v = (torch.arange(pooled_h * s, **like) + 0.5) / (pooled_h * s)
    steps_u = (torch.arange(pooled_w * s, **like) + 0.5) / (pooled_w * s)
    v = (steps_v[None, :, None] - 0.5) * h[:, None, None]  # [N, PH*s, 1]
    u = (steps_u[None, None, :] - 0.5) * w[:, None, None]  # [N, 1, PW*s]
    cos, sin = torch.cos(rois[:, 5])[:, None, None], torch.sin(rois[:, 5])[:, None, None]
    x = (u * cos - v * sin + cx[:, None, None]).flatten(1)
    y = (u * sin + v * cos + cy[:, None, None]).flatten(1)
    outside = (y < -1) | (y > height) | (x < -1) | (x > width)
    y, x = y.clamp(min=0), x.clamp(min=0)
    y0 = y.floor().long().clamp(max=height - 1)
    x0 = x.floor().long().clamp(max=width - 1)
    y = torch.where(y0 >= height - 1, y0.to(y.dtype), y)
    x = torch.where(x0 >= width - 1, x0.to(x.dtype), x)
    y1, x1 = (y0 + 1).clamp(max=height - 1), (x0 + 1).clamp(max=width - 1)
    ly, lx = y - y0, x - x0
    # pixels as rows, [B*H*W, C]: each sample reads its C values from its RoI's image
    # without a copy of the image per RoI
    pixels = input.permute(0, 2, 3, 1).reshape(-1, channels)
    first = rois[:, 0].long()[:, None] * (height * width)  # [N, 1]

    def at(yy, xx):  # [N, C, PH*s*PW*s]
        return pixels[first + yy * width + xx].permute(0, 2, 1)

    value = (
        at(y0, x0) * ((1 - ly) * (1 - lx))[:, None]
        + at(y0, x1) * ((1 - ly) * lx)[:, None]
        + at(y1, x0) * (ly * (1 - lx))[:, None]
        + at(y1, x1) * (ly * lx)[:, None]
    )
    value = value.masked_fill(outside[:, None], 0)
    value = value.view(n, channels, pooled_h, s, pooled_w, s)
    return value.mean(dim=(3, 5))


def _row(name: str, size: str, ours: float, ref: float, mem_ours: int, mem_ref: int) -> str:
    return (
        f"{name:<34} {size:<28} {ours * 1e3:>10.1f} {ref * 1e3:>10.1f} {ref / ours:>8.1f}x "
        f"{mem_ours / 2**20:>9.1f} {mem_ref / 2**20:>9.1f} "
        f"{(mem_ref / mem_ours if mem_ours else float('inf')):>7.1f}x"
    )


def compare(
    name: str,
    size: str,
    ours: Callable[[], object],
    reference: Callable[[], object],
    device: str,
    repeats: int,
    reference_repeats: int | None = None,
) -> str:
    """One table row: median times (``repeats`` runs, ``reference_repeats`` for a slow
    reference) and peak memory of ``ours`` and ``reference``, measured back to back."""
    return _row(
        name,
        size,
        median_seconds(ours, device, repeats),
        median_seconds(reference, device, reference_repeats or repeats),
        peak_bytes(ours, device),
        peak_bytes(reference, device),
    )


def bench_focal_loss(device: str, repeats: int, quick: bool) -> str:
    n, k = (20_000, 80) if quick else (200_000, 80)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, k, generator=g).to(device)
    targets = (torch.rand(n, k, generator=g) < 0.01).float().to(device)

    def step(fn):
        def run():
            x = logits.detach().requires_grad_()
            fn(x, targets, 0.25, 2.0, "sum").backward()

        return run

    ours, ref = step(sigmoid_focal_loss), step(tv_sigmoid_focal_loss)
    return compare(
        "sigmoid_focal_loss fwd+bwd (sum)",
        f"{n} x {k}",
        ours,
        ref,
        device,
        repeats,
    )


def bench_msda(device: str, repeats: int, quick: bool, queries: int | None) -> str:
    # Deformable DETR: 256 channels in 8 heads, 4 levels (strides 8..64 of a 512 x 640
    # image), 4 points; the encoder's queries are all S positions, the decoder has 300.
    shapes = [(64, 80), (32, 40), (16, 20), (8, 10)]
    if quick:
        shapes = [(h // 2, w // 2) for h, w in shapes]
    heads, channels, points = 8, 32, 4
    spatial_shapes = torch.tensor(shapes, dtype=torch.int64, device=device)
    starts = torch.cat([spatial_shapes.new_zeros(1), spatial_shapes.prod(1).cumsum(0)[:-1]])
    keys = int(spatial_shapes.prod(1).sum())
    q = keys if queries is None else queries
    g = torch.Generator().manual_seed(0)
    value = torch.randn(1, keys, heads, channels, generator=g).to(device)
    loc = torch.rand(1, q, heads, len(shapes), points, 2, generator=g).to(device)
    attn = torch.rand(1, q, heads, len(shapes), points, generator=g).softmax(-1).to(device)

    def step(fn, with_starts):
        def run():
            v, lo, a = (t.detach().requires_grad_() for t in (value, loc, attn))
            extra = (starts,) if with_starts else ()
            out = fn(v, spatial_shapes, *extra, lo, a)
            out.sum().backward()

        return run

    ours = step(multi_scale_deformable_attention, True)
    ref = step(reference_msda, False)
    label = "encoder" if queries is None else "decoder"
    return compare(
        f"ms_deform_attn fwd+bwd ({label})",
        f"Q={q} S={keys} H=8 D=32 L=4 P=4",
        ours,
        ref,
        device,
        repeats,
    )


def clustered_boxes(n: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Detections in clusters of about 20 boxes, as a detector's raw output."""
    g = torch.Generator().manual_seed(0)
    centres = torch.rand(n // 20, 2, generator=g) * 1000
    xy = (
        centres[torch.randint(len(centres), (n,), generator=g)] + torch.randn(n, 2, generator=g) * 8
    )
    wh = torch.rand(n, 2, generator=g) * 60 + 20
    boxes = torch.cat([xy - wh / 2, xy + wh / 2], 1)
    return boxes.to(device), torch.rand(n, generator=g).to(device)


def bench_soft_nms(device: str, repeats: int, quick: bool) -> str:
    n = 2_000 if quick else 10_000
    boxes, scores = clustered_boxes(n, device)
    ours = lambda: soft_nms(boxes, scores, 0.3, 0.5, 1e-3, "linear")  # noqa: E731
    ref = lambda: reference_soft_nms(boxes, scores, 0.3, 1e-3)  # noqa: E731
    kept = len(ours()[0])
    return compare(
        "soft_nms linear",
        f"{n} boxes, {kept} kept",
        ours,
        ref,
        device,
        repeats,
        reference_repeats=1,
    )


def bench_bbox_overlaps(device: str, repeats: int, quick: bool) -> str:
    n, m = (2_000, 1_000) if quick else (10_000, 5_000)
    a, _ = clustered_boxes(n, device)
    b, _ = clustered_boxes(m, device)
    return compare(
        "bbox_overlaps iou",
        f"{n} x {m}",
        lambda: bbox_overlaps(a, b),
        lambda: box_iou(a, b),
        device,
        repeats,
    )


def bench_bbox_overlaps_giou_backward(device: str, repeats: int, quick: bool) -> str:
    n, m = (1_000, 500) if quick else (4_000, 2_000)
    a, _ = clustered_boxes(n, device)
    b, _ = clustered_boxes(m, device)

    def step(fn):
        def run():
            x, y = a.detach().requires_grad_(), b.detach().requires_grad_()
            fn(x, y).sum().backward()

        return run

    ours = step(lambda x, y: bbox_overlaps(x, y, "giou"))
    ref = step(generalized_box_iou)
    return compare(
        "bbox_overlaps giou fwd+bwd",
        f"{n} x {m}",
        ours,
        ref,
        device,
        repeats,
    )


def rotated_boxes(n: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The clustered boxes of clustered_boxes as (cx, cy, w, h, angle), at random angles."""
    boxes, scores = clustered_boxes(n, "cpu")
    angle = (torch.rand(n, 1, generator=torch.Generator().manual_seed(1)) - 0.5) * torch.pi
    rotated = torch.cat([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2], angle], 1)
    return rotated.to(device), scores.to(device)


def bench_box_iou_rotated(device: str, repeats: int, quick: bool) -> str:
    n = 500 if quick else 2_000
    a, _ = rotated_boxes(n, device)
    b = a.flip(0)
    return compare(
        "box_iou_rotated",
        f"{n} x {n}",
        lambda: box_iou_rotated(a, b),
        lambda: reference_box_iou_rotated(a, b),
        device,
        repeats,
        reference_repeats=1,
    )


def bench_nms_rotated(device: str, repeats: int, quick: bool) -> str:
    n = 1_000 if quick else 5_000
    boxes, scores = rotated_boxes(n, device)
    ours = lambda: nms_rotated(boxes, scores, 0.5)  # noqa: E731
    ref = lambda: reference_nms_rotated(boxes, scores, 0.5)  # noqa: E731
    kept = len(ours())
    return compare(
        "nms_rotated",
        f"{n} boxes, {kept} kept",
        ours,
        ref,
        device,
        repeats,
        reference_repeats=1,
    )


def bench_roi_align_rotated(device: str, repeats: int, quick: bool) -> str:
    # Oriented R-CNN's RoI head: 512 rotated RoIs, 7 x 7 bins of 2 x 2 samples on a
    # 256-channel stride-8 map of a 1024 x 1024 patch (64 channels and 128 RoIs when quick)
    n, channels, size = (128, 64, 64) if quick else (512, 256, 128)
    g = torch.Generator().manual_seed(3)
    features = torch.randn(2, channels, size, size, generator=g).to(device)
    boxes, _ = rotated_boxes(n, "cpu")
    boxes[:, :4] *= size * 8 / boxes[:, :2].max()
    rois = torch.cat([torch.randint(2, (n, 1), generator=g).float(), boxes], 1).to(device)

    def step(fn):
        def run():
            x = features.detach().requires_grad_()
            fn(x, rois, (7, 7), 1 / 8, 2).sum().backward()

        return run

    return compare(
        "roi_align_rotated fwd+bwd",
        f"{n} RoIs, {channels} x {size}^2, 7x7",
        step(roi_align_rotated),
        step(reference_roi_align_rotated),
        device,
        repeats,
    )


def bench_batched_soft_nms(device: str, repeats: int, quick: bool) -> str:
    n, classes = (2_000, 80) if quick else (10_000, 80)
    boxes, scores = clustered_boxes(n, device)
    idxs = torch.randint(classes, (n,), generator=torch.Generator().manual_seed(2)).to(device)
    ours = lambda: batched_soft_nms(boxes, scores, idxs, 0.3, 0.5, 1e-3, "linear")  # noqa: E731
    ref = lambda: reference_batched_soft_nms(boxes, scores, idxs, 0.3, 1e-3)  # noqa: E731
    kept = len(ours()[0])
    return compare(
        "batched_soft_nms linear",
        f"{n} boxes, {classes} cls, {kept} kept",
        ours,
        ref,
        device,
        repeats,
        reference_repeats=1,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device == "cuda" else "")
    )
    print(
        f"{'op':<34} {'size':<28} {'ours ms':>10} {'ref ms':>10} {'speed':>9} "
        f"{'ours MiB':>9} {'ref MiB':>9} {'memory':>8}"
    )
    benches = [
        lambda: bench_focal_loss(args.device, args.repeats, args.quick),
        lambda: bench_msda(args.device, args.repeats, args.quick, queries=None),
        lambda: bench_msda(args.device, args.repeats, args.quick, queries=300),
        lambda: bench_soft_nms(args.device, args.repeats, args.quick),
        lambda: bench_batched_soft_nms(args.device, args.repeats, args.quick),
        lambda: bench_bbox_overlaps(args.device, args.repeats, args.quick),
        lambda: bench_bbox_overlaps_giou_backward(args.device, args.repeats, args.quick),
        lambda: bench_box_iou_rotated(args.device, args.repeats, args.quick),
        lambda: bench_nms_rotated(args.device, args.repeats, args.quick),
        lambda: bench_roi_align_rotated(args.device, args.repeats, args.quick),
    ]
    for bench in benches:
        print(bench(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
