"""Evaluate a checkpoint on the test set of a config.

    lab test labcls::resnet/resnet18_tiny_shapes.py work_dirs/r18/epoch_10.pth
    lab test CONFIG CHECKPOINT --out metrics.json --cfg-options test_dataloader.batch_size=64

Prints the metrics as JSON on the last line of standard output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from labcore.cli.train import add_common_arguments, load_config_from_args
from labcore.engine.training import build_runner, close_failed_run
from labcore.errors import CheckpointError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="config file or pkg::rel/path.py")
    parser.add_argument("checkpoint", help="checkpoint file or http(s) URL")
    parser.add_argument("--out", type=Path, help="also write the metrics to this JSON file")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    if "://" not in args.checkpoint and not Path(args.checkpoint).is_file():
        raise CheckpointError(
            f"Checkpoint '{args.checkpoint}' does not exist. Give the path of a .pth file "
            f"from a training work dir (e.g. work_dirs/<config>/epoch_N.pth)."
        )
    cfg = load_config_from_args(args)
    cfg.load_from = args.checkpoint
    cfg.resume = False
    runner = build_runner(cfg, work_dir=args.work_dir, launcher=args.launcher)
    try:
        metrics = runner.test()
    except BaseException:
        close_failed_run(runner)
        raise
    text = json.dumps({k: _plain(v) for k, v in metrics.items()}, sort_keys=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


def _plain(value):
    if hasattr(value, "item") and getattr(value, "size", 1) in (1, ()):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return value
