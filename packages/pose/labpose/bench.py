"""Time labpose's top-down SimpleBaseline R-50 against the same network built from
torchvision's ResNet-50 and trained and run in plain torch; HRNet-W32 on its own.

    python -m labpose.bench [--device cuda] [--batch 2] [--repeats 3] [--no-hrnet] [--quick]

(``--height 128 --width 96``: the crop size, the published models' is 256 x 192;
``--threads N``: torch's threads, default 1, which holds up best on a loaded machine.)

SimpleBaseline: labpose's model is built from
``simplebaseline/simplebaseline_r50_210e_coco-256x192.py`` (17 COCO keypoints, three
4x4 deconvolutions of 256 channels, 1x1 conv to heatmaps at 1/4 of the input) without
its pretrained weights; the reference is the same layers on torchvision's ``resnet50``
trunk, written here, and labpose loads the reference's weights (the outputs are checked
to agree before timing). Both see the same uint8 crops, heatmap targets and keypoint
weights. Measured, labpose / plain torch:

- training step: labpose's ``train_step`` (its data preprocessor, HeatmapHead loss on the
  samples' ``gt_targets``, MMEngine's loss parsing, OptimWrapper with Adam) against
  normalise, forward, the target-weighted MSE, backward and an Adam step;
- inference with flip test: labpose's ``test_step`` (forward on the crop and on its
  mirror, heatmaps flipped back with COCO's flip pairs and shifted one pixel, averaged,
  decoded by its MSRAHeatmap codec and mapped back to the image) against the same in
  plain torch (a batched argmax with the quarter-pixel offset, the crop's inverse map);
  and both without the flip test.

HRNet-W32 (``hrnet/hrnet_w32_210e_coco-256x192.py``) has no torch reference here: its
training step, its inference with and without the flip test are timed, labpose only.

Printed: the median time of ``--repeats`` runs after one warm-up (the runs being compared
alternate, so a change of load falls on both), their ratio (below 1: labpose is faster),
the peak memory of one run (CUDA: ``max_memory_allocated``; CPU: the profiler's
allocation records), and the cost of the flip test (flip / no flip).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmengine.structures import BaseDataElement
from rich.progress import Progress
from torch import nn
from torchvision.models import resnet50
from torchvision.models._utils import IntermediateLayerGetter

from labcore.engine.config import load_config
from labcore.ops.bench import interleaved_seconds, peak_bytes
from labpose.codecs import MSRAHeatmap
from labpose.datasets.metainfo import load_metainfo
from labpose.registry import MODELS

CONFIGS = {
    "SimpleBaseline R-50": "labpose::simplebaseline/simplebaseline_r50_210e_coco-256x192.py",
    "HRNet-W32": "labpose::hrnet/hrnet_w32_210e_coco-256x192.py",
}
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
STRIDE = 4  # heatmaps at 1/4 of the input


class TorchSimpleBaseline(nn.Module):
    """SimpleBaseline on torchvision's ResNet-50: Tensor[B, 3, h, w] -> heatmaps
    Tensor[B, K, h / 4, w / 4]; parameter names as labpose's (``head.`` aside)."""

    def __init__(self, num_keypoints: int):
        super().__init__()
        self.backbone = IntermediateLayerGetter(resnet50(), {"layer4": "out"})
        layers: list[nn.Module] = []
        channels = 2048
        for _ in range(3):
            layers += [
                nn.ConvTranspose2d(channels, 256, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(256),
                nn.ReLU(inplace=True),
            ]
            channels = 256
        self.deconv_layers = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(256, num_keypoints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(self.backbone(x)["out"]))


def _build(config: str) -> nn.Module:
    cfg = load_config(config).model
    cfg.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope("labpose"):
        return MODELS.build(cfg)


def _crops(batch: int, height: int, width: int, num_keypoints: int, seed: int = 0):
    """uint8 crops Tensor[3, h, w], their samples (metainfo and heatmap targets) and the
    targets stacked: heatmaps Tensor[B, K, h/4, w/4], keypoint weights Tensor[B, K]."""
    rng = np.random.default_rng(seed)
    codec = MSRAHeatmap(
        input_size=(width, height), heatmap_size=(width // STRIDE, height // STRIDE), sigma=2.0
    )
    flip_indices = load_metainfo("coco")["flip_indices"]
    images, samples, heatmaps, weights = [], [], [], []
    for _ in range(batch):
        images.append(torch.from_numpy(rng.integers(0, 256, (3, height, width), dtype=np.uint8)))
        keypoints = rng.uniform(0.1, 0.9, (1, num_keypoints, 2)) * (width, height)
        visible = (rng.random((1, num_keypoints)) < 0.8).astype(np.float32)
        encoded = codec.encode(keypoints, visible)
        target = torch.from_numpy(encoded["heatmaps"])[None]  # [1, K, h/4, w/4]
        weight = torch.from_numpy(encoded["keypoint_weights"])  # [1, K]
        center = rng.uniform(200, 400, 2)
        meta = dict(
            img_id=0, input_size=(width, height), input_center=center,
            input_scale=np.array([150.0, 200.0]), flip_indices=flip_indices,
        )  # fmt: skip
        sample = BaseDataElement(metainfo=meta)
        sample.gt_targets = BaseDataElement(heatmaps=target, keypoint_weights=weight)
        samples.append(sample)
        heatmaps.append(target)
        weights.append(weight)
    return images, samples, torch.cat(heatmaps), torch.cat(weights), flip_indices


def _torch_keypoints(heatmaps: torch.Tensor, samples) -> tuple[torch.Tensor, torch.Tensor]:
    """Heatmaps Tensor[B, K, H, W] -> keypoints Tensor[B, K, 2] in image pixels and their
    scores Tensor[B, K]: the maximum moved a quarter pixel towards the higher neighbour,
    scaled to the crop, mapped back by the crop's (unrotated) affine map."""
    batch, k, height, width = heatmaps.shape
    scores, index = heatmaps.flatten(2).max(dim=2)
    x, y = (index % width).float(), (index // width).float()
    xi, yi = x.long(), y.long()
    inner_x = (xi > 1) & (xi < width - 1)
    inner_y = (yi > 1) & (yi < height - 1)

    def at(dy, dx):
        flat = (yi + dy).clamp(0, height - 1) * width + (xi + dx).clamp(0, width - 1)
        return heatmaps.flatten(2).gather(2, flat[..., None])[..., 0]

    x = x + 0.25 * torch.sign(at(0, 1) - at(0, -1)) * inner_x
    y = y + 0.25 * torch.sign(at(1, 0) - at(-1, 0)) * inner_y
    crop = torch.stack([x, y], dim=-1) * STRIDE  # [B, K, 2] crop pixels
    crop[scores <= 0] = -STRIDE
    size = torch.tensor([width * STRIDE, height * STRIDE], dtype=crop.dtype)
    center = torch.tensor(np.stack([s.input_center for s in samples]), dtype=crop.dtype)
    scale = torch.tensor(np.stack([s.input_scale for s in samples]), dtype=crop.dtype)
    # the crop spans the box's scale, its width setting the scale as warp_matrix does
    ratio = (scale[:, 0] / size[0])[:, None, None]
    return (crop - size / 2) * ratio + center[:, None], scores


def _normaliser(device: str):
    mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
    return lambda images: (torch.stack(images).to(device).float() - mean) / std


def _labpose_measures(ours, images, samples, device: str):
    """(train step, inference with flip, inference without flip) of labpose's model."""
    wrapper = OptimWrapper(torch.optim.Adam(ours.parameters(), lr=5e-4))

    def train():
        ours.train()
        ours.train_step(dict(inputs=images, data_samples=samples), wrapper)

    def infer(flip: bool):
        @torch.no_grad()  # as MMEngine's test and validation loops run it
        def run():
            ours.eval()
            ours.flip_test = flip
            test_samples = [BaseDataElement(metainfo=s.metainfo) for s in samples]
            return ours.test_step(dict(inputs=images, data_samples=test_samples))

        return run

    return train, infer(True), infer(False)


def bench_simplebaseline(*, batch, height, width, repeats, device, progress=None) -> list[dict]:
    """Rows of (measure, torch seconds and MiB, labpose seconds and MiB)."""
    torch.manual_seed(0)
    ours = _build(CONFIGS["SimpleBaseline R-50"])
    num_keypoints = ours.head.final_layer.out_channels
    reference = TorchSimpleBaseline(num_keypoints)
    state = {k if k.startswith("backbone.") else f"head.{k}": v
             for k, v in reference.state_dict().items()}  # fmt: skip
    ours.load_state_dict(state, strict=True)
    reference, ours = reference.to(device), ours.to(device)
    images, samples, targets, weights, flip_indices = _crops(batch, height, width, num_keypoints)
    targets, weights = targets.to(device), weights.to(device)
    normalise = _normaliser(device)
    with torch.no_grad():
        difference = (reference.eval()(normalise(images)) - ours.eval()(normalise(images))).abs()
    if float(difference.max()) > 1e-4:
        raise RuntimeError(f"the torch and labpose networks differ by {float(difference.max())}")

    optimizer = torch.optim.Adam(reference.parameters(), lr=5e-4)

    def torch_train():
        reference.train()
        heatmaps = reference(normalise(images))
        loss = (F.mse_loss(heatmaps, targets, reduction="none") * weights[..., None, None]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def torch_infer(flip: bool):
        @torch.no_grad()
        def run():
            reference.eval()
            x = normalise(images)
            heatmaps = reference(x)
            if flip:
                flipped = reference(x.flip(-1)).flip(-1)[:, flip_indices]
                flipped[..., 1:] = flipped[..., :-1].clone()  # shifted one pixel, as labpose
                heatmaps = (heatmaps + flipped) * 0.5
            return _torch_keypoints(heatmaps.cpu(), samples)

        return run

    ours_train, ours_flip, ours_plain = _labpose_measures(ours, images, samples, device)
    measures = [
        ("train step", torch_train, ours_train),
        ("inference, flip test", torch_infer(True), ours_flip),
        ("inference, no flip", torch_infer(False), ours_plain),
    ]
    task = (
        progress.add_task("SimpleBaseline", total=len(measures) * (repeats + 2))
        if progress
        else None
    )
    rows = []
    for name, torch_fn, labpose_fn in measures:
        advance = (lambda: progress.advance(task)) if progress else None
        times = interleaved_seconds([torch_fn, labpose_fn], device, repeats, advance=advance)
        rows.append(
            dict(
                measure=name, torch_s=times[0], labpose_s=times[1],
                torch_mib=peak_bytes(torch_fn, device) / 2**20,
                labpose_mib=peak_bytes(labpose_fn, device) / 2**20,
            )
        )  # fmt: skip
        if progress:
            progress.advance(task)
    return rows


def bench_hrnet(*, batch, height, width, repeats, device, progress=None) -> list[dict]:
    """Rows of (measure, labpose seconds and MiB) of HRNet-W32."""
    torch.manual_seed(0)
    ours = _build(CONFIGS["HRNet-W32"]).to(device)
    num_keypoints = ours.head.final_layer.out_channels
    images, samples, *_ = _crops(batch, height, width, num_keypoints)
    train, flip, plain = _labpose_measures(ours, images, samples, device)
    task = progress.add_task("HRNet-W32", total=repeats + 4) if progress else None
    advance = (lambda: progress.advance(task)) if progress else None
    times = interleaved_seconds([train, flip, plain], device, repeats, advance=advance)
    rows = []
    for name, fn, seconds in zip(
        ("train step", "inference, flip test", "inference, no flip"), (train, flip, plain), times
    ):
        rows.append(
            dict(measure=name, labpose_s=seconds, labpose_mib=peak_bytes(fn, device) / 2**20)
        )
        if progress:
            progress.advance(task)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=2, help="at least 2 (BN in training)")
    parser.add_argument("--height", type=int, default=128, help="crop height, a multiple of 32")
    parser.add_argument("--width", type=int, default=96, help="crop width, a multiple of 32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-hrnet", action="store_true", help="SimpleBaseline only")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: holds up best under load)"
    )
    parser.add_argument("--quick", action="store_true", help="64 x 64 crops, 2 of them, 1 repeat")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.batch, args.height, args.width, args.repeats = 2, 64, 64, 1
    if args.height % 32 or args.width % 32 or args.batch < 2:
        parser.error("--height and --width must be multiples of 32 and --batch at least 2")
    size = dict(batch=args.batch, height=args.height, width=args.width, repeats=args.repeats)
    print(
        f"device={args.device} batch={args.batch} crop={args.height}x{args.width} "
        f"repeats={args.repeats} threads={torch.get_num_threads()}"
    )
    with Progress(transient=True) as progress:
        rows = bench_simplebaseline(**size, device=args.device, progress=progress)
        hrnet = [] if args.no_hrnet else bench_hrnet(**size, device=args.device, progress=progress)
    print("SimpleBaseline R-50       torch     labpose   ratio   peak MiB torch / labpose  ratio")
    for r in rows:
        print(
            f"{r['measure']:<22} {r['torch_s']:8.3f}s  {r['labpose_s']:8.3f}s  "
            f"{r['labpose_s'] / r['torch_s']:5.2f}   {r['torch_mib']:10.0f} / {r['labpose_mib']:<10.0f}"
            f"  {r['labpose_mib'] / max(r['torch_mib'], 1e-9):5.2f}"
        )
    print(
        f"flip / no flip: torch {rows[1]['torch_s'] / rows[2]['torch_s']:.2f}x, "
        f"labpose {rows[1]['labpose_s'] / rows[2]['labpose_s']:.2f}x"
    )
    if hrnet:
        print("HRNet-W32 (labpose)      time   peak MiB")
        for r in hrnet:
            print(f"{r['measure']:<22} {r['labpose_s']:6.3f}s  {r['labpose_mib']:9.0f}")
        print(f"flip / no flip: labpose {hrnet[1]['labpose_s'] / hrnet[2]['labpose_s']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
