"""Merge DOTA Task 1 files of image patches into ones of the full images (``lab data merge-dota``).

    lab data merge-dota --src work_dirs/dota_test/patches --out work_dirs/dota_test/Task1

reads the ``Task1_<class>.txt`` files of patches named ``<image>__<rate>__<x>___<y>`` (as
``DOTAMetric(format_only=True, outfile_prefix=...)`` writes them without
``merge_patches``), maps each detection into its full image, removes the duplicates of
overlapping patches with class-wise rotated NMS (IoU 0.1, MMRotate's), and writes
``Task1_<class>.txt`` of the full images and their zip, for DOTA's evaluation server.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from labrot.models.postprocess import MERGE_IOU_THR

    parser.add_argument("--src", required=True, type=Path, help="folder of patch Task1 files")
    parser.add_argument("--out", required=True, type=Path, help="new folder for merged files")
    parser.add_argument(
        "--iou-thr",
        type=float,
        default=MERGE_IOU_THR,
        help=f"rotated-IoU threshold of the merging NMS (default {MERGE_IOU_THR})",
    )


def run(args: argparse.Namespace) -> int:
    from labrot.evaluation.dota_submission import read_task1_submission, write_task1_submission
    from labrot.models.postprocess import merge_patch_detections

    classes, detections = read_task1_submission(args.src)
    merged = merge_patch_detections(detections, iou_thr=args.iou_thr)
    zip_path = write_task1_submission(merged, classes, args.out)
    before = sum(len(scores) for _, _, scores, _ in detections)
    after = sum(len(scores) for _, scores, _ in merged.values())
    print(
        f"Merged {before} detections of {len(detections)} patches into {after} of "
        f"{len(merged)} images ({len(classes)} classes): {zip_path}"
    )
    return 0
