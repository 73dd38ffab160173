"""Cut large DOTA images into patches (MMRotate's DOTA split), as ``lab data split-dota``.

    lab data split-dota --src data/DOTA/train --out data/split_ss_dota/train --preset ss_train
    lab data split-dota --src data/DOTA/test --out data/split_ms_dota/test --preset ms_test
    lab data split-dota --src DIR --out DIR --size 512 --gap 128 --rate 0.5 1.0 --workers 4

A preset gives MMRotate's sizes, gaps and rates (``ss_*``: 1024 px, gap 200, rate 1.0;
``ms_*``: 1024 px, gap 500, rates 0.5 1.0 1.5; ``*_test``: no labels); the flags override
it. Writes ``OUT/images/<image>__<rate>__<x>___<y>.png`` and ``OUT/annfiles/<same>.txt``
(see :mod:`labrot.datasets.dota_split`).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from labrot.datasets.dota_split import PRESETS

    parser.add_argument("--src", required=True, type=Path, help="DOTA folder: images/, labelTxt/")
    parser.add_argument("--out", required=True, type=Path, help="new or empty output folder")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="ss_trainval",
        help="MMRotate's split config to start from (default ss_trainval: 1024 px, gap 200)",
    )
    parser.add_argument("--size", type=int, help="patch side in px")
    parser.add_argument("--gap", type=int, help="overlap of neighbouring patches in px")
    parser.add_argument("--rate", type=float, nargs="+", help="rescale rates (multi-scale)")
    parser.add_argument("--img-rate-thr", type=float, help="least part of a window in the image")
    parser.add_argument("--iof-thr", type=float, help="least IoF of an object kept in a patch")
    parser.add_argument(
        "--padding-value", type=int, nargs=3, metavar=("R", "G", "B"), help="fill of padding"
    )
    parser.add_argument("--no-padding", action="store_true", help="leave edge patches smaller")
    parser.add_argument("--no-labels", action="store_true", help="images only (a test set)")
    parser.add_argument("--classes", type=Path, help="class names, one a line (default: see doc)")
    parser.add_argument("--ext", choices=(".png", ".jpg"), help="image suffix (default .png)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from labcore.cli.progress import counting_progress
    from labrot.datasets.dota_split import PRESETS, split_dota

    overrides = {
        "size": args.size,
        "gap": args.gap,
        "rates": tuple(args.rate) if args.rate else None,
        "img_rate_thr": args.img_rate_thr,
        "iof_thr": args.iof_thr,
        "padding_value": tuple(args.padding_value) if args.padding_value else None,
        "ext": args.ext,
    }
    settings = replace(
        PRESETS[args.preset], **{k: v for k, v in overrides.items() if v is not None}
    )
    if args.no_padding:
        settings = replace(settings, padding=False)
    if args.no_labels:
        settings = replace(settings, with_labels=False)
    kwargs = dict(classes_file=args.classes, workers=args.workers)
    if args.quiet:
        summary = split_dota(args.src, args.out, settings, **kwargs)
    else:
        with counting_progress() as bar:
            task = bar.add_task(f"split {args.src.name}", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            summary = split_dota(args.src, args.out, settings, progress=progress, **kwargs)
    rates = ", ".join(f"{r:g}" for r in settings.rates)
    print(
        f"Cut {summary.images} images into {summary.patches} patches of {settings.size} px "
        f"(gap {settings.gap}, rates {rates}) in {summary.seconds:.1f} s: {summary.objects} "
        f"objects ({summary.truncated} partly covered, difficult 2), "
        f"{summary.empty_patches} patches without objects."
    )
    print(f"  images:   {summary.out / 'images'}")
    print(f"  labels:   {summary.out / 'annfiles'}")
    return 0
