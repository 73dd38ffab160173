"""Time labdet's R50-FPN detectors against torchvision's same models on the same batch.

    python -m labdet.bench [--device cuda] [--size 512] [--batch 2] [--repeats 5] [--quick]

For RetinaNet and Faster R-CNN, torchvision's model is built with random weights and a
FrozenBatchNorm2d ResNet-50; labdet's model is built from the matching ``*_tv_coco``
config and loads the same weights through ``convert_torchvision_detector``. Both see the
same images (already at ``--size``, so neither resizes) and the same ground truth. Printed
per model: median time of a training step (forward, backward, SGD step) and of inference,
the ratio labdet / torchvision (below 1: labdet is faster), and the peak memory of one
training step (CUDA: ``max_memory_allocated``; CPU: the profiler's allocation records).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from mmengine.structures import BaseDataElement, InstanceData
from torchvision.models import resnet50
from torchvision.models.detection import FasterRCNN, RetinaNet
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops import FrozenBatchNorm2d
from torchvision.ops.feature_pyramid_network import LastLevelP6P7

from labcore.engine.config import load_config
from labdet.models.convert import convert_torchvision_detector
from labdet.registry import MODELS

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def _torchvision_model(name: str, size: int) -> torch.nn.Module:
    body = resnet50(weights=None, norm_layer=FrozenBatchNorm2d)
    common = dict(min_size=size, max_size=size, image_mean=MEAN, image_std=STD)
    if name == "retinanet":
        backbone = _resnet_fpn_extractor(
            body, 3, returned_layers=[2, 3, 4], extra_blocks=LastLevelP6P7(256, 256)
        )
        return RetinaNet(backbone, 91, **common)
    return FasterRCNN(_resnet_fpn_extractor(body, 3), 91, **common)


CONFIGS = {
    "retinanet": "labdet::retinanet/retinanet_r50_fpn_tv_coco.py",
    "faster_rcnn": "labdet::faster_rcnn/faster-rcnn_r50_fpn_tv_coco.py",
}


def _batch(name: str, size: int, batch: int, device: str, generator: torch.Generator):
    images, targets, samples = [], [], []
    for _ in range(batch):
        images.append(
            torch.randint(0, 256, (3, size, size), generator=generator).float().to(device)
        )
        xy = torch.rand(5, 2, generator=generator) * size * 0.6
        boxes = torch.cat([xy, xy + 16 + torch.rand(5, 2, generator=generator) * size * 0.3], 1).to(
            device
        )
        labels = torch.randint(1, 91, (5,), generator=generator).to(device)
        targets.append(dict(boxes=boxes, labels=labels))
        meta = dict(img_shape=(size, size), ori_shape=(size, size), scale_factor=(1.0, 1.0))
        # torchvision's R-CNN labels count the background as 0; labdet's start at 0
        gt = InstanceData(bboxes=boxes, labels=labels - 1 if name == "faster_rcnn" else labels)
        samples.append(BaseDataElement(metainfo=meta, gt_instances=gt))
    return images, targets, samples


def _timed(fn, repeats: int, device: str) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _peak_memory(fn, device: str) -> float:
    """Peak bytes allocated by torch during one call of ``fn``, in MiB."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        fn()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    with torch.profiler.profile(profile_memory=True) as prof:
        fn()
    running = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        if event.cpu_memory_usage:
            running += event.cpu_memory_usage
            peak = max(peak, running)
    return peak / 2**20


def bench(name: str, *, size: int, batch: int, repeats: int, device: str) -> dict:
    torch.manual_seed(0)
    tv_model = _torchvision_model(name, size).to(device)
    cfg = load_config(CONFIGS[name]).model
    ours = MODELS.build(cfg).to(device)
    ours.load_state_dict(convert_torchvision_detector(tv_model.state_dict()), strict=True)
    images, targets, samples = _batch(name, size, batch, device, torch.Generator().manual_seed(0))

    def train_step(model, run):
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-5)

        def step():
            model.train()
            losses = run(model)
            optimizer.zero_grad()
            sum(losses.values()).backward()
            optimizer.step()

        return step

    def tv_losses(model):
        return model(images, targets)

    def our_losses(model):
        data = model.data_preprocessor(dict(inputs=images, data_samples=samples), True)
        return model(**data, mode="loss")

    @torch.no_grad()
    def tv_infer():
        tv_model.eval()
        tv_model(images)

    @torch.no_grad()
    def our_infer():
        ours.eval()
        ours.test_step(
            dict(
                inputs=images, data_samples=[BaseDataElement(metainfo=s.metainfo) for s in samples]
            )
        )

    row = dict(model=name)
    row["train_tv_s"] = _timed(train_step(tv_model, tv_losses), repeats, device)
    row["train_ours_s"] = _timed(train_step(ours, our_losses), repeats, device)
    row["infer_tv_s"] = _timed(tv_infer, repeats, device)
    row["infer_ours_s"] = _timed(our_infer, repeats, device)
    row["train_tv_mib"] = _peak_memory(train_step(tv_model, tv_losses), device)
    row["train_ours_mib"] = _peak_memory(train_step(ours, our_losses), device)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=512, help="image side, a multiple of 128")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="256 px, 1 image, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.batch, args.repeats = 256, 1, 2
    if args.size % 128:
        parser.error(f"--size {args.size} must be a multiple of 128 (the stride of P7)")
    print(
        f"device={args.device} size={args.size} batch={args.batch} repeats={args.repeats} threads={torch.get_num_threads()}"
    )
    header = "model        train tv   train ours  ratio   infer tv   infer ours  ratio   peak MiB tv / ours"
    print(header)
    for name in CONFIGS:
        r = bench(name, size=args.size, batch=args.batch, repeats=args.repeats, device=args.device)
        print(
            f"{name:<12} {r['train_tv_s']:8.3f}s  {r['train_ours_s']:9.3f}s  {r['train_ours_s'] / r['train_tv_s']:5.2f}  "
            f"{r['infer_tv_s']:8.3f}s  {r['infer_ours_s']:9.3f}s  {r['infer_ours_s'] / r['infer_tv_s']:5.2f}  "
            f"{r['train_tv_mib']:8.0f} / {r['train_ours_mib']:.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
