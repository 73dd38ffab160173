"""Time labseg's DeepLabV3 R-50 against torchvision's ``deeplabv3_resnet50`` on one batch.

    python -m labseg.bench [--device cuda] [--size 96] [--batch 2] [--repeats 3] [--quick]

torchvision's model (with its auxiliary classifier, 21 classes) gets random weights;
labseg's is built from ``_base_/models/deeplabv3_r50-d8_tv.py`` and loads the same
weights through ``convert_torchvision_segmentor``, so both compute the same function
(tested in ``packages/seg/tests/models/test_torchvision_parity.py``). Both see the same
uint8 images and label maps (5 % ignore pixels). Measured, labseg / plain torch:

- training step: labseg's ``train_step`` (its data preprocessor, the decode and auxiliary
  losses, MMEngine's loss parsing and OptimWrapper with SGD) against a plain torch loop
  over torchvision's model (normalise, forward, cross-entropy of ``out`` plus 0.4 x that
  of ``aux``, backward, SGD step);
- whole inference: labseg's ``test_step`` (``mode='whole'``: logits at the image size,
  argmax) against torchvision's backbone and classifier, bilinear resize and argmax (its
  forward without the auxiliary classifier, which it would also run in eval mode);
- slide inference: labseg's ``test_step`` with ``mode='slide'`` (windows of ``--crop``
  every ``--stride`` pixels, logits averaged where they overlap) against the same windows
  and averaging written here over torchvision's model.

Printed per measurement: the median time of ``--repeats`` runs after one warm-up (the
labseg and torch runs alternate, so a change of load falls on both), the ratio (below 1:
labseg is faster) and the peak memory of one run (CUDA: ``max_memory_allocated``; CPU:
the profiler's allocation records), and the cost of slide over whole inference for each.
``--threads`` sets torch's threads (default 1, which holds up best on a loaded machine).
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement, PixelData
from rich.progress import Progress
from torchvision.models.segmentation import deeplabv3_resnet50

from labcore.engine.config import load_config
from labcore.ops.bench import interleaved_seconds, peak_bytes
from labseg.models.convert import convert_torchvision_segmentor
from labseg.registry import MODELS

CONFIG = "labseg::_base_/models/deeplabv3_r50-d8_tv.py"
NUM_CLASSES = 21
IGNORE_INDEX = 255
AUX_WEIGHT = 0.4  # the auxiliary head's loss weight in the config


def _models(device: str) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    tv_model = deeplabv3_resnet50(
        weights=None, weights_backbone=None, num_classes=NUM_CLASSES, aux_loss=True
    ).to(device)
    with DefaultScope.overwrite_default_scope("labseg"):
        ours = MODELS.build(load_config(CONFIG).model)
    ours.load_state_dict(convert_torchvision_segmentor(tv_model.state_dict()), strict=True)
    return tv_model, ours.to(device)


def _batch(size: int, batch: int, generator: torch.Generator) -> tuple[list, list]:
    """uint8 images Tensor[3, size, size] and label maps LongTensor[1, size, size]."""
    images, labels = [], []
    for _ in range(batch):
        images.append(
            torch.randint(0, 256, (3, size, size), generator=generator, dtype=torch.uint8)
        )
        label = torch.randint(0, NUM_CLASSES, (1, size, size), generator=generator)
        label[torch.rand(label.shape, generator=generator) < 0.05] = IGNORE_INDEX
        labels.append(label)
    return images, labels


def bench(
    *, size: int, batch: int, crop: int, stride: int, repeats: int, device: str, progress=None
) -> list[dict]:
    """Rows of (measure, torch seconds, labseg seconds, torch MiB, labseg MiB)."""
    tv_model, ours = _models(device)
    images, labels = _batch(size, batch, torch.Generator().manual_seed(0))
    meta = dict(img_shape=(size, size), ori_shape=(size, size))
    train_data = dict(
        inputs=images,
        data_samples=[
            BaseDataElement(metainfo=meta, gt_sem_seg=PixelData(data=label)) for label in labels
        ],
    )
    mean = torch.tensor([123.675, 116.28, 103.53], device=device).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375], device=device).view(1, 3, 1, 1)

    def normalised() -> torch.Tensor:
        return (torch.stack(images).to(device).float() - mean) / std

    target = torch.cat(labels).to(device)
    tv_optimizer = torch.optim.SGD(tv_model.parameters(), lr=1e-5, momentum=0.9)
    our_wrapper = OptimWrapper(torch.optim.SGD(ours.parameters(), lr=1e-5, momentum=0.9))

    def tv_train():
        tv_model.train()
        out = tv_model(normalised())
        loss = F.cross_entropy(out["out"], target, ignore_index=IGNORE_INDEX)
        loss = loss + AUX_WEIGHT * F.cross_entropy(out["aux"], target, ignore_index=IGNORE_INDEX)
        tv_optimizer.zero_grad()
        loss.backward()
        tv_optimizer.step()

    def our_train():
        ours.train()
        ours.train_step(train_data, our_wrapper)

    @torch.no_grad()
    def tv_logits(x: torch.Tensor) -> torch.Tensor:
        features = tv_model.backbone(x)["out"]
        logits = tv_model.classifier(features)
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)

    @torch.no_grad()
    def tv_slide(x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        logits = x.new_zeros((x.shape[0], NUM_CLASSES, height, width))
        counts = x.new_zeros((1, 1, height, width))
        for row in range(max(height - crop + stride - 1, 0) // stride + 1):
            for col in range(max(width - crop + stride - 1, 0) // stride + 1):
                y2, x2 = min(row * stride + crop, height), min(col * stride + crop, width)
                y1, x1 = max(y2 - crop, 0), max(x2 - crop, 0)
                logits[..., y1:y2, x1:x2] += tv_logits(x[..., y1:y2, x1:x2])
                counts[..., y1:y2, x1:x2] += 1
        return logits / counts

    def tv_infer(run):
        def infer():
            tv_model.eval()
            return run(normalised()).argmax(dim=1)

        return infer

    def our_infer(test_cfg: dict):
        @torch.no_grad()  # as MMEngine's test and validation loops run it
        def infer():
            ours.eval()
            ours.test_cfg = test_cfg
            samples = [BaseDataElement(metainfo=meta) for _ in images]
            return ours.test_step(dict(inputs=images, data_samples=samples))

        return infer

    slide_cfg = dict(mode="slide", crop_size=(crop, crop), stride=(stride, stride))
    measures = [
        ("train step", tv_train, our_train),
        ("whole inference", tv_infer(tv_logits), our_infer(dict(mode="whole"))),
        ("slide inference", tv_infer(tv_slide), our_infer(slide_cfg)),
    ]
    task = progress.add_task("bench-seg", total=len(measures) * (repeats + 2)) if progress else None
    rows = []
    for name, reference, labseg in measures:
        times = interleaved_seconds(
            [reference, labseg],
            device,
            repeats,
            advance=lambda: progress and progress.advance(task),
        )
        row = dict(measure=name, torch_s=times[0], labseg_s=times[1])
        row["torch_mib"] = peak_bytes(reference, device) / 2**20
        row["labseg_mib"] = peak_bytes(labseg, device) / 2**20
        if progress:
            progress.advance(task)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=96, help="image side in pixels")
    parser.add_argument(
        "--batch", type=int, default=2, help="at least 2: the ASPP pooling's BN needs it"
    )
    parser.add_argument("--crop", type=int, help="slide window side (default 3/4 of --size)")
    parser.add_argument(
        "--stride", type=int, help="slide stride (default 1/4 of --size: 2 x 2 windows)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: holds up best under load)"
    )
    parser.add_argument("--quick", action="store_true", help="64 px, 2 images, 1 repeat")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.size, args.batch, args.repeats = 64, 2, 1
    if args.batch < 2:
        parser.error("--batch must be at least 2 (the ASPP image pooling's BN trains on B x 1 x 1)")
    crop = args.crop or (3 * args.size) // 4
    stride = args.stride or args.size // 4
    if not 0 < stride <= crop <= args.size:
        parser.error(f"need 0 < --stride {stride} <= --crop {crop} <= --size {args.size}")
    print(
        f"DeepLabV3 R-50-D8, {NUM_CLASSES} classes: device={args.device} size={args.size} "
        f"batch={args.batch} slide crop={crop} stride={stride} repeats={args.repeats} "
        f"threads={torch.get_num_threads()}"
    )
    with Progress(transient=True) as progress:
        rows = bench(
            size=args.size, batch=args.batch, crop=crop, stride=stride,
            repeats=args.repeats, device=args.device, progress=progress,
        )  # fmt: skip
    print("measure            torch      labseg    ratio   peak MiB torch / labseg  ratio")
    for r in rows:
        print(
            f"{r['measure']:<16} {r['torch_s']:8.3f}s  {r['labseg_s']:8.3f}s  "
            f"{r['labseg_s'] / r['torch_s']:5.2f}   {r['torch_mib']:10.0f} / {r['labseg_mib']:<10.0f}"
            f"  {r['labseg_mib'] / max(r['torch_mib'], 1e-9):5.2f}"
        )
    whole, slide = rows[1], rows[2]
    print(
        f"slide / whole inference: torch {slide['torch_s'] / whole['torch_s']:.2f}x, "
        f"labseg {slide['labseg_s'] / whole['labseg_s']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
